package resource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/surgeload/surge/targets/internal/memnet"
)

func mustApp(t *testing.T, cfg AppServerConfig, name string, reg prometheus.Registerer) *AppServer {
	t.Helper()
	a, err := NewAppServer(name, cfg, reg)
	if err != nil {
		t.Fatalf("NewAppServer(%+v, %q): %v", cfg, name, err)
	}
	return a
}

// get sends GET url and returns the status, Retry-After and body.
func get(t *testing.T, client *http.Client, url string) (int, string, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return 0, "", ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(body)
}

func TestAppServerConfigValidate(t *testing.T) {
	if err := DefaultAppServerConfig().Validate(); err != nil {
		t.Errorf("DefaultAppServerConfig().Validate() = %v", err)
	}
	cfg := AppServerConfig{Slots: 0, QueueLimit: -1, Service: Exponential(-ms)}
	want := "slots must be from 1 to 65536 (got 0)\n" +
		"queue limit must be from 0 to 1048576 (got -1)\n" +
		"costs[default]: exponential mean must be above 0 and at most 1h0m0s (got -1ms)"
	if err := cfg.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate() = %v; want %q", err, want)
	}
	if _, err := NewAppServer("", cfg, nil); err == nil || !strings.HasPrefix(err.Error(), "app server : name must not be empty") {
		t.Errorf("NewAppServer(bad, \"\") = %v", err)
	}
}

// blocker is a Next handler that holds each request until released, so
// a test controls exactly how many requests are in the server.
type blocker struct {
	entered chan struct{}
	release chan struct{}
}

func newBlocker() *blocker {
	return &blocker{entered: make(chan struct{}, 100), release: make(chan struct{})}
}

func (b *blocker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.entered <- struct{}{}
	select {
	case <-b.release:
		_, _ = io.WriteString(w, "done")
	case <-r.Context().Done():
	}
}

