package h1

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestKeepAliveReuse(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+r.URL.Path)
	}))
	defer srv.Close()
	c := New(Config{})
	defer c.Close()
	tgt := Target{Addr: srv.Listener.Addr().String()}
	const n = 20
	for i := range n {
		uri := fmt.Sprintf("/%d", i)
		res, err := c.Do(tgt, &Request{Method: "GET", URI: uri, Host: "example.test"}, deadline(5*time.Second))
		if err != nil {
			t.Fatalf("Do #%d: %v", i, err)
		}
		if res.Status != 200 || res.BodyBytes != int64(len("hello "+uri)) || res.Phase != PhaseDone || res.NewConn != (i == 0) || res.ConnAt.IsZero() {
			t.Fatalf("Do #%d = %+v", i, res)
		}
	}
	if s := c.Stats(); s.Dials != 1 || s.Reuses != n-1 || s.Open != 1 {
		t.Errorf("after %d sequential requests Stats = %+v; want 1 dial, %d reuses, 1 open", n, s, n-1)
	}
}

// TestRequestWire checks the bytes written for a request.
func TestRequestWire(t *testing.T) {
	got := make(chan string, 1)
	srv := newRawServer(t, func(c net.Conn, done <-chan struct{}) {
		var rec strings.Builder
		br := bufio.NewReader(io.TeeReader(c, &rec))
		for {
			r, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, r.Body)
			got <- rec.String()
			rec.Reset()
			io.WriteString(c, okResponse)
		}
	})
	c := New(Config{})
	defer c.Close()
	for _, tc := range []struct {
		name string
		req  Request
		want string
	}{
		{"defaults", Request{}, "GET / HTTP/1.1\r\nHost: " + srv.addr + "\r\n\r\n"},
		{"headers as given", Request{Method: "GET", URI: "/a?b=c", Host: "h.test", Header: []Header{{"x-lower", "v"}, {"Accept", ""}, {"X-Tab", "a\tb"}}},
			"GET /a?b=c HTTP/1.1\r\nHost: h.test\r\nx-lower: v\r\nAccept: \r\nX-Tab: a\tb\r\n\r\n"},
		{"POST with body", Request{Method: "POST", URI: "/items", Host: "h", Body: []byte(`{"n":1}`)},
			"POST /items HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n\r\n{\"n\":1}"},
		{"POST without body", Request{Method: "POST", URI: "/", Host: "h"}, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"},
		{"GET with empty body", Request{Method: "GET", URI: "/", Host: "h", Body: []byte{}}, "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"},
	} {
		res, err := c.Do(srv.target(), &tc.req, deadline(5*time.Second))
		if err != nil {
			t.Fatalf("%s: Do: %v", tc.name, err)
		}
		if w := <-got; w != tc.want {
			t.Errorf("%s: wrote %q; want %q", tc.name, w, tc.want)
		}
		if res.BytesOut != int64(len(tc.want)) {
			t.Errorf("%s: BytesOut = %d; want %d", tc.name, res.BytesOut, len(tc.want))
		}
	}
}

func TestInvalidRequest(t *testing.T) {
	c := New(Config{})
	defer c.Close()
	for _, req := range []Request{
		{Method: "GE T"},
		{Method: "GET\r\n"},
		{URI: "/a b"},
		{URI: "/a\r\nX: y"},
		{Host: "h\r\nX: y"},
		{Header: []Header{{"X-A", "v\r\nX-B: w"}}},
		{Header: []Header{{"X A", "v"}}},
		{Header: []Header{{"", "v"}}},
		{Header: []Header{{"host", "v"}}},
		{Header: []Header{{"Content-Length", "1"}}},
		{Header: []Header{{"TRANSFER-ENCODING", "chunked"}}},
		{Header: []Header{{"Connection", "close"}}},
	} {
		res, err := c.Do(Target{Addr: "127.0.0.1:1"}, &req, Options{})
		if !errors.Is(err, ErrInvalidRequest) || res.Phase != PhaseWrite {
			t.Errorf("Do(%+v) = phase %v, %v; want %v", req, res.Phase, err, ErrInvalidRequest)
		}
	}
	if s := c.Stats(); s.Dials+s.DialErrors != 0 {
		t.Errorf("invalid requests dialled: %+v", s)
	}
}

