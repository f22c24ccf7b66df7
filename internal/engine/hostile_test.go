package engine

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/metrics"
)

// Hostile loopback targets, for both HTTP/1.1 implementations: bytes that
// no request asked for, and headers without end.

const staleReply = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\nstale"

// junkServer answers every request with reply and 5 ms later (as the
// issue's hostile target did) writes junk on the same connection. sent
// gets a value once both are written; closed once the client closed the
// connection. raced counts requests read on a connection after its junk
// was written: the only ones a client can answer with the junk, since it
// may have sent them before the junk reached it.
type junkServer struct {
	url    string
	sent   chan struct{}
	closed chan struct{}
	raced  atomic.Int64
	// active counts the connection handlers running. Not a WaitGroup: a
	// connection the client dialled before the run ended may be accepted
	// after wait began (the kernel completes the handshake on its own),
	// and a WaitGroup's Add must not race its Wait.
	mu     sync.Mutex
	active int
	idle   *sync.Cond
}

// wait returns when every connection handler has returned: after a run,
// whose end closes the client's connections, raced is then final.
func (s *junkServer) wait() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.active > 0 {
		s.idle.Wait()
	}
}

func (s *junkServer) handlerStarted() {
	s.mu.Lock()
	s.active++
	s.mu.Unlock()
}

func (s *junkServer) handlerDone() {
	s.mu.Lock()
	s.active--
	if s.active == 0 {
		s.idle.Broadcast()
	}
	s.mu.Unlock()
}

func newJunkServer(t *testing.T, reply, junk string) *junkServer {
	t.Helper()
	s := &junkServer{sent: make(chan struct{}, 10000), closed: make(chan struct{}, 10000)}
	s.idle = sync.NewCond(&s.mu)
	s.url = "http://" + serveConns(t, s.handlerStarted, func(c net.Conn) { // returns when the client closes, or after 30 s
		defer s.handlerDone()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		br := bufio.NewReader(c)
		junkOut := false
		for {
			if _, err := http.ReadRequest(br); err != nil {
				s.closed <- struct{}{}
				return
			}
			if junkOut {
				s.raced.Add(1)
			}
			if _, err := io.WriteString(c, reply); err != nil {
				return
			}
			time.Sleep(5 * time.Millisecond)
			if _, err := io.WriteString(c, junk); err != nil {
				return
			}
			junkOut = true
			s.sent <- struct{}{}
		}
	})
	return s
}

// testTransport builds impl's transport for a one-request job to target,
// to call do directly, one request at a time.
func testTransport(t *testing.T, target string, impl Implementation, method string) (transport, *compiled) {
	t.Helper()
	j := newJob(t, target, job{rate: 100, d: time.Second, requests: []Request{{Name: "r", Method: method, Path: "/"}}})
	j.Client = ClientOptions{Impl: impl}
	if err := j.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := j.compile()
	if err != nil {
		t.Fatal(err)
	}
	r := &runner{e: New(DefaultConfig()), job: &j, plan: p}
	tp, err := r.e.newTransport(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tp.close)
	return tp, &p.reqs[0]
}

