package capacity

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrInvalid is matched (errors.Is) by every error about the inputs: a
// negative, NaN or infinite value, a fraction above 1, a multiplier or
// headroom below 1.
var ErrInvalid = errors.New("invalid capacity input")

// SecondsPerDay is the length of the planning day: the average rate is the
// daily volume divided by it.
const SecondsPerDay = 86400

// Inputs are the planning inputs. They mirror scenario.Capacity in plain
// units: fractions 0..1, durations, req/s. A zero value means "not given"
// and the steps that need it are skipped, except for ReadFraction, where 0
// means every request writes; start from DefaultInputs.
type Inputs struct {
	// DailyRequests is the request volume of one day (1e8 for "100M").
	DailyRequests float64
	// PeakMultiplier is the peak rate over the average rate (5 for "5×"),
	// at least 1. Without it the plan sizes for the average rate.
	PeakMultiplier float64
	// PerServerRPS is the rate one app server sustains, req/s.
	PerServerRPS float64
	// Headroom multiplies the server count so servers do not run at 100%
	// at the peak: 1.3 keeps 30% spare. At least 1; 0 skips the step.
	Headroom float64
	// ReadFraction is the share of requests that only read, 0..1; the rest
	// write. DefaultInputs sets 0.9.
	ReadFraction float64
	// CacheHitRate is the share of reads a cache-aside cache answers, 0..1.
	// Zero means no cache: every read reaches the database.
	CacheHitRate float64
	// ReplicaReadRPS is the reads/s one database copy (a read replica, or
	// the primary when it does nothing else) serves.
	ReplicaReadRPS float64
	// PrimaryWriteCeiling is the writes/s one primary sustains.
	PrimaryWriteCeiling float64
	// QueueWorkers is the number of workers draining the job queue.
	QueueWorkers int
	// QueueJobTime is how long one worker takes per job.
	QueueJobTime time.Duration
	// SpikeMultiplier is the height of a load spike over the design rate
	// (5 for "5×"), at least 1, as a scenario's load.spikes write it.
	SpikeMultiplier float64
	// SpikeHold is how long the spike holds its height.
	SpikeHold time.Duration
	// RegionRTT is the round-trip time between two regions.
	RegionRTT time.Duration
	// CallsPerPage is the number of sequential cross-region calls a page
	// makes.
	CallsPerPage int
	// EdgeRPS is the requests/s a CDN edge serves (the cdn stage's edge
	// is a limit only when it is given). CacheHitRate is then the edge's
	// hit rate.
	EdgeRPS float64
	// MaxInstances is the most app instances an autoscaler runs (the
	// autoscale stage's ceiling is at that count); zero means the plan's
	// server count.
	MaxInstances int
}

// DefaultInputs returns the inputs a plan starts from: Headroom 1.3 (30%
// spare), ReadFraction 0.9, everything else not given.
func DefaultInputs() Inputs {
	return Inputs{Headroom: 1.3, ReadFraction: 0.9}
}

