package judge

import (
	"testing"
	"time"

	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/scenario"
)

// phaseStage is a stage of requests "a" and "b" over 3 intervals, each
// request recorded by a Recorder as the engine records it: "a" 100
// requests per interval with ttfb i ms (i = 1..100), write 50 µs, read
// 2 ms, the first 4 of each interval on a new connection (connect
// 3 ms + interval index ms, no lookup); "b" 10 per interval with ttfb
// 200 ms, reused connections only. No TLS anywhere.
func phaseStage(t *testing.T) *metrics.Timeline {
	t.Helper()
	g := metrics.DefaultGeometry()
	tl := metrics.NewTimeline(g, []string{"a", "b"}, time.Second)
	rec := metrics.NewRecorder(g, 2)
	for k := range 3 {
		for i := range 100 {
			res := metrics.Result{Request: 0, Outcome: metrics.OK, Response: 300 * time.Millisecond, Service: 200 * time.Millisecond,
				TTFB: time.Duration(i+1) * time.Millisecond, HasTTFB: true}
			res.Timed = metrics.Timed(0).With(metrics.PhaseWrite).With(metrics.PhaseRead)
			res.Phase[metrics.PhaseWrite], res.Phase[metrics.PhaseRead] = 50*time.Microsecond, 2*time.Millisecond
			if i < 4 {
				res.NewConn = true
				res.Timed = res.Timed.With(metrics.PhaseConnect)
				res.Phase[metrics.PhaseConnect] = time.Duration(3+k) * time.Millisecond
			}
			rec.Issued(uint32(k), 0, 0)
			rec.Finished(uint32(k), res)
		}
		for range 10 {
			rec.Issued(uint32(k), 1, 0)
			rec.Finished(uint32(k), metrics.Result{Request: 1, Outcome: metrics.OK, Response: time.Second, Service: time.Second,
				TTFB: 200 * time.Millisecond, HasTTFB: true, Timed: metrics.Timed(0).With(metrics.PhaseWrite)})
		}
		var d metrics.SparseInterval
		if err := d.Set(rec.Rotate()); err != nil {
			t.Fatal(err)
		}
		if err := tl.AddSparse(&d); err != nil {
			t.Fatal(err)
		}
	}
	// Pack every interval, as a finished stage is: phases live on in
	// the total only.
	if err := tl.Pack(3); err != nil {
		t.Fatal(err)
	}
	return tl
}

// TestJudgePhases: phase thresholds are judged on the merged histograms
// of the stage's total, per request or all requests merged, and have no
// data when no request had the phase.
func TestJudgePhases(t *testing.T) {
	tl := phaseStage(t)
	a := tl.Total.Series[0]
	ttfbA99 := metrics.ValueAtPercentile(a.TTFB, 99)
	for _, tt := range []struct {
		expr     string
		pass     bool
		noData   bool
		measured string
	}{
		// All requests: 300 of a's ttfbs (1..100 ms three times) and 30
		// of b's 200 ms; p99 (rank 327 of 330) is 200 ms, shown as the top
		// of its bucket.
		{"ttfb p99 < 100ms", false, false, "200.02ms"},
		{"ttfb.p99{request=a} < 100ms", true, false, fmtMS(ttfbA99)},
		{"ttfb.p50{request=b} >= 200ms", true, false, "200.02ms"},
		// 12 connects: 4 each of 3, 4 and 5 ms.
		{"connect p99 < 10ms", true, false, "5.0012ms"},
		{"connect.max < 5ms", false, false, "5.0012ms"},
		{"connect.p50{request=a} <= 4.002ms", true, false, "4.0018ms"},
		{"connect.mean < 5ms", true, false, "3.9997ms"},
		{"read.p99{request=a} < 3ms", true, false, "2.0009ms"},
		{"write.max < 1ms", true, false, "0.050175ms"},
		// Phases no request had: no data, which fails.
		{"connect.p99{request=b} < 10ms", false, true, "no connect times"},
		{"dns.p99 < 10ms", false, true, "no dns times"},
		{"tls.max < 1s", false, true, "no tls times"},
		{"read.p99{request=b} < 1s", false, true, "no read times"},
	} {
		e, err := scenario.ParseThreshold(tt.expr)
		if err != nil {
			t.Fatalf("%s: %v", tt.expr, err)
		}
		got := Threshold(scenario.Threshold{Expr: tt.expr, Parsed: e}, tl, 3*time.Second, 0)
		if got.Pass != tt.pass || got.NoData != tt.noData || got.Measured != tt.measured {
			t.Errorf("%s: pass %v, no data %v, measured %q; want %v, %v, %q", tt.expr, got.Pass, got.NoData, got.Measured, tt.pass, tt.noData, tt.measured)
		}
	}
}

func fmtMS(ns int64) string { return formatMS(float64(ns)) }
