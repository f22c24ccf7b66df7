package h1

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Hostile servers that send bytes no request asked for. Each test waits
// until the server has written them (on loopback they are then in the
// client's receive queue) before the next request, so what is asserted
// holds however slow the machine is.

const staleResponse = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\nstale"

// serveThenJunk answers every request with resp and then, after a pause
// (so that the client has usually read resp alone and pooled the
// connection: the pause is for realism, no assertion depends on it), writes
// junk, and reports on sent that both went out.
func serveThenJunk(resp, junk string, sent chan<- struct{}) func(net.Conn, <-chan struct{}) {
	return func(c net.Conn, _ <-chan struct{}) {
		readRequests(c, func(*http.Request) bool {
			if _, err := io.WriteString(c, resp); err != nil {
				return false
			}
			time.Sleep(5 * time.Millisecond)
			_, err := io.WriteString(c, junk)
			sent <- struct{}{}
			return err == nil
		})
	}
}

func TestUnsolicitedBytesNeverAnswerALaterRequest(t *testing.T) {
	for _, tc := range []struct {
		name, method, resp, junk string
		status                   int
	}{
		{"500 after a 200", "GET", okResponse, staleResponse, 200},
		{"late body of a 204", "GET", "HTTP/1.1 204 No Content\r\n\r\n", "late body", 204},
		{"late 500 as the body of a 204", "GET", "HTTP/1.1 204 No Content\r\n\r\n", staleResponse, 204},
		{"late body of a 304", "GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 4\r\n\r\n", "body", 304},
		{"body after a HEAD response", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", "ok", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 20
			sent := make(chan struct{}, n)
			srv := newRawServer(t, serveThenJunk(tc.resp, tc.junk, sent))
			c := New(Config{})
			defer c.Close()
			for i := range n {
				res, err := c.Do(srv.target(), &Request{Method: tc.method}, deadline(10*time.Second))
				if err != nil || res.Status != tc.status {
					t.Fatalf("Do #%d = %+v, %v; want %d: a response nobody asked for was read as the answer", i, res, err, tc.status)
				}
				if !res.NewConn {
					t.Fatalf("Do #%d reused a connection that had received unsolicited bytes", i)
				}
				<-sent
			}
			s := c.Stats()
			if s.Dials != n || s.Reuses != 0 {
				t.Errorf("Stats = %+v; want %d dials, no reuse", s, n)
			}
			// Each connection either had the junk already buffered when its
			// response ended (never pooled) or was found by the check.
			if s.Stale > n-1 {
				t.Errorf("Stats = %+v; at most %d stale", s, n-1)
			}
		})
	}
}

// TestUnsolicitedOnHandOff: a connection released straight to a waiting
// request is checked too.
func TestUnsolicitedOnHandOff(t *testing.T) {
	sent := make(chan struct{}, 2)
	srv := newRawServer(t, serveThenJunk(okResponse, staleResponse, sent))
	c := New(Config{MaxConnsPerHost: 1})
	defer c.Close()
	tgt := srv.target()
	// Take the only connection and hold it, so the next Do waits.
	cn, _, err := c.getConn(tgt, time.Now().Add(10*time.Second), new(bool))
	if err != nil {
		t.Fatal(err)
	}
	if err := cn.setDeadlines(time.Time{}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cn.writeRequest(&Request{}, tgt.Addr, false); err != nil {
		t.Fatal(err)
	}
	r, err := readResponse(cn.br, false, DefaultMaxHeaderBytes, 1<<20, false)
	if err != nil || r.status != 200 {
		t.Fatalf("first response = %+v, %v", r, err)
	}
	<-sent
	done := make(chan error, 1)
	go func() {
		res, err := c.Do(tgt, &Request{}, deadline(10*time.Second))
		if err == nil && res.Status != 200 {
			err = errors.New("status " + http.StatusText(res.Status))
		}
		done <- err
	}()
	waitFor(t, "the request to wait for the connection", func() bool { return c.waiting(tgt) == 1 })
	// Pooled as the engine would if the junk had not been read yet.
	c.release(cn, true)
	if err := <-done; err != nil {
		t.Fatalf("Do after a hand-off of a connection with a stale response: %v", err)
	}
	if s := c.Stats(); s.Stale != 1 || s.Dials != 2 {
		t.Errorf("Stats = %+v; want the handed-off connection found stale and a second dial", s)
	}
}

// TestStaleCountWithoutCheck shows the misattribution the check prevents:
// with it off, the 500 sent after a 200 answers the next request.
func TestStaleCountWithoutCheck(t *testing.T) {
	const n = 20
	sent := make(chan struct{}, n)
	srv := newRawServer(t, serveThenJunk(okResponse, staleResponse, sent))
	c := New(Config{IdleCheck: -1})
	defer c.Close()
	wrong := 0
	for range n {
		res, err := c.Do(srv.target(), &Request{}, deadline(10*time.Second))
		if err == nil && res.Status == 500 {
			wrong++
		}
		if err == nil {
			<-sent // every request sent got a 200 and a 500 in return
		}
	}
	t.Logf("without the check, %d of %d requests were answered by a stale 500", wrong, n)
}

func TestHostileHeaders(t *testing.T) {
	for _, tc := range []struct {
		name string
		head string // written, then endless filler
		fill string
	}{
		{"endless header fields", "HTTP/1.1 200 OK\r\n", "X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"},
		{"10 MB header line", "HTTP/1.1 200 OK\r\nX-Huge: ", strings.Repeat("a", 64<<10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRawServer(t, func(c net.Conn, done <-chan struct{}) {
				readRequests(c, func(*http.Request) bool {
					io.WriteString(c, tc.head)
					for written := 0; written < 10<<20; written += len(tc.fill) {
						if _, err := io.WriteString(c, tc.fill); err != nil {
							return false
						}
					}
					<-done
					return false
				})
			})
			c := New(Config{})
			defer c.Close()
			res, err := c.Do(srv.target(), &Request{}, deadline(30*time.Second))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Do = %+v, %v; want an error wrapping ErrMalformed", res, err)
			}
			if s := c.Stats(); s.Open != 0 {
				t.Errorf("Stats = %+v; the connection must be closed", s)
			}
		})
	}
}
