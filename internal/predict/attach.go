package predict

import (
	"github.com/surgeload/surge/reporters"
	"github.com/surgeload/surge/scenario"
)

// Attach puts the planning arithmetic's ceiling for stage k of sc beside
// the measured one in st.Ceiling, with the ratio. The cache hit rate the
// target measured during the stage replaces the plan's assumption, so that
// the prediction tests the model's structure, not a guess about key
// popularity. Nothing is attached to a stage without a measured ceiling,
// or without a model (a URL stage, echo); the error says why a bundled
// stage has no prediction.
func Attach(st *reporters.Stage, sc *scenario.Scenario, k int) error {
	if st.Ceiling == nil {
		return nil
	}
	hit := -1.0
	if st.HitRate != nil {
		hit = *st.HitRate
	}
	p, ok, err := Stage(sc, k, hit)
	if err != nil {
		return err
	}
	if !ok || !(p.CeilingRPS > 0) {
		return nil
	}
	c := st.Ceiling
	c.PredictedRPS, c.PredictedBottleneck, c.PredictedWorking = p.CeilingRPS, p.Bottleneck, p.Working
	c.Ratio = c.MeasuredRPS / p.CeilingRPS
	return nil
}
