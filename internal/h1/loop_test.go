//go:build linux

package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The event loop's tests: the Client's tests, played through a Loop. A
// Loop is driven by one goroutine; loopDriver sends and waits on the
// test's goroutine.

type loopDone struct {
	tag string
	res Result
	err error
}

type loopDriver struct {
	t    *testing.T
	c    *Client
	l    *Loop
	done []loopDone
}

func newLoopDriver(t *testing.T, cfg Config, lcfg LoopConfig) *loopDriver {
	t.Helper()
	d := &loopDriver{t: t, c: New(cfg)}
	lcfg.Done = func(tag any, res *Result, err error) {
		d.done = append(d.done, loopDone{tag: tag.(string), res: *res, err: err})
	}
	l, err := d.c.NewLoop(lcfg)
	if err != nil {
		t.Fatal(err)
	}
	d.l = l
	t.Cleanup(func() {
		d.c.Close()
		d.l.Close()
	})
	return d
}

// wait runs the loop until cond holds, failing after 10 s.
func (d *loopDriver) wait(what string, cond func() bool) {
	d.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			d.t.Fatalf("timed out waiting for %s", what)
		}
		if err := d.l.Wait(10 * time.Millisecond); err != nil {
			d.t.Fatal(err)
		}
	}
}

// do sends one request and waits for its end.
func (d *loopDriver) do(t Target, req *Request, opt Options) (Result, error) {
	d.t.Helper()
	d.done = d.done[:0]
	d.l.Send(t, req, opt, "do")
	d.wait("the request to end", func() bool { return len(d.done) > 0 })
	if len(d.done) != 1 || d.l.InFlight() != 0 {
		d.t.Fatalf("%d ends, %d in flight after one request", len(d.done), d.l.InFlight())
	}
	return d.done[0].res, d.done[0].err
}

func TestLoopKeepAlive(t *testing.T) {
	for _, park := range []bool{false, true} {
		t.Run(fmt.Sprint("park=", park), func(t *testing.T) { testLoopKeepAlive(t, park) })
	}
}

func testLoopKeepAlive(t *testing.T, park bool) {
	srv := newRawServer(t, serveCanned([]byte(okResponse)))
	d := newLoopDriver(t, Config{}, LoopConfig{Park: park})
	for i := range 5 {
		res, err := d.do(srv.target(), &Request{URI: "/x"}, deadline(5*time.Second))
		if err != nil || res.Status != 200 || res.BodyBytes != 2 || res.Phase != PhaseDone || res.NewConn != (i == 0) {
			t.Fatalf("request %d = %+v, %v", i, res, err)
		}
		if res.ConnAt.IsZero() || res.FirstByte.Before(res.ConnAt) || res.BytesOut == 0 {
			t.Fatalf("request %d instants %+v", i, res)
		}
	}
	if s := d.c.Stats(); s.Dials != 1 || s.Reuses != 4 || s.Open != 1 {
		t.Errorf("Stats = %+v; want 1 dial, 4 reuses", s)
	}
}

// TestLoopRequestWire: the loop writes what the Client writes.
func TestLoopRequestWire(t *testing.T) {
	reqs := []*Request{
		{},
		{Method: "POST", URI: "/p?q=1", Host: "h.test", Header: []Header{{"X-A", "1"}, {"x-b", "two"}}, Body: []byte("body")},
		{Method: "PUT"},
		{Method: "DELETE", Body: []byte{}},
	}
	for _, req := range reqs {
		for _, closeConn := range []bool{false, true} {
			var w strings.Builder
			cn := &conn{}
			cn.bw = newBufioWriter(&w)
			if _, err := cn.writeRequest(req, "target:80", closeConn); err != nil {
				t.Fatal(err)
			}
			if got := string(appendRequest(nil, req, "target:80", closeConn)); got != w.String() {
				t.Errorf("appendRequest(%+v) = %q; writeRequest wrote %q", req, got, w.String())
			}
		}
	}
}

