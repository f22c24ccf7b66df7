package lb

import (
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

	"github.com/surgeload/surge/targets/internal/memnet"
)

// noChecks returns a default config with health checks off.
func noChecks(algo Algorithm, backends ...*testBackend) BalancerConfig {
	cfg := DefaultBalancerConfig()
	cfg.Algorithm = algo
	cfg.Backends = backendsOf(backends...)
	cfg.HealthCheck.Interval = 0
	return cfg
}

// TestRoundRobinExactCycle checks that request k goes to backend k mod n,
// in configuration order, through a real proxy over loopback.
func TestRoundRobinExactCycle(t *testing.T) {
	a, b, c := newBackend(t, "a", 0), newBackend(t, "b", 0), newBackend(t, "c", 0)
	_, reg, front := startLB(t, noChecks(RoundRobin, a, b, c))
	client := newClient(t)
	names := []string{"a", "b", "c"}
	for k := range 30 {
		code, body := get(t, client, front.URL+"/items/1")
		if code != 200 || body != names[k%3] {
			t.Fatalf("request %d = %d %q; want 200 %q", k, code, body, names[k%3])
		}
	}
	for _, n := range names {
		if got := metricValue(t, reg, "surge_target_backend_requests_total", "backend", n); got != 10 {
			t.Errorf("surge_target_backend_requests_total{backend=%q} = %v; want 10", n, got)
		}
	}
	if got := metricValue(t, reg, "surge_target_requests_total"); got != 30 {
		t.Errorf("surge_target_requests_total = %v; want 30", got)
	}
}

// TestWeightedRoundRobinSmoothCycle checks weights 5,3,1: every run of 9
// requests is exactly the smooth sequence a b a c a b a b a.
func TestWeightedRoundRobinSmoothCycle(t *testing.T) {
	a, b, c := newBackend(t, "a", 0), newBackend(t, "b", 0), newBackend(t, "c", 0)
	cfg := noChecks(WeightedRoundRobin, a, b, c)
	cfg.Backends[0].Weight, cfg.Backends[1].Weight, cfg.Backends[2].Weight = 5, 3, 1
	_, reg, front := startLB(t, cfg)
	client := newClient(t)
	cycle := strings.Fields("a b a c a b a b a")
	for k := range 9 * 6 {
		code, body := get(t, client, front.URL+"/")
		if code != 200 || body != cycle[k%9] {
			t.Fatalf("request %d = %d %q; want 200 %q (cycle %v)", k, code, body, cycle[k%9], cycle)
		}
	}
	for n, want := range map[string]float64{"a": 30, "b": 18, "c": 6} {
		if got := metricValue(t, reg, "surge_target_backend_requests_total", "backend", n); got != want {
			t.Errorf("backend %s served %v; want %v (weights 5:3:1 over 54)", n, got, want)
		}
	}
}

// TestLeastConnectionsFavoursIdle drives a slow and a fast backend with
// concurrent clients: least connections sends the slow one few requests,
// since it keeps them in flight, where round robin would split 50:50.
// It runs in a synctest bubble over memnet, so the two backends' delays
// are exact fake time and the proxying adds none: the fast backend cannot
// look slow because the machine is busy.
func TestLeastConnectionsFavoursIdle(t *testing.T) { synctest.Test(t, testLeastConnectionsFavoursIdle) }

