package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/internal/schedule"
	"github.com/surgeload/surge/internal/testnet"
)

type job struct {
	rate     float64
	d        time.Duration
	share    schedule.Share
	limits   Limits
	requests []Request
}

func newJob(t testing.TB, target string, j job) Job {
	t.Helper()
	s, err := schedule.NewConstant(schedule.Constant{Rate: j.rate, Duration: j.d}, schedule.Uniform)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	if j.share.Cycle == 0 {
		j.share = schedule.Share{Cycle: 1, Offsets: []uint32{0}}
	}
	if j.limits == (Limits{}) {
		j.limits = DefaultLimits()
		j.limits.Timeout = 5 * time.Second
		j.limits.Drain = 5 * time.Second
	}
	if j.requests == nil {
		j.requests = []Request{{Name: "get", Method: "GET", Path: "/x"}}
	}
	return Job{Target: u, Requests: j.requests, Schedule: s, Share: j.share, First: 0, End: s.Len(),
		Limits: j.limits, Interval: 100 * time.Millisecond, Geometry: metrics.DefaultGeometry()}
}

// collect runs the job and returns the summary and the merged intervals.
func collect(t *testing.T, e *Engine, ctx context.Context, j Job) (Summary, *metrics.Interval, []uint32) {
	t.Helper()
	return collectEach(t, e, ctx, j, nil)
}

// collectEach is collect that also calls each, if not nil, with every
// interval as it is emitted.
func collectEach(t *testing.T, e *Engine, ctx context.Context, j Job, each func(*metrics.Interval)) (Summary, *metrics.Interval, []uint32) {
	t.Helper()
	total := metrics.NewInterval(j.Geometry, j.seriesCount())
	var idx []uint32
	sum, err := e.Run(ctx, j, time.Now().Add(20*time.Millisecond), func(iv *metrics.Interval) error {
		if err := iv.Totals().Check(); err != nil {
			t.Errorf("interval %d: %v", iv.Index, err)
		}
		idx = append(idx, iv.Index)
		if each != nil {
			each(iv)
		}
		return total.Merge(iv)
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return sum, total, idx
}

// TestRunSendsExactlyTheShare: an agent plays exactly its share of the
// schedule and reports it in intervals aligned to T0.
//
// The last request the target gets is answered only once the engine has
// emitted interval 3 (300–400 ms): the job cannot end before that
// interval is closed, so the count of intervals below does not depend on
// whether a busy machine let the engine close interval 3 before the last
// response came back (the run's end folds whatever is left into one last
// interval).
func TestRunSendsExactlyTheShare(t *testing.T) {
	shares, _ := schedule.Equal(3)
	want := shares[1].Count(0, 300) // 100 of 300 (600/s for 500 ms)
	var hits atomic.Int64
	emitted3 := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == int64(want) {
			select {
			case <-emitted3:
			case <-r.Context().Done():
			}
		}
		w.Write([]byte("hello"))
	}))
	defer srv.Close()
	j := newJob(t, srv.URL, job{rate: 600, d: 500 * time.Millisecond, share: shares[1]})
	if j.Schedule.Len() != 300 {
		t.Fatalf("schedule of %d arrivals; want 300", j.Schedule.Len())
	}
	sum, total, idx := collectEach(t, New(DefaultConfig()), context.Background(), j, func(iv *metrics.Interval) {
		if iv.Index == 3 {
			close(emitted3)
		}
	})

	tot := total.Totals()
	if tot.Intended != want || tot.Issued != want || tot.Succeeded != want || hits.Load() != int64(want) {
		t.Errorf("intended %d issued %d succeeded %d, target saw %d; want %d each", tot.Intended, tot.Issued, tot.Succeeded, hits.Load(), want)
	}
	if sum.Totals != tot || sum.InFlightAtEnd != 0 || sum.Stopped != "" {
		t.Errorf("summary %+v does not match the intervals %+v", sum, tot)
	}
	if tot.BytesIn != 5*want {
		t.Errorf("bytes in = %d; want %d", tot.BytesIn, 5*want)
	}
	if got := total.Series[0].Response.TotalCount(); got != int64(want) {
		t.Errorf("response histogram holds %d values; want %d", got, want)
	}
	for k, i := range idx {
		if i != uint32(k) {
			t.Fatalf("interval indexes %v are not 0, 1, 2…", idx)
		}
	}
	if len(idx) < 5 {
		t.Errorf("only %d intervals for a 500 ms job at 100 ms intervals", len(idx))
	}
}

