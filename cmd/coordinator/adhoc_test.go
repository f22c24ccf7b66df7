package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/surgeload/surge/internal/exitcode"
)

// runCLIStdin runs the command with stdin as its standard input.
func runCLIStdin(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRoot(context.Background(), &out, &errb)
	root.SetIn(strings.NewReader(stdin))
	code = exitcode.Execute(root, args, &out, &errb)
	return code, out.String(), errb.String()
}

// recorder is a loopback target that records what it was sent.
type recorder struct {
	mu     sync.Mutex
	n      int
	seen   map[string]int // "METHOD URI header body"
	status int
}

func newRecorder(t *testing.T, status int) (*recorder, *httptest.Server) {
	r := &recorder{seen: map[string]int{}, status: status}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.n++
		r.seen[req.Method+" "+req.URL.RequestURI()+" "+req.Header.Get("X-Test")+" "+string(b)]++
		r.mu.Unlock()
		w.WriteHeader(r.status)
	}))
	t.Cleanup(srv.Close)
	return r, srv
}

// stageCounts reads the first stage's counts from report.json in dir.
func stageCounts(t *testing.T, dir string) map[string]float64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Stages []map[string]any `json:"stages"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, k := range []string{"intended", "issued", "succeeded", "failed", "dropped", "lost"} {
		out[k], _ = rep.Stages[0][k].(float64)
	}
	return out
}

// TestAdhocRun: --url and its flags play exactly rate × duration requests,
// each with the method, path, query, header and body asked for, and write
// the same report as a scenario file.
func TestAdhocRun(t *testing.T) {
	rec, srv := newRecorder(t, http.StatusOK)
	body := writeFile(t, "body.json", `{"a": 1}`)
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "run", "--url", srv.URL+"/items/7?x=1", "--rate", "100/s", "--duration", "1s",
		"--method", "post", "--header", "X-Test: yes", "--body", "@"+body, "--threshold", "error_rate < 1%",
		"--agents", "2", "--gossip-listen", "127.0.0.1:0", "--out", out, "-q", "--max-send-lag", "1s")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	want := `POST /items/7?x=1 yes {"a": 1}`
	rec.mu.Lock()
	if rec.n != 100 || rec.seen[want] != 100 {
		t.Errorf("target got %d requests, %v; want 100 × %q", rec.n, rec.seen, want)
	}
	rec.mu.Unlock()
	c := stageCounts(t, out)
	if c["intended"] != 100 || c["issued"] != 100 || c["succeeded"] != 100 || c["failed"] != 0 || c["dropped"] != 0 || c["lost"] != 0 {
		t.Errorf("report.json counts %v; want 100 intended, issued and succeeded", c)
	}
	if !strings.Contains(stdout, "succeeded 100") {
		t.Errorf("summary:\n%s", stdout)
	}
}

// TestAdhocThresholdFails: a --threshold the run misses exits 1, as a
// scenario's threshold does.
func TestAdhocThresholdFails(t *testing.T) {
	rec, srv := newRecorder(t, http.StatusInternalServerError)
	out := t.TempDir()
	code, _, stderr := runCLI(t, "run", "--url", srv.URL, "--rate", "20/s", "--duration", "1s", "--threshold", "error_rate < 1%",
		"--gossip-listen", "127.0.0.1:0", "--out", out, "-q", "--max-send-lag", "1s")
	if code != exitcode.ThresholdsFailed {
		t.Fatalf("exit %d; want %d; stderr:\n%s", code, exitcode.ThresholdsFailed, stderr)
	}
	if c := stageCounts(t, out); c["intended"] != 20 || c["failed"] != 20 || c["succeeded"] != 0 {
		t.Errorf("report.json counts %v; want 20 intended, 20 failed", c)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.seen["GET /  "] != 20 {
		t.Errorf("target saw %v; want 20 × GET /", rec.seen)
	}
}

// TestAdhocErrors: bad ad-hoc flags are refused before anything runs
// (exit 2), each problem naming its flag, never a line of the YAML made
// from them.
func TestAdhocErrors(t *testing.T) {
	file := writeFile(t, "q.yaml", quick)
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"url and file", []string{"run", file, "--url", "http://127.0.0.1:1/"}, []string{"give --url or a scenario file"}},
		{"rate without url", []string{"run", file, "--rate", "5/s"}, []string{"--rate: only with --url"}},
		{"nothing", []string{"run"}, []string{"give a scenario file, - to read it from stdin, or --url"}},
		{"bad rate", []string{"validate", "--url", "http://127.0.0.1:1/", "--rate", "fast"}, []string{"--rate: "}},
		{"zero duration", []string{"validate", "--url", "http://127.0.0.1:1/", "--duration", "0s"}, []string{"--duration: "}},
		{"bad header", []string{"validate", "--url", "http://127.0.0.1:1/", "--header", "novalue"}, []string{`--header "novalue": want "Name: value"`}},
		{"bad header name", []string{"validate", "--url", "http://127.0.0.1:1/", "--header", "Bad Name: v"}, []string{"--header: "}},
		{"bad method", []string{"validate", "--url", "http://127.0.0.1:1/", "--method", "GE T"}, []string{"--method: "}},
		{"bad threshold", []string{"validate", "--url", "http://127.0.0.1:1/", "--threshold", "p99 <"}, []string{"--threshold: "}},
		{"bad timeout", []string{"validate", "--url", "http://127.0.0.1:1/", "--timeout", "-1s"}, []string{"--timeout: "}},
		{"ftp url", []string{"validate", "--url", "ftp://127.0.0.1/"}, []string{`--url "ftp://127.0.0.1/": want an http:// or https:// URL`}},
		{"no host", []string{"validate", "--url", "http:///x"}, []string{"no host"}},
		{"missing body file", []string{"validate", "--url", "http://127.0.0.1:1/", "--body", "@/nonexistent/b"}, []string{"--body @/nonexistent/b: "}},
		{"two problems", []string{"validate", "--url", "http://127.0.0.1:1/", "--rate", "0", "--duration", "x"}, []string{"--rate: ", "--duration: ", "2 problem(s)"}},
		{"print without url", []string{"validate", file, "--print-scenario"}, []string{"--print-scenario prints the scenario of the ad-hoc flags"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != exitcode.Invalid {
				t.Fatalf("%q: exit %d; want 2; stdout %s stderr %s", tc.args, code, stdout, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("%q: stderr does not say %q:\n%s", tc.args, w, stderr)
				}
			}
			if strings.Contains(stderr, adhocName+":") && !strings.Contains(strings.Join(tc.want, ""), adhocName) {
				t.Errorf("%q: a problem is named by its place in the generated YAML, not its flag:\n%s", tc.args, stderr)
			}
		})
	}
}

