package edge

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// newTestWindow returns a sliding window on a fake clock.
func newTestWindow(t *testing.T, cfg SlidingWindowConfig, reg prometheus.Registerer) (*SlidingWindow, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	l, err := NewSlidingWindow("window", cfg, reg)
	if err != nil {
		t.Fatalf("NewSlidingWindow(%+v): %v", cfg, err)
	}
	l.now = clock.Now
	l.origin = clock.Now()
	return l, clock
}

func TestSlidingWindowConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  SlidingWindowConfig
		want []string // substrings of the error; none means valid
	}{
		{"default", DefaultSlidingWindowConfig(), nil},
		{"keyed", SlidingWindowConfig{Limit: 200, Window: time.Second, Key: KeyHeader("X-Client-Id"), MaxKeys: 10_000}, nil},
		{"global ignores the entries bound", SlidingWindowConfig{Limit: MaxWindowLimit, Window: time.Second, MaxKeys: MaxKeyLimit}, nil},
		{"zero", SlidingWindowConfig{}, []string{"limit must be from 1", "window must be from 1ms", "max keys must be from 1"}},
		{"all wrong", SlidingWindowConfig{Limit: MaxWindowLimit + 1, Window: 2 * time.Hour, Key: Key{Header: "X Client"}, MaxKeys: MaxKeyLimit + 1},
			[]string{"limit must be from 1 to 1048576 requests per window (got 1048577)", "window must be from 1ms to 1h0m0s (got 2h0m0s)",
				`key header "X Client" is not a valid HTTP header name`, "max keys must be from 1 to 10000000 (got 10000001)"}},
		{"too many entries", SlidingWindowConfig{Limit: 10_000, Window: time.Second, Key: KeyIP(), MaxKeys: 10_000},
			[]string{"limit × max keys must be at most 16777216 request times held (got 10000 × 10000): lower max keys to 1677"}},
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
	if _, err := NewSlidingWindow("w", SlidingWindowConfig{}, nil); err == nil {
		t.Error("NewSlidingWindow with a zero config: err = nil; want the validation errors")
	}
}

// limited is what a test reads of a limited response.
type limited struct {
	status                              int
	limit, remaining, reset, retryAfter string
}

func limitedOf(rec *httptest.ResponseRecorder) limited {
	h := rec.Header()
	return limited{rec.Code, h.Get("RateLimit-Limit"), h.Get("RateLimit-Remaining"), h.Get("RateLimit-Reset"), h.Get("Retry-After")}
}

// TestSlidingWindowHeaders walks a window of 2 requests per 10 s on a
// fake clock and checks every header of every answer against the times
// of the admitted requests: a place frees when the oldest of them is 10 s
// old (Retry-After), and the whole quota is back when the newest is
// (RateLimit-Reset), both rounded up to whole seconds.
func TestSlidingWindowHeaders(t *testing.T) {
	l, clock := newTestWindow(t, SlidingWindowConfig{Limit: 2, Window: 10 * time.Second, MaxKeys: 1}, nil)
	h := l.Middleware(okHandler)
	start := clock.Now()
	steps := []struct {
		at   time.Duration // since start
		want limited
	}{
		{0, limited{200, "2", "1", "10", ""}},                         // admitted: {0}
		{3 * time.Second, limited{200, "2", "0", "10", ""}},           // {0, 3}
		{4 * time.Second, limited{429, "2", "0", "9", "6"}},           // 0 leaves at 10, 3 at 13
		{9500 * time.Millisecond, limited{429, "2", "0", "4", "1"}},   // 0.5 s left: at least 1
		{10 * time.Second, limited{200, "2", "0", "10", ""}},          // 0 has left: {3, 10}
		{13 * time.Second, limited{200, "2", "0", "10", ""}},          // 3 has left: {10, 13}
		{13500 * time.Millisecond, limited{429, "2", "0", "10", "7"}}, // 10 leaves in 6.5 s, 13 in 9.5 s
		{30 * time.Second, limited{200, "2", "1", "10", ""}},          // all gone: {30}
	}
	for _, st := range steps {
		clock.Advance(start.Add(st.at).Sub(clock.Now()))
		rec := serve(h)
		if got := limitedOf(rec); got != st.want {
			t.Errorf("at %v: (status, limit, remaining, reset, retry-after) = %v; want %v", st.at, got, st.want)
		}
		if rec.Code == 429 && !strings.Contains(rec.Body.String(), "rate limit exceeded") {
			t.Errorf("at %v: 429 body %q; want it to say rate limit exceeded", st.at, rec.Body.String())
		}
	}
}

