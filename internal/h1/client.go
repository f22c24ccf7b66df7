package h1

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config configures a Client. Zero values mean the documented defaults.
type Config struct {
	// Control is called for every dial after DNS resolution, as
	// net.Dialer.Control (the engine's target allowlist). nil = no check.
	// Ignored when ControlContext is set.
	Control func(network, address string, c syscall.RawConn) error
	// ControlContext is called for every dial after DNS resolution, as
	// net.Dialer.ControlContext: address is the resolved IP and port about
	// to be connected to, and ctx carries the Target being dialled
	// (DialTarget), so a check can know the host name behind the address.
	// It runs before the connection is attempted; an error it returns ends
	// that attempt, wrapped in the dial error. nil = Control is used.
	ControlContext func(ctx context.Context, network, address string, c syscall.RawConn) error
	// Resolver resolves the host names of Targets (nil =
	// net.DefaultResolver).
	Resolver *net.Resolver

	// MaxConnsPerHost bounds open connections per Target (0 = no bound).
	// At the bound, Do waits (FIFO) for a connection to be released; that
	// wait is part of the connect phase.
	MaxConnsPerHost int
	// MaxDialsPerHost bounds the dials in progress per Target (0 =
	// DefaultMaxDials, < 0 = no bound; no bound with PerRequest). When a
	// burst of requests finds no idle connection, only this many dial; the
	// rest wait (in the connect phase) for a released connection or a
	// finished dial. Without it, a burst on a busy machine dials thousands
	// of connections at once, and the dialling itself starves the
	// generator: a collapse measured at 50,000 req/s on two cores.
	MaxDialsPerHost int

	// PerRequest: every Do dials a new connection, sends
	// "Connection: close", and closes the connection after the response.
	// Nothing is pooled.
	PerRequest bool

	// SourceAddrs: local IPs new connections are made from, in turn
	// (round robin over dials).
	SourceAddrs []netip.Addr

	// TLS is the base config for TLS targets. The Client clones it once per
	// server name, sets ServerName and NextProtos ("http/1.1"), and, if
	// ClientSessionCache is nil, shares one
	// tls.NewLRUClientSessionCache(1024) so sessions are resumed. nil = a
	// default config (verification on, TLS 1.2 or later).
	TLS *tls.Config

	// MaxHeaderBytes bounds the status line and header fields of a response,
	// interim (1xx) responses included; the trailer fields of a chunked body
	// get a bound of the same size. Default 64 KiB.
	MaxHeaderBytes int

	// IdleCheck: every time a pooled connection is reused (taken from the
	// idle stack or handed to a waiting request) it is first checked with a
	// non-blocking MSG_PEEK on the TCP socket (also under TLS); if the peer
	// closed it, reset it, or sent bytes while no request was outstanding,
	// it is closed and another taken or dialled. Bytes nobody asked for —
	// a second response after a 200, a body after a 204, 304 or HEAD
	// response — would otherwise be read as the next request's answer.
	// This is what net/http does ("Unsolicited response received on idle
	// HTTP channel": the connection is closed and the request goes on
	// another). Requests are never retried: nothing of the request was sent
	// on the closed connection. The check costs one system call (about a
	// microsecond, BenchmarkIdleCheck). Negative = never check (for
	// measuring that cost); zero or positive = check on every reuse (a
	// positive value is accepted for compatibility: an earlier version
	// skipped the check for connections idle less than it, which let stale
	// responses through).
	IdleCheck time.Duration

	// IdleTimeout: pooled connections idle longer than this are closed when
	// next seen (default 90s; negative = never). The oldest idle connection
	// of a Target is also examined whenever a connection is taken, so cold
	// connections age out without a background goroutine.
	IdleTimeout time.Duration
}

// Defaults for zero Config fields.
const (
	DefaultMaxHeaderBytes = 64 << 10
	DefaultMaxDials       = 16
	DefaultIdleTimeout    = 90 * time.Second
)

// Target is where a request goes; comparable, used as the pool key.
type Target struct {
	Addr       string // host:port to dial
	TLS        bool
	ServerName string // TLS server name (host without port); "" = host of Addr
}

// Header is one request header field, written as given (no
// canonicalisation).
type Header struct{ Name, Value string }

// Request is one request, written straight into the connection's buffered
// writer (no intermediate allocation).
type Request struct {
	Method string   // "" = GET
	URI    string   // request-target in origin form: "/path?query"; "" = "/"
	Host   string   // Host header value; "" = Target.Addr
	Header []Header // must not contain Host, Content-Length, Transfer-Encoding, Connection
	Body   []byte   // Content-Length is sent when Body != nil or Method is POST/PUT/PATCH
}

