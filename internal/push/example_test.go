package push_test

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/surgeload/surge/internal/push"
)

// Samples flattens gathered families into the series a push sends, each
// with the extra labels (run_id among them).
func ExampleSamples() {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "surge_run_requests_total", Help: "Arrivals."}, []string{"stage", "outcome"})
	reg.MustRegister(c)
	c.WithLabelValues("s1", "succeeded").Add(7)
	fams, _ := reg.Gather()
	for _, s := range push.Samples(fams, []push.Label{{Name: "run_id", Value: "r1"}}) {
		fmt.Println(s.Name, s.Labels, s.Value)
	}
	// Output: surge_run_requests_total [{outcome succeeded} {run_id r1} {stage s1}] 7
}
