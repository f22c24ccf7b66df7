package h1

import (
	"context"
	"net"
	"net/netip"
	"time"
)

// ConnTimes are how long opening a connection took, phase by phase. A
// Result carries them (Dialed set) only for the request that was the
// first on a connection dialled for it: the other requests on that
// connection had no such phases.
type ConnTimes struct {
	// Dialed is set when the times are those of this request's connection.
	Dialed bool
	// Looked is set when a host name was looked up (not for an IP
	// literal); DNS is how long the lookup took.
	Looked bool
	DNS    time.Duration
	// Connect is the TCP dial of the resolved address, from the end of
	// the lookup to the connection established (every address tried, when
	// a name resolved to several).
	Connect time.Duration
	// Handshook is set for a TLS connection; TLS is its handshake's
	// duration.
	Handshook bool
	TLS       time.Duration
}

// dialTimed dials addr over TCP with d, as d.DialContext(ctx, "tcp",
// addr) would, but looks a host name up itself first so that the lookup
// and the connect are timed apart (into ct). The addresses a name
// resolves to are tried in the resolver's order, one after the other,
// under d's deadline; the dial of each goes through d (its Control, its
// source address).
func dialTimed(ctx context.Context, d *net.Dialer, addr string, ct *ConnTimes) (net.Conn, error) {
	start := time.Now()
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || isIPLiteral(host) {
		// Nothing to look up (or an address d will refuse in its own
		// words).
		nc, err := d.DialContext(ctx, "tcp", addr)
		ct.Connect = time.Since(start)
		return nc, err
	}
	r := d.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	lctx := ctx
	if !d.Deadline.IsZero() {
		var cancel context.CancelFunc
		lctx, cancel = context.WithDeadline(ctx, d.Deadline)
		defer cancel()
	}
	ips, err := r.LookupNetIP(lctx, "ip", host)
	looked := time.Now()
	ct.Looked, ct.DNS = true, looked.Sub(start)
	if err == nil && len(ips) == 0 {
		err = &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: err}
	}
	var nc net.Conn
	for _, ip := range ips {
		if nc, err = d.DialContext(ctx, "tcp", net.JoinHostPort(ip.Unmap().String(), port)); err == nil {
			break
		}
		if ctx.Err() != nil || (!d.Deadline.IsZero() && !time.Now().Before(d.Deadline)) {
			break
		}
	}
	ct.Connect = time.Since(looked)
	return nc, err
}

// isIPLiteral reports whether host is an IP address (with a zone or not).
func isIPLiteral(host string) bool {
	_, err := netip.ParseAddr(host)
	return err == nil
}
