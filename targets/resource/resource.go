package resource

import (
	"github.com/surgeload/surge/targets/internal/metricdef"

	"container/list"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Limits of a Resource's configuration.
const (
	// MaxSlots is the most slots a Resource may have.
	MaxSlots = 1 << 16
	// MaxQueueLimit is the longest queue a Resource may have.
	MaxQueueLimit = 1 << 20
)

// ErrQueueFull is matched (errors.Is) by the error of an operation that
// found every slot busy and the queue at its limit: load the component
// shed. HTTP components answer it with 503 and Retry-After.
var ErrQueueFull = errors.New("queue full")

// ErrUnknownOp is matched by the error of Serve for an Op that the
// Resource has no cost class for.
var ErrUnknownOp = errors.New("unknown operation")

// Op names a cost class of a Resource: which of its service-time
// distributions an operation draws from (ResourceConfig.Costs).
type Op string

// Cost classes used by this package's components.
const (
	// OpDefault is the class of a component with a single kind of work,
	// such as an AppServer's requests.
	OpDefault Op = "default"
	// OpRead is a DB read.
	OpRead Op = "read"
	// OpWrite is a DB write.
	OpWrite Op = "write"
)

// ResourceConfig configures a Resource.
type ResourceConfig struct {
	// Slots is how many operations are served at once: CPU cores,
	// worker threads, pooled connections. From 1 to MaxSlots. An
	// operation holds one slot for its whole service time. With every
	// slot held for a mean service time S, the resource completes at most
	// Slots ÷ S operations per second: its saturation throughput.
	// Default 4.
	Slots int

	// QueueLimit is how many operations may wait, first in first out,
	// for a slot, from 0 (none: an operation that finds every slot busy
	// is rejected at once) to MaxQueueLimit. An operation arriving with
	// the queue full gets ErrQueueFull. A longer queue sheds less load
	// but lets latency grow further before it does: a full queue adds
	// about QueueLimit ÷ Slots service times of wait. Default 64.
	QueueLimit int

	// Costs maps each cost class to its service-time distribution; Serve
	// draws from the class it is given. Do takes its cost directly, so a
	// Resource used only through Do (a shared CPU budget) needs none.
	// Each class draws from its own random source, seeded from Seed and
	// the class name, so one class's sequence of draws does not depend on
	// how other classes interleave with it. Default
	// {OpDefault: Exponential(10ms)}.
	Costs map[Op]Dist

	// Seed fixes the sequence of service times drawn for each class. Two
	// resources with the same configuration draw the same sequences.
	// Default 1.
	Seed uint64
}

// DefaultResourceConfig returns 4 slots, a queue of 64 and one class,
// OpDefault, of exponential service times with mean 10 ms: saturation at
// 400 operations per second.
func DefaultResourceConfig() ResourceConfig {
	return ResourceConfig{
		Slots:      4,
		QueueLimit: 64,
		Costs:      map[Op]Dist{OpDefault: Exponential(10 * time.Millisecond)},
		Seed:       1,
	}
}

// Validate reports every problem with c at once.
func (c ResourceConfig) Validate() error {
	var errs []error
	if c.Slots < 1 || c.Slots > MaxSlots {
		errs = append(errs, fmt.Errorf("slots must be from 1 to %d (got %d)", MaxSlots, c.Slots))
	}
	if c.QueueLimit < 0 || c.QueueLimit > MaxQueueLimit {
		errs = append(errs, fmt.Errorf("queue limit must be from 0 to %d (got %d)", MaxQueueLimit, c.QueueLimit))
	}
	for _, op := range slices.Sorted(maps.Keys(c.Costs)) {
		if op == "" {
			errs = append(errs, errors.New("costs: an operation class must have a name (got \"\")"))
		}
		if err := c.Costs[op].Validate(); err != nil {
			errs = append(errs, fmt.Errorf("costs[%s]: %w", op, err))
		}
	}
	return errors.Join(errs...)
}

// Resource is a capacity: a number of slots, each serving one operation
// at a time, and a bounded first-in-first-out queue in front of them. An
// operation takes a slot (waiting its turn in the queue if none is free),
// holds it for its service time on a timer, using no CPU, and gives it
// back. So a Resource saturates where queueing arithmetic says: at
// Slots ÷ mean service time operations per second, with latency growing
// without bound as the offered rate approaches that.
//
// Holding a slot is a Go timer, which fires late by 0.1–1 ms on a busy
// machine; the Resource learns the mean lateness and sets its first timer
// that much early, but never lets a slot go before the drawn cost has
// passed on the monotonic clock (an early wake-up sleeps out the rest).
// So a Resource never serves faster than Slots ÷ mean, and on an idle
// machine about that fast; a loaded machine can only make it slower.
// Keep service times at a millisecond or more for the arithmetic to hold
// within a few percent.
//
// A Resource is safe for concurrent use and owns no goroutines.
type Resource struct {
	name       string
	slots      int
	queueLimit int
	samplers   map[Op]*Sampler
	retryAfter time.Duration
	errFull    error // ErrQueueFull, named after the resource
	start      time.Time
	collector  *resourceCollector
	lateness   atomic.Int64 // mean lateness of hold's timers, nanoseconds

	mu       sync.Mutex
	busy     int
	waiters  list.List // of *waiter
	served   uint64
	waits    uint64
	rejected uint64
	busyNS   float64 // slot-nanoseconds busy up to lastNS
	lastNS   int64   // when busy last changed, nanoseconds since start
}

// NewResource returns the Resource configured by cfg. name is the
// component's instance name: it labels the metrics (component="name") and
// the errors. With reg non-nil the metrics are registered there (see the
// package documentation); registering the same name twice on one
// registry fails.
func NewResource(name string, cfg ResourceConfig, reg prometheus.Registerer) (*Resource, error) {
	errs := []error{metricdef.CheckName(name), cfg.Validate()}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("resource %s: %w", name, err)
	}
	r := newResource(cfg, name)
	if err := register(reg, r); err != nil {
		return nil, err
	}
	return r, nil
}

