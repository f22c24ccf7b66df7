package targets_test

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestAutoscaleSaturatesAtPrediction: driven closed-loop past its
// ceiling, the autoscaled tier grows to its maximum (the evaluations at
// 1 s and 5 s, each serving 3 s later) and then serves within 10 % of the
// predicted ceiling at 26 instances.
func TestAutoscaleSaturatesAtPrediction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rps, hit := saturate(t, "autoscale", 160, 10*time.Second, 14*time.Second, "cache")
		p := predicted(t, "autoscale", hit)
		t.Logf("autoscale closed loop after scale-out: %.0f req/s at cache hit rate %.3f; predicted %.0f (%s)", rps, hit, p.CeilingRPS, p.Bottleneck)
		if r := rps / p.CeilingRPS; r < 0.9 || r > 1.1 {
			t.Errorf("autoscale served %.0f req/s; predicted %.0f (%s) at hit rate %.3f: ratio %.2f, want 0.9–1.1", rps, p.CeilingRPS, p.Bottleneck, hit, r)
		}
	})
}