var junkCases = []struct {
	name, method, reply, junk string
}{
	{"500 after a 200", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", staleReply},
	{"late body of a 204", "GET", "HTTP/1.1 204 No Content\r\n\r\n", staleReply},
	{"late body of a 304", "GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", "stale"},
	{"body after a HEAD response", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "stale"},
}

// TestUnsolicitedNeverAnswers: request by request, after the junk is out,
// the next request is answered by its own response. Surge's client drops
// the connection when it next takes it from the pool; net/http drops it as
// soon as its reader sees the junk (so the test waits for that close: before
// it, net/http may hand the connection out — its own race, which Surge's
// check at reuse does not have).
func TestUnsolicitedNeverAnswers(t *testing.T) {
	for _, impl := range impls {
		for _, tc := range junkCases {
			t.Run(fmt.Sprintf("%v/%s", impl, tc.name), func(t *testing.T) {
				srv := newJunkServer(t, tc.reply, tc.junk)
				tp, c := testTransport(t, srv.url, impl, tc.method)
				const n = 10
				for i := range n {
					var res metrics.Result
					tp.do(c, uint64(i), 10*time.Second, &res)
					if res.Outcome != metrics.OK {
						t.Fatalf("request %d: %v; want ok — another response was read as its answer", i, res.Outcome)
					}
					<-srv.sent
					if impl == ImplNetHTTP {
						<-srv.closed
					}
				}
				if r := srv.raced.Load(); r != 0 {
					t.Errorf("%d requests were sent on a connection after unsolicited bytes", r)
				}
			})
		}
	}
}

// TestUnsolicitedRun: a paced run against the same targets balances, and
// no request is counted with a response that was not its own, beyond those
// the target received on a connection after it had sent junk there (sent
// before the junk arrived; no client can tell those apart).
func TestUnsolicitedRun(t *testing.T) {
	for _, impl := range impls {
		for _, tc := range junkCases {
			t.Run(fmt.Sprintf("%v/%s", impl, tc.name), func(t *testing.T) {
				srv := newJunkServer(t, tc.reply, tc.junk)
				// The case: 100/s, so that most junk arrives
				// between two requests (at 5 ms of the 10 ms between them).
				const n = 50
				j := newJob(t, srv.url, job{rate: 100, d: n * 10 * time.Millisecond, limits: runLimits(),
					requests: []Request{{Name: "r", Method: tc.method, Path: "/"}}})
				j.Client = ClientOptions{Impl: impl}
				_, total, _ := collect(t, New(DefaultConfig()), context.Background(), j)
				c := total.Totals()
				if c.Intended != n || c.Issued != n || c.Completed() != n {
					t.Fatalf("intended %d issued %d completed %d; want %d each", c.Intended, c.Issued, c.Completed(), n)
				}
				if c.Succeeded+c.Failed != n {
					t.Fatalf("succeeded %d + failed %d != %d", c.Succeeded, c.Failed, n)
				}
				srv.wait()
				raced := uint64(srv.raced.Load())
				if c.Failed > raced {
					t.Errorf("errors %v with %d raced requests: a response was counted for a request that was not sent for it", errorsOf(c), raced)
				}
				t.Logf("%v: %d of %d failed (%v); the target got %d requests on connections after junk", impl, c.Failed, n, errorsOf(c), raced)
			})
		}
	}
}

// TestHostileHeaderSize: endless header fields and a 10 MB header line
// are a protocol_error in both implementations, within the same 64 KiB
// bound (never hundreds of MB of memory, never a timeout).
func TestHostileHeaderSize(t *testing.T) {
	for _, impl := range impls {
		for _, tc := range []struct{ name, head, fill string }{
			{"endless header fields", "HTTP/1.1 200 OK\r\n", "X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"},
			{"10 MB header line", "HTTP/1.1 200 OK\r\nX-Huge: ", strings.Repeat("a", 64<<10)},
		} {
			t.Run(fmt.Sprintf("%v/%s", impl, tc.name), func(t *testing.T) {
				target := floodServer(t, tc.head, tc.fill, 10<<20)
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				c := runClient(t, target, ClientOptions{Impl: impl}, 3, Request{Name: "get", Method: "GET", Path: "/"})
				runtime.ReadMemStats(&after)
				if c.Errors[metrics.ProtocolError] != 3 {
					t.Errorf("errors %v; want 3 × protocol_error", errorsOf(c))
				}
				// Reading the three 10 MB headers allocates 120–240 MB
				// (net/http without the bound); within it the run
				// allocates about 2 MB.
				d := after.TotalAlloc - before.TotalAlloc
				t.Logf("allocated %.1f MB", float64(d)/(1<<20))
				if d > 20<<20 {
					t.Errorf("the run allocated %d MB: the headers were read past the bound", d>>20)
				}
			})
		}
	}
}

// floodServer answers every request with head and then fill repeated up to
// size bytes (or until the client closes).
func floodServer(t *testing.T, head, fill string, size int) string {
	t.Helper()
	// Converted once: the allocations of the run are measured.
	b := []byte(fill)
	return "http://" + serveConns(t, nil, func(c net.Conn) { // returns when the flood is written or the client closes
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		if _, err := io.WriteString(c, head); err != nil {
			return
		}
		for n := 0; n < size; n += len(b) {
			if _, err := c.Write(b); err != nil {
				return
			}
		}
	})
}
