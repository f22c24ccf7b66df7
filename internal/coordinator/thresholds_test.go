package coordinator

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/surgeload/surge/reporters"
)

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
