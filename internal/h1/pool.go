package h1

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// hostPool is the pool of one Target. All fields are guarded by Client.mu.
//
// Invariants: open counts the connections of the Target that are open or
// being dialled (a reserved slot); waiters queue only while idle is empty,
// because a released connection goes to the oldest waiter before the idle
// stack.
type hostPool struct {
	target Target
	idle   []*conn // LIFO: the top is the most recently used
	open   int
	// dialing counts the dials in progress (each also holds a slot in
	// open); at Client.maxDials, a Do that finds no idle connection waits
	// for a released one or for a dial to finish.
	dialing int
	wq      waitQueue
}

// grant is what a waiter is woken with: a connection to use, permission to
// dial (a slot; cn and err nil), or an error.
type grant struct {
	cn  *conn
	err error
}

// waiter is one Do waiting at MaxConnsPerHost.
type waiter struct {
	ch         chan grant // buffered 1: a grant is sent at most once, never blocks
	prev, next *waiter
	queued     bool
}

// waitQueue is a FIFO of waiters, intrusive so a timed-out waiter leaves
// from the middle in O(1).
type waitQueue struct{ head, tail *waiter }

func (q *waitQueue) push(w *waiter) {
	w.queued = true
	w.prev, w.next = q.tail, nil
	if q.tail != nil {
		q.tail.next = w
	} else {
		q.head = w
	}
	q.tail = w
}

func (q *waitQueue) remove(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		q.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		q.tail = w.prev
	}
	w.prev, w.next, w.queued = nil, nil, false
}

func (q *waitQueue) pop() *waiter {
	w := q.head
	if w != nil {
		q.remove(w)
	}
	return w
}

func (q *waitQueue) len() int {
	n := 0
	for w := q.head; w != nil; w = w.next {
		n++
	}
	return n
}

// connList is the intrusive list of every open connection, so Close can
// reach connections in use without any per-request bookkeeping.
type connList struct{ head *conn }

func (l *connList) add(cn *conn) {
	cn.prev, cn.next = nil, l.head
	if l.head != nil {
		l.head.prev = cn
	}
	l.head = cn
}

func (l *connList) remove(cn *conn) {
	if cn.prev != nil {
		cn.prev.next = cn.next
	} else if l.head == cn {
		l.head = cn.next
	}
	if cn.next != nil {
		cn.next.prev = cn.prev
	}
	cn.prev, cn.next = nil, nil
}

// errPoolWait is returned when the connect deadline passes while waiting
// at MaxConnsPerHost.
var errPoolWait = fmt.Errorf("h1: waiting for a connection: %w", os.ErrDeadlineExceeded)

