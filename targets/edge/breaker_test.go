package edge

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var errBoom = errors.New("boom")

func newTestBreaker(t *testing.T, cfg BreakerConfig, reg prometheus.Registerer) (*Breaker, *fakeClock) {
	t.Helper()
	b, err := NewBreaker("breaker", cfg, reg)
	if err != nil {
		t.Fatalf("NewBreaker(%+v): %v", cfg, err)
	}
	clock := newFakeClock()
	b.now = clock.Now
	b.origin = clock.Now()
	return b, clock
}

// call runs one Do whose function returns err, and reports whether the
// function ran.
func call(b *Breaker, err error) (ran bool, got error) {
	got = b.Do(context.Background(), func(context.Context) error {
		ran = true
		return err
	})
	return ran, got
}

func TestBreakerConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  BreakerConfig
		want []string
	}{
		{"default", DefaultBreakerConfig(), nil},
		{"consecutive only", BreakerConfig{ConsecutiveFailures: 1, CoolDown: time.Millisecond, HalfOpenProbes: 1}, nil},
		{"zero", BreakerConfig{}, []string{"both 0 (off)", "cool-down must be above 0", "half-open probes must be from 1"}},
		{"ratio without window", BreakerConfig{FailureRatio: 0.5, CoolDown: time.Second, HalfOpenProbes: 1},
			[]string{"window must be from 10ms to 1h0m0s when failure ratio is on (got 0s)", "min calls must be from 1 to 1000000 when failure ratio is on (got 0)"}},
		{"all wrong", BreakerConfig{ConsecutiveFailures: -1, FailureRatio: 1.5, Window: 2 * time.Hour, MinCalls: -3, CoolDown: 2 * time.Hour, HalfOpenProbes: MaxBreakerCount + 1},
			[]string{"consecutive failures must be from 0 (off) to 1000000 (got -1)", "failure ratio must be from 0 (off) to 1 (got 1.5)",
				"cool-down must be above 0 and at most 1h0m0s (got 2h0m0s)", "half-open probes must be from 1 to 1000000 (got 1000001)"}},
		{"NaN ratio", BreakerConfig{ConsecutiveFailures: 1, FailureRatio: math.NaN(), CoolDown: time.Second, HalfOpenProbes: 1}, []string{"failure ratio must be from 0 (off) to 1"}},
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
}

func TestBreakerConsecutiveFailures(t *testing.T) {
	cfg := BreakerConfig{ConsecutiveFailures: 3, CoolDown: time.Second, HalfOpenProbes: 1}
	b, clock := newTestBreaker(t, cfg, nil)
	// A success in between resets the count.
	for i, err := range []error{errBoom, errBoom, nil, errBoom, errBoom} {
		if ran, got := call(b, err); !ran || got != err {
			t.Fatalf("call %d: ran %v, err %v; want ran, err %v", i+1, ran, got, err)
		}
	}
	if s := b.State(); s != Closed {
		t.Fatalf("after fail, fail, ok, fail, fail: state %v; want closed", s)
	}
	call(b, errBoom)
	if s := b.State(); s != Open {
		t.Fatalf("after 3 failures in a row: state %v; want open", s)
	}
	if ran, err := call(b, nil); ran || !errors.Is(err, ErrOpen) {
		t.Errorf("open breaker: ran %v, err %v; want not run, ErrOpen", ran, err)
	}
	clock.Advance(999 * time.Millisecond)
	if s := b.State(); s != Open {
		t.Errorf("1 ms before the cool-down ends: state %v; want open", s)
	}
	clock.Advance(time.Millisecond)
	if s := b.State(); s != HalfOpen {
		t.Fatalf("after the cool-down: state %v; want half-open", s)
	}
	// A failed probe opens it again, for a whole new cool-down.
	if ran, _ := call(b, errBoom); !ran {
		t.Fatal("half-open: the probe did not run")
	}
	if s := b.State(); s != Open {
		t.Fatalf("after a failed probe: state %v; want open", s)
	}
	clock.Advance(500 * time.Millisecond)
	if s := b.State(); s != Open {
		t.Errorf("half-way through the second cool-down: state %v; want open", s)
	}
	clock.Advance(500 * time.Millisecond)
	if ran, err := call(b, nil); !ran || err != nil {
		t.Fatalf("second probe: ran %v, err %v; want ran, nil", ran, err)
	}
	if s := b.State(); s != Closed {
		t.Fatalf("after a successful probe: state %v; want closed", s)
	}
	// Closed again with clear counts: two failures do not open it.
	call(b, errBoom)
	call(b, errBoom)
	if s := b.State(); s != Closed {
		t.Errorf("closed again, after 2 failures: state %v; want closed", s)
	}
}

