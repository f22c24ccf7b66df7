package reporters

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Schema identifies the report.json format. Fields may be added within a
// schema version, never removed or changed in meaning.
const Schema = "surge.report/v1"

// Report is the result of one run.
type Report struct {
	Schema   string    `json:"schema"`
	Scenario string    `json:"scenario"`
	RunID    string    `json:"run_id"`
	Started  time.Time `json:"started"`
	Stages   []Stage   `json:"stages"`
	Agents   []Agent   `json:"agents"`
	// Warnings are things a reader must not miss (agent lost, run stopped,
	// generator-limited).
	Warnings []string `json:"warnings,omitempty"`
	// Thresholds are the thresholds without a stage selector or a window
	// judged once more on the whole run, every stage's data merged (only
	// for runs of several stages; each stage has its own results too).
	Thresholds []ThresholdResult `json:"thresholds,omitempty"`
	// Verdict is the run's outcome for a gate (see Verdict); Reasons says
	// why it is not VerdictPass.
	Verdict string   `json:"verdict,omitempty"`
	Reasons []string `json:"verdict_reasons,omitempty"`
}

// Verdicts of a run (Report.Verdict).
const (
	// VerdictPass: every threshold held on data that can be trusted.
	VerdictPass = "pass"
	// VerdictFail: a threshold failed, or a stage without a threshold on
	// errors had no success or too many errors (DefaultMaxErrorRate).
	VerdictFail = "fail"
	// VerdictInvalid: the run cannot be judged — a threshold had no
	// samples, the generator limited a stage, or a stage was not played
	// fully. An invalid run never passes, whatever its thresholds say.
	VerdictInvalid = "invalid"
)

// ThresholdResult is one threshold judged on one stage.
type ThresholdResult struct {
	// Expr is the threshold as written.
	Expr string `json:"expr"`
	// Pass says it held; NoData that there was nothing to judge (no
	// responses for a latency or an error rate), which makes the run
	// invalid rather than passed or failed.
	Pass   bool `json:"pass"`
	NoData bool `json:"no_data,omitempty"`
	// Value is the measured value in the metric's base unit (ns for
	// latencies, a fraction for rates, a count, req/s); Measured is it as
	// shown ("312.5ms", "1.20%"). With a window, the worst window's, and
	// WindowAtS when that window started (seconds into the stage).
	Value     float64  `json:"value"`
	Measured  string   `json:"measured"`
	WindowAtS *float64 `json:"window_at_s,omitempty"`
}

// Label is the threshold's outcome as the summary shows it: PASS, FAIL
// or NO DATA.
func (t ThresholdResult) Label() string {
	switch {
	case t.NoData:
		return "NO DATA"
	case !t.Pass:
		return "FAIL"
	}
	return "PASS"
}

// DefaultMaxErrorRate is the error rate (failed ÷ finished requests)
// above which a stage fails when none of the thresholds that apply to it
// is on errors (error_rate or failed). A stage in which requests finished
// and none succeeded fails on the same condition, whatever its rate. With
// a threshold on errors, that threshold alone judges them: a scenario that
// expects failures says so (error_rate > 50%).
//
// 10% is far past what any service is meant to return, so a scenario
// without thresholds that passes still means the target mostly answered;
// it is no SLO — write error_rate < 1% (or tighter) for a gate.
const DefaultMaxErrorRate = 0.10

// Judge sets the report's verdict from its stages: invalid when any
// threshold had no data, any stage was generator-limited, stopped early
// or lost arrivals; else fail when any threshold failed, or when a stage
// without a threshold on errors had no success at all or an error rate
// over DefaultMaxErrorRate; else pass.
func (r *Report) Judge() {
	r.Verdict, r.Reasons = VerdictPass, nil
	var invalid, failed []string
	for _, s := range r.Stages {
		if reason := s.defaultErrorCheck(); reason != "" {
			failed = append(failed, reason)
		}
		if s.GeneratorLimited {
			invalid = append(invalid, fmt.Sprintf("stage %s was generator-limited: its load was not what the scenario asked for", s.Name))
		}
		switch {
		case s.AbortedBy != "":
			failed = append(failed, fmt.Sprintf("stage %s: %s", s.Name, s.Stopped))
		case s.Stopped != "" || s.Lost > 0:
			invalid = append(invalid, fmt.Sprintf("stage %s was not played fully (%d arrivals lost%s)", s.Name, s.Lost, stoppedText(s.Stopped)))
		}
		for _, t := range s.Thresholds {
			switch {
			case t.NoData:
				invalid = append(invalid, fmt.Sprintf("stage %s: threshold %q had no samples to judge", s.Name, t.Expr))
			case !t.Pass:
				failed = append(failed, fmt.Sprintf("stage %s: threshold %q failed: %s", s.Name, t.Expr, t.Measured))
			}
		}
	}
	for _, t := range r.Thresholds {
		switch {
		case t.NoData:
			invalid = append(invalid, fmt.Sprintf("run: threshold %q had no samples to judge", t.Expr))
		case !t.Pass:
			failed = append(failed, fmt.Sprintf("run: threshold %q failed over all stages: %s", t.Expr, t.Measured))
		}
	}
	switch {
	case len(invalid) > 0:
		r.Verdict, r.Reasons = VerdictInvalid, append(invalid, failed...)
	case len(failed) > 0:
		r.Verdict, r.Reasons = VerdictFail, failed
	}
}

