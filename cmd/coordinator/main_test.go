package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/capacity"
	"github.com/surgeload/surge/internal/predict"
	"github.com/surgeload/surge/internal/stages"
	"github.com/surgeload/surge/internal/testnet"
	"github.com/surgeload/surge/scenario"
)

var update = flag.Bool("update", false, "rewrite golden files")

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const quick = `name: cli
stages:
  - bundled: echo
requests:
  - {name: get, path: /items/1}
load:
  constant: {rate: 200, duration: 1s}
`

// lastLine is the one-line error the CLI ends with.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func TestRunBundledEcho(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "run", writeFile(t, "q.yaml", quick), "--gossip-listen", "127.0.0.1:0", "--out", out, "-q", "--max-send-lag", "1s")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "stage echo") || !strings.Contains(stdout, "succeeded 200") {
		t.Errorf("summary does not show the stage:\n%s", stdout)
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]any
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	st := rep["stages"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "target", "intended", "issued", "succeeded", "failed", "dropped", "lost", "in_flight_at_end",
		"duration_s", "intended_rps", "achieved_rps", "response_time_ms", "service_time_ms", "send_lag_ms", "errors", "intervals", "histogram"} {
		if _, ok := st[k]; !ok {
			t.Errorf("report.json stage has no %q", k)
		}
	}
	for _, k := range []string{"p50", "p75", "p90", "p95", "p99", "p99.9", "max", "mean"} {
		if _, ok := st["response_time_ms"].(map[string]any)[k]; !ok {
			t.Errorf("response_time_ms has no %q", k)
		}
	}
	if rep["schema"] != "surge.report/v1" || st["intended"].(float64) != 200 || len(rep["agents"].([]any)) != 2 {
		t.Errorf("report: schema %v intended %v agents %v", rep["schema"], st["intended"], rep["agents"])
	}
	// The default formats sit beside report.json, each from the same report.
	for file, want := range map[string]string{
		"timeseries.csv": "stage,request,t_s,intended,issued,succeeded",
		"junit.xml":      `<testsuites`,
		"latency.hlog":   "Tag=echo,",
		"report.html":    `data-chart=`,
	} {
		b, err := os.ReadFile(filepath.Join(out, file))
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s: %v; want it to contain %q:\n%.300s", file, err, want, b)
		}
	}
}