func TestBreakerHalfOpenProbes(t *testing.T) {
	cfg := BreakerConfig{ConsecutiveFailures: 1, CoolDown: time.Second, HalfOpenProbes: 2}
	b, clock := newTestBreaker(t, cfg, nil)
	call(b, errBoom)
	clock.Advance(time.Second)

	// Two probes in flight at once: a third call is refused meanwhile.
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	done := make(chan error, 2)
	for range 2 {
		go func() {
			done <- b.Do(context.Background(), func(context.Context) error {
				started <- struct{}{}
				<-release
				return nil
			})
		}()
	}
	<-started
	<-started
	if ran, err := call(b, nil); ran || !errors.Is(err, ErrOpen) {
		t.Errorf("third call while 2 probes run: ran %v, err %v; want refused with ErrOpen", ran, err)
	}
	if s := b.State(); s != HalfOpen {
		t.Errorf("while probing: state %v; want half-open", s)
	}
	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Errorf("probe: %v", err)
		}
	}
	if s := b.State(); s != Closed {
		t.Errorf("after 2 successful probes: state %v; want closed", s)
	}

	// One success of two is not enough; the failure re-opens it.
	call(b, errBoom)
	clock.Advance(time.Second)
	call(b, nil)
	if s := b.State(); s != HalfOpen {
		t.Errorf("after 1 of 2 probes succeeded: state %v; want half-open", s)
	}
	call(b, errBoom)
	if s := b.State(); s != Open {
		t.Errorf("after the second probe failed: state %v; want open", s)
	}
}

func TestBreakerFailureRatio(t *testing.T) {
	cfg := BreakerConfig{FailureRatio: 0.5, Window: time.Second, MinCalls: 10, CoolDown: time.Second, HalfOpenProbes: 1}
	b, _ := newTestBreaker(t, cfg, nil)
	// 9 calls, 5 failing: under MinCalls, stays closed.
	for i := range 9 {
		var err error
		if i%2 == 0 {
			err = errBoom
		}
		call(b, err)
	}
	if s := b.State(); s != Closed {
		t.Fatalf("9 calls (under MinCalls 10), 5 failed: state %v; want closed", s)
	}
	call(b, nil) // 10 calls, 5 failed: 50%, but a success never opens
	if s := b.State(); s != Closed {
		t.Fatalf("a success: state %v; want closed", s)
	}
	call(b, errBoom) // 11 calls, 6 failed
	if s := b.State(); s != Open {
		t.Fatalf("11 calls, 6 failed (ratio 0.55): state %v; want open", s)
	}

	// Failures older than the window no longer count.
	b2, clock2 := newTestBreaker(t, cfg, nil)
	for range 8 {
		call(b2, errBoom)
	}
	clock2.Advance(1100 * time.Millisecond)
	for range 9 {
		call(b2, nil)
	}
	call(b2, errBoom) // 10 calls in the window, 1 failed
	if s := b2.State(); s != Closed {
		t.Errorf("8 failures 1.1 s ago, then 9 successes and 1 failure: state %v; want closed", s)
	}
}

