package coordinator

import (
	"context"
	"fmt"
	"math"
	"net/url"

	"strings"
	"time"

	"github.com/surgeload/surge/internal/capacity"
	"github.com/surgeload/surge/internal/judge"
	"github.com/surgeload/surge/internal/report"
	"github.com/surgeload/surge/internal/schedule"
	"github.com/surgeload/surge/reporters"
	"github.com/surgeload/surge/scenario"
)

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
	st := r.plan.Stages[k]
	cfg := *st.Search
	if st.ClientErr != nil {
		return fmt.Errorf("%w: stage %s: client settings: %w", ErrRunFailed, st.Name, st.ClientErr)
	}
	r.logf("stage %s: capacity search (%s) from %v to %v, %v per step, SLO %v", st.Name, cfg.Method, cfg.Start, cfg.Max, cfg.Hold, cfg.SLO)

	agg := r.newStageRun(st.Name, target.String(), st.Limits, len(r.live()))
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
		sr, step, err := r.playRate(ctx, k, rate, cfg.Hold.Std(), st.Arrival, target)
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
		row := judge.Step(cfg, sr.tl, sr.dur, step, rate, sr.t0.Sub(began))
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
	rep, err := report.Stage(agg.tl, agg.played(lost, inFlight))
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
	rep.Components, rep.Bottleneck, rep.HitRate, rep.Scaling = from.Components, from.Bottleneck, from.HitRate, from.Scaling
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
	name := r.plan.Stages[k].Name
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
// intervals placed at the step's start, and packs them.
func absorb(agg, sr *stageRun, startS float64) error {
	base := uint32(math.Round(startS * float64(time.Second) / float64(agg.tl.Step)))
	if err := agg.tl.Absorb(sr.tl, base); err != nil {
		return err
	}
	return agg.tl.Pack(math.MaxUint32) // a later step's drain may still unpack one
}
