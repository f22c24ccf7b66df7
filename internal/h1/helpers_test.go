package h1

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawServer is a TCP server on 127.0.0.1 that runs handle for every
// connection, for responses net/http would never send.
type rawServer struct {
	ln       net.Listener
	addr     string
	accepted atomic.Int64
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
	done     chan struct{}
}

// handle gets done, closed when the server closes.
func newRawServer(tb testing.TB, handle func(c net.Conn, done <-chan struct{})) *rawServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &rawServer{ln: ln, addr: ln.Addr().String(), done: make(chan struct{})}
	s.wg.Add(1)
	go func() { // exits when the listener is closed
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() { // exits when handle returns; Close unblocks it
				defer s.wg.Done()
				defer c.Close()
				handle(c, s.done)
			}()
		}
	}()
	tb.Cleanup(s.Close)
	return s
}

// Close closes the listener and every connection, and waits for the
// handlers.
func (s *rawServer) Close() {
	s.mu.Lock()
	select {
	case <-s.done:
		s.mu.Unlock()
		return
	default:
	}
	close(s.done)
	s.ln.Close()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *rawServer) target() Target { return Target{Addr: s.addr} }

// serveCanned answers every request (a head ending in an empty line, no
// body) with resp, without allocating: the benchmark and the allocation
// test count the server's allocations too.
func serveCanned(resp []byte) func(net.Conn, <-chan struct{}) {
	return func(c net.Conn, _ <-chan struct{}) {
		buf := make([]byte, 4096)
		const end = "\r\n\r\n"
		state := 0
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			pending := 0
			for _, b := range buf[:n] {
				switch {
				case b == end[state]:
					if state++; state == len(end) {
						pending++
						state = 0
					}
				case b == '\r':
					state = 1
				default:
					state = 0
				}
			}
			for ; pending > 0; pending-- {
				if _, err := c.Write(resp); err != nil {
					return
				}
			}
		}
	}
}

const okResponse = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// readRequests calls fn for every request read from c until fn returns
// false or reading fails.
func readRequests(c net.Conn, fn func(r *http.Request) bool) {
	br := bufio.NewReader(c)
	for {
		r, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if !fn(r) {
			return
		}
	}
}

// waitFor polls cond until it holds, failing the test after 10s. It
// waits for a state the test needs, never asserts a duration.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func deadline(d time.Duration) Options {
	return Options{Deadline: time.Now().Add(d)}
}

// idleConn returns the most recently pooled connection of t, or nil.
func idleConn(c *Client, t Target) *conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	if hp := c.hosts[t]; hp != nil && len(hp.idle) > 0 {
		return hp.idle[len(hp.idle)-1]
	}
	return nil
}