func TestExitCodes(t *testing.T) {
	closed := testnet.RefusedAddr(t)
	unreachable := strings.Replace(quick, "bundled: echo", "url: http://"+closed, 1)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing file", []string{"run", "/nonexistent/s.yaml"}, 2, "no such file or directory"},
		{"malformed", []string{"run", writeFile(t, "bad.yaml", "name: x\nstages: [{url: ftp://h}]\nrequests: []\nload: {}\n")}, 2, "problem(s) in the scenario"},
		{"no args", []string{"run"}, 2, "give a scenario file, - to read it from stdin, or --url"},
		{"unknown flag", []string{"run", "x.yaml", "--bogus"}, 2, "unknown flag: --bogus"},
		{"unknown command", []string{"rnu"}, 2, `unknown command "rnu"`},
		{"bad agents", []string{"run", writeFile(t, "q.yaml", quick), "--agents", "0"}, 2, "--agents 0 must be in 1..256"},
		{"remote gossip", []string{"run", writeFile(t, "q.yaml", quick), "--gossip-listen", "0.0.0.0:7946"}, 2, "--insecure-allow-remote"},
		{"unreachable target", []string{"run", writeFile(t, "u.yaml", unreachable), "--gossip-listen", "127.0.0.1:0", "-q"}, 3, "connection refused"},
		{"no agents", []string{"run", writeFile(t, "q.yaml", quick), "--gossip-listen", "127.0.0.1:0", "--expect", "1", "--wait", "200ms", "-q"}, 3, "0 of 1 agents joined"},
		{"bad format", []string{"run", writeFile(t, "q.yaml", quick), "--format", "json,pdf"}, 2, `--format "pdf": want json, csv, junit, hlog, html or text`},
		{"capacity without a start", []string{"run", writeFile(t, "q.yaml", quick), "--capacity"}, 2, "needs a start rate"},
		{"bad search rate", []string{"run", writeFile(t, "q.yaml", quick), "--capacity", "--search-start", "fast"}, 2, `--search-start "fast" must be a rate > 0`},
		{"bad search method", []string{"run", writeFile(t, "q.yaml", quick), "--capacity", "--search-method", "linear"}, 2, "--search-method \"linear\" must be binary or step"},
		{"bad slo", []string{"run", writeFile(t, "q.yaml", quick), "--capacity", "--search-start", "10/s", "--slo", "p99 <"}, 2, `--slo "p99 <"`},
		{"search over the cap", []string{"run", writeFile(t, "q.yaml", quick), "--capacity", "--search-start", "10/s", "--search-max", "1M/s"}, 2, "exceed safety.max_rate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.args...)
			last := lastLine(stderr)
			if code != tt.code || !strings.HasPrefix(last, "error: ") || !strings.Contains(last, tt.want) {
				t.Errorf("exit %d, last line %q; want exit %d and a one-line error containing %q\nstderr:\n%s", code, last, tt.code, tt.want, stderr)
			}
			if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
				t.Errorf("stderr shows a panic:\n%s", stderr)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	code, stdout, _ := runCLI(t, "validate", writeFile(t, "q.yaml", quick))
	if code != 0 || !strings.Contains(stdout, "ok. Scenario \"cli\", seed 1: 1 stage(s), 1 request(s) (get 100%). Stage echo (bundled echo): uniform arrivals, 200 over 1s, average 200/s, peak 200/s.") {
		t.Errorf("validate good: exit %d, %q", code, stdout)
	}
	bad := writeFile(t, "b.yaml", "name: x\nstages:\n  - bundled: nope\nrequests: [{path: /}]\nload:\n  constant: {rate: 0, duration: 1s}\n")
	code, _, stderr := runCLI(t, "validate", bad)
	if code != 2 || !strings.Contains(stderr, "b.yaml:3:") || !strings.Contains(stderr, "b.yaml:6:") {
		t.Errorf("validate bad: exit %d, stderr:\n%s\nwant exit 2 and both problems with line:col", code, stderr)
	}
}

func TestExampleScenariosValidate(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.yaml")
	if len(files) == 0 {
		t.Fatal("no examples found")
	}
	for _, f := range files {
		if code, _, stderr := runCLI(t, "validate", f); code != 0 {
			t.Errorf("%s: exit %d\n%s", f, code, stderr)
		}
	}
}

func TestPlanWorkedExamples(t *testing.T) {
	code, out, stderr := runCLI(t, "plan", "--daily-requests", "100M", "--peak-multiplier", "5x", "--per-server-rps", "300")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"100,000,000 ÷ 86,400 s", "1,157 req/s", "5,787 req/s", "⌈5,787 ÷ 300⌉ = ⌈19.29⌉", "20 servers", "⌈20 × 1.3⌉ = ⌈26⌉", "26 servers"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, "plan", "--daily-requests", "100M", "--peak-multiplier", "1x", "--read-fraction", "100%", "--cache-hit-rate", "90%")
	if code != 0 || !strings.Contains(out, "1,157.4 × (1 − 90%)") || !strings.Contains(out, "116 req/s") {
		t.Errorf("cache example: exit %d\n%s", code, out)
	}
	code, _, stderr = runCLI(t, "plan", "--read-fraction", "abc")
	if code != 2 || !strings.Contains(stderr, "--read-fraction") {
		t.Errorf("bad flag value: exit %d, %s", code, stderr)
	}
}