// TestPrintScenario: validate --print-scenario prints the scenario file
// the ad-hoc flags stand for (golden), and that file validates as it is.
func TestPrintScenario(t *testing.T) {
	args := []string{"validate", "--url", "https://api.example.com:8443/v1/items?q=a%20b&n=2", "--rate", "2k/s", "--duration", "1m",
		"--method", "PUT", "--header", `X-Quote: say "hi": {{seq}}`, "--header", "Authorization: Bearer t", "--body", "line1\nline2 ${x}",
		"--threshold", "p99 < 250ms", "--threshold", "error_rate < 1%", "--timeout", "2s", "--print-scenario"}
	code, stdout, stderr := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	golden := filepath.Join("testdata", "adhoc.golden.yaml")
	if *update {
		if err := os.WriteFile(golden, []byte(stdout), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if stdout != string(want) {
		t.Errorf("--print-scenario printed:\n%s\nwant (%s; -update rewrites it):\n%s", stdout, golden, want)
	}
	code, out, stderr := runCLIStdin(t, stdout, "validate", "-", "--allow-target", "api.example.com")
	if code != 0 || !strings.Contains(out, "<stdin>") {
		t.Errorf("the printed scenario does not validate from stdin: exit %d\n%s\n%s", code, out, stderr)
	}
}

// FuzzAdhocScenario: whatever the ad-hoc flags hold, the scenario made
// from them either parses or is refused with problems naming flags; it
// never panics, and a value can never add a key to the YAML (the name of
// the scenario keeps the whole URL).
func FuzzAdhocScenario(f *testing.F) {
	f.Add("http://127.0.0.1:8080/x?y=1", "GET", "X-A: b", "body", "p99 < 1s", "10/s")
	f.Add("https://h/\n  - url: http://evil", "PO\"ST", "K:\n    v", "{{seq}}", "\"", "1e3/s")
	f.Fuzz(func(t *testing.T, url, method, header, body, threshold, rate string) {
		if strings.HasPrefix(body, "@") {
			body = "x" + body // no file reads from the fuzzer
		}
		a := adhocFlags{url: url, method: method, body: body, rate: rate, duration: "1s", headers: []string{header}, thresholds: []string{threshold}}
		y, err := a.yaml("")
		if err != nil {
			return
		}
		var stderr bytes.Buffer
		sc, err := parseAdhoc(y, &stderr)
		if err != nil {
			return
		}
		if len(sc.Stages) != 1 || len(sc.Requests) != 1 || !strings.HasSuffix(sc.Name, url) {
			t.Fatalf("flags %q made %d stages, %d requests, name %q", []string{url, method, header, body, threshold, rate}, len(sc.Stages), len(sc.Requests), sc.Name)
		}
	})
}