// getConn returns a connection for t: the most recently used idle one, a
// new one, or — at MaxConnsPerHost — the first one released, waiting until
// deadline. fresh says the connection was dialled for this request.
func (c *Client) getConn(t Target, deadline time.Time, waited *bool) (cn *conn, fresh bool, err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, false, ErrClosed
	}
	hp := c.hosts[t]
	if hp == nil {
		hp = &hostPool{target: t}
		c.hosts[t] = hp
	}
	// held: a dead idle connection's slot that this call kept, to dial with
	// if no other idle connection is usable.
	held := false
	for len(hp.idle) > 0 {
		now := time.Now()
		if c.idleTimeout > 0 {
			// The bottom of the stack is the coldest connection; if it
			// expired, close it (the top is examined below).
			if old := hp.idle[0]; now.Sub(old.idleAt) > c.idleTimeout {
				copy(hp.idle, hp.idle[1:])
				hp.idle[len(hp.idle)-1] = nil
				hp.idle = hp.idle[:len(hp.idle)-1]
				c.forgetLocked(old)
				c.freeSlotLocked(hp)
				old.closeSocket()
				c.stats.closed.Add(1)
				c.stats.expired.Add(1)
				continue
			}
		}
		n := len(hp.idle) - 1
		cn = hp.idle[n]
		hp.idle[n] = nil
		hp.idle = hp.idle[:n]
		if !c.idleCheck {
			if held {
				c.freeSlotLocked(hp)
			}
			c.mu.Unlock()
			c.stats.reuses.Add(1)
			return cn, false, nil
		}
		// Check it however briefly it was idle: a stale response can
		// arrive within microseconds of the last one. The connection is
		// ours now; peek without holding the lock.
		c.mu.Unlock()
		alive := cn.alive()
		c.mu.Lock()
		if alive && !cn.closed {
			if held {
				c.freeSlotLocked(hp)
			}
			c.mu.Unlock()
			c.stats.reuses.Add(1)
			return cn, false, nil
		}
		if !cn.closed {
			c.forgetLocked(cn)
			if held {
				c.freeSlotLocked(hp)
			}
			held = true
			c.mu.Unlock()
			cn.closeSocket()
			c.stats.closed.Add(1)
			c.stats.stale.Add(1)
			c.mu.Lock()
		}
		if c.closed {
			c.mu.Unlock()
			return nil, false, ErrClosed
		}
	}
	canDial := c.maxDials == 0 || hp.dialing < c.maxDials
	if held && !canDial {
		// No dial may start now: give the dead connection's slot back
		// (a waiter could use it only with a dial too) and wait.
		held = false
		hp.open--
	}
	if canDial && (held || c.maxConns == 0 || hp.open < c.maxConns) {
		if !held {
			hp.open++
		}
		c.startDialLocked(hp)
		c.mu.Unlock()
		cn, err := c.dial(hp, deadline)
		return cn, true, err
	}

	// At the bound: wait for a connection or a slot.
	if !deadline.IsZero() && !time.Now().Before(deadline) {
		c.mu.Unlock()
		return nil, false, errPoolWait
	}
	w := &waiter{ch: make(chan grant, 1)}
	hp.wq.push(w)
	c.mu.Unlock()
	c.stats.waits.Add(1)
	*waited = true

	var expired <-chan time.Time
	if !deadline.IsZero() {
		tm := time.NewTimer(time.Until(deadline))
		defer tm.Stop()
		expired = tm.C
	}
	var g grant
	select {
	case g = <-w.ch:
	case <-expired:
		c.mu.Lock()
		if w.queued {
			hp.wq.remove(w)
			c.mu.Unlock()
			return nil, false, errPoolWait
		}
		c.mu.Unlock()
		// A grant was sent as the timer fired: hand it on.
		if g = <-w.ch; g.err != nil {
			return nil, false, g.err
		}
		if g.cn != nil {
			c.release(g.cn, true)
		} else {
			c.closeSlot(hp)
			c.dialDone(hp)
		}
		return nil, false, errPoolWait
	}
	switch {
	case g.err != nil:
		return nil, false, g.err
	case g.cn != nil:
		if c.idleCheck && !g.cn.alive() {
			// Handed over straight from the previous request, yet bytes
			// (or a close) came in between: drop it and start again, at
			// the back of the queue if the bound is reached — rare, and
			// simpler than keeping the slot through a dial here.
			c.stats.stale.Add(1)
			c.closeConn(g.cn)
			return c.getConn(t, deadline, waited)
		}
		c.stats.reuses.Add(1)
		return g.cn, false, nil
	}
	cn, err = c.dial(hp, deadline)
	return cn, true, err
}

// forgetLocked marks cn closed and takes it off the list of open
// connections; its slot in hp.open stays taken. The caller closes the
// socket.
func (c *Client) forgetLocked(cn *conn) {
	cn.closed = true
	c.all.remove(cn)
}

// freeSlotLocked gives up one slot of hp: to the oldest waiter, who dials
// with it (when a dial may start), or back to the pool.
func (c *Client) freeSlotLocked(hp *hostPool) {
	if c.closed {
		return
	}
	hp.open--
	c.grantDialsLocked(hp)
}

// grantDialsLocked lets the oldest waiters dial while a slot and a dial
// are free.
func (c *Client) grantDialsLocked(hp *hostPool) {
	for hp.wq.head != nil && (c.maxConns == 0 || hp.open < c.maxConns) && (c.maxDials == 0 || hp.dialing < c.maxDials) {
		w := hp.wq.pop()
		hp.open++
		c.startDialLocked(hp)
		w.ch <- grant{}
	}
}

// startDialLocked counts a dial that is about to start.
func (c *Client) startDialLocked(hp *hostPool) {
	hp.dialing++
	if int64(hp.dialing) > c.stats.peakDialing.Load() {
		c.stats.peakDialing.Store(int64(hp.dialing))
	}
}

// dialDone counts a dial that ended, letting a waiter dial in its place.
func (c *Client) dialDone(hp *hostPool) {
	c.mu.Lock()
	hp.dialing--
	if !c.closed {
		c.grantDialsLocked(hp)
	}
	c.mu.Unlock()
}

// release ends a request's use of cn: back to the oldest waiter, or onto
// the idle stack if reuse, else closed (freeing its slot).
func (c *Client) release(cn *conn, reuse bool) {
	if !reuse {
		c.closeConn(cn)
		return
	}
	now := time.Now()
	c.mu.Lock()
	if cn.closed {
		c.mu.Unlock()
		return
	}
	if c.closed {
		c.forgetLocked(cn)
		c.mu.Unlock()
		cn.closeSocket()
		c.stats.closed.Add(1)
		return
	}
	hp := cn.hp
	if w := hp.wq.pop(); w != nil {
		w.ch <- grant{cn: cn}
		c.mu.Unlock()
		return
	}
	cn.idleAt = now
	hp.idle = append(hp.idle, cn)
	c.mu.Unlock()
}

