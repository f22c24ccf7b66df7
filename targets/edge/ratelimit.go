package edge

import (
	"github.com/surgeload/surge/targets/internal/metricdef"

	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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
	// RateLimit-Limit header.
	Burst int

	// Key, when not global, gives each client its own bucket: by a
	// header, by remote IP, or by a header and the remote IP of requests
	// without it (see Key). The zero Key (the default) means one bucket
	// for all requests.
	Key Key

	// MaxKeys bounds the number of client buckets kept when Key is not
	// global, from 1 to MaxKeyLimit. When a new client arrives at the bound, the
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
	if err := c.Key.validate(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxKeys < 1 || c.MaxKeys > MaxKeyLimit {
		errs = append(errs, fmt.Errorf("max keys must be from 1 to %d (got %d)", MaxKeyLimit, c.MaxKeys))
	}
	return errors.Join(errs...)
}

// Decision is the answer of a RateLimiter to one request.
type Decision struct {
	// Allowed reports whether the request may pass; it took a token (a
	// place in the window).
	Allowed bool
	// Limit is the quota: the bucket's capacity (Burst), or the requests
	// a sliding window admits (Limit).
	Limit int
	// Remaining is how much of the quota is left after this request:
	// how many more requests would pass right now.
	Remaining int
	// RetryAfter is how long until a request would pass again: zero when
	// Remaining > 0.
	RetryAfter time.Duration
	// Reset is how long until the whole quota is back (Remaining =
	// Limit), if no request takes any of it meanwhile.
	Reset time.Duration
}

// Limiter is a rate limiter: a token-bucket [RateLimiter] or a
// [SlidingWindow]. Both are safe for concurrent use.
type Limiter interface {
	// Allow decides on one request of the client key (ignored by a
	// limiter with a global Key) and takes its share of the quota when
	// it passes.
	Allow(key string) Decision
	// Middleware returns next behind the limiter (see
	// RateLimiter.Middleware for the headers).
	Middleware(next http.Handler) http.Handler
}

var (
	_ Limiter = (*RateLimiter)(nil)
	_ Limiter = (*SlidingWindow)(nil)
)

// RateLimiter is a token-bucket rate limiter: one bucket for all
// requests, or one per client key. Its Middleware answers refused
// requests 429 Too Many Requests. It is safe for concurrent use.
type RateLimiter struct {
	cfg  RateLimiterConfig
	rate float64 // tokens per nanosecond
	now  func() time.Time

	mu     sync.Mutex
	global bucket            // the bucket when cfg.Key is global
	keys   *keyTable[bucket] // the clients' buckets, when keyed

	requests prometheus.Counter
	rejected prometheus.Counter
}

// bucket is a token bucket. tokens is its content at time last.
type bucket struct {
	tokens float64
	last   time.Time
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
	if cfg.Key.keyed() {
		l.keys = newKeyTable(cfg.MaxKeys, func() bucket { return bucket{tokens: float64(cfg.Burst), last: l.now()} })
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

// Allow takes a token from the bucket of key (ignored when the limiter's
// Key is global) if it holds one, and reports the outcome.
func (l *RateLimiter) Allow(key string) Decision {
	now := l.now()
	l.mu.Lock()
	b := &l.global
	if l.keys != nil {
		b = l.keys.get(key)
	}
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
	l.keys.each(func(b *bucket) { u = max(u, drained(*b)) })
	return u
}

// Middleware returns next behind the limiter. Every response carries
// the headers of the IETF draft "RateLimit header fields for HTTP"
// (draft-ietf-httpapi-ratelimit-headers), as delta seconds:
//
//	RateLimit-Limit      the quota: the bucket capacity (Burst)
//	RateLimit-Remaining  whole tokens left after this request
//	RateLimit-Reset      seconds until the bucket is full again, rounded up
//
// and a refused request gets 429 Too Many Requests with Retry-After: the
// seconds until the bucket holds a token again, rounded up (at least 1).
// A refused request's body is not read.
func (l *RateLimiter) Middleware(next http.Handler) http.Handler {
	return limit(l, l.cfg.Key, l.cfg.Burst, next)
}

// Header names of a limited response, in canonical form.
const (
	headerLimit      = "Ratelimit-Limit" // canonical form of RateLimit-Limit
	headerRemaining  = "Ratelimit-Remaining"
	headerReset      = "Ratelimit-Reset"
	headerRetryAfter = "Retry-After"
)

// limit is the middleware of a Limiter: it keys each request by key,
// sets the RateLimit headers from l's decision, and answers 429 with
// Retry-After when l refuses.
func limit(l Limiter, key Key, quota int, next http.Handler) http.Handler {
	limitValue := []string{strconv.Itoa(quota)}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := l.Allow(key.of(r))
		h := w.Header()
		h[headerLimit] = limitValue
		h[headerRemaining] = []string{strconv.Itoa(d.Remaining)}
		h[headerReset] = []string{strconv.FormatInt(ceilSeconds(d.Reset), 10)}
		if !d.Allowed {
			h[headerRetryAfter] = []string{strconv.FormatInt(max(1, ceilSeconds(d.RetryAfter)), 10)}
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
