//go:build linux

package h1

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// LoopSupported reports whether NewLoop works on this system.
const LoopSupported = true

// Loop runs HTTP/1.1 requests over plain TCP from one goroutine: the
// goroutine that calls Send and Wait. Its connections are non-blocking
// sockets in an epoll instance of its own, outside Go's netpoller, so a
// request costs its system calls — a peek on reuse, the write, one read per
// readiness — and no goroutine, no hand-off between threads, no timer of
// the runtime. It is what wrk does, for an open-model pacer that owns the
// goroutine: between arrivals, the pacer waits in Wait.
//
// A Loop keeps the Client's semantics for what it sends: dials go through
// the Client's dialers (allowlist check, resolver, source addresses; one
// goroutine per dial, which then hands the socket over), connections and
// dials per Target are bounded (LoopConfig), a request that finds no
// connection waits in a FIFO (its connect deadline applies), every reuse
// of an idle connection is preceded by the idle check (Config.IdleCheck),
// responses are parsed with the Client's rules and bounds (the same head
// parser; the body framing incrementally), requests are never retried, and
// every request ends in exactly one call of LoopConfig.Done, with the
// Phase it reached — unless the Loop is closed first.
//
// It speaks plain HTTP/1.1 over keep-alive connections only: no TLS (Send
// fails such a Target at once), no Config.PerRequest (NewLoop refuses).
//
// Concurrency: Send, Wait, InFlight and Close are called from one
// goroutine; Wake from any.
type Loop struct {
	c        *Client
	done     func(tag any, res *Result, err error)
	maxConns int // per Target, this loop's; 0 = no bound
	maxDials int // per Target, this loop's; 0 = no bound

	ep   int // epoll instance
	evfd int // eventfd: Wake
	// With Park: the epoll instance as a file in Go's netpoller, and the
	// poll that Wait parks on.
	park   *os.File
	parkRC syscall.RawConn
	parkFn func(fd uintptr) bool
	parkN  int
	parkE  syscall.Errno
	evs    []syscall.EpollEvent
	base   time.Time // the loop's clock: nanoseconds since base
	pwait2 bool      // epoll_pwait2 (ns timeouts) is available

	hosts    map[Target]*loopHost
	conns    []*lconn // by slot; nil = free
	freeConn []int32
	reqs     []*lreq // by id
	freeReq  []int32
	inFlight int
	yieldAt  int64 // Wait leaves ready sockets for later once the clock passes it; 0 = never
	yieldMin int   // ready sockets a Wait handles before it looks at yieldAt
	timers   timerHeap
	gen      int32 // of the last connection added

	// Dial results, from the dial goroutines.
	dmu    sync.Mutex
	dialed []dialResult
	spare  []dialResult
	dialWG sync.WaitGroup

	// wmu guards closed against Wake.
	wmu    sync.Mutex
	closed bool

	parser  *respParser
	scratch []byte // large Content-Length bodies are read into it
}

// LoopConfig configures a Loop.
type LoopConfig struct {
	// MaxConnsPerHost bounds this loop's open connections per Target (0 =
	// no bound). Loops sharing a Client split the Client's bound between
	// them.
	MaxConnsPerHost int
	// MaxDialsPerHost bounds this loop's dials in progress per Target (0 =
	// DefaultMaxDials, < 0 = no bound).
	MaxDialsPerHost int
	// Park makes Wait park the goroutine in Go's netpoller, which then
	// watches the loop's epoll instance, rather than block the thread in
	// epoll_wait: the processor stays free for other goroutines while the
	// loop waits (a thread blocked in a system call holds it until the
	// runtime takes it away, which costs wake-ups and thread hand-offs,
	// worst with GOMAXPROCS 1), at the price of a second epoll_wait per
	// wake-up and of the netpoller's timer precision, about a millisecond.
	// Without Park, a Wait's timeout is kept to the microsecond (with a
	// thread timer slack of 1 ns). Park pays off with GOMAXPROCS 1 only:
	// with more, each wake-up of a parked loop also goes through the
	// runtime's own epoll_wait and wakes an idle P to spin, which costs
	// more than the blocked thread (see engine's parkLoops).
	Park bool
	// YieldMin is how many ready sockets a Wait handles before it looks
	// at YieldAt (0 = DefaultYieldMin). Small values keep a precise pacer
	// on time; DefaultYieldMin keeps a pacer that sends in bursts while it
	// is behind from sending faster than it reads responses.
	YieldMin int
	// Done is called on the loop's goroutine, once for every Send, when
	// the request has ended: res says what was done (as Do's Result) and
	// err why it failed (as Do's errors). res is valid only during the
	// call. Done may be called before Send returns (a request that cannot
	// be sent at all), and may call Send.
	Done func(tag any, res *Result, err error)
}

