package coordinator

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/surgeload/surge/internal/capacity"
	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/internal/schedule"
	"github.com/surgeload/surge/reporters"
	"github.com/surgeload/surge/scenario"
)

// SearchOverrides are command-line settings of a capacity search: they
// replace the scenario's search settings field by field, for every stage
// that searches. Zero fields leave the scenario's value.
type SearchOverrides struct {
	Method   string
	Start    float64
	Max      float64
	Hold     time.Duration
	SLO      []string
	MaxSteps int
}

// capacityMode reports whether stage k searches its capacity: its mode
// says so, or the run's Capacity flag does.
func (r *run) capacityMode(k int) bool {
	return r.cfg.Capacity || r.sc.StageMode(k) == scenario.ModeCapacity
}

// StageSearch returns the search settings of stage k with the command
// line's overrides and the defaults applied, and checks them: a start
// rate is required, and the rates must fit the scenario's safety caps.
func StageSearch(sc *scenario.Scenario, k int, o SearchOverrides) (scenario.Search, error) {
	s := sc.StageSearch(k)
	if o.Method != "" {
		s.Method = o.Method
	}
	if o.Start > 0 {
		s.Start = scenario.Rate(o.Start)
		if s.Step == 0 || sc.Stages[k].Search == nil && sc.Search == nil {
			s.Step = s.Start
		}
	}
	if o.Max > 0 {
		s.Max = scenario.Rate(o.Max)
	}
	if o.Hold > 0 {
		s.Hold = scenario.Duration(o.Hold)
	}
	if o.MaxSteps > 0 {
		s.MaxSteps = o.MaxSteps
	}
	if len(o.SLO) > 0 {
		s.SLO = o.SLO
		s.Parsed = make([]scenario.ThresholdExpr, len(o.SLO))
		for i, e := range o.SLO {
			p, err := scenario.ParseThreshold(e)
			if err != nil {
				return s, fmt.Errorf("%w: --slo %q: %v", scenario.ErrInvalid, e, err)
			}
			if p.Window > 0 {
				return s, fmt.Errorf("%w: --slo %q: an SLO expression takes no window", scenario.ErrInvalid, e)
			}
			if _, ok := p.Selectors["stage"]; ok {
				return s, fmt.Errorf("%w: --slo %q: an SLO expression takes no stage selector", scenario.ErrInvalid, e)
			}
			if name, ok := p.Selectors["request"]; ok && !hasRequest(sc, name) {
				return s, fmt.Errorf("%w: --slo %q: no request is named %q", scenario.ErrInvalid, e, name)
			}
			s.Parsed[i] = p
		}
	}
	if s.Step == 0 {
		s.Step = s.Start
	}
	name := sc.Stages[k].Name
	switch {
	case s.Method != scenario.SearchBinary && s.Method != scenario.SearchStep:
		return s, fmt.Errorf("%w: stage %s: unknown search method %q (want binary or step)", scenario.ErrInvalid, name, s.Method)
	case !(s.Start > 0):
		return s, fmt.Errorf("%w: stage %s: a capacity search needs a start rate (search.start in the scenario, or --search-start)", scenario.ErrInvalid, name)
	case s.Start > sc.Safety.MaxRate || s.Max > sc.Safety.MaxRate:
		return s, fmt.Errorf("%w: stage %s: search rates %v to %v exceed safety.max_rate %v", scenario.ErrInvalid, name, s.Start, s.Max, sc.Safety.MaxRate)
	case s.Max <= s.Start:
		return s, fmt.Errorf("%w: stage %s: search max %v must be above start %v", scenario.ErrInvalid, name, s.Max, s.Start)
	case s.Hold <= s.Warmup:
		return s, fmt.Errorf("%w: stage %s: search hold %v must be longer than warmup %v", scenario.ErrInvalid, name, s.Hold, s.Warmup)
	case s.MaxSteps < 1 || s.MaxSteps > scenario.MaxSearchSteps:
		return s, fmt.Errorf("%w: stage %s: search max_steps %d is not from 1 to %d", scenario.ErrInvalid, name, s.MaxSteps, scenario.MaxSearchSteps)
	case time.Duration(s.MaxSteps)*s.Hold.Std() > sc.Safety.MaxDuration.Std():
		return s, fmt.Errorf("%w: stage %s: the search may play for %v (%d steps × %v), over safety.max_duration %v",
			scenario.ErrInvalid, name, time.Duration(s.MaxSteps)*s.Hold.Std(), s.MaxSteps, s.Hold, sc.Safety.MaxDuration)
	}
	return s, nil
}

