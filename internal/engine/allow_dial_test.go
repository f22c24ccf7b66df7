package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/h1"
	"github.com/surgeload/surge/internal/metrics"
)

// errOffLoopback is the test guard's refusal of an address the allowlist
// allowed.
var errOffLoopback = errors.New("test guard: allowed, but tests dial loopback only")

// The guard keeps every test of this package on loopback whatever the
// allowlist decides: a test that expects an off-loopback address to be
// allowed sees errOffLoopback instead of a connection.
func init() {
	testDialGuard = func(ip netip.Addr) error {
		if !ip.IsLoopback() {
			guarded.Add(1)
			return errOffLoopback
		}
		return nil
	}
}

// guarded counts the test guard's refusals: a test that expects the
// allowlist itself to refuse checks that it stays put (the guard's error
// is a dial error too).
var guarded atomic.Int64

// noGuardHits fails t if the test guard refused anything since before.
func noGuardHits(t *testing.T, before int64) {
	t.Helper()
	if n := guarded.Load() - before; n != 0 {
		t.Errorf("the allowlist allowed %d dials off loopback that it should have refused (the test guard stopped them)", n)
	}
}

// dnsServer is a minimal DNS server on UDP 127.0.0.1 that answers A and
// AAAA queries from a fixed table, and NXDOMAIN for names not in it.
type dnsServer struct {
	pc      net.PacketConn
	names   map[string][]netip.Addr // lower case, no trailing dot
	queries atomic.Int64
	done    chan struct{}
}

// newDNSServer starts a DNS server answering from names; it stops at the
// end of the test.
func newDNSServer(t *testing.T, names map[string][]netip.Addr) *dnsServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsServer{pc: pc, names: names, done: make(chan struct{})}
	go func() { // exits when the socket is closed
		defer close(s.done)
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := s.answer(buf[:n]); resp != nil {
				pc.WriteTo(resp, from)
			}
		}
	}()
	t.Cleanup(func() { pc.Close(); <-s.done })
	return s
}

// resolver is a resolver that asks s only.
func (s *dnsServer) resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", s.pc.LocalAddr().String())
	}}
}

// answer builds the response to query q (RFC 1035 §4.1), or nil to drop
// a query it cannot parse.
func (s *dnsServer) answer(q []byte) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:]) != 1 {
		return nil
	}
	s.queries.Add(1)
	// The question: labels up to the root, then type and class.
	var labels []string
	i := 12
	for {
		if i >= len(q) {
			return nil
		}
		l := int(q[i])
		i++
		if l == 0 {
			break
		}
		if l > 63 || i+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i:i+l]))
		i += l
	}
	if i+4 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i:])
	question := q[12 : i+4]
	addrs, known := s.names[strings.ToLower(strings.Join(labels, "."))]
	var answers [][]byte
	for _, a := range addrs {
		if (qtype == 1 && a.Is4()) || (qtype == 28 && a.Is6()) {
			rr := []byte{0xc0, 12} // the name: a pointer to the question's
			rr = binary.BigEndian.AppendUint16(rr, qtype)
			rr = binary.BigEndian.AppendUint16(rr, 1)  // class IN
			rr = binary.BigEndian.AppendUint32(rr, 60) // TTL
			b := a.AsSlice()
			rr = binary.BigEndian.AppendUint16(rr, uint16(len(b)))
			answers = append(answers, append(rr, b...))
		}
	}
	flags := uint16(0x8580) // response, authoritative, recursion desired and available
	if !known {
		flags |= 3 // NXDOMAIN
	}
	resp := binary.BigEndian.AppendUint16(nil, binary.BigEndian.Uint16(q))
	resp = binary.BigEndian.AppendUint16(resp, flags)
	resp = binary.BigEndian.AppendUint16(resp, 1)
	resp = binary.BigEndian.AppendUint16(resp, uint16(len(answers)))
	resp = append(resp, 0, 0, 0, 0) // no authority, no additional records
	resp = append(resp, question...)
	for _, rr := range answers {
		resp = append(resp, rr...)
	}
	return resp
}

// testNames are what the test DNS server knows: meta.test is the cloud
// metadata address, remote.test an off-loopback address, loop.test
// loopback.
var testNames = map[string][]netip.Addr{
	"meta.test":   {netip.MustParseAddr("169.254.169.254")},
	"meta6.test":  {netip.MustParseAddr("fd00:ec2::254")},
	"remote.test": {netip.MustParseAddr("192.0.2.1")},
	"loop.test":   {netip.MustParseAddr("127.0.0.1")},
}