// newResource builds a Resource from a valid cfg without registering
// metrics.
func newResource(cfg ResourceConfig, name string) *Resource {
	r := &Resource{
		name:       name,
		slots:      cfg.Slots,
		queueLimit: cfg.QueueLimit,
		samplers:   make(map[Op]*Sampler, len(cfg.Costs)),
		errFull:    fmt.Errorf("%s: %w", name, ErrQueueFull),
		start:      time.Now(),
	}
	r.collector = &resourceCollector{r: r}
	var slowest time.Duration
	for op, d := range cfg.Costs {
		r.samplers[op] = NewSampler(d, classSeed(cfg.Seed, op))
		slowest = max(slowest, d.Mean())
	}
	r.retryAfter = drainTime(cfg.Slots, cfg.QueueLimit, slowest)
	return r
}

// classSeed derives the seed of one cost class from the resource's seed.
func classSeed(seed uint64, op Op) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(op))
	return seed ^ h.Sum64()
}

// drainTime is the Retry-After of a full resource: the time its slots
// take to serve everything queued and in service, (queue + slots) ÷ slots
// mean service times, rounded up to whole seconds, at least 1 s.
func drainTime(slots, queue int, mean time.Duration) time.Duration {
	d := float64(queue+slots) / float64(slots) * mean.Seconds()
	return time.Duration(max(1, math.Ceil(d))) * time.Second
}

// Name returns the instance name the resource was built with.
func (r *Resource) Name() string { return r.name }

// Slots returns the number of slots.
func (r *Resource) Slots() int { return r.slots }

// RetryAfter is how long a client that got ErrQueueFull should wait
// before trying again: the time a full queue takes to drain at the
// slowest class's mean service time, in whole seconds, at least 1 s.
func (r *Resource) RetryAfter() time.Duration { return r.retryAfter }

