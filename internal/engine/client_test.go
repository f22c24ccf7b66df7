package engine

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/metrics"
)

// impls are the HTTP/1.1 client implementations every client test runs
// against.
var impls = []Implementation{ImplNative, ImplNetHTTP}

// runClient plays n arrivals (at 200/s) of req against target with the
// given client options and returns the merged counters.
func runClient(t *testing.T, target string, o ClientOptions, n int, reqs ...Request) metrics.Counters {
	t.Helper()
	return runClientLimits(t, target, o, runLimits(), n, reqs...)
}

// runLimits are runClient's limits.
func runLimits() Limits {
	lim := DefaultLimits()
	lim.Timeout = 5 * time.Second
	lim.Drain = 5 * time.Second
	lim.MaxBodyBytes = 1000
	return lim
}

// runClientLimits is runClient with the given limits.
func runClientLimits(t *testing.T, target string, o ClientOptions, lim Limits, n int, reqs ...Request) metrics.Counters {
	t.Helper()
	j := newJob(t, target, job{rate: 200, d: time.Duration(n) * 5 * time.Millisecond, limits: lim, requests: reqs})
	j.Client = o
	_, total, _ := collect(t, New(DefaultConfig()), context.Background(), j)
	c := total.Totals()
	if c.Intended != uint64(n) || c.Issued != uint64(n) || c.Completed() != uint64(n) {
		t.Fatalf("intended %d issued %d completed %d; want %d each (counters %+v)", c.Intended, c.Issued, c.Completed(), n, c)
	}
	return c
}

// serveConns accepts loopback connections until the test ends, calling
// accepted (when not nil) in the accept loop and handle on its own
// goroutine for each connection, which is closed when handle returns. It
// returns the listener's address; the cleanup closes the listener and
// waits for every handler.
func serveConns(t *testing.T, accepted func(), handle func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() { // exits when the listener is closed
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if accepted != nil {
				accepted()
			}
			wg.Add(1)
			go func() { // exits when handle returns
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// rawServer answers every request on every connection with reply (after
// reading the request head), then closes the connection when closeAfter.
func rawServer(t *testing.T, reply string, closeAfter bool) string {
	t.Helper()
	return "http://" + serveConns(t, nil, func(c net.Conn) { // returns when the client closes or after one reply
		c.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		for {
			for { // the request head
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if line == "\r\n" {
					break
				}
			}
			if _, err := c.Write([]byte(reply)); err != nil || closeAfter {
				return
			}
		}
	})
}

func TestProtocolErrors(t *testing.T) {
	tests := []struct {
		name, reply string
		want        metrics.Outcome
	}{
		{"not HTTP", "SSH-2.0-OpenSSH_9.2\r\n\r\n", metrics.ProtocolError},
		{"bad status code", "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n", metrics.ProtocolError},
		{"conflicting lengths", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", metrics.ProtocolError},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n", metrics.ProtocolError},
		{"body cut short", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok", metrics.ConnReset},
		{"no response at all", "", metrics.ConnReset},
	}
	for _, impl := range impls {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%v/%s", impl, tt.name), func(t *testing.T) {
				target := rawServer(t, tt.reply, true)
				c := runClient(t, target, ClientOptions{Impl: impl}, 5, Request{Name: "get", Method: "GET", Path: "/"})
				if c.Errors[tt.want] != 5 {
					t.Errorf("errors %v; want 5 × %v", errorsOf(c), tt.want)
				}
			})
		}
	}
}

// TestOversizedHeaders: Surge's own client bounds a response's headers
// (64 KiB); a target that sends more is a protocol error, never memory.
func TestOversizedHeaders(t *testing.T) {
	reply := "HTTP/1.1 200 OK\r\nX-Junk: " + strings.Repeat("a", 100<<10) + "\r\nContent-Length: 0\r\n\r\n"
	target := rawServer(t, reply, true)
	c := runClient(t, target, ClientOptions{Impl: ImplNative}, 3, Request{Name: "get", Method: "GET", Path: "/"})
	if c.Errors[metrics.ProtocolError] != 3 {
		t.Errorf("errors %v; want 3 × protocol_error", errorsOf(c))
	}
}

func errorsOf(c metrics.Counters) map[string]uint64 {
	m := map[string]uint64{}
	for o, n := range c.Errors {
		if n > 0 {
			m[metrics.Outcome(o).String()] = n
		}
	}
	return m
}

func TestTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake failures are the point
	srv.StartTLS()
	defer srv.Close()
	for _, impl := range impls {
		t.Run(impl.String(), func(t *testing.T) {
			c := runClient(t, srv.URL, ClientOptions{Impl: impl}, 4, Request{Name: "get", Method: "GET", Path: "/"})
			if c.Errors[metrics.TLSError] != 4 {
				t.Errorf("untrusted certificate: errors %v; want 4 × tls_error", errorsOf(c))
			}
			c = runClient(t, srv.URL, ClientOptions{Impl: impl, InsecureSkipVerify: true}, 4, Request{Name: "get", Method: "GET", Path: "/"})
			if c.Succeeded != 4 || c.BytesIn != 8 {
				t.Errorf("insecure_skip_verify: succeeded %d bytes %d (errors %v); want 4 and 8", c.Succeeded, c.BytesIn, errorsOf(c))
			}
		})
	}
}