// judgesErrors reports that a threshold on error_rate or failed applies
// to the stage, so the default limit does not.
func (s *Stage) judgesErrors() bool {
	for _, t := range s.Thresholds {
		if m := thresholdMetric(t.Expr); m == "error_rate" || m == "failed" {
			return true
		}
	}
	return false
}

// defaultErrorCheck is the default judgement of a stage's errors (see
// DefaultMaxErrorRate): the reason it fails, or "".
func (s *Stage) defaultErrorCheck() string {
	if s.judgesErrors() {
		return ""
	}
	done := s.Succeeded + s.Failed
	if done == 0 || s.Failed == 0 {
		return ""
	}
	rate := float64(s.Failed) / float64(done)
	switch {
	case s.Succeeded == 0:
		return fmt.Sprintf("stage %s: no request succeeded (%d of %d failed%s)", s.Name, s.Failed, done, mainErrorText(s.Errors))
	case s.Search != nil:
		// A capacity search drives the target past its limit on purpose:
		// its SLO judges the errors of each step.
		return ""
	case rate > DefaultMaxErrorRate:
		return fmt.Sprintf("stage %s: %d of %d requests failed (%.1f%%%s), over the default limit of %g%% for a stage without a threshold on error_rate",
			s.Name, s.Failed, done, 100*rate, mainErrorText(s.Errors), 100*DefaultMaxErrorRate)
	}
	return ""
}

// thresholdMetric is the metric a threshold expression starts with
// ("error_rate" for "error_rate{request=a} < 1%").
func thresholdMetric(expr string) string {
	expr = strings.TrimSpace(expr)
	if i := strings.IndexAny(expr, "{[<>=! \t"); i >= 0 {
		expr = expr[:i]
	}
	return expr
}