func TestBreakerIgnoresCancelledAndStaleCalls(t *testing.T) {
	cfg := BreakerConfig{ConsecutiveFailures: 1, CoolDown: time.Second, HalfOpenProbes: 1}
	b, clock := newTestBreaker(t, cfg, nil)

	// The caller's own cancellation is not the dependency's failure.
	ctx, cancel := context.WithCancel(context.Background())
	err := b.Do(ctx, func(ctx context.Context) error {
		cancel()
		return ctx.Err()
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Do = %v; want context.Canceled", err)
	}
	if s := b.State(); s != Closed {
		t.Fatalf("after a cancelled call: state %v; want closed", s)
	}
	if err := b.Do(ctx, func(context.Context) error { t.Error("ran with a done ctx"); return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Do with a done ctx = %v; want context.Canceled", err)
	}

	// A call admitted while closed that fails after the breaker opened
	// and half-opened must not re-open it.
	slowStarted, finishSlow := make(chan struct{}), make(chan struct{})
	slowDone := make(chan struct{})
	go func() {
		defer close(slowDone)
		_ = b.Do(context.Background(), func(context.Context) error {
			close(slowStarted)
			<-finishSlow
			return errBoom
		})
	}()
	<-slowStarted
	call(b, errBoom) // opens
	clock.Advance(time.Second)
	if s := b.State(); s != HalfOpen {
		t.Fatalf("state %v; want half-open", s)
	}
	close(finishSlow)
	<-slowDone
	if s := b.State(); s != HalfOpen {
		t.Errorf("after a stale failure from the closed state: state %v; want still half-open", s)
	}

	// A cancelled probe frees its place for another.
	pctx, pcancel := context.WithCancel(context.Background())
	_ = b.Do(pctx, func(ctx context.Context) error { pcancel(); return ctx.Err() })
	if ran, err := call(b, nil); !ran || err != nil {
		t.Errorf("probe after a cancelled probe: ran %v, err %v; want ran, nil", ran, err)
	}
	if s := b.State(); s != Closed {
		t.Errorf("state %v; want closed", s)
	}

	// A panic is a failure, and goes on.
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Do swallowed a panic")
			}
		}()
		_ = b.Do(context.Background(), func(context.Context) error { panic("boom") })
	}()
	if s := b.State(); s != Open {
		t.Errorf("after a panic: state %v; want open", s)
	}
}

func TestBreakerIsFailure(t *testing.T) {
	notFound := errors.New("not found")
	cfg := BreakerConfig{ConsecutiveFailures: 1, CoolDown: time.Second, HalfOpenProbes: 1,
		IsFailure: func(err error) bool { return !errors.Is(err, notFound) }}
	b, _ := newTestBreaker(t, cfg, nil)
	call(b, notFound)
	if s := b.State(); s != Closed {
		t.Errorf("after an error IsFailure excuses: state %v; want closed", s)
	}
	call(b, errBoom)
	if s := b.State(); s != Open {
		t.Errorf("after a failure: state %v; want open", s)
	}
}

