package scenario

import (
	"math"
	"slices"
	"strings"
	"time"
)

// Stage modes (Stage.Mode).
const (
	// ModeRun plays the stage's load curve: the default.
	ModeRun = "run"
	// ModeCapacity searches for the highest arrival rate the stage
	// sustains within an SLO (see Search).
	ModeCapacity = "capacity"
)

// Search methods (Search.Method).
const (
	// SearchStep climbs from Start by Step until a rate breaks the SLO.
	SearchStep = "step"
	// SearchBinary doubles from Start until a rate breaks the SLO, then
	// bisects between the last rate that held and the first that broke.
	SearchBinary = "binary"
)

// Search defaults (DefaultSearch).
const (
	DefaultSearchHold       = 20 * time.Second
	DefaultSearchCooldown   = 3 * time.Second
	DefaultSearchResolution = 0.05
	DefaultSearchMaxSteps   = 12
	// MaxSearchSteps bounds Search.MaxSteps.
	MaxSearchSteps = 100
)

// DefaultSLO is what "sustainable" means in a capacity search that does
// not say: p99 under 250 ms and under 1% errors.
var DefaultSLO = []string{"p99 < 250ms", "error_rate < 1%"}

// Search configures a capacity search: a stage in mode "capacity" holds
// one constant arrival rate after another, each for Hold, judges each
// against the SLO and reports the highest rate that held and the table of
// steps. In a scenario file:
//
//	stages:
//	  - url: http://127.0.0.1:8080
//	    mode: capacity
//	    search: {method: binary, start: 100/s, max: 5k/s, hold: 20s, slo: ["p99 < 250ms", "error_rate < 1%"]}
//
// A search block at the top of the scenario is the default of every
// capacity stage; a stage's own block replaces it (the whole block, not
// field by field). Rates tried are bounded by Max and by safety.max_rate,
// the number of steps by MaxSteps, and the search's played time
// (steps × Hold) by safety.max_duration.
type Search struct {
	// Method is "binary" (the default) or "step".
	Method string `yaml:"method" json:"method,omitempty"`
	// SLO lists threshold expressions (the thresholds grammar, without a
	// window or a stage selector) that every step must meet to count as
	// sustained, judged on the step's merged data after Warmup. Default
	// DefaultSLO.
	SLO []string `yaml:"slo" json:"slo,omitempty"`
	// Start is the first rate tried; > 0. Required.
	Start Rate `yaml:"start" json:"start"`
	// Max is the highest rate tried; > Start. Default safety.max_rate.
	Max Rate `yaml:"max" json:"max,omitempty"`
	// Step is how much each step of the step method adds; > 0. Default
	// Start. Not used by the binary method.
	Step Rate `yaml:"step" json:"step,omitempty"`
	// Hold is how long each rate is held; default DefaultSearchHold.
	Hold Duration `yaml:"hold" json:"hold,omitempty"`
	// Warmup is the start of each step left out of the SLO judgement
	// (its requests are still sent, counted and reported): the target's
	// queues settle to the new rate. Default 0; less than Hold.
	Warmup Duration `yaml:"warmup" json:"warmup,omitempty"`
	// Cooldown is the pause between steps, so that a backlog left by a
	// step that broke the SLO drains before the next is judged. Default
	// DefaultSearchCooldown.
	Cooldown Duration `yaml:"cooldown" json:"cooldown,omitempty"`
	// Resolution ends a binary search when the gap between the highest
	// rate that held and the lowest that broke is at most this fraction
	// of the former ("5%"). Default DefaultSearchResolution.
	Resolution Percent `yaml:"resolution" json:"resolution,omitempty"`
	// MaxSteps bounds the steps of the search; default
	// DefaultSearchMaxSteps, at most MaxSearchSteps.
	MaxSteps int `yaml:"max_steps" json:"max_steps,omitempty"`
	// Arrival is the arrival process of every step: "uniform" (the
	// default) or "poisson".
	Arrival string `yaml:"arrival" json:"arrival,omitempty"`

	// Parsed holds the SLO's expressions parsed, in order; Parse fills it
	// in (and StageSearch for the default SLO).
	Parsed []ThresholdExpr `yaml:"-" json:"-"`
}

// StageMode returns the mode of stage k: ModeCapacity or ModeRun.
func (s *Scenario) StageMode(k int) string {
	if s.Stages[k].Mode == ModeCapacity {
		return ModeCapacity
	}
	return ModeRun
}

