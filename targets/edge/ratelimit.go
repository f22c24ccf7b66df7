package edge

import (
	"github.com/surgeload/surge/targets/internal/metricdef"

	"container/list"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/http/httpguts"
)

// Limits of a RateLimiterConfig.
const (
	// MaxRate is the largest Rate, in tokens per second.
	MaxRate = 1e9
	// MaxBurst is the largest Burst.
	MaxBurst = 1 << 30
	// MaxKeyLimit is the largest RateLimiterConfig.MaxKeys.
	MaxKeyLimit = 10_000_000
	// maxKeyBytes is the longest client key kept as it is; longer keys
	// are replaced by a 64-bit hash of themselves, so that the memory of
	// the key table stays bounded.
	maxKeyBytes = 64
)

// RateLimiterConfig configures a token-bucket RateLimiter.
//
// A bucket holds up to Burst tokens and gains Rate tokens per second,
// continuously. Each request takes one token; a request that finds less
// than one token is refused. So a client can send Burst requests at once
// and then Rate per second, and over any interval of length t at most
// Burst + Rate·t requests pass.
type RateLimiterConfig struct {
	// Rate is how many tokens a bucket gains per second: the sustained
	// request rate allowed, from above 0 to MaxRate. Default 100.
	Rate float64

	// Burst is the capacity of a bucket, and the number of tokens it
	// starts with: how many requests may pass at once after a quiet
	// spell, from 1 to MaxBurst. Default 100. It is the value of the
	// X-RateLimit-Limit header.
	Burst int

	// KeyHeader, when set, gives each client its own bucket, keyed by the
	// value of this request header (for example "X-Client-ID"; all load
	// from a load generator comes from one address, so the key is a
	// header the scenario sets). Requests without the header share one
	// bucket. Empty (the default) means one bucket for all requests.
	KeyHeader string

	// MaxKeys bounds the number of client buckets kept when KeyHeader is
	// set, from 1 to MaxKeyLimit. When a new client arrives at the bound, the
	// bucket used least recently is forgotten; since buckets refill, this
	// is exact when that bucket had been idle for Burst/Rate seconds, and
	// otherwise hands its client a full bucket on its return. Keep it
	// above the number of clients active at once. Default 10000.
	MaxKeys int
}

// DefaultRateLimiterConfig returns 100 requests per second with a burst
// of 100, one bucket for all requests.
func DefaultRateLimiterConfig() RateLimiterConfig {
	return RateLimiterConfig{Rate: 100, Burst: 100, MaxKeys: 10_000}
}

// Validate reports every problem of c at once.
func (c RateLimiterConfig) Validate() error {
	var errs []error
	if !(c.Rate > 0 && c.Rate <= MaxRate) { // also refuses NaN
		errs = append(errs, fmt.Errorf("rate must be above 0 and at most %g tokens per second (got %g)", float64(MaxRate), c.Rate))
	}
	if c.Burst < 1 || c.Burst > MaxBurst {
		errs = append(errs, fmt.Errorf("burst must be from 1 to %d (got %d)", MaxBurst, c.Burst))
	}
	if c.KeyHeader != "" && !httpguts.ValidHeaderFieldName(c.KeyHeader) {
		errs = append(errs, fmt.Errorf("key header %q is not a valid HTTP header name", c.KeyHeader))
	}
	if c.MaxKeys < 1 || c.MaxKeys > MaxKeyLimit {
		errs = append(errs, fmt.Errorf("max keys must be from 1 to %d (got %d)", MaxKeyLimit, c.MaxKeys))
	}
	return errors.Join(errs...)
}

// Decision is the answer of a RateLimiter to one request.
type Decision struct {
	// Allowed reports whether the request may pass; it took a token.
	Allowed bool
	// Limit is the bucket's capacity, the configured Burst.
	Limit int
	// Remaining is how many whole tokens are left in the bucket after
	// this request: how many more requests would pass right now.
	Remaining int
	// RetryAfter is how long until the bucket holds a whole token again:
	// zero when Remaining > 0.
	RetryAfter time.Duration
	// Reset is how long until the bucket is full again, if no request
	// takes a token meanwhile.
	Reset time.Duration
}

// RateLimiter is a token-bucket rate limiter: one bucket for all
// requests, or one per client key. Its Middleware answers refused
// requests 429 Too Many Requests. It is safe for concurrent use.
type RateLimiter struct {
	cfg  RateLimiterConfig
	rate float64 // tokens per nanosecond
	now  func() time.Time

	mu     sync.Mutex
	global bucket                   // the bucket when cfg.KeyHeader is ""
	keys   map[string]*list.Element // of *keyedBucket, when keyed
	lru    list.List                // most recently used first

	requests prometheus.Counter
	rejected prometheus.Counter
}

// bucket is a token bucket. tokens is its content at time last.
type bucket struct {
	tokens float64
	last   time.Time
}

type keyedBucket struct {
	key string
	bucket
}