// blockingServer reads requests and sends each URI to got, then answers
// only when release is signalled.
func blockingServer(t *testing.T) (srv *rawServer, got chan string, release chan struct{}) {
	got = make(chan string, 16)
	release = make(chan struct{})
	srv = newRawServer(t, func(c net.Conn, done <-chan struct{}) {
		readRequests(c, func(r *http.Request) bool {
			got <- r.URL.Path
			select {
			case <-release:
			case <-done:
				return false
			}
			_, err := io.WriteString(c, okResponse)
			return err == nil
		})
	})
	return srv, got, release
}

func TestMaxConnsPerHostFIFO(t *testing.T) {
	srv, got, release := blockingServer(t)
	c := New(Config{MaxConnsPerHost: 1})
	defer c.Close()
	tgt := srv.target()

	type done struct {
		name string
		res  Result
		err  error
	}
	results := make(chan done, 3)
	do := func(name string) {
		res, err := c.Do(tgt, &Request{URI: "/" + name}, deadline(10*time.Second))
		results <- done{name, res, err}
	}
	go do("a")
	if p := <-got; p != "/a" {
		t.Fatalf("server got %s first; want /a", p)
	}
	go do("b")
	waitFor(t, "b to wait", func() bool { return c.waiting(tgt) == 1 })
	go do("c")
	waitFor(t, "c to wait", func() bool { return c.waiting(tgt) == 2 })

	for _, want := range []string{"/b", "/c"} {
		release <- struct{}{}
		if p := <-got; p != want {
			t.Fatalf("server got %s next; want %s (FIFO)", p, want)
		}
	}
	release <- struct{}{}
	for range 3 {
		d := <-results
		if d.err != nil || d.res.Status != 200 {
			t.Errorf("Do(/%s) = %+v, %v", d.name, d.res, d.err)
		}
		if d.res.NewConn != (d.name == "a") {
			t.Errorf("Do(/%s).NewConn = %v", d.name, d.res.NewConn)
		}
	}
	if s := c.Stats(); s.Dials != 1 || s.Waits != 2 || s.Open != 1 {
		t.Errorf("Stats = %+v; want 1 dial, 2 waits, 1 open", s)
	}
}