func hasRequest(sc *scenario.Scenario, name string) bool {
	for _, rq := range sc.Requests {
		if rq.Name == name {
			return true
		}
	}
	return false
}

// searcher decides the rates of a search from the verdicts so far. It is
// pure: the run plays the rates and reports back.
type searcher struct {
	cfg scenario.Search
	// lo is the highest rate that held, hi the lowest that broke (0:
	// none yet).
	lo, hi float64
	steps  int
}

// next returns the next rate to play, or ok false and the outcome when
// the search is over.
func (s *searcher) next() (rate float64, outcome string, ok bool) {
	start, top := float64(s.cfg.Start), float64(s.cfg.Max)
	switch {
	case s.steps == 0:
		return start, "", true
	case s.lo == 0 && s.hi > 0:
		return 0, reporters.SearchBelowStart, false
	case s.hi == 0 && s.lo >= top:
		return 0, reporters.SearchNotReached, false
	case s.hi > 0 && s.cfg.Method == scenario.SearchStep:
		return 0, reporters.SearchFound, false
	case s.hi > 0 && (s.hi-s.lo) <= float64(s.cfg.Resolution)*s.lo:
		return 0, reporters.SearchFound, false
	case s.steps >= s.cfg.MaxSteps:
		return 0, reporters.SearchMaxSteps, false
	}
	switch {
	case s.hi == 0 && s.cfg.Method == scenario.SearchStep:
		rate = min(s.lo+float64(s.cfg.Step), top)
	case s.hi == 0:
		rate = min(2*s.lo, top)
	default:
		rate = roundRate((s.lo + s.hi) / 2)
		if rate <= s.lo || rate >= s.hi { // the bracket is as fine as rates get
			return 0, reporters.SearchFound, false
		}
	}
	return rate, "", true
}

// record takes the verdict on rate.
func (s *searcher) record(rate float64, pass bool) {
	s.steps++
	if pass {
		s.lo = max(s.lo, rate)
	} else if s.hi == 0 || rate < s.hi {
		s.hi = rate
	}
}

// roundRate rounds a bisected rate to a whole number per second (a tenth
// below 10/s), so that the step table reads cleanly.
func roundRate(v float64) float64 {
	if v < 10 {
		return math.Round(v*10) / 10
	}
	return math.Round(v)
}