// StageSearch returns the search settings of stage k with the defaults
// filled in: the stage's search block, else the scenario's, else only
// defaults (then Start is 0 and the caller must supply it). Max defaults to
// the scenario's safety.max_rate.
func (s *Scenario) StageSearch(k int) Search {
	var sr Search
	switch {
	case s.Stages[k].Search != nil:
		sr = *s.Stages[k].Search
	case s.Search != nil:
		sr = *s.Search
	}
	return sr.withDefaults(s.Safety.effective())
}

// withDefaults fills in the defaults of a search.
func (sr Search) withDefaults(safety Safety) Search {
	if sr.Method == "" {
		sr.Method = SearchBinary
	}
	if len(sr.SLO) == 0 {
		sr.SLO = slices.Clone(DefaultSLO)
		sr.Parsed = nil
	}
	if len(sr.Parsed) != len(sr.SLO) {
		sr.Parsed = make([]ThresholdExpr, len(sr.SLO))
		for i, e := range sr.SLO {
			sr.Parsed[i], _ = ParseThreshold(e) // validated by Parse; a bad one compares false
		}
	}
	if sr.Max == 0 {
		sr.Max = safety.MaxRate
	}
	sr.Max = min(sr.Max, safety.MaxRate)
	if sr.Step == 0 {
		sr.Step = sr.Start
	}
	if sr.Hold == 0 {
		sr.Hold = Duration(DefaultSearchHold)
	}
	if sr.Cooldown == 0 {
		sr.Cooldown = Duration(DefaultSearchCooldown)
	}
	if sr.Resolution == 0 {
		sr.Resolution = DefaultSearchResolution
	}
	if sr.MaxSteps == 0 {
		sr.MaxSteps = DefaultSearchMaxSteps
	}
	if sr.Arrival == "" {
		sr.Arrival = ArrivalUniform
	}
	return sr
}

// searchMetrics are the metrics an SLO may use: every threshold metric
// but lost, which a step cannot judge (a lost agent fails the run).
// isPhaseMetric reports a phase's metric (ttfb.p99): a step is judged on
// its intervals after the warmup, which keep no phases.
func isPhaseMetric(e ThresholdExpr) bool {
	_, _, ok := e.PhaseStat()
	return ok
}

func searchMetric(m string) bool {
	return m != "lost"
}

// searches checks the search blocks and the modes of the stages.
func (c *checker) searches(s *Scenario, safety Safety, safetyOK bool) {
	if s.Search != nil {
		s.Search.Parsed = c.search(s.Search, "search", safety, safetyOK)
	}
	anyCapacity := false
	for i := range s.Stages {
		st := &s.Stages[i]
		path := indexPath("stages", i)
		modePath := joinPath(path, "mode")
		switch st.Mode {
		case "", ModeRun:
			if st.Mode == "" && c.set(modePath) {
				c.add(modePath, "mode must not be empty (want run or capacity)")
			}
			if st.Search != nil {
				c.warn(joinPath(path, "search"), "search has no effect without mode: capacity")
			}
		case ModeCapacity:
			anyCapacity = true
			if st.Load != nil {
				c.warn(joinPath(path, "load"), "load is not used by a capacity stage: the search sets the rates")
			}
			if st.Search != nil {
				st.Search.Parsed = c.search(st.Search, joinPath(path, "search"), safety, safetyOK)
			} else if s.Search == nil {
				c.addAt(path, modePath, "a capacity stage needs a search block with at least start (here or at the top of the scenario)")
			}
		default:
			c.add(modePath, "unknown mode %q (want run or capacity)", st.Mode)
		}
	}
	if s.Search != nil && !anyCapacity {
		// A --capacity flag may still use it; not an error.
		c.warn("search", "search is only used by stages with mode: capacity (or the run's --capacity flag)")
	}
}