func TestHTTP2(t *testing.T) {
	var h2 atomic.Int64
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 {
			h2.Add(1)
		}
		w.Write([]byte("ok"))
	})
	tlsSrv := httptest.NewUnstartedServer(handler)
	tlsSrv.EnableHTTP2 = true
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	h2c := httptest.NewUnstartedServer(handler)
	h2c.Config.Protocols = new(http.Protocols)
	h2c.Config.Protocols.SetHTTP1(true)
	h2c.Config.Protocols.SetUnencryptedHTTP2(true)
	h2c.Start()
	defer h2c.Close()

	for _, tt := range []struct{ name, url string }{{"h2 over TLS", tlsSrv.URL}, {"h2c", h2c.URL}} {
		t.Run(tt.name, func(t *testing.T) {
			h2.Store(0)
			c := runClient(t, tt.url, ClientOptions{Protocol: HTTP2, InsecureSkipVerify: true}, 6, Request{Name: "get", Method: "GET", Path: "/"})
			if c.Succeeded != 6 || h2.Load() != 6 {
				t.Errorf("succeeded %d, %d over HTTP/2 (errors %v); want 6 and 6", c.Succeeded, h2.Load(), errorsOf(c))
			}
		})
	}
}

func TestRedirects(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	mux := http.NewServeMux()
	mux.HandleFunc("/a", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/b", http.StatusFound) })
	mux.HandleFunc("/b", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/c", http.StatusTemporaryRedirect) })
	mux.HandleFunc("/c", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("done")) })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path)
		mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	defer srv.Close()
	count := func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		m := map[string]int{}
		for _, s := range seen {
			m[s]++
		}
		seen = nil
		return m
	}
	for _, impl := range impls {
		t.Run(impl.String(), func(t *testing.T) {
			for _, tt := range []struct {
				follow int
				want   map[string]int
				bytes  uint64
			}{
				{0, map[string]int{"POST /a": 3}, 0},
				{1, map[string]int{"POST /a": 3, "GET /b": 3}, 0},
				{5, map[string]int{"POST /a": 3, "GET /b": 3, "GET /c": 3}, 12},
			} {
				c := runClient(t, srv.URL, ClientOptions{Impl: impl, FollowRedirects: tt.follow}, 3, Request{Name: "post", Method: "POST", Path: "/a", Body: []byte("x")})
				got := count()
				if c.Succeeded != 3 || fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("follow %d: succeeded %d, target saw %v; want 3 and %v", tt.follow, c.Succeeded, got, tt.want)
				}
				if tt.bytes > 0 && c.BytesIn < tt.bytes {
					t.Errorf("follow %d: %d bytes in; want at least the final bodies' %d", tt.follow, c.BytesIn, tt.bytes)
				}
			}
		})
	}
}

// connCounter is a server that counts connections and remote addresses.
type connCounter struct {
	srv   *httptest.Server
	conns atomic.Int64
	mu    sync.Mutex
	ips   map[string]int
	close atomic.Int64 // requests that asked for Connection: close
}

func newConnCounter(t *testing.T) *connCounter {
	cc := &connCounter{ips: map[string]int{}}
	cc.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Close {
			cc.close.Add(1)
		}
		w.Write([]byte("ok"))
	}))
	cc.srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			cc.conns.Add(1)
			ap, _ := netip.ParseAddrPort(c.RemoteAddr().String())
			cc.mu.Lock()
			cc.ips[ap.Addr().String()]++
			cc.mu.Unlock()
		}
	}
	cc.srv.Start()
	t.Cleanup(cc.srv.Close)
	return cc
}

