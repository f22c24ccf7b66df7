package targets

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// ShutdownTimeout is how long Close waits for in-flight requests to
// finish before it closes their connections.
const ShutdownTimeout = 5 * time.Second

// Server serves a target on a TCP address until Close, like an
// httptest.Server but on any address and tuned for load: keep-alive on,
// no per-request logging.
type Server struct {
	// URL is the base URL of the server, "http://" + Addr, with no
	// trailing slash.
	URL string
	// Addr is the address the server listens on, host:port, with the port
	// chosen by the system when the listen address asked for port 0.
	Addr string

	srv             *http.Server
	done            chan struct{} // closed when Serve has returned
	serveErr        error         // why Serve returned, if not Close; read after done
	shutdownTimeout time.Duration
	closeOnce       sync.Once
	closeErr        error
	// cleanup, when set, stops what the served handler owns (workers,
	// health checks, backend servers); Close runs it after serving ends.
	cleanup func() error
}

// NewServer listens on the TCP address listen (like "127.0.0.1:0" or
// ":8080") and serves h there in a new goroutine until Close.
func NewServer(listen string, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("start target: %w", err)
	}
	s := &Server{
		URL:  "http://" + ln.Addr().String(),
		Addr: ln.Addr().String(),
		srv: &http.Server{
			Handler: h,
			// Bound the time to send headers (slowloris) but not the body
			// or the response: slow responses are what a target is for.
			ReadHeaderTimeout: 10 * time.Second,
			// Load generators keep connections; drop ones left idle.
			IdleTimeout:    2 * time.Minute,
			MaxHeaderBytes: 64 << 10,
		},
		done:            make(chan struct{}),
		shutdownTimeout: ShutdownTimeout,
	}
	// The goroutine ends when Serve returns: after Close, or when the
	// listener fails.
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.serveErr = fmt.Errorf("serve target: %w", err)
		}
	}()
	return s, nil
}

// Done returns a channel that is closed when the server has stopped
// serving: after Close, or early if its listener failed (Close then
// returns why).
func (s *Server) Done() <-chan struct{} { return s.done }

// Close stops the server. It stops accepting connections, closes idle
// ones, waits up to ShutdownTimeout for in-flight requests to finish and
// then closes the connections that are left. It returns when the serving
// goroutine has ended. Close is idempotent: later calls wait for the first
// and return its result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.shutdownTimeout)
		defer cancel()
		var err error
		if shutdownErr := s.srv.Shutdown(ctx); shutdownErr != nil {
			// Requests still running: cut them. Their handlers see their
			// request context cancelled.
			_ = s.srv.Close()
			err = fmt.Errorf("close target: requests still in flight after %v were cut: %w", s.shutdownTimeout, shutdownErr)
		}
		<-s.done
		var cleanupErr error
		if s.cleanup != nil {
			cleanupErr = s.cleanup()
		}
		s.closeErr = errors.Join(err, s.serveErr, cleanupErr)
	})
	return s.closeErr
}