// NewRateLimiter returns a RateLimiter for cfg, whose metrics are labelled
// component=name and registered on reg (nil registers none). Every bucket
// starts full.
func NewRateLimiter(name string, cfg RateLimiterConfig, reg prometheus.Registerer) (*RateLimiter, error) {
	if err := errors.Join(metricdef.CheckName(name), cfg.Validate()); err != nil {
		return nil, fmt.Errorf("rate limiter: %w", err)
	}
	l := &RateLimiter{
		cfg:  cfg,
		rate: cfg.Rate / float64(time.Second),
		now:  time.Now,
		requests: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricRequests, Help: helpRequests,
		}),
	}
	l.global = bucket{tokens: float64(cfg.Burst), last: l.now()}
	if cfg.KeyHeader != "" {
		l.keys = make(map[string]*list.Element)
	}
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: metricRejected, Help: helpRejected,
	}, []string{"reason"})
	l.rejected = rejected.WithLabelValues(ReasonRateLimited)
	utilisation := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: metricUtilisation, Help: helpUtilisation,
	}, l.utilisation)
	if err := metricdef.Register(reg, name, l.requests, rejected, utilisation); err != nil {
		return nil, fmt.Errorf("rate limiter: %w", err)
	}
	return l, nil
}

// Allow takes a token from the bucket of key (ignored when the limiter
// has no KeyHeader) if it holds one, and reports the outcome.
func (l *RateLimiter) Allow(key string) Decision {
	now := l.now()
	l.mu.Lock()
	b := l.bucketOf(key, now)
	b.refill(now, l.rate, float64(l.cfg.Burst))
	allowed := b.tokens >= 1
	if allowed {
		b.tokens--
	}
	d := Decision{
		Allowed:    allowed,
		Limit:      l.cfg.Burst,
		Remaining:  int(b.tokens), // floor: tokens ≥ 0
		RetryAfter: l.timeToGain(1 - b.tokens),
		Reset:      l.timeToGain(float64(l.cfg.Burst) - b.tokens),
	}
	l.mu.Unlock()
	if allowed {
		l.requests.Inc()
	} else {
		l.rejected.Inc()
	}
	return d
}

// timeToGain returns how long a bucket takes to gain n tokens, rounded
// up to the nanosecond; zero when n ≤ 0.
func (l *RateLimiter) timeToGain(n float64) time.Duration {
	if n <= 0 {
		return 0
	}
	ns := math.Ceil(n / l.rate)
	if ns >= math.MaxInt64 { // a very slow rate
		return math.MaxInt64
	}
	return time.Duration(ns)
}

// refill adds the tokens earned since b.last, up to capacity.
func (b *bucket) refill(now time.Time, rate, capacity float64) {
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(capacity, b.tokens+float64(elapsed)*rate)
		b.last = now
	}
}

// bucketOf returns the bucket of key, creating a full one for a new key
// and forgetting the least recently used one at the bound. l.mu is held.
func (l *RateLimiter) bucketOf(key string, now time.Time) *bucket {
	if l.keys == nil {
		return &l.global
	}
	if len(key) > maxKeyBytes {
		h := fnv.New64a()
		_, _ = h.Write([]byte(key)) // never fails
		key = "fnv64a:" + strconv.FormatUint(h.Sum64(), 16)
	}
	if e, ok := l.keys[key]; ok {
		l.lru.MoveToFront(e)
		return &e.Value.(*keyedBucket).bucket
	}
	if len(l.keys) >= l.cfg.MaxKeys {
		oldest := l.lru.Back()
		l.lru.Remove(oldest)
		delete(l.keys, oldest.Value.(*keyedBucket).key)
	}
	kb := &keyedBucket{key: key, bucket: bucket{tokens: float64(l.cfg.Burst), last: now}}
	l.keys[key] = l.lru.PushFront(kb)
	return &kb.bucket
}

// utilisation is the drained fraction of the bucket, 1 − tokens/Burst,
// as of now; of the most drained client bucket when keyed. A limiter
// that is the bottleneck holds an empty bucket and reads 1.
func (l *RateLimiter) utilisation() float64 {
	now := l.now()
	capacity := float64(l.cfg.Burst)
	drained := func(b bucket) float64 {
		b.refill(now, l.rate, capacity) // a copy: reading changes nothing
		return 1 - b.tokens/capacity
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.keys == nil {
		return drained(l.global)
	}
	u := 0.0
	for e := l.lru.Front(); e != nil; e = e.Next() {
		u = max(u, drained(e.Value.(*keyedBucket).bucket))
	}
	return u
}

// Middleware returns next behind the limiter. Every response carries
//
//	X-RateLimit-Limit      the bucket capacity (Burst)
//	X-RateLimit-Remaining  whole tokens left after this request
//	X-RateLimit-Reset      seconds until the bucket is full again, rounded up
//
// and a refused request gets 429 Too Many Requests with Retry-After: the
// seconds until the bucket holds a token again, rounded up (at least 1).
// A refused request's body is not read.
func (l *RateLimiter) Middleware(next http.Handler) http.Handler {
	limit := []string{strconv.Itoa(l.cfg.Burst)}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var key string
		if l.cfg.KeyHeader != "" {
			key = r.Header.Get(l.cfg.KeyHeader)
		}
		d := l.Allow(key)
		h := w.Header()
		h["X-Ratelimit-Limit"] = limit // canonical form of X-RateLimit-Limit
		h.Set("X-RateLimit-Remaining", strconv.Itoa(d.Remaining))
		h.Set("X-RateLimit-Reset", strconv.FormatInt(ceilSeconds(d.Reset), 10))
		if !d.Allowed {
			h.Set("Retry-After", strconv.FormatInt(max(1, ceilSeconds(d.RetryAfter)), 10))
			http.Error(w, "rate limit exceeded", http.StatusTooManyRequests)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ceilSeconds returns d in whole seconds, rounded up.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return s
}