// closeConn closes cn (once) and frees its slot.
func (c *Client) closeConn(cn *conn) {
	c.mu.Lock()
	if cn.closed {
		c.mu.Unlock()
		return
	}
	c.forgetLocked(cn)
	c.freeSlotLocked(cn.hp)
	c.mu.Unlock()
	cn.closeSocket()
	c.stats.closed.Add(1)
}

// dial opens a connection for hp with a slot already taken and the dial
// counted (startDialLocked); on error the slot is freed.
func (c *Client) dial(hp *hostPool, deadline time.Time) (*conn, error) {
	defer c.dialDone(hp)
	t := hp.target
	d := c.dialers[0]
	if len(c.dialers) > 1 {
		d = c.dialers[(c.next.Add(1)-1)%uint64(len(c.dialers))]
	}
	d.Deadline = deadline
	ctx := c.ctx
	if c.dialTarget {
		ctx = context.WithValue(ctx, dialTargetKey{}, t)
	}
	var ct ConnTimes
	nc, err := dialTimed(ctx, &d, t.Addr, &ct)
	if err != nil {
		c.closeSlot(hp)
		c.stats.dialErrors.Add(1)
		return nil, c.connectErr(err)
	}
	tcp, ok := nc.(*net.TCPConn)
	if !ok { // cannot happen with network "tcp"
		nc.Close()
		c.closeSlot(hp)
		return nil, fmt.Errorf("h1: dial %s: unexpected connection type %T", t.Addr, nc)
	}
	cn := newConn(tcp, hp)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		tcp.Close()
		return nil, ErrClosed
	}
	c.all.add(cn)
	c.mu.Unlock()
	c.stats.dials.Add(1)

	if t.TLS {
		tc := tls.Client(tcp, c.tlsConfig(t))
		// The handshake runs under the connect deadline on the socket
		// (netpoller timers), not a context, so no goroutine is started.
		if !deadline.IsZero() {
			if err := cn.setDeadlines(deadline, deadline); err != nil {
				c.closeConn(cn)
				c.stats.dialErrors.Add(1)
				return nil, c.connectErr(err)
			}
		}
		hs := time.Now()
		if err := tc.Handshake(); err != nil {
			c.closeConn(cn)
			c.stats.dialErrors.Add(1)
			return nil, c.connectErr(fmt.Errorf("h1: TLS handshake with %s: %w", t.Addr, err))
		}
		ct.Handshook, ct.TLS = true, time.Since(hs)
		if tc.ConnectionState().DidResume {
			c.stats.resumed.Add(1)
		}
		cn.useTLS(tc)
	}
	ct.Dialed = true
	cn.opened = ct
	return cn, nil
}

// closeSlot gives up a slot of hp that has no connection.
func (c *Client) closeSlot(hp *hostPool) {
	c.mu.Lock()
	c.freeSlotLocked(hp)
	c.mu.Unlock()
}

// connectErr classifies an error of the connect phase: Close's doing wraps
// ErrClosed; a timeout wraps os.ErrDeadlineExceeded (net.Dialer reports
// its own deadline as a timeout that does not); anything else is returned
// as it is.
func (c *Client) connectErr(err error) error {
	if c.closing.Load() {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return &timeoutError{err}
	}
	return err
}

// timeoutError is a connect-phase timeout: the error as the dialer gave it,
// which also matches os.ErrDeadlineExceeded.
type timeoutError struct{ err error }

func (e *timeoutError) Error() string   { return e.err.Error() }
func (e *timeoutError) Unwrap() []error { return []error{e.err, os.ErrDeadlineExceeded} }
func (e *timeoutError) Timeout() bool   { return true }

// tlsConfig returns the TLS config for t, cloned from the base once per
// server name.
func (c *Client) tlsConfig(t Target) *tls.Config {
	name := t.ServerName
	if name == "" {
		name = t.Addr
		if h, _, err := net.SplitHostPort(t.Addr); err == nil {
			name = h
		}
	}
	c.tlsMu.Lock()
	defer c.tlsMu.Unlock()
	cfg := c.tlsByName[name]
	if cfg == nil {
		cfg = c.tlsBase.Clone()
		cfg.ServerName = name
		cfg.NextProtos = []string{"http/1.1"}
		cfg.ClientSessionCache = c.sessions
		c.tlsByName[name] = cfg
	}
	return cfg
}

// waiting is how many Do calls wait for a connection to t (for tests).
func (c *Client) waiting(t Target) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if hp := c.hosts[t]; hp != nil {
		return hp.wq.len()
	}
	return 0
}
