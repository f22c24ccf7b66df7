package targets

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/surgeload/surge/targets/data"
	"github.com/surgeload/surge/targets/edge"
)

// EdgeOptions are the edge components any topology may have, each off
// when absent: a gateway rate limiter in front of its API, and a circuit
// breaker between its app and each of its db nodes. Every topology's
// config embeds them, so they are the fields "gateway" and "breaker" of
// its JSON:
//
//	{"gateway": {"limiter": "sliding_window", "rate": 200, "window": "1s", "key": "header:X-Client-Id"},
//	 "breaker": {"failures": 5, "open_for": "2s", "half_open_probes": 1}}
type EdgeOptions struct {
	// Gateway, when set, puts a rate limiter (component "gateway") in
	// front of the API and shop routes; GET /health, GET /metrics and
	// GET /shop/stats are never limited.
	Gateway *GatewayConfig `json:"gateway,omitempty"`
	// Breaker, when set, guards each db node (primary, replica, shard)
	// with a circuit breaker of its own, component "breaker-<node>".
	Breaker *BreakerOptions `json:"breaker,omitempty"`
}

// edge returns the options, through the embedding, for any config type.
func (o EdgeOptions) edge() EdgeOptions { return o }

// Edge returns the options, through the embedding, for any config type:
// what the planning arithmetic reads to bound a stage by its gateway.
func (o EdgeOptions) Edge() EdgeOptions { return o }

// Limiter kinds of a GatewayConfig.
const (
	TokenBucket   = "token_bucket"
	SlidingWindow = "sliding_window"
)

// GatewayConfig is the gateway's rate limiter. Refused requests get 429
// Too Many Requests with Retry-After; every limited route's response
// carries RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset.
type GatewayConfig struct {
	// Limiter is token_bucket (the default) or sliding_window.
	Limiter string `json:"limiter"`
	// Rate is the sustained rate allowed per client, in requests per
	// second (required). A sliding window admits Rate × Window requests
	// per Window, which must be a whole number.
	Rate float64 `json:"rate"`
	// Burst is the token bucket's capacity: requests a client may send at
	// once after a quiet spell. Default: Rate, rounded up. Token bucket
	// only.
	Burst int `json:"burst,omitempty"`
	// Window is the sliding window's length, like "1s" (the default).
	// Sliding window only.
	Window Duration `json:"window,omitempty"`
	// Key tells clients apart: "global" (the default: one quota for all),
	// "ip" (per remote address) or "header:NAME" (per value of the
	// header, by remote address without it).
	Key edge.Key `json:"key"`
	// MaxKeys bounds the clients remembered (least recently seen
	// forgotten first). Default 10,000, fewer for a sliding window whose
	// Rate × Window × MaxKeys would pass edge.MaxWindowEntries.
	MaxKeys int `json:"max_keys,omitempty"`
}

// BreakerOptions configure the circuit breaker in front of each db node
// (see edge.BreakerConfig). Closed, it counts the node's failed calls
// (shed by a full queue, or slower than Timeout); Failures in a row (or
// a FailureRatio over Window) open it. Open, the app answers every
// request that needs the node at once with 503, X-Surge-Breaker: open
// and Retry-After, without calling it, for OpenFor; then HalfOpenProbes
// calls probe the node, and close the breaker if they all succeed.
type BreakerOptions struct {
	// Failures opens the breaker after this many failed calls in a row;
	// 0 turns the count off (then FailureRatio must be on). Default 5.
	Failures *int `json:"failures,omitempty"`
	// FailureRatio opens it when failures ÷ calls over Window reach it,
	// with at least MinCalls calls; 0 (the default) is off.
	FailureRatio float64 `json:"failure_ratio,omitempty"`
	// Window is the span of FailureRatio, like "10s" (the default).
	Window Duration `json:"window,omitempty"`
	// MinCalls is how many calls Window must hold for FailureRatio to
	// apply. Default 20.
	MinCalls int `json:"min_calls,omitempty"`
	// OpenFor is how long it stays open before probing, like "2s".
	// Default 5s.
	OpenFor Duration `json:"open_for,omitempty"`
	// HalfOpenProbes is how many calls probe the node, and must all
	// succeed to close the breaker. Default 1.
	HalfOpenProbes int `json:"half_open_probes,omitempty"`
	// Timeout, when above 0, fails a db call that takes longer (the call
	// is abandoned): a slow db opens the breaker as a failing one does.
	// Default 0 (off).
	Timeout Duration `json:"timeout,omitempty"`
}

