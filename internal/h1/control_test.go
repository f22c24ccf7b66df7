package h1

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestControlContextSeesTarget: ControlContext gets the resolved address
// and, in its context, the Target being dialled; its error ends the dial
// before anything is connected.
func TestControlContextSeesTarget(t *testing.T) {
	srv := newRawServer(t, serveCanned([]byte(okResponse)))
	_, port, _ := net.SplitHostPort(srv.addr)
	errDenied := errors.New("not on the allowlist")
	for _, tt := range []struct {
		name   string
		target Target
		deny   bool
	}{
		{"allowed", Target{Addr: srv.addr}, false},
		{"by name, allowed", Target{Addr: net.JoinHostPort("localhost", port), ServerName: "x"}, false},
		{"refused", Target{Addr: srv.addr}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Happy Eyeballs may dial two addresses of a name at once.
			var mu sync.Mutex
			var saw Target
			var sawAddr string
			var ok bool
			c := New(Config{
				Control: func(string, string, syscall.RawConn) error {
					t.Error("Control called although ControlContext is set")
					return nil
				},
				ControlContext: func(ctx context.Context, _, address string, _ syscall.RawConn) error {
					mu.Lock()
					defer mu.Unlock()
					saw, ok = DialTarget(ctx)
					sawAddr = address
					if tt.deny {
						return errDenied
					}
					return nil
				},
			})
			defer c.Close()
			before := srv.accepted.Load()
			res, err := c.Do(tt.target, &Request{}, deadline(5*time.Second))
			mu.Lock()
			defer mu.Unlock()
			if !ok || saw != tt.target {
				t.Errorf("DialTarget = %+v, %v; want %+v", saw, ok, tt.target)
			}
			if host, _, _ := net.SplitHostPort(sawAddr); net.ParseIP(host) == nil {
				t.Errorf("ControlContext saw address %q; want a resolved IP and port", sawAddr)
			}
			if tt.deny {
				if !errors.Is(err, errDenied) || res.Phase != PhaseConnect {
					t.Errorf("Do = %+v, %v; want the ControlContext error in the connect phase", res, err)
				}
				if a := srv.accepted.Load() - before; a != 0 {
					t.Errorf("server accepted %d connections after a refusal", a)
				}
				return
			}
			if err != nil || res.Status != 200 {
				t.Errorf("Do = %+v, %v; want 200", res, err)
			}
		})
	}
}

// TestResolver: host names are resolved with Config.Resolver.
func TestResolver(t *testing.T) {
	var asked atomic.Int64
	errNoDNS := errors.New("no DNS here")
	r := &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		asked.Add(1)
		return nil, errNoDNS
	}}
	c := New(Config{Resolver: r})
	defer c.Close()
	_, err := c.Do(Target{Addr: "surge-resolver-test.invalid:80"}, &Request{}, deadline(5*time.Second))
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || asked.Load() == 0 {
		t.Errorf("Do = %v after %d queries; want a DNS error from the configured resolver", err, asked.Load())
	}
}
