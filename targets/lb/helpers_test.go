package lb

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/surgeload/surge/targets/internal/memnet"
)

// testBackend is a loopback HTTP server that answers every request with
// its name, and GET /health with 200 or 500 as told.
type testBackend struct {
	*httptest.Server
	name    string
	healthy atomic.Bool
	hits    atomic.Int64 // requests other than /health
	checks  atomic.Int64 // /health requests
	delay   time.Duration
	// block, when not nil, makes every request other than /health send
	// on started and then wait until block is closed.
	block   chan struct{}
	started chan struct{}
}

// newBackend starts a backend named name that answers after delay.
func newBackend(t *testing.T, name string, delay time.Duration) *testBackend {
	t.Helper()
	b := &testBackend{name: name, delay: delay}
	b.healthy.Store(true)
	b.Server = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.Close)
	return b
}

// newMemBackend is newBackend on the in-memory network n, at
// http://name:80, for tests that run in a synctest bubble.
func newMemBackend(t *testing.T, n *memnet.Network, name string, delay time.Duration) *testBackend {
	t.Helper()
	b := &testBackend{name: name, delay: delay}
	b.healthy.Store(true)
	srv, err := n.NewServer(name, http.HandlerFunc(b.serve))
	if err != nil {
		t.Fatal(err)
	}
	b.Server = srv
	t.Cleanup(b.Close)
	return b
}

func (b *testBackend) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/health" {
		b.checks.Add(1)
		if !b.healthy.Load() {
			http.Error(w, "sick", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "ok")
		return
	}
	b.hits.Add(1)
	if b.block != nil {
		b.started <- struct{}{}
		select {
		case <-b.block:
		case <-r.Context().Done():
			return
		}
	}
	if b.delay > 0 {
		t := time.NewTimer(b.delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
	}
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("X-Seen-Path", r.URL.RequestURI())
	w.Header().Set("X-Seen-Host", r.Host)
	w.Header().Set("X-Seen-Forwarded-For", r.Header.Get("X-Forwarded-For"))
	_, _ = io.WriteString(w, b.name)
}

// backendsOf returns the Backend configs of bs, named after them.
func backendsOf(bs ...*testBackend) []Backend {
	out := make([]Backend, len(bs))
	for i, b := range bs {
		out[i] = Backend{URL: b.URL, Name: b.name}
	}
	return out
}

// startLB builds a Balancer named "lb" from cfg with a fresh registry,
// serves it on a loopback httptest server and returns all three, closed
// at the end of the test.
func startLB(t *testing.T, cfg BalancerConfig) (*Balancer, *prometheus.Registry, *httptest.Server) {
	t.Helper()
	reg := prometheus.NewRegistry()
	bal, err := NewBalancer("lb", cfg, reg)
	if err != nil {
		t.Fatalf("NewBalancer: %v", err)
	}
	t.Cleanup(func() { _ = bal.Close() })
	front := httptest.NewServer(bal)
	t.Cleanup(front.Close)
	return bal, reg, front
}

// startMemLB is startLB on the in-memory network n: the balancer dials
// its backends (requests and health checks) over n and is served at
// http://lb:80. With memnet backends and newMemClient, everything runs
// on channels, so a test can run in a synctest bubble: health-check
// intervals and timeouts, backend delays and queue timeouts are then on
// the bubble's fake clock, and a busy machine cannot make a check time
// out or a fast backend look slow.
func startMemLB(t *testing.T, n *memnet.Network, cfg BalancerConfig) (*Balancer, *prometheus.Registry, *httptest.Server) {
	t.Helper()
	reg := prometheus.NewRegistry()
	bal, err := newBalancer("lb", cfg, reg, n.DialContext)
	if err != nil {
		t.Fatalf("newBalancer: %v", err)
	}
	t.Cleanup(func() { _ = bal.Close() })
	front, err := n.NewServer("lb", bal)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(front.Close)
	return bal, reg, front
}

// newMemClient is newClient dialling the in-memory network n.
func newMemClient(t *testing.T, n *memnet.Network) *http.Client {
	t.Helper()
	c := &http.Client{Transport: n.Transport(), Timeout: 10 * time.Second}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// newClient returns a keep-alive client, its idle connections closed at
// the end of the test.
func newClient(t *testing.T) *http.Client {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// get sends GET url with the given header (name, value pairs) and returns
// the status and the body.
func get(t *testing.T, c *http.Client, url string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

// metricValue returns the value of the series name whose labels include
// component="lb" and every pair in labels (name, value, …), failing the
// test when there is no such series.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	v, ok := findMetric(t, reg, name, labels...)
	if !ok {
		t.Fatalf("no series %s{component=\"lb\" %v}", name, labels)
	}
	return v
}

func findMetric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) (float64, bool) {
	t.Helper()
	want := map[string]string{"component": "lb"}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if have[k] != v {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true
			}
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// waitFor polls cond every 5ms until it holds or a minute passes, then
// fails the test with what: a hang guard, not a timing assertion. In a
// synctest bubble both are fake time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// backendUp reports whether the named backend is in rotation.
func backendUp(b *Balancer, name string) bool {
	for _, s := range b.Status() {
		if s.Name == name {
			return s.Up
		}
	}
	return false
}