// loopHost is one Target's connections and queue in a Loop.
type loopHost struct {
	t       Target
	idle    []*lconn // LIFO
	open    int      // connections open or being dialled
	dialing int
	// The FIFO of requests waiting for a connection.
	qhead, qtail *lreq
}

// lconn is one connection of a Loop.
type lconn struct {
	fd     int
	slot   int32
	gen    int32
	hp     *loopHost
	req    *lreq // the request on it; nil = idle
	idleAt int64
	out    bool // waiting for the socket to take the rest of a write
	// opened are the times of the connection's dial, Dialed until the
	// first request on it takes them.
	opened ConnTimes
	rb     recvBuf
	p      lparse
}

// lreq is one request in a Loop.
type lreq struct {
	id      int32
	seq     uint32 // bumped at every change of hands (dials tell theirs by it)
	active  bool   // sent, not yet done
	heapIdx int    // 1 + its index in the timer heap; 0 = no deadline running
	timerAt int64  // its deadline running
	tag     any
	hp      *loopHost
	cn      *lconn
	buf     []byte // the request as written
	off     int    // bytes of buf written
	// The queue (waiting for a connection).
	qprev, qnext *lreq
	queued       bool
	dialing      bool // waiting for a dial of its own

	head     bool
	wantLoc  bool
	maxBody  int64
	deadline int64 // all times: ns since Loop.base; 0 = none
	connDL   int64
	fbDL     int64 // first byte: set when the write starts
	fbAbs    int64 // Options.FirstByteDeadline
	fbAfter  int64 // Options.FirstByteTimeout
	res      Result
}

// dialResult is a dial's outcome, handed to the loop.
type dialResult struct {
	hp  *loopHost
	id  int32
	seq uint32
	fd  int
	err error
	ct  ConnTimes
}

const (
	eventfdSlot = -1
	epollRDHUP  = 0x2000 // EPOLLRDHUP
	sysEpollPW2 = 441    // epoll_pwait2, the same number on every architecture
	loopEvents  = 256
)

// DefaultYieldMin is LoopConfig.YieldMin's default: a caller that sends
// in bursts of up to this many while it is behind still has its responses
// read as fast as it sends them.
const DefaultYieldMin = 32

// NewLoop returns a Loop that dials through c. It fails when the system
// cannot make the epoll instance, or when c makes a connection per
// request.
func (c *Client) NewLoop(cfg LoopConfig) (*Loop, error) {
	if c.perRequest {
		return nil, fmt.Errorf("h1: a Loop keeps connections alive: the Client makes one per request")
	}
	if cfg.Done == nil {
		return nil, fmt.Errorf("h1: LoopConfig.Done is nil")
	}
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("h1: epoll_create1: %w", err)
	}
	evfd, _, e := syscall.RawSyscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if e != 0 {
		syscall.Close(ep)
		return nil, fmt.Errorf("h1: eventfd: %w", e)
	}
	l := &Loop{
		c:        c,
		done:     cfg.Done,
		maxConns: max(cfg.MaxConnsPerHost, 0),
		ep:       ep,
		evfd:     int(evfd),
		evs:      make([]syscall.EpollEvent, loopEvents),
		base:     time.Now(),
		hosts:    make(map[Target]*loopHost),
		parser:   newRespParser(c.maxHeader),
		yieldMin: cfg.YieldMin,
	}
	if l.yieldMin <= 0 {
		l.yieldMin = DefaultYieldMin
	}
	switch {
	case cfg.MaxDialsPerHost < 0:
	case cfg.MaxDialsPerHost == 0:
		l.maxDials = DefaultMaxDials
	default:
		l.maxDials = cfg.MaxDialsPerHost
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: eventfdSlot}
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, l.evfd, &ev); err != nil {
		syscall.Close(l.evfd)
		syscall.Close(ep)
		return nil, fmt.Errorf("h1: epoll_ctl: %w", err)
	}
	// epoll_pwait2 (Linux 5.11) takes a timeout in nanoseconds; without
	// it, timeouts round up to whole milliseconds.
	var ts syscall.Timespec
	_, _, e = syscall.RawSyscall6(sysEpollPW2, uintptr(ep), uintptr(unsafe.Pointer(&l.evs[0])), uintptr(len(l.evs)), uintptr(unsafe.Pointer(&ts)), 0, 0)
	l.pwait2 = e == 0
	if cfg.Park {
		l.parkOn()
	}
	return l, nil
}

