package edge

import (
	"github.com/surgeload/surge/targets/internal/metricdef"

	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrOpen is returned by Breaker.Do, without calling the function, when
// the breaker is open or is half-open with all its probes taken.
var ErrOpen = errors.New("circuit breaker open")

// HeaderBreaker is the response header that marks a refusal by a breaker:
// a 503 carrying "X-Surge-Breaker: open" was answered by a breaker that
// let nothing through, so a load generator can count it apart from the
// target's other 503s.
const (
	HeaderBreaker     = "X-Surge-Breaker"
	HeaderBreakerOpen = "open"
)

// State is the state of a Breaker. Its value is that of the
// surge_target_breaker_state metric.
type State int

// The states of a Breaker.
const (
	// Closed lets every call through and counts failures.
	Closed State = 0
	// Open refuses every call until its cool-down has passed.
	Open State = 1
	// HalfOpen lets a few probe calls through to see whether the
	// dependency has recovered.
	HalfOpen State = 2
)

// String returns "closed", "half-open" or "open".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case HalfOpen:
		return "half-open"
	case Open:
		return "open"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Limits of a BreakerConfig.
const (
	// MaxBreakerCount bounds ConsecutiveFailures, MinCalls and
	// HalfOpenProbes.
	MaxBreakerCount = 1_000_000
	// MinBreakerWindow and MaxBreakerWindow bound Window.
	MinBreakerWindow = 10 * time.Millisecond
	MaxBreakerWindow = time.Hour
	// MaxCoolDown bounds CoolDown.
	MaxCoolDown = time.Hour
	// windowBuckets is the number of sub-intervals the failure-ratio
	// window is counted in: the window slides by Window/windowBuckets.
	windowBuckets = 10
)

// BreakerConfig configures a Breaker.
//
// Closed, the breaker lets calls through and trips open when either
// condition holds (a zero value switches that condition off; at least one
// must be on): ConsecutiveFailures failures in a row, or a failure ratio
// of at least FailureRatio over the last Window with at least MinCalls
// calls in it. Open, it refuses every call for CoolDown, then turns
// half-open. Half-open, it lets HalfOpenProbes calls through and refuses
// the others: a failed probe opens it again for another CoolDown, and
// when all HalfOpenProbes probes have succeeded it closes, with its
// counts cleared.
type BreakerConfig struct {
	// ConsecutiveFailures opens the breaker after this many failures in
	// a row, from 0 (off) to MaxBreakerCount. Default 5.
	ConsecutiveFailures int

	// FailureRatio opens the breaker when failures ÷ calls over the last
	// Window reaches it, from 0 (off) to 1. Default 0.5.
	FailureRatio float64

	// Window is the sliding interval FailureRatio is measured over, from
	// MinBreakerWindow to MaxBreakerWindow; it slides in steps of a
	// tenth of itself. Only used when FailureRatio is on. Default 10 s.
	Window time.Duration

	// MinCalls is how many calls the Window must hold before
	// FailureRatio applies, so that two calls and one failure do not
	// trip it; from 1 to MaxBreakerCount. Only used when FailureRatio is
	// on. Default 20.
	MinCalls int

	// CoolDown is how long the breaker stays open before it lets probes
	// through, from above 0 to MaxCoolDown. Default 5 s.
	CoolDown time.Duration

	// HalfOpenProbes is how many calls a half-open breaker lets through,
	// and how many must succeed to close it, from 1 to MaxBreakerCount.
	// Default 1.
	HalfOpenProbes int

	// IsFailure decides which errors returned to Do count as failures.
	// Nil counts every error except the caller's own context ending
	// (an error that is ctx.Err() after ctx is done), which counts as
	// neither success nor failure.
	IsFailure func(err error) bool

	// IsFailureStatus decides which response statuses count as failures
	// in Middleware. Nil counts 500 and above. A handler that panics
	// fails; a request whose client went away counts as neither.
	IsFailureStatus func(status int) bool
}

// DefaultBreakerConfig returns a breaker that opens after 5 failures in a
// row or half the calls failing over 10 s (with at least 20 calls), stays
// open 5 s and closes after one successful probe.
func DefaultBreakerConfig() BreakerConfig {
	return BreakerConfig{
		ConsecutiveFailures: 5,
		FailureRatio:        0.5,
		Window:              10 * time.Second,
		MinCalls:            20,
		CoolDown:            5 * time.Second,
		HalfOpenProbes:      1,
	}
}

// Validate reports every problem of c at once.
func (c BreakerConfig) Validate() error {
	var errs []error
	if c.ConsecutiveFailures < 0 || c.ConsecutiveFailures > MaxBreakerCount {
		errs = append(errs, fmt.Errorf("consecutive failures must be from 0 (off) to %d (got %d)", MaxBreakerCount, c.ConsecutiveFailures))
	}
	if !(c.FailureRatio >= 0 && c.FailureRatio <= 1) { // also refuses NaN
		errs = append(errs, fmt.Errorf("failure ratio must be from 0 (off) to 1 (got %g)", c.FailureRatio))
	}
	if c.ConsecutiveFailures == 0 && c.FailureRatio == 0 {
		errs = append(errs, errors.New("consecutive failures and failure ratio are both 0 (off): set at least one so the breaker can open"))
	}
	if c.FailureRatio > 0 {
		if c.Window < MinBreakerWindow || c.Window > MaxBreakerWindow {
			errs = append(errs, fmt.Errorf("window must be from %v to %v when failure ratio is on (got %v)", MinBreakerWindow, MaxBreakerWindow, c.Window))
		}
		if c.MinCalls < 1 || c.MinCalls > MaxBreakerCount {
			errs = append(errs, fmt.Errorf("min calls must be from 1 to %d when failure ratio is on (got %d)", MaxBreakerCount, c.MinCalls))
		}
	}
	if c.CoolDown <= 0 || c.CoolDown > MaxCoolDown {
		errs = append(errs, fmt.Errorf("cool-down must be above 0 and at most %v (got %v)", MaxCoolDown, c.CoolDown))
	}
	if c.HalfOpenProbes < 1 || c.HalfOpenProbes > MaxBreakerCount {
		errs = append(errs, fmt.Errorf("half-open probes must be from 1 to %d (got %d)", MaxBreakerCount, c.HalfOpenProbes))
	}
	return errors.Join(errs...)
}

// Breaker is a circuit breaker. Use Do to guard a call, or Middleware to
// guard a handler. It is safe for concurrent use.
type Breaker struct {
	cfg       BreakerConfig
	isFailure func(error) bool
	now       func() time.Time
	origin    time.Time     // time 0 of the window's sub-intervals
	slot      time.Duration // Window / windowBuckets

	mu          sync.Mutex
	state       State
	generation  uint64    // counts state changes; a call's result counts only in its own
	openedAt    time.Time // when Open was entered
	consecutive int       // failures in a row, when Closed
	window      [windowBuckets]windowCount
	probes      int // probes let through, when HalfOpen
	successes   int // probes succeeded, when HalfOpen

	requests    prometheus.Counter
	rejected    prometheus.Counter
	transitions *prometheus.CounterVec
}

// windowCount holds the calls of one sub-interval of the window, the
// index-th since origin.
type windowCount struct {
	index           int64
	calls, failures int
}

// NewBreaker returns a closed Breaker for cfg, whose metrics are labelled
// component=name and registered on reg (nil registers none).
func NewBreaker(name string, cfg BreakerConfig, reg prometheus.Registerer) (*Breaker, error) {
	if err := errors.Join(metricdef.CheckName(name), cfg.Validate()); err != nil {
		return nil, fmt.Errorf("circuit breaker: %w", err)
	}
	b := &Breaker{
		cfg:       cfg,
		isFailure: cfg.IsFailure,
		now:       time.Now,
		slot:      max(cfg.Window/windowBuckets, 1),
		requests: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricRequests, Help: helpRequests,
		}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricBreakerTransitions, Help: helpBreakerTransitions,
		}, []string{"to"}),
	}
	b.origin = b.now()
	for _, s := range []State{Closed, HalfOpen, Open} {
		b.transitions.WithLabelValues(s.String()) // expose zeros
	}
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: metricRejected, Help: helpRejected,
	}, []string{"reason"})
	b.rejected = rejected.WithLabelValues(ReasonBreakerOpen)
	state := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: metricBreakerState, Help: helpBreakerState,
	}, func() float64 { return float64(b.State()) })
	if err := metricdef.Register(reg, name, b.requests, rejected, b.transitions, state); err != nil {
		return nil, fmt.Errorf("circuit breaker: %w", err)
	}
	return b, nil
}