func TestPlanScenario(t *testing.T) {
	code, out, stderr := runCLI(t, "plan", "../../examples/launch-day.yaml", "--agents", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"capacity plan", "ceiling of each stage built to this plan", "stage echo: poisson arrivals", "req/s (peak", "agent-3  1/3"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
}

// TestValidateGolden pins validate's messages for a scenario with many
// problems (go test ./cmd/coordinator -update rewrites the golden file).
func TestValidateGolden(t *testing.T) {
	code, _, stderr := runCLI(t, "validate", "testdata/bad.yaml")
	if code != 2 {
		t.Fatalf("exit %d; want 2", code)
	}
	golden := filepath.Join("testdata", "bad.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(stderr), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if stderr != string(want) {
		t.Errorf("validate messages changed (-update to accept):\n--- got\n%s--- want\n%s", stderr, want)
	}
}

// TestPinnedLimits: exactly the limit flags given on the command line are
// pinned (they then override the scenario's client settings).
func TestPinnedLimits(t *testing.T) {
	tests := []struct {
		args []string
		want stages.PinnedLimits
	}{
		{nil, stages.PinnedLimits{}},
		{[]string{"--agents", "3", "--interval", "2s"}, stages.PinnedLimits{}},
		{[]string{"--max-in-flight", "5"}, stages.PinnedLimits{MaxInFlight: true}},
		{[]string{"--timeout=30s"}, stages.PinnedLimits{Timeout: true}}, // the default value, but set explicitly
		{[]string{"--max-body", "10", "--max-conns", "0"}, stages.PinnedLimits{MaxBodyBytes: true, MaxConns: true}},
	}
	for _, tt := range tests {
		cmd := newRun(context.Background(), io.Discard, io.Discard)
		if err := cmd.ParseFlags(tt.args); err != nil {
			t.Fatal(err)
		}
		if got := pinnedLimits(cmd); got != tt.want {
			t.Errorf("pinnedLimits(%q) = %+v; want %+v", tt.args, got, tt.want)
		}
	}
}

// TestRunClientPrecedence: the scenario's client.timeout applies unless
// --timeout is given, which then wins. Its runs time out on purpose, so
// its scenario says that failures are expected (a threshold on
// error_rate); without it every request failing would fail the run.
func TestRunClientPrecedence(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(400 * time.Millisecond):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	path := writeFile(t, "c.yaml", `name: precedence
stages: [{url: `+slow.URL+`}]
requests: [{path: /}]
load: {constant: {rate: 10, duration: 1s}}
client: {timeout: 100ms, max_in_flight: 50}
thresholds: ["error_rate <= 100%"]
`)
	for _, tt := range []struct {
		flags             []string
		succeeded, failed float64
	}{
		{nil, 0, 10},                          // the scenario's 100ms
		{[]string{"--timeout", "3s"}, 10, 0},  // the flag's 3s
		{[]string{"--max-conns", "2"}, 0, 10}, // another flag does not pin the timeout
	} {
		out := t.TempDir()
		args := append([]string{"run", path, "--agents", "1", "--gossip-listen", "127.0.0.1:0", "--out", out, "-q", "--max-send-lag", "1s"}, tt.flags...)
		code, _, stderr := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%q: exit %d\n%s", tt.flags, code, stderr)
		}
		b, err := os.ReadFile(filepath.Join(out, "report.json"))
		if err != nil {
			t.Fatal(err)
		}
		var rep struct {
			Stages []struct{ Succeeded, Failed float64 }
		}
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		if st := rep.Stages[0]; st.Succeeded != tt.succeeded || st.Failed != tt.failed {
			t.Errorf("%q: succeeded %v, failed %v; want %v and %v", tt.flags, st.Succeeded, st.Failed, tt.succeeded, tt.failed)
		}
	}
}

func TestValidateClientSummary(t *testing.T) {
	two := strings.Replace(quick, "  - bundled: echo\n", "  - bundled: echo\n  - {name: b, bundled: echo, client: {timeout: 1s}}\n", 1)
	tests := []struct{ src, want string }{
		{quick, ""},
		{quick + "client: {connections: per-request, max_conns: 8}\n", "Client settings: stage echo {connections: per-request, max_conns: 8}; command-line limit flags override them."},
		{two, "Client settings: stage b {timeout: 1s}; command-line limit flags override them."},
		{two + "client: {timeout: 1s}\n", "Client settings (every stage): {timeout: 1s}; command-line limit flags override them."},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCLI(t, "validate", writeFile(t, "v.yaml", tt.src))
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		got := ""
		if len(lines) > 1 {
			got = lines[1]
		}
		if code != 0 || got != tt.want || len(lines) > 2 {
			t.Errorf("validate %q: exit %d, client line %q; want %q\nstdout:\n%s\nstderr:\n%s", tt.src, code, got, tt.want, stdout, stderr)
		}
	}
}