// parkOn hands the epoll instance to Go's netpoller (an epoll instance is
// itself pollable: readable while any of its sockets is ready), so that
// Wait parks the goroutine. If the netpoller will not take it, Wait
// blocks in epoll_wait as without Park.
func (l *Loop) parkOn() {
	if err := syscall.SetNonblock(l.ep, true); err != nil {
		return
	}
	f := os.NewFile(uintptr(l.ep), "h1-loop-epoll")
	rc, err := f.SyscallConn()
	if err != nil || f.SetReadDeadline(time.Time{}) != nil { // not in the netpoller
		syscall.SetNonblock(l.ep, false)
		l.ep = dupKeep(f)
		return
	}
	l.park, l.parkRC = f, rc
	l.parkFn = func(fd uintptr) bool {
		r, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, fd, uintptr(unsafe.Pointer(&l.evs[0])), uintptr(len(l.evs)), 0, 0, 0)
		if e == syscall.EINTR {
			return false
		}
		l.parkN, l.parkE = int(r), e
		return r > 0 || e != 0
	}
}

// dupKeep takes the descriptor back from a file that could not be polled:
// a duplicate (the file's own is closed with it).
func dupKeep(f *os.File) int {
	fd := -1
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(s uintptr) {
			if r, _, e := syscall.RawSyscall(syscall.SYS_FCNTL, s, syscall.F_DUPFD_CLOEXEC, 0); e == 0 {
				fd = int(r)
			}
		})
	}
	f.Close()
	return fd
}

// now is the loop's clock.
func (l *Loop) now() int64 { return int64(time.Since(l.base)) }

// at converts a deadline to the loop's clock (0 for none; at least 1).
func (l *Loop) at(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return max(int64(t.Sub(l.base)), 1)
}

// InFlight is the number of requests sent and not yet done.
func (l *Loop) InFlight() int { return l.inFlight }

// Send starts a request to t. It never blocks: the request is written now
// if an idle connection is at hand, or waits in t's queue for one (a dial,
// or a connection another request releases). tag comes back in Done.
func (l *Loop) Send(t Target, req *Request, opt Options, tag any) {
	lr := l.newReq()
	lr.tag = tag
	lr.res.Phase = PhaseConnect
	if t.TLS {
		l.finish(lr, fmt.Errorf("%w: a Loop does not speak TLS", ErrInvalidRequest))
		return
	}
	if err := validRequest(req); err != nil {
		lr.res.Phase = PhaseWrite
		l.finish(lr, err)
		return
	}
	host := req.Host
	if host == "" {
		host = t.Addr
	}
	lr.buf = appendRequest(lr.buf[:0], req, host, false)
	lr.head = req.Method == "HEAD"
	lr.wantLoc = opt.WantLocation
	lr.maxBody = opt.MaxBody
	lr.deadline = l.at(opt.Deadline)
	lr.connDL = l.at(opt.ConnectDeadline)
	if lr.connDL == 0 || lr.deadline != 0 && lr.deadline < lr.connDL {
		lr.connDL = lr.deadline
	}
	lr.fbAbs = l.at(opt.FirstByteDeadline)
	lr.fbAfter = int64(opt.FirstByteTimeout)
	hp := l.hosts[t]
	if hp == nil {
		hp = &loopHost{t: t}
		l.hosts[t] = hp
	}
	lr.hp = hp
	l.assign(lr, l.now())
}

// assign gives lr a connection: an idle one, a dial of its own, or a
// place in the queue.
func (l *Loop) assign(lr *lreq, now int64) {
	hp := lr.hp
	if cn := l.takeIdle(hp, now); cn != nil {
		l.c.stats.reuses.Add(1)
		l.start(cn, lr, now)
		return
	}
	if l.canDial(hp) {
		l.dial(lr)
		return
	}
	if lr.connDL != 0 && now >= lr.connDL {
		l.finish(lr, errPoolWait)
		return
	}
	l.c.stats.waits.Add(1)
	lr.res.Waited = true
	l.enqueue(lr)
	if lr.connDL != 0 {
		l.timers.set(lr, lr.connDL)
	}
}

func (l *Loop) canDial(hp *loopHost) bool {
	return (l.maxConns == 0 || hp.open < l.maxConns) && (l.maxDials == 0 || hp.dialing < l.maxDials)
}

// takeIdle returns a usable idle connection of hp, or nil: the most
// recently used one that passes the idle check, after closing the oldest
// if it expired.
func (l *Loop) takeIdle(hp *loopHost, now int64) *lconn {
	for len(hp.idle) > 0 {
		if l.c.idleTimeout > 0 {
			if old := hp.idle[0]; now-old.idleAt > int64(l.c.idleTimeout) {
				copy(hp.idle, hp.idle[1:])
				hp.idle[len(hp.idle)-1] = nil
				hp.idle = hp.idle[:len(hp.idle)-1]
				l.c.stats.expired.Add(1)
				l.closeConn(old)
				continue
			}
		}
		n := len(hp.idle) - 1
		cn := hp.idle[n]
		hp.idle[n] = nil
		hp.idle = hp.idle[:n]
		if !l.c.idleCheck || cn.quiet() {
			return cn
		}
		l.c.stats.stale.Add(1)
		l.closeConn(cn)
	}
	return nil
}