// Do takes a slot, holds it for cost (on a timer) and gives it back. It
// returns ErrQueueFull (wrapped) at once when the queue is full, and
// ctx.Err() if ctx ends first, in the queue or in the slot; only an
// operation that held its slot for the whole cost counts as served. A
// cost of zero or less takes a slot and gives it straight back.
func (r *Resource) Do(ctx context.Context, cost time.Duration) error {
	granted, err := r.acquire(ctx)
	if err != nil {
		return err
	}
	err = r.hold(ctx, granted, cost)
	r.release(err == nil)
	return err
}

// Serve is Do with a cost drawn from op's class (ResourceConfig.Costs).
// An op without a class gets ErrUnknownOp.
func (r *Resource) Serve(ctx context.Context, op Op) error {
	s := r.samplers[op]
	if s == nil {
		return fmt.Errorf("%s: %w %q", r.name, ErrUnknownOp, op)
	}
	granted, err := r.acquire(ctx)
	if err != nil {
		return err
	}
	err = r.hold(ctx, granted, s.Next())
	r.release(err == nil)
	return err
}

// sample draws a cost of op's class, which must exist.
func (r *Resource) sample(op Op) time.Duration { return r.samplers[op].Next() }

// Acquire takes a slot, waiting in the queue for one if all are busy, for
// work whose time the caller spends itself (for example calls to other
// components while holding a connection). Every successful Acquire must
// be followed by exactly one Release. It returns ErrQueueFull (wrapped)
// when the queue is full, and ctx.Err() when ctx ends before a slot is
// free; then the caller holds nothing.
func (r *Resource) Acquire(ctx context.Context) error {
	_, err := r.acquire(ctx)
	return err
}

// waiter is an operation in the queue. release hands it a slot by setting
// granted and closing ready, under mu.
type waiter struct {
	ready   chan struct{}
	granted time.Time
}

// acquire is Acquire, also returning when the slot was granted: a waiter
// is granted its slot when the previous holder releases it, a little
// before its goroutine runs again, and the service time counts from then.
func (r *Resource) acquire(ctx context.Context) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	r.mu.Lock()
	if r.busy < r.slots && r.waiters.Len() == 0 {
		r.setBusyLocked(r.busy + 1)
		r.mu.Unlock()
		return time.Now(), nil
	}
	if r.waiters.Len() >= r.queueLimit {
		r.rejected++
		r.mu.Unlock()
		return time.Time{}, r.errFull
	}
	w := &waiter{ready: make(chan struct{})}
	elem := r.waiters.PushBack(w)
	r.waits++
	r.mu.Unlock()

	select {
	case <-w.ready:
		return w.granted, nil
	case <-ctx.Done():
		r.mu.Lock()
		select {
		case <-w.ready:
			// A slot was handed over as ctx ended: pass it on.
			r.mu.Unlock()
			r.release(false)
		default:
			r.waiters.Remove(elem)
			r.mu.Unlock()
		}
		return time.Time{}, ctx.Err()
	}
}

// Release gives back a slot taken by Acquire and counts one operation
// served. It panics if no slot is held.
func (r *Resource) Release() { r.release(true) }

// release gives a slot back: to the first waiter if there is one (the
// slot stays busy), otherwise to the free pool.
func (r *Resource) release(served bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.busy == 0 {
		panic("resource: Release of " + r.name + " without a slot held")
	}
	if served {
		r.served++
	}
	if front := r.waiters.Front(); front != nil {
		w := r.waiters.Remove(front).(*waiter)
		w.granted = time.Now()
		close(w.ready)
		return
	}
	r.setBusyLocked(r.busy - 1)
}