func TestLoopMaxConnsFIFO(t *testing.T) {
	srv, got, release := blockingServer(t)
	d := newLoopDriver(t, Config{}, LoopConfig{MaxConnsPerHost: 1})
	tgt := srv.target()
	for _, p := range []string{"a", "b", "c"} {
		d.l.Send(tgt, &Request{URI: "/" + p}, deadline(10*time.Second), p)
	}
	var order []string
	for range 3 {
		var p string
		d.wait("the server to get a request", func() bool {
			select {
			case p = <-got:
				return true
			default:
				return false
			}
		})
		order = append(order, p)
		release <- struct{}{}
	}
	d.wait("3 ends", func() bool { return len(d.done) == 3 })
	if strings.Join(order, " ") != "/a /b /c" {
		t.Errorf("server order %v; want FIFO", order)
	}
	for _, e := range d.done {
		if e.err != nil || e.res.Status != 200 || e.res.NewConn != (e.tag == "a") || e.res.Waited != (e.tag != "a") {
			t.Errorf("%s = %+v, %v", e.tag, e.res, e.err)
		}
	}
	if s := d.c.Stats(); s.Dials != 1 || s.Waits != 2 || s.Open != 1 {
		t.Errorf("Stats = %+v; want 1 dial, 2 waits, 1 open", s)
	}
}

func TestLoopPoolWaitTimeout(t *testing.T) {
	srv, got, release := blockingServer(t)
	d := newLoopDriver(t, Config{}, LoopConfig{MaxConnsPerHost: 1})
	tgt := srv.target()
	d.l.Send(tgt, &Request{URI: "/a"}, deadline(10*time.Second), "a")
	d.wait("a on the wire", func() bool { return len(got) == 1 })
	opt := deadline(10 * time.Second)
	opt.ConnectDeadline = time.Now().Add(50 * time.Millisecond)
	d.l.Send(tgt, &Request{URI: "/b"}, opt, "b")
	d.wait("b to time out", func() bool { return len(d.done) == 1 })
	if e := d.done[0]; e.tag != "b" || !errors.Is(e.err, os.ErrDeadlineExceeded) || e.res.Phase != PhaseConnect || !e.res.ConnAt.IsZero() {
		t.Fatalf("b = %+v; want a connect-phase timeout", e)
	}
	<-got
	release <- struct{}{}
	d.wait("a to end", func() bool { return len(d.done) == 2 })
	go func() { <-got; release <- struct{}{} }()
	if _, err := d.do(tgt, &Request{URI: "/c"}, deadline(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if s := d.c.Stats(); s.Dials != 1 {
		t.Errorf("Stats = %+v; want 1 dial", s)
	}
}

func TestLoopConnRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	d := newLoopDriver(t, Config{}, LoopConfig{MaxConnsPerHost: 1})
	for range 2 { // the failed dial frees its slot
		res, err := d.do(Target{Addr: addr}, &Request{}, deadline(5*time.Second))
		if !errors.Is(err, syscall.ECONNREFUSED) || res.Phase != PhaseConnect || !res.NewConn {
			t.Fatalf("request = %+v, %v; want ECONNREFUSED in the connect phase", res, err)
		}
	}
}

func TestLoopControlRefuses(t *testing.T) {
	srv := newRawServer(t, serveCanned([]byte(okResponse)))
	refused := errors.New("refused by test")
	d := newLoopDriver(t, Config{ControlContext: func(ctx context.Context, network, address string, c syscall.RawConn) error {
		if tgt, ok := DialTarget(ctx); !ok || tgt.Addr != srv.addr {
			return fmt.Errorf("dial target %+v, %v", tgt, ok)
		}
		return refused
	}}, LoopConfig{})
	res, err := d.do(srv.target(), &Request{}, deadline(5*time.Second))
	if !errors.Is(err, refused) || res.Phase != PhaseConnect {
		t.Fatalf("request = %+v, %v; want the Control error", res, err)
	}
	if a := srv.accepted.Load(); a != 0 {
		t.Errorf("server accepted %d connections", a)
	}
}

func TestLoopResetMidBody(t *testing.T) {
	srv := newRawServer(t, func(c net.Conn, done <-chan struct{}) {
		readRequests(c, func(*http.Request) bool {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n0123456789")
			c.(*net.TCPConn).SetLinger(0) // close with RST
			return false
		})
	})
	d := newLoopDriver(t, Config{}, LoopConfig{})
	res, err := d.do(srv.target(), &Request{}, deadline(5*time.Second))
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("request = %+v, %v; want a reset", res, err)
	}
	if res.Phase != PhaseBody || res.Status != 200 {
		t.Errorf("request = %+v; want status 200, failed in the body phase", res)
	}
	if s := d.c.Stats(); s.Open != 0 {
		t.Errorf("Stats = %+v; want the connection closed", s)
	}
}