// quiet is the idle check: nothing unread, and a non-blocking MSG_PEEK
// finds neither EOF, nor an error, nor unsolicited bytes.
func (cn *lconn) quiet() bool {
	if cn.rb.pos != cn.rb.end {
		return false
	}
	var b [1]byte
	_, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(cn.fd), uintptr(unsafe.Pointer(&b[0])), 1,
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	return e == syscall.EAGAIN
}

// dial starts a dial for lr, which waits for it alone (as a Do that
// dials does).
func (l *Loop) dial(lr *lreq) {
	hp := lr.hp
	hp.open++
	hp.dialing++
	if int64(hp.dialing) > l.c.stats.peakDialing.Load() {
		l.c.stats.peakDialing.Store(int64(hp.dialing))
	}
	lr.dialing = true
	lr.res.NewConn = true
	var dl time.Time
	if lr.connDL != 0 {
		dl = l.base.Add(time.Duration(lr.connDL))
	}
	id, seq := lr.id, lr.seq
	l.dialWG.Add(1)
	go func() { // exits when the dial ends (bounded by its deadline, or the Client's Close)
		defer l.dialWG.Done()
		var ct ConnTimes
		fd, err := l.c.dialFD(hp.t, dl, &ct)
		l.dmu.Lock()
		l.dialed = append(l.dialed, dialResult{hp: hp, id: id, seq: seq, fd: fd, err: err, ct: ct})
		l.dmu.Unlock()
		l.Wake()
	}()
}

// dialFD dials t as the Client's pool does and returns the socket's
// descriptor, out of Go's netpoller: a duplicate of the dialled
// connection's, which is then closed (the socket stays open, non-blocking,
// with TCP_NODELAY set).
// Its opening times go into ct.
func (c *Client) dialFD(t Target, deadline time.Time, ct *ConnTimes) (int, error) {
	d := c.dialers[0]
	if len(c.dialers) > 1 {
		d = c.dialers[(c.next.Add(1)-1)%uint64(len(c.dialers))]
	}
	d.Deadline = deadline
	ctx := c.ctx
	if c.dialTarget {
		ctx = context.WithValue(ctx, dialTargetKey{}, t)
	}
	nc, err := dialTimed(ctx, &d, t.Addr, ct)
	if err != nil {
		c.stats.dialErrors.Add(1)
		return -1, c.connectErr(err)
	}
	tcp, ok := nc.(*net.TCPConn)
	if !ok { // cannot happen with network "tcp"
		nc.Close()
		return -1, fmt.Errorf("h1: dial %s: unexpected connection type %T", t.Addr, nc)
	}
	raw, err := tcp.SyscallConn()
	if err != nil {
		tcp.Close()
		return -1, err
	}
	fd := -1
	var derr error
	if err := raw.Control(func(s uintptr) {
		r, _, e := syscall.RawSyscall(syscall.SYS_FCNTL, s, syscall.F_DUPFD_CLOEXEC, 0)
		if e != 0 {
			derr = &net.OpError{Op: "dial", Net: "tcp", Addr: tcp.RemoteAddr(), Err: os.NewSyscallError("fcntl", e)}
			return
		}
		fd = int(r)
	}); err != nil && derr == nil {
		derr = err
	}
	tcp.Close()
	if derr != nil {
		return -1, derr
	}
	c.stats.dials.Add(1)
	return fd, nil
}

// dialDone takes a dial's outcome: the connection goes to the request
// that dialled (if it still waits), else to the queue or the idle stack;
// an error goes to that request.
func (l *Loop) dialDone(r dialResult, now int64) {
	hp := r.hp
	hp.dialing--
	lr := l.reqs[r.id]
	mine := lr.seq == r.seq && lr.active && lr.dialing
	if mine {
		lr.dialing = false
	}
	if r.err != nil {
		hp.open--
		if mine {
			l.finish(lr, r.err)
		}
		l.grantDials(hp, now)
		return
	}
	cn := l.addConn(hp, r.fd)
	if cn != nil {
		cn.opened = r.ct
		cn.opened.Dialed = true
	}
	if cn == nil { // epoll refused it: count it as a failed dial
		hp.open--
		if mine {
			l.finish(lr, fmt.Errorf("h1: epoll_ctl: %w", syscall.ENOMEM))
		}
		l.grantDials(hp, now)
		return
	}
	if mine {
		l.start(cn, lr, now)
		return
	}
	l.release(cn, now)
	l.grantDials(hp, now)
}