// search checks one search block and returns its parsed SLO.
func (c *checker) search(sr *Search, path string, safety Safety, safetyOK bool) []ThresholdExpr {
	p := func(field string) string { return joinPath(path, field) }
	switch sr.Method {
	case "", SearchBinary, SearchStep:
		if sr.Method == "" && c.set(p("method")) {
			c.add(p("method"), "method must not be empty (want binary or step)")
		}
	default:
		c.add(p("method"), "unknown method %q (want binary or step)", sr.Method)
	}
	switch sr.Arrival {
	case "", ArrivalUniform, ArrivalPoisson:
	default:
		c.add(p("arrival"), "unknown arrival %q (want uniform or poisson)", sr.Arrival)
	}
	rateOK := func(field string, r Rate, required bool) bool {
		switch {
		case r == 0 && !c.set(p(field)) && !c.failed(p(field)):
			if required {
				c.missing(path, field)
			}
			return false
		case !(r > 0) || math.IsInf(float64(r), 0):
			c.add(p(field), "%s must be a rate > 0 (got %s)", field, r)
			return false
		case safetyOK && r > safety.MaxRate:
			c.add(p(field), "%s %s is over safety.max_rate %s", field, r, safety.MaxRate)
			return false
		}
		return true
	}
	startOK := rateOK("start", sr.Start, true)
	maxOK := rateOK("max", sr.Max, false)
	rateOK("step", sr.Step, false)
	if startOK && maxOK && sr.Max <= sr.Start {
		c.add(p("max"), "max %s must be above start %s", sr.Max, sr.Start)
	}
	for _, d := range []struct {
		field string
		v     Duration
	}{{"hold", sr.Hold}, {"warmup", sr.Warmup}, {"cooldown", sr.Cooldown}} {
		if d.v < 0 {
			c.add(p(d.field), "%s must not be negative (got %s)", d.field, d.v)
		}
		c.timeBound(p(d.field), d.v)
	}
	if c.set(p("hold")) && sr.Hold == 0 {
		c.add(p("hold"), "hold must be > 0")
	}
	hold := sr.Hold
	if hold <= 0 {
		hold = Duration(DefaultSearchHold)
	}
	if sr.Warmup >= hold {
		c.add(p("warmup"), "warmup %s must be shorter than hold %s: nothing would be judged", sr.Warmup, hold)
	}
	if sr.Resolution < 0 || sr.Resolution >= 1 || (sr.Resolution == 0 && c.set(p("resolution"))) {
		c.add(p("resolution"), "resolution must be above 0%% and below 100%% (got %s)", sr.Resolution)
	}
	steps := sr.MaxSteps
	switch {
	case steps < 0 || steps > MaxSearchSteps || (steps == 0 && c.set(p("max_steps"))):
		c.add(p("max_steps"), "max_steps must be from 1 to %d (got %d)", MaxSearchSteps, steps)
	case steps == 0:
		steps = DefaultSearchMaxSteps
	}
	if safetyOK && steps > 0 && steps <= MaxSearchSteps && hold > 0 {
		if played := Duration(time.Duration(steps) * hold.Std()); played > safety.MaxDuration {
			c.add(c.written(p("max_steps"), c.written(p("hold"), path)),
				"the search may play for %s (%d steps × hold %s), over safety.max_duration %s", played, steps, hold, safety.MaxDuration)
		}
	}
	if len(sr.SLO) > MaxThresholds {
		c.add(p("slo"), "at most %d SLO expressions are allowed (got %d)", MaxThresholds, len(sr.SLO))
	}
	if c.set(p("slo")) && len(sr.SLO) == 0 {
		c.add(p("slo"), "slo must list at least one expression (or be left out for the default: %s)", strings.Join(DefaultSLO, ", "))
	}
	parsed := make([]ThresholdExpr, len(sr.SLO))
	for i, expr := range sr.SLO {
		ep := indexPath(p("slo"), i)
		if strings.TrimSpace(expr) == "" {
			c.add(ep, "SLO expression must not be empty (want e.g. p99 < 250ms)")
			continue
		}
		e, err := ParseThreshold(expr)
		if err != nil {
			te := err.(*ThresholdError)
			c.addIn(ep, expr, te.Offset, "invalid SLO expression: %s", te.Msg)
			continue
		}
		switch {
		case e.Window > 0:
			c.add(ep, "an SLO expression takes no window: each step is judged as a whole (after warmup)")
			continue
		case isPhaseMetric(e):
			c.add(ep, "%s cannot be judged per step: phases are kept for a whole stage, not per interval", e.Metric)
			continue
		case !searchMetric(e.Metric):
			c.add(ep, "%s cannot be judged per step (a lost agent fails the run)", e.Metric)
			continue
		}
		if _, ok := e.Selectors["stage"]; ok {
			c.addIn(ep, expr, selectorOffset(expr, "stage"), "an SLO expression takes no stage selector: it is the search's own stage")
			continue
		}
		if name, ok := e.Selectors["request"]; ok && !slices.Contains(c.requestNames, name) {
			c.addIn(ep, expr, selectorOffset(expr, "request"),
				"unknown request %q in SLO expression (requests: %s)", name, quoteList(c.requestNames))
			continue
		}
		parsed[i] = e
	}
	return parsed
}