func TestLoopTimeouts(t *testing.T) {
	for _, park := range []bool{false, true} {
		t.Run(fmt.Sprint("park=", park), func(t *testing.T) { testLoopTimeouts(t, park) })
	}
}

func testLoopTimeouts(t *testing.T, park bool) {
	srv, _ := hangServer(t, "")
	body, _ := hangServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
	d := newLoopDriver(t, Config{}, LoopConfig{Park: park})
	in := func(dd time.Duration) time.Time { return time.Now().Add(dd) }
	cases := []struct {
		name  string
		srv   *rawServer
		opt   Options
		phase Phase
		body  int64
	}{
		{"first byte deadline", srv, Options{Deadline: in(time.Minute), FirstByteDeadline: in(phaseBound)}, PhaseFirstByte, 0},
		{"first byte timeout", srv, Options{Deadline: in(time.Minute), FirstByteTimeout: phaseBound}, PhaseFirstByte, 0},
		{"total deadline", srv, Options{Deadline: in(phaseBound), FirstByteDeadline: in(time.Minute)}, PhaseFirstByte, 0},
		{"body", body, Options{Deadline: in(phaseBound), FirstByteDeadline: in(time.Minute)}, PhaseBody, 3},
	}
	for _, tc := range cases { // at once: the test lasts one phaseBound
		d.l.Send(tc.srv.target(), &Request{}, tc.opt, tc.name)
	}
	d.wait("every request to time out", func() bool { return len(d.done) == len(cases) })
	for _, e := range d.done {
		for _, tc := range cases {
			if tc.name == e.tag && (!errors.Is(e.err, os.ErrDeadlineExceeded) || e.res.Phase != tc.phase || e.res.BodyBytes != tc.body || e.res.ConnAt.IsZero()) {
				t.Errorf("%s = %+v, %v; want a timeout in phase %v after %d body bytes", tc.name, e.res, e.err, tc.phase, tc.body)
			}
		}
	}
	if s := d.c.Stats(); s.Open != 0 {
		t.Errorf("Stats = %+v; want timed-out connections closed", s)
	}
}