// TestRateLimiterIETFHeaders pins the token bucket's headers with exact
// values: a bucket of 3 refilled at 0.5 tokens per second.
func TestRateLimiterIETFHeaders(t *testing.T) {
	l, clock := newTestLimiter(t, RateLimiterConfig{Rate: 0.5, Burst: 3, MaxKeys: 1}, nil)
	h := l.Middleware(okHandler)
	steps := []struct {
		advance time.Duration
		want    limited
	}{
		{0, limited{200, "3", "2", "2", ""}},                        // 1 token short of full: 2 s
		{0, limited{200, "3", "1", "4", ""}},                        // 2 short: 4 s
		{0, limited{200, "3", "0", "6", ""}},                        // 3 short: 6 s
		{0, limited{429, "3", "0", "6", "2"}},                       // a token in 2 s
		{1500 * time.Millisecond, limited{429, "3", "0", "5", "1"}}, // 0.75 token: 0.5 s → 1; full in 4.5 s → 5
		{500 * time.Millisecond, limited{200, "3", "0", "6", ""}},   // a whole token, taken
		{time.Hour, limited{200, "3", "2", "2", ""}},                // full again, and no fuller
	}
	for i, st := range steps {
		clock.Advance(st.advance)
		if got := limitedOf(serve(h)); got != st.want {
			t.Errorf("step %d (+%v): (status, limit, remaining, reset, retry-after) = %v; want %v", i, st.advance, got, st.want)
		}
	}
}

// TestSlidingWindowNeverOverAdmits sends requests at random times on a
// fake clock and checks the defining property against a brute-force
// count: a request passes exactly when fewer than Limit requests passed
// in the Window before it.
func TestSlidingWindowNeverOverAdmits(t *testing.T) {
	const limit, win = 5, 100 * time.Millisecond
	l, clock := newTestWindow(t, SlidingWindowConfig{Limit: limit, Window: win, MaxKeys: 1}, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	var admitted []time.Time
	for i := range 2000 {
		clock.Advance(time.Duration(rng.IntN(int(30 * time.Millisecond))))
		now := clock.Now()
		inWindow := 0
		for _, a := range admitted {
			if now.Sub(a) < win {
				inWindow++
			}
		}
		d := l.Allow("")
		if want := inWindow < limit; d.Allowed != want {
			t.Fatalf("request %d: allowed %v with %d admitted in the last %v; want %v", i, d.Allowed, inWindow, win, want)
		}
		if d.Allowed {
			admitted = append(admitted, now)
			inWindow++
		}
		if d.Remaining != limit-inWindow {
			t.Fatalf("request %d: remaining %d; want %d", i, d.Remaining, limit-inWindow)
		}
	}
}

func TestLimiterKeys(t *testing.T) {
	request := func(remote, client string) *http.Request {
		r := httptest.NewRequest("GET", "/items/1", nil)
		r.RemoteAddr = remote
		if client != "" {
			r.Header.Set("X-Client-Id", client)
		}
		return r
	}
	for _, mk := range []struct {
		name string
		new  func(t *testing.T, key Key) (Limiter, *fakeClock)
	}{
		{"token bucket", func(t *testing.T, key Key) (Limiter, *fakeClock) {
			return newTestLimiter(t, RateLimiterConfig{Rate: 1, Burst: 1, Key: key, MaxKeys: 10}, nil)
		}},
		{"sliding window", func(t *testing.T, key Key) (Limiter, *fakeClock) {
			return newTestWindow(t, SlidingWindowConfig{Limit: 1, Window: time.Second, Key: key, MaxKeys: 10}, nil)
		}},
	} {
		t.Run(mk.name, func(t *testing.T) {
			// Each limiter admits one request per client a second; the
			// second of a pair passes only when it is another client.
			tests := []struct {
				key         Key
				first, next *http.Request
				wantNext    int
			}{
				{KeyGlobal(), request("10.0.0.1:1", "a"), request("10.0.0.2:1", "b"), 429},
				{KeyIP(), request("10.0.0.1:1", "a"), request("10.0.0.1:2", "b"), 429},
				{KeyIP(), request("10.0.0.1:1", "a"), request("10.0.0.2:1", "a"), 200},
				{KeyHeader("X-Client-Id"), request("10.0.0.1:1", "a"), request("10.0.0.1:1", "b"), 200},
				{KeyHeader("X-Client-Id"), request("10.0.0.1:1", "a"), request("10.0.0.2:1", "a"), 429},
				{KeyHeader("X-Client-Id"), request("10.0.0.1:1", ""), request("10.0.0.2:1", ""), 200}, // by IP
				{KeyHeader("X-Client-Id"), request("10.0.0.1:1", ""), request("10.0.0.1:9", ""), 429},
				{KeyHeader("X-Client-Id"), request("[::1]:1", ""), request("[::1]:2", ""), 429},
			}
			for _, tt := range tests {
				l, _ := mk.new(t, tt.key)
				h := l.Middleware(okHandler)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, tt.first)
				if rec.Code != 200 {
					t.Fatalf("key %v, first request: status %d; want 200", tt.key, rec.Code)
				}
				rec = httptest.NewRecorder()
				h.ServeHTTP(rec, tt.next)
				if rec.Code != tt.wantNext {
					t.Errorf("key %v: first (%s, %q), then (%s, %q): status %d; want %d", tt.key, tt.first.RemoteAddr,
						tt.first.Header.Get("X-Client-Id"), tt.next.RemoteAddr, tt.next.Header.Get("X-Client-Id"), rec.Code, tt.wantNext)
				}
			}
		})
	}
}

