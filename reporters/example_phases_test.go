package reporters_test

import (
	"fmt"

	"github.com/surgeload/surge/reporters"
)

// A stage's phases read by name, in the order a request goes through
// them; the phases no request had are zero (here dns: the target was an
// IP address, and tls: plain http).
func ExamplePhases_Of() {
	ph := reporters.Phases{
		ConnectMS: reporters.Percentiles{P99: 0.21},
		WriteMS:   reporters.Percentiles{P99: 0.02},
		TTFBMS:    reporters.Percentiles{P99: 12.5},
		ReadMS:    reporters.Percentiles{P99: 0.4},
		NewConns:  12,
	}
	for _, name := range reporters.PhaseNames {
		if p := ph.Of(name); p != (reporters.Percentiles{}) {
			fmt.Printf("%-7s p99 %5.2f ms\n", name, p.P99)
		}
	}
	fmt.Printf("over %d new connections\n", ph.NewConns)
	// Output:
	// connect p99  0.21 ms
	// write   p99  0.02 ms
	// ttfb    p99 12.50 ms
	// read    p99  0.40 ms
	// over 12 new connections
}
