package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lineWriter passes each complete line written to it to a channel, so a
// test can wait for the line that announces the address. It is safe for
// concurrent use.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	all   bytes.Buffer
	lines chan string
}

func newLineWriter() *lineWriter { return &lineWriter{lines: make(chan string, 100)} }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all.Write(p)
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil { // no newline yet: keep the rest for later
			w.buf.Reset()
			w.buf.WriteString(line)
			return len(p), nil
		}
		w.lines <- strings.TrimSuffix(line, "\n")
	}
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.all.String()
}

// hangGuard bounds waits that only a bug would make long; it is not a
// timing assertion.
const hangGuard = time.Minute

// runUntilCancelled starts run with args, waits for the announcement and
// returns the served URL and a stop function that cancels the context and
// returns the exit code and stderr.
func runUntilCancelled(t *testing.T, args ...string) (url string, stop func() (int, string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := newLineWriter(), newLineWriter()
	code := make(chan int, 1)
	go func() { code <- run(ctx, args, stdout, stderr) }()

	announce := regexp.MustCompile(`^target [a-z-]+ listening on (http://127\.0\.0\.1:[0-9]+)$`)
	select {
	case line := <-stdout.lines:
		m := announce.FindStringSubmatch(line)
		if m == nil {
			cancel()
			t.Fatalf("first line %q; want %q", line, announce)
		}
		url = m[1]
	case c := <-code:
		cancel()
		t.Fatalf("run(%q) = %d before announcing; stderr %q", args, c, stderr.String())
	case <-time.After(hangGuard):
		cancel()
		t.Fatalf("run(%q) did not announce its address", args)
	}
	return url, func() (int, string) {
		cancel()
		select {
		case c := <-code:
			return c, stderr.String()
		case <-time.After(hangGuard):
			t.Fatalf("run(%q) did not return after cancel", args)
			return 0, ""
		}
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

func TestServeUntilCancelled(t *testing.T) {
	url, stop := runUntilCancelled(t, "--listen", "127.0.0.1:0", "--delay", "1ms", "--body-bytes", "10")
	if code, body := httpGet(t, url+"/health"); code != 200 || body != "ok" {
		t.Errorf("GET /health = %d %q; want 200 \"ok\"", code, body)
	}
	if code, body := httpGet(t, url+"/items/1"); code != 200 || body != "0123456789" {
		t.Errorf("GET /items/1 = %d %q; want 200 \"0123456789\"", code, body)
	}
	code, stderr := stop()
	if code != 0 || stderr != "" {
		t.Errorf("run after cancel = %d, stderr %q; want 0 and nothing", code, stderr)
	}
	if _, err := http.Get(url + "/health"); err == nil {
		t.Error("server still answering after run returned")
	}
}

func TestServeStatusWithoutBody(t *testing.T) {
	// --status 204 alone must work: the default body size does not apply.
	url, stop := runUntilCancelled(t, "--listen", "127.0.0.1:0", "--status", "204")
	if code, body := httpGet(t, url+"/"); code != 204 || body != "" {
		t.Errorf("GET / = %d %q; want 204 and no body", code, body)
	}
	if code, stderr := stop(); code != 0 {
		t.Errorf("run = %d, stderr %q; want 0", code, stderr)
	}
}

func TestList(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--list"}, &stdout, &stderr)
	if code != 0 || stderr.Len() != 0 {
		t.Fatalf("run(--list) = %d, stderr %q; want 0 and nothing", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	names := []string{"autoscale", "cache", "cdn", "echo", "lb", "multi-region", "queue", "replicas", "sharding", "single-box", "split"}
	if len(lines) != len(names)+1 {
		t.Fatalf("run(--list) printed %d lines, want %d (a line a topology and one on the shop flow):\n%s", len(lines), len(names)+1, stdout.String())
	}
	if last := lines[len(names)]; !strings.Contains(last, "POST /login") || !strings.Contains(last, "GET /shop/stats") {
		t.Errorf("last line of --list is %q; want the shop flow's routes", last)
	}
	for i, name := range names {
		if fields := strings.Fields(lines[i]); len(fields) < 2 || fields[0] != name {
			t.Errorf("line %d of --list is %q; want %s and its description", i+1, lines[i], name)
		}
	}
	if !strings.Contains(stdout.String(), "echo          answers every request with a fixed status") {
		t.Errorf("--list lacks echo's description:\n%s", stdout.String())
	}
}

func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--help"}, &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "--topology string") || stderr.Len() != 0 {
		t.Errorf("run(--help) = %d, stdout %q, stderr %q; want 0 and the usage", code, stdout.String(), stderr.String())
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string // the whole of stderr
	}{
		{[]string{"--topology", "nope"}, "error: unknown topology \"nope\" (known: autoscale, cache, cdn, echo, lb, multi-region, queue, replicas, sharding, single-box, split)\n"},
		{[]string{"--topology", "nope", "--delay", "1s"}, "error: unknown topology \"nope\" (known: autoscale, cache, cdn, echo, lb, multi-region, queue, replicas, sharding, single-box, split)\n"},
		{[]string{"--nope"}, "error: unknown flag: --nope\n"},
		{[]string{"--delay", "soon"}, "error: invalid argument \"soon\" for \"--delay\" flag: time: invalid duration \"soon\"\n"},
		{[]string{"--delay", "-1s"}, "error: echo: delay must not be negative (got -1s)\n"},
		{[]string{"--status", "700"}, "error: echo: status must be from 200 to 599 (got 700)\n"},
		{[]string{"--status", "204", "--body-bytes", "5"}, "error: echo: status 204 allows no body; set body bytes to 0 (got 5)\n"},
		{[]string{"--body-bytes", "-1"}, "error: echo: body bytes must be from 0 to 16777216 (got -1)\n"},
		{[]string{"serve"}, "error: unexpected argument \"serve\" (target takes only flags)\n"},
		{[]string{"--topology", "split", "--delay", "1s"}, "error: --delay, --status and --body-bytes apply only to the echo topology\n"},
		{[]string{"--config", "x.json"}, "error: --config does not apply to the echo topology: use --delay, --status and --body-bytes\n"},
		{[]string{"--topology", "nope", "--print-config"}, "error: unknown topology \"nope\" (known: autoscale, cache, cdn, echo, lb, multi-region, queue, replicas, sharding, single-box, split)\n"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tt.args, &stdout, &stderr)
		if code != 2 || stderr.String() != tt.want || stdout.Len() != 0 {
			t.Errorf("run(%q) = %d, stdout %q, stderr %q; want 2, nothing, %q", tt.args, code, stdout.String(), stderr.String(), tt.want)
		}
	}
}

func TestListenFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--listen", ln.Addr().String()}, &stdout, &stderr)
	want := "error: start target: listen tcp " + ln.Addr().String() + ": bind: address already in use\n"
	if code != 3 || stderr.String() != want || stdout.Len() != 0 {
		t.Errorf("run(--listen busy) = %d, stdout %q, stderr %q; want 3, nothing, %q", code, stdout.String(), stderr.String(), want)
	}
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBadConfigFile(t *testing.T) {
	tests := []struct {
		topology, body, field string
	}{
		{"split", `{"db":{"pool":0}}`, "db.pool"},
		{"cache", `{"cache":{"capacityy":5}}`, `unknown field "capacityy"`},
		{"lb", `{"apps":"two"}`, "apps"},
		{"replicas", `{"lag":"soon"}`, "lag"},
		{"multi-region", `{"regions":["a","a"],"primary":"a"}`, "regions[1]"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"--topology", tt.topology, "--listen", "127.0.0.1:0", "--config", writeFile(t, tt.body)}, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tt.field) || stdout.Len() != 0 {
			t.Errorf("%s with %s: exit %d, stdout %q, stderr %q; want 2 and an error naming %s", tt.topology, tt.body, code, stdout.String(), stderr.String(), tt.field)
		}
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--topology", "split", "--config", filepath.Join(t.TempDir(), "missing.json")}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "missing.json") {
		t.Errorf("missing config file: exit %d, stderr %q; want 2 naming the file", code, stderr.String())
	}
}

func TestServeTopologyWithConfig(t *testing.T) {
	var printed bytes.Buffer
	if code := run(context.Background(), []string{"--topology", "sharding", "--print-config"}, &printed, io.Discard); code != 0 {
		t.Fatalf("--print-config exit %d", code)
	}
	body := strings.Replace(printed.String(), `"shards": 4`, `"shards": 6`, 1)
	url, stop := runUntilCancelled(t, "--topology", "sharding", "--listen", "127.0.0.1:0", "--config", writeFile(t, body))
	if code, b := httpGet(t, url+"/metrics"); code != 200 || !strings.Contains(b, `component="shard-5"`) {
		t.Errorf("GET /metrics = %d; want 200 with the sixth shard's series", code)
	}
	if code, _ := httpGet(t, url+"/items/1"); code != 200 {
		t.Errorf("GET /items/1 = %d; want 200", code)
	}
	if code, stderr := stop(); code != 0 {
		t.Errorf("run = %d, stderr %q; want 0", code, stderr)
	}
}