// addConn registers a connected socket.
func (l *Loop) addConn(hp *loopHost, fd int) *lconn {
	var slot int32
	if n := len(l.freeConn); n > 0 {
		slot, l.freeConn = l.freeConn[n-1], l.freeConn[:n-1]
	} else {
		slot = int32(len(l.conns))
		l.conns = append(l.conns, nil)
	}
	l.gen++
	cn := &lconn{fd: fd, slot: slot, gen: l.gen, hp: hp, rb: recvBuf{b: make([]byte, bufSize)}}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | epollRDHUP, Fd: slot, Pad: cn.gen}
	if err := syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		syscall.Close(fd)
		l.freeConn = append(l.freeConn, slot)
		return nil
	}
	l.conns[slot] = cn
	return cn
}

// grantDials lets the oldest queued requests dial while a slot and a dial
// are free.
func (l *Loop) grantDials(hp *loopHost, now int64) {
	for hp.qhead != nil && l.canDial(hp) {
		lr := hp.qhead
		l.dequeue(lr)
		l.timers.clear(lr) // the dial has its own deadline
		l.dial(lr)
	}
}

// start writes lr on cn, which is in hand.
func (l *Loop) start(cn *lconn, lr *lreq, now int64) {
	cn.req = lr
	lr.cn = cn
	if cn.opened.Dialed {
		lr.res.Conn, cn.opened.Dialed = cn.opened, false
	}
	l.timers.clear(lr) // a queued request's connect deadline is met
	lr.res.ConnAt = l.base.Add(time.Duration(now))
	lr.res.Phase = PhaseWrite
	if lr.deadline != 0 && now >= lr.deadline {
		// Out of time before anything was written: a connect-phase
		// timeout, and the connection goes back untouched.
		cn.req, lr.cn = nil, nil
		lr.res.Phase = PhaseConnect
		l.release(cn, now)
		l.finish(lr, errLate)
		return
	}
	fb := lr.deadline
	if lr.fbAbs != 0 && (fb == 0 || lr.fbAbs < fb) {
		fb = lr.fbAbs
	}
	if lr.fbAfter > 0 && (fb == 0 || now+lr.fbAfter < fb) {
		fb = now + lr.fbAfter
	}
	lr.fbDL = fb
	if fb != 0 {
		l.timers.set(lr, fb)
	}
	cn.p = lparse{}
	l.write(cn, lr)
}

// write writes what is left of lr's request; when the socket takes only
// part of it, the rest waits for EPOLLOUT.
func (l *Loop) write(cn *lconn, lr *lreq) {
	for lr.off < len(lr.buf) {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(cn.fd), uintptr(unsafe.Pointer(&lr.buf[lr.off])), uintptr(len(lr.buf)-lr.off))
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			if !cn.out {
				cn.out = true
				l.watch(cn, syscall.EPOLLOUT)
			}
			return
		case e != 0:
			lr.res.BytesOut = int64(lr.off)
			l.fail(cn, l.ioErr("write request", e))
			return
		}
		lr.off += int(n)
	}
	lr.res.BytesOut = int64(lr.off)
	lr.res.Phase = PhaseFirstByte
	// One clock read per request: the write's end, for its phase.
	lr.res.WroteAt = l.base.Add(time.Duration(l.now()))
	if cn.out {
		cn.out = false
		l.watch(cn, syscall.EPOLLIN|epollRDHUP)
	}
}

// watch sets what cn's socket is watched for.
func (l *Loop) watch(cn *lconn, events uint32) {
	ev := syscall.EpollEvent{Events: events, Fd: cn.slot, Pad: cn.gen}
	if err := syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_MOD, cn.fd, &ev); err != nil && cn.req != nil {
		l.fail(cn, l.ioErr("epoll_ctl", err))
	}
}

// readable handles a readiness of cn's socket.
func (l *Loop) readable(cn *lconn, now int64) {
	lr := cn.req
	if lr == nil {
		// Bytes, or the peer's close, while no request was outstanding:
		// the connection is done.
		l.removeIdle(cn)
		l.c.stats.stale.Add(1)
		l.closeConn(cn)
		l.grantDials(cn.hp, now)
		return
	}
	if lr.res.Phase < PhaseFirstByte {
		return // still writing: EPOLLOUT will come
	}
	if l.scratch == nil {
		l.scratch = make([]byte, scratchSize)
	}
	into, big := cn.rb.room(&cn.p, l.scratch)
	var n uintptr
	var e syscall.Errno
	for {
		n, _, e = syscall.RawSyscall(syscall.SYS_READ, uintptr(cn.fd), uintptr(unsafe.Pointer(&into[0])), uintptr(len(into)))
		if e != syscall.EINTR {
			break
		}
	}
	switch {
	case e == syscall.EAGAIN:
		return
	case e != 0:
		l.fail(cn, l.ioErr("read response", e))
		return
	}
	if lr.res.FirstByte.IsZero() {
		if n == 0 {
			l.fail(cn, l.ioErr("read response", io.EOF))
			return
		}
		lr.res.FirstByte = l.base.Add(time.Duration(now))
		lr.res.Phase = PhaseBody
		if lr.deadline != 0 {
			l.timers.set(lr, lr.deadline)
		} else {
			l.timers.clear(lr)
		}
	}
	if big {
		if n == 0 {
			l.fail(cn, l.ioErr("read response", io.ErrUnexpectedEOF))
		} else if cn.p.bigRead(int64(n)) {
			l.complete(cn, now)
		}
		return
	}
	cn.rb.end += int(n)
	done, err := l.parser.parse(&cn.p, &cn.rb, respReq{head: lr.head, wantLoc: lr.wantLoc, maxBody: lr.maxBody}, n == 0)
	switch {
	case err != nil && isMalformed(err):
		l.fail(cn, err)
	case err != nil:
		l.fail(cn, l.ioErr("read response", err))
	case done:
		l.complete(cn, now)
	}
}