// search runs the capacity search of stage k against target and appends
// the stage's report: the steps' counts together, the step table, and the
// measured ceiling.
func (r *run) search(ctx context.Context, k int, target *url.URL) error {
	st := r.sc.Stages[k]
	cfg, err := StageSearch(r.sc, k, r.cfg.Search)
	if err != nil {
		return err
	}
	_, limits, err := stageClient(r.cfg, r.sc, k)
	if err != nil {
		return fmt.Errorf("%w: stage %s: client settings: %w", ErrRunFailed, st.Name, err)
	}
	arrival, err := schedule.ParseArrival(cfg.Arrival)
	if err != nil {
		return fmt.Errorf("%w: stage %s: %w", scenario.ErrInvalid, st.Name, err)
	}
	r.logf("stage %s: capacity search (%s) from %v to %v, %v per step, SLO %v", st.Name, cfg.Method, cfg.Start, cfg.Max, cfg.Hold, cfg.SLO)

	agg := r.newStageRun(st.Name, target.String(), limits, len(r.live()))
	res := &reporters.Search{Method: cfg.Method, SLO: cfg.SLO, HoldS: cfg.Hold.Std().Seconds(), WarmupS: cfg.Warmup.Std().Seconds()}
	var (
		lost, inFlight uint64
		began          time.Time
		runErr         error
		last           *reporters.Stage // the step the bottleneck is read from
		brokeAt        *reporters.Stage
	)
	s := &searcher{cfg: cfg}
	for {
		rate, outcome, ok := s.next()
		if !ok {
			res.Outcome = outcome
			break
		}
		if len(res.Steps) > 0 && !sleepCtx(ctx, cfg.Cooldown.Std()) {
			res.Outcome = reporters.SearchStopped
			break
		}
		sr, step, err := r.playRate(ctx, k, rate, cfg.Hold.Std(), arrival, target)
		if step == nil { // nothing was played
			if len(res.Steps) == 0 {
				return err
			}
			runErr, res.Outcome = err, reporters.SearchStopped
			break
		}
		if began.IsZero() {
			began = sr.t0
		}
		row := judgeStep(cfg, sr, step, rate, sr.t0.Sub(began))
		res.Steps = append(res.Steps, row)
		lost += step.Lost
		inFlight += step.InFlightAtEnd
		if err := absorb(agg, sr, row.StartS); err != nil {
			return fmt.Errorf("%w: stage %s: %w", ErrRunFailed, st.Name, err)
		}
		verdict := "held the SLO"
		if !row.Pass {
			verdict = "broke the SLO: " + strings.Join(row.Broken, "; ")
		}
		r.logf("stage %s: %s/s %s", st.Name, capacity.FormatNumber(rate), verdict)
		last = step
		if !row.Pass && !row.GeneratorLimited && (brokeAt == nil || rate < s.hi) {
			brokeAt = step
		}
		if err != nil || sr.stopped != "" || ctx.Err() != nil {
			runErr, res.Outcome = err, reporters.SearchStopped
			break
		}
		if row.GeneratorLimited {
			res.Outcome = reporters.SearchGeneratorLimited
			break
		}
		s.record(rate, row.Pass)
		res.SustainedRPS, res.BrokeRPS = s.lo, s.hi
	}
	if len(res.Steps) == 0 {
		return runErr
	}
	agg.dur = time.Duration(res.Steps[len(res.Steps)-1].StartS*float64(time.Second)) + cfg.Hold.Std()
	for _, row := range res.Steps {
		agg.intended += row.Intended
	}
	rep, err := buildStage(agg, lost, inFlight)
	if err != nil {
		return fmt.Errorf("%w: stage %s: %w", ErrRunFailed, st.Name, err)
	}
	rep.DurationS = float64(len(res.Steps)) * cfg.Hold.Std().Seconds()
	rep.IntendedRPS, rep.AchievedRPS = float64(rep.Intended)/rep.DurationS, float64(rep.Issued)/rep.DurationS
	r.generatorHealth(&rep, agg)
	// The component that limited the search is the one most loaded at the
	// lowest rate that broke the SLO; without one, at the last rate.
	from := last
	if brokeAt != nil {
		from = brokeAt
	}
	rep.Components, rep.Bottleneck, rep.HitRate = from.Components, from.Bottleneck, from.HitRate
	rep.Search = res
	rep.Ceiling = &reporters.Ceiling{
		MeasuredRPS: res.SustainedRPS, Method: reporters.CeilingSearch,
		Reached: res.Outcome == reporters.SearchFound || res.Outcome == reporters.SearchMaxSteps,
	}
	r.predict(&rep, k)
	r.judgeThresholds(&rep, agg)
	r.report.Stages = append(r.report.Stages, rep)
	return runErr
}

// playRate plays rate for hold on stage k and returns what was played
// and its report (nil when nothing was played), with finishStage's error.
func (r *run) playRate(ctx context.Context, k int, rate float64, hold time.Duration, arrival schedule.Arrival, target *url.URL) (*stageRun, *reporters.Stage, error) {
	name := r.sc.Stages[k].Name
	curve, err := schedule.NewCurve(schedule.Spec{Constant: &schedule.Constant{Rate: rate, Duration: hold}})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: stage %s: search rate %g/s: %w", ErrRunFailed, name, rate, err)
	}
	sched, err := schedule.New(curve, arrival, r.sc.Seed)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: stage %s: search rate %g/s: %w", ErrRunFailed, name, rate, err)
	}
	sr, err := r.play(ctx, k, fmt.Sprintf("%s@%s/s", name, capacity.FormatNumber(rate)), sched, target, true)
	if err != nil {
		return nil, nil, err
	}
	step, err := r.finishStage(sr)
	return sr, step, err
}