// Options bound one Do. Zero deadlines mean none (the engine always sets
// Deadline).
type Options struct {
	// Deadline bounds the whole request: from the call to the end of the
	// body.
	Deadline time.Time
	// ConnectDeadline bounds getting a connection: the pool wait, the dial
	// and the TLS handshake. Deadline applies too if it is earlier.
	ConnectDeadline time.Time
	// FirstByteDeadline bounds the wait for the first byte of the response.
	FirstByteDeadline time.Time
	// FirstByteTimeout, if positive, bounds the time from the start of the
	// write (Result.ConnAt) to the first byte of the response, which a
	// caller cannot express as a deadline before the call because the
	// connect phase takes an unknown time. The earliest of Deadline,
	// FirstByteDeadline and ConnAt+FirstByteTimeout applies.
	FirstByteTimeout time.Duration
	// MaxBody is how many body bytes are read; beyond it the rest is not
	// read, the connection is closed (not pooled), Result.Truncated is set
	// and Result.BodyBytes is MaxBody. 0 = no limit.
	MaxBody int64
	// WantLocation copies the Location header of a 3xx response into
	// Result.Location (the only allocation on that path).
	WantLocation bool
}

// Phase is how far a request got; on error it says where the error
// happened.
type Phase uint8

// The phases of a request, in order.
const (
	PhaseConnect   Phase = iota // waiting for a pooled connection, dialling, TLS handshake
	PhaseWrite                  // writing the request
	PhaseFirstByte              // waiting for the first byte of the response
	PhaseBody                   // reading the status line/headers/body after the first byte
	PhaseDone
)

var phaseNames = [...]string{"connect", "write", "first byte", "body", "done"}

func (p Phase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return fmt.Sprintf("phase(%d)", uint8(p))
}

// Result is what one Do did.
type Result struct {
	Status    int
	BodyBytes int64     // body bytes read (≤ MaxBody)
	Truncated bool      // the body was longer than MaxBody
	BytesOut  int64     // request bytes written
	ConnAt    time.Time // when a connection was in hand (write start); zero if never
	WroteAt   time.Time // when the last byte of the request was written; zero if never
	FirstByte time.Time // when the first response byte was read; zero if never
	// Conn are the connection's opening times when this request was the
	// first on a connection dialled for it (Conn.Dialed).
	Conn     ConnTimes
	Phase    Phase  // PhaseDone on success; where it failed otherwise
	NewConn  bool   // the connection was dialled for this request
	Waited   bool   // the request waited at MaxConnsPerHost or MaxDialsPerHost
	Location string // only with WantLocation and a 3xx
	// BreakerOpen reports that the response carried "X-Surge-Breaker:
	// open": a circuit breaker of Surge's reference targets refused the
	// request (found while the head is parsed, at no allocation).
	BreakerOpen bool
}

// Errors returned by Do, always wrapped with detail.
var (
	ErrClosed    = errors.New("h1: client closed")
	ErrMalformed = errors.New("h1: malformed response") // wrapped with detail by every parse error
	// ErrInvalidRequest: the Request cannot be written as given (a control
	// character or space where it would break the framing, or a header the
	// Client owns). Nothing was sent.
	ErrInvalidRequest = errors.New("h1: invalid request")
)

// Stats are counters for diagnostics and tests.
type Stats struct {
	Dials      int64 // connections opened (TCP connected)
	DialErrors int64 // dials or TLS handshakes that failed
	Reuses     int64 // requests served on a connection that was not dialled for them
	Closed     int64 // connections closed by the Client, for any reason
	Open       int64 // connections open now (Dials - Closed)
	Resumed    int64 // TLS handshakes that resumed a session
	Stale      int64 // pooled connections the idle check found closed, reset or holding unsolicited bytes
	Expired    int64 // pooled connections closed after IdleTimeout
	Waits      int64 // Do calls that waited at MaxConnsPerHost or MaxDialsPerHost
	// PeakDialing is the most dials that were in progress at once for one
	// Target.
	PeakDialing int64
}