func TestLoopDeadlinePassed(t *testing.T) {
	srv := newRawServer(t, serveCanned([]byte(okResponse)))
	d := newLoopDriver(t, Config{}, LoopConfig{})
	if _, err := d.do(srv.target(), &Request{}, deadline(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	res, err := d.do(srv.target(), &Request{}, Options{Deadline: time.Now().Add(-time.Second)})
	if !errors.Is(err, os.ErrDeadlineExceeded) || res.Phase != PhaseConnect || res.BytesOut != 0 {
		t.Errorf("request past its deadline = %+v, %v; want a connect-phase timeout before writing", res, err)
	}
	if _, err := d.do(srv.target(), &Request{}, deadline(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if s := d.c.Stats(); s.Dials != 1 {
		t.Errorf("Stats = %+v; want 1 dial", s)
	}
}

func TestLoopNotReused(t *testing.T) {
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
			d := newLoopDriver(t, Config{}, LoopConfig{})
			for i := range 3 {
				tc.opt.Deadline = time.Now().Add(5 * time.Second)
				res, err := d.do(srv.target(), &Request{}, tc.opt)
				if err != nil || res.Status != 200 || !res.NewConn {
					t.Fatalf("request %d = %+v, %v; want 200 on a new connection", i, res, err)
				}
			}
			if s := d.c.Stats(); s.Dials != 3 || s.Open != 0 {
				t.Errorf("Stats = %+v; want 3 dials, none open", s)
			}
		})
	}
}

func TestLoopMalformed(t *testing.T) {
	srv := newRawServer(t, serveCanned([]byte("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nok")))
	d := newLoopDriver(t, Config{}, LoopConfig{})
	res, err := d.do(srv.target(), &Request{}, deadline(5*time.Second))
	if !errors.Is(err, ErrMalformed) || res.Phase != PhaseBody {
		t.Fatalf("request = %+v, %v; want ErrMalformed", res, err)
	}
	if s := d.c.Stats(); s.Open != 0 {
		t.Errorf("Stats = %+v; want the connection closed", s)
	}
}

// TestLoopBodies: bodies larger than every buffer, chunked, to EOF, and
// cut at MaxBody.
func TestLoopBodies(t *testing.T) {
	big := strings.Repeat("x", 300_000)
	for _, tc := range []struct {
		name, resp string
		maxBody    int64
		body       int64
		truncated  bool
	}{
		{"large CL", "HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n" + big, 0, 300_000, false},
		{"large CL cut", "HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n" + big, 100_000, 100_000, true},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n493e0\r\n" + big + "\r\n0\r\n\r\n", 0, 300_000, false},
		{"to EOF", "HTTP/1.1 200 OK\r\n\r\n" + big, 0, 300_000, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRawServer(t, func(c net.Conn, done <-chan struct{}) {
				readRequests(c, func(*http.Request) bool {
					_, err := io.WriteString(c, tc.resp)
					return err == nil && !strings.HasPrefix(tc.name, "to EOF")
				})
			})
			d := newLoopDriver(t, Config{}, LoopConfig{})
			for i := range 2 {
				res, err := d.do(srv.target(), &Request{}, Options{Deadline: time.Now().Add(10 * time.Second), MaxBody: tc.maxBody})
				if err != nil || res.BodyBytes != tc.body || res.Truncated != tc.truncated {
					t.Fatalf("request %d = %+v, %v; want %d body bytes, truncated %v", i, res, err, tc.body, tc.truncated)
				}
			}
		})
	}
}

// TestLoopLargeRequest: a request larger than the socket takes at once is
// written as the socket drains.
func TestLoopLargeRequest(t *testing.T) {
	var got atomic.Int64
	srv := newRawServer(t, func(c net.Conn, done <-chan struct{}) {
		readRequests(c, func(r *http.Request) bool {
			n, _ := io.Copy(io.Discard, r.Body)
			got.Store(n)
			_, err := io.WriteString(c, okResponse)
			return err == nil
		})
	})
	d := newLoopDriver(t, Config{}, LoopConfig{})
	body := make([]byte, 16<<20)
	res, err := d.do(srv.target(), &Request{Method: "POST", Body: body}, deadline(20*time.Second))
	if err != nil || res.Status != 200 || got.Load() != int64(len(body)) || res.BytesOut <= int64(len(body)) {
		t.Fatalf("request = %+v, %v; server read %d body bytes", res, err, got.Load())
	}
}

// TestLoopUnsolicited: bytes that arrive on an idle connection close it;
// every response counted is the one asked for.
func TestLoopUnsolicited(t *testing.T) {
	for _, park := range []bool{false, true} {
		t.Run(fmt.Sprint("park=", park), func(t *testing.T) { testLoopUnsolicited(t, park) })
	}
}

func testLoopUnsolicited(t *testing.T, park bool) {
	const n = 10
	sent := make(chan struct{}, n)
	srv := newRawServer(t, serveThenJunk(okResponse, staleResponse, sent))
	d := newLoopDriver(t, Config{}, LoopConfig{Park: park})
	for i := range n {
		res, err := d.do(srv.target(), &Request{}, deadline(10*time.Second))
		if err != nil || res.Status != 200 || !res.NewConn {
			t.Fatalf("request %d = %+v, %v; want 200 on a new connection", i, res, err)
		}
		<-sent
	}
	if s := d.c.Stats(); s.Dials != n || s.Reuses != 0 {
		t.Errorf("Stats = %+v; want %d dials, no reuse", s, n)
	}
}