// TestBreakerMiddleware runs the breaker in front of a real loopback
// server whose handler fails on demand, with a 150 ms cool-down on a fake
// clock: however slow the requests are on a busy machine, the cool-down
// ends only when the test moves the clock past it, so the open breaker is
// seen open and then half-open.
func TestBreakerMiddleware(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := BreakerConfig{ConsecutiveFailures: 2, CoolDown: 150 * time.Millisecond, HalfOpenProbes: 1}
	b, err := NewBreaker("app-breaker", cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	b.now = clock.Now
	b.origin = clock.Now()
	var failing atomic.Bool
	var served atomic.Int64
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if failing.Load() {
			http.Error(w, "db down", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(b.Middleware(app))
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
	state := func(want State) {
		t.Helper()
		if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP surge_target_breaker_state Circuit breaker state: 0 closed, 1 open, 2 half-open.
# TYPE surge_target_breaker_state gauge
surge_target_breaker_state{component="app-breaker"} `+string(rune('0'+want))+"\n"), "surge_target_breaker_state"); err != nil {
			t.Errorf("want %v: %v", want, err)
		}
	}

	if resp := get(); resp.StatusCode != 204 {
		t.Fatalf("healthy: status %d; want 204", resp.StatusCode)
	}
	state(Closed)
	failing.Store(true)
	for range 2 {
		if resp := get(); resp.StatusCode != 500 {
			t.Fatalf("failing: status %d; want 500 from the app", resp.StatusCode)
		}
	}
	state(Open)
	before := served.Load()
	resp := get()
	if resp.StatusCode != 503 {
		t.Fatalf("open: status %d; want 503", resp.StatusCode)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "1" {
		t.Errorf("open: Retry-After %q; want 1 (150 ms cool-down, rounded up)", ra)
	}
	if h := resp.Header.Get("X-Surge-Breaker"); h != "open" {
		t.Errorf("open: X-Surge-Breaker %q; want open", h)
	}
	if served.Load() != before {
		t.Error("open: the app served a request; want it shielded")
	}

	clock.Advance(200 * time.Millisecond)
	state(HalfOpen)
	failing.Store(false)
	if resp := get(); resp.StatusCode != 204 {
		t.Fatalf("probe: status %d; want 204", resp.StatusCode)
	}
	state(Closed)

	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP surge_target_breaker_transitions_total Circuit breaker state changes, by the state entered.
# TYPE surge_target_breaker_transitions_total counter
surge_target_breaker_transitions_total{component="app-breaker",to="closed"} 1
surge_target_breaker_transitions_total{component="app-breaker",to="half-open"} 1
surge_target_breaker_transitions_total{component="app-breaker",to="open"} 1
# HELP surge_target_rejected_total Requests or jobs the component shed, by reason.
# TYPE surge_target_rejected_total counter
surge_target_rejected_total{component="app-breaker",reason="breaker_open"} 1
# HELP surge_target_requests_total Operations the component served.
# TYPE surge_target_requests_total counter
surge_target_requests_total{component="app-breaker"} 4
`), "surge_target_breaker_transitions_total", "surge_target_rejected_total", "surge_target_requests_total"); err != nil {
		t.Error(err)
	}
}

func TestBreakerMiddlewareOutcomes(t *testing.T) {
	cfg := BreakerConfig{ConsecutiveFailures: 1, CoolDown: time.Hour, HalfOpenProbes: 1}
	tests := []struct {
		name     string
		handler  http.HandlerFunc
		isFail   func(int) bool
		wantOpen bool
	}{
		{"writes nothing", func(w http.ResponseWriter, r *http.Request) {}, nil, false},
		{"404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, nil, false},
		{"503", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }, nil, true},
		{"429 counted by IsFailureStatus", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(429) },
			func(s int) bool { return s == 429 || s >= 500 }, true},
		{"panic", func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) }, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			c.IsFailureStatus = tt.isFail
			b, _ := newTestBreaker(t, c, nil)
			func() {
				defer func() { _ = recover() }()
				serve(b.Middleware(tt.handler))
			}()
			if got := b.State() == Open; got != tt.wantOpen {
				t.Errorf("open = %v; want %v", got, tt.wantOpen)
			}
		})
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{Closed: "closed", HalfOpen: "half-open", Open: "open", 7: "State(7)"} {
		if got := s.String(); got != want {
			t.Errorf("State(%d).String() = %q; want %q", int(s), got, want)
		}
	}
}

// TestStateValues pins the values of the surge_target_breaker_state
// gauge, which reports and dashboards read.
func TestStateValues(t *testing.T) {
	for s, want := range map[State]int{Closed: 0, Open: 1, HalfOpen: 2} {
		if int(s) != want {
			t.Errorf("%v = %d; want %d", s, int(s), want)
		}
	}
}