// setBusyLocked changes the busy count, first adding the slot-time spent
// at the old count to the busy-time integral.
func (r *Resource) setBusyLocked(busy int) {
	now := time.Since(r.start).Nanoseconds()
	r.busyNS += float64(r.busy) * float64(now-r.lastNS)
	r.lastNS = now
	r.busy = busy
}

// hold keeps the slot until cost after start has passed on the
// monotonic clock, or until ctx ends.
//
// It never returns before that deadline: the deadline is fixed from start
// once, and a timer that fires before it is followed by another for the
// rest. So a Resource can never serve more than its model allows, however
// late or early its timers run; a busy machine can only make holds longer.
//
// A Go timer fires late, by 0.1–1 ms on a busy machine, and a slot held
// that much longer than its cost would put saturation a few percent below
// Slots ÷ mean. So hold keeps a running mean of its timers' lateness (an
// exponentially weighted mean over about the last 16 timers) and aims its
// first timer that much before the deadline. Every timer that fires feeds
// the mean, including the one that waits out the rest after an early
// wake-up, so the estimate follows the machine down as well as up. (An
// estimate that could only grow, with holds ending at once when it
// exceeded the time left, once let a slot of 2 ms serve 100 operations in
// 36 µs on a loaded machine.) The compensation thus trims the overshoot
// past the deadline; it cannot shorten the service time itself.
func (r *Resource) hold(ctx context.Context, start time.Time, cost time.Duration) error {
	if cost <= 0 {
		return nil
	}
	deadline := start.Add(cost)
	aim := deadline.Add(-time.Duration(r.lateness.Load())) // when the first timer is set to fire
	var t *time.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		now := time.Now()
		if !now.Before(deadline) {
			// Held for the whole cost. A ctx that ended meanwhile (while
			// this goroutine waited for a CPU) still fails the operation,
			// as it would have if the timer had been noticed first.
			return ctx.Err()
		}
		if !now.Before(aim) {
			aim = deadline // the early aim has passed: wait out the rest exactly
		}
		if t == nil {
			t = time.NewTimer(aim.Sub(now))
		} else {
			t.Reset(aim.Sub(now)) // t has fired and been drained
		}
		select {
		case <-t.C:
			r.observeLateness(time.Since(aim))
			aim = deadline
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// observeLateness feeds how late a timer of hold fired into the running
// mean. Lost updates between goroutines only slow the mean's tracking.
func (r *Resource) observeLateness(observed time.Duration) {
	late := time.Duration(r.lateness.Load())
	r.lateness.Store(int64(late + (max(observed, 0)-late)/16))
}

// Stats is a snapshot of a Resource's state and counters.
type Stats struct {
	// Slots and QueueLimit are the configured capacity.
	Slots, QueueLimit int
	// Busy is how many slots are held now.
	Busy int
	// Queued is how many operations wait for a slot now.
	Queued int
	// Served counts operations that held their slot to the end.
	Served uint64
	// Waits counts acquisitions that found no free slot and queued
	// (including ones that then gave up).
	Waits uint64
	// Rejected counts operations refused with ErrQueueFull.
	Rejected uint64
	// BusyTime is the integral of Busy over time since the resource was
	// built: slot-time spent serving. Its growth over an interval divided
	// by Slots × the interval is the mean utilisation in that interval.
	BusyTime time.Duration
}

// Utilisation returns Busy ÷ Slots, from 0 to 1.
func (s Stats) Utilisation() float64 {
	if s.Slots == 0 {
		return 0
	}
	return float64(s.Busy) / float64(s.Slots)
}

// Stats returns a consistent snapshot of the resource's state.
func (r *Resource) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Since(r.start).Nanoseconds()
	return Stats{
		Slots:      r.slots,
		QueueLimit: r.queueLimit,
		Busy:       r.busy,
		Queued:     r.waiters.Len(),
		Served:     r.served,
		Waits:      r.waits,
		Rejected:   r.rejected,
		BusyTime:   time.Duration(r.busyNS + float64(r.busy)*float64(now-r.lastNS)),
	}
}