// Validate returns every problem with the inputs at once (errors.Join),
// each wrapping ErrInvalid.
func (in Inputs) Validate() error {
	var errs []error
	bad := func(name string, v any, want string) {
		errs = append(errs, fmt.Errorf("%w: %s is %v, want %s", ErrInvalid, name, v, want))
	}
	nonNeg := func(name string, v float64) bool {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			bad(name, v, "a finite number ≥ 0")
			return false
		}
		return true
	}
	nonNeg("daily_requests", in.DailyRequests)
	nonNeg("per_server_rps", in.PerServerRPS)
	nonNeg("replica_read_rps", in.ReplicaReadRPS)
	nonNeg("primary_write_ceiling", in.PrimaryWriteCeiling)
	for _, m := range []struct {
		name string
		v    float64
	}{{"peak_multiplier", in.PeakMultiplier}, {"headroom", in.Headroom}, {"spike_multiplier", in.SpikeMultiplier}} {
		if nonNeg(m.name, m.v) && m.v != 0 && m.v < 1 {
			bad(m.name, m.v, "0 (not given) or ≥ 1")
		}
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"read_fraction", in.ReadFraction}, {"cache_hit_rate", in.CacheHitRate}} {
		if nonNeg(f.name, f.v) && f.v > 1 {
			bad(f.name, f.v, "a fraction between 0 and 1")
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"queue_job_time", in.QueueJobTime}, {"spike_hold", in.SpikeHold}, {"region_rtt", in.RegionRTT}} {
		if d.v < 0 {
			bad(d.name, d.v, "≥ 0")
		}
	}
	if in.QueueWorkers < 0 {
		bad("queue_workers", in.QueueWorkers, "≥ 0")
	}
	if in.CallsPerPage < 0 {
		bad("calls_per_page", in.CallsPerPage, "≥ 0")
	}
	nonNeg("edge_rps", in.EdgeRPS)
	if in.MaxInstances < 0 {
		bad("max_instances", in.MaxInstances, "≥ 0")
	}
	return errors.Join(errs...)
}

// Step is one line of a plan: what is computed, its working with the
// numbers substituted, the exact value and its unit. For example
// {"peak", "1,157.4 × 5", 5787.037…, "req/s"}. Value is not rounded;
// FormatNumber shows it the way the plan is read.
type Step struct {
	Label, Working string
	Value          float64
	Unit           string
}

// Plan is the staircase worked out for some inputs: the steps in order,
// and notes on what was skipped or what needs attention.
type Plan struct {
	Steps []Step
	Notes []string
}

// Step returns the step with the given label, and whether there is one.
func (p Plan) Step(label string) (Step, bool) {
	for _, s := range p.Steps {
		if s.Label == label {
			return s, true
		}
	}
	return Step{}, false
}

// The labels of the plan's steps, in the order Compute produces them.
const (
	LabelAverage       = "average"
	LabelPeak          = "peak"
	LabelServers       = "app servers"
	LabelHeadroom      = "with headroom"
	LabelReads         = "reads"
	LabelWrites        = "writes"
	LabelDBReads       = "db reads after cache"
	LabelReplicas      = "read replicas"
	LabelShards        = "shards"
	LabelQueue         = "queue throughput"
	LabelWorkersNeeded = "queue workers needed"
	LabelSpikeJobs     = "spike jobs"
	LabelBacklog       = "spike backlog"
	LabelDrain         = "drain time"
	LabelPageLatency   = "page latency"
)

// figures are the numbers of a plan that the ceiling models reuse. A
// field is meaningful only when its has… flag is set.
type figures struct {
	rate          float64 // design rate: the peak, or the average without a multiplier
	hasRate       bool
	servers       float64 // with headroom when given
	hasServers    bool
	reads, writes float64
	replicas      float64
	hasReplicas   bool
	shards        float64
	hasShards     bool
	workersRate   float64 // μ, jobs/s
	hasQueue      bool
	pageLatency   time.Duration
	hasPage       bool
}

// Compute works out the staircase for in, step by step (see the package
// documentation for the formulas). Steps whose inputs are not given are
// skipped, with a note. The error wraps ErrInvalid when the inputs are
// invalid (Inputs.Validate).
func Compute(in Inputs) (Plan, error) {
	if err := in.Validate(); err != nil {
		return Plan{}, err
	}
	p, _ := compute(in)
	return p, nil
}