// sleepCtx waits d, or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// absorb adds one step's merged data to the search's aggregate, its
// intervals placed at the step's start.
func absorb(agg, sr *stageRun, startS float64) error {
	if err := agg.total.Merge(sr.total); err != nil {
		return err
	}
	base := uint32(math.Round(startS * float64(time.Second) / float64(agg.interval)))
	for idx, iv := range sr.intervals {
		at := base + idx
		if dst := agg.intervals[at]; dst != nil { // a drain overlapping the next step's start
			if err := dst.Merge(iv); err != nil {
				return err
			}
			continue
		}
		iv.Index = at
		agg.intervals[at] = iv
	}
	return nil
}

// judgeStep judges one step against the SLO on its data after the warmup,
// and fills its row of the step table.
func judgeStep(cfg scenario.Search, sr *stageRun, step *reporters.Stage, rate float64, start time.Duration) reporters.SearchStep {
	row := reporters.SearchStep{
		RateRPS: rate, StartS: start.Seconds(),
		Intended: step.Intended, Issued: step.Issued, Succeeded: step.Succeeded, Failed: step.Failed,
		Dropped: step.Dropped, Lost: step.Lost, InFlightAtEnd: step.InFlightAtEnd,
		GoodputRPS:       float64(step.Succeeded) / sr.dur.Seconds(),
		GeneratorLimited: step.GeneratorLimited,
		Bottleneck:       step.Bottleneck,
	}
	if len(step.Components) > 0 {
		row.BottleneckUtilisation = step.Components[0].Utilisation
	}
	// The judged window: intervals from the warmup on, the drain included.
	from := uint32(cfg.Warmup.Std() / sr.interval)
	judged := sr.merged(from, math.MaxUint32)
	span := sr.dur - time.Duration(from)*sr.interval
	all := judgedSeries(judged, -1)
	row.P50MS, row.P99MS, row.P999MS = ms(all.Response.ValueAtQuantile(50)), ms(all.Response.ValueAtQuantile(99)), ms(all.Response.ValueAtQuantile(99.9))
	if done := all.Succeeded + all.Failed; done > 0 {
		row.ErrorRate = float64(all.Failed) / float64(done)
	}
	row.Pass = true
	for i, e := range cfg.Parsed {
		if broken, ok := evalSLO(e, cfg.SLO[i], judged, sr, span); !ok {
			row.Pass = false
			row.Broken = append(row.Broken, broken)
		}
	}
	if row.GeneratorLimited {
		row.Pass = false
		row.Broken = append(row.Broken, "generator-limited: the step judged nothing about the target")
	}
	return row
}

// judgedSeries merges the series a selector picks: request index i, or
// every request when i < 0.
func judgedSeries(iv *metrics.Interval, i int) metrics.Series {
	if i >= 0 {
		return iv.Series[i]
	}
	out := metrics.NewSeries(metrics.DefaultGeometry())
	for _, s := range iv.Series {
		_ = out.Merge(s)
	}
	return out
}

// evalSLO evaluates one SLO expression on a step's judged data. It
// returns ok, or a line saying what broke with the measured value. A
// metric without samples (no responses for a latency or an error rate)
// breaks the SLO: nothing shows the rate was sustained.
func evalSLO(e scenario.ThresholdExpr, text string, judged *metrics.Interval, sr *stageRun, span time.Duration) (string, bool) {
	v, shown, has, err := measure(e, judged, sr, span, 0)
	switch {
	case err != nil:
		return fmt.Sprintf("%s: %v", text, err), false
	case !has:
		return text + ": no " + shown + " to judge", false
	case compare(v, e.Op, e.Value):
		return "", true
	}
	return fmt.Sprintf("%s = %s, want %s", metricLabel(e), shown, text[len(metricPrefix(text)):]), false
}

