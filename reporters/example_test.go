package reporters_test

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/surgeload/surge/reporters"
)

// A report balances: intended = issued + dropped + lost, and
// issued = succeeded + failed + in flight at the end.
func ExampleWriteText() {
	r := &reporters.Report{
		Schema: reporters.Schema, Scenario: "example", RunID: "r1",
		Stages: []reporters.Stage{{
			Name: "echo", Target: "http://127.0.0.1:8080",
			Intended: 100, Issued: 100, Succeeded: 99, Failed: 1, DurationS: 1, IntendedRPS: 100, AchievedRPS: 100,
			ResponseTimeMS: reporters.Percentiles{P50: 0.5, P75: 0.7, P90: 0.9, P95: 1.2, P99: 2, P999: 2, Max: 2, Mean: 0.6},
			Errors:         map[string]uint64{"http_5xx": 1},
		}},
	}
	if err := r.Check(); err != nil {
		panic(err)
	}
	_ = reporters.WriteText(os.Stdout, r)
	// Output:
	// surge: example (run r1)
	//
	// stage echo → http://127.0.0.1:8080
	//   requests  intended 100  issued 100  succeeded 99  failed 1  dropped 0  lost 0  in flight 0
	//   rate      intended 100.0/s  achieved 100.0/s  over 1s
	//      latency (ms)    p50    p75    p90    p95    p99  p99.9    max   mean
	//     response time  0.500  0.700  0.900  1.200  2.000  2.000  2.000  0.600
	//      service time  0.000  0.000  0.000  0.000  0.000  0.000  0.000  0.000
	//          send lag  0.000  0.000  0.000  0.000  0.000  0.000  0.000  0.000
	//   errors: http_5xx=1
}

// JSONSchema is the schema of report.json, for tools that check a report
// without Go (write it to a file beside the reports).
func ExampleJSONSchema() {
	var s struct {
		ID    string `json:"$id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal(reporters.JSONSchema, &s); err != nil {
		panic(err)
	}
	fmt.Println(s.Title)
	fmt.Println(s.ID)
	// Output:
	// Surge report (surge.report/v1)
	// https://github.com/surgeload/surge/reporters/schema/report-v1.schema.json
}
