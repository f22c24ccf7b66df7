package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/h1"
	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/internal/schedule"
)

// withLoops runs the test's jobs with n sender loops each.
func withLoops(t *testing.T, n int) {
	t.Helper()
	if !h1.LoopSupported {
		t.Skip("no event loop on this system")
	}
	loopsForTest = n
	t.Cleanup(func() { loopsForTest = 0 })
}

// TestLoopsPlayExactShare: three sender loops play the agent's share
// exactly — every arrival of it once, none other — each at or after its
// intended instant, and the intervals balance. Nothing here depends on
// how fast the machine is: the only bound on time is from below. Both
// timings: a precise loop polls up to the instant rather than sleeping to
// it, and must still never send before it.
func TestLoopsPlayExactShare(t *testing.T) {
	for _, tc := range []struct {
		name   string
		timing Timing
	}{{"default", TimingDefault}, {"precise", TimingPrecise}} {
		t.Run(tc.name, func(t *testing.T) { testLoopsPlayExactShare(t, tc.timing) })
	}
}

func testLoopsPlayExactShare(t *testing.T, timing Timing) {
	withLoops(t, 3)
	shares, _ := schedule.Equal(3)
	share := shares[1]
	var mu sync.Mutex
	seen := map[uint64]time.Time{}
	dup := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		i, err := strconv.ParseUint(strings.TrimPrefix(r.URL.Path, "/a/"), 10, 64)
		if err != nil {
			t.Errorf("request %s", r.URL.Path)
			return
		}
		mu.Lock()
		if _, ok := seen[i]; ok {
			dup++
		}
		seen[i] = at
		mu.Unlock()
	}))
	defer srv.Close()
	j := newJob(t, srv.URL, job{rate: 600, d: 500 * time.Millisecond, share: share,
		requests: []Request{{Name: "a", Method: "GET", Path: "/a/{{seq}}"}}})
	j.Client.Timing = timing
	t0 := time.Now().Add(20 * time.Millisecond)
	total := metrics.NewInterval(j.Geometry, 1)
	sum, err := New(DefaultConfig()).Run(context.Background(), j, t0, func(iv *metrics.Interval) error {
		if err := iv.Totals().Check(); err != nil {
			t.Errorf("interval %d: %v", iv.Index, err)
		}
		return total.Merge(iv)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := share.Count(0, j.Schedule.Len())
	c := total.Totals()
	if c.Intended != want || c.Issued != want || c.Succeeded != want || sum.InFlightAtEnd != 0 {
		t.Errorf("intended %d issued %d succeeded %d in flight %d; want %d each, none in flight", c.Intended, c.Issued, c.Succeeded, sum.InFlightAtEnd, want)
	}
	if got := total.SendLag.TotalCount(); got != int64(want) {
		t.Errorf("send-lag histogram holds %d values; want %d", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if dup != 0 || uint64(len(seen)) != want {
		t.Errorf("target saw %d distinct arrivals (%d twice); want %d once each", len(seen), dup, want)
	}
	it := share.Iter(0, j.Schedule.Len())
	for i, ok := it.Next(); ok; i, ok = it.Next() {
		at, ok := seen[i]
		if !ok {
			t.Errorf("arrival %d of the share never reached the target", i)
			continue
		}
		if intended := t0.Add(j.Schedule.At(i)); at.Before(intended) {
			t.Errorf("arrival %d reached the target %v before its intended instant", i, intended.Sub(at))
		}
		delete(seen, i)
	}
	for i := range seen {
		t.Errorf("arrival %d is not the agent's", i)
	}
}

// TestLoopsInFlightCap: the cap is the agent's, across loops: with a
// target that never answers, exactly the cap is issued and every other
// arrival is dropped with its cause.
func TestLoopsInFlightCap(t *testing.T) {
	withLoops(t, 3)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	lim := DefaultLimits()
	lim.MaxInFlight = 5
	lim.Timeout = time.Minute
	lim.Drain = 100 * time.Millisecond
	j := newJob(t, srv.URL, job{rate: 200, d: 250 * time.Millisecond, limits: lim})
	sum, total, _ := collect(t, New(DefaultConfig()), context.Background(), j)
	tot := total.Totals()
	if tot.Intended != 50 || tot.Issued != 5 || tot.Dropped != 45 || tot.DroppedBy[metrics.InFlightCap] != 45 {
		t.Errorf("totals %+v; want intended 50, issued 5, dropped 45 (in_flight_cap)", tot)
	}
	if sum.InFlightAtEnd != 5 || tot.Completed() != 0 {
		t.Errorf("in flight at end %d, completed %d; want 5 and 0", sum.InFlightAtEnd, tot.Completed())
	}
}

// TestLoopsMaxConnsSplit: loops split the connection bound; together
// they never open more than it.
func TestLoopsMaxConnsSplit(t *testing.T) {
	withLoops(t, 3)
	cc := newConnCounter(t)
	lim := runLimits()
	lim.MaxConns = 4
	j := newJob(t, cc.srv.URL, job{rate: 1000, d: 200 * time.Millisecond, limits: lim})
	_, total, _ := collect(t, New(DefaultConfig()), context.Background(), j)
	if c := total.Totals(); c.Succeeded != 200 {
		t.Errorf("succeeded %d; want 200", c.Succeeded)
	}
	// Keep-alive connections to this target are never closed by either
	// side during the run: every connection opened is counted.
	if n := cc.conns.Load(); n > 4 {
		t.Errorf("%d connections opened; want at most 4", n)
	}
}

// TestLoopsTLSRequestOnItsOwn: a request to an https URL in a job the
// loops play goes on its own goroutine, and is counted like the rest.
func TestLoopsTLSRequestOnItsOwn(t *testing.T) {
	withLoops(t, 2)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer plain.Close()
	tls := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer tls.Close()
	j := newJob(t, plain.URL, job{rate: 400, d: 250 * time.Millisecond, limits: runLimits(), requests: []Request{
		{Name: "plain", Method: "GET", Path: "/"},
		{Name: "tls", Method: "GET", URL: tls.URL + "/"},
	}})
	j.Client.InsecureSkipVerify = true
	_, total, _ := collect(t, New(DefaultConfig()), context.Background(), j)
	for k, s := range total.Series {
		if s.Intended == 0 || s.Succeeded != s.Intended {
			t.Errorf("request %d: %+v; want every arrival to succeed", k, s.Counters)
		}
	}
}

func TestLoopCount(t *testing.T) {
	tests := []struct {
		rate     float64
		maxConns int
		want     int
	}{
		{1000, 256, 1},
		{loopRate, 256, 1},
		{loopRate + 1, 256, min(2, gomaxprocs())},
		{1e7, 256, gomaxprocs()},
		{1e7, 1, 1},
	}
	for _, tc := range tests {
		j := newJob(t, "http://127.0.0.1:1", job{rate: tc.rate, d: time.Second})
		j.Limits.MaxConns = tc.maxConns
		if got := loopCount(&j); got != tc.want {
			t.Errorf("loopCount(rate %v, max conns %d) = %d; want %d", tc.rate, tc.maxConns, got, tc.want)
		}
	}
}

func gomaxprocs() int { return runtime.GOMAXPROCS(0) }

func TestUseLoops(t *testing.T) {
	base := newJob(t, "http://127.0.0.1:1", job{rate: 10, d: time.Second})
	tests := []struct {
		name string
		edit func(j *Job)
		want bool
	}{
		{"default", func(*Job) {}, h1.LoopSupported},
		{"net/http", func(j *Job) { j.Client.Impl = ImplNetHTTP }, false},
		{"HTTP/2", func(j *Job) { j.Client.Protocol = HTTP2 }, false},
		{"per request", func(j *Job) { j.Client.Mode = PerRequest }, false},
		{"redirects", func(j *Job) { j.Client.FollowRedirects = 1 }, false},
		{"https", func(j *Job) { j.Target.Scheme = "https" }, false},
	}
	for _, tc := range tests {
		j := base
		u := *base.Target
		j.Target = &u
		tc.edit(&j)
		if got := useLoops(&j); got != tc.want {
			t.Errorf("useLoops(%s) = %v; want %v", tc.name, got, tc.want)
		}
	}
}
