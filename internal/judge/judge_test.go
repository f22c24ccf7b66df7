package judge

import (
	"strings"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/scenario"
)

// judgedInterval is an interval with n responses of each latency, and
// failed of them failed.
func judgedInterval(t *testing.T, lat []time.Duration, failed uint64) *metrics.Interval {
	t.Helper()
	iv := metrics.NewInterval(metrics.DefaultGeometry(), 2)
	for _, d := range lat {
		if err := iv.Series[0].Response.RecordValue(int64(d)); err != nil {
			t.Fatal(err)
		}
	}
	n := uint64(len(lat))
	iv.Series[0].Intended, iv.Series[0].Issued = n+2, n
	iv.Series[0].Dropped = 2
	iv.Series[0].Succeeded, iv.Series[0].Failed = n-failed, failed
	return iv
}

func TestSLO(t *testing.T) {
	lat := make([]time.Duration, 100)
	for i := range lat {
		lat[i] = time.Duration(i+1) * time.Millisecond // p99 = 99ms, max 100ms
	}
	iv := judgedInterval(t, lat, 3)
	names := []string{"a", "b"}
	tests := []struct {
		expr, broken string
	}{
		{"p99 < 100ms", ""},
		{"p99 < 50ms", "p99 = 99.025ms, want < 50ms"},
		{"p50 <= 51ms", ""},
		{"max < 100ms", "max = 100.01ms, want < 100ms"},
		{"error_rate < 5%", ""},
		{"error_rate < 1%", "error_rate = 3.00%, want < 1%"},
		{"achieved_rate >= 99%", "achieved_rate = 98.04%, want >= 99%"},
		{"dropped == 0", "dropped = 2, want == 0"},
		{"failed <= 3", ""},
		{"rps > 50", ""},
		{"rps > 200", "rps = 100.0/s, want > 200"},
		{"p99{request=b} < 1s", "p99{request=b} < 1s: no responses to judge"},
		{"error_rate{request=b} < 1%", "error_rate{request=b} < 1%: no responses to judge"},
		{"p99{request=a} < 100ms", ""},
		{"p99{request=a} <= 50ms", "p99{request=a} = 99.025ms, want <= 50ms"},
	}
	for _, tt := range tests {
		e, err := scenario.ParseThreshold(tt.expr)
		if err != nil {
			t.Fatalf("%s: %v", tt.expr, err)
		}
		broken, ok := SLO(e, tt.expr, iv, Layout{Geometry: metrics.DefaultGeometry(), Names: names}, time.Second)
		if ok != (tt.broken == "") || broken != tt.broken {
			t.Errorf("%s: ok %v %q; want %q", tt.expr, ok, broken, tt.broken)
		}
	}
}

// TestMeasureNearestRank pins that a percentile threshold is judged on the
// nearest-rank value (rank ⌈p·N/100⌉, as Java HdrHistogram and the report
// compute it), not on hdrhistogram-go's half-up rank, one value lower: of
// 1,600 responses of 1..1,600 ms, p99.9 is the 1,599th (⌈1598.4⌉), p75 the
// 1,200th and p95 the 1,520th; of 3, p75 is the 3rd (⌈2.25⌉). Each value
// shown is the top of the bucket holding that response.
func TestMeasureNearestRank(t *testing.T) {
	spread := func(n int) []time.Duration {
		lat := make([]time.Duration, n)
		for i := range lat {
			lat[i] = time.Duration(i+1) * time.Millisecond
		}
		return lat
	}
	tests := []struct {
		n            int
		expr, broken string
	}{
		{1600, "p99.9 < 1599ms", "p99.9 = 1599.1ms, want < 1599ms"}, // half-up rank 1598 would pass it
		{1600, "p99.9 < 1600ms", ""},
		{1600, "p75 <= 1200ms", "p75 = 1200.6ms, want <= 1200ms"}, // the top of 1,200 ms's bucket
		{1600, "p75 < 1201ms", ""},
		{1600, "p95 < 1520ms", "p95 = 1520.4ms, want < 1520ms"},
		{10, "p75 < 8ms", "p75 = 8.0036ms, want < 8ms"}, // ⌈7.5⌉ = 8 (half up agrees)
		{10, "p75 < 9ms", ""},
		{3, "p75 < 3ms", "p75 = 3.0003ms, want < 3ms"}, // ⌈2.25⌉ = 3; half up says 2
		{3, "p50 < 2ms", "p50 = 2.0009ms, want < 2ms"},
		{1, "p99.9 < 1ms", "p99.9 = 1.0004ms, want < 1ms"},
	}
	for _, tt := range tests {
		iv := judgedInterval(t, spread(tt.n), 0)
		e, err := scenario.ParseThreshold(tt.expr)
		if err != nil {
			t.Fatalf("%s: %v", tt.expr, err)
		}
		broken, ok := SLO(e, tt.expr, iv, Layout{Geometry: metrics.DefaultGeometry(), Names: []string{"a", "b"}}, time.Second)
		if ok != (tt.broken == "") || broken != tt.broken {
			t.Errorf("N=%d %s: ok %v %q; want %q", tt.n, tt.expr, ok, broken, tt.broken)
		}
		v, _, has, err := Measure(e, iv, Layout{Geometry: metrics.DefaultGeometry(), Names: []string{"a", "b"}}, time.Second, 0)
		pct, _ := e.Percentile()
		if want := float64(metrics.ValueAtPercentile(iv.Series[0].Response, pct)); err != nil || !has || v != want {
			t.Errorf("N=%d Measure(%s) = %v, %v, %v; want %v, the report's value", tt.n, tt.expr, v, has, err, want)
		}
	}
}

