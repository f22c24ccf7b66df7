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

	// Clock is the time service times run on (see Simulated time on
	// Resource). Nil: the system clock. Tests inject a fake one.
	Clock Clock
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
// # Simulated time
//
// Service times are kept on virtual deadlines, so that a busy host can
// neither speed a Resource up nor, at saturation, slow it down. Each slot
// remembers the instant its last operation ended in the model (its "busy
// until"). An operation given the slot starts at the later of its own
// arrival and that instant, and its completion deadline is its start plus
// its cost; it sleeps on the Clock until the deadline and never returns
// before it. A timer that fires late (a loaded machine) makes that
// operation return late, and it hands the slot on late, but the next
// operation, if it was already waiting, still starts at the previous
// deadline: its deadline is exactly its cost later, and it sleeps that
// much less. So on one slot the deadlines of a queue of operations are
// exactly their costs apart, the N-th can never complete before
// N costs after the first started, and a slot completes at most
// span ÷ cost operations over any span however busy the host is; while
// the queue is non-empty, lateness delays completions but is not added to
// the service time. Keep service times at a millisecond or more, so that
// timer lateness stays small beside them.
//
// # Virtual time across components
//
// A request carries its virtual time from component to component in its
// context (WithVirtualTime; an AppServer starts one for each request that
// has none). An operation arrives, in the model, at the request's virtual
// now rather than at the instant its goroutine got to run: it starts at
// the later of that and its slot's busy-until, and when it is served the
// request's virtual now moves to its deadline. So an AppServer slot that
// waits on a DB is busy, in the model, exactly until the DB operation's
// deadline, however late the goroutine wakes up to see it: the slot is
// handed to the next request as busy until then, not until it was given
// back. Along a chain of components each stage therefore still completes
// at most its modelled capacity over any span, and lateness on a busy
// host delays responses without adding to any stage's service time. A
// request's virtual now never runs ahead of the Clock.
//
// Time a caller spends holding a slot through Acquire … Release is the
// caller's real time: the slot is busy until it is given back.
//
// Utilisation and the busy-time integral are in the same virtual time: an
// operation is busy from its start to its deadline, so a slot's busy
// intervals never overlap and BusyTime never exceeds Slots × elapsed. An
// operation waiting for a slot whose holder is past its deadline but not
// yet awake counts as in service, not queued, for Stats and for the queue
// bound.
//
// A Resource is safe for concurrent use and owns no goroutines.
type Resource struct {
	name       string
	slots      int
	queueLimit int
	samplers   map[Op]*Sampler
	retryAfter time.Duration
	errFull    error // ErrQueueFull, named after the resource
	clock      Clock
	collector  *resourceCollector
	// trace, set by tests before use, is called with each hold's slot,
	// start and deadline.
	trace func(slot int, start, deadline time.Time)

	mu       sync.Mutex
	slot     []slot
	free     []int     // free slots, a stack
	acquired []int     // slots held through Acquire, for Release
	busy     int       // slots held
	waiters  list.List // of *waiter
	served   uint64
	waits    uint64
	rejected uint64
	busyDone time.Duration // busy time of the operations that have left their slots
}

// slot is one slot's place in virtual time. Guarded by Resource.mu.
type slot struct {
	held  bool
	until time.Time // when its last operation ended
	start time.Time // held: when the current operation started
	end   time.Time // held: its deadline once known; zero while the holder decides
}

