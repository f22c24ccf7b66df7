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
	total := metrics.NewInterval(j.Geometry, len(j.Requests))
	var idx []uint32
	sum, err := e.Run(ctx, j, time.Now().Add(20*time.Millisecond), func(iv *metrics.Interval) error {
		if err := iv.Totals().Check(); err != nil {
			t.Errorf("interval %d: %v", iv.Index, err)
		}
		idx = append(idx, iv.Index)
		return total.Merge(iv)
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return sum, total, idx
}

func TestRunSendsExactlyTheShare(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte("hello"))
	}))
	defer srv.Close()
	shares, _ := schedule.Equal(3)
	j := newJob(t, srv.URL, job{rate: 600, d: 500 * time.Millisecond, share: shares[1]})
	sum, total, idx := collect(t, New(DefaultConfig()), context.Background(), j)

	want := shares[1].Count(0, j.Schedule.Len()) // 100 of 300
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
		{"timeout before the first byte", srv.URL, Request{Method: "GET", Path: "/slow", Timeout: 50 * time.Millisecond}, metrics.TimeoutFirstByte, nil},
		{"timeout in the body", srv.URL, Request{Method: "GET", Path: "/stall-body", Timeout: 50 * time.Millisecond}, metrics.Timeout, nil},
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
func TestResponseTimeFromIntendedSend(t *testing.T) {
	var first sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first.Do(func() { time.Sleep(500 * time.Millisecond) })
	}))
	defer srv.Close()
	j := newJob(t, srv.URL, job{rate: 100, d: 300 * time.Millisecond})
	j.Limits.MaxConns = 1
	_, total, _ := collect(t, New(DefaultConfig()), context.Background(), j)
	s := total.Series[0]
	if s.Succeeded != 30 {
		t.Fatalf("succeeded %d; want 30", s.Succeeded)
	}
	// Arrival k (k = 0..29) intended at 10k ms waits until ~500 ms, so the
	// median response time is at least ~350 ms, whatever the machine load.
	if p50 := time.Duration(s.Response.ValueAtQuantile(50)); p50 < 300*time.Millisecond {
		t.Errorf("response time p50 = %v; want >= 300ms (queued behind the stall)", p50)
	} // Every arrival after the first found the one connection busy.
	if got := total.Totals().ConnWaits; got != 29 {
		t.Errorf("conn waits = %d; want 29 (every arrival after the first)", got)
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

func TestStopEarly(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(150*time.Millisecond, cancel)
	j := newJob(t, srv.URL, job{rate: 100, d: time.Hour})
	sum, total, _ := collect(t, New(DefaultConfig()), ctx, j)
	tot := total.Totals()
	if sum.Stopped != "stopped" || tot.Intended == 0 || tot.Intended > 100 {
		t.Errorf("stopped %q after %d arrivals; want stopped after a few", sum.Stopped, tot.Intended)
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
// client has a single connection. Every arrival during the freeze waits
// for it to end, so its true response time is (end of freeze − intended
// send); the measured p99 and p99.9 match that truth within 2%, while
// service time (from the moment a request got the connection) hides the
// freeze, as closed-loop tools do.
func TestFreezeMatchesAnalyticTruth(t *testing.T) {
	const (
		rate   = 50.0
		d      = 6 * time.Second
		freeze = time.Second
	)
	t0 := time.Now().Add(50 * time.Millisecond)
	fs, fe := t0.Add(2*time.Second), t0.Add(2*time.Second+freeze)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if now := time.Now(); !now.Before(fs) && now.Before(fe) {
			time.Sleep(time.Until(fe))
		}
	}))
	defer srv.Close()
	j := newJob(t, srv.URL, job{rate: rate, d: d})
	j.Limits.MaxConns = 1
	total := metrics.NewInterval(j.Geometry, 1)
	_, err := New(DefaultConfig()).Run(context.Background(), j, t0, func(iv *metrics.Interval) error { return total.Merge(iv) })
	if err != nil {
		t.Fatal(err)
	}
	s := total.Series[0]
	if s.Succeeded != j.Schedule.Len() {
		t.Fatalf("succeeded %d of %d", s.Succeeded, j.Schedule.Len())
	}
	truth := j.Geometry.New()
	for i := range j.Schedule.Len() {
		at := t0.Add(j.Schedule.At(i))
		var v time.Duration
		if !at.Before(fs) && at.Before(fe) {
			v = fe.Sub(at)
		}
		_ = truth.RecordValue(int64(v))
	}
	for _, q := range []float64{99, 99.9} {
		want, got := float64(truth.ValueAtQuantile(q)), float64(s.Response.ValueAtQuantile(q))
		t.Logf("p%v: measured %v, analytic %v, service time %v", q, time.Duration(got), time.Duration(want), time.Duration(s.Service.ValueAtQuantile(q)))
		if math.Abs(got-want) > 0.02*want {
			t.Errorf("response time p%v = %v; the analytic truth is %v (2%% tolerance)", q, time.Duration(got), time.Duration(want))
		}
	}
	if svc, resp := s.Service.ValueAtQuantile(99), s.Response.ValueAtQuantile(99); svc*10 > resp {
		t.Errorf("service time p99 %v is not far below response time p99 %v: it should hide the freeze", time.Duration(svc), time.Duration(resp))
	}
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
