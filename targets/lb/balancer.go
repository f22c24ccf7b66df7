package lb

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Transport settings of the connections to backends.
const (
	// DialTimeout bounds connecting to a backend; a backend that cannot
	// be reached in time gets the request a 502.
	DialTimeout = 2 * time.Second
	// IdleConnTimeout is how long an idle connection to a backend is
	// kept for reuse.
	IdleConnTimeout = 90 * time.Second
)

// Balancer is a load balancer: an http.Handler that forwards every
// request over HTTP to one of its backends, chosen by its Algorithm, and
// copies the answer back (a reverse proxy, httputil.ReverseProxy, with
// keep-alive connections to the backends).
//
// Answers of its own, each counted in surge_target_rejected_total and,
// for 503, with "Retry-After: 1":
//   - 503 when no backend is healthy (reason unhealthy), when the queue
//     is full (queue_full) or after QueueTimeout in it (queue_timeout);
//   - 502 when the chosen backend cannot be reached or fails mid-answer
//     (counted in surge_target_backend_errors_total). A failed request is
//     not retried on another backend: retrying would change the offered
//     load a test controls.
//
// Request headers pass through, with X-Forwarded-For, X-Forwarded-Host
// and X-Forwarded-Proto set as a proxy does; the Host header becomes the
// backend's.
//
// It serves any number of requests concurrently. Close stops its health
// checks.
type Balancer struct {
	name     string
	cfg      BalancerConfig
	backends []*backend
	picker   *picker
	metrics  *metrics

	// slots holds one token per request in flight; its capacity is
	// MaxInFlight. Senders blocked on a full channel are woken in FIFO
	// order, which makes it the queue.
	slots   chan struct{}
	waiting atomic.Int64 // requests waiting for a slot

	transport   *http.Transport // to backends, for proxied requests
	checkClient *http.Client    // to backends, for health checks

	cancel    context.CancelFunc // stops the health checkers
	wg        sync.WaitGroup     // the health checkers
	closeOnce sync.Once
}

var _ http.Handler = (*Balancer)(nil)

// backend is the runtime state of one Backend.
type backend struct {
	name      string
	weight    int
	healthURL string
	seed      uint64 // IPHash's per-backend hash salt, from the name
	proxy     *httputil.ReverseProxy

	up       atomic.Bool
	inFlight atomic.Int64  // incremented by the picker, decremented by done
	current  int           // smooth WRR state, guarded by picker.mu
	ewmaBits atomic.Uint64 // LeastResponseTime's moving average (float64 ns bits; 0: none yet)

	requests      prometheus.Counter
	errors        prometheus.Counter
	checkFailures prometheus.Counter
}

// NewBalancer returns a Balancer named name (its component label in
// metrics) configured by cfg, and registers its metrics with reg (nil:
// not registered). When health checks are on, it starts one goroutine
// per backend that checks it until Close. It fails when cfg is invalid
// (see BalancerConfig.Validate) or the metrics cannot be registered (a
// Balancer of the same name already is).
func NewBalancer(name string, cfg BalancerConfig, reg prometheus.Registerer) (*Balancer, error) {
	return newBalancer(name, cfg, reg, nil)
}

// dialFunc opens a connection to a backend, with the signature of
// net.Dialer.DialContext.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// newBalancer is NewBalancer with the dialer of every connection to the
// backends, for proxied requests and health checks alike. Nil dials the
// network, with DialTimeout for requests and the health check's Timeout
// for checks. The tests pass an in-memory network's dialer, so that a
// balancer, its backends and its health checks can run in a synctest
// bubble, on a fake clock (connections on real sockets keep a bubble's
// clock from moving).
func newBalancer(name string, cfg BalancerConfig, reg prometheus.Registerer, dial dialFunc) (*Balancer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("lb %s: %w", name, err)
	}
	proxyDial, checkDial := dial, dial
	if dial == nil {
		proxyDial = (&net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}).DialContext
		checkDial = (&net.Dialer{Timeout: cfg.HealthCheck.Timeout}).DialContext
	}
	b := &Balancer{
		name:  name,
		cfg:   cfg,
		slots: make(chan struct{}, cfg.MaxInFlight),
		transport: &http.Transport{
			// Proxy is nil: never route backend traffic through an
			// HTTP_PROXY from the environment.
			DialContext: proxyDial,
			// MaxInFlight bounds the connections in use; keep that many
			// idle, or a busy balancer would close and reopen connections
			// (and pile up TIME_WAIT sockets) at every burst.
			MaxIdleConns:        0, // no overall limit
			MaxIdleConnsPerHost: cfg.MaxInFlight,
			IdleConnTimeout:     IdleConnTimeout,
			DisableCompression:  true, // pass Accept-Encoding through untouched
		},
	}
	discard := log.New(io.Discard, "", 0) // failures are counted, not logged
	for _, c := range cfg.Backends {
		u, _ := parseBackendURL(c.URL) // checked by Validate
		bname, _ := backendName(c)
		weight := c.Weight
		if weight == 0 {
			weight = 1
		}
		be := &backend{
			name:      bname,
			weight:    weight,
			healthURL: strings.TrimSuffix(u.String(), "/") + cfg.HealthCheck.Path, // unused when checks are off
			seed:      mix64(hashString(bname)),
		}
		be.up.Store(true)
		be.proxy = &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(u)
				// Keep the client's X-Forwarded-For chain and append to it.
				pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
				pr.SetXForwarded()
			},
			Transport:    b.transport,
			BufferPool:   copyBuffers,
			ErrorLog:     discard,
			ErrorHandler: b.proxyError(be),
		}
		if cfg.BackendHeader != "" {
			header := cfg.BackendHeader
			be.proxy.ModifyResponse = func(resp *http.Response) error {
				resp.Header.Set(header, be.name)
				return nil
			}
		}
		b.backends = append(b.backends, be)
	}
	b.picker = newPicker(cfg.Algorithm, b.backends, cfg.Seed)
	b.metrics = newMetrics(b)
	if err := b.metrics.register(name, reg); err != nil {
		return nil, fmt.Errorf("lb %s: %w", name, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	if cfg.HealthCheck.Interval > 0 {
		b.checkClient = &http.Client{
			Transport: &http.Transport{
				DialContext:         checkDial,
				MaxIdleConnsPerHost: 1,
				IdleConnTimeout:     IdleConnTimeout,
			},
			// A 3xx is a good answer; do not follow it.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		for _, be := range b.backends {
			b.wg.Add(1)
			// Exits when Close cancels ctx.
			go func() {
				defer b.wg.Done()
				b.check(ctx, be)
			}()
		}
	}
	return b, nil
}

// bufferPool recycles the buffers ReverseProxy copies response bodies
// through; without it every request allocates 32 KiB.
type bufferPool struct{ pool sync.Pool }

func (p *bufferPool) Get() []byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, 32<<10)
}

