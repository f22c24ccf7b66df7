package coordinator

import (
	"time"

	"github.com/surgeload/surge/reporters"
)

// ceiling fills a played stage's measured ceiling (its goodput) and, for
// a bundled stage, the prediction beside it.
func (r *run) ceiling(st *reporters.Stage, k int) {
	st.Ceiling = goodputCeiling(st.Intervals, r.cfg.Interval)
	r.predict(st, k)
}

// goodputCeiling is the highest rate of successful responses held over
// reporters.CeilingWindow consecutive intervals (fewer when the stage has
// fewer), or nil for a stage without intervals. It is reached when, over
// that window, the target fell behind its arrivals (successes under 95%
// of them) or failed 1% or more of its responses: the rate is then what
// the target could do, not what it was asked for.
func goodputCeiling(ivs []reporters.Interval, interval time.Duration) *reporters.Ceiling {
	w := min(reporters.CeilingWindow, len(ivs))
	if w == 0 || interval <= 0 {
		return nil
	}
	var c *reporters.Ceiling
	for i := 0; i+w <= len(ivs); i++ {
		var ok, failed, intended uint64
		for _, iv := range ivs[i : i+w] {
			ok += iv.Succeeded
			failed += iv.Failed
			intended += iv.Intended
		}
		rate := float64(ok) / (float64(w) * interval.Seconds())
		if c != nil && rate <= c.MeasuredRPS {
			continue
		}
		c = &reporters.Ceiling{
			MeasuredRPS: rate, Method: reporters.CeilingGoodput,
			Reached: float64(ok) < 0.95*float64(intended) || 100*failed >= ok+failed && failed > 0,
		}
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
