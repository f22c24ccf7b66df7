package stages

import (
	"fmt"
	"time"

	"github.com/surgeload/surge/scenario"
)

// Search returns the search settings of stage k with the command line's
// overrides and the defaults applied, and checks them: a start rate is
// required, and the rates must fit the scenario's safety caps. SLO
// expressions from the command line are parsed here, once.
func Search(sc *scenario.Scenario, k int, o SearchOverrides) (scenario.Search, error) {
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
	return s, checkSearch(sc, sc.Stages[k].Name, s)
}

// checkSearch checks a stage's search settings once overridden.
func checkSearch(sc *scenario.Scenario, name string, s scenario.Search) error {
	switch {
	case s.Method != scenario.SearchBinary && s.Method != scenario.SearchStep:
		return fmt.Errorf("%w: stage %s: unknown search method %q (want binary or step)", scenario.ErrInvalid, name, s.Method)
	case !(s.Start > 0):
		return fmt.Errorf("%w: stage %s: a capacity search needs a start rate (search.start in the scenario, or --search-start)", scenario.ErrInvalid, name)
	case s.Start > sc.Safety.MaxRate || s.Max > sc.Safety.MaxRate:
		return fmt.Errorf("%w: stage %s: search rates %v to %v exceed safety.max_rate %v", scenario.ErrInvalid, name, s.Start, s.Max, sc.Safety.MaxRate)
	case s.Max <= s.Start:
		return fmt.Errorf("%w: stage %s: search max %v must be above start %v", scenario.ErrInvalid, name, s.Max, s.Start)
	case s.Hold <= s.Warmup:
		return fmt.Errorf("%w: stage %s: search hold %v must be longer than warmup %v", scenario.ErrInvalid, name, s.Hold, s.Warmup)
	case s.MaxSteps < 1 || s.MaxSteps > scenario.MaxSearchSteps:
		return fmt.Errorf("%w: stage %s: search max_steps %d is not from 1 to %d", scenario.ErrInvalid, name, s.MaxSteps, scenario.MaxSearchSteps)
	case time.Duration(s.MaxSteps)*s.Hold.Std() > sc.Safety.MaxDuration.Std():
		return fmt.Errorf("%w: stage %s: the search may play for %v (%d steps × %v), over safety.max_duration %v",
			scenario.ErrInvalid, name, time.Duration(s.MaxSteps)*s.Hold.Std(), s.MaxSteps, s.Hold, sc.Safety.MaxDuration)
	}
	return nil
}

func hasRequest(sc *scenario.Scenario, name string) bool {
	for _, rq := range sc.Requests {
		if rq.Name == name {
			return true
		}
	}
	return false
}
