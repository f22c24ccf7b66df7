package engine

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/metrics"
)

// phaseTarget is a loopback server that holds each response's first byte
// back by ttfb (then sends the head and flushes it) and its body by read
// more, and counts the connections it accepted and those of them that
// carried a request (a client may open a connection it then never uses:
// net/http dials for a waiting request, which may get an idle one first).
type phaseTarget struct {
	srv            *httptest.Server
	accepted, used atomic.Int64
}

func newPhaseTarget(t *testing.T, tls bool, ttfb, read time.Duration) *phaseTarget {
	t.Helper()
	pt := &phaseTarget{}
	pt.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(ttfb)
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		time.Sleep(read)
		w.Write([]byte("body"))
	}))
	var mu sync.Mutex
	seen := map[net.Conn]bool{}
	pt.srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			pt.accepted.Add(1)
		case http.StateActive:
			mu.Lock()
			if !seen[c] {
				seen[c] = true
				pt.used.Add(1)
			}
			mu.Unlock()
		}
	}
	if tls {
		pt.srv.StartTLS()
	} else {
		pt.srv.Start()
	}
	t.Cleanup(pt.srv.Close)
	return pt
}

// phaseCount is how many values phase p holds in s.
func phaseCount(s metrics.Series, p metrics.Phase) int64 {
	if h := s.Phases.Get(p); h != nil {
		return h.TotalCount()
	}
	return 0
}

// atLeast reports whether every value of h is at least d, within the
// histogram's resolution (3 significant digits: a bucket's lowest value
// is at most 0.1 % below any value in it).
func atLeast(h interface{ Min() int64 }, d time.Duration) bool {
	return h.Min() >= int64(d)-int64(d)/1000-1
}

// TestPhases plays requests through both clients, keep-alive and a
// connection per request, at a target that delays the first byte and the
// body by known amounts: every request has a write, a ttfb at least the
// first delay and a read at least the second; the connect times number
// exactly the connections the target accepted, and the requests that
// opened them (NewConns); DNS times come only with a host name, TLS times
// only with https.
func TestPhases(t *testing.T) {
	const (
		n         = 12
		ttfbDelay = 30 * time.Millisecond
		readDelay = 20 * time.Millisecond
	)
	for _, tt := range []struct {
		name     string
		tls      bool
		hostname bool
		mode     ConnMode
	}{
		{"ip", false, false, KeepAlive},
		{"localhost", false, true, KeepAlive},
		{"per-request", false, false, PerRequest},
		{"https", true, false, KeepAlive},
		{"https-localhost-per-request", true, true, PerRequest},
	} {
		for _, impl := range impls {
			t.Run(tt.name+"/"+impl.String(), func(t *testing.T) {
				pt := newPhaseTarget(t, tt.tls, ttfbDelay, readDelay)
				u, _ := url.Parse(pt.srv.URL)
				if tt.hostname {
					_, port, _ := net.SplitHostPort(u.Host)
					u.Host = net.JoinHostPort("localhost", port)
				}
				j := newJob(t, u.String(), job{rate: 200, d: n * 5 * time.Millisecond, limits: runLimits(),
					requests: []Request{{Name: "get", Method: "GET", Path: "/"}}})
				j.Client = ClientOptions{Impl: impl, Mode: tt.mode, InsecureSkipVerify: tt.tls}
				cfg := DefaultConfig()
				var mu sync.Mutex
				var results []metrics.Result
				cfg.Observe = func(res metrics.Result) {
					mu.Lock()
					results = append(results, res)
					mu.Unlock()
				}
				_, total, _ := collect(t, New(cfg), context.Background(), j)
				// Per request: the first byte came no sooner than the
				// target's first delay after the request went out, and
				// the body no sooner than both delays (the first byte's
				// instant is when the client saw it, maybe late on a busy
				// machine: read alone may be short of the second delay by
				// as much as ttfb is over the first).
				mu.Lock()
				for k, res := range results {
					if !res.HasTTFB || !res.Timed.Has(metrics.PhaseWrite) || !res.Timed.Has(metrics.PhaseRead) {
						t.Fatalf("request %d: ttfb %v, phases %b; want ttfb, write and read", k, res.HasTTFB, res.Timed)
					}
					if res.TTFB < ttfbDelay || res.TTFB+res.Phase[metrics.PhaseRead] < ttfbDelay+readDelay {
						t.Errorf("request %d: ttfb %v, read %v; want ttfb >= %v and ttfb + read >= %v", k, res.TTFB, res.Phase[metrics.PhaseRead], ttfbDelay, ttfbDelay+readDelay)
					}
					if res.Phase[metrics.PhaseWrite] < 0 || res.Phase[metrics.PhaseWrite] > res.TTFB {
						t.Errorf("request %d: write %v; want within [0, ttfb %v]", k, res.Phase[metrics.PhaseWrite], res.TTFB)
					}
					if res.Timed.Has(metrics.PhaseConnect) != res.NewConn {
						t.Errorf("request %d: connect timed %v, new connection %v; want both or neither", k, res.Timed.Has(metrics.PhaseConnect), res.NewConn)
					}
				}
				mu.Unlock()
				s := total.Series[0]
				if s.Succeeded != n {
					t.Fatalf("succeeded %d of %d (errors %v)", s.Succeeded, n, errorsOf(s.Counters))
				}
				accepted := pt.used.Load()
				if accepted < 1 || int64(s.NewConns) != accepted {
					t.Errorf("NewConns = %d; want the %d connections that carried requests (%d accepted)", s.NewConns, accepted, pt.accepted.Load())
				}
				if tt.mode == PerRequest && accepted != n {
					t.Errorf("a connection per request: target accepted %d connections; want %d", accepted, n)
				}
				want := map[metrics.Phase]int64{metrics.PhaseConnect: accepted, metrics.PhaseWrite: n, metrics.PhaseRead: n}
				if tt.hostname {
					want[metrics.PhaseDNS] = accepted
				}
				if tt.tls {
					want[metrics.PhaseTLS] = accepted
				}
				for p := range metrics.NumPhases {
					if got := phaseCount(s, p); got != want[p] {
						t.Errorf("%v: %d values; want %d", p, got, want[p])
					}
				}
				if got := s.TTFB.TotalCount(); got != n {
					t.Errorf("ttfb: %d values; want %d", got, n)
				}
				if !atLeast(s.TTFB, ttfbDelay) {
					t.Errorf("ttfb min = %v; want >= %v (the target's delay)", time.Duration(s.TTFB.Min()), ttfbDelay)
				}
			})
		}
	}
}