func TestPoolWaitTimeout(t *testing.T) {
	srv, got, release := blockingServer(t)
	c := New(Config{MaxConnsPerHost: 1})
	defer c.Close()
	tgt := srv.target()
	first := make(chan error, 1)
	go func() {
		_, err := c.Do(tgt, &Request{URI: "/a"}, deadline(10*time.Second))
		first <- err
	}()
	<-got

	opt := deadline(10 * time.Second)
	opt.ConnectDeadline = time.Now().Add(50 * time.Millisecond)
	res, err := c.Do(tgt, &Request{URI: "/b"}, opt)
	if !errors.Is(err, os.ErrDeadlineExceeded) || res.Phase != PhaseConnect || !res.ConnAt.IsZero() {
		t.Fatalf("Do while the only connection is busy = %+v, %v; want a connect-phase timeout", res, err)
	}
	if n := c.waiting(tgt); n != 0 {
		t.Fatalf("%d waiters left after the timeout", n)
	}
	release <- struct{}{}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	// The pool still works, on the same connection.
	go func() { <-got; release <- struct{}{} }()
	if _, err := c.Do(tgt, &Request{URI: "/c"}, deadline(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.Dials != 1 {
		t.Errorf("Stats = %+v; want 1 dial", s)
	}
}

func TestPerRequest(t *testing.T) {
	var mu sync.Mutex
	var closes []bool
	srv := newRawServer(t, func(c net.Conn, done <-chan struct{}) {
		readRequests(c, func(r *http.Request) bool {
			mu.Lock()
			closes = append(closes, r.Close)
			mu.Unlock()
			_, err := io.WriteString(c, okResponse) // keep-alive: the client must close
			return err == nil
		})
	})
	c := New(Config{PerRequest: true})
	defer c.Close()
	const n = 5
	for i := range n {
		res, err := c.Do(srv.target(), &Request{URI: "/"}, deadline(5*time.Second))
		if err != nil || !res.NewConn {
			t.Fatalf("Do #%d = %+v, %v", i, res, err)
		}
	}
	if a := srv.accepted.Load(); a != n {
		t.Errorf("server accepted %d connections for %d requests", a, n)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, cl := range closes {
		if !cl {
			t.Errorf("request %d without Connection: close", i)
		}
	}
	if s := c.Stats(); s.Dials != n || s.Reuses != 0 || s.Open != 0 {
		t.Errorf("Stats = %+v; want %d dials, nothing open", s, n)
	}
}

func TestSourceAddrs(t *testing.T) {
	var mu sync.Mutex
	var remotes []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		mu.Lock()
		remotes = append(remotes, host)
		mu.Unlock()
	}))
	defer srv.Close()
	if ln, err := net.Listen("tcp", "127.0.0.2:0"); err != nil {
		t.Skipf("127.0.0.2 is not local here: %v", err)
	} else {
		ln.Close()
	}
	c := New(Config{PerRequest: true, SourceAddrs: []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")}})
	defer c.Close()
	for i := range 4 {
		if _, err := c.Do(Target{Addr: srv.Listener.Addr().String()}, &Request{}, deadline(5*time.Second)); err != nil {
			t.Fatalf("Do #%d: %v", i, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(remotes, " "); got != "127.0.0.2 127.0.0.3 127.0.0.2 127.0.0.3" {
		t.Errorf("server saw requests from %s; want 127.0.0.2 and 127.0.0.3 in turn", got)
	}
}

func TestControlRefuses(t *testing.T) {
	srv := newRawServer(t, serveCanned([]byte(okResponse)))
	errDenied := errors.New("not on the allowlist")
	var saw string
	c := New(Config{Control: func(network, address string, _ syscall.RawConn) error {
		saw = network + " " + address
		return errDenied
	}})
	defer c.Close()
	res, err := c.Do(srv.target(), &Request{}, deadline(5*time.Second))
	if !errors.Is(err, errDenied) || res.Phase != PhaseConnect {
		t.Fatalf("Do = %+v, %v; want the Control error in the connect phase", res, err)
	}
	if want := "tcp4 " + srv.addr; saw != want {
		t.Errorf("Control saw %q; want %q", saw, want)
	}
	if s := c.Stats(); s.Dials != 0 || s.DialErrors != 1 || s.Open != 0 {
		t.Errorf("Stats = %+v", s)
	}
	if a := srv.accepted.Load(); a != 0 {
		t.Errorf("server accepted %d connections", a)
	}
}

func TestConnRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := New(Config{MaxConnsPerHost: 1})
	defer c.Close()
	for range 2 { // the failed dial frees its slot
		res, err := c.Do(Target{Addr: addr}, &Request{}, deadline(5*time.Second))
		if !errors.Is(err, syscall.ECONNREFUSED) || res.Phase != PhaseConnect {
			t.Fatalf("Do = %+v, %v; want ECONNREFUSED in the connect phase", res, err)
		}
	}
}

func TestResetMidBody(t *testing.T) {
	srv := newRawServer(t, func(c net.Conn, done <-chan struct{}) {
		readRequests(c, func(*http.Request) bool {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n0123456789")
			c.(*net.TCPConn).SetLinger(0) // close with RST
			return false
		})
	})
	c := New(Config{})
	defer c.Close()
	res, err := c.Do(srv.target(), &Request{}, deadline(5*time.Second))
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Do = %+v, %v; want a reset", res, err)
	}
	// Linux keeps received data readable after a reset, so the head and
	// the first bytes of the body are read before the error.
	if res.Phase != PhaseBody || res.Status != 200 {
		t.Errorf("Do = %+v; want status 200, failed in the body phase", res)
	}
	if s := c.Stats(); s.Open != 0 {
		t.Errorf("Stats = %+v; want the connection closed", s)
	}
}

// hangServer reads requests and sends each URI to got, writes prefix, and
// then sends nothing more.
func hangServer(t *testing.T, prefix string) (*rawServer, chan string) {
	got := make(chan string, 16)
	srv := newRawServer(t, func(c net.Conn, done <-chan struct{}) {
		readRequests(c, func(r *http.Request) bool {
			io.WriteString(c, prefix)
			got <- r.URL.Path
			<-done
			return false
		})
	})
	return srv, got
}

// phaseBound is the deadline of the tests that check in which phase a
// request times out. Before it passes, the client must have done the
// earlier phases: dialled and written (a first-byte timeout, not a connect
// one), or read the first bytes the server sends at once (a body timeout).
// Those take a loopback round trip or less, but with every core busy one
// took over 50 ms; a second is ample for a busy machine. The servers never
// finish their answers, so each of these requests lasts this long.
const phaseBound = time.Second

func TestFirstByteTimeout(t *testing.T) {
	srv, _ := hangServer(t, "")
	c := New(Config{})
	defer c.Close()
	in := func(d time.Duration) time.Time { return time.Now().Add(d) }
	cases := []struct {
		name string
		opt  func() Options
	}{
		{"deadline", func() Options {
			return Options{Deadline: in(time.Minute), FirstByteDeadline: in(phaseBound)}
		}},
		{"timeout", func() Options { return Options{Deadline: in(time.Minute), FirstByteTimeout: phaseBound} }},
		{"total deadline", func() Options {
			return Options{Deadline: in(phaseBound), FirstByteDeadline: in(time.Minute)}
		}},
	}
	// At once, on three connections, so the test lasts one phaseBound.
	var wg sync.WaitGroup
	for _, tc := range cases {
		wg.Go(func() {
			res, err := c.Do(srv.target(), &Request{}, tc.opt())
			if !errors.Is(err, os.ErrDeadlineExceeded) || res.Phase != PhaseFirstByte || res.ConnAt.IsZero() {
				t.Errorf("%s: Do = %+v, %v; want a first-byte timeout", tc.name, res, err)
			}
		})
	}
	wg.Wait()
	if s := c.Stats(); s.Open != 0 {
		t.Errorf("Stats = %+v; want timed-out connections closed", s)
	}
}

func TestBodyTimeout(t *testing.T) {
	srv, _ := hangServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
	c := New(Config{})
	defer c.Close()
	// The first byte arrives in time; after it the total deadline applies.
	opt := Options{Deadline: time.Now().Add(phaseBound), FirstByteDeadline: time.Now().Add(time.Minute)}
	res, err := c.Do(srv.target(), &Request{}, opt)
	if !errors.Is(err, os.ErrDeadlineExceeded) || res.Phase != PhaseBody || res.Status != 200 || res.BodyBytes != 3 {
		t.Errorf("Do = %+v, %v; want a body timeout after 3 bytes", res, err)
	}
}

func TestDeadlinePassed(t *testing.T) {
	srv := newRawServer(t, serveCanned([]byte(okResponse)))
	c := New(Config{})
	defer c.Close()
	if _, err := c.Do(srv.target(), &Request{}, deadline(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	res, err := c.Do(srv.target(), &Request{}, Options{Deadline: time.Now().Add(-time.Second)})
	if !errors.Is(err, os.ErrDeadlineExceeded) || res.Phase != PhaseConnect || res.BytesOut != 0 {
		t.Errorf("Do past its deadline = %+v, %v; want a connect-phase timeout before writing", res, err)
	}
	// Nothing was written, so the connection stays usable.
	if _, err := c.Do(srv.target(), &Request{}, deadline(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.Dials != 1 {
		t.Errorf("Stats = %+v; want 1 dial", s)
	}
}

func TestNotReused(t *testing.T) {
	for _, tc := range []struct {
		name, resp string
		opt        Options
	}{
		{"Connection: close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", Options{}},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", Options{}},
		{"truncated", "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n01234567890123456789", Options{MaxBody: 10}},
		{"unsolicited bytes", okResponse + "JUNK", Options{}},
		{"TE and CL", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n2\r\nok\r\n0\r\n\r\n", Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRawServer(t, serveCanned([]byte(tc.resp)))
			c := New(Config{})
			defer c.Close()
			for i := range 3 {
				tc.opt.Deadline = time.Now().Add(5 * time.Second)
				res, err := c.Do(srv.target(), &Request{}, tc.opt)
				if err != nil || res.Status != 200 || !res.NewConn {
					t.Fatalf("Do #%d = %+v, %v; want 200 on a new connection", i, res, err)
				}
			}
			if s := c.Stats(); s.Dials != 3 || s.Open != 0 {
				t.Errorf("Stats = %+v; want 3 dials, none open", s)
			}
		})
	}
}

func TestMalformedResponse(t *testing.T) {
	srv := newRawServer(t, serveCanned([]byte("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nok")))
	c := New(Config{})
	defer c.Close()
	res, err := c.Do(srv.target(), &Request{}, deadline(5*time.Second))
	if !errors.Is(err, ErrMalformed) || res.Phase != PhaseBody {
		t.Fatalf("Do = %+v, %v; want ErrMalformed", res, err)
	}
	if s := c.Stats(); s.Open != 0 {
		t.Errorf("Stats = %+v; want the connection closed", s)
	}
}

func TestStaleIdleConn(t *testing.T) {
	closed := make(chan struct{}, 4)
	srv := newRawServer(t, func(c net.Conn, done <-chan struct{}) {
		readRequests(c, func(*http.Request) bool {
			io.WriteString(c, okResponse) // promises keep-alive…
			return false                  // …and closes the connection anyway
		})
		c.Close()
		closed <- struct{}{}
	})
	c := New(Config{IdleCheck: time.Nanosecond})
	defer c.Close()
	tgt := srv.target()
	if _, err := c.Do(tgt, &Request{}, deadline(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	<-closed
	cn := idleConn(c, tgt)
	if cn == nil {
		t.Fatal("no idle connection after the first request")
	}
	waitFor(t, "the FIN to reach the client", func() bool { return !cn.alive() })

	res, err := c.Do(tgt, &Request{}, deadline(5*time.Second))
	if err != nil || !res.NewConn {
		t.Fatalf("Do after the server closed the idle connection = %+v, %v; want success on a new connection", res, err)
	}
	if s := c.Stats(); s.Dials != 2 || s.Stale != 1 {
		t.Errorf("Stats = %+v; want 2 dials, 1 stale", s)
	}
}

func TestIdleCheckKeepsLiveConn(t *testing.T) {
	srv := newRawServer(t, serveCanned([]byte(okResponse)))
	c := New(Config{IdleCheck: time.Nanosecond})
	defer c.Close()
	for i := range 5 {
		opt := Options{Deadline: time.Now().Add(5 * time.Second)}
		if i == 2 {
			// A passed read deadline must not fail the check.
			opt = Options{Deadline: time.Now().Add(time.Millisecond)}
			time.Sleep(2 * time.Millisecond)
			opt.Deadline = time.Now().Add(5 * time.Second)
		}
		if _, err := c.Do(srv.target(), &Request{}, opt); err != nil {
			t.Fatalf("Do #%d: %v", i, err)
		}
	}
	if s := c.Stats(); s.Dials != 1 || s.Stale != 0 {
		t.Errorf("Stats = %+v; want 1 dial", s)
	}
}

func TestIdleTimeout(t *testing.T) {
	srv := newRawServer(t, serveCanned([]byte(okResponse)))
	c := New(Config{IdleTimeout: time.Nanosecond, IdleCheck: -1})
	defer c.Close()
	for range 3 {
		if _, err := c.Do(srv.target(), &Request{}, deadline(5*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if s := c.Stats(); s.Dials != 3 || s.Expired != 2 || s.Open != 1 {
		t.Errorf("Stats = %+v; want 3 dials, 2 expired, 1 open", s)
	}
}

func TestTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secure")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are the point
	srv.StartTLS()
	defer srv.Close()
	tgt := Target{Addr: srv.Listener.Addr().String(), TLS: true}

	t.Run("unknown CA", func(t *testing.T) {
		c := New(Config{})
		defer c.Close()
		res, err := c.Do(tgt, &Request{}, deadline(5*time.Second))
		var verr *tls.CertificateVerificationError
		if !errors.As(err, &verr) || res.Phase != PhaseConnect {
			t.Fatalf("Do without the server's CA = %+v, %v; want a verification error", res, err)
		}
		if s := c.Stats(); s.Open != 0 {
			t.Errorf("Stats = %+v; want the connection closed", s)
		}
	})

	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	t.Run("keep-alive", func(t *testing.T) {
		c := New(Config{TLS: &tls.Config{RootCAs: roots}})
		defer c.Close()
		for i := range 5 {
			res, err := c.Do(tgt, &Request{}, deadline(5*time.Second))
			if err != nil || res.Status != 200 || res.BodyBytes != 6 {
				t.Fatalf("Do #%d = %+v, %v", i, res, err)
			}
		}
		if s := c.Stats(); s.Dials != 1 || s.Reuses != 4 {
			t.Errorf("Stats = %+v; want 1 dial", s)
		}
	})
	t.Run("resumption", func(t *testing.T) {
		c := New(Config{TLS: &tls.Config{RootCAs: roots}, PerRequest: true})
		defer c.Close()
		for i := range 3 {
			if res, err := c.Do(tgt, &Request{}, deadline(5*time.Second)); err != nil || res.Status != 200 {
				t.Fatalf("Do #%d = %+v, %v", i, res, err)
			}
		}
		if s := c.Stats(); s.Dials != 3 || s.Resumed != 2 {
			t.Errorf("Stats = %+v; want 3 dials, the last 2 resumed", s)
		}
	})
	t.Run("server name", func(t *testing.T) {
		// The test certificate is for example.com (and 127.0.0.1).
		c := New(Config{TLS: &tls.Config{RootCAs: roots}})
		defer c.Close()
		named := tgt
		named.ServerName = "example.com"
		if _, err := c.Do(named, &Request{Host: "example.com"}, deadline(5*time.Second)); err != nil {
			t.Fatal(err)
		}
		named.ServerName = "other.test"
		if _, err := c.Do(named, &Request{}, deadline(5*time.Second)); err == nil {
			t.Fatal("Do with a server name the certificate lacks succeeded")
		}
	})
}

func TestTLSHandshakeTimeout(t *testing.T) {
	srv := newRawServer(t, func(_ net.Conn, done <-chan struct{}) { <-done }) // never answers the ClientHello
	c := New(Config{})
	defer c.Close()
	tgt := srv.target()
	tgt.TLS = true
	opt := Options{Deadline: time.Now().Add(time.Minute), ConnectDeadline: time.Now().Add(50 * time.Millisecond)}
	res, err := c.Do(tgt, &Request{}, opt)
	if !errors.Is(err, os.ErrDeadlineExceeded) || res.Phase != PhaseConnect {
		t.Fatalf("Do = %+v, %v; want a connect-phase timeout", res, err)
	}
}

func TestDialTimeout(t *testing.T) {
	srv := newRawServer(t, serveCanned([]byte(okResponse)))
	c := New(Config{})
	defer c.Close()
	opt := Options{Deadline: time.Now().Add(time.Minute), ConnectDeadline: time.Now().Add(-time.Millisecond)}
	res, err := c.Do(srv.target(), &Request{}, opt)
	if !errors.Is(err, os.ErrDeadlineExceeded) || res.Phase != PhaseConnect {
		t.Fatalf("Do = %+v, %v; want a connect-phase timeout", res, err)
	}
}

func TestCloseInFlight(t *testing.T) {
	srv, got := hangServer(t, "")
	c := New(Config{})
	type done struct {
		res Result
		err error
	}
	ch := make(chan done, 1)
	go func() {
		res, err := c.Do(srv.target(), &Request{}, deadline(time.Minute))
		ch <- done{res, err}
	}()
	<-got
	c.Close()
	d := <-ch
	if !errors.Is(d.err, ErrClosed) || d.res.Phase != PhaseFirstByte {
		t.Errorf("in-flight Do at Close = %+v, %v; want ErrClosed", d.res, d.err)
	}
	res, err := c.Do(srv.target(), &Request{}, deadline(time.Minute))
	if err != ErrClosed || res.Phase != PhaseConnect {
		t.Errorf("Do after Close = %+v, %v; want ErrClosed", res, err)
	}
	c.Close() // idempotent
	if s := c.Stats(); s.Open != 0 {
		t.Errorf("Stats = %+v; want nothing open", s)
	}
}

func TestCloseWaiters(t *testing.T) {
	srv, got, _ := blockingServer(t)
	c := New(Config{MaxConnsPerHost: 1})
	tgt := srv.target()
	errs := make(chan error, 3)
	phases := make(chan Phase, 3)
	do := func() {
		res, err := c.Do(tgt, &Request{}, deadline(time.Minute))
		phases <- res.Phase
		errs <- err
	}
	go do()
	<-got
	go do()
	go do()
	waitFor(t, "two waiters", func() bool { return c.waiting(tgt) == 2 })
	c.Close()
	for range 3 {
		if err := <-errs; !errors.Is(err, ErrClosed) {
			t.Errorf("Do at Close: %v; want ErrClosed", err)
		}
	}
	n := 0
	for range 3 {
		if <-phases == PhaseConnect {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d calls failed in the connect phase; want the 2 waiters", n)
	}
}

func TestConcurrent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 100))
	}))
	defer srv.Close()
	const maxConns = 4
	c := New(Config{MaxConnsPerHost: maxConns})
	defer c.Close()
	tgt := Target{Addr: srv.Listener.Addr().String()}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 50 {
				res, err := c.Do(tgt, &Request{URI: "/"}, deadline(10*time.Second))
				if err != nil || res.Status != 200 || res.BodyBytes != 100 {
					t.Errorf("goroutine %d Do #%d = %+v, %v", g, i, res, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if s := c.Stats(); s.Dials > maxConns || s.Open > maxConns || s.Reuses != 16*50-s.Dials {
		t.Errorf("Stats = %+v; want at most %d connections", s, maxConns)
	}
}

// TestZeroAllocs: a keep-alive request with a static Request and a
// Content-Length response allocates nothing (client and the canned server
// together).
func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	srv := newRawServer(t, serveCanned([]byte(okResponse)))
	c := New(Config{})
	defer c.Close()
	tgt := srv.target()
	req := &Request{Method: "GET", URI: "/items/1", Host: "example.test", Header: []Header{{"Accept", "application/json"}}}
	var err error
	do := func() {
		var res Result
		if res, err = c.Do(tgt, req, Options{Deadline: time.Now().Add(5 * time.Second), FirstByteTimeout: time.Second, MaxBody: 1 << 20}); err == nil && res.Status != 200 {
			err = fmt.Errorf("status %d", res.Status)
		}
	}
	do()
	if allocs := testing.AllocsPerRun(1000, do); allocs != 0 || err != nil {
		t.Errorf("keep-alive Do: %v allocations per request (err %v); want 0", allocs, err)
	}
	if s := c.Stats(); s.Dials != 1 {
		t.Errorf("Stats = %+v; want 1 dial", s)
	}
}

// TestTLSCloseNotify: a server that closes with close_notify right after
// each response. The alert usually arrives in the same read as the
// response, which bufio.Reader keeps as a pending EOF: the connection must
// not be pooled. When it arrives later, the idle check finds it.
func TestTLSCloseNotify(t *testing.T) {
	hts := httptest.NewTLSServer(http.NotFoundHandler()) // for its certificate
	certs := hts.TLS.Certificates
	roots := x509.NewCertPool()
	roots.AddCert(hts.Certificate())
	hts.Close()

	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: certs})
	if err != nil {
		t.Fatal(err)
	}
	handled := make(chan struct{}, 8)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer ln.Close()
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer func() { handled <- struct{}{} }()
				defer c.Close() // close_notify right after the response
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				io.WriteString(c, okResponse)
			})
		}
	})
	c := New(Config{TLS: &tls.Config{RootCAs: roots}, IdleCheck: time.Nanosecond})
	defer c.Close()
	tgt := Target{Addr: ln.Addr().String(), TLS: true}
	for i := range 3 {
		res, err := c.Do(tgt, &Request{}, deadline(5*time.Second))
		if err != nil || !res.NewConn {
			t.Fatalf("Do #%d = %+v, %v; want success on a new connection", i, res, err)
		}
		<-handled
		waitFor(t, "the close_notify to reach the client", func() bool {
			cn := idleConn(c, tgt)
			return cn == nil || !cn.alive()
		})
	}
}

