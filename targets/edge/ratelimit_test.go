package edge

import (
	"fmt"
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
)

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newTestLimiter returns a limiter on a fake clock.
func newTestLimiter(t *testing.T, cfg RateLimiterConfig, reg prometheus.Registerer) (*RateLimiter, *fakeClock) {
	t.Helper()
	l, err := NewRateLimiter("limiter", cfg, reg)
	if err != nil {
		t.Fatalf("NewRateLimiter(%+v): %v", cfg, err)
	}
	clock := newFakeClock()
	l.now = clock.Now
	l.global.last = clock.Now()
	return l, clock
}

func TestRateLimiterConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  RateLimiterConfig
		want []string // substrings of the error; none means valid
	}{
		{"default", DefaultRateLimiterConfig(), nil},
		{"keyed", RateLimiterConfig{Rate: 0.5, Burst: 1, Key: KeyHeader("X-Client-ID"), MaxKeys: 1}, nil},
		{"zero", RateLimiterConfig{}, []string{"rate must be above 0", "burst must be from 1", "max keys must be from 1"}},
		{"all wrong", RateLimiterConfig{Rate: -1, Burst: MaxBurst + 1, Key: Key{Header: "X Client"}, MaxKeys: MaxKeyLimit + 1},
			[]string{"rate must be above 0 and at most 1e+09 tokens per second (got -1)", "burst must be from 1 to 1073741824 (got 1073741825)",
				`key header "X Client" is not a valid HTTP header name`, "max keys must be from 1 to 10000000 (got 10000001)"}},
		{"NaN rate", RateLimiterConfig{Rate: math.NaN(), Burst: 1, MaxKeys: 1}, []string{"rate must be above 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate(%+v) = %v; want nil", tt.cfg, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate(%+v) = nil; want errors %q", tt.cfg, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate(%+v) = %q; want it to contain %q", tt.cfg, err, w)
				}
			}
		})
	}
	if _, err := NewRateLimiter("", DefaultRateLimiterConfig(), nil); err == nil || !strings.Contains(err.Error(), "name must not be empty") {
		t.Errorf("NewRateLimiter with an empty name: err = %v; want a name error", err)
	}
}

