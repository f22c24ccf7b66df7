package memnet

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"syscall"
)

// port is the port of every memnet address: hosts tell listeners apart.
const port = "80"

// Network is a set of in-memory listeners, addressed "host:80".
type Network struct {
	mu        sync.Mutex
	listeners map[string]*Listener // by address
	dials     int                  // numbers the client side of each connection
}

// New returns an empty Network.
func New() *Network { return &Network{listeners: make(map[string]*Listener)} }

// Listen returns a listener at host:80. It fails when host is empty or
// already has an open listener.
func (n *Network) Listen(host string) (*Listener, error) {
	if host == "" {
		return nil, fmt.Errorf("memnet: listen: empty host")
	}
	address := net.JoinHostPort(host, port)
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.listeners[address]; ok {
		return nil, fmt.Errorf("memnet: listen %s: %w", address, syscall.EADDRINUSE)
	}
	l := &Listener{
		net:   n,
		addr:  addr(address),
		conns: make(chan net.Conn),
		done:  make(chan struct{}),
	}
	n.listeners[address] = l
	return l, nil
}

// DialContext connects to the listener at address, with the signature of
// net.Dialer.DialContext (network is ignored). It returns once the
// listener has accepted the connection, or fails with ECONNREFUSED when
// no listener is open there, or with ctx's error.
func (n *Network) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	n.mu.Lock()
	l := n.listeners[address]
	n.dials++
	client := addr(net.JoinHostPort("client-"+strconv.Itoa(n.dials), port))
	n.mu.Unlock()
	refused := &net.OpError{Op: "dial", Net: network, Addr: addr(address), Err: syscall.ECONNREFUSED}
	if l == nil {
		return nil, refused
	}
	c, s := net.Pipe()
	select {
	case l.conns <- &conn{Conn: s, local: l.addr, remote: client}:
		return &conn{Conn: c, local: client, remote: l.addr}, nil
	case <-l.done:
		c.Close()
		s.Close()
		return nil, refused
	case <-ctx.Done():
		c.Close()
		s.Close()
		return nil, fmt.Errorf("memnet: dial %s: %w", address, ctx.Err())
	}
}

// Transport returns an HTTP transport that dials n and never uses a
// proxy from the environment. Close its idle connections before the end
// of a synctest bubble, or their goroutines outlive it.
func (n *Network) Transport() *http.Transport {
	return &http.Transport{DialContext: n.DialContext, MaxIdleConnsPerHost: 64}
}

// NewServer starts an httptest.Server for h listening at host:80 on n;
// its URL is http://host:80. Its Client dials the real network: use a
// client with n's Transport instead.
func (n *Network) NewServer(host string, h http.Handler) (*httptest.Server, error) {
	l, err := n.Listen(host)
	if err != nil {
		return nil, err
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: h}}
	srv.Start()
	return srv, nil
}

// Listener is a net.Listener on a Network.
type Listener struct {
	net   *Network
	addr  addr
	conns chan net.Conn // unbuffered: a dial returns only once accepted
	once  sync.Once
	done  chan struct{}
}

var _ net.Listener = (*Listener)(nil)

// Accept waits for the next connection; it fails with net.ErrClosed once
// the listener is closed.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, fmt.Errorf("memnet: accept on %s: %w", l.addr, net.ErrClosed)
	}
}

// Close stops the listener and frees its address. Connections already
// accepted stay open. It is idempotent.
func (l *Listener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.net.mu.Lock()
		if l.net.listeners[string(l.addr)] == l {
			delete(l.net.listeners, string(l.addr))
		}
		l.net.mu.Unlock()
	})
	return nil
}

// Addr returns host:80.
func (l *Listener) Addr() net.Addr { return l.addr }

// conn is one end of a net.Pipe with the addresses of its two ends (a
// bare pipe calls both "pipe", which is not host:port).
type conn struct {
	net.Conn
	local, remote addr
}

func (c *conn) LocalAddr() net.Addr  { return c.local }
func (c *conn) RemoteAddr() net.Addr { return c.remote }

// addr is a memnet address, host:80.
type addr string

func (a addr) Network() string { return "memnet" }
func (a addr) String() string  { return string(a) }