// TestPreflightAllowlist checks the allowlist at preflight, after DNS:
// refusals come from the dial-time check (so no connection was attempted
// to the address), and loopback is always allowed.
func TestPreflightAllowlist(t *testing.T) {
	defer noGuardHits(t, guarded.Load())
	dns := newDNSServer(t, testNames)
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for _, tt := range []struct {
		allow  []string
		target string
		err    error  // nil = allowed and reachable
		msg    string // part of the error wanted
	}{
		{nil, srv.URL, nil, ""},
		{nil, "http://loop.test:" + port, nil, ""},
		{[]string{"*.example.com"}, "http://loop.test:" + port, nil, ""},
		{nil, "http://192.0.2.1/", ErrTargetNotAllowed, "loopback only"},
		{nil, "http://[2001:db8::1]/", ErrTargetNotAllowed, "loopback only"},
		{nil, "http://remote.test/", ErrTargetNotAllowed, "remote.test resolved to 192.0.2.1"},
		{[]string{"*.test"}, "http://192.0.2.1/", ErrTargetNotAllowed, "192.0.2.1 is not in the allowlist"},
		{[]string{"*.example.com"}, "http://remote.test/", ErrTargetNotAllowed, "not in the allowlist"},
		{[]string{"*.test"}, "http://meta.test/", ErrTargetNotAllowed, "meta.test resolved to 169.254.169.254, which is in 169.254.0.0/16"},
		{[]string{"meta.test"}, "http://META.test./", ErrTargetNotAllowed, "169.254.0.0/16"},
		{[]string{"*.test"}, "http://meta6.test/", ErrTargetNotAllowed, "fd00:ec2::254/128"},
		{[]string{"*.test"}, "http://169.254.169.254/", ErrTargetNotAllowed, "not in the allowlist"},
		{nil, "http://nosuch.test/", ErrTargetUnreachable, "no such host"},
	} {
		e := New(Config{Allow: MustParseAllowlist(tt.allow...), Resolver: dns.resolver()})
		u, err := url.Parse(tt.target)
		if err != nil {
			t.Fatal(err)
		}
		err = e.Preflight(context.Background(), u)
		if tt.err == nil && err != nil || tt.err != nil && (!errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.msg)) {
			t.Errorf("allow %q: Preflight(%s) = %v; want %v containing %q", tt.allow, tt.target, err, tt.err, tt.msg)
		}
	}
	if dns.queries.Load() == 0 {
		t.Error("the test DNS server was never asked")
	}
}

// TestDialCheckUsesHostName: the dial-time check of both dialers sees the
// name being dialled, so a host pattern allows an address that is neither
// loopback nor in a CIDR. The checks are called as the dialers call them,
// then the dial is stopped: nothing is sent off loopback (an allowed
// off-loopback address meets the test guard, errOffLoopback).
func TestDialCheckUsesHostName(t *testing.T) {
	dns := newDNSServer(t, testNames)
	e := New(Config{Allow: MustParseAllowlist("remote.test", "*.example.com"), Resolver: dns.resolver()})
	errStop := errors.New("stopped before connecting")
	for _, tt := range []struct {
		host  string
		allow bool
	}{
		{"remote.test", true},
		{"meta.test", false}, // always denied, even by name
		{"loop.test", true},  // loopback
	} {
		var mu sync.Mutex
		var verdicts []error
		record := func(err error) error {
			mu.Lock()
			defer mu.Unlock()
			verdicts = append(verdicts, err)
			return errStop
		}
		check := func(what string) {
			t.Helper()
			mu.Lock()
			defer mu.Unlock()
			if len(verdicts) == 0 {
				t.Errorf("%s %s: the dial-time check was not called", what, tt.host)
			}
			for _, v := range verdicts {
				if tt.allow && v != nil && !errors.Is(v, errOffLoopback) || !tt.allow && !errors.Is(v, ErrTargetNotAllowed) {
					t.Errorf("%s %s: check = %v; want allowed %v", what, tt.host, v, tt.allow)
				}
			}
			verdicts = nil
		}

		// The engine's own dialer (net/http and Preflight).
		d := e.dialer(5*time.Second, nil)
		d.base.ControlContext = func(ctx context.Context, network, address string, c syscall.RawConn) error {
			return record(e.control(ctx, network, address, c))
		}
		if _, err := d.DialContext(context.Background(), "tcp", net.JoinHostPort(tt.host, "80")); !errors.Is(err, errStop) {
			t.Errorf("dialer: DialContext(%s) = %v; want the test's stop", tt.host, err)
		}
		check("dialer")

		// The native client.
		c := h1.New(h1.Config{Resolver: e.cfg.Resolver, ControlContext: func(ctx context.Context, network, address string, c syscall.RawConn) error {
			return record(e.h1Control(ctx, network, address, c))
		}})
		_, err := c.Do(h1.Target{Addr: net.JoinHostPort(tt.host, "80")}, &h1.Request{}, h1.Options{Deadline: time.Now().Add(5 * time.Second)})
		c.Close()
		if !errors.Is(err, errStop) {
			t.Errorf("h1: Do(%s) = %v; want the test's stop", tt.host, err)
		}
		check("h1")
	}
}