// defaultMaxKeys is the gateway's default MaxKeys.
const defaultMaxKeys = 10_000

// limiterConfig turns g into the config of its limiter: a
// edge.RateLimiterConfig or an edge.SlidingWindowConfig.
func (g GatewayConfig) limiterConfig() (any, error) {
	maxKeys := g.MaxKeys
	switch g.Limiter {
	case "", TokenBucket:
		if g.Window != 0 {
			return nil, errors.New("window: applies to the sliding_window limiter only (a token bucket has rate and burst)")
		}
		burst := g.Burst
		if burst == 0 && g.Rate > 0 && g.Rate <= edge.MaxRate {
			burst = int(math.Ceil(g.Rate))
		}
		if maxKeys == 0 {
			maxKeys = defaultMaxKeys
		}
		c := edge.RateLimiterConfig{Rate: g.Rate, Burst: burst, Key: g.Key, MaxKeys: maxKeys}
		return c, c.Validate()
	case SlidingWindow:
		if g.Burst != 0 {
			return nil, errors.New("burst: applies to the token_bucket limiter only (a sliding window admits rate × window per window)")
		}
		window := time.Duration(g.Window)
		if window == 0 {
			window = time.Second
		}
		perWindow := g.Rate * window.Seconds()
		limit := math.Round(perWindow)
		if !(g.Rate > 0) || limit < 1 || limit > edge.MaxWindowLimit || math.Abs(perWindow-limit) > 1e-9*limit {
			return nil, fmt.Errorf("rate × window must be a whole number of requests from 1 to %d (got %g/s × %v = %g)",
				edge.MaxWindowLimit, g.Rate, window, perWindow)
		}
		if maxKeys == 0 {
			maxKeys = max(1, min(defaultMaxKeys, edge.MaxWindowEntries/int(limit)))
		}
		c := edge.SlidingWindowConfig{Limit: int(limit), Window: window, Key: g.Key, MaxKeys: maxKeys}
		return c, c.Validate()
	}
	return nil, fmt.Errorf("limiter: must be %s or %s (got %q)", TokenBucket, SlidingWindow, g.Limiter)
}

// breakerConfig turns b into an edge.BreakerConfig.
func (b BreakerOptions) breakerConfig() (edge.BreakerConfig, error) {
	c := edge.BreakerConfig{
		ConsecutiveFailures: 5, FailureRatio: b.FailureRatio, Window: 10 * time.Second, MinCalls: 20,
		CoolDown: 5 * time.Second, HalfOpenProbes: 1,
	}
	if b.Failures != nil {
		c.ConsecutiveFailures = *b.Failures
	}
	if b.Window != 0 {
		c.Window = time.Duration(b.Window)
	}
	if b.MinCalls != 0 {
		c.MinCalls = b.MinCalls
	}
	if b.OpenFor != 0 {
		c.CoolDown = time.Duration(b.OpenFor)
	}
	if b.HalfOpenProbes != 0 {
		c.HalfOpenProbes = b.HalfOpenProbes
	}
	err := c.Validate()
	if b.Timeout < 0 || time.Duration(b.Timeout) > edge.MaxCoolDown {
		err = errors.Join(err, fmt.Errorf("timeout must be from 0s (off) to %v (got %v)", edge.MaxCoolDown, time.Duration(b.Timeout)))
	}
	return c, err
}

// validateEdge reports every problem of the edge options of cfg (a
// topology config; those without EdgeOptions have none), each naming its
// JSON field.
func validateEdge(cfg any) error {
	e, ok := cfg.(interface{ edge() EdgeOptions })
	if !ok {
		return nil
	}
	o := e.edge()
	var errs []error
	if o.Gateway != nil {
		if _, err := o.Gateway.limiterConfig(); err != nil {
			errs = append(errs, prefixAll("gateway", err))
		}
	}
	if o.Breaker != nil {
		if _, err := o.Breaker.breakerConfig(); err != nil {
			errs = append(errs, prefixAll("breaker", err))
		}
	}
	return errors.Join(errs...)
}

// prefixAll prefixes field to each of the joined errors of err, however
// deeply they are joined.
func prefixAll(field string, err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var errs []error
		for _, e := range j.Unwrap() {
			errs = append(errs, prefixAll(field, e))
		}
		return errors.Join(errs...)
	}
	return fmt.Errorf("%s: %w", field, err)
}

