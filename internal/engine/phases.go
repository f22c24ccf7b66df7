package engine

import (
	"context"
	"crypto/tls"
	"net"
	"net/http/httptrace"
	"sync/atomic"
	"time"

	"github.com/surgeload/surge/internal/h1"
)

// phases records, from httptrace callbacks (which may run on transport
// goroutines), how far a net/http request got, and how its connection
// was opened when it was the first request on it. With redirects
// followed, each instant is of the last hop that reached it.
//
// net/http dials for a request that waits, but hands the connection to
// whichever request wants one when it is ready (maybe not the one that
// dialled: that one may have got an idle connection first). So the
// opening's times are kept with the connection (timedConn) and go to the
// first request that gets it, as with Surge's own client.
type phases struct {
	conn      atomic.Int64 // unix ns when the connection was ready; 0 = not yet
	wrote     atomic.Int64 // unix ns when the request was written; 0 = not yet
	firstByte atomic.Int64 // unix ns when the first response byte came; 0 = not yet
	// opened are the times of the connection's opening, when this request
	// was the first on it.
	opened atomic.Pointer[h1.ConnTimes]
	// The opening of a connection this request's context dialled, unix ns
	// (0 = not reached): a lookup (none for an IP literal), a TCP connect,
	// a TLS handshake.
	dnsStart, dnsDone, connStart, connDone, tlsStart, tlsDone atomic.Int64
}

// phasesKey is the context key of a request's phases, for timedDial.
type phasesKey struct{}

// context returns ctx with p's trace, and p for timedDial.
func (p *phases) context(ctx context.Context) context.Context {
	return context.WithValue(httptrace.WithClientTrace(ctx, p.trace()), phasesKey{}, p)
}

func (p *phases) trace() *httptrace.ClientTrace {
	now := func(a *atomic.Int64) { a.Store(time.Now().UnixNano()) }
	return &httptrace.ClientTrace{
		DNSStart: func(httptrace.DNSStartInfo) { now(&p.dnsStart) },
		DNSDone: func(i httptrace.DNSDoneInfo) {
			if i.Err == nil {
				now(&p.dnsDone)
			}
		},
		// With several addresses, the connect that succeeded is timed
		// (Go's dialer tries them in turn, or races two families).
		ConnectStart: func(string, string) { now(&p.connStart) },
		ConnectDone: func(_, _ string, err error) {
			if err == nil {
				now(&p.connDone)
			}
		},
		TLSHandshakeStart: func() { now(&p.tlsStart) },
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			if err == nil {
				now(&p.tlsDone)
			}
		},
		GotConn: func(i httptrace.GotConnInfo) {
			now(&p.conn)
			if ct, ok := firstUse(i.Conn); ok {
				p.opened.Store(&ct)
			}
		},
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				now(&p.wrote)
			}
		},
		GotFirstResponseByte: func() { now(&p.firstByte) },
	}
}

// instants are when the request got its connection, was written and got
// its first response byte, with monotonic readings relative to now, or
// zero; and how its connection was opened, when it was the first on it.
func (p *phases) instants() instants {
	at := instants{onWire: monotonic(p.conn.Load()), wrote: monotonic(p.wrote.Load()), firstByte: monotonic(p.firstByte.Load())}
	if ct := p.opened.Load(); ct != nil {
		at.conn = *ct
	}
	return at
}

// timedConn is a connection net/http's transport dialled, with the
// request whose context dialled it (its trace timed the lookup, the
// connect and then the TLS handshake).
type timedConn struct {
	net.Conn
	by    *phases   // nil: dialled outside a traced request
	start time.Time // when the dial began
	dns   time.Duration
	conn  time.Duration
	// looked: a name was looked up; taken: a request got the connection.
	looked bool
	taken  atomic.Bool
}

// timedDial wraps a DialContext so that each connection carries the
// times of its opening (timedConn).
func timedDial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		start := time.Now()
		nc, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tc := &timedConn{Conn: nc, start: start}
		p, _ := ctx.Value(phasesKey{}).(*phases)
		if p == nil {
			tc.conn = time.Since(start)
			return tc, nil
		}
		tc.by = p
		// The trace's marks of this dial are those from its start on (a
		// redirect's earlier dial may have left older ones).
		from := start.UnixNano()
		if s, d := p.dnsStart.Load(), p.dnsDone.Load(); s >= from && d >= s {
			tc.looked, tc.dns = true, time.Duration(d-s)
		}
		if s, d := p.connStart.Load(), p.connDone.Load(); s >= from && d >= s {
			tc.conn = time.Duration(d - s)
		} else {
			tc.conn = time.Since(start) - tc.dns
		}
		return tc, nil
	}
}

// firstUse returns the opening times of c, a connection a request got
// (under TLS or not), if it is the first request to get it.
func firstUse(c net.Conn) (h1.ConnTimes, bool) {
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	tc, ok := c.(*timedConn)
	if !ok || !tc.taken.CompareAndSwap(false, true) {
		return h1.ConnTimes{}, false
	}
	ct := h1.ConnTimes{Dialed: true, Looked: tc.looked, DNS: tc.dns, Connect: tc.conn}
	if p := tc.by; p != nil {
		// A handshake ran after the dial, on the dialling request's
		// trace, and is over by the time a request gets the connection.
		if s, d := p.tlsStart.Load(), p.tlsDone.Load(); s >= tc.start.UnixNano() && d >= s {
			ct.Handshook, ct.TLS = true, time.Duration(d-s)
		}
	}
	return ct, true
}
