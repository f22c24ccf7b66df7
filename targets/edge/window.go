package edge

import (
	"github.com/surgeload/surge/targets/internal/metricdef"

	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Limits of a SlidingWindowConfig.
const (
	// MaxWindowLimit is the largest SlidingWindowConfig.Limit.
	MaxWindowLimit = 1 << 20
	// MinWindow and MaxWindow bound SlidingWindowConfig.Window.
	MinWindow = time.Millisecond
	MaxWindow = time.Hour
	// MaxWindowEntries bounds Limit × MaxKeys: the most request times a
	// SlidingWindow may hold (8 bytes each, 128 MiB at the bound).
	MaxWindowEntries = 1 << 24
)

// SlidingWindowConfig configures a SlidingWindow.
//
// A client may send Limit requests in any interval of length Window: a
// request passes when fewer than Limit of the client's requests passed
// in the Window before it. Unlike a token bucket, whose Burst comes on
// top of its Rate, no interval of length Window ever holds more than
// Limit admitted requests.
type SlidingWindowConfig struct {
	// Limit is how many requests a client may send per Window, from 1 to
	// MaxWindowLimit. Default 100. It is the value of the RateLimit-Limit
	// header.
	Limit int

	// Window is the length of the sliding interval, from MinWindow to
	// MaxWindow. Default 1 s.
	Window time.Duration

	// Key, when not global, gives each client its own window (see Key).
	// The zero Key (the default) means one window for all requests.
	Key Key

	// MaxKeys bounds the number of client windows kept when Key is not
	// global, from 1 to MaxKeyLimit, and Limit × MaxKeys must be at most
	// MaxWindowEntries. When a new client arrives at the bound, the
	// window used least recently is forgotten (exact when it had been
	// idle for a Window). Default 10000.
	MaxKeys int
}

// DefaultSlidingWindowConfig returns 100 requests per second, one window
// for all requests.
func DefaultSlidingWindowConfig() SlidingWindowConfig {
	return SlidingWindowConfig{Limit: 100, Window: time.Second, MaxKeys: 10_000}
}

// Validate reports every problem of c at once.
func (c SlidingWindowConfig) Validate() error {
	var errs []error
	if c.Limit < 1 || c.Limit > MaxWindowLimit {
		errs = append(errs, fmt.Errorf("limit must be from 1 to %d requests per window (got %d)", MaxWindowLimit, c.Limit))
	}
	if c.Window < MinWindow || c.Window > MaxWindow {
		errs = append(errs, fmt.Errorf("window must be from %v to %v (got %v)", MinWindow, MaxWindow, c.Window))
	}
	if err := c.Key.validate(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxKeys < 1 || c.MaxKeys > MaxKeyLimit {
		errs = append(errs, fmt.Errorf("max keys must be from 1 to %d (got %d)", MaxKeyLimit, c.MaxKeys))
	} else if c.Limit >= 1 && c.Limit <= MaxWindowLimit && c.Key.keyed() && int64(c.Limit)*int64(c.MaxKeys) > MaxWindowEntries {
		errs = append(errs, fmt.Errorf("limit × max keys must be at most %d request times held (got %d × %d): lower max keys to %d",
			MaxWindowEntries, c.Limit, c.MaxKeys, MaxWindowEntries/c.Limit))
	}
	return errors.Join(errs...)
}

// SlidingWindow is a sliding-window rate limiter (the exact "sliding log"
// kind): one window for all requests, or one per client key. It keeps the
// times of each client's admitted requests within the last Window, so its
// answers, Retry-After included, are exact. Its Middleware answers
// refused requests 429 Too Many Requests. It is safe for concurrent use.
type SlidingWindow struct {
	cfg    SlidingWindowConfig
	now    func() time.Time
	origin time.Time // request times are kept as nanoseconds since origin

	mu     sync.Mutex
	global window
	keys   *keyTable[window] // when keyed

	requests prometheus.Counter
	rejected prometheus.Counter
}

// window is a ring of the times (ns since origin) of the admitted
// requests still in the window, oldest first. It grows up to Limit.
type window struct {
	times []int64
	start int // index of the oldest
	n     int // times held
}

// NewSlidingWindow returns a SlidingWindow for cfg, whose metrics are
// labelled component=name and registered on reg (nil registers none):
// the same series as a RateLimiter's.
func NewSlidingWindow(name string, cfg SlidingWindowConfig, reg prometheus.Registerer) (*SlidingWindow, error) {
	if err := errors.Join(metricdef.CheckName(name), cfg.Validate()); err != nil {
		return nil, fmt.Errorf("sliding window limiter: %w", err)
	}
	l := &SlidingWindow{
		cfg: cfg,
		now: time.Now,
		requests: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricRequests, Help: helpRequests,
		}),
	}
	l.origin = l.now()
	if cfg.Key.keyed() {
		l.keys = newKeyTable(cfg.MaxKeys, func() window { return window{} })
	}
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: metricRejected, Help: helpRejected,
	}, []string{"reason"})
	l.rejected = rejected.WithLabelValues(ReasonRateLimited)
	utilisation := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: metricUtilisation, Help: helpUtilisation,
	}, l.utilisation)
	if err := metricdef.Register(reg, name, l.requests, rejected, utilisation); err != nil {
		return nil, fmt.Errorf("sliding window limiter: %w", err)
	}
	return l, nil
}