// edgeParts are the edge components of a topology being built.
type edgeParts struct {
	limiter edge.Limiter        // nil: no gateway
	breaker *edge.BreakerConfig // nil: no breakers
	timeout time.Duration       // the breakers' call timeout; 0 off
}

// useEdge makes the gateway of cfg's EdgeOptions, when it has one, and
// keeps its breaker settings for guard. cfg has been validated.
func (a *assembly) useEdge(cfg any) error {
	e, ok := cfg.(interface{ edge() EdgeOptions })
	if !ok {
		return nil
	}
	o := e.edge()
	if o.Gateway != nil {
		lc, err := o.Gateway.limiterConfig()
		if err != nil {
			return err
		}
		switch c := lc.(type) {
		case edge.RateLimiterConfig:
			a.edge.limiter, err = edge.NewRateLimiter("gateway", c, a.reg)
		case edge.SlidingWindowConfig:
			a.edge.limiter, err = edge.NewSlidingWindow("gateway", c, a.reg)
		}
		if err != nil {
			return err
		}
	}
	if o.Breaker != nil {
		bc, err := o.Breaker.breakerConfig()
		if err != nil {
			return err
		}
		a.edge.breaker, a.edge.timeout = &bc, time.Duration(o.Breaker.Timeout)
	}
	return nil
}

// gateway puts the topology's gateway, if any, in front of serve.
func (a *assembly) gateway(serve http.Handler) http.Handler {
	if a.edge.limiter == nil {
		return serve
	}
	return a.edge.limiter.Middleware(serve)
}

// guard puts a breaker named "breaker-"+name in front of the db node db,
// when the topology has breakers; else it returns db.
func (a *assembly) guard(name string, db data.Backend) (data.Backend, error) {
	if a.edge.breaker == nil {
		return db, nil
	}
	b, err := edge.NewBreaker("breaker-"+name, *a.edge.breaker, a.reg)
	if err != nil {
		return nil, err
	}
	return &guardedDB{db: db, breaker: b, timeout: a.edge.timeout}, nil
}

// guardedDB is a db node behind a circuit breaker.
type guardedDB struct {
	db      data.Backend
	breaker *edge.Breaker
	timeout time.Duration
}

var _ data.Backend = (*guardedDB)(nil)

func (g *guardedDB) Read(ctx context.Context) error  { return g.call(ctx, g.db.Read) }
func (g *guardedDB) Write(ctx context.Context) error { return g.call(ctx, g.db.Write) }

// errSlowDB is the failure of a db call that outlived the breaker's
// timeout. It wraps context.DeadlineExceeded, so the API answers 503.
var errSlowDB = fmt.Errorf("db call slower than the breaker's timeout: %w", context.DeadlineExceeded)

func (g *guardedDB) call(ctx context.Context, op func(context.Context) error) error {
	err := g.breaker.Do(ctx, func(ctx context.Context) error {
		if g.timeout <= 0 {
			return op(ctx)
		}
		tctx, cancel := context.WithTimeout(ctx, g.timeout)
		defer cancel()
		err := op(tctx)
		if err != nil && ctx.Err() == nil && errors.Is(tctx.Err(), context.DeadlineExceeded) {
			return errSlowDB
		}
		return err
	})
	if errors.Is(err, edge.ErrOpen) {
		return &breakerOpenError{retryAfter: g.breaker.RetryAfter()}
	}
	return err
}

// breakerOpenError is a db call a breaker refused; it matches
// edge.ErrOpen and says when to retry.
type breakerOpenError struct{ retryAfter time.Duration }

func (e *breakerOpenError) Error() string { return edge.ErrOpen.Error() }
func (e *breakerOpenError) Unwrap() error { return edge.ErrOpen }

// writeBreakerOpen answers a request whose db call a breaker refused (503,
// X-Surge-Breaker: open, Retry-After) and reports whether err was one.
func writeBreakerOpen(w http.ResponseWriter, err error) bool {
	if !errors.Is(err, edge.ErrOpen) {
		return false
	}
	var retry time.Duration
	if be, ok := errors.AsType[*breakerOpenError](err); ok {
		retry = be.retryAfter
	}
	edge.WriteOpen(w, retry)
	return true
}