// State returns the breaker's state now. An open breaker whose cool-down
// has passed reads half-open.
func (b *Breaker) State() State {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance(now)
	return b.state
}

// Do calls fn if the breaker lets the call through, and records its
// outcome; otherwise it returns ErrOpen at once. It returns fn's error.
// A ctx already done gets ctx.Err() and nothing is recorded.
func (b *Breaker) Do(ctx context.Context, fn func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ticket, _, ok := b.admit()
	if !ok {
		return ErrOpen
	}
	var err error
	finished := false
	defer func() {
		if !finished { // fn panicked: a failure; the panic goes on
			b.record(ticket, outcomeFailure)
		}
	}()
	err = fn(ctx)
	finished = true
	switch {
	case err == nil:
		b.record(ticket, outcomeSuccess)
	case ctx.Err() != nil && errors.Is(err, ctx.Err()) && b.isFailure == nil:
		b.record(ticket, outcomeNone)
	case b.isFailure == nil || b.isFailure(err):
		b.record(ticket, outcomeFailure)
	default:
		b.record(ticket, outcomeSuccess)
	}
	return err
}

// Middleware returns next behind the breaker. While the breaker refuses
// calls, requests get 503 Service Unavailable with X-Surge-Breaker: open
// and Retry-After: the seconds left of the cool-down, rounded up (at
// least 1), and next is not called. Otherwise next serves the request and its status decides the
// outcome (see BreakerConfig.IsFailureStatus).
func (b *Breaker) Middleware(next http.Handler) http.Handler {
	isFailure := b.cfg.IsFailureStatus
	if isFailure == nil {
		isFailure = func(status int) bool { return status >= 500 }
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ticket, retryAfter, ok := b.admit()
		if !ok {
			WriteOpen(w, retryAfter)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		finished := false
		defer func() {
			if finished {
				return
			}
			// next panicked. http.ErrAbortHandler is a deliberate abort
			// (a proxy whose backend went away mid-body): a failure too.
			b.record(ticket, outcomeFailure)
		}()
		next.ServeHTTP(sw, r)
		finished = true
		switch {
		case r.Context().Err() != nil && sw.status == 0:
			b.record(ticket, outcomeNone) // the client left before an answer
		case isFailure(sw.statusOrOK()):
			b.record(ticket, outcomeFailure)
		default:
			b.record(ticket, outcomeSuccess)
		}
	})
}

