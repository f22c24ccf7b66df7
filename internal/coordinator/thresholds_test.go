package coordinator

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/reporters"
	"github.com/surgeload/surge/scenario"
)

// thresholdStage is a stage of 6 one-second intervals of request "a":
// 100 responses each at lat[i], with failed[i] of them failed; request "b"
// never arrives.
func thresholdStage(t *testing.T, lat []time.Duration, failed []uint64) *stageRun {
	t.Helper()
	sr := &stageRun{
		name: "s", reqs: requests(&scenario.Scenario{Requests: []scenario.Request{{Name: "a"}, {Name: "b"}}}),
		geom: metrics.DefaultGeometry(), intervals: map[uint32]*metrics.Interval{}, interval: time.Second,
		dur: time.Duration(len(lat)) * time.Second,
	}
	sr.total = metrics.NewInterval(sr.geom, 2)
	for i, d := range lat {
		iv := metrics.NewInterval(sr.geom, 2)
		iv.Index = uint32(i)
		s := &iv.Series[0]
		for range 100 {
			if err := s.Response.RecordValue(int64(d)); err != nil {
				t.Fatal(err)
			}
		}
		s.Intended, s.Issued, s.Succeeded, s.Failed = 100, 100, 100-failed[i], failed[i]
		sr.intervals[uint32(i)] = iv
		if err := sr.total.Merge(iv); err != nil {
			t.Fatal(err)
		}
	}
	return sr
}

func TestJudgeThreshold(t *testing.T) {
	ms := time.Millisecond
	sr := thresholdStage(t, []time.Duration{10 * ms, 10 * ms, 400 * ms, 10 * ms, 10 * ms, 10 * ms}, []uint64{0, 0, 5, 0, 0, 0})
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
		res := judgeThreshold(scenario.Threshold{Expr: tt.expr, Parsed: e}, sr, 3)
		at := -1.0
		if res.WindowAtS != nil {
			at = *res.WindowAtS
		}
		if res.Pass != tt.pass || res.NoData != tt.noData || res.Measured != tt.measured || at != tt.at || res.Expr != tt.expr {
			t.Errorf("%s: %+v (window at %g); want pass %v no data %v measured %q at %g", tt.expr, res, at, tt.pass, tt.noData, tt.measured, tt.at)
		}
	}
}

// TestAbortThreshold: a threshold with abort: true stops the run once it
// is breached after its grace; the later stage is not played, and the
// run fails (it is not invalid: the stop was the scenario's own rule).
func TestAbortThreshold(t *testing.T) {
	if testing.Short() {
		t.Skip("plays a stage")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(20 * time.Millisecond)
	}))
	defer srv.Close()
	sc := mustParse(t, `name: abort
stages:
  - {name: first, url: "`+srv.URL+`"}
  - {name: second, url: "`+srv.URL+`"}
requests: [{name: get, path: /}]
load: {constant: {rate: 50, duration: 20s}}
thresholds:
  - {expr: "p99 < 5ms", abort: true, grace: 1s}
  - "error_rate < 1%"
`)
	cfg := testConfig(1)
	cfg.Log = newTestLog(t)
	cfg.MaxSendLag = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	rep, err := Run(ctx, cfg, sc)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("the run took %v; the abort should have stopped it within seconds", took)
	}
	if err := rep.Check(); err != nil {
		t.Fatal(err)
	}
	if len(rep.Stages) != 1 {
		t.Fatalf("%d stages played; want 1 (the abort stops the run)", len(rep.Stages))
	}
	st := rep.Stages[0]
	if st.AbortedBy != "p99 < 5ms" || !strings.Contains(st.Stopped, `abort threshold "p99 < 5ms" breached`) || st.Lost == 0 {
		t.Errorf("stage aborted by %q, stopped %q, lost %d", st.AbortedBy, st.Stopped, st.Lost)
	}
	if rep.Verdict != reporters.VerdictFail {
		t.Errorf("verdict %s %v; want fail", rep.Verdict, rep.Reasons)
	}
}

// TestRunWideThresholds: with several stages, the thresholds without a
// stage selector or a window are judged once more on all stages merged.
func TestRunWideThresholds(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	sc := mustParse(t, `name: whole
stages:
  - {name: one, url: "`+srv.URL+`"}
  - {name: two, url: "`+srv.URL+`"}
requests: [{name: get, path: /}]
load: {constant: {rate: 100, duration: 1s}}
thresholds: ["rps >= 99", "failed == 0", "p99{stage=two} < 5s", "p99[1s] < 5s"]
`)
	cfg := testConfig(1)
	cfg.MaxSendLag = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg, sc)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Stages[0].Thresholds) != 3 || len(rep.Stages[1].Thresholds) != 4 {
		t.Errorf("stage results %d and %d; want 3 (no stage=two) and 4", len(rep.Stages[0].Thresholds), len(rep.Stages[1].Thresholds))
	}
	if len(rep.Thresholds) != 2 || rep.Thresholds[0].Expr != "rps >= 99" || rep.Thresholds[0].Measured != "100.0/s" ||
		!rep.Thresholds[0].Pass || rep.Thresholds[1].Measured != "0" || rep.Verdict != reporters.VerdictPass {
		t.Errorf("run-wide %+v, verdict %s %v; want rps 100.0/s over 200 arrivals in 2 s and failed 0, passing", rep.Thresholds, rep.Verdict, rep.Reasons)
	}
}