func TestLoopTLSRefused(t *testing.T) {
	d := newLoopDriver(t, Config{}, LoopConfig{})
	res, err := d.do(Target{Addr: "127.0.0.1:1", TLS: true}, &Request{}, deadline(time.Second))
	if !errors.Is(err, ErrInvalidRequest) || res.Phase != PhaseConnect {
		t.Fatalf("TLS target = %+v, %v; want ErrInvalidRequest", res, err)
	}
	if _, err := d.do(Target{Addr: "127.0.0.1:1"}, &Request{Method: "G T"}, deadline(time.Second)); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("invalid request: %v; want ErrInvalidRequest", err)
	}
}

func TestLoopMaxDials(t *testing.T) {
	srv := newRawServer(t, serveCanned([]byte(okResponse)))
	const maxDials, burst = 3, 40
	var inside, peak atomic.Int64
	gate := make(chan struct{})
	d := newLoopDriver(t, Config{Control: func(string, string, syscall.RawConn) error {
		n := inside.Add(1)
		defer inside.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-gate
		return nil
	}}, LoopConfig{MaxDialsPerHost: maxDials})
	for i := range burst {
		d.l.Send(srv.target(), &Request{URI: "/"}, deadline(10*time.Second), fmt.Sprint(i))
	}
	waitFor(t, "three dials in progress", func() bool { return inside.Load() == maxDials })
	close(gate)
	d.wait("the burst to end", func() bool { return len(d.done) == burst })
	for _, e := range d.done {
		if e.err != nil || e.res.Status != 200 {
			t.Errorf("%s = %+v, %v", e.tag, e.res, e.err)
		}
	}
	s := d.c.Stats()
	if peak.Load() > maxDials || s.PeakDialing > maxDials || s.Waits != burst-maxDials || s.Dials+s.Reuses != burst {
		t.Errorf("peak dials %d (stats %+v); want at most %d at once, %d waits, %d requests served", peak.Load(), s, maxDials, burst-maxDials, burst)
	}
}

// TestLoopCloseInFlight: Close ends the loop with requests outstanding;
// none of them ends after it, and every socket is closed.
func TestLoopCloseInFlight(t *testing.T) {
	srv, got := hangServer(t, "")
	d := newLoopDriver(t, Config{}, LoopConfig{MaxConnsPerHost: 1})
	d.l.Send(srv.target(), &Request{}, deadline(time.Minute), "a")
	d.l.Send(srv.target(), &Request{}, deadline(time.Minute), "b")
	d.wait("a on the wire", func() bool { return len(got) == 1 })
	d.c.Close()
	d.l.Close()
	d.l.Close() // idempotent
	if len(d.done) != 0 {
		t.Errorf("ends after Close: %+v", d.done)
	}
	if s := d.c.Stats(); s.Open != 0 {
		t.Errorf("Stats = %+v; want nothing open", s)
	}
}