// TestPoolStress mixes pool waits that time out, connections the server
// closes, and reuse, then checks that no slot leaked.
func TestPoolStress(t *testing.T) {
	var n sync.Mutex
	count := 0
	srv := newRawServer(t, func(c net.Conn, _ <-chan struct{}) {
		readRequests(c, func(*http.Request) bool {
			n.Lock()
			count++
			closeIt := count%3 == 0
			n.Unlock()
			if closeIt {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
				return false
			}
			_, err := io.WriteString(c, okResponse)
			return err == nil
		})
	})
	const maxConns = 2
	c := New(Config{MaxConnsPerHost: maxConns, IdleCheck: time.Nanosecond})
	defer c.Close()
	tgt := srv.target()
	var wg sync.WaitGroup
	var mu sync.Mutex
	outcomes := map[string]int{}
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				opt := deadline(10 * time.Second)
				opt.ConnectDeadline = time.Now().Add(time.Duration((g*200+i)%5) * 500 * time.Microsecond)
				res, err := c.Do(tgt, &Request{}, opt)
				key := "ok"
				switch {
				case err == nil:
				case errors.Is(err, os.ErrDeadlineExceeded) && res.Phase == PhaseConnect:
					key = "connect timeout"
				default:
					key = err.Error()
				}
				mu.Lock()
				outcomes[key]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for k, v := range outcomes {
		if k != "ok" && k != "connect timeout" {
			t.Errorf("%d× %s", v, k)
		}
	}
	t.Logf("outcomes %v, stats %+v", outcomes, c.Stats())
	c.mu.Lock()
	hp := c.hosts[tgt]
	open, idle, waiting := hp.open, len(hp.idle), hp.wq.len()
	c.mu.Unlock()
	s := c.Stats()
	if open != idle || int64(open) != s.Open || open > maxConns || waiting != 0 {
		t.Errorf("after the storm: %d slots taken, %d idle, %d waiting, Stats %+v; want slots = idle = open ≤ %d", open, idle, waiting, s, maxConns)
	}
	if _, err := c.Do(tgt, &Request{}, deadline(5*time.Second)); err != nil {
		t.Errorf("Do after the storm: %v", err)
	}
}