// WriteOpen answers a call a breaker refused: 503 Service Unavailable with
// X-Surge-Breaker: open and Retry-After: retryAfter in seconds, rounded
// up (at least 1).
func WriteOpen(w http.ResponseWriter, retryAfter time.Duration) {
	h := w.Header()
	h.Set(HeaderBreaker, HeaderBreakerOpen)
	h.Set(headerRetryAfter, strconv.FormatInt(max(1, ceilSeconds(retryAfter)), 10))
	http.Error(w, ErrOpen.Error(), http.StatusServiceUnavailable)
}

// RetryAfter returns how long until the breaker may let a call through
// again: zero when it would now.
func (b *Breaker) RetryAfter() time.Duration {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance(now)
	switch b.state {
	case Open:
		return b.openedAt.Add(b.cfg.CoolDown).Sub(now)
	case HalfOpen:
		if b.probes >= b.cfg.HalfOpenProbes {
			return time.Second // the probes' answers are due
		}
	}
	return 0
}

// statusWriter remembers the status a handler sent. Unwrap lets
// http.ResponseController reach the underlying writer's Flush and
// deadlines.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 && status >= 200 { // 1xx answers are not the final status
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Flush implements http.Flusher for handlers that assert it directly.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) statusOrOK() int {
	if w.status == 0 {
		return http.StatusOK // a handler that writes nothing sends 200
	}
	return w.status
}