func (p *bufferPool) Put(b []byte) { p.pool.Put(&b) }

// copyBuffers is shared by every Balancer.
var copyBuffers httputil.BufferPool = &bufferPool{}

// Name returns the balancer's name, its component label in metrics.
func (b *Balancer) Name() string { return b.name }

// ServeHTTP forwards r to a backend, or answers 502/503 (see Balancer).
func (b *Balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if reason := b.acquire(r.Context()); reason != "" {
		if reason == errClientGone {
			return // nobody to answer
		}
		b.reject(w, reason)
		return
	}
	defer func() { <-b.slots }()

	be := b.picker.pick(b.hashKey(r))
	if be == nil {
		b.reject(w, ReasonUnhealthy)
		return
	}
	start := time.Now()
	defer func() {
		be.observe(time.Since(start))
		be.inFlight.Add(-1)
		be.requests.Inc()
		b.metrics.requests.Inc()
	}()
	be.proxy.ServeHTTP(w, r)
}

// errClientGone is acquire's answer when the client left while queued.
const errClientGone = "client_gone"

// acquire takes an in-flight slot, waiting in the queue if need be. It
// returns "" when it has the slot, or why not: a rejection reason or
// errClientGone.
func (b *Balancer) acquire(ctx context.Context) string {
	select {
	case b.slots <- struct{}{}:
		return ""
	default:
	}
	if b.waiting.Add(1) > int64(b.cfg.QueueLimit) {
		b.waiting.Add(-1)
		return ReasonQueueFull
	}
	defer b.waiting.Add(-1)
	b.metrics.poolWaits.Inc()
	var timeout <-chan time.Time
	if b.cfg.QueueTimeout > 0 {
		t := time.NewTimer(b.cfg.QueueTimeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case b.slots <- struct{}{}:
		return ""
	case <-timeout:
		return ReasonQueueTimeout
	case <-ctx.Done():
		return errClientGone
	}
}

// reject answers 503 for reason and counts it.
func (b *Balancer) reject(w http.ResponseWriter, reason string) {
	b.metrics.rejected[reason].Inc()
	w.Header().Set("Retry-After", "1")
	var msg string
	switch reason {
	case ReasonUnhealthy:
		msg = "no healthy backend"
	case ReasonQueueFull:
		msg = "load balancer queue full"
	default:
		msg = "timed out waiting in the load balancer queue"
	}
	http.Error(w, msg, http.StatusServiceUnavailable)
}

// proxyError returns the ReverseProxy error handler of be: 502, counted
// as a backend error unless the client went away first.
func (b *Balancer) proxyError(be *backend) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		if r.Context().Err() != nil {
			return // the client left; nobody to answer, not the backend's fault
		}
		be.errors.Inc()
		http.Error(w, "bad gateway: backend "+be.name+" failed", http.StatusBadGateway)
	}
}

// hashKey returns IPHash's key for r: the HashHeader value up to its
// first comma, or the client's IP address.
func (b *Balancer) hashKey(r *http.Request) string {
	if b.cfg.Algorithm != IPHash {
		return ""
	}
	if b.cfg.HashHeader != "" {
		v := r.Header.Get(b.cfg.HashHeader)
		if i := strings.IndexByte(v, ','); i >= 0 {
			v = v[:i]
		}
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// BackendStatus is a snapshot of one backend, as Status reports it.
type BackendStatus struct {
	// Name is the backend's name (its metrics label).
	Name string
	// Up is whether the backend is in rotation.
	Up bool
	// InFlight is how many requests are being forwarded to it now.
	InFlight int64
}

// Status returns a snapshot of every backend, in configuration order.
func (b *Balancer) Status() []BackendStatus {
	out := make([]BackendStatus, len(b.backends))
	for i, be := range b.backends {
		out[i] = BackendStatus{Name: be.name, Up: be.up.Load(), InFlight: be.inFlight.Load()}
	}
	return out
}

// Close stops the health checks and waits for their goroutines to end,
// then closes idle connections to the backends. Requests in flight are
// not interrupted (the server serving the Balancer owns them), and the
// Balancer keeps forwarding requests to the backends in their last known
// state. Close is idempotent and returns nil.
func (b *Balancer) Close() error {
	b.closeOnce.Do(func() {
		b.cancel()
		b.wg.Wait()
		b.transport.CloseIdleConnections()
		if b.checkClient != nil {
			b.checkClient.CloseIdleConnections()
		}
	})
	return nil
}
