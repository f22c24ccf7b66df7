package reporters_test

import (
	"bytes"
	"fmt"
	"regexp"

	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/internal/report"
	"github.com/surgeload/surge/reporters"
)

// WriteHTML draws a stage's response-time distribution from its merged
// histogram: the marked percentiles are report.json's own figures.
func ExampleWriteHTML() {
	h := metrics.DefaultGeometry().New()
	for i := range int64(1000) {
		_ = h.RecordValue(1_000_000 + i*i*20) // 1 ms rising to 21 ms
	}
	enc, _ := metrics.EncodeHistogram(h)
	r := &reporters.Report{Schema: reporters.Schema, Scenario: "example", Stages: []reporters.Stage{{
		Name: "echo", Histogram: string(enc), ResponseTimeMS: report.Percentiles(h), Errors: map[string]uint64{},
	}}}
	var b bytes.Buffer
	if err := reporters.WriteHTML(&b, r); err != nil {
		panic(err)
	}
	dist := regexp.MustCompile(`(?s)<svg data-chart="distribution".*?</svg>`).FindString(b.String())
	fmt.Println("report.json p99:", r.Stages[0].ResponseTimeMS.P99, "ms")
	for _, m := range regexp.MustCompile(`<g class="ylog">(?s:.*?)</g>\n<g class="ylin">`).FindAllString(dist, 1) {
		for _, p := range regexp.MustCompile(`data-q="([^"]+)" data-ms="([^"]+)"`).FindAllStringSubmatch(m, -1) {
			fmt.Printf("chart p%s: %s ms\n", p[1], p[2])
		}
		fmt.Print("y ticks:")
		for _, t := range regexp.MustCompile(`class="ytick"[^>]*>([^<]+)<`).FindAllStringSubmatch(m, -1) {
			fmt.Print(" ", t[1])
		}
		fmt.Println()
	}
	// Output:
	// report.json p99: 20.578303 ms
	// chart p50: 5.980159 ms
	// chart p75: 12.222463 ms
	// chart p90: 17.170431 ms
	// chart p95: 19.021823 ms
	// chart p99: 20.578303 ms
	// chart p99.9: 20.922367 ms
	// y ticks: 1 ms 10 ms 100 ms
}
