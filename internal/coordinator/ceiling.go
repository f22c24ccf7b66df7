package coordinator

import (
	"slices"
	"time"

	"github.com/surgeload/surge/reporters"
)

// ceiling fills a played stage's measured ceiling (its goodput) and, for
// a bundled stage, the prediction beside it.
func (r *run) ceiling(st *reporters.Stage, k int) {
	st.Ceiling = goodputCeiling(st.Intervals, r.cfg.Interval)
	r.predict(st, k)
}

// goodputCeiling measures a played stage's ceiling from its intervals. The
// intervals in which the target fell behind (successes under 95% of the
// arrivals, whether the rest failed, waited or timed out) are saturated;
// with at least reporters.CeilingWindow of them the ceiling is reached,
// and it is their median rate of successes: the plateau the target holds
// while the load keeps climbing, robust to a lucky or an unlucky interval.
// Otherwise the target kept up, and the ceiling is only a lower bound: the
// highest rate of successes over CeilingWindow consecutive intervals. nil
// for a stage without intervals.
func goodputCeiling(ivs []reporters.Interval, interval time.Duration) *reporters.Ceiling {
	if len(ivs) == 0 || interval <= 0 {
		return nil
	}
	var saturated []float64
	for _, iv := range ivs {
		if iv.Intended > 0 && float64(iv.Succeeded) < 0.95*float64(iv.Intended) {
			saturated = append(saturated, float64(iv.Succeeded)/interval.Seconds())
		}
	}
	if len(saturated) >= reporters.CeilingWindow {
		slices.Sort(saturated)
		n := len(saturated)
		median := saturated[n/2]
		if n%2 == 0 {
			median = (saturated[n/2-1] + saturated[n/2]) / 2
		}
		return &reporters.Ceiling{MeasuredRPS: median, Method: reporters.CeilingGoodput, Reached: true}
	}
	w := min(reporters.CeilingWindow, len(ivs))
	c := &reporters.Ceiling{Method: reporters.CeilingGoodput}
	for i := 0; i+w <= len(ivs); i++ {
		var ok uint64
		for _, iv := range ivs[i : i+w] {
			ok += iv.Succeeded
		}
		c.MeasuredRPS = max(c.MeasuredRPS, float64(ok)/(float64(w)*interval.Seconds()))
	}
	return c
}

// predict puts the planning arithmetic's ceiling for stage k beside the
// measured one, with the ratio. The cache hit rate the target measured
// during the stage replaces the plan's assumption, so that the prediction
// tests the model's structure, not a guess about key popularity.
func (r *run) predict(st *reporters.Stage, k int) {
	if st.Ceiling == nil {
		return
	}
	hit := -1.0
	if st.HitRate != nil {
		hit = *st.HitRate
	}
	p, ok, err := PredictStage(r.sc, k, hit)
	if err != nil {
		r.warn("stage %s: no predicted ceiling: %v", st.Name, err)
		return
	}
	if !ok || !(p.CeilingRPS > 0) {
		return
	}
	c := st.Ceiling
	c.PredictedRPS, c.PredictedBottleneck, c.PredictedWorking = p.CeilingRPS, p.Bottleneck, p.Working
	c.Ratio = c.MeasuredRPS / p.CeilingRPS
}