// TestMeasureJourneys: in a journey stage, selectors pick journeys and
// steps by kind; journey metrics judge the journeys' durations and
// failures; without a selector, latencies are the steps' (not the
// journeys' durations, nor the checks'), rates the journeys'.
func TestMeasureJourneys(t *testing.T) {
	g := metrics.DefaultGeometry()
	lay := Layout{Geometry: g, Names: []string{"shop", "shop/login", "shop/buy", "shop/login #ok"},
		Kinds: []metrics.Kind{metrics.KindJourney, metrics.KindStep, metrics.KindStep, metrics.KindCheck}, Arrivals: 1}
	iv := metrics.NewInterval(g, 4)
	fill := func(k int, ok, failed uint64, d time.Duration) {
		s := &iv.Series[k]
		s.Intended, s.Issued, s.Succeeded, s.Failed = ok+failed, ok+failed, ok, failed
		if failed > 0 {
			s.Errors[metrics.HTTP5xx] = failed
		}
		for range ok + failed {
			if d > 0 {
				_ = s.Response.RecordValue(int64(d))
			}
		}
	}
	fill(0, 90, 10, 2*time.Second)       // journeys: 2 s each, 10% failed
	fill(1, 100, 0, 10*time.Millisecond) // login
	fill(2, 90, 0, 30*time.Millisecond)  // buy
	fill(3, 99, 1, 0)                    // a check
	iv.Series[0].Dropped, iv.Series[0].Intended = 5, 105
	for _, tt := range []struct {
		expr string
		want float64
	}{
		{"journey_duration.p99 < 5s", float64(metrics.ValueAtPercentile(iv.Series[0].Response, 99))},
		{"journey_duration.max{journey=shop} < 5s", float64(iv.Series[0].Response.Max())},
		{"journey_error_rate < 20%", 0.1},
		{"p99{step=shop/buy} < 1s", float64(metrics.ValueAtPercentile(iv.Series[2].Response, 99))},
		{"p50{step=login} < 1s", float64(metrics.ValueAtPercentile(iv.Series[1].Response, 50))},
		{"max < 1s", float64(iv.Series[2].Response.Max())}, // the steps', not the journeys' 2 s
		{"error_rate < 1%", 0}, // the steps': none failed
		{"dropped < 10", 5},    // the journeys'
		{"p99{journey=shop} < 1s", float64(iv.Series[2].Response.Max())},
	} {
		e, err := scenario.ParseThreshold(tt.expr)
		if err != nil {
			t.Fatalf("%s: %v", tt.expr, err)
		}
		if sel, ok := e.Selectors["step"]; ok && !strings.Contains(sel, "/") {
			e.Selectors["step"] = "shop/" + sel // Validate names steps in full
		}
		v, _, has, err := Measure(e, iv, lay, time.Second, 0)
		if err != nil || !has || v != tt.want {
			t.Errorf("%s = %v, %v, %v; want %v", tt.expr, v, has, err, tt.want)
		}
	}
	e, _ := scenario.ParseThreshold("p99{step=shop/nope} < 1s")
	if _, _, _, err := Measure(e, iv, lay, time.Second, 0); err == nil {
		t.Error("an unknown step was judged")
	}
}