// complete ends cn's request with the response the parser read.
func (l *Loop) complete(cn *lconn, now int64) {
	lr := cn.req
	r := cn.p.result()
	lr.res.Status, lr.res.Location, lr.res.BreakerOpen = r.status, r.location, r.breaker
	lr.res.BodyBytes, lr.res.Truncated = r.bodyBytes, r.truncated
	lr.res.Phase = PhaseDone
	// Bytes after the response were never asked for: the connection is
	// done, as in Do.
	reuse := r.keepAlive && cn.rb.pos == cn.rb.end
	cn.req, lr.cn = nil, nil
	if reuse {
		cn.rb.pos, cn.rb.end = 0, 0
		if len(cn.rb.b) > bufSize {
			cn.rb.b = make([]byte, bufSize) // a large head was an exception
		}
		l.release(cn, now)
	} else {
		hp := cn.hp
		l.closeConn(cn)
		l.grantDials(hp, now)
	}
	l.finish(lr, nil)
}

// release puts cn back: to the oldest queued request, or onto the idle
// stack.
func (l *Loop) release(cn *lconn, now int64) {
	hp := cn.hp
	if lr := hp.qhead; lr != nil {
		if l.c.idleCheck && !cn.quiet() {
			// Handed straight over, yet bytes came in since its last
			// response: drop it (the queue gets its slot).
			l.c.stats.stale.Add(1)
			l.closeConn(cn)
			l.grantDials(hp, now)
			return
		}
		l.dequeue(lr)
		l.c.stats.reuses.Add(1)
		l.start(cn, lr, now)
		return
	}
	cn.idleAt = now
	hp.idle = append(hp.idle, cn)
}

// fail ends cn's request with err and closes cn.
func (l *Loop) fail(cn *lconn, err error) {
	lr := cn.req
	hp := cn.hp
	cn.req = nil
	if lr != nil {
		lr.cn = nil
		if lr.res.Phase == PhaseBody { // what was read, as Do reports it
			r := cn.p.result()
			lr.res.Status, lr.res.BodyBytes = r.status, r.bodyBytes
		}
	}
	l.closeConn(cn)
	l.grantDials(hp, l.now())
	if lr != nil {
		l.finish(lr, err)
	}
}

// closeConn closes cn (not idle, or taken off the idle stack) and frees
// its slot.
func (l *Loop) closeConn(cn *lconn) {
	if cn.fd < 0 {
		return
	}
	syscall.Close(cn.fd) // the only descriptor: this also leaves the epoll set
	cn.fd = -1
	cn.hp.open--
	l.conns[cn.slot] = nil
	l.freeConn = append(l.freeConn, cn.slot)
	l.c.stats.closed.Add(1)
}

func (l *Loop) removeIdle(cn *lconn) {
	idle := cn.hp.idle
	for i, c := range idle {
		if c == cn {
			copy(idle[i:], idle[i+1:])
			idle[len(idle)-1] = nil
			cn.hp.idle = idle[:len(idle)-1]
			return
		}
	}
}

// finish ends lr: Done with its result, and lr is free again.
func (l *Loop) finish(lr *lreq, err error) {
	tag := lr.tag
	l.inFlight--
	l.timers.clear(lr)
	lr.seq++
	lr.tag, lr.active = nil, false
	l.done(tag, &lr.res, err)
	l.freeReq = append(l.freeReq, lr.id) // after Done, whose res it is
}

func (l *Loop) newReq() *lreq {
	var lr *lreq
	if n := len(l.freeReq); n > 0 {
		lr = l.reqs[l.freeReq[n-1]]
		l.freeReq = l.freeReq[:n-1]
	} else {
		lr = &lreq{id: int32(len(l.reqs))}
		l.reqs = append(l.reqs, lr)
	}
	seq, buf := lr.seq, lr.buf
	*lr = lreq{id: lr.id, seq: seq + 1, buf: buf[:0], active: true}
	l.inFlight++
	return lr
}

