package testnet

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy forwards TCP connections from its own loopback address to a
// backend, and plays the network's faults on them: Cut breaks every
// connection (both ends see it closed, as on a reset), Hold stops every
// byte and every new connection until Release (as a link that drops
// packets: nothing is closed, nothing arrives).
type Proxy struct {
	lis     net.Listener
	backend string

	mu    sync.Mutex
	held  bool
	cond  *sync.Cond
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// NewProxy listens on 127.0.0.1 and forwards to backend until the test
// ends.
func NewProxy(t testing.TB, backend string) *Proxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &Proxy{lis: lis, backend: backend, conns: map[net.Conn]bool{}}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept() // exits when the listener closes (cleanup)
	t.Cleanup(func() {
		lis.Close()
		p.Release()
		p.Cut()
		p.wg.Wait()
	})
	return p
}

// Addr is the address to connect to instead of the backend's.
func (p *Proxy) Addr() string { return p.lis.Addr().String() }

// Cut closes every connection through the proxy; new ones still work.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// Hold stops all traffic through the proxy, new connections included,
// until Release.
func (p *Proxy) Hold() {
	p.mu.Lock()
	p.held = true
	p.mu.Unlock()
}

// Release lets held traffic through again.
func (p *Proxy) Release() {
	p.mu.Lock()
	p.held = false
	p.cond.Broadcast()
	p.mu.Unlock()
}

// wait returns once traffic is not held (or c was closed meanwhile:
// false).
func (p *Proxy) wait(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.held {
		p.cond.Wait()
	}
	return p.conns[c]
}

func (p *Proxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.lis.Accept()
		if err != nil {
			return
		}
		p.track(in, true)
		p.wg.Add(1)
		go p.serve(in) // exits when either side closes
	}
}

func (p *Proxy) serve(in net.Conn) {
	defer p.wg.Done()
	defer p.track(in, false)
	defer in.Close()
	if !p.wait(in) {
		return
	}
	out, err := net.Dial("tcp", p.backend)
	if err != nil {
		return
	}
	p.track(out, true)
	defer p.track(out, false)
	defer out.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) { // exits when src or dst fails
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if !p.wait(src) {
					return
				}
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				if tc, ok := dst.(*net.TCPConn); ok && errors.Is(err, io.EOF) {
					_ = tc.CloseWrite() // pass the half-close on
				} else {
					src.Close()
					dst.Close()
				}
				return
			}
		}
	}
	go pipe(out, in)
	go pipe(in, out)
	<-done
	<-done
}
