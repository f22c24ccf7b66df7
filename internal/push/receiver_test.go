package push_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/surgeload/surge"
	"github.com/surgeload/surge/reporters"
)

// totals are a run's counts as report.json has them, summed over stages.
type totals struct{ intended, issued, succeeded, failed, dropped, lost, responses uint64 }

func reportTotals(rep *reporters.Report) totals {
	var t totals
	for _, s := range rep.Stages {
		// The live metrics count intended as the arrivals agents reached;
		// the lost ones are their own outcome (see livemetrics).
		t.intended += s.Intended - s.Lost
		t.issued += s.Issued
		t.succeeded += s.Succeeded
		t.failed += s.Failed
		t.dropped += s.Dropped
		t.lost += s.Lost
		t.responses += s.Succeeded + s.Failed
	}
	return t
}

// target is a loopback HTTP server: /ok answers 200, /fail 500.
func target(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// run plays a 2 s run of two requests (one always 500) against a
// loopback target, pushing as pc says, and returns its report.
func run(t *testing.T, pc surge.PushConfig) (*reporters.Report, surge.PushStats) {
	t.Helper()
	sc, err := surge.Parse("push.yaml", []byte(fmt.Sprintf(`
name: push
stages: [{name: s1, url: %q}]
requests:
  - {name: ok, path: /ok, weight: 3}
  - {name: fail, path: /fail, weight: 1}
load: {constant: {rate: 100, duration: 2s}}
`, target(t))), nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := surge.DefaultOptions()
	opts.GossipListen = "127.0.0.1:0"
	opts.Interval = 500 * time.Millisecond
	opts.Push = pc
	plan, err := surge.Compile(sc, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer plan.Close()
	rep, err := plan.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stages[0].Failed == 0 || rep.Stages[0].Succeeded == 0 {
		t.Fatalf("the run has %d succeeded, %d failed: want both", rep.Stages[0].Succeeded, rep.Stages[0].Failed)
	}
	return rep, plan.PushStats()
}

// TestOTLPReceiver: a run pushed as OTLP/HTTP to a receiver in this test,
// which decodes each request with the reference protobuf types
// (go.opentelemetry.io/proto/otlp): the last push carries report.json's
// totals exactly (the push at the end: the interval is longer than the
// run), every data point has the run's run_id and the extra
// label, and the Authorization header arrives. Debian's Prometheus (2.42)
// has no OTLP receiver, so this one stands in.
func TestOTLPReceiver(t *testing.T) {
	var mu sync.Mutex
	var last *colmetricpb.ExportMetricsServiceRequest
	var requests int
	var badAuth, badType string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req := &colmetricpb.ExportMetricsServiceRequest{}
		if err := proto.Unmarshal(body, req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		requests++
		if a := r.Header.Get("Authorization"); a != "Bearer s3cret" {
			badAuth = a
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
			badType = ct
		}
		last = req
		w.Header().Set("Content-Type", "application/x-protobuf")
		resp, _ := proto.Marshal(&colmetricpb.ExportMetricsServiceResponse{})
		_, _ = w.Write(resp)
	}))
	defer srv.Close()

	pc := surge.DefaultPushConfig()
	pc.OTLP = srv.URL + "/v1/metrics"
	pc.Labels = map[string]string{"env": "ci"}
	pc.Headers = http.Header{"Authorization": {"Bearer s3cret"}}
	// No periodic push within the run: the one request is the final push
	// at the end, so its totals are the final ones.
	pc.Interval = time.Hour
	rep, st := run(t, pc)

	mu.Lock()
	defer mu.Unlock()
	if st.Failures["otlp"] != 0 || st.Pushes["otlp"] != 1 || requests != 1 {
		t.Errorf("push stats %+v; the receiver got %d requests (want 1: the final push)", st, requests)
	}
	if badAuth != "" || badType != "" {
		t.Errorf("a push came with Authorization %q, Content-Type %q", badAuth, badType)
	}
	var got totals
	var histCount uint64
	points := 0
	for _, rm := range last.GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				for _, dp := range m.GetSum().GetDataPoints() {
					points++
					attrs := map[string]string{}
					for _, kv := range dp.GetAttributes() {
						attrs[kv.GetKey()] = kv.GetValue().GetStringValue()
					}
					if attrs["run_id"] != rep.RunID || attrs["env"] != "ci" {
						t.Errorf("%s data point %v: want run_id %s and env ci", m.GetName(), attrs, rep.RunID)
					}
					if !m.GetSum().GetIsMonotonic() {
						t.Errorf("%s is not a monotonic sum", m.GetName())
					}
					v := uint64(dp.GetAsDouble())
					switch m.GetName() {
					case "surge_run_requests_total":
						switch attrs["outcome"] {
						case "intended":
							got.intended += v
						case "issued":
							got.issued += v
						case "succeeded":
							got.succeeded += v
						case "dropped":
							got.dropped += v
						case "lost":
							got.lost += v
						}
					case "surge_run_failed_total":
						got.failed += v
					}
				}
				for _, dp := range m.GetHistogram().GetDataPoints() {
					if m.GetName() != "surge_run_response_seconds" {
						continue
					}
					histCount += dp.GetCount()
					var sum uint64
					for _, c := range dp.GetBucketCounts() {
						sum += c
					}
					if sum != dp.GetCount() || len(dp.GetBucketCounts()) != len(dp.GetExplicitBounds())+1 {
						t.Errorf("histogram point: buckets %v (bounds %v) for count %d", dp.GetBucketCounts(), dp.GetExplicitBounds(), dp.GetCount())
					}
				}
			}
		}
	}
	got.responses = histCount
	t.Logf("OTLP: %d requests, last one's totals %+v; report.json run %s", requests, got, rep.RunID)
	if want := reportTotals(rep); got != want || points == 0 {
		t.Errorf("last OTLP push totals %+v (%d points); report.json %+v", got, points, want)
	}
}

