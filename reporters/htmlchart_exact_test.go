package reporters_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"regexp"
	"strconv"
	"testing"

	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/internal/report"
	"github.com/surgeload/surge/reporters"
)

// TestDistributionChartIsTheReportsPercentiles: the per-stage
// distribution chart's marked points at 50, 75, 90, 95, 99 and 99.9 % are
// exactly report.json's percentiles of the same stage, as the run computes
// them (internal/report.Percentiles of the merged histogram), for counts
// whose nearest ranks fall on and between buckets.
func TestDistributionChartIsTheReportsPercentiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		gen  func(r *rand.Rand) int64
	}{
		{"one value", 1, func(*rand.Rand) int64 { return 1_234_567 }},
		{"seven", 7, func(r *rand.Rand) int64 { return 100_000 + r.Int64N(9_000_000) }},
		{"1600 (p99.9 rank 1598.4)", 1600, func(r *rand.Rand) int64 { return 500_000 + r.Int64N(2_000_000) }},
		{"41000 (p99.9 rank exactly 40959)", 41_000, func(r *rand.Rand) int64 { return int64(math.Exp(13 + 1.5*r.NormFloat64())) }},
		{"bimodal with a slow tail", 12_347, func(r *rand.Rand) int64 {
			if r.IntN(100) < 3 {
				return 2_000_000_000 + r.Int64N(1_000_000_000)
			}
			return 300_000 + r.Int64N(700_000)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.n), 19))
			h := metrics.DefaultGeometry().New()
			for range tc.n {
				if err := h.RecordValue(tc.gen(rng)); err != nil {
					t.Fatal(err)
				}
			}
			enc, err := metrics.EncodeHistogram(h)
			if err != nil {
				t.Fatal(err)
			}
			st := reporters.Stage{Name: "s", Histogram: string(enc), ResponseTimeMS: report.Percentiles(h), Errors: map[string]uint64{}}
			r := &reporters.Report{Schema: reporters.Schema, Scenario: "exact", Stages: []reporters.Stage{st}}
			var b bytes.Buffer
			if err := reporters.WriteHTML(&b, r); err != nil {
				t.Fatal(err)
			}
			svg := regexp.MustCompile(`(?s)<svg data-chart="distribution" data-stage="0".*?</svg>`).FindString(b.String())
			if svg == "" {
				t.Fatal("no distribution chart for stage 0")
			}
			got := map[string][]float64{}
			for _, m := range regexp.MustCompile(`data-q="([^"]+)" data-ms="([^"]+)"`).FindAllStringSubmatch(svg, -1) {
				v, err := strconv.ParseFloat(m[2], 64)
				if err != nil {
					t.Fatalf("data-ms %q: %v", m[2], err)
				}
				got[m[1]] = append(got[m[1]], v)
			}
			p := st.ResponseTimeMS
			for q, want := range map[string]float64{"50": p.P50, "75": p.P75, "90": p.P90, "95": p.P95, "99": p.P99, "99.9": p.P999} {
				// Twice: the log layout and the linear one.
				if len(got[q]) != 2 {
					t.Errorf("p%s marked %d times, want 2 (log and linear layouts)", q, len(got[q]))
				}
				for _, v := range got[q] {
					if v != want {
						t.Errorf("p%s: chart %v ms, report.json %v ms", q, v, want)
					}
				}
			}
			if want := 6; tc.n < 10_000 && len(got) != want {
				t.Errorf("%d percentiles marked, want %d (up to p99.9): %v", len(got), want, got)
			}
			if tc.n >= 10_000 && len(got["99.99"]) != 2 {
				t.Errorf("%d values resolve p99.99, marked %d times", tc.n, len(got["99.99"]))
			}
		})
	}
}