// TestLoopConcurrent: many requests at once over a few connections, with
// sends from Done (as a pacer does).
func TestLoopConcurrent(t *testing.T) {
	srv := newRawServer(t, serveCanned([]byte("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"+strings.Repeat("x", 100))))
	const maxConns, total = 4, 2000
	d := &loopDriver{t: t, c: New(Config{})}
	var ended, sent int
	var l *Loop
	var mu sync.Mutex // only to please vet about the closure; one goroutine runs it all
	send := func() {
		sent++
		l.Send(srv.target(), &Request{URI: "/"}, deadline(10*time.Second), "r")
	}
	l, err := d.c.NewLoop(LoopConfig{MaxConnsPerHost: maxConns, Done: func(_ any, res *Result, err error) {
		mu.Lock()
		defer mu.Unlock()
		ended++
		if err != nil || res.Status != 200 || res.BodyBytes != 100 {
			t.Errorf("request = %+v, %v", *res, err)
		}
		if sent < total {
			send()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	d.l = l
	t.Cleanup(func() { d.c.Close(); l.Close() })
	for range 50 {
		send()
	}
	d.wait("every request", func() bool { mu.Lock(); defer mu.Unlock(); return ended == total })
	if s := d.c.Stats(); s.Dials > maxConns || s.Open > maxConns || s.Reuses != total-s.Dials {
		t.Errorf("Stats = %+v; want at most %d connections", s, maxConns)
	}
}

// TestLoopZeroAllocs: a keep-alive request with a static Request and a
// Content-Length response allocates nothing in the loop.
func TestLoopZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	srv := newRawServer(t, serveCanned([]byte(okResponse)))
	var ended int
	c := New(Config{})
	l, err := c.NewLoop(LoopConfig{Park: true, Done: func(_ any, res *Result, err error) {
		if err == nil && res.Status == 200 {
			ended++
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { c.Close(); l.Close() }()
	tgt := srv.target()
	req := &Request{Method: "GET", URI: "/items/1", Host: "example.test", Header: []Header{{"Accept", "application/json"}}}
	tag := any("t")
	do := func() {
		want := ended + 1
		l.Send(tgt, req, Options{Deadline: time.Now().Add(5 * time.Second), FirstByteTimeout: time.Second, MaxBody: 1 << 20}, tag)
		for ended < want {
			l.Wait(time.Second)
		}
	}
	do()
	if allocs := testing.AllocsPerRun(1000, do); allocs != 0 {
		t.Errorf("keep-alive request on a Loop: %v allocations; want 0", allocs)
	}
}

func newBufioWriter(w io.Writer) *bufio.Writer { return bufio.NewWriterSize(w, bufSize) }

// TestTimerHeap: random sets, clears and pops against a plain map.
func TestTimerHeap(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var h timerHeap
	reqs := make([]*lreq, 50)
	for i := range reqs {
		reqs[i] = &lreq{id: int32(i)}
	}
	ref := map[*lreq]int64{}
	for step := range 20000 {
		lr := reqs[rng.IntN(len(reqs))]
		switch rng.IntN(4) {
		case 0, 1:
			at := int64(rng.IntN(1000))
			h.set(lr, at)
			ref[lr] = at
		case 2:
			h.clear(lr)
			delete(ref, lr)
		case 3:
			if len(ref) == 0 {
				continue
			}
			got := h.pop()
			want, ok := ref[got]
			for _, at := range ref {
				if at < want {
					t.Fatalf("step %d: pop gave %d at %d; %d is earlier", step, got.id, want, at)
				}
			}
			if !ok {
				t.Fatalf("step %d: pop gave %d, which has no deadline", step, got.id)
			}
			delete(ref, got)
		}
		if len(h) != len(ref) {
			t.Fatalf("step %d: heap of %d; want %d", step, len(h), len(ref))
		}
		for i, lr := range h {
			if lr.heapIdx != i+1 || lr.timerAt != ref[lr] {
				t.Fatalf("step %d: entry %d is request %d (index %d, at %d); want index %d at %d", step, i, lr.id, lr.heapIdx, lr.timerAt, i+1, ref[lr])
			}
		}
	}
}

// TestLoopYieldAt: once the clock has passed YieldAt, a Wait handles
// YieldMin ready sockets and leaves the rest ready for the next one.
func TestLoopYieldAt(t *testing.T) {
	const n = 8
	var got, written atomic.Int64
	release := make(chan struct{})
	srv := newRawServer(t, func(c net.Conn, done <-chan struct{}) {
		readRequests(c, func(*http.Request) bool {
			got.Add(1)
			select {
			case <-release:
			case <-done:
				return false
			}
			_, err := io.WriteString(c, okResponse)
			written.Add(1)
			return err == nil
		})
	})
	d := newLoopDriver(t, Config{}, LoopConfig{YieldMin: 1})
	for i := range n {
		d.l.Send(srv.target(), &Request{}, deadline(10*time.Second), fmt.Sprint(i))
	}
	d.wait("every request on the wire", func() bool { return got.Load() == n })
	close(release)
	waitFor(t, "every response written", func() bool { return written.Load() == n })
	// On loopback, a response written is in the client's receive queue.
	d.l.YieldAt(time.Now().Add(-time.Second))
	if err := d.l.Wait(0); err != nil {
		t.Fatal(err)
	}
	if len(d.done) != 1 {
		t.Fatalf("a Wait past YieldAt ended %d requests; want YieldMin = 1", len(d.done))
	}
	d.l.YieldAt(time.Time{})
	if err := d.l.Wait(0); err != nil {
		t.Fatal(err)
	}
	if len(d.done) != n {
		t.Fatalf("the next Wait left %d of %d requests; want none: their sockets stayed ready", n-len(d.done), n)
	}
}
