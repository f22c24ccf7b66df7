package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/surgeload/surge/internal/exitcode"
)

// TestPushFlagsInvalid: bad --push-* flags are refused before any load,
// with a message that names the problem.
func TestPushFlagsInvalid(t *testing.T) {
	sc := writeFile(t, "q.yaml", quick)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--push-remote-write", "ftp://127.0.0.1/x"}, "not an http:// or https:// URL"},
		{[]string{"--push-otlp", "127.0.0.1:4318"}, "push otlp: "},
		{[]string{"--push-remote-write", "http://127.0.0.1:1/w", "--push-label", "run_id=x"}, `push label "run_id"`},
		{[]string{"--push-remote-write", "http://127.0.0.1:1/w", "--push-label", "novalue"}, "want name=value"},
		{[]string{"--push-remote-write", "http://127.0.0.1:1/w", "--push-header", "Bearer x"}, `want "Name: value"`},
		{[]string{"--push-label", "env=ci"}, "need --push-remote-write or --push-otlp"},
		{[]string{"--push-otlp", "https://127.0.0.1:4318/v1/metrics", "--push-ca", "/nonexistent/ca.pem"}, "push CA: "},
		{[]string{"--push-otlp", "https://127.0.0.1:4318/v1/metrics", "--push-ca", sc}, "no PEM certificate in it"},
	} {
		args := append([]string{"run", sc, "--gossip-listen", "127.0.0.1:0", "--out", t.TempDir(), "-q"}, c.args...)
		code, _, stderr := runCLI(t, args...)
		if code != exitcode.Invalid || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, lastLine(stderr), exitcode.Invalid, c.want)
		}
	}
}

// TestRunPushRemoteWrite: coordinator run --push-remote-write sends the
// run's series with its run_id, the --push-label and the --push-header to
// the receiver, and says how many pushes went through; a receiver that
// fails every push is reported on stderr and the run still passes.
func TestRunPushRemoteWrite(t *testing.T) {
	var mu sync.Mutex
	runIDs, envs, auths := map[string]bool{}, map[string]bool{}, map[string]bool{}
	var succeeded float64
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		raw, err := snappy.Decode(nil, body)
		req := &prompb.WriteRequest{}
		if err == nil {
			err = req.Unmarshal(raw)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		auths[r.Header.Get("Authorization")] = true
		succeeded = 0 // the last push's total
		for _, ts := range req.Timeseries {
			l := map[string]string{}
			for _, p := range ts.Labels {
				l[p.Name] = p.Value
			}
			runIDs[l["run_id"]], envs[l["env"]] = true, true
			if l["__name__"] == "surge_run_requests_total" && l["outcome"] == "succeeded" {
				succeeded += ts.Samples[0].Value
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer ok.Close()
	out := t.TempDir()
	code, _, stderr := runCLI(t, "run", writeFile(t, "q.yaml", quick), "--gossip-listen", "127.0.0.1:0", "--out", out, "-q", "--max-send-lag", "1s",
		"--push-remote-write", ok.URL+"/api/v1/write", "--push-label", "env=ci", "--push-header", "Authorization: Bearer s3cret", "--push-interval", "250ms")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		RunID  string `json:"run_id"`
		Stages []struct{ Succeeded float64 }
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(runIDs) != 1 || !runIDs[rep.RunID] || len(envs) != 1 || !envs["ci"] || len(auths) != 1 || !auths["Bearer s3cret"] {
		t.Errorf("pushed run_id %v (report %s), env %v, Authorization %v", runIDs, rep.RunID, envs, auths)
	}
	if succeeded != rep.Stages[0].Succeeded {
		t.Errorf("the last push has %v succeeded; report.json %v", succeeded, rep.Stages[0].Succeeded)
	}
	mu.Unlock()
	if !strings.Contains(stderr, "pushed metrics: remote_write ") || !strings.Contains(stderr, " ok, 0 failed") {
		t.Errorf("stderr does not count the pushes:\n%s", stderr)
	}

	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
	defer failing.Close()
	code, _, stderr = runCLI(t, "run", writeFile(t, "q.yaml", quick), "--gossip-listen", "127.0.0.1:0", "--out", t.TempDir(), "-q", "--max-send-lag", "1s",
		"--push-remote-write", failing.URL+"/api/v1/write", "--push-interval", "1h", "--push-retries", "0")
	if code != 0 {
		t.Fatalf("a failing receiver failed the run: exit %d; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "warning: push remote_write: ") || !strings.Contains(stderr, "pushed metrics: remote_write 0 ok, 1 failed") {
		t.Errorf("stderr does not report the failed push:\n%s", stderr)
	}
}