// Allow admits a request of key (ignored when the limiter's Key is
// global) if fewer than Limit of its requests passed in the last Window,
// and reports the outcome.
func (l *SlidingWindow) Allow(key string) Decision {
	now := int64(l.now().Sub(l.origin))
	w := int64(l.cfg.Window)
	l.mu.Lock()
	win := &l.global
	if l.keys != nil {
		win = l.keys.get(key)
	}
	win.expire(now, w)
	allowed := win.n < l.cfg.Limit
	if allowed {
		win.push(now, l.cfg.Limit)
	}
	d := Decision{Allowed: allowed, Limit: l.cfg.Limit, Remaining: l.cfg.Limit - win.n}
	if win.n > 0 {
		// The oldest request leaves the window at oldest + Window, which
		// frees a place; the newest leaves it last, when the whole quota
		// is back.
		if d.Remaining == 0 {
			d.RetryAfter = time.Duration(win.oldest() + w - now)
		}
		d.Reset = time.Duration(win.newest() + w - now)
	}
	l.mu.Unlock()
	if allowed {
		l.requests.Inc()
	} else {
		l.rejected.Inc()
	}
	return d
}

// Middleware returns next behind the limiter. Every response carries
//
//	RateLimit-Limit      the quota per window (Limit)
//	RateLimit-Remaining  requests that would still pass now
//	RateLimit-Reset      seconds until the window is empty again, rounded up
//
// and a refused request gets 429 Too Many Requests with Retry-After: the
// seconds until the oldest request in the window leaves it, rounded up
// (at least 1). A refused request's body is not read.
func (l *SlidingWindow) Middleware(next http.Handler) http.Handler {
	return limit(l, l.cfg.Key, l.cfg.Limit, next)
}

// utilisation is the filled fraction of the window, n/Limit, as of now;
// of the fullest client window when keyed.
func (l *SlidingWindow) utilisation() float64 {
	now := int64(l.now().Sub(l.origin))
	w := int64(l.cfg.Window)
	limit := float64(l.cfg.Limit)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.keys == nil {
		return float64(l.global.countSince(now-w)) / limit
	}
	u := 0.0
	l.keys.each(func(win *window) { u = max(u, float64(win.countSince(now-w))/limit) })
	return u
}

// expire drops the times that left the window: t ≤ now − w.
func (win *window) expire(now, w int64) {
	for win.n > 0 && win.times[win.start] <= now-w {
		win.start = (win.start + 1) % len(win.times)
		win.n--
	}
}

// countSince counts the times after since, without dropping any.
func (win *window) countSince(since int64) int {
	n := win.n
	for i := 0; i < win.n && win.times[(win.start+i)%len(win.times)] <= since; i++ {
		n--
	}
	return n
}

// push adds t as the newest time; the ring grows up to limit. The caller
// has checked win.n < limit.
func (win *window) push(t int64, limit int) {
	if win.n == len(win.times) { // full ring below limit: grow it, oldest first
		grown := make([]int64, win.n, min(max(2*win.n, 4), limit))
		for i := range win.n {
			grown[i] = win.times[(win.start+i)%len(win.times)]
		}
		win.times, win.start = grown[:cap(grown)], 0
	}
	win.times[(win.start+win.n)%len(win.times)] = t
	win.n++
}

func (win *window) oldest() int64 { return win.times[win.start] }
func (win *window) newest() int64 { return win.times[(win.start+win.n-1)%len(win.times)] }