// mainErrorText names the most frequent error class: ", mostly
// tls_error: 40". The smallest name wins a tie, so the text is stable.
func mainErrorText(errs map[string]uint64) string {
	var name string
	var n uint64
	for k, v := range errs {
		if v > n || (v == n && k < name) {
			name, n = k, v
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(", mostly %s: %d", name, n)
}

func stoppedText(s string) string {
	if s == "" {
		return ""
	}
	return "; stopped: " + s
}

// ComponentLoad is how loaded one target component was during a stage.
type ComponentLoad struct {
	Component string `json:"component"`
	// Utilisation is the mean busy fraction of its capacity, 0..1.
	Utilisation float64 `json:"utilisation"`
	// QueueDepthMean and QueueDepthMax are over the samples taken.
	QueueDepthMean float64 `json:"queue_depth_mean"`
	QueueDepthMax  float64 `json:"queue_depth_max"`
	// Breaker is the state over the stage of a circuit breaker component
	// (one that exports surge_target_breaker_state); nil for any other.
	Breaker *BreakerTimeline `json:"breaker,omitempty"`
}

// ScalingPoint is an autoscaled tier's instance counts at a time of a
// stage, from the target's /metrics (surge_target_instances and the
// provisioning and wanted gauges).
type ScalingPoint struct {
	// AtS is when the counts were seen, in seconds into the stage.
	AtS float64 `json:"at_s"`
	// Instances serve; Provisioning were asked for and do not serve yet;
	// Wanted is what the scaler last asked for.
	Instances    int `json:"instances"`
	Provisioning int `json:"provisioning"`
	Wanted       int `json:"wanted"`
}

// Circuit breaker states (BreakerState.State), from the value of the
// target's surge_target_breaker_state gauge: 0, 1 and 2.
const (
	BreakerClosed   = "closed"
	BreakerOpen     = "open"
	BreakerHalfOpen = "half-open"
)

// BreakerTimeline is a circuit breaker's state over a stage, as the
// target's /metrics showed it at each scrape (every reporting interval).
type BreakerTimeline struct {
	// States are the state at the first scrape, then each change seen,
	// in order, each with when it was seen.
	States []BreakerState `json:"states"`
	// Transitions counts the state changes during the stage by the state
	// entered, from the breaker's own counter: exact even for a state
	// that lasted less than a scrape interval (which States can miss).
	// Only states entered at least once are listed.
	Transitions map[string]uint64 `json:"transitions,omitempty"`
}

// BreakerState is a breaker's state seen at a time of a stage.
type BreakerState struct {
	// AtS is when the state was seen, in seconds into the stage.
	AtS float64 `json:"at_s"`
	// State is closed, open or half-open.
	State string `json:"state"`
}

// Stage is the result of one stage.
//
// Its counts balance: Intended = Issued + Dropped + Lost, and
// Issued = Succeeded + Failed + InFlightAtEnd.
type Stage struct {
	Name   string `json:"name"`
	Target string `json:"target"`
	// Intended is every arrival of the stage's schedule.
	Intended uint64 `json:"intended"`
	Issued   uint64 `json:"issued"`
	// Succeeded and Failed are finished requests; Failed is broken down
	// by class in Errors.
	Succeeded uint64 `json:"succeeded"`
	Failed    uint64 `json:"failed"`
	// Dropped arrivals fell due but were not sent (DroppedBy gives causes).
	Dropped uint64 `json:"dropped"`
	// Lost arrivals are owned by an agent that never reported reaching
	// them: it was lost (before the survivors took its share over — see
	// Gaps), or the run stopped early. An agent whose stream broke and
	// that came back within its lease reported everything it sent: only a
	// lost agent's requests sent after its last report can be among them,
	// and SentUnreported bounds those.
	Lost uint64 `json:"lost"`
	// SentUnreported is an upper bound on the lost arrivals that lost
	// agents may have sent anyway (due before their lease ran out, never
	// reported): the target may have received up to this many requests
	// more than Issued. Part of Lost, not beside it.
	SentUnreported uint64 `json:"sent_unreported,omitempty"`
	InFlightAtEnd  uint64 `json:"in_flight_at_end"`
	// DurationS is the scheduled length of the stage's load, in seconds.
	DurationS float64 `json:"duration_s"`
	// IntendedRPS is Intended / DurationS; AchievedRPS is Issued / DurationS.
	IntendedRPS float64 `json:"intended_rps"`
	AchievedRPS float64 `json:"achieved_rps"`
	// ResponseTimeMS is measured from the intended send time (the headline).
	ResponseTimeMS Percentiles `json:"response_time_ms"`
	// ServiceTimeMS is measured from the actual send time.
	ServiceTimeMS Percentiles `json:"service_time_ms"`
	// SendLagMS is actual − intended send time (when the pacer dispatched
	// the request): the generator's own health.
	SendLagMS Percentiles `json:"send_lag_ms"`
	// OnWireLagMS is on the wire − intended send time: the send lag plus
	// the wait for a connection (a pooled one at the pool's bound, or a
	// dial), of the requests that completed. The schedule's fidelity as
	// the target saw it; over the generator bound at p99, the stage is
	// generator-limited (PoolLimited when the pool held requests back).
	OnWireLagMS Percentiles `json:"on_wire_lag_ms,omitzero"`
	// TTFBMS is the time to first byte: first response byte − on the
	// wire, of the requests that got a response.
	TTFBMS Percentiles `json:"ttfb_ms,omitzero"`
	// Phases break the requests' time on the wire down (DNS, connect,
	// TLS, write, time to first byte, read), over every request merged;
	// left out when no request had any.
	Phases    Phases            `json:"phases,omitzero"`
	Errors    map[string]uint64 `json:"errors"`
	DroppedBy map[string]uint64 `json:"dropped_by,omitempty"`
	// BytesIn is response body bytes read; BodyTruncated counts responses
	// longer than the read limit; OverRange counts latencies above the
	// histogram ceiling (clamped to it).
	BytesIn       uint64 `json:"bytes_in"`
	BodyTruncated uint64 `json:"body_truncated,omitempty"`
	OverRange     uint64 `json:"over_range,omitempty"`
	// ConnWaits counts requests that waited for a pooled connection at the
	// pool's bound (client.max_conns): the client, not only the target,
	// shaped their response times.
	ConnWaits uint64 `json:"conn_waits,omitempty"`
	// Requests breaks the stage down by request name.
	Requests  []Request  `json:"requests"`
	Intervals []Interval `json:"intervals"`
	// Histogram is the merged response-time histogram (ns), HdrHistogram V2
	// compressed, base64.
	Histogram string `json:"histogram"`
	// Started is the stage's T0 on the coordinator's clock.
	Started time.Time `json:"started,omitzero"`
	// Gaps are the agents lost while the stage played (see Gap).
	Gaps []Gap `json:"gaps,omitempty"`
	// Stopped says why the stage ended early; empty when it played fully.
	Stopped string `json:"stopped,omitempty"`
	// AbortedBy is the abort threshold whose breach stopped the stage
	// (and the run): the run then failed, rather than being invalid.
	AbortedBy string `json:"aborted_by,omitempty"`
	// AgentCPUS is the CPU time the agents' processes used while playing
	// the stage (in embedded mode, the coordinator's whole process), and
	// CPUPerRequestUS that time per finished request, in µs.
	AgentCPUS       float64 `json:"agent_cpu_s"`
	CPUPerRequestUS float64 `json:"cpu_us_per_request"`
	// GeneratorLimited is set when the generator, not the target, limited
	// the stage: send lag p99 over the bound, or arrivals dropped.
	// GeneratorNotes say why and what to do.
	GeneratorLimited bool     `json:"generator_limited"`
	GeneratorNotes   []string `json:"generator_notes,omitempty"`
	// PoolLimited is set (with GeneratorLimited) when requests waited for
	// a pooled connection so long that the on-wire lag p99 passed the
	// bound: client.max_conns, not the agents' CPU, held the load back.
	PoolLimited bool `json:"pool_limited,omitempty"`
	// Bottleneck is the target component that was most loaded during the
	// stage (highest mean utilisation, then queue depth), read from the
	// target's Prometheus /metrics; Components has every component's load,
	// the most loaded first. Empty when the target exports none (only
	// bundled topologies are read for now).
	Bottleneck string          `json:"bottleneck,omitempty"`
	Components []ComponentLoad `json:"components,omitempty"`
	// HitRate is the target's cache hit rate over the stage (hits ÷
	// lookups of every cache it exports), when it has a cache.
	HitRate *float64 `json:"hit_rate,omitempty"`
	// Scaling is an autoscaled tier's instance counts over the stage (the
	// first scrape's, then each change), when the target has one.
	Scaling []ScalingPoint `json:"scaling,omitempty"`
	// Ceiling is the stage's measured throughput ceiling, and for a
	// bundled stage the planning arithmetic's prediction beside it.
	Ceiling *Ceiling `json:"ceiling,omitempty"`
	// Search is the capacity search of a stage in mode capacity: its
	// counts and percentiles above are those of all its steps together.
	Search *Search `json:"search,omitempty"`
	// Thresholds are the scenario's thresholds that apply to this stage
	// (those without a stage selector, and those selecting it), judged on
	// its merged data.
	Thresholds []ThresholdResult `json:"thresholds,omitempty"`
}

// How a ceiling was measured (Ceiling.Method).
const (
	// CeilingSearch: the highest rate a capacity search sustained within
	// its SLO.
	CeilingSearch = "search"
	// CeilingGoodput: the median rate of successful responses over the
	// intervals of a played curve in which the target fell behind.
	CeilingGoodput = "goodput"
)

// CeilingWindow is how many saturated intervals a goodput ceiling needs
// to count as reached, and how many consecutive intervals the lower bound
// of a stage that kept up is averaged over.
const CeilingWindow = 3

// Ceiling is a stage's measured throughput ceiling next to the predicted
// one.
type Ceiling struct {
	// MeasuredRPS is, for a search, the highest rate that met the SLO; for
	// a played curve, the median goodput (successes per second) of the
	// intervals in which the target fell behind (successes under 95% of
	// the arrivals), when there are at least CeilingWindow of them.
	MeasuredRPS float64 `json:"measured_rps"`
	Method      string  `json:"method"`
	// Reached is false when MeasuredRPS is only a lower bound: a search
	// that never broke its SLO (or stopped early), or a curve whose load
	// the target kept up with; MeasuredRPS is then its highest goodput
	// over CeilingWindow consecutive intervals, and the ceiling lies above.
	Reached bool `json:"reached"`
	// PredictedRPS is the planning arithmetic's ceiling for the stage's
	// topology and the scenario's request mix (coordinator plan), with its
	// bottleneck and working; Ratio is MeasuredRPS ÷ PredictedRPS. Zero
	// and empty for a stage without a model (a URL, echo).
	PredictedRPS        float64 `json:"predicted_rps,omitempty"`
	PredictedBottleneck string  `json:"predicted_bottleneck,omitempty"`
	PredictedWorking    string  `json:"predicted_working,omitempty"`
	Ratio               float64 `json:"ratio,omitempty"`
}

// What a per-name entry of a stage counts (Request.Kind); a request of
// the mix has none.
const (
	KindJourney = "journey"
	KindStep    = "step"
	KindCheck   = "check"
)

// How an agent was found lost (Gap.Cause).
const (
	// GapStream: its stream broke and the coordinator could not resume
	// its session within its lease. It may have fired on until the lease
	// ran out, so its share is taken over only after that.
	GapStream = "stream broken"
	// GapSilent: nothing came from it for the coordinator's
	// --agent-timeout, and no resume succeeded within its lease. It may
	// still have been firing (a one-way partition) until the lease ran out.
	GapSilent = "silent"
	// GapGossip: gossip declared it dead or gone, it fell silent, and no
	// resume succeeded within its lease.
	GapGossip = "gossip: dead"
	// GapError: it sent an error, or a message that does not add up.
	GapError = "error"
	// GapStopped: it stopped firing on its own (shut down, lease
	// expired, restarted) and said so.
	GapStopped = "stopped early"
)

// Search outcomes (Search.Outcome).
const (
	// SearchFound: a rate held and a higher one broke the SLO, within the
	// resolution (binary) or one step (step).
	SearchFound = "found"
	// SearchBelowStart: the first rate already broke the SLO.
	SearchBelowStart = "below_start"
	// SearchNotReached: every rate up to the maximum held.
	SearchNotReached = "not_reached"
	// SearchMaxSteps: the step budget ran out before the resolution.
	SearchMaxSteps = "max_steps"
	// SearchGeneratorLimited: the generator could not play a step on time,
	// so that step judged nothing about the target and the search stopped.
	SearchGeneratorLimited = "generator_limited"
	// SearchStopped: the run was interrupted or an agent was lost.
	SearchStopped = "stopped"
)

// Search is the outcome of a capacity search.
type Search struct {
	Method  string   `json:"method"`
	SLO     []string `json:"slo"`
	HoldS   float64  `json:"hold_s"`
	WarmupS float64  `json:"warmup_s,omitempty"`
	// SustainedRPS is the highest rate that met every SLO expression (0
	// when none did); BrokeRPS the lowest that broke one (0 when none did).
	SustainedRPS float64 `json:"sustained_rps"`
	BrokeRPS     float64 `json:"broke_rps,omitempty"`
	Outcome      string  `json:"outcome"`
	// Steps are the rates tried, in the order they were played.
	Steps []SearchStep `json:"steps"`
}

// SearchStep is one rate of a capacity search, judged on the data after
// the warmup. Its counts cover the whole step and balance on their own.
type SearchStep struct {
	RateRPS float64 `json:"rate_rps"`
	// StartS is when the step began, seconds after the search began.
	StartS        float64 `json:"start_s"`
	Intended      uint64  `json:"intended"`
	Issued        uint64  `json:"issued"`
	Succeeded     uint64  `json:"succeeded"`
	Failed        uint64  `json:"failed"`
	Dropped       uint64  `json:"dropped"`
	Lost          uint64  `json:"lost,omitempty"`
	InFlightAtEnd uint64  `json:"in_flight_at_end,omitempty"`
	// GoodputRPS is successes per second of the step; the percentiles and
	// ErrorRate are over the judged part (after the warmup).
	GoodputRPS float64 `json:"goodput_rps"`
	P50MS      float64 `json:"p50_ms"`
	P99MS      float64 `json:"p99_ms"`
	P999MS     float64 `json:"p99.9_ms"`
	ErrorRate  float64 `json:"error_rate"`
	// Pass says the step met every SLO expression; Broken lists the ones
	// it broke with the measured value ("p99 = 312ms, want < 250ms").
	Pass   bool     `json:"pass"`
	Broken []string `json:"broken,omitempty"`
	// GeneratorLimited steps judged nothing (see Stage.GeneratorLimited).
	GeneratorLimited bool `json:"generator_limited,omitempty"`
	// Bottleneck is the most loaded target component during the step and
	// its utilisation, when the target exports its components' load.
	Bottleneck            string  `json:"bottleneck,omitempty"`
	BottleneckUtilisation float64 `json:"bottleneck_utilisation,omitempty"`
}

// Request is one request name's share of a stage.
type Request struct {
	Name string `json:"name"`
	// Kind is empty for a request of the mix; "journey" for a journey
	// (issued = started, succeeded = completed; its response time is the
	// journey's duration from the arrival's intended instant), "step" for
	// a journey's request step (named JOURNEY/STEP; its response time is
	// from the step's intended instant), "check" for one check of a
	// request or step (named OWNER #CHECK; succeeded = passed, failed =
	// check_failed; no latency).
	Kind string `json:"kind,omitempty"`
	// InFlightAtEnd is, for journeys and steps, issued − succeeded −
	// failed: still playing when the stage ended.
	InFlightAtEnd  uint64            `json:"in_flight_at_end,omitempty"`
	Issued         uint64            `json:"issued"`
	Succeeded      uint64            `json:"succeeded"`
	Failed         uint64            `json:"failed"`
	Dropped        uint64            `json:"dropped"`
	Errors         map[string]uint64 `json:"errors"`
	ResponseTimeMS Percentiles       `json:"response_time_ms"`
	// ServiceTimeMS is done − on the wire, TTFBMS first byte − on the
	// wire: with ResponseTimeMS (done − intended) they place each
	// request's instants (intended, on the wire, first byte, done).
	ServiceTimeMS Percentiles `json:"service_time_ms,omitzero"`
	TTFBMS        Percentiles `json:"ttfb_ms,omitzero"`
	// Phases break its time on the wire down (see Stage.Phases).
	Phases Phases `json:"phases,omitzero"`
}

// Percentiles summarise a latency histogram, in milliseconds. Each is by
// nearest rank, as Java HdrHistogram's getValueAtPercentile computes it:
// the value of rank ⌈p·N/100⌉ of N, reported as the top of its histogram
// bucket (see metrics.ValueAtPercentile).
type Percentiles struct {
	P50  float64 `json:"p50"`
	P75  float64 `json:"p75"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99.9"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Interval is one reporting interval of a stage, merged over agents.
// Arrivals are counted when the pacer reached them; completions and
// latencies when they finished.
type Interval struct {
	TS        float64 `json:"t_s"`
	Intended  uint64  `json:"intended"`
	Issued    uint64  `json:"issued"`
	Succeeded uint64  `json:"succeeded"`
	Failed    uint64  `json:"failed"`
	Dropped   uint64  `json:"dropped"`
	P50MS     float64 `json:"p50_ms"`
	P75MS     float64 `json:"p75_ms"`
	P95MS     float64 `json:"p95_ms"`
	P99MS     float64 `json:"p99_ms"`
	// InFlight is the number of requests outstanding at the end of the
	// interval (all agents); SendLagP99MS the generator's lateness in it;
	// CPUS the CPU time the agents used in it.
	InFlight     uint64  `json:"in_flight"`
	SendLagP99MS float64 `json:"send_lag_p99_ms"`
	CPUS         float64 `json:"cpu_s"`
	// OnWireLagP99MS is the interval's on-wire lag p99 (see
	// Stage.OnWireLagMS), of the requests that completed in it.
	OnWireLagP99MS float64 `json:"on_wire_lag_p99_ms,omitzero"`
	// Histogram is the interval's merged response-time histogram (ns, all
	// requests), HdrHistogram V2 compressed, base64; empty for an interval
	// without responses.
	Histogram string `json:"histogram,omitempty"`
	// Requests breaks the interval down by request name (those with any
	// arrival or completion in it).
	Requests []IntervalRequest `json:"requests,omitempty"`
	// Lost is the arrivals of the interval that were lost (a lost agent's
	// gap before the survivors took over, or a stage stopped early); they
	// are counted in Intended, as the stage's lost are in its intended, so
	// intended = issued + dropped + lost holds per interval too.
	Lost uint64 `json:"lost,omitempty"`
	// P90MS, P999MS and MaxMS complete the interval's response-time
	// summary (all requests, ms, nearest rank).
	P90MS  float64 `json:"p90_ms"`
	P999MS float64 `json:"p99.9_ms"`
	MaxMS  float64 `json:"max_ms"`
	// Errors are the interval's failures by class (all requests); left
	// out when none failed.
	Errors map[string]uint64 `json:"errors,omitempty"`
}

// IntervalRequest is one request name's share of an interval.
type IntervalRequest struct {
	Name      string  `json:"name"`
	Intended  uint64  `json:"intended"`
	Issued    uint64  `json:"issued"`
	Succeeded uint64  `json:"succeeded"`
	Failed    uint64  `json:"failed"`
	Dropped   uint64  `json:"dropped"`
	P50MS     float64 `json:"p50_ms"`
	P75MS     float64 `json:"p75_ms"`
	P95MS     float64 `json:"p95_ms"`
	P99MS     float64 `json:"p99_ms"`
}

// Agent is one agent's totals over the run.
type Agent struct {
	Name          string `json:"name"`
	Intended      uint64 `json:"intended"`
	Issued        uint64 `json:"issued"`
	Succeeded     uint64 `json:"succeeded"`
	Failed        uint64 `json:"failed"`
	Dropped       uint64 `json:"dropped"`
	Lost          uint64 `json:"lost"`
	InFlightAtEnd uint64 `json:"in_flight_at_end"`
	// ClockOffsetMS is the agent's clock minus the coordinator's, as
	// estimated over the stream (the exchange with the lowest round trip),
	// within ± ClockErrorMS (half that round trip).
	ClockOffsetMS float64 `json:"clock_offset_ms"`
	ClockErrorMS  float64 `json:"clock_error_ms"`
	// Resumes is how many times its stream broke and its session was
	// resumed on a new one (within its lease: nothing lost).
	Resumes int `json:"resumes,omitempty"`
}

// Gap is an agent lost mid-stage, and what became of its share. Times are
// seconds since the stage's T0.
type Gap struct {
	Agent string `json:"agent"`
	// Cause is how the loss was found: its stream broke, it went silent,
	// gossip declared it dead, or it sent an error.
	Cause string `json:"cause"`
	// LastHeardS is when its last message arrived; DetectedS when it was
	// declared lost.
	LastHeardS float64 `json:"last_heard_s"`
	DetectedS  float64 `json:"detected_s"`
	// CutS and CutIndex are the instant and the global arrival index from
	// which the survivors own its share (for a silent agent, after its
	// lease ran out, so no arrival is fired twice).
	CutS     float64 `json:"cut_s"`
	CutIndex uint64  `json:"cut_index"`
	// Lost is the arrivals it owned and never reported reaching, and
	// those no survivor took over: counted exactly from the schedule.
	Lost uint64 `json:"lost"`
	// SentUnreported bounds how many of Lost the agent may have sent all
	// the same (due before its lease ran out, never reported: the target
	// may have them); SentUnreportedMin is how many it certainly sent (its
	// last dispatch counter heard, beyond what it reported).
	SentUnreported    uint64 `json:"sent_unreported,omitempty"`
	SentUnreportedMin uint64 `json:"sent_unreported_min,omitempty"`
	// TakenBy are the survivors that took its share over from the cut;
	// empty when none did (on_agent_loss: abort, or no survivor).
	TakenBy []string `json:"taken_by,omitempty"`
}

// ErrUnbalanced is wrapped by Check errors.
var ErrUnbalanced = errors.New("report does not balance")

// Check verifies the accounting identities of every stage and agent.
func (r *Report) Check() error {
	var errs []error
	for _, s := range r.Stages {
		if s.Intended != s.Issued+s.Dropped+s.Lost {
			errs = append(errs, fmt.Errorf("%w: stage %s: intended %d != issued %d + dropped %d + lost %d", ErrUnbalanced, s.Name, s.Intended, s.Issued, s.Dropped, s.Lost))
		}
		if s.Issued != s.Succeeded+s.Failed+s.InFlightAtEnd {
			errs = append(errs, fmt.Errorf("%w: stage %s: issued %d != succeeded %d + failed %d + in flight %d", ErrUnbalanced, s.Name, s.Issued, s.Succeeded, s.Failed, s.InFlightAtEnd))
		}
		var unreported uint64
		for _, g := range s.Gaps {
			unreported += g.SentUnreported
			if g.SentUnreportedMin > g.SentUnreported || g.SentUnreported > g.Lost {
				errs = append(errs, fmt.Errorf("%w: stage %s: gap of %s: want sent_unreported_min %d <= sent_unreported %d <= lost %d", ErrUnbalanced, s.Name, g.Agent, g.SentUnreportedMin, g.SentUnreported, g.Lost))
			}
		}
		if s.SentUnreported != unreported || s.SentUnreported > s.Lost {
			errs = append(errs, fmt.Errorf("%w: stage %s: sent_unreported %d: want the sum of its gaps' (%d), within lost %d", ErrUnbalanced, s.Name, s.SentUnreported, unreported, s.Lost))
		}
		var failed uint64
		for _, n := range s.Errors {
			failed += n
		}
		if failed != s.Failed {
			errs = append(errs, fmt.Errorf("%w: stage %s: failed %d != sum of errors %d", ErrUnbalanced, s.Name, s.Failed, failed))
		}
		if s.Search != nil {
			var sum SearchStep
			for i, st := range s.Search.Steps {
				if st.Intended != st.Issued+st.Dropped+st.Lost || st.Issued != st.Succeeded+st.Failed+st.InFlightAtEnd {
					errs = append(errs, fmt.Errorf("%w: stage %s: search step %d (%g/s): %+v", ErrUnbalanced, s.Name, i, st.RateRPS, st))
				}
				sum.Intended += st.Intended
				sum.Issued += st.Issued
				sum.Succeeded += st.Succeeded
				sum.Failed += st.Failed
				sum.Dropped += st.Dropped
				sum.Lost += st.Lost
				sum.InFlightAtEnd += st.InFlightAtEnd
			}
			if sum.Intended != s.Intended || sum.Issued != s.Issued || sum.Succeeded != s.Succeeded || sum.Failed != s.Failed ||
				sum.Dropped != s.Dropped || sum.Lost != s.Lost || sum.InFlightAtEnd != s.InFlightAtEnd {
				errs = append(errs, fmt.Errorf("%w: stage %s: the search steps do not add up to the stage", ErrUnbalanced, s.Name))
			}
		}
	}
	for _, a := range r.Agents {
		if a.Intended != a.Issued+a.Dropped+a.Lost || a.Issued != a.Succeeded+a.Failed+a.InFlightAtEnd {
			errs = append(errs, fmt.Errorf("%w: agent %s: %+v", ErrUnbalanced, a.Name, a))
		}
	}
	return errors.Join(errs...)
}

// WriteJSON writes r as indented JSON, byte for byte what a json.Encoder
// with SetIndent("", "  ") writes, but streamed: the stages' intervals
// (nearly all of a long run's report) are encoded one at a time instead
// of the whole document in one buffer, so writing a day-long report does
// not need another copy of it in memory.
func WriteJSON(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	if err := writeJSON(bw, r); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// intervalsHole is where a stage's intervals go in the report encoded
// without them: a stage's fields are at an indent of 6 (report, stages
// array, stage), and no string holds a raw line break.
const intervalsHole = "\n      \"intervals\": null"

func writeJSON(w *bufio.Writer, r *Report) error {
	shallow := *r
	if r.Stages != nil {
		shallow.Stages = make([]Stage, len(r.Stages))
	}
	for i := range r.Stages {
		shallow.Stages[i] = r.Stages[i]
		shallow.Stages[i].Intervals = nil
	}
	doc, err := json.MarshalIndent(&shallow, "", "  ")
	if err != nil {
		return err
	}
	for i := range r.Stages {
		at := bytes.Index(doc, []byte(intervalsHole))
		if at < 0 { // cannot happen: every stage has the field
			return fmt.Errorf("stage %d: no intervals field in the encoding", i)
		}
		at += len(intervalsHole) - len("null")
		w.Write(doc[:at])
		doc = doc[at+len("null"):]
		if err := writeIntervals(w, r.Stages[i].Intervals); err != nil {
			return fmt.Errorf("stage %s: %w", r.Stages[i].Name, err)
		}
	}
	w.Write(doc)
	return w.WriteByte('\n')
}

// writeIntervals writes a stage's intervals as the indented encoder
// would at their depth.
func writeIntervals(w *bufio.Writer, ivs []Interval) error {
	switch {
	case ivs == nil:
		_, err := w.WriteString("null")
		return err
	case len(ivs) == 0:
		_, err := w.WriteString("[]")
		return err
	}
	const in = "        " // an interval's indent: stage fields + 2
	w.WriteString("[\n")
	for k := range ivs {
		b, err := json.MarshalIndent(&ivs[k], in, "  ")
		if err != nil {
			return err
		}
		w.WriteString(in)
		w.Write(b)
		if k < len(ivs)-1 {
			w.WriteByte(',')
		}
		w.WriteByte('\n')
	}
	_, err := w.WriteString("      ]")
	return err
}