// TestMaxDialsPerHost: a burst on an empty pool dials at most
// MaxDialsPerHost connections at once; the rest wait for a released
// connection or a finished dial, and every request is served.
func TestMaxDialsPerHost(t *testing.T) {
	srv := newRawServer(t, serveCanned([]byte(okResponse)))
	const maxDials, burst = 3, 40
	var inside, peak atomic.Int64
	gate := make(chan struct{})
	c := New(Config{MaxDialsPerHost: maxDials, Control: func(string, string, syscall.RawConn) error {
		n := inside.Add(1)
		defer inside.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-gate
		return nil
	}})
	defer c.Close()
	var wg sync.WaitGroup
	for range burst {
		wg.Go(func() {
			if res, err := c.Do(srv.target(), &Request{URI: "/"}, deadline(10*time.Second)); err != nil || res.Status != 200 {
				t.Errorf("Do = %+v, %v", res, err)
			}
		})
	}
	waitFor(t, "three dials in progress", func() bool { return inside.Load() == maxDials })
	waitFor(t, "the rest of the burst waiting", func() bool { return c.waiting(srv.target()) == burst-maxDials })
	close(gate)
	wg.Wait()
	s := c.Stats()
	if peak.Load() > maxDials || s.PeakDialing > maxDials || s.Waits != burst-maxDials || s.Dials+s.Reuses != burst {
		t.Errorf("peak dials %d (stats %+v); want at most %d at once, %d waits, %d requests served", peak.Load(), s, maxDials, burst-maxDials, burst)
	}
}