// grant is a slot given to an operation, and when the operation started.
type grant struct {
	slot  int
	start time.Time
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
		clock:      cfg.Clock,
		slot:       make([]slot, cfg.Slots),
		free:       make([]int, cfg.Slots),
	}
	if r.clock == nil {
		r.clock = systemClock{}
	}
	for i := range r.free {
		r.free[i] = cfg.Slots - 1 - i // slot 0 on top
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

// Do takes a slot, holds it for cost (until the deadline of Simulated
// time) and gives it back. It returns ErrQueueFull (wrapped) at once when
// the queue is full, and ctx.Err() if ctx ends first, in the queue or in
// the slot; only an operation that held its slot for the whole cost
// counts as served. A cost of zero or less takes a slot and gives it
// straight back.
func (r *Resource) Do(ctx context.Context, cost time.Duration) error {
	_, err := r.do(ctx, cost)
	return err
}

// do is Do, also returning when the operation ended in virtual time: its
// deadline when it was served.
func (r *Resource) do(ctx context.Context, cost time.Duration) (time.Time, error) {
	g, err := r.acquire(ctx)
	if err != nil {
		return time.Time{}, err
	}
	end, err := r.hold(ctx, g, cost)
	r.release(g.slot, end, err == nil)
	return end, err
}

// Serve is Do with a cost drawn from op's class (ResourceConfig.Costs).
// An op without a class gets ErrUnknownOp.
func (r *Resource) Serve(ctx context.Context, op Op) error {
	s := r.samplers[op]
	if s == nil {
		return fmt.Errorf("%s: %w %q", r.name, ErrUnknownOp, op)
	}
	g, err := r.acquire(ctx)
	if err != nil {
		return err
	}
	end, err := r.hold(ctx, g, s.Next())
	r.release(g.slot, end, err == nil)
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
	g, err := r.acquire(ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.acquired = append(r.acquired, g.slot)
	r.mu.Unlock()
	return nil
}

// waiter is an operation in the queue. release hands it a slot by setting
// g and closing ready, under mu.
type waiter struct {
	ready   chan struct{}
	arrived time.Time
	g       grant
}

// acquire is Acquire, returning the slot and the operation's start: now
// for a free slot; for a waiter, the later of its arrival and the end of
// the slot's previous operation, which may be before the holder woke up
// to hand it over.
func (r *Resource) acquire(ctx context.Context) (grant, error) {
	if err := ctx.Err(); err != nil {
		return grant{}, err
	}
	now := r.clock.Now()
	arrived := arrival(ctx, now)
	r.mu.Lock()
	if n := len(r.free); n > 0 && r.waiters.Len() == 0 {
		i := r.takeFreeLocked(arrived)
		r.busy++
		g := r.takeLocked(i, arrived)
		r.mu.Unlock()
		AdvanceVirtual(ctx, g.start)
		return g, nil
	}
	// The queue bound is on the queue in virtual time: waiters for whom
	// a slot whose holder is past its deadline is as good as free are
	// in service there, not queued. Counted only when it matters.
	if n := r.waiters.Len(); n >= r.queueLimit && n-r.overdueLocked(now) >= r.queueLimit {
		r.rejected++
		r.mu.Unlock()
		return grant{}, r.errFull
	}
	w := &waiter{ready: make(chan struct{}), arrived: arrived}
	elem := r.waiters.PushBack(w)
	r.waits++
	r.mu.Unlock()

	select {
	case <-w.ready:
		AdvanceVirtual(ctx, w.g.start)
		return w.g, nil
	case <-ctx.Done():
		r.mu.Lock()
		select {
		case <-w.ready:
			// A slot was handed over as ctx ended: pass it on, having
			// used none of it.
			r.mu.Unlock()
			r.release(w.g.slot, w.g.start, false)
		default:
			r.waiters.Remove(elem)
			r.mu.Unlock()
		}
		return grant{}, ctx.Err()
	}
}

// takeFreeLocked removes from the free pool, and returns, the slot that
// can start an operation arriving at arrived the soonest: the one on top
// if it is idle by then (always so without virtual time), else the one
// busy until the earliest instant. An operation arriving in the past of
// the Clock (its request's virtual now) must not take a slot freed after
// its arrival while another has been idle since before it.
func (r *Resource) takeFreeLocked(arrived time.Time) int {
	n := len(r.free)
	best := n - 1
	if r.slot[r.free[best]].until.After(arrived) {
		for k := n - 2; k >= 0; k-- {
			if r.slot[r.free[k]].until.Before(r.slot[r.free[best]].until) {
				best = k
			}
		}
	}
	i := r.free[best]
	r.free = slices.Delete(r.free, best, best+1)
	return i
}

// takeLocked gives slot i to an operation that arrived at arrived.
func (r *Resource) takeLocked(i int, arrived time.Time) grant {
	s := &r.slot[i]
	s.held = true
	s.start = laterOf(arrived, s.until)
	s.end = time.Time{}
	return grant{slot: i, start: s.start}
}

// overdueLocked counts the held slots whose operation's deadline is at or
// before now: free in virtual time, their holders not yet awake.
func (r *Resource) overdueLocked(now time.Time) int {
	n := 0
	for i := range r.slot {
		if s := &r.slot[i]; s.held && !s.end.IsZero() && !now.Before(s.end) {
			n++
		}
	}
	return n
}

// Release gives back a slot taken by Acquire and counts one operation
// served; the slot was busy until now. It panics if no slot is held.
func (r *Resource) Release() {
	r.mu.Lock()
	n := len(r.acquired)
	if n == 0 {
		r.mu.Unlock()
		panic("resource: Release of " + r.name + " without a slot held")
	}
	i := r.acquired[n-1]
	r.acquired = r.acquired[:n-1]
	r.mu.Unlock()
	r.release(i, r.clock.Now(), true)
}

// release gives slot i back, its operation having ended at end (in
// virtual time; no earlier than its start): to the first waiter if there
// is one (the slot stays busy), otherwise to the free pool.
func (r *Resource) release(i int, end time.Time, served bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &r.slot[i]
	if !s.held {
		panic("resource: release of a free slot of " + r.name)
	}
	end = laterOf(end, s.start)
	r.busyDone += end.Sub(s.start)
	s.held, s.until, s.end = false, end, time.Time{}
	if served {
		r.served++
	}
	if front := r.waiters.Front(); front != nil {
		w := r.waiters.Remove(front).(*waiter)
		w.g = r.takeLocked(i, w.arrived)
		close(w.ready)
		return
	}
	r.free = append(r.free, i)
	r.busy--
}

// keep marks slot i, held past its deadline, as busy until its holder
// gives it back: the holder goes on with work of its own in real time.
func (r *Resource) keep(i int) {
	r.mu.Lock()
	r.slot[i].end = time.Time{}
	r.mu.Unlock()
}

// hold keeps slot g until the operation's deadline, g.start + cost, on
// the Clock, or until ctx ends, and returns when the operation ended in
// virtual time: the deadline, or the moment ctx ended if that was
// earlier.
//
// It never returns before the deadline: a timer that fires early is
// followed by another for the rest. Returning late does not matter to the
// model: the next operation to take the slot starts at the deadline, not
// when hold returned (see Simulated time on Resource).
//
// A ctx that ended while the operation overslept its deadline (waiting
// for a CPU) still fails it, as it would have if the timer had been
// noticed first; the end is then the deadline.
func (r *Resource) hold(ctx context.Context, g grant, cost time.Duration) (time.Time, error) {
	if cost <= 0 {
		return g.start, nil
	}
	deadline := g.start.Add(cost)
	r.mu.Lock()
	r.slot[g.slot].end = deadline
	r.mu.Unlock()
	if r.trace != nil {
		r.trace(g.slot, g.start, deadline)
	}
	for {
		now := r.clock.Now()
		if !now.Before(deadline) {
			if err := ctx.Err(); err != nil {
				return deadline, err
			}
			AdvanceVirtual(ctx, deadline)
			return deadline, nil
		}
		c, stop := r.clock.Timer(deadline.Sub(now))
		select {
		case <-c:
		case <-ctx.Done():
			stop()
			if now := r.clock.Now(); now.Before(deadline) {
				return now, ctx.Err()
			}
			return deadline, ctx.Err()
		}
	}
}

// Stats is a snapshot of a Resource's state and counters.
type Stats struct {
	// Slots and QueueLimit are the configured capacity.
	Slots, QueueLimit int
	// Busy is how many slots are busy now in virtual time: held by an
	// operation before its deadline, or by a caller of Acquire.
	Busy int
	// Queued is how many operations wait for a slot now, in virtual time
	// (not counting those that a slot past its deadline will take).
	Queued int
	// Served counts operations that held their slot to the end.
	Served uint64
	// Waits counts acquisitions that found no free slot and queued
	// (including ones that then gave up).
	Waits uint64
	// Rejected counts operations refused with ErrQueueFull.
	Rejected uint64
	// BusyTime is slot-time spent serving since the resource was built:
	// the sum over operations of their time in a slot, from start to
	// deadline in virtual time (to the moment they gave up, or to now for
	// one in progress). A slot's operations never overlap, so it grows by
	// at most Slots × the interval. Its growth over an interval divided
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

// Stats returns a consistent snapshot of the resource's state, in
// virtual time (see Simulated time on Resource): a slot whose holder is
// past its deadline but not yet awake is free, and the first waiter
// counts as in service on it.
func (r *Resource) Stats() Stats {
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	busyTime := r.busyDone
	overdue := 0
	for i := range r.slot {
		s := &r.slot[i]
		if !s.held {
			continue
		}
		end := now
		if !s.end.IsZero() && !now.Before(s.end) {
			end = s.end
			overdue++
		}
		if end.After(s.start) {
			busyTime += end.Sub(s.start)
		}
	}
	inService := min(r.waiters.Len(), overdue)
	return Stats{
		Slots:      r.slots,
		QueueLimit: r.queueLimit,
		Busy:       r.busy - overdue + inService,
		Queued:     r.waiters.Len() - inService,
		Served:     r.served,
		Waits:      r.waits,
		Rejected:   r.rejected,
		BusyTime:   busyTime,
	}
}
