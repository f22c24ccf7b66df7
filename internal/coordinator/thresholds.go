package coordinator

import (
	"time"

	"github.com/surgeload/surge/internal/judge"
	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/reporters"
)

// judgeThresholds judges every scenario threshold that applies to the
// stage sr played (those without a stage selector, and those selecting
// it) on its merged data, and puts the results in st.
func (r *run) judgeThresholds(st *reporters.Stage, sr *stageRun) {
	r.addToRun(sr, st.Lost)
	for _, th := range r.sc.Thresholds {
		if !judge.Applies(th, sr.name) {
			continue
		}
		res := judge.Threshold(th, sr.tl, sr.dur, st.Lost)
		if !res.Pass {
			switch {
			case res.NoData:
				r.warn("stage %s: threshold %q had nothing to judge (%s): the run is invalid", sr.name, th.Expr, res.Measured)
			default:
				r.warn("stage %s: threshold %q failed: %s", sr.name, th.Expr, res.Measured)
			}
		}
		st.Thresholds = append(st.Thresholds, res)
	}
}

// abortCheck judges the thresholds marked abort on what stage sr has
// played so far (judge.Abort); never on a search's step.
func (r *run) abortCheck(sr *stageRun, t0 time.Time) (expr, why string, breached bool) {
	if sr.step {
		return "", "", false
	}
	return judge.Abort(r.sc.Thresholds, sr.name, sr.tl, time.Since(t0))
}

// addToRun merges a judged stage's data into the whole run's, which the
// run-wide thresholds are judged on.
func (r *run) addToRun(sr *stageRun, lost uint64) {
	if r.whole == nil {
		r.whole = metrics.NewTimeline(sr.tl.Geometry, sr.tl.Names, 0)
		r.whole.Kinds, r.whole.Arrivals = sr.tl.Kinds, sr.tl.Arrivals
	}
	if err := r.whole.Total.Merge(sr.tl.Total); err != nil {
		r.warn("run-wide thresholds: %v", err)
		return
	}
	r.wholeDur += sr.dur
	r.wholeLost += lost
}

// judgeRun judges the thresholds without a stage selector or a window on
// the whole run, all stages merged, into the report's Thresholds.
func (r *run) judgeRun() {
	if r.whole == nil || len(r.report.Stages) < 2 {
		return // one stage: its own results say it all
	}
	for _, th := range r.sc.Thresholds {
		if !judge.RunWide(th) {
			continue
		}
		res := judge.Threshold(th, r.whole, r.wholeDur, r.wholeLost)
		if !res.Pass && !res.NoData {
			r.warn("run: threshold %q failed over all stages: %s", th.Expr, res.Measured)
		}
		r.report.Thresholds = append(r.report.Thresholds, res)
	}
}
