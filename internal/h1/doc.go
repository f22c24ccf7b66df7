// Package h1 is Surge's purpose-built HTTP/1.1 client for load generation.
//
// It exists because Go's net/http spends most of a keep-alive request's CPU
// on things a load generator does not need: a read and a write goroutine per
// connection with hand-offs between them, header maps, URL parsing and
// context timers. A Client here does the whole request on the caller's
// goroutine: take a connection from the pool (or dial one), write the request
// with one write system call, read the response through the connection's
// bufio.Reader, discard the body as it is read, and put the connection back.
// A keep-alive request with a static Request and a Content-Length response
// allocates nothing.
//
//	c := h1.New(h1.Config{MaxConnsPerHost: 64})
//	defer c.Close()
//	res, err := c.Do(h1.Target{Addr: "127.0.0.1:8080"},
//		&h1.Request{Method: "GET", URI: "/items/1", Host: "127.0.0.1:8080"},
//		h1.Options{Deadline: time.Now().Add(5 * time.Second), MaxBody: 1 << 20})
//
// Requests are never retried. Every reuse of a pooled connection is
// preceded by a non-blocking peek (Config.IdleCheck): a connection the peer
// closed, or one that received bytes while no request was outstanding (a
// stale response, a body after a 204), is closed and never read from, so a
// response is only ever counted for the request that was sent for it. What
// still fails is reported, with the Phase the request had reached.
//
// Timeouts are deadlines on the connection (netpoller timers), never extra
// goroutines or contexts. Responses are parsed strictly and with bounds on
// everything (RFC 9112): hostile input yields an error wrapping ErrMalformed,
// never a panic or unbounded memory.
//
// A Loop (Linux) is the same client for a pacer that owns a goroutine: it
// keeps its own connections as non-blocking sockets in an epoll instance,
// outside Go's netpoller, and runs many requests at once from that one
// goroutine — Send starts one, Wait waits for the sockets and ends the
// requests whose responses came in (or whose deadlines passed). A request
// then costs its system calls only: the peek on reuse, one write, one read
// per readiness, a share of an epoll_wait. It dials through its Client and
// keeps the Client's rules: bounds, FIFO waits, the idle check, the same
// head parser, no retries.
//
// Concurrency: a Client is safe for concurrent use; each Do runs on its
// caller's goroutine and starts none. Close may be called at any time, from
// any goroutine, any number of times. A Loop belongs to one goroutine
// (Wake excepted); it starts one goroutine per dial.
package h1