func (l *Loop) enqueue(lr *lreq) {
	hp := lr.hp
	lr.queued = true
	lr.qprev, lr.qnext = hp.qtail, nil
	if hp.qtail != nil {
		hp.qtail.qnext = lr
	} else {
		hp.qhead = lr
	}
	hp.qtail = lr
}

func (l *Loop) dequeue(lr *lreq) {
	hp := lr.hp
	if lr.qprev != nil {
		lr.qprev.qnext = lr.qnext
	} else {
		hp.qhead = lr.qnext
	}
	if lr.qnext != nil {
		lr.qnext.qprev = lr.qprev
	} else {
		hp.qtail = lr.qprev
	}
	lr.qprev, lr.qnext, lr.queued = nil, nil, false
}

// expire handles a timer that fell due for lr.
func (l *Loop) expire(lr *lreq) {
	switch {
	case lr.queued:
		l.dequeue(lr)
		l.finish(lr, errPoolWait)
	case lr.cn != nil:
		op := "read response"
		if lr.res.Phase == PhaseWrite {
			op = "write request"
		}
		l.fail(lr.cn, l.ioErr(op, os.ErrDeadlineExceeded))
	}
}

// ioErr is Client.ioErr for the loop's I/O errors.
func (l *Loop) ioErr(op string, err error) error {
	if l.c.closing.Load() {
		return fmt.Errorf("h1: %s: %w: %w", op, ErrClosed, err)
	}
	return fmt.Errorf("h1: %s: %w", op, err)
}

// Wait waits for the sockets, a dial or Wake for at most d (d < 0: no
// bound; 0: only what is ready now), then does what they call for,
// calling Done for every request that ended, timeouts included. It
// returns early when Wake was called.
func (l *Loop) Wait(d time.Duration) error {
	now := l.now()
	l.expireTimers(now)
	wait := int64(d)
	if t, ok := l.timers.next(); ok {
		if left := max(t-now, 0); wait < 0 || left < wait {
			wait = left
		}
	}
	n, err := l.epollWait(wait)
	if err != nil {
		return err
	}
	now = l.now()
	for i := range n {
		if l.yieldAt != 0 && i >= l.yieldMin {
			// The caller has something to do at yieldAt: sockets not
			// handled yet stay ready (level-triggered) for the next Wait.
			if now = l.now(); now >= l.yieldAt {
				break
			}
		}
		ev := &l.evs[i]
		if ev.Fd == eventfdSlot {
			var b [8]byte
			syscall.RawSyscall(syscall.SYS_READ, uintptr(l.evfd), uintptr(unsafe.Pointer(&b[0])), 8)
			l.takeDials(now)
			continue
		}
		if int(ev.Fd) >= len(l.conns) {
			continue
		}
		cn := l.conns[ev.Fd]
		if cn == nil || cn.gen != ev.Pad {
			continue // closed since (its events were already queued)
		}
		if ev.Events&syscall.EPOLLOUT != 0 && cn.req != nil && cn.out {
			l.write(cn, cn.req)
			if cn.fd < 0 {
				continue
			}
		}
		if ev.Events&(syscall.EPOLLIN|epollRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
			l.readable(cn, now)
		}
	}
	l.expireTimers(l.now())
	return nil
}

func (l *Loop) takeDials(now int64) {
	l.dmu.Lock()
	l.dialed, l.spare = l.spare[:0], l.dialed
	l.dmu.Unlock()
	for i, r := range l.spare {
		l.dialDone(r, now)
		l.spare[i] = dialResult{}
	}
}

// epollWait waits up to wait ns (< 0: no bound) for events.
func (l *Loop) epollWait(wait int64) (int, error) {
	if l.park != nil && wait != 0 {
		return l.parkWait(wait)
	}
	for {
		var r uintptr
		var e syscall.Errno
		evp := uintptr(unsafe.Pointer(&l.evs[0]))
		switch {
		case wait == 0:
			r, _, e = syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(l.ep), evp, uintptr(len(l.evs)), 0, 0, 0)
		case l.pwait2:
			var tsp uintptr
			var ts syscall.Timespec
			if wait > 0 {
				ts = syscall.NsecToTimespec(wait)
				tsp = uintptr(unsafe.Pointer(&ts))
			}
			r, _, e = syscall.Syscall6(sysEpollPW2, uintptr(l.ep), evp, uintptr(len(l.evs)), tsp, 0, 0)
		default:
			ms := -1
			if wait > 0 {
				ms = int((wait + int64(time.Millisecond) - 1) / int64(time.Millisecond)) // never early
			}
			r, _, e = syscall.Syscall6(syscall.SYS_EPOLL_PWAIT, uintptr(l.ep), evp, uintptr(len(l.evs)), uintptr(ms), 0, 0)
		}
		switch e {
		case 0:
			return int(r), nil
		case syscall.EINTR:
			return 0, nil
		default:
			return 0, fmt.Errorf("h1: epoll_wait: %w", e)
		}
	}
}