// measure computes e's metric on judged (the merged data of a stage, a
// step or a window of span). has is false when there is nothing to judge:
// no responses for a latency or an error rate, no arrivals for an
// achieved rate; shown then names what is missing. lost is the arrivals
// lost over the span (a stage's; 0 for a step).
func measure(e scenario.ThresholdExpr, judged *metrics.Interval, sr *stageRun, span time.Duration, lost uint64) (v float64, shown string, has bool, err error) {
	idx := -1
	if name, ok := e.Selectors["request"]; ok {
		for i, rq := range sr.reqs {
			if rq.Name == name {
				idx = i
			}
		}
		if idx < 0 {
			return 0, "", false, fmt.Errorf("no request named %q", name)
		}
	}
	s := judgedSeries(judged, idx)
	done := s.Succeeded + s.Failed
	switch m := e.Metric; {
	case m == "max" || m == "mean" || len(m) > 1 && m[0] == 'p':
		if s.Response.TotalCount() == 0 {
			return 0, "responses", false, nil
		}
		switch m {
		case "max":
			v = float64(s.Response.Max())
		case "mean":
			v = s.Response.Mean()
		default:
			q, err := quantileOf(m)
			if err != nil {
				return 0, "", false, err
			}
			v = float64(s.Response.ValueAtQuantile(q))
		}
		return v, strconv.FormatFloat(v/float64(time.Millisecond), 'g', 5, 64) + "ms", true, nil
	case m == "error_rate":
		if done == 0 {
			return 0, "responses", false, nil
		}
		v = float64(s.Failed) / float64(done)
		return v, fmt.Sprintf("%.2f%%", 100*v), true, nil
	case m == "achieved_rate":
		if s.Intended == 0 {
			return 0, "arrivals", false, nil
		}
		v = float64(s.Issued) / float64(s.Intended)
		return v, fmt.Sprintf("%.2f%%", 100*v), true, nil
	case m == "rps":
		if span <= 0 {
			return 0, "time", false, nil
		}
		v = float64(s.Issued) / span.Seconds()
		return v, fmt.Sprintf("%.1f/s", v), true, nil
	case m == "dropped":
		return float64(s.Dropped), fmt.Sprint(s.Dropped), true, nil
	case m == "failed":
		return float64(s.Failed), fmt.Sprint(s.Failed), true, nil
	case m == "lost" && idx < 0:
		return float64(lost), fmt.Sprint(lost), true, nil
	}
	return 0, "", false, fmt.Errorf("%s cannot be judged here", e.Metric)
}

// metricLabel is the metric with its selector, as written in reports.
func metricLabel(e scenario.ThresholdExpr) string {
	if name, ok := e.Selectors["request"]; ok {
		return fmt.Sprintf("%s{request=%s}", e.Metric, name)
	}
	return e.Metric
}

// metricPrefix is the part of an expression before its operator (which
// comes after any selector or window).
func metricPrefix(text string) string {
	from := max(strings.LastIndexByte(text, '}'), strings.LastIndexByte(text, ']'), -1) + 1
	for i := from; i < len(text); i++ {
		switch text[i] {
		case '<', '>', '=', '!':
			return text[:i]
		}
	}
	return ""
}

// quantileOf turns "p99.9" into 99.9.
func quantileOf(m string) (float64, error) {
	var q float64
	if _, err := fmt.Sscanf(m[1:], "%g", &q); err != nil || !(q > 0 && q <= 100) {
		return 0, fmt.Errorf("bad percentile %q", m)
	}
	return q, nil
}

func compare(v float64, op string, want float64) bool {
	switch op {
	case "<":
		return v < want
	case "<=":
		return v <= want
	case ">":
		return v > want
	case ">=":
		return v >= want
	case "==":
		return v == want
	case "!=":
		return v != want
	}
	return false
}