// Client is an HTTP/1.1 client. It is safe for concurrent use.
type Client struct {
	maxConns    int
	maxDials    int // 0: no bound
	perRequest  bool
	maxHeader   int
	idleCheck   bool          // check every reused connection (Config.IdleCheck >= 0)
	idleTimeout time.Duration // < 0: never

	dialers []net.Dialer // one per source address, or one
	next    atomic.Uint64
	// dialTarget: put the Target into the context of each dial, for
	// Config.ControlContext.
	dialTarget bool

	ctx    context.Context // cancelled by Close: aborts dials
	cancel context.CancelFunc

	tlsBase   *tls.Config
	sessions  tls.ClientSessionCache
	tlsMu     sync.Mutex
	tlsByName map[string]*tls.Config

	closing atomic.Bool // fast path check; mu-guarded closed is the truth

	mu     sync.Mutex
	closed bool
	hosts  map[Target]*hostPool
	all    connList // every connection open, idle or in use

	stats struct {
		dials, dialErrors, reuses, closed, resumed, stale, expired, waits, peakDialing atomic.Int64
	}
}

// New returns a Client for cfg.
func New(cfg Config) *Client {
	c := &Client{
		maxConns:    max(cfg.MaxConnsPerHost, 0),
		perRequest:  cfg.PerRequest,
		maxHeader:   cfg.MaxHeaderBytes,
		idleCheck:   cfg.IdleCheck >= 0,
		idleTimeout: cfg.IdleTimeout,
		hosts:       make(map[Target]*hostPool),
		tlsByName:   make(map[string]*tls.Config),
	}
	if c.maxHeader <= 0 {
		c.maxHeader = DefaultMaxHeaderBytes
	}
	switch {
	case cfg.PerRequest || cfg.MaxDialsPerHost < 0:
	case cfg.MaxDialsPerHost == 0:
		c.maxDials = DefaultMaxDials
	default:
		c.maxDials = cfg.MaxDialsPerHost
	}
	if c.idleTimeout == 0 {
		c.idleTimeout = DefaultIdleTimeout
	}
	// TCP keep-alive probes are off: every request carries a deadline and
	// idle connections are checked before use, so they would only add
	// set-up system calls to every dial.
	base := net.Dialer{Control: cfg.Control, ControlContext: cfg.ControlContext, Resolver: cfg.Resolver, KeepAlive: -1}
	c.dialTarget = cfg.ControlContext != nil
	if len(cfg.SourceAddrs) == 0 {
		c.dialers = []net.Dialer{base}
	}
	for _, a := range cfg.SourceAddrs {
		d := base
		d.LocalAddr = &net.TCPAddr{IP: a.AsSlice(), Zone: a.Zone()}
		c.dialers = append(c.dialers, d)
	}
	c.tlsBase = cfg.TLS
	if c.tlsBase == nil {
		c.tlsBase = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	c.sessions = c.tlsBase.ClientSessionCache
	if c.sessions == nil {
		c.sessions = tls.NewLRUClientSessionCache(1024)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// Do performs one request. It is safe for concurrent use, runs entirely on
// the caller's goroutine and never retries.
//
// Errors: dial errors as net.Dialer returns them (so errors.Is(err,
// syscall.ECONNREFUSED) works, and the Control error is wrapped); timeouts
// wrap os.ErrDeadlineExceeded whatever the phase (Result.Phase says which);
// peer closes wrap io.EOF, io.ErrUnexpectedEOF, syscall.ECONNRESET or
// syscall.EPIPE; protocol violations wrap ErrMalformed; a Request that
// cannot be written wraps ErrInvalidRequest; after Close, ErrClosed. The
// Result holds what was done before the error.
func (c *Client) Do(t Target, req *Request, opt Options) (res Result, err error) {
	res.Phase = PhaseConnect
	if c.closing.Load() {
		return res, ErrClosed
	}
	if err := validRequest(req); err != nil {
		res.Phase = PhaseWrite
		return res, err
	}
	connDL := opt.ConnectDeadline
	if connDL.IsZero() || !opt.Deadline.IsZero() && opt.Deadline.Before(connDL) {
		connDL = opt.Deadline
	}
	cn, fresh, err := c.getConn(t, connDL, &res.Waited)
	if err != nil {
		return res, err
	}
	res.NewConn = fresh
	if cn.opened.Dialed {
		res.Conn, cn.opened.Dialed = cn.opened, false
	}
	now := time.Now()
	res.ConnAt = now
	res.Phase = PhaseWrite

	dl := opt.Deadline
	if !dl.IsZero() && !now.Before(dl) {
		// Out of time before anything was written — the time went on
		// getting the connection, so it is a connect-phase timeout. The
		// connection is untouched and goes back to the pool.
		c.release(cn, !c.perRequest)
		res.Phase = PhaseConnect
		return res, errLate
	}
	firstDL := dl
	if fb := opt.FirstByteDeadline; !fb.IsZero() && (firstDL.IsZero() || fb.Before(firstDL)) {
		firstDL = fb
	}
	if opt.FirstByteTimeout > 0 {
		if fb := now.Add(opt.FirstByteTimeout); firstDL.IsZero() || fb.Before(firstDL) {
			firstDL = fb
		}
	}
	if err := cn.setDeadlines(dl, firstDL); err != nil {
		c.release(cn, false)
		return res, c.ioErr("set deadline", err)
	}

	host := req.Host
	if host == "" {
		host = t.Addr
	}
	res.BytesOut, err = cn.writeRequest(req, host, c.perRequest)
	if err != nil {
		c.release(cn, false)
		return res, c.ioErr("write request", err)
	}
	res.WroteAt = time.Now()

	res.Phase = PhaseFirstByte
	if _, err := cn.br.Peek(1); err != nil {
		c.release(cn, false)
		return res, c.ioErr("read response", err)
	}
	res.FirstByte = time.Now()
	res.Phase = PhaseBody
	if !firstDL.Equal(dl) {
		if err := cn.setReadDeadline(dl); err != nil {
			c.release(cn, false)
			return res, c.ioErr("set deadline", err)
		}
	}
	r, err := readResponse(cn.br, req.Method == "HEAD", c.maxHeader, opt.MaxBody, opt.WantLocation)
	res.Status, res.BodyBytes, res.Truncated, res.Location = r.status, r.bodyBytes, r.truncated, r.location
	res.BreakerOpen = r.breaker
	if err != nil {
		c.release(cn, false)
		if errors.Is(err, ErrMalformed) {
			return res, err
		}
		return res, c.ioErr("read response", err)
	}
	// Bytes after the response were never asked for, and a reader error
	// (such as a TLS close_notify read along with the last record) means
	// the next read would fail: either way the connection is done.
	c.release(cn, r.keepAlive && !c.perRequest && cn.br.Buffered() == 0 && cn.rd.err == nil)
	res.Phase = PhaseDone
	return res, nil
}

// errLate is returned when the total deadline passed before the write.
var errLate = fmt.Errorf("h1: deadline passed before the request was written: %w", os.ErrDeadlineExceeded)

// ioErr wraps an I/O error of a request on a connection; after Close it
// also wraps ErrClosed, as the error is most likely Close's doing.
func (c *Client) ioErr(op string, err error) error {
	if c.closing.Load() {
		return fmt.Errorf("h1: %s: %w: %w", op, ErrClosed, err)
	}
	return fmt.Errorf("h1: %s: %w", op, err)
}

// Close closes every connection (idle and in use: in-flight Do calls fail
// promptly with an error wrapping ErrClosed) and wakes every waiter with
// ErrClosed. Afterwards Do returns ErrClosed at once. Idempotent.
func (c *Client) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.closing.Store(true)
	var conns []*conn
	for cn := c.all.head; cn != nil; cn = cn.next {
		cn.closed = true
		conns = append(conns, cn)
	}
	c.all = connList{}
	var waiters []*waiter
	for _, hp := range c.hosts {
		clear(hp.idle)
		hp.idle = hp.idle[:0]
		hp.open = 0
		for w := hp.wq.pop(); w != nil; w = hp.wq.pop() {
			waiters = append(waiters, w)
		}
	}
	c.mu.Unlock()

	c.cancel()
	for _, cn := range conns {
		cn.closeSocket()
		c.stats.closed.Add(1)
	}
	for _, w := range waiters {
		w.ch <- grant{err: ErrClosed}
	}
}

// dialTargetKey is the context key of the Target being dialled.
type dialTargetKey struct{}

// DialTarget returns the Target being dialled, from the context that
// Config.ControlContext is called with.
func DialTarget(ctx context.Context) (Target, bool) {
	t, ok := ctx.Value(dialTargetKey{}).(Target)
	return t, ok
}

// Stats returns the Client's counters.
func (c *Client) Stats() Stats {
	s := Stats{
		Dials:       c.stats.dials.Load(),
		DialErrors:  c.stats.dialErrors.Load(),
		Reuses:      c.stats.reuses.Load(),
		Closed:      c.stats.closed.Load(),
		Resumed:     c.stats.resumed.Load(),
		Stale:       c.stats.stale.Load(),
		Expired:     c.stats.expired.Load(),
		Waits:       c.stats.waits.Load(),
		PeakDialing: c.stats.peakDialing.Load(),
	}
	s.Open = s.Dials - s.Closed
	return s
}