// TestAppServerQueueFull fills a server's slot and queue over a real
// loopback connection and checks the next request gets 503 with
// Retry-After, /health still answers, and the queued requests are served
// once the slot frees up.
func TestAppServerQueueFull(t *testing.T) {
	reg := prometheus.NewRegistry()
	b := newBlocker()
	app := mustApp(t, AppServerConfig{Slots: 1, QueueLimit: 2, Service: Constant(ms), Next: b}, "app", reg)
	srv := httptest.NewServer(app)
	defer srv.Close()
	client := srv.Client()

	var wg sync.WaitGroup
	codes := make(chan string, 3)
	for range 3 {
		wg.Go(func() {
			code, _, body := get(t, client, srv.URL+"/items/1")
			codes <- fmt.Sprint(code, " ", body)
		})
	}
	<-b.entered
	waitFor(t, "2 queued", func() bool { return app.Resource().Stats().Queued == 2 })

	code, retry, body := get(t, client, srv.URL+"/items/2")
	if code != http.StatusServiceUnavailable || retry != "1" || !strings.Contains(body, "app: queue full") {
		t.Errorf("GET with the queue full = %d, Retry-After %q, %q; want 503, 1, queue full", code, retry, body)
	}
	if code, _, body := get(t, client, srv.URL+"/health"); code != 200 || body != "ok" {
		t.Errorf("GET /health while saturated = %d %q; want 200 ok", code, body)
	}
	want := `
# HELP surge_target_queue_depth Requests or jobs waiting in the component's queue.
# TYPE surge_target_queue_depth gauge
surge_target_queue_depth{component="app"} 2
# HELP surge_target_rejected_total Requests or jobs the component shed, by reason.
# TYPE surge_target_rejected_total counter
surge_target_rejected_total{component="app",reason="queue_full"} 1
# HELP surge_target_utilisation Busy fraction of the component's capacity, from 0 to 1.
# TYPE surge_target_utilisation gauge
surge_target_utilisation{component="app"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "surge_target_queue_depth", "surge_target_rejected_total", "surge_target_utilisation"); err != nil {
		t.Error(err)
	}

	close(b.release)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != "200 done" {
			t.Errorf("queued request answered %q; want 200 done", c)
		}
	}
	if s := app.Resource().Stats(); s.Served != 3 || s.Waits != 2 || s.Rejected != 1 || s.Busy != 0 {
		t.Errorf("Stats = %+v; want 3 served, 2 waits, 1 rejected, none busy", s)
	}
}

func TestAppServerRetryAfter(t *testing.T) {
	// A full queue of 100 behind 2 slots drains in 102 ÷ 2 × 100ms = 5.1s.
	app := mustApp(t, AppServerConfig{Slots: 2, QueueLimit: 100, Service: Constant(100 * ms)}, "app", nil)
	if got := app.Resource().RetryAfter(); got != 6*time.Second {
		t.Errorf("RetryAfter() = %v; want 6s", got)
	}
	for _, tt := range []struct {
		err   error
		retry time.Duration
		code  int
		after string
	}{
		{fmt.Errorf("x: %w", ErrQueueFull), 2500 * ms, 503, "3"},
		{ErrQueueFull, 0, 503, "1"},
		{context.Canceled, time.Second, 503, ""},
		{context.DeadlineExceeded, time.Second, 503, ""},
		{errors.New("boom"), time.Second, 500, ""},
	} {
		rec := httptest.NewRecorder()
		WriteError(rec, tt.err, tt.retry)
		if rec.Code != tt.code || rec.Header().Get("Retry-After") != tt.after {
			t.Errorf("WriteError(%v, %v) = %d, Retry-After %q; want %d, %q", tt.err, tt.retry, rec.Code, rec.Header().Get("Retry-After"), tt.code, tt.after)
		}
	}
}

func TestAppServerHandler(t *testing.T) {
	app := mustApp(t, AppServerConfig{Slots: 2, QueueLimit: 2, Service: Constant(ms)}, "app", nil)
	tests := []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"GET", "/items/1", "", 200, "ok"},
		{"POST", "/items", `{"id":1}`, 200, "ok"},
		{"HEAD", "/health", "", 200, "ok"}, // a recorder keeps what a HEAD writes
		{"POST", "/health", "", 200, "ok"}, // not a probe: served as work
		{"POST", "/items", strings.Repeat("x", MaxRequestBodyBytes+1), 413, "request body larger than 1 MiB\n"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body)))
		if rec.Code != tt.code || rec.Body.String() != tt.want {
			t.Errorf("%s %s = %d %q; want %d %q", tt.method, tt.path, rec.Code, rec.Body.String(), tt.code, tt.want)
		}
	}
	if s := app.Resource().Stats(); s.Served != 4 {
		t.Errorf("served %d; want 4 (health probes take no slot)", s.Served)
	}
}

// TestAppServerClientGone checks that a request whose client leaves while
// it is queued or in service gives its place back.
func TestAppServerClientGone(t *testing.T) {
	app := mustApp(t, AppServerConfig{Slots: 1, QueueLimit: 5, Service: Constant(time.Hour)}, "app", nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			app.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil).WithContext(ctx))
		})
	}
	waitFor(t, "1 busy, 2 queued", func() bool { s := app.Resource().Stats(); return s.Busy == 1 && s.Queued == 2 })
	cancel()
	wg.Wait()
	if s := app.Resource().Stats(); s.Busy != 0 || s.Queued != 0 || s.Served != 0 {
		t.Errorf("after the clients left: %+v; want nothing busy, queued or served", s)
	}
}

// TestAppServerSaturation drives an app server over HTTP connections,
// closed-loop, and checks it completes Slots ÷ mean service time requests
// per second. The connections are in memory (memnet) inside a synctest
// bubble: the whole HTTP client and server run, but on fake time, so the
// machine's load cannot slow the clients below saturation or stretch the
// service times.
func TestAppServerSaturation(t *testing.T) { synctest.Test(t, testAppServerSaturation) }

func testAppServerSaturation(t *testing.T) {
	const slots = 4
	service := Exponential(10 * ms)
	app := mustApp(t, AppServerConfig{Slots: slots, QueueLimit: 64, Service: service, Seed: 3}, "app", nil)
	network := memnet.New()
	srv, err := network.NewServer("app", app)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	client := &http.Client{Transport: network.Transport()}
	defer client.CloseIdleConnections()

	got := closedLoop(t, 32, 1500*ms, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/items/1", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
	want := slots / service.Mean().Seconds()
	t.Logf("app server over HTTP: %.0f/s; slots ÷ mean = %.0f/s (%.3f×); rejected %d", got, want, got/want, app.Resource().Stats().Rejected)
	if math.Abs(got/want-1) > 0.15 {
		t.Errorf("saturation throughput %.0f/s; want %.0f/s ± 15%%", got, want)
	}
}

// TestAppServerBudget checks that an app server charged to a budget
// holds a budget slot for its service time.
func TestAppServerBudget(t *testing.T) {
	budget := mustResource(t, ResourceConfig{Slots: 1, QueueLimit: 0}, "cpu", nil)
	app := mustApp(t, AppServerConfig{Slots: 4, QueueLimit: 4, Service: Constant(time.Hour), Budget: budget}, "app", nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		app.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil).WithContext(ctx))
	}()
	waitFor(t, "the budget's slot taken", func() bool { return budget.Stats().Busy == 1 })
	// The budget has one slot and no queue: a second request finds it
	// busy and is shed with the budget's Retry-After.
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "1" || !strings.Contains(rec.Body.String(), "cpu: queue full") {
		t.Errorf("second request with the budget full = %d %q %q; want 503 from cpu", rec.Code, rec.Header().Get("Retry-After"), rec.Body.String())
	}
	cancel()
	<-done
	if s := app.Resource().Stats(); s.Busy != 0 || s.Served != 0 {
		t.Errorf("app Stats = %+v; want none busy or served", s)
	}
}