// serve sends one request through h and returns the recorder.
func serve(h http.Handler, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", "/items/1", nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })

func TestRateLimiterHeaders(t *testing.T) {
	l, clock := newTestLimiter(t, RateLimiterConfig{Rate: 2, Burst: 3, MaxKeys: 1}, nil)
	h := l.Middleware(okHandler)
	type want struct {
		status                       int
		remaining, reset, retryAfter string
	}
	check := func(step string, w want) {
		t.Helper()
		rec := serve(h)
		if rec.Code != w.status {
			t.Errorf("%s: status %d; want %d", step, rec.Code, w.status)
		}
		got := want{rec.Code, rec.Header().Get("RateLimit-Remaining"), rec.Header().Get("RateLimit-Reset"), rec.Header().Get("Retry-After")}
		if got != w {
			t.Errorf("%s: (status, remaining, reset, retry-after) = %q; want %q", step, fmt.Sprint(got), fmt.Sprint(w))
		}
		if l := rec.Header().Get("RateLimit-Limit"); l != "3" {
			t.Errorf("%s: RateLimit-Limit %q; want 3", step, l)
		}
	}
	// A full bucket of 3 at 2 tokens/s: three pass, the fourth is refused.
	check("request 1", want{200, "2", "1", ""}) // 1 token short: 0.5 s
	check("request 2", want{200, "1", "1", ""}) // 2 short: 1 s
	check("request 3", want{200, "0", "2", ""}) // 3 short: 1.5 s → 2
	check("request 4", want{429, "0", "2", "1"})
	// Half a second later one token is back.
	clock.Advance(500 * time.Millisecond)
	check("after 0.5 s", want{200, "0", "2", ""})
	clock.Advance(250 * time.Millisecond) // half a token
	check("after 0.25 s more", want{429, "0", "2", "1"})
	// Long idle: the bucket is full again and no fuller.
	clock.Advance(time.Hour)
	check("after an hour", want{200, "2", "1", ""})

	// A slow rate: one token every 4 s.
	slow, _ := newTestLimiter(t, RateLimiterConfig{Rate: 0.25, Burst: 1, MaxKeys: 1}, nil)
	sh := slow.Middleware(okHandler)
	if rec := serve(sh); rec.Code != 200 || rec.Header().Get("RateLimit-Reset") != "4" {
		t.Errorf("slow limiter, first request: status %d, reset %q; want 200, 4", rec.Code, rec.Header().Get("RateLimit-Reset"))
	}
	rec := serve(sh)
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "4" {
		t.Errorf("slow limiter, second request: status %d, Retry-After %q; want 429, 4", rec.Code, rec.Header().Get("Retry-After"))
	}
	if body := rec.Body.String(); !strings.Contains(body, "rate limit exceeded") {
		t.Errorf("429 body %q; want it to say rate limit exceeded", body)
	}
}

func TestRateLimiterPerKey(t *testing.T) {
	l, clock := newTestLimiter(t, RateLimiterConfig{Rate: 1, Burst: 2, Key: KeyHeader("X-Client-ID"), MaxKeys: 2}, nil)
	h := l.Middleware(okHandler)
	status := func(client string) int {
		if client == "" {
			return serve(h).Code
		}
		return serve(h, "X-Client-ID", client).Code
	}
	for i, want := range []int{200, 200, 429} {
		if got := status("a"); got != want {
			t.Errorf("client a, request %d: status %d; want %d", i+1, got, want)
		}
	}
	if got := status("b"); got != 200 {
		t.Errorf("client b after a is exhausted: status %d; want 200 (own bucket)", got)
	}
	// Requests without the header share the bucket of their remote IP; a third key evicts
	// the least recently used one (a), which comes back with a full bucket.
	for i, want := range []int{200, 200, 429} {
		if got := status(""); got != want {
			t.Errorf("no key, request %d: status %d; want %d", i+1, got, want)
		}
	}
	if n := l.keys.len(); n != 2 {
		t.Errorf("%d keys kept; want MaxKeys = 2", n)
	}
	if got := status("a"); got != 200 {
		t.Errorf("client a after eviction: status %d; want 200 (forgotten, so a full bucket)", got)
	}
	clock.Advance(time.Second)
	if got := status("a"); got != 200 {
		t.Errorf("client a after 1 s: status %d; want 200", got)
	}
	// A long key is kept as a hash; it is still a key of its own.
	long := strings.Repeat("k", 1000)
	for i, want := range []int{200, 200, 429} {
		if got := status(long); got != want {
			t.Errorf("1000-byte key, request %d: status %d; want %d", i+1, got, want)
		}
	}
	for k := range l.keys.keys {
		if len(k) > 64 {
			t.Errorf("key of %d bytes kept; want at most 64", len(k))
		}
	}
}

// TestRateLimiterThroughput drives a limiter on its default clock
// (time.Now) as fast as it admits for half a second: what passes must be
// Burst + Rate·t. It runs in a synctest bubble, so time.Now is a fake
// clock that only moves while the client sleeps: a busy machine can
// neither slow the client below the rate nor let the bucket overflow
// while the client waits for a CPU.
func TestRateLimiterThroughput(t *testing.T) { synctest.Test(t, testRateLimiterThroughput) }

func testRateLimiterThroughput(t *testing.T) {
	cfg := RateLimiterConfig{Rate: 200, Burst: 10, MaxKeys: 1}
	l, err := NewRateLimiter("limiter", cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	allowed, refused := 0, 0
	for time.Since(start) < 500*time.Millisecond {
		if l.Allow("").Allowed {
			allowed++
		} else {
			refused++
			time.Sleep(time.Millisecond)
		}
	}
	elapsed := time.Since(start)
	want := float64(cfg.Burst) + cfg.Rate*elapsed.Seconds()
	t.Logf("allowed %d in %v (refused %d); want Burst + Rate·t = %.1f", allowed, elapsed, refused, want)
	if got := float64(allowed); got < 0.85*want || got > 1.15*want {
		t.Errorf("allowed %d in %v; want %.1f ±15%%", allowed, elapsed, want)
	}
}

// TestRateLimiterRefill checks over real loopback HTTP that a drained
// bucket refuses with 429 and lets requests through again after refill.
// The limiter runs on a fake clock that moves only when the test says, so
// however long the requests take on a busy machine, no token is earned
// during a burst.
func TestRateLimiterRefill(t *testing.T) {
	l, clock := newTestLimiter(t, RateLimiterConfig{Rate: 20, Burst: 5, MaxKeys: 1}, nil)
	srv := httptest.NewServer(l.Middleware(okHandler))
	defer srv.Close()
	get := func() *http.Response {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + "/items/1")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	burst := func() (ok, limited int, last *http.Response) {
		for range 10 {
			resp := get()
			switch resp.StatusCode {
			case 200:
				ok++
			case 429:
				limited++
				last = resp
			default:
				t.Fatalf("status %d; want 200 or 429", resp.StatusCode)
			}
		}
		return ok, limited, last
	}
	ok, limited, last := burst()
	t.Logf("first burst of 10: %d passed, %d refused", ok, limited)
	if ok < 5 || ok > 7 || last == nil {
		t.Fatalf("first burst of 10: %d passed; want the 5 of the bucket (up to 7 with refill)", ok)
	}
	if ra := last.Header.Get("Retry-After"); ra != "1" {
		t.Errorf("429 Retry-After %q; want 1 (a token every 50 ms, rounded up)", ra)
	}
	if rem := last.Header.Get("RateLimit-Remaining"); rem != "0" {
		t.Errorf("429 RateLimit-Remaining %q; want 0", rem)
	}
	clock.Advance(300 * time.Millisecond) // 6 tokens earned; the bucket holds 5
	ok, limited, _ = burst()
	t.Logf("after 300 ms: %d passed, %d refused", ok, limited)
	if ok < 4 || ok > 7 {
		t.Errorf("after 300 ms of refill: %d of 10 passed; want about 5 (a full bucket)", ok)
	}
}

func TestRateLimiterMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	l, clock := newTestLimiter(t, RateLimiterConfig{Rate: 1, Burst: 4, MaxKeys: 1}, reg)
	h := l.Middleware(okHandler)
	for range 6 {
		serve(h)
	}
	want := `
# HELP surge_target_rejected_total Requests or jobs the component shed, by reason.
# TYPE surge_target_rejected_total counter
surge_target_rejected_total{component="limiter",reason="rate_limited"} 2
# HELP surge_target_requests_total Operations the component served.
# TYPE surge_target_requests_total counter
surge_target_requests_total{component="limiter"} 4
# HELP surge_target_utilisation Busy fraction of the component's capacity, from 0 to 1.
# TYPE surge_target_utilisation gauge
surge_target_utilisation{component="limiter"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	clock.Advance(2 * time.Second) // 2 of 4 tokens back
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP surge_target_utilisation Busy fraction of the component's capacity, from 0 to 1.
# TYPE surge_target_utilisation gauge
surge_target_utilisation{component="limiter"} 0.5
`), "surge_target_utilisation"); err != nil {
		t.Error(err)
	}

	// The same name again collides and leaves the registry as it was.
	if _, err := NewRateLimiter("limiter", DefaultRateLimiterConfig(), reg); err == nil {
		t.Error("second limiter named limiter on one registry: err = nil; want a registration error")
	}
	if _, err := NewRateLimiter("limiter-2", DefaultRateLimiterConfig(), reg); err != nil {
		t.Errorf("limiter-2 after a failed registration: %v", err)
	}
}
