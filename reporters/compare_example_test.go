package reporters_test

import (
	"fmt"

	"github.com/surgeload/surge/reporters"
)

// A p99 of 4.0 ms that becomes 5.8 ms is +45%, past the 10% tolerance,
// but only 1.8 ms: within the default 5 ms noise floor, not a regression.
// The same +45% on 40 ms is 18 ms: a regression.
func ExampleCompareOptions_Compare() {
	report := func(p99 float64) *reporters.Report {
		return &reporters.Report{Schema: reporters.Schema, Stages: []reporters.Stage{{Name: "api",
			Intended: 100, Issued: 100, Succeeded: 100, AchievedRPS: 100,
			ResponseTimeMS: reporters.Percentiles{P50: 1, P99: p99, P999: p99, Max: p99}}}}
	}
	opts := reporters.DefaultCompareOptions()
	for _, c := range []struct{ base, head float64 }{{4, 5.8}, {40, 58}} {
		cmp := opts.Compare(report(c.base), report(c.head))
		p99 := cmp.Stages[0].Rows[2]
		fmt.Printf("p99 %g → %g ms: regression %v, within noise floor %v\n", c.base, c.head, p99.Regression, p99.WithinFloor)
	}
	// Output:
	// p99 4 → 5.8 ms: regression false, within noise floor true
	// p99 40 → 58 ms: regression true, within noise floor false
}