// TestPlanStagePredictions: with bundled stages, plan lists each one's
// predicted ceiling from its topology config and the request mix.
func TestPlanStagePredictions(t *testing.T) {
	path := "../../examples/staircase.yaml"
	code, out, stderr := runCLI(t, "plan", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	_, section, found := strings.Cut(out, "Predicted ceilings of this scenario's stages")
	if !found {
		t.Fatalf("plan output lacks the stage predictions:\n%s", out)
	}
	section, _, _ = strings.Cut(section, "\nstage ")
	sc, err := scenario.Load(path, scenario.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for k, st := range sc.Stages {
		p, ok, err := predict.Stage(sc, k, -1)
		if !ok || err != nil {
			t.Fatalf("stage %s: %v, %v", st.Name, ok, err)
		}
		row := fmt.Sprintf("%s req/s  %s\n", capacity.FormatNumber(p.CeilingRPS), p.Bottleneck)
		if !strings.Contains(section, "  "+st.Name+" ") || !strings.Contains(section, row) {
			t.Errorf("stage %s: no row ending %q in\n%s", st.Name, row, section)
		}
	}
	for _, want := range []string{"cache hit rate 67% (capacity.cache_hit_rate)", "limited by box-cpu", "POST /jobs answers 202"} {
		if !strings.Contains(section, want) {
			t.Errorf("stage predictions lack %q:\n%s", want, section)
		}
	}

	// --cache-hit-rate replaces the scenario's hit rate and says so.
	code, out, _ = runCLI(t, "plan", path, "--cache-hit-rate", "50%")
	if code != 0 || !strings.Contains(out, "cache hit rate 50% (--cache-hit-rate)") {
		t.Errorf("--cache-hit-rate 50%%: exit %d\n%s", code, out)
	}

	// Only echo (and URL) stages: no section.
	code, out, _ = runCLI(t, "plan", writeFile(t, "q.yaml", quick))
	if code != 0 || strings.Contains(out, "Predicted ceilings of this scenario's stages") {
		t.Errorf("echo only: exit %d\n%s", code, out)
	}
}

// TestThresholdExitCodes: thresholds that hold exit 0, a failed one 1, and
// one with nothing to judge 4 (the run is invalid, never a pass); the
// report carries the verdict either way.
func TestThresholdExitCodes(t *testing.T) {
	base := `name: gate
stages:
  - bundled: echo
requests:
  - {name: get, path: /items/1}
  - {name: rare, path: /rare, weight: 0.000001}
load:
  constant: {rate: 100, duration: 1s}
`
	tests := []struct {
		name, thresholds string
		code             int
		verdict, want    string
	}{
		{"pass", `["p99 < 5s", "error_rate < 1%", "achieved_rate >= 99%"]`, 0, "pass", ""},
		{"fail", `["p99 < 5s", "max < 1ns"]`, 1, "fail", `thresholds failed: stage echo: threshold "max < 1ns" failed: `},
		{"no data", `["p99{request=rare} < 5s"]`, 4, "invalid", `the run is invalid: stage echo: threshold "p99{request=rare} < 5s" had no samples to judge`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			code, stdout, stderr := runCLI(t, "run", writeFile(t, "g.yaml", base+"thresholds: "+tt.thresholds+"\n"), "--gossip-listen", "127.0.0.1:0",
				"--max-send-lag", "1s", "-q", "--out", out)
			if code != tt.code || (tt.want != "" && !strings.Contains(lastLine(stderr), tt.want)) {
				t.Errorf("exit %d, last line %q; want %d and %q", code, lastLine(stderr), tt.code, tt.want)
			}
			b, err := os.ReadFile(filepath.Join(out, "report.json"))
			if err != nil || !strings.Contains(string(b), `"verdict": "`+tt.verdict+`"`) || !strings.Contains(stdout, "verdict: ") {
				t.Errorf("report.json lacks verdict %q (err %v); summary:\n%s", tt.verdict, err, stdout)
			}
		})
	}
}

// TestReportRerenders: coordinator report prints a saved run's summary
// again and writes any format from it; a report that does not balance is
// refused with exit 2.
func TestReportRerenders(t *testing.T) {
	run := t.TempDir()
	if code, _, stderr := runCLI(t, "run", writeFile(t, "q.yaml", quick), "--gossip-listen", "127.0.0.1:0", "--out", run, "-q",
		"--max-send-lag", "1s", "--format", "json"); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := runCLI(t, "report", run)
	if code != 0 || !strings.Contains(stdout, "stage echo") || !strings.Contains(stdout, "verdict: pass") {
		t.Errorf("report DIR: exit %d\n%s\n%s", code, stdout, stderr)
	}
	again := t.TempDir()
	if code, _, stderr := runCLI(t, "report", filepath.Join(run, "report.json"), "--out", again, "--format", "csv,junit,hlog,text"); code != 0 {
		t.Fatalf("report --out: exit %d\n%s", code, stderr)
	}
	for _, f := range []string{"report.json", "timeseries.csv", "junit.xml", "latency.hlog", "summary.txt"} {
		if _, err := os.Stat(filepath.Join(again, f)); err != nil {
			t.Errorf("report --out did not write %s: %v", f, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(run, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	bad := writeFile(t, "bad.json", strings.Replace(string(b), `"succeeded": 200`, `"succeeded": 199`, 1))
	if code, _, stderr := runCLI(t, "report", bad); code != 2 || !strings.Contains(lastLine(stderr), "does not balance") {
		t.Errorf("unbalanced report: exit %d, %q; want 2 and a balance error", code, lastLine(stderr))
	}
}

// TestVerboseGossipLog: memberlist's own lines reach stderr only with
// --verbose, prefixed gossip:, so they never break the live view.
func TestVerboseGossipLog(t *testing.T) {
	for _, verbose := range []bool{false, true} {
		args := []string{"run", writeFile(t, "q.yaml", quick), "--gossip-listen", "127.0.0.1:0", "--out", t.TempDir(), "--max-send-lag", "1s"}
		if verbose {
			args = append(args, "-v")
		}
		code, _, stderr := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("verbose %v: exit %d; stderr:\n%s", verbose, code, stderr)
		}
		gossip := strings.Contains(stderr, "gossip: ")
		if raw := strings.Contains(stderr, "memberlist:") && !gossip; raw {
			t.Errorf("verbose %v: memberlist lines without the gossip: prefix:\n%s", verbose, stderr)
		}
		if gossip != verbose {
			t.Errorf("verbose %v: gossip lines shown %v; stderr:\n%s", verbose, gossip, stderr)
		}
	}
}

// TestEightWeeksStory: examples/eight-weeks.yaml tells seed 000's story in
// its predictions: each week's ceiling above the week before, each stage
// limited by what the next week's fix lifts, and week 8 past 1,000/s (the
// story's 10,000 ÷ 10). The measured run is in the README.
func TestEightWeeksStory(t *testing.T) {
	sc, err := scenario.Load("../../examples/eight-weeks.yaml", scenario.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"box-db", "box-cpu", "db", "app", "db", "replica-0", "app", "shard-*"}
	if len(sc.Stages) != len(want) {
		t.Fatalf("%d stages, want %d weeks", len(sc.Stages), len(want))
	}
	last := 0.0
	for k, st := range sc.Stages {
		p, ok, err := predict.Stage(sc, k, -1)
		if !ok || err != nil {
			t.Fatalf("stage %s: %v, %v", st.Name, ok, err)
		}
		if p.Bottleneck != want[k] || p.CeilingRPS <= last {
			t.Errorf("week %d (%s): %.0f req/s limited by %s; want above %.0f, limited by %s", k+1, st.Name, p.CeilingRPS, p.Bottleneck, last, want[k])
		}
		last = p.CeilingRPS
	}
	if last < 1000 {
		t.Errorf("week 8 predicted %.0f req/s, want at least 1,000 (10,000 ÷ 10)", last)
	}
}