func TestConnectionModes(t *testing.T) {
	for _, impl := range impls {
		t.Run(impl.String(), func(t *testing.T) {
			cc := newConnCounter(t)
			runClient(t, cc.srv.URL, ClientOptions{Impl: impl, Mode: PerRequest}, 20, Request{Name: "get", Method: "GET", Path: "/"})
			if cc.conns.Load() != 20 || cc.close.Load() != 20 {
				t.Errorf("per-request: %d connections, %d asked to close; want 20 and 20", cc.conns.Load(), cc.close.Load())
			}
			// Keep-alive, with at most one connection open at a time (so
			// that reuse does not depend on whether a response came back
			// before the next arrival, which a busy machine decides): the
			// one connection serves every request, where per-request mode
			// would open 20 in turn.
			cc = newConnCounter(t)
			lim := runLimits()
			lim.MaxConns = 1
			runClientLimits(t, cc.srv.URL, ClientOptions{Impl: impl}, lim, 20, Request{Name: "get", Method: "GET", Path: "/"})
			if n := cc.conns.Load(); n != 1 || cc.close.Load() != 0 {
				t.Errorf("keep-alive: %d connections for 20 requests, %d asked to close; want 1 connection reused", n, cc.close.Load())
			}
		})
	}
}

func TestSourceAddresses(t *testing.T) {
	srcs := []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")}
	for _, impl := range impls {
		t.Run(impl.String(), func(t *testing.T) {
			cc := newConnCounter(t)
			runClient(t, cc.srv.URL, ClientOptions{Impl: impl, Mode: PerRequest, SourceAddrs: srcs}, 10, Request{Name: "get", Method: "GET", Path: "/"})
			cc.mu.Lock()
			defer cc.mu.Unlock()
			got := slicesSorted(cc.ips)
			if fmt.Sprint(got) != "[127.0.0.2:5 127.0.0.3:5]" {
				t.Errorf("connections came from %v; want 5 each from 127.0.0.2 and 127.0.0.3", got)
			}
		})
	}
}

func slicesSorted(m map[string]int) []string {
	var s []string
	for k, v := range m {
		s = append(s, fmt.Sprintf("%s:%d", k, v))
	}
	slices.Sort(s)
	return s
}

// TestFirstByteTimeout: the first-byte bound applies on its own, well
// inside the total timeout.
func TestFirstByteTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	for _, impl := range impls {
		t.Run(impl.String(), func(t *testing.T) {
			c := runClient(t, srv.URL, ClientOptions{Impl: impl, FirstByteTimeout: 50 * time.Millisecond}, 4, Request{Name: "get", Method: "GET", Path: "/"})
			if c.Errors[metrics.TimeoutFirstByte] != 4 {
				t.Errorf("errors %v; want 4 × timeout_first_byte", errorsOf(c))
			}
		})
	}
}

// TestPreciseTiming: the spinning pacer plays exactly the share, like the
// default one. (How close to the instant it sends is a benchmark figure,
// not a test assertion.)
func TestPreciseTiming(t *testing.T) {
	cc := newConnCounter(t)
	lim := DefaultLimits()
	lim.Timeout, lim.Drain = 5*time.Second, 5*time.Second
	j := newJob(t, cc.srv.URL, job{rate: 2000, d: 300 * time.Millisecond, limits: lim})
	j.Client.Timing = TimingPrecise
	sum, total, _ := collect(t, New(DefaultConfig()), context.Background(), j)
	c := total.Totals()
	if c.Intended != 600 || c.Issued != 600 || c.Succeeded != 600 || sum.Stopped != "" {
		t.Errorf("counters %+v, stopped %q; want 600 intended, issued and succeeded", c, sum.Stopped)
	}
	if got := total.SendLag.TotalCount(); got != 600 {
		t.Errorf("send-lag histogram holds %d values; want 600", got)
	}
}

// TestPreciseTimingStops: a spinning pacer still stops when asked. The
// cancel is started from the job's Gate (which the pacer calls before each
// send) once some arrivals have gone out, and runs on its own goroutine,
// so it lands wherever the pacer happens to be — most often spinning
// towards the next instant. Whatever the load, once the context is done
// the pacer sends at most the arrival it was already past its checks for:
// the Gate, which runs just before each send, sees a done context at most
// once.
func TestPreciseTimingStops(t *testing.T) {
	cc := newConnCounter(t)
	j := newJob(t, cc.srv.URL, job{rate: 1000, d: time.Hour})
	j.Client.Timing = TimingPrecise
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const before = 20
	var calls, afterCancel atomic.Int64 // a gate may be called by several sender loops
	j.Gate = func() error {
		if calls.Add(1) == before {
			go cancel()
		}
		if ctx.Err() != nil {
			afterCancel.Add(1)
		}
		return nil
	}
	sum, total, _ := collect(t, New(DefaultConfig()), ctx, j)
	if issued := total.Totals().Issued; sum.Stopped != "stopped" || issued < before || afterCancel.Load() > 1 {
		t.Errorf("stopped %q after %d issued, %d sent after the cancel; want an early stop after at least %d, at most 1 after the cancel", sum.Stopped, issued, afterCancel.Load(), before)
	}
}