// compute is Compute on validated inputs, also returning the figures the
// ceiling models use.
func compute(in Inputs) (Plan, figures) {
	var (
		p   Plan
		fig figures
	)
	add := func(label, working string, v float64, unit string) {
		p.Steps = append(p.Steps, Step{Label: label, Working: working, Value: v, Unit: unit})
	}
	note := func(format string, args ...any) {
		p.Notes = append(p.Notes, fmt.Sprintf(format, args...))
	}

	// Daily volume → average → peak.
	if in.DailyRequests > 0 {
		avg := in.DailyRequests / SecondsPerDay
		add(LabelAverage, fmt.Sprintf("%s ÷ %s s", workNumber(in.DailyRequests), workNumber(SecondsPerDay)), avg, "req/s")
		fig.rate, fig.hasRate = avg, true
		if in.PeakMultiplier > 0 {
			fig.rate = avg * in.PeakMultiplier
			add(LabelPeak, fmt.Sprintf("%s × %s", workNumber(avg), workNumber(in.PeakMultiplier)), fig.rate, "req/s")
		} else {
			note("peak_multiplier not given: the steps below size for the average rate, not a peak")
		}
	} else {
		note("daily_requests not given: no average, peak, servers, reads, writes, replicas, shards or queue load")
		if in.PeakMultiplier > 0 {
			note("peak_multiplier needs daily_requests: it multiplies the average rate")
		}
	}
	rate := fig.rate

	// App servers.
	switch {
	case !fig.hasRate:
	case in.PerServerRPS == 0:
		note("per_server_rps not given: no app server count")
	default:
		q := rate / in.PerServerRPS
		n := ceilCount(q)
		add(LabelServers, fmt.Sprintf("⌈%s ÷ %s⌉ = ⌈%s⌉", workNumber(rate), workNumber(in.PerServerRPS), workNumber(q)), n, plural(n, "server"))
		fig.servers, fig.hasServers = n, true
		if in.Headroom > 0 {
			q := n * in.Headroom
			nh := ceilCount(q)
			add(LabelHeadroom, fmt.Sprintf("⌈%s × %s⌉ = ⌈%s⌉", workNumber(n), workNumber(in.Headroom), workNumber(q)), nh, plural(nh, "server"))
			fig.servers = nh
		} else {
			note("headroom not given: the server count runs at 100%% at the design rate")
		}
	}

	if fig.hasRate {
		// Reads and writes.
		fig.reads = rate * in.ReadFraction
		fig.writes = rate - fig.reads
		add(LabelReads, fmt.Sprintf("%s × %s", workNumber(rate), percent(in.ReadFraction)), fig.reads, "req/s")
		add(LabelWrites, fmt.Sprintf("%s − %s", workNumber(rate), workNumber(fig.reads)), fig.writes, "req/s")

		// Cache → database reads.
		dbReads := fig.reads
		if in.CacheHitRate > 0 {
			dbReads = fig.reads * (1 - in.CacheHitRate)
			add(LabelDBReads, fmt.Sprintf("%s × (1 − %s)", workNumber(fig.reads), percent(in.CacheHitRate)), dbReads, "req/s")
		} else {
			note("cache_hit_rate not given: every read reaches the database")
		}

		// Read replicas.
		if in.ReplicaReadRPS > 0 {
			q := dbReads / in.ReplicaReadRPS
			k := ceilCount(q)
			add(LabelReplicas, fmt.Sprintf("⌈%s ÷ %s⌉ = ⌈%s⌉", workNumber(dbReads), workNumber(in.ReplicaReadRPS), workNumber(q)), k, plural(k, "replica"))
			fig.replicas, fig.hasReplicas = k, true
		} else {
			note("replica_read_rps not given: no read replica count")
		}

		// Shards.
		if in.PrimaryWriteCeiling > 0 {
			q := fig.writes / in.PrimaryWriteCeiling
			s := math.Max(1, ceilCount(q))
			working := fmt.Sprintf("⌈%s ÷ %s⌉ = ⌈%s⌉", workNumber(fig.writes), workNumber(in.PrimaryWriteCeiling), workNumber(q))
			if ceilCount(q) < 1 {
				working = fmt.Sprintf("max(1, %s)", working)
			}
			add(LabelShards, working, s, plural(s, "shard"))
			fig.shards, fig.hasShards = s, true
			if s == 1 {
				note("writes fit one primary: %s of its ceiling of %s writes/s", percent(q), FormatNumber(in.PrimaryWriteCeiling))
			}
		} else {
			note("primary_write_ceiling not given: no shard count")
		}
	}

	// Queue: throughput, workers needed, spike backlog and drain time.
	switch {
	case in.QueueWorkers == 0 || in.QueueJobTime == 0:
		note("queue_workers and queue_job_time not both given: no queue throughput, backlog or drain time")
	default:
		j := in.QueueJobTime.Seconds()
		mu := float64(in.QueueWorkers) / j
		add(LabelQueue, fmt.Sprintf("%d ÷ %s", in.QueueWorkers, seconds(in.QueueJobTime)), mu, "jobs/s")
		fig.workersRate, fig.hasQueue = mu, true
		if !fig.hasRate {
			break
		}
		writes := fig.writes
		q := writes * j
		need := ceilCount(q)
		add(LabelWorkersNeeded, fmt.Sprintf("⌈%s × %s⌉ = ⌈%s⌉", workNumber(writes), seconds(in.QueueJobTime), workNumber(q)), need, plural(need, "worker"))
		if float64(in.QueueWorkers) < need {
			note("%d queue workers cannot keep up with %s writes/s even without a spike: the backlog grows by %s jobs/s; at least %s workers are needed",
				in.QueueWorkers, FormatNumber(writes), FormatNumber(writes-mu), FormatNumber(need))
		}
		if in.SpikeMultiplier == 0 || in.SpikeHold == 0 {
			note("spike multiplier and hold not both given: no spike backlog or drain time")
			break
		}
		spike := writes * in.SpikeMultiplier
		add(LabelSpikeJobs, fmt.Sprintf("%s × %s", workNumber(writes), workNumber(in.SpikeMultiplier)), spike, "jobs/s")
		hold := in.SpikeHold.Seconds()
		backlog := math.Max(0, (spike-mu)*hold)
		add(LabelBacklog, fmt.Sprintf("max(0, (%s − %s) × %s)", workNumber(spike), workNumber(mu), seconds(in.SpikeHold)), backlog, "jobs")
		switch {
		case backlog == 0:
			note("the workers absorb the spike as it comes: no backlog to drain")
		case mu <= writes:
			note("the spike backlog never drains: the workers (%s jobs/s) do not outpace the %s writes/s that keep arriving", FormatNumber(mu), FormatNumber(writes))
		default:
			drain := backlog / (mu - writes)
			working := fmt.Sprintf("%s ÷ (%s − %s)", workNumber(backlog), workNumber(mu), workNumber(writes))
			if drain >= 60 {
				working += " ≈ " + clock(drain)
			}
			add(LabelDrain, working, drain, "s")
		}
	}

	// Multi-region page latency.
	if in.CallsPerPage > 0 && in.RegionRTT > 0 {
		lat := time.Duration(in.CallsPerPage) * in.RegionRTT
		add(LabelPageLatency, fmt.Sprintf("%d × %s", in.CallsPerPage, millis(in.RegionRTT)), float64(lat)/float64(time.Millisecond), "ms")
		fig.pageLatency, fig.hasPage = lat, true
		if in.CallsPerPage > 1 {
			note("page latency counts the %d calls one after another; made in parallel they cost one round trip (%s)", in.CallsPerPage, millis(in.RegionRTT))
		}
	} else {
		note("calls_per_page and region_rtt not both given: no cross-region page latency")
	}
	return p, fig
}

// ceilCount is ⌈x⌉ for a count of machines or workers, tolerant of binary
// floating-point noise: a product such as 50 × 1.1 evaluates to
// 55.00000000000001 and must give 55, not 56. A value less than one part in
// 10¹³ (a few hundred units in the last place, far more than the noise of
// the few operations of a step, far less than any real fraction of a
// machine) above an integer counts as that integer.
func ceilCount(x float64) float64 {
	f := math.Floor(x)
	if x-f <= 1e-13*math.Max(1, math.Abs(x)) {
		return f
	}
	return f + 1
}

// plural is the unit of a count: "1 server", "26 servers".
func plural(n float64, unit string) string {
	if n == 1 {
		return unit
	}
	return unit + "s"
}