// parkWait is epollWait with Park: the goroutine parks in the netpoller
// until the epoll instance is readable or the deadline passes.
func (l *Loop) parkWait(wait int64) (int, error) {
	var dl time.Time
	if wait > 0 {
		dl = time.Now().Add(time.Duration(wait))
	}
	if err := l.park.SetReadDeadline(dl); err != nil {
		return 0, fmt.Errorf("h1: epoll deadline: %w", err)
	}
	l.parkN, l.parkE = 0, 0
	if err := l.parkRC.Read(l.parkFn); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, nil
		}
		return 0, fmt.Errorf("h1: epoll wait: %w", err)
	}
	if l.parkE != 0 {
		return 0, fmt.Errorf("h1: epoll_wait: %w", l.parkE)
	}
	return l.parkN, nil
}

// expireTimers ends the requests whose deadline has passed.
func (l *Loop) expireTimers(now int64) {
	for {
		t, ok := l.timers.next()
		if !ok || t > now {
			return
		}
		l.expire(l.timers.pop())
	}
}

// YieldAt makes Wait return as soon as it can once the clock passes t
// (zero: never), leaving the sockets it has not handled yet ready for the
// next Wait: a pacer with an arrival due at t is not held up by a long
// batch of responses.
func (l *Loop) YieldAt(t time.Time) {
	l.yieldAt = 0
	if !t.IsZero() {
		l.yieldAt = l.at(t)
	}
}

// Wake makes a Wait in progress (or the next one) return soon. Any
// goroutine may call it, until Close.
func (l *Loop) Wake() {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed {
		return
	}
	one := uint64(1)
	syscall.RawSyscall(syscall.SYS_WRITE, uintptr(l.evfd), uintptr(unsafe.Pointer(&one)), 8)
}

// Close closes every connection and ends the loop; requests still in
// flight never see Done. It waits for the dials in progress (close the
// Client first to cut them short). Idempotent.
func (l *Loop) Close() {
	l.dialWG.Wait()
	l.wmu.Lock()
	if l.closed {
		l.wmu.Unlock()
		return
	}
	l.closed = true
	l.wmu.Unlock()
	// Sockets of dials that finished since the last Wait: nothing more is
	// sent, so they are closed unused.
	l.dmu.Lock()
	for _, r := range l.dialed {
		if r.err == nil {
			syscall.Close(r.fd)
			l.c.stats.closed.Add(1)
		}
	}
	l.dialed = nil
	l.dmu.Unlock()
	for _, cn := range l.conns {
		if cn != nil {
			l.closeConn(cn)
		}
	}
	syscall.Close(l.evfd)
	if l.park != nil {
		l.park.Close()
	} else {
		syscall.Close(l.ep)
	}
}

// timerHeap is a binary min-heap of the requests that have a deadline
// running, by that deadline; each request is in it at most once and knows
// its place, so a request that ends leaves it at once (the heap holds no
// more than the requests in flight).
type timerHeap []*lreq

// set gives lr the deadline at (in the heap or moved in it).
func (h *timerHeap) set(lr *lreq, at int64) {
	if lr.heapIdx > 0 {
		old := lr.timerAt
		lr.timerAt = at
		if at < old {
			h.up(lr.heapIdx - 1)
		} else {
			h.down(lr.heapIdx - 1)
		}
		return
	}
	lr.timerAt = at
	*h = append(*h, lr)
	lr.heapIdx = len(*h)
	h.up(len(*h) - 1)
}

// clear takes lr's deadline out, if it has one.
func (h *timerHeap) clear(lr *lreq) {
	if lr.heapIdx == 0 {
		return
	}
	i := lr.heapIdx - 1
	n := len(*h) - 1
	h.swap(i, n)
	(*h)[n] = nil
	*h = (*h)[:n]
	lr.heapIdx = 0
	if i < n {
		h.down(i)
		h.up(i)
	}
}

func (h timerHeap) next() (int64, bool) {
	if len(h) == 0 {
		return 0, false
	}
	return h[0].timerAt, true
}

// pop takes out the request with the earliest deadline.
func (h *timerHeap) pop() *lreq {
	lr := (*h)[0]
	h.clear(lr)
	return lr
}

func (h timerHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = i+1, j+1
}

func (h timerHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h[p].timerAt <= h[i].timerAt {
			return
		}
		h.swap(p, i)
		i = p
	}
}

func (h timerHeap) down(i int) {
	n := len(h)
	for {
		c := 2*i + 1
		if c >= n {
			return
		}
		if c+1 < n && h[c+1].timerAt < h[c].timerAt {
			c++
		}
		if h[i].timerAt <= h[c].timerAt {
			return
		}
		h.swap(i, c)
		i = c
	}
}