// TestInFlightCapDropsNeverDelays: a target that never answers holds every
// connection; arrivals past the cap are dropped with their cause, and what
// is outstanding when the drain time ends is in flight at the end.
func TestInFlightCapDropsNeverDelays(t *testing.T) {
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

func TestOutcomeClasses(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	mux.HandleFunc("/503", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	mux.HandleFunc("/302", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/404", http.StatusFound) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/stall-body", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/reset", func(w http.ResponseWriter, r *http.Request) {
		c, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // RST instead of FIN
		}
		c.Close()
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { w.Write(make([]byte, 4096)) })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// A port that refuses: listen, note the port, close.
	refused := "http://" + testnet.RefusedAddr(t)

	// phaseTimeout is the total timeout of the two timeout cases, and
	// which outcome they get depends on where the request is when it
	// ends: /slow must be connected and written (timeout_first_byte, not
	// timeout_connect), /stall-body must have its first bytes read
	// (timeout, not timeout_first_byte). Each of those is a loopback
	// round trip or less, but with every core busy one took more than
	// 50 ms; a second is ample for a busy machine. The target stalls until
	// the client gives up, so each case lasts about this long, whatever
	// the load.
	const phaseTimeout = time.Second

	tests := []struct {
		name   string
		target string
		req    Request
		want   metrics.Outcome
		check  func(t *testing.T, c metrics.Counters)
	}{
		{"404", srv.URL, Request{Method: "GET", Path: "/404"}, metrics.HTTP4xx, nil},
		{"503", srv.URL, Request{Method: "GET", Path: "/503"}, metrics.HTTP5xx, nil},
		{"redirect not followed", srv.URL, Request{Method: "GET", Path: "/302"}, metrics.OK, nil},
		{"timeout before the first byte", srv.URL, Request{Method: "GET", Path: "/slow", Timeout: phaseTimeout}, metrics.TimeoutFirstByte, nil},
		{"timeout in the body", srv.URL, Request{Method: "GET", Path: "/stall-body", Timeout: phaseTimeout}, metrics.Timeout, nil},
		{"reset", srv.URL, Request{Method: "GET", Path: "/reset"}, metrics.ConnReset, nil},
		{"refused", refused, Request{Method: "GET", Path: "/"}, metrics.ConnRefused, nil},
		{"dial not allowed", srv.URL, Request{Method: "GET", URL: "http://192.0.2.1:80/"}, metrics.DialError, nil},
		{"body limit", srv.URL, Request{Method: "POST", Path: "/big", Body: []byte("abc")}, metrics.OK, func(t *testing.T, c metrics.Counters) {
			if c.BodyTruncated != 4 || c.BytesIn != 4*1000 || c.BytesOut != 4*3 {
				t.Errorf("truncated %d bytes in %d out %d; want 4, 4000, 12", c.BodyTruncated, c.BytesIn, c.BytesOut)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lim := DefaultLimits()
			lim.Timeout = 5 * time.Second
			lim.Drain = 5 * time.Second
			lim.MaxBodyBytes = 1000
			j := newJob(t, tt.target, job{rate: 40, d: 100 * time.Millisecond, limits: lim, requests: []Request{tt.req}})
			_, total, _ := collect(t, New(DefaultConfig()), context.Background(), j)
			c := total.Totals()
			n := j.Schedule.Len()
			var got uint64
			if tt.want == metrics.OK {
				got = c.Succeeded
			} else {
				got = c.Errors[tt.want]
			}
			if got != n || c.Completed() != n {
				t.Errorf("%d of %d classified %v (counters %+v)", got, n, tt.want, c)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

// TestResponseTimeFromIntendedSend: with one connection, arrivals queue for
// it behind a slow request; that wait is part of their response time.
//
// The slow request is held for 500 ms and, besides, until the pacer has
// sent the last arrival (the job's Gate sees every send), so that however
// late a busy machine makes the pacer, every later arrival is sent while
// the connection is still taken.
func TestResponseTimeFromIntendedSend(t *testing.T) {
	for _, impl := range impls {
		t.Run(impl.String(), func(t *testing.T) { testResponseTimeFromIntendedSend(t, impl) })
	}
}

func testResponseTimeFromIntendedSend(t *testing.T, impl Implementation) {
	var first sync.Once
	allSent := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first.Do(func() {
			time.Sleep(500 * time.Millisecond)
			select {
			case <-allSent:
			case <-r.Context().Done():
			}
		})
	}))
	defer srv.Close()
	j := newJob(t, srv.URL, job{rate: 100, d: 300 * time.Millisecond})
	j.Limits.MaxConns = 1
	j.Client.Impl = impl
	sent := 0 // only the pacer calls the gate
	j.Gate = func() error {
		if sent++; sent == int(j.Schedule.Len()) {
			close(allSent)
		}
		return nil
	}
	_, total, _ := collect(t, New(DefaultConfig()), context.Background(), j)
	s := total.Series[0]
	if s.Succeeded != 30 {
		t.Fatalf("succeeded %d; want 30", s.Succeeded)
	}
	// Arrival k (k = 0..29) intended at 10k ms waits until ~500 ms, so the
	// median response time is at least ~350 ms, whatever the machine load.
	if p50 := time.Duration(s.Response.ValueAtQuantile(50)); p50 < 300*time.Millisecond {
		t.Errorf("response time p50 = %v; want >= 300ms (queued behind the stall)", p50)
	}
	// Every arrival after the first found the one connection busy (the
	// native client counts it; net/http does not say).
	if got := total.Totals().ConnWaits; impl == ImplNative && got != 29 {
		t.Errorf("conn waits = %d; want 29 (every arrival after the first)", got)
	}
	// They went out on the wire as late: the on-wire lag (on the wire −
	// intended) holds the wait that the send lag (dispatched − intended)
	// does not, one value per completion; each got a first byte.
	if n := total.OnWireLag.TotalCount(); n != 30 {
		t.Errorf("on-wire lag holds %d values; want 30", n)
	}
	if p50 := time.Duration(metrics.ValueAtPercentile(total.OnWireLag, 50)); p50 < 300*time.Millisecond {
		t.Errorf("on-wire lag p50 = %v; want >= 300ms (waiting for the one connection)", p50)
	}
	if n := s.TTFB.TotalCount(); n != 30 {
		t.Errorf("time to first byte holds %d values; want 30", n)
	}
}

// TestPacerNeverWaitsForTarget: the target answers nothing until every
// arrival has been sent. A generator that waited for responses before
// sending more would never get there (and the test would end at its
// bound); the open-model pacer sends them all. No timing is asserted, so
// a busy machine cannot fail this test.
func TestPacerNeverWaitsForTarget(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	lim := DefaultLimits()
	lim.Timeout = time.Minute
	lim.Drain = time.Minute
	j := newJob(t, srv.URL, job{rate: 200, d: 500 * time.Millisecond, limits: lim})
	n := j.Schedule.Len()
	var intended, completedBeforeRelease uint64
	released := false
	bound := time.AfterFunc(30*time.Second, func() { close(release) })
	defer bound.Stop()
	sum, err := New(DefaultConfig()).Run(context.Background(), j, time.Now(), func(iv *metrics.Interval) error {
		tot := iv.Totals()
		intended += tot.Intended
		if !released {
			completedBeforeRelease += tot.Completed()
			if intended == n && bound.Stop() {
				released = true
				close(release)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !released || completedBeforeRelease != 0 {
		t.Fatalf("released by the test: %v, completions before release: %d; want every arrival sent while none had an answer", released, completedBeforeRelease)
	}
	if sum.Totals.Issued != n || sum.Totals.Succeeded != n {
		t.Errorf("issued %d succeeded %d; want %d", sum.Totals.Issued, sum.Totals.Succeeded, n)
	}
}

// TestStopEarly: cancelling the context stops an hour-long job after a
// few arrivals. The cancel comes from the pacer's own goroutine (the job's
// Gate, called before every send) as the 15th arrival goes out, not after
// some wall-clock time, so how many arrivals precede it does not depend on
// how busy the machine is: the pacer checks the context before each
// later arrival.
func TestStopEarly(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const before = 15
	j := newJob(t, srv.URL, job{rate: 100, d: time.Hour})
	var calls atomic.Int64 // a gate may be called by several sender loops
	j.Gate = func() error {
		if calls.Add(1) == before {
			cancel()
		}
		return nil
	}
	sum, total, _ := collect(t, New(DefaultConfig()), ctx, j)
	tot := total.Totals()
	// At least the arrivals let through before the cancel; at most a few
	// after it: an arrival whose timer fired while the pacer was off the
	// processor races the cancel (a select picks either), so now and then
	// one more goes out.
	if sum.Stopped != "stopped" || tot.Intended < before || tot.Intended > 100 {
		t.Errorf("stopped %q after %d arrivals; want stopped after about %d", sum.Stopped, tot.Intended, before)
	}
	if tot.Issued != tot.Completed()+sum.InFlightAtEnd {
		t.Errorf("issued %d != completed %d + in flight %d", tot.Issued, tot.Completed(), sum.InFlightAtEnd)
	}
}

func TestLoopbackOnly(t *testing.T) {
	e := New(DefaultConfig())
	for _, target := range []string{"http://192.0.2.1:80", "http://[2001:db8::1]:80", "http://169.254.169.254"} {
		u, _ := url.Parse(target)
		err := e.Preflight(context.Background(), u)
		if !errors.Is(err, ErrTargetNotAllowed) {
			t.Errorf("Preflight(%s) = %v; want ErrTargetNotAllowed", target, err)
		}
	}
	u, _ := url.Parse("http://" + testnet.RefusedAddr(t))
	if err := e.Preflight(context.Background(), u); !errors.Is(err, ErrTargetUnreachable) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Preflight(closed port) = %v; want ErrTargetUnreachable: connection refused", err)
	}
	// An explicit allowlist widens the set.
	allowAll := New(Config{Allow: MustParseAllowlist("0.0.0.0/0", "::/0")})
	if err := allowAll.Preflight(context.Background(), u); errors.Is(err, ErrTargetNotAllowed) {
		t.Errorf("allow-all engine refused: %v", err)
	}
}

func TestJobValidate(t *testing.T) {
	srv := "http://127.0.0.1:1"
	good := newJob(t, srv, job{rate: 10, d: time.Second})
	mutations := map[string]func(j *Job){
		"scheme":   func(j *Job) { j.Target, _ = url.Parse("ftp://x") },
		"requests": func(j *Job) { j.Requests = nil },
		"method":   func(j *Job) { j.Requests = []Request{{Method: "G T", Path: "/"}} },
		"path":     func(j *Job) { j.Requests = []Request{{Method: "GET", Path: "x"}} },
		"range":    func(j *Job) { j.End = j.Schedule.Len() + 2 },
		"share":    func(j *Job) { j.Share = schedule.Share{} },
		"inflight": func(j *Job) { j.Limits.MaxInFlight = 0 },
		"interval": func(j *Job) { j.Interval = time.Millisecond },
		"geometry": func(j *Job) { j.Geometry.SigFigs = 9 },
	}
	for name, mutate := range mutations {
		j := good
		j.Requests = append([]Request(nil), good.Requests...)
		mutate(&j)
		if err := j.Validate(); err == nil {
			t.Errorf("%s: Validate() = nil; want an error", name)
		}
	}
	if err := good.Validate(); err != nil {
		t.Errorf("good job: %v", err)
	}
}

// TestTimeoutConnecting: a listener whose accept queue is full drops new
// SYNs, so dialling it hangs until the request times out: timeout_connect.
func TestTimeoutConnecting(t *testing.T) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil { // the smallest accept queue; never accepted
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	// Fill the accept queue.
	for range 3 {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			defer c.Close()
		}
	}
	j := newJob(t, "http://"+addr, job{rate: 40, d: 100 * time.Millisecond,
		requests: []Request{{Method: "GET", Path: "/", Timeout: 150 * time.Millisecond}}})
	_, total, _ := collect(t, New(DefaultConfig()), context.Background(), j)
	if c := total.Totals(); c.Errors[metrics.TimeoutConnect] != 4 {
		t.Errorf("errors %v; want 4 timeout_connect", c.Errors)
	}
}

// TestFreezeMatchesAnalyticTruth: the target freezes for 1 s while the
// client has a single connection. Every arrival during the freeze
// waits for it to end, so its true response time is (end of freeze −
// intended send) and more (the queue drains one request at a time); the
// measured response times match that truth, while service time (from the
// moment a request got the connection) hides the freeze, as closed-loop
// tools do.
//
// The truth is computed from what actually happened, not from the nominal
// freeze: on a busy machine the freeze starts and ends late and the queue
// behind it drains slowly, and a truth from the nominal numbers would be wrong by
// tens of milliseconds. The target records, on the monotonic clock, when
// it started and finished serving each arrival (the arrival index is in
// the path, {{seq}}), and answers arrival i with i+1 body bytes, so the
// engine's Observe hook tells which arrival each result is and when the
// engine recorded it. By causality, for every arrival i (intended at I_i):
//
//	target finished serving i − I_i  ≤  response time  ≤  recorded − I_i
//
// since the client cannot read a response before the target wrote it, and
// the engine records a result after reading it. Both bounds are observed
// events, so the check has no tolerance at all, and it holds however
// loaded the machine is: only a response time measured from some other
// instant than the intended one can fall outside. Likewise, with one
// connection the client can only have had it for i after the target
// finished the request before i, so what service time leaves out
// (response − service = connection acquired − intended) is at least
// (previous request finished − I_i): the wait for the frozen connection.
func TestFreezeMatchesAnalyticTruth(t *testing.T) {
	const (
		rate   = 50.0
		d      = 6 * time.Second
		freeze = time.Second
	)
	// The target freezes on the first request it serves from arrival
	// freezeFrom (intended 2 s after T0) on: triggered by an arrival, not
	// by a window of wall-clock time, so a stall of the whole machine
	// cannot make the target miss its freeze.
	const freezeFrom = int(2 * rate)
	t0 := time.Now().Add(50 * time.Millisecond)
	j := newJob(t, "http://127.0.0.1:1", job{rate: rate, d: d, requests: []Request{{Name: "get", Method: "GET", Path: "/a/{{seq}}"}}})
	n := int(j.Schedule.Len())

	// The target's record, by arrival index.
	type served struct {
		start, end time.Time
		frozen     bool
		times      int
	}
	var (
		mu     sync.Mutex
		record = make([]served, n)
		strays []string
		froze  atomic.Bool
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/a/"))
		if err != nil || i < 0 || i >= n {
			mu.Lock()
			strays = append(strays, r.URL.Path)
			mu.Unlock()
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		frozen := i >= freezeFrom && !froze.Swap(true)
		if frozen {
			time.Sleep(freeze)
		}
		w.Write(make([]byte, i+1)) // i+1 bytes: the result's BytesIn names the arrival
		end := time.Now()          // before the response can leave: the handler has not returned
		mu.Lock()
		record[i] = served{start: start, end: end, frozen: frozen, times: record[i].times + 1}
		mu.Unlock()
	}))
	defer srv.Close()
	j.Target, _ = url.Parse(srv.URL)
	j.Limits.MaxConns = 1

	// The engine's side: each result, and when the engine recorded it.
	type observed struct {
		res metrics.Result
		at  time.Time
		n   int
	}
	seen := make([]observed, n)
	var unknown int
	cfg := DefaultConfig()
	cfg.Observe = func(res metrics.Result) {
		at := time.Now()
		mu.Lock()
		defer mu.Unlock()
		i := int(res.BytesIn) - 1
		if i < 0 || i >= n {
			unknown++
			return
		}
		seen[i] = observed{res: res, at: at, n: seen[i].n + 1}
	}
	total := metrics.NewInterval(j.Geometry, 1)
	_, err := New(cfg).Run(context.Background(), j, t0, func(iv *metrics.Interval) error { return total.Merge(iv) })
	if err != nil {
		t.Fatal(err)
	}
	s := total.Series[0]
	if s.Succeeded != uint64(n) {
		t.Fatalf("succeeded %d of %d", s.Succeeded, n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(strays) > 0 || unknown > 0 {
		t.Fatalf("target saw paths %q, engine recorded %d results of no arrival; want only /a/0../a/%d", strays, unknown, n-1)
	}
	var frozen []int
	for i := range n {
		if record[i].times != 1 || seen[i].n != 1 {
			t.Fatalf("arrival %d: served %d times, recorded %d times; want once each", i, record[i].times, seen[i].n)
		}
		if record[i].frozen {
			frozen = append(frozen, i)
		}
	}
	// The target holds one request; the ones queued behind it reach it
	// after the freeze.
	if len(frozen) != 1 {
		t.Fatalf("arrivals %v were held by the target; want exactly one", frozen)
	}
	fsObs, feObs := record[frozen[0]].start, record[frozen[0]].end
	intended := func(i int) time.Time { return t0.Add(j.Schedule.At(uint64(i))) }

	// Serving order at the target: with one connection, one at a time.
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return record[order[a]].start.Before(record[order[b]].start) })

	lower, upper, analytic, svcUpper := j.Geometry.New(), j.Geometry.New(), j.Geometry.New(), j.Geometry.New()
	rec := func(h interface{ RecordValue(int64) error }, v time.Duration) { _ = h.RecordValue(max(int64(v), 0)) }
	var prevEnd time.Time // the latest end of a request served before this one
	bad := 0
	violation := func(format string, args ...any) {
		if bad++; bad <= 5 {
			t.Errorf(format, args...)
		}
	}
	var widest time.Duration
	for _, i := range order {
		at := intended(i)
		lo, hi, got := record[i].end.Sub(at), seen[i].at.Sub(at), seen[i].res.Response
		if got < lo || got > hi {
			violation("arrival %d: response time %v outside [%v, %v], its truth from the target's record and the engine's recording instant", i, got, lo, hi)
		}
		widest = max(widest, hi-lo)
		rec(lower, lo)
		rec(upper, hi)
		// The connection was acquired no earlier than the intended instant
		// and no earlier than the end of the request served before.
		acquiredNoEarlier := at
		if prevEnd.After(at) {
			acquiredNoEarlier = prevEnd
		}
		if hidden := got - seen[i].res.Service; hidden < acquiredNoEarlier.Sub(at) {
			violation("arrival %d: response − service = %v; want >= %v, its wait for the connection (service time must leave the wait out)", i, hidden, acquiredNoEarlier.Sub(at))
		}
		rec(svcUpper, seen[i].at.Sub(acquiredNoEarlier))
		// The analytic truth of the observed freeze: whatever reached the
		// target from the freeze's start on could not finish before its end.
		var a time.Duration
		if !record[i].start.Before(fsObs) {
			a = max(feObs.Sub(at), 0)
		}
		rec(analytic, a)
		prevEnd = later(prevEnd, record[i].end)
	}
	if bad > 5 {
		t.Errorf("%d violations in all", bad)
	}
	t.Logf("freeze observed %v (nominal %v); widest truth interval %v", feObs.Sub(fsObs), freeze, widest)

	// The recorded histograms agree: bucketing is monotonic, so the
	// per-request bounds carry over to every percentile exactly.
	for _, q := range []float64{50, 99, 99.9} {
		got := s.Response.ValueAtQuantile(q)
		lo, hi, an := lower.ValueAtQuantile(q), upper.ValueAtQuantile(q), analytic.ValueAtQuantile(q)
		svc, svcHi := s.Service.ValueAtQuantile(q), svcUpper.ValueAtQuantile(q)
		t.Logf("p%v: measured %v, truth [%v, %v], analytic (observed freeze) %v; service time %v (at most %v)", q,
			time.Duration(got), time.Duration(lo), time.Duration(hi), time.Duration(an), time.Duration(svc), time.Duration(svcHi))
		if got < lo || got > hi {
			t.Errorf("response time p%v = %v; the truth is in [%v, %v]", q, time.Duration(got), time.Duration(lo), time.Duration(hi))
		}
		if got < an {
			t.Errorf("response time p%v = %v; below the analytic truth of the observed freeze %v", q, time.Duration(got), time.Duration(an))
		}
		if svc > svcHi {
			t.Errorf("service time p%v = %v; above %v, recording instant − connection acquired no earlier than: it should hide the freeze", q, time.Duration(svc), time.Duration(svcHi))
		}
	}
	// The freeze shows in the tail as users feel it: at p99 at most
	// top = n − ⌈0.99·n⌉ + 1 values are at or above it, and the held
	// arrival and those intended in the freeze's first top−1 spacings all
	// waited for its end, so p99 is at least the observed freeze less that
	// many spacings.
	top := n - int(math.Ceil(0.99*float64(n))) + 1
	if p99, floor := time.Duration(s.Response.ValueAtQuantile(99)), feObs.Sub(fsObs)-time.Duration(top)*time.Duration(float64(time.Second)/rate); p99 < floor {
		t.Errorf("response time p99 %v does not show the observed freeze of %v; want >= %v", p99, feObs.Sub(fsObs), floor)
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func TestPreflightJobChecksAbsoluteURLs(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	e := New(DefaultConfig())
	j := newJob(t, srv.URL, job{rate: 10, d: time.Second, requests: []Request{
		{Name: "local", Method: "GET", Path: "/"},
		{Name: "templated", Method: "GET", URL: "http://192.0.2.1/{{seq}}"}, // checked at dial time only
	}})
	if err := e.PreflightJob(context.Background(), &j); err != nil {
		t.Fatalf("PreflightJob = %v; want nil", err)
	}
	j.Requests = append(j.Requests, Request{Name: "remote", Method: "GET", URL: "http://192.0.2.1/x"})
	if err := e.PreflightJob(context.Background(), &j); !errors.Is(err, ErrTargetNotAllowed) {
		t.Errorf("PreflightJob with a non-loopback absolute URL = %v; want ErrTargetNotAllowed", err)
	}
}