func testLeastConnectionsFavoursIdle(t *testing.T) {
	n := memnet.New()
	slow, fast := newMemBackend(t, n, "slow", 100*time.Millisecond), newMemBackend(t, n, "fast", time.Millisecond)
	_, reg, front := startMemLB(t, n, noChecks(LeastConnections, slow, fast))
	client := newMemClient(t, n)
	const workers, each = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range each {
				resp, err := client.Get(front.URL + "/")
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	nSlow, nFast := slow.hits.Load(), fast.hits.Load()
	share := float64(nFast) / float64(nSlow+nFast)
	t.Logf("least connections: fast %d, slow %d requests; fast share %.3f (round robin: 0.5)", nFast, nSlow, share)
	if nSlow+nFast != workers*each {
		t.Errorf("backends served %d; want %d", nSlow+nFast, workers*each)
	}
	if share < 0.8 {
		t.Errorf("fast backend share = %.3f; want ≥ 0.8", share)
	}
	if got := metricValue(t, reg, "surge_target_backend_in_flight", "backend", "slow"); got != 0 {
		t.Errorf("slow backend in flight after the run = %v; want 0", got)
	}
}

// TestIPHashSticky checks that a key always reaches the same backend,
// that keys spread over the backends, and where the key comes from.
func TestIPHashSticky(t *testing.T) {
	a, b, c := newBackend(t, "a", 0), newBackend(t, "b", 0), newBackend(t, "c", 0)

	t.Run("header key", func(t *testing.T) {
		cfg := noChecks(IPHash, a, b, c)
		cfg.HashHeader = "X-Client-IP"
		_, _, front := startLB(t, cfg)
		client := newClient(t)
		const keys = 300
		first := make(map[string]string, keys)
		for round := range 3 {
			for k := range keys {
				key := fmt.Sprintf("10.0.%d.%d", k/256, k%256)
				_, body := get(t, client, front.URL+"/", "X-Client-IP", key)
				if round == 0 {
					first[key] = body
				} else if body != first[key] {
					t.Fatalf("round %d: key %s went to %s; first went to %s", round, key, body, first[key])
				}
			}
		}
		perBackend := map[string]int{}
		for _, be := range first {
			perBackend[be]++
		}
		t.Logf("ip hash: %d keys over 3 backends: %v", keys, perBackend)
		for _, n := range []string{"a", "b", "c"} {
			// 100 expected, σ ≈ 8.2: 60..140 is ±4.9σ.
			if perBackend[n] < 60 || perBackend[n] > 140 {
				t.Errorf("backend %s got %d of %d keys; want 60..140", n, perBackend[n], keys)
			}
		}
	})

	t.Run("client address", func(t *testing.T) {
		_, _, front := startLB(t, noChecks(IPHash, a, b, c))
		client := newClient(t)
		_, want := get(t, client, front.URL+"/")
		for k := range 20 {
			// Without HashHeader the header is just a header: every
			// request comes from 127.0.0.1, so all go to one backend.
			if _, body := get(t, client, front.URL+"/", "X-Client-IP", fmt.Sprint(k)); body != want {
				t.Fatalf("request %d from 127.0.0.1 went to %s; want %s", k, body, want)
			}
		}
	})

	t.Run("first forwarded address", func(t *testing.T) {
		cfg := noChecks(IPHash, a, b, c)
		cfg.HashHeader = "X-Forwarded-For"
		_, _, front := startLB(t, cfg)
		client := newClient(t)
		for k := range 30 {
			key := fmt.Sprintf("192.0.2.%d", k)
			_, one := get(t, client, front.URL+"/", "X-Forwarded-For", key)
			_, two := get(t, client, front.URL+"/", "X-Forwarded-For", " "+key+" , 10.9.9.9")
			if one != two {
				t.Fatalf("X-Forwarded-For %q went to %s but %q to %s", key, one, key+", 10.9.9.9", two)
			}
		}
	})
}

// TestRandomUniformAndSeeded checks that Random spreads requests evenly
// and that its choices are a function of the seed.
func TestRandomUniformAndSeeded(t *testing.T) {
	a, b, c := newBackend(t, "a", 0), newBackend(t, "b", 0), newBackend(t, "c", 0)
	cfg := noChecks(Random, a, b, c)
	cfg.Seed = 42
	_, reg, front := startLB(t, cfg)
	client := newClient(t)
	const n = 900
	for range n {
		if code, _ := get(t, client, front.URL+"/"); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	for _, name := range []string{"a", "b", "c"} {
		got := metricValue(t, reg, "surge_target_backend_requests_total", "backend", name)
		t.Logf("random: backend %s served %v of %d", name, got, n)
		// 300 expected, σ ≈ 14.1: ±60 is ±4.2σ.
		if math.Abs(got-n/3) > 60 {
			t.Errorf("backend %s served %v of %d; want 300 ± 60", name, got, n)
		}
	}

	sequence := func(seed uint64) string {
		cfg := noChecks(Random, a, b, c)
		cfg.Seed = seed
		_, _, front := startLB(t, cfg)
		var s strings.Builder
		for range 40 {
			_, body := get(t, client, front.URL+"/")
			s.WriteString(body)
		}
		return s.String()
	}
	s7, s7again, s8 := sequence(7), sequence(7), sequence(8)
	if s7 != s7again {
		t.Errorf("seed 7 gave %s then %s; want the same", s7, s7again)
	}
	if s7 == s8 {
		t.Errorf("seeds 7 and 8 both gave %s; want different", s7)
	}
}

// TestHealthCheckRemovesAndRestores makes a backend fail its checks,
// watches it leave rotation, then heals it and watches it return. It runs
// in a synctest bubble over memnet: check intervals and timeouts are fake
// time and a check takes none, so a busy machine cannot time out a
// healthy backend's checks and flap it out of rotation.
func TestHealthCheckRemovesAndRestores(t *testing.T) {
	synctest.Test(t, testHealthCheckRemovesAndRestores)
}

func testHealthCheckRemovesAndRestores(t *testing.T) {
	n := memnet.New()
	a, b := newMemBackend(t, n, "a", 0), newMemBackend(t, n, "b", 0)
	cfg := DefaultBalancerConfig()
	cfg.Backends = backendsOf(a, b)
	cfg.HealthCheck = HealthCheckConfig{Interval: 50 * time.Millisecond, Timeout: 50 * time.Millisecond,
		Path: "/health", FailThreshold: 2, RiseThreshold: 3}
	bal, reg, front := startMemLB(t, n, cfg)
	client := newMemClient(t, n)

	waitFor(t, "first checks", func() bool { return a.checks.Load() > 0 && b.checks.Load() > 0 })
	if got := metricValue(t, reg, "surge_target_backend_up", "backend", "b"); got != 1 {
		t.Fatalf("backend_up{b} = %v at start; want 1", got)
	}

	b.healthy.Store(false)
	waitFor(t, "b out of rotation", func() bool { return !backendUp(bal, "b") })
	if got := metricValue(t, reg, "surge_target_backend_up", "backend", "b"); got != 0 {
		t.Errorf("backend_up{b} = %v when down; want 0", got)
	}
	if got := metricValue(t, reg, "surge_target_health_check_failures_total", "backend", "b"); got < 2 {
		t.Errorf("health_check_failures_total{b} = %v; want ≥ 2 (the fail threshold)", got)
	}
	before := b.hits.Load()
	for k := range 20 {
		if code, body := get(t, client, front.URL+"/"); code != 200 || body != "a" {
			t.Fatalf("request %d while b is down = %d %q; want 200 \"a\"", k, code, body)
		}
	}
	if b.hits.Load() != before {
		t.Errorf("b served %d requests while out of rotation", b.hits.Load()-before)
	}

	b.healthy.Store(true)
	waitFor(t, "b back in rotation", func() bool { return backendUp(bal, "b") })
	if got := metricValue(t, reg, "surge_target_backend_up", "backend", "b"); got != 1 {
		t.Errorf("backend_up{b} = %v when back; want 1", got)
	}
	// The rotation restarts at the first backend when the set changes,
	// so the cycle is exact again (unless b flaps, which it must not).
	for k := range 10 {
		want := []string{"a", "b"}[k%2]
		if code, body := get(t, client, front.URL+"/"); code != 200 || body != want {
			t.Fatalf("request %d after b is back = %d %q; want 200 %q", k, code, body, want)
		}
	}
}

// TestHealthCheckDeadBackend checks that a backend whose process is gone
// (connection refused) is taken out, and that with no healthy backend
// the balancer answers 503. Like TestHealthCheckRemovesAndRestores it
// runs in a synctest bubble over memnet, where a dial to a closed server
// is refused at once, as on loopback.
func TestHealthCheckDeadBackend(t *testing.T) { synctest.Test(t, testHealthCheckDeadBackend) }

func testHealthCheckDeadBackend(t *testing.T) {
	n := memnet.New()
	a, b := newMemBackend(t, n, "a", 0), newMemBackend(t, n, "b", 0)
	cfg := DefaultBalancerConfig()
	cfg.Backends = backendsOf(a, b)
	cfg.HealthCheck = HealthCheckConfig{Interval: 50 * time.Millisecond, Timeout: 50 * time.Millisecond,
		Path: "/health", FailThreshold: 2, RiseThreshold: 1}
	bal, reg, front := startMemLB(t, n, cfg)
	client := newMemClient(t, n)

	b.Close()
	waitFor(t, "dead b out of rotation", func() bool { return !backendUp(bal, "b") })
	for k := range 5 {
		if code, body := get(t, client, front.URL+"/"); code != 200 || body != "a" {
			t.Fatalf("request %d with b dead = %d %q; want 200 \"a\"", k, code, body)
		}
	}

	a.healthy.Store(false)
	waitFor(t, "a out of rotation", func() bool { return !backendUp(bal, "a") })
	resp, err := client.Get(front.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("with no healthy backend: %d, Retry-After %q; want 503, \"1\"", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if got := metricValue(t, reg, "surge_target_rejected_total", "reason", ReasonUnhealthy); got != 1 {
		t.Errorf("rejected_total{reason=unhealthy} = %v; want 1", got)
	}
}

// TestBackendTransportError502 checks the answer when the chosen backend
// cannot be reached and no health check has noticed yet.
func TestBackendTransportError502(t *testing.T) {
	a := newBackend(t, "a", 0)
	_, reg, front := startLB(t, noChecks(RoundRobin, a))
	a.Close()
	code, _ := get(t, newClient(t), front.URL+"/")
	if code != http.StatusBadGateway {
		t.Errorf("status = %d; want 502", code)
	}
	if got := metricValue(t, reg, "surge_target_backend_errors_total", "backend", "a"); got != 1 {
		t.Errorf("backend_errors_total{a} = %v; want 1", got)
	}
	if got := metricValue(t, reg, "surge_target_requests_total"); got != 1 {
		t.Errorf("requests_total = %v; want 1", got)
	}
}

// TestQueue checks the in-flight limit: one request in flight, one
// queued, the third refused with queue_full; the metrics say so.
func TestQueue(t *testing.T) {
	a := newBackend(t, "a", 0)
	a.block, a.started = make(chan struct{}), make(chan struct{}, 4)
	cfg := noChecks(RoundRobin, a)
	cfg.MaxInFlight, cfg.QueueLimit, cfg.QueueTimeout = 1, 1, 0
	_, reg, front := startLB(t, cfg)
	client := newClient(t)

	codes := make(chan int, 2)
	for range 2 {
		go func() {
			resp, err := client.Get(front.URL + "/")
			if err != nil {
				codes <- -1
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	<-a.started // one is at the backend
	waitFor(t, "one request queued", func() bool {
		return metricValue(t, reg, "surge_target_queue_depth") == 1
	})
	if got := metricValue(t, reg, "surge_target_utilisation"); got != 1 {
		t.Errorf("utilisation = %v with 1 of 1 in flight; want 1", got)
	}
	if code, body := get(t, client, front.URL+"/"); code != http.StatusServiceUnavailable {
		t.Errorf("third request = %d %q; want 503", code, body)
	}
	if got := metricValue(t, reg, "surge_target_rejected_total", "reason", ReasonQueueFull); got != 1 {
		t.Errorf("rejected_total{queue_full} = %v; want 1", got)
	}
	if got := metricValue(t, reg, "surge_target_pool_waits_total"); got != 1 {
		t.Errorf("pool_waits_total = %v; want 1", got)
	}

	close(a.block)
	for range 2 {
		if code := <-codes; code != 200 {
			t.Errorf("queued request = %d; want 200", code)
		}
	}
	if got := metricValue(t, reg, "surge_target_queue_depth"); got != 0 {
		t.Errorf("queue depth after = %v; want 0", got)
	}
	if got := metricValue(t, reg, "surge_target_utilisation"); got != 0 {
		t.Errorf("utilisation after = %v; want 0", got)
	}
	if got := metricValue(t, reg, "surge_target_requests_total"); got != 2 {
		t.Errorf("requests_total = %v; want 2", got)
	}
}

// TestQueueTimeout checks that a queued request gives up after
// QueueTimeout with 503.
func TestQueueTimeout(t *testing.T) {
	a := newBackend(t, "a", 0)
	a.block, a.started = make(chan struct{}), make(chan struct{}, 4)
	cfg := noChecks(RoundRobin, a)
	cfg.MaxInFlight, cfg.QueueLimit, cfg.QueueTimeout = 1, 4, 50*time.Millisecond
	_, reg, front := startLB(t, cfg)
	client := newClient(t)

	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := client.Get(front.URL + "/"); err == nil {
			resp.Body.Close()
		}
	}()
	<-a.started
	start := time.Now()
	code, _ := get(t, client, front.URL+"/")
	waited := time.Since(start)
	close(a.block)
	<-done
	if code != http.StatusServiceUnavailable || waited < 50*time.Millisecond {
		t.Errorf("queued request = %d after %v; want 503 after ≥ 50ms", code, waited)
	}
	if got := metricValue(t, reg, "surge_target_rejected_total", "reason", ReasonQueueTimeout); got != 1 {
		t.Errorf("rejected_total{queue_timeout} = %v; want 1", got)
	}
}

// TestForwarding checks what the backend sees and what the client gets
// back through the proxy.
func TestForwarding(t *testing.T) {
	a := newBackend(t, "a", 0)
	cfg := noChecks(RoundRobin, a)
	cfg.BackendHeader = "X-Backend"
	_, _, front := startLB(t, cfg)
	req, err := http.NewRequest(http.MethodPost, front.URL+"/items/7?x=1&y=2", strings.NewReader(`{"n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	resp, err := newClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	checks := []struct{ what, got, want string }{
		{"path", resp.Header.Get("X-Seen-Path"), "/items/7?x=1&y=2"},
		{"host", resp.Header.Get("X-Seen-Host"), strings.TrimPrefix(a.URL, "http://")},
		{"X-Forwarded-For", resp.Header.Get("X-Seen-Forwarded-For"), "203.0.113.9, 127.0.0.1"},
		{"backend header", resp.Header.Get("X-Backend"), "a"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q; want %q", c.what, c.got, c.want)
		}
	}
}

// TestMetricsCarryComponent checks that every exposed series is labelled
// with the balancer's name and that the expected families exist.
func TestMetricsCarryComponent(t *testing.T) {
	a := newBackend(t, "a", 0)
	_, reg, front := startLB(t, noChecks(RoundRobin, a))
	get(t, newClient(t), front.URL+"/")
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range families {
		seen[f.GetName()] = true
		for _, m := range f.GetMetric() {
			ok := false
			for _, l := range m.GetLabel() {
				ok = ok || (l.GetName() == "component" && l.GetValue() == "lb")
			}
			if !ok {
				t.Errorf("series of %s without component=\"lb\": %v", f.GetName(), m.GetLabel())
			}
		}
	}
	for _, name := range []string{
		"surge_target_utilisation", "surge_target_queue_depth", "surge_target_pool_waits_total",
		"surge_target_rejected_total", "surge_target_requests_total", "surge_target_backend_requests_total",
		"surge_target_backend_errors_total", "surge_target_backend_up", "surge_target_backend_in_flight",
		"surge_target_health_check_failures_total",
	} {
		if !seen[name] {
			t.Errorf("metric %s not exposed", name)
		}
	}
}

// TestRegisterTwice checks that a second balancer of the same name on the
// same registry is refused, and that nil registers nothing.
func TestRegisterTwice(t *testing.T) {
	a := newBackend(t, "a", 0)
	reg := prometheus.NewRegistry()
	first, err := NewBalancer("lb", noChecks(RoundRobin, a), reg)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if _, err := NewBalancer("lb", noChecks(RoundRobin, a), reg); err == nil {
		t.Error("second NewBalancer with the same name and registry succeeded")
	}
	other, err := NewBalancer("lb2", noChecks(RoundRobin, a), reg)
	if err != nil {
		t.Errorf("NewBalancer with another name: %v", err)
	} else {
		other.Close()
	}
	unregistered, err := NewBalancer("lb", noChecks(RoundRobin, a), nil)
	if err != nil {
		t.Errorf("NewBalancer with a nil registerer: %v", err)
	} else {
		unregistered.Close()
	}
}

// TestCloseStopsHealthChecks checks that no check runs after Close, and
// that Close is idempotent. It runs in a synctest bubble over memnet, so
// "a check cancelled by Close has landed" is a fact (synctest.Wait) rather
// than a guess at how long a busy machine takes, and the 60 ms after it
// are twelve check intervals of fake time.
func TestCloseStopsHealthChecks(t *testing.T) { synctest.Test(t, testCloseStopsHealthChecks) }

func testCloseStopsHealthChecks(t *testing.T) {
	n := memnet.New()
	a := newMemBackend(t, n, "a", 0)
	cfg := DefaultBalancerConfig()
	cfg.Backends = backendsOf(a)
	cfg.HealthCheck.Interval, cfg.HealthCheck.Timeout = 5*time.Millisecond, 5*time.Millisecond
	bal, err := newBalancer("lb", cfg, nil, n.DialContext)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a few checks", func() bool { return a.checks.Load() >= 3 })
	if err := bal.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	// A check cancelled by Close may still reach the backend just after;
	// once every goroutine of the bubble is blocked, it has landed.
	synctest.Wait()
	after := a.checks.Load()
	time.Sleep(60 * time.Millisecond)
	if got := a.checks.Load(); got != after {
		t.Errorf("%d checks after Close", got-after)
	}
	if err := bal.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
}

// BenchmarkProxy measures one request through the balancer over
// loopback (client → balancer → backend and back), against the same
// request sent straight to the backend: the difference is the
// balancer's cost per request.
func BenchmarkProxy(b *testing.B) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	defer backend.Close()
	cfg := DefaultBalancerConfig()
	cfg.Backends = []Backend{{URL: backend.URL}}
	cfg.HealthCheck.Interval = 0
	bal, err := NewBalancer("lb", cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer bal.Close()
	front := httptest.NewServer(bal)
	defer front.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()

	for _, target := range []struct{ name, url string }{{"direct", backend.URL}, {"via_lb", front.URL}} {
		b.Run(target.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Get(target.url + "/")
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