// ticket identifies an admitted call: the generation it was admitted in,
// so that a call that ends after the state moved on changes nothing.
type ticket struct {
	generation uint64
	probe      bool
}

type outcome int

const (
	outcomeSuccess outcome = iota
	outcomeFailure
	outcomeNone // neither: the caller gave up
)

// admit decides whether a call may go through. When not, it returns how
// long until the breaker may let calls through again.
func (b *Breaker) admit() (ticket, time.Duration, bool) {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance(now)
	switch b.state {
	case Closed:
		b.requests.Inc()
		return ticket{generation: b.generation}, 0, true
	case HalfOpen:
		if b.probes < b.cfg.HalfOpenProbes {
			b.probes++
			b.requests.Inc()
			return ticket{generation: b.generation, probe: true}, 0, true
		}
		b.rejected.Inc()
		return ticket{}, time.Second, false // the probes' answers are due
	default: // Open
		b.rejected.Inc()
		return ticket{}, b.openedAt.Add(b.cfg.CoolDown).Sub(now), false
	}
}

// record counts the outcome of an admitted call.
func (b *Breaker) record(t ticket, o outcome) {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance(now)
	if t.generation != b.generation {
		return // admitted in an earlier state: out of date
	}
	switch b.state {
	case Closed:
		if o == outcomeNone {
			return
		}
		w := b.windowAt(now)
		w.calls++
		if o == outcomeSuccess {
			b.consecutive = 0
			return
		}
		w.failures++
		b.consecutive++
		if b.cfg.ConsecutiveFailures > 0 && b.consecutive >= b.cfg.ConsecutiveFailures {
			b.enter(Open, now)
			return
		}
		if b.cfg.FailureRatio > 0 {
			calls, failures := b.windowTotals(now)
			if calls >= b.cfg.MinCalls && float64(failures) >= b.cfg.FailureRatio*float64(calls) {
				b.enter(Open, now)
			}
		}
	case HalfOpen:
		switch o {
		case outcomeNone:
			b.probes-- // free the probe for another call
		case outcomeFailure:
			b.enter(Open, now)
		case outcomeSuccess:
			b.successes++
			if b.successes >= b.cfg.HalfOpenProbes {
				b.enter(Closed, now)
			}
		}
	}
}

// advance turns an open breaker whose cool-down has passed half-open.
// b.mu is held.
func (b *Breaker) advance(now time.Time) {
	if b.state == Open && !now.Before(b.openedAt.Add(b.cfg.CoolDown)) {
		b.enter(HalfOpen, now)
	}
}

// enter moves to state s, starting a new generation with clear counts.
// b.mu is held.
func (b *Breaker) enter(s State, now time.Time) {
	b.state = s
	b.generation++
	b.consecutive, b.probes, b.successes = 0, 0, 0
	b.window = [windowBuckets]windowCount{}
	if s == Open {
		b.openedAt = now
	}
	b.transitions.WithLabelValues(s.String()).Inc()
}

// windowAt returns the counts of the sub-interval holding now, cleared if
// it last held an older one. b.mu is held.
func (b *Breaker) windowAt(now time.Time) *windowCount {
	i := b.slotIndex(now)
	w := &b.window[i%windowBuckets]
	if w.index != i {
		*w = windowCount{index: i}
	}
	return w
}

// windowTotals sums the sub-intervals within the last Window. b.mu is
// held.
func (b *Breaker) windowTotals(now time.Time) (calls, failures int) {
	i := b.slotIndex(now)
	for _, w := range b.window {
		if w.index > i-windowBuckets && w.index <= i {
			calls += w.calls
			failures += w.failures
		}
	}
	return calls, failures
}

// slotIndex numbers the sub-interval holding now, from origin. Counting
// starts at 1 so that a zero windowCount is never current.
func (b *Breaker) slotIndex(now time.Time) int64 {
	d := now.Sub(b.origin)
	if d < 0 {
		d = 0
	}
	return int64(d/b.slot) + 1
}