// clients are the transports the end-to-end allowlist tests run through.
var clients = []struct {
	name string
	o    ClientOptions
}{
	{"native", ClientOptions{Impl: ImplNative}},
	{"net/http", ClientOptions{Impl: ImplNetHTTP}},
	{"h2c", ClientOptions{Protocol: HTTP2}},
}

// runAllow plays n arrivals of reqs against target with an engine that
// has allowlist allow and the test DNS server, and checks that the counts
// balance.
func runAllow(t *testing.T, e *Engine, target string, o ClientOptions, n int, reqs ...Request) metrics.Counters {
	t.Helper()
	lim := DefaultLimits()
	lim.Timeout = 5 * time.Second
	lim.Drain = 5 * time.Second
	j := newJob(t, target, job{rate: 200, d: time.Duration(n) * 5 * time.Millisecond, limits: lim, requests: reqs})
	j.Client = o
	_, total, _ := collect(t, e, context.Background(), j)
	c := total.Totals()
	if err := c.Check(); err != nil {
		t.Errorf("counters do not balance: %v", err)
	}
	if c.Intended != uint64(n) || c.Issued != uint64(n) || c.Completed() != uint64(n) {
		t.Fatalf("intended %d issued %d completed %d; want %d each (counters %+v)", c.Intended, c.Issued, c.Completed(), n, c)
	}
	return c
}

// TestRunAllowlist: both clients dial through the allowlist with the
// configured resolver; a target name that resolves to the metadata address
// fails every request as a dial error, and one that resolves to loopback
// works.
func TestRunAllowlist(t *testing.T) {
	dns := newDNSServer(t, testNames)
	h2c := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	h2c.Config.Protocols = new(http.Protocols)
	h2c.Config.Protocols.SetHTTP1(true)
	h2c.Config.Protocols.SetUnencryptedHTTP2(true)
	h2c.Start()
	defer h2c.Close()
	_, port, _ := net.SplitHostPort(h2c.Listener.Addr().String())
	e := New(Config{Allow: MustParseAllowlist("*.test"), Resolver: dns.resolver()})
	get := Request{Name: "get", Method: "GET", Path: "/"}
	defer noGuardHits(t, guarded.Load())
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) {
			c := runAllow(t, e, "http://loop.test:"+port, cl.o, 4, get)
			if c.Succeeded != 4 {
				t.Errorf("loop.test: succeeded %d (errors %v); want 4", c.Succeeded, errorsOf(c))
			}
			c = runAllow(t, e, "http://meta.test:"+port, cl.o, 4, get)
			if c.Errors[metrics.DialError] != 4 {
				t.Errorf("meta.test: errors %v; want 4 × dial_error", errorsOf(c))
			}
		})
	}
}

// TestRedirectAllowlist: a redirect from an allowed target to an address
// that is not allowed fails that request as a dial error; the target saw
// the first request only, and the counts balance.
func TestRedirectAllowlist(t *testing.T) {
	dns := newDNSServer(t, testNames)
	var hits atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/ip", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://192.0.2.1/", http.StatusFound)
	})
	mux.HandleFunc("/meta", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://meta.test/latest/meta-data/", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	mux.HandleFunc("/local", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		mux.ServeHTTP(w, r)
	}))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()
	e := New(Config{Allow: MustParseAllowlist("*.test"), Resolver: dns.resolver()})
	defer noGuardHits(t, guarded.Load())
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) {
			o := cl.o
			o.FollowRedirects = 3
			for _, tt := range []struct {
				path  string
				hits  int64
				dialE uint64
			}{
				{"/ip", 3, 3},
				{"/meta", 3, 3},
				{"/local", 6, 0}, // a redirect to an allowed place is followed
			} {
				hits.Store(0)
				c := runAllow(t, e, srv.URL, o, 3, Request{Name: "r", Method: "GET", Path: tt.path})
				if c.Errors[metrics.DialError] != tt.dialE || c.Succeeded != 3-tt.dialE || hits.Load() != tt.hits {
					t.Errorf("%s: succeeded %d, errors %v, target saw %d; want %d dial errors and %d requests at the target",
						tt.path, c.Succeeded, errorsOf(c), hits.Load(), tt.dialE, tt.hits)
				}
			}
		})
	}
}