// TestRemoteWritePrometheus: a run pushed with remote-write into Debian's
// prometheus (started here on loopback, --web.enable-remote-write-receiver):
// Prometheus' query API then answers report.json's totals exactly, by
// run_id, and counts the histogram's responses. make test installs
// prometheus first (scripts/install-prometheus.sh); without it this fails.
func TestRemoteWritePrometheus(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("prometheus is not installed: run scripts/install-prometheus.sh (make test does)")
	}
	base := startPrometheus(t, bin)

	pc := surge.DefaultPushConfig()
	pc.RemoteWrite = base + "/api/v1/write"
	pc.Interval = 200 * time.Millisecond
	pc.Labels = map[string]string{"env": "ci"}
	rep, st := run(t, pc)
	if st.Failures["remote_write"] != 0 || st.Pushes["remote_write"] < 2 {
		t.Fatalf("push stats %+v: want ≥ 2 pushes (periodic and final), none failed", st)
	}

	sel := fmt.Sprintf(`run_id=%q,env="ci"`, rep.RunID)
	q := func(expr string) map[string]float64 { return query(t, base, expr) }
	byOutcome := q(`sum by (outcome) (surge_run_requests_total{` + sel + `})`)
	got := totals{
		intended: uint64(byOutcome["intended"]), issued: uint64(byOutcome["issued"]), succeeded: uint64(byOutcome["succeeded"]),
		dropped: uint64(byOutcome["dropped"]), lost: uint64(byOutcome["lost"]),
		failed:    uint64(q(`sum(surge_run_failed_total{` + sel + `})`)[""]),
		responses: uint64(q(`sum(surge_run_response_seconds_count{` + sel + `})`)[""]),
	}
	t.Logf("Prometheus after %d pushes: totals %+v; report.json run %s", st.Pushes["remote_write"], got, rep.RunID)
	if want := reportTotals(rep); got != want {
		t.Errorf("Prometheus has totals %+v; report.json %+v", got, want)
	}
	if inf := q(`sum(surge_run_response_seconds_bucket{le="+Inf",` + sel + `})`)[""]; uint64(inf) != got.responses {
		t.Errorf("le=+Inf bucket %v; responses %d", inf, got.responses)
	}
	byClass := q(`sum by (class) (surge_run_failed_total{` + sel + `})`)
	for c, n := range rep.Stages[0].Errors {
		if uint64(byClass[c]) != n {
			t.Errorf("failed class %s: Prometheus %v, report.json %d", c, byClass[c], n)
		}
	}
	if info := q(`surge_run_info{` + sel + `}`); len(info) != 1 {
		t.Errorf("surge_run_info of the run: %v", info)
	}
	dashboardHasData(t, base, rep.RunID)
}

// dashboardHasData runs every query of deploy/grafana/surge-dashboard.json
// against Prometheus, $run_id set to the run and the other variables at
// All: every panel has a query that answers at least one series.
func dashboardHasData(t *testing.T, base, runID string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "deploy", "grafana", "surge-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			ID      int
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	vars := strings.NewReplacer("$__rate_interval", "1m", "$run_id", runID, "$stage", ".*", "$request", ".*")
	for _, p := range d.Panels {
		series := 0
		for _, tg := range p.Targets {
			series += len(query(t, base, vars.Replace(tg.Expr)))
		}
		if series == 0 {
			t.Errorf("dashboard panel %d %q: no query answers any series for the pushed run", p.ID, p.Title)
		}
	}
	t.Logf("%d dashboard panels answered by Prometheus for run %s", len(d.Panels), runID)
}

// startPrometheus starts bin on a free loopback port with an empty
// configuration and a temporary TSDB, waits until it is ready and stops it
// at the test's end. It returns the base URL.
func startPrometheus(t *testing.T, bin string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 1h\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var out strings.Builder
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--web.enable-remote-write-receiver", "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	base := "http://" + addr
	for range 600 { // up to 60 s on a busy machine
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("prometheus exited: %v\n%s", err, out.String())
		default:
		}
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("prometheus at %s not ready after 60 s\n%s", base, out.String())
	return ""
}

// query runs an instant query and returns each series' value, keyed by
// its outcome or class label ("" for none).
func query(t *testing.T, base, expr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string
		Error  string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("query %s: %v", expr, err)
	}
	if r.Status != "success" {
		t.Fatalf("query %s: %s %s", expr, r.Status, r.Error)
	}
	out := map[string]float64{}
	for _, s := range r.Data.Result {
		v, err := strconv.ParseFloat(fmt.Sprint(s.Value[1]), 64)
		if err != nil {
			t.Fatalf("query %s: value %v", expr, s.Value[1])
		}
		key := s.Metric["outcome"] + s.Metric["class"]
		if len(r.Data.Result) > 1 && key == "" { // a series per stage, request, …: keep each
			key = fmt.Sprint(s.Metric)
		}
		out[key] = v
	}
	return out
}