func TestKeyText(t *testing.T) {
	for _, tt := range []struct {
		in, want string // want "" means an error
	}{
		{"", "global"}, {"global", "global"}, {"ip", "ip"}, {"header:X-Client-Id", "header:X-Client-Id"},
		{" header: X-Tenant ", "header:X-Tenant"}, {"header:", ""}, {"header:X Client", ""}, {"cookie:id", ""},
	} {
		var k Key
		err := k.UnmarshalText([]byte(tt.in))
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("UnmarshalText(%q) = %v, nil; want an error", tt.in, k)
		case tt.want != "" && err != nil:
			t.Errorf("UnmarshalText(%q): %v; want %s", tt.in, err, tt.want)
		case tt.want != "" && k.String() != tt.want:
			t.Errorf("UnmarshalText(%q) = %s; want %s", tt.in, k, tt.want)
		}
	}
}

func TestSlidingWindowMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	l, clock := newTestWindow(t, SlidingWindowConfig{Limit: 4, Window: time.Second, MaxKeys: 1}, reg)
	for range 6 {
		l.Allow("")
	}
	want := func(util string) string {
		return fmt.Sprintf(`
# HELP surge_target_rejected_total Requests or jobs the component shed, by reason.
# TYPE surge_target_rejected_total counter
surge_target_rejected_total{component="window",reason="rate_limited"} 2
# HELP surge_target_requests_total Operations the component served.
# TYPE surge_target_requests_total counter
surge_target_requests_total{component="window"} 4
# HELP surge_target_utilisation Busy fraction of the component's capacity, from 0 to 1.
# TYPE surge_target_utilisation gauge
surge_target_utilisation{component="window"} %s
`, util)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want("1"))); err != nil {
		t.Error(err)
	}
	clock.Advance(500 * time.Millisecond)
	l.Allow("") // refused: the window still holds 4
	clock.Advance(500 * time.Millisecond)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(strings.Replace(want("0"), "} 2\n", "} 3\n", 1))); err != nil {
		t.Error(err)
	}
}
