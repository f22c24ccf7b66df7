package judge

import (
	"strings"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/scenario"
)

// thresholdStage is a stage of 6 one-second intervals of request "a":
// 100 responses each at lat[i], with failed[i] of them failed; request "b"
// never arrives.
func thresholdStage(t *testing.T, lat []time.Duration, failed []uint64) (*metrics.Timeline, time.Duration) {
	t.Helper()
	tl := metrics.NewTimeline(metrics.DefaultGeometry(), []string{"a", "b"}, time.Second)
	for i, d := range lat {
		iv := metrics.NewInterval(tl.Geometry, 2)
		iv.Index = uint32(i)
		s := &iv.Series[0]
		for range 100 {
			if err := s.Response.RecordValue(int64(d)); err != nil {
				t.Fatal(err)
			}
		}
		s.Intended, s.Issued, s.Succeeded, s.Failed = 100, 100, 100-failed[i], failed[i]
		if err := tl.Add(iv); err != nil {
			t.Fatal(err)
		}
	}
	return tl, time.Duration(len(lat)) * time.Second
}

func TestJudgeThreshold(t *testing.T) {
	ms := time.Millisecond
	tl, dur := thresholdStage(t, []time.Duration{10 * ms, 10 * ms, 400 * ms, 10 * ms, 10 * ms, 10 * ms}, []uint64{0, 0, 5, 0, 0, 0})
	tests := []struct {
		expr     string
		pass     bool
		noData   bool
		measured string
		at       float64 // the worst window's start; -1 for none
	}{
		{"p99 < 500ms", true, false, "400.03ms", -1},
		{"p50 < 50ms", true, false, "10.002ms", -1},
		{"p99[2s] < 100ms", false, false, "400.03ms", 1},
		{"p50[2s] < 100ms", true, false, "10.002ms", 0},
		{"error_rate < 1%", true, false, "0.83%", -1},
		{"error_rate[1s] < 1%", false, false, "5.00%", 2},
		{"achieved_rate >= 99%", true, false, "100.00%", -1},
		{"rps > 99", true, false, "100.0/s", -1},
		{"lost == 0", false, false, "3", -1},
		{"p99[1m] < 500ms", true, false, "400.03ms", 0}, // longer than the stage: the whole stage
		{"p99{request=b} < 1s", false, true, "no responses", -1},
		{"error_rate{request=b} < 1%", false, true, "no responses", -1},
	}
	for _, tt := range tests {
		e, err := scenario.ParseThreshold(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		res := Threshold(scenario.Threshold{Expr: tt.expr, Parsed: e}, tl, dur, 3)
		at := -1.0
		if res.WindowAtS != nil {
			at = *res.WindowAtS
		}
		if res.Pass != tt.pass || res.NoData != tt.noData || res.Measured != tt.measured || at != tt.at || res.Expr != tt.expr {
			t.Errorf("%s: %+v (window at %g); want pass %v no data %v measured %q at %g", tt.expr, res, at, tt.pass, tt.noData, tt.measured, tt.at)
		}
	}
}

// TestAbort: an abort threshold is judged once its grace has passed, a
// windowed one on its last complete window only, and nothing to judge is
// no breach.
func TestAbort(t *testing.T) {
	ms := time.Millisecond
	tl, _ := thresholdStage(t, []time.Duration{10 * ms, 10 * ms, 400 * ms, 10 * ms, 10 * ms, 10 * ms}, []uint64{0, 0, 5, 0, 0, 0})
	th := func(expr string, grace time.Duration) scenario.Threshold {
		e, err := scenario.ParseThreshold(expr)
		if err != nil {
			t.Fatal(err)
		}
		return scenario.Threshold{Expr: expr, Parsed: e, Abort: true, Grace: scenario.Duration(grace)}
	}
	tests := []struct {
		name    string
		ths     []scenario.Threshold
		elapsed time.Duration
		expr    string
	}{
		{"breached after grace", []scenario.Threshold{th("p99 < 100ms", 0)}, 6 * time.Second, "p99 < 100ms"},
		{"within grace", []scenario.Threshold{th("p99 < 100ms", 10*time.Second)}, 6 * time.Second, ""},
		{"window before the breach", []scenario.Threshold{th("p99[2s] < 100ms", 0)}, 2500 * ms, ""},
		{"window over the breach", []scenario.Threshold{th("p99[2s] < 100ms", 0)}, 3 * time.Second, "p99[2s] < 100ms"},
		{"window after the breach", []scenario.Threshold{th("p99[2s] < 100ms", 0)}, 6 * time.Second, ""},
		{"no complete window yet", []scenario.Threshold{th("p99[10s] < 100ms", 0)}, 6 * time.Second, ""},
		{"nothing to judge", []scenario.Threshold{th("p99{request=b} < 1ms", 0)}, 6 * time.Second, ""},
		{"other stage", []scenario.Threshold{th("p99{stage=other} < 1ms", 0)}, 6 * time.Second, ""},
		{"not abort", []scenario.Threshold{{Expr: "p99 < 1ms", Parsed: th("p99 < 1ms", 0).Parsed}}, 6 * time.Second, ""},
		{"first breached wins", []scenario.Threshold{th("p50 < 1s", 0), th("error_rate < 1%", 0), th("p99 < 1ms", 0)}, 6 * time.Second, "p99 < 1ms"},
	}
	for _, tt := range tests {
		expr, why, breached := Abort(tt.ths, "s", tl, tt.elapsed)
		if breached != (tt.expr != "") || expr != tt.expr {
			t.Errorf("%s: Abort = %q, %q, %v; want %q", tt.name, expr, why, breached, tt.expr)
		}
		if breached && !strings.Contains(why, "breached at") {
			t.Errorf("%s: why %q", tt.name, why)
		}
	}
}
