package resource

import (
	"context"
	"sync"
	"time"
)

// A request's virtual time: see "Virtual time across components" in the
// package documentation.

// timelineKey is the context key of a request's *timeline.
type timelineKey struct{}

// timeline is the virtual "now" of one request as it passes through
// simulated components: the instant, in the model, at which the work done
// so far for the request ended. It only moves forward. Safe for
// concurrent use, so a request that fans out may share it.
type timeline struct {
	mu  sync.Mutex
	now time.Time
}

// WithVirtualTime returns ctx carrying a request timeline that starts at
// start, unless ctx already carries one (then ctx is returned as is: the
// request keeps its virtual time). Every simulated component the request
// reaches through the returned context starts its operation at the
// later of the timeline's now and its slot's busy-until, and moves the
// timeline to the operation's virtual completion.
func WithVirtualTime(ctx context.Context, start time.Time) context.Context {
	if _, ok := ctx.Value(timelineKey{}).(*timeline); ok {
		return ctx
	}
	return context.WithValue(ctx, timelineKey{}, &timeline{now: start})
}

// VirtualNow returns the virtual now of the request timeline in ctx, and
// false when ctx carries none.
func VirtualNow(ctx context.Context) (time.Time, bool) {
	tl, ok := ctx.Value(timelineKey{}).(*timeline)
	if !ok {
		return time.Time{}, false
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return tl.now, true
}

// AdvanceVirtual moves the request timeline in ctx to t, if t is later
// than its now; it does nothing without a timeline. Components that model
// a delay of their own (a network round trip) call it with the delay's
// virtual end.
func AdvanceVirtual(ctx context.Context, t time.Time) {
	tl, ok := ctx.Value(timelineKey{}).(*timeline)
	if !ok {
		return
	}
	tl.mu.Lock()
	if t.After(tl.now) {
		tl.now = t
	}
	tl.mu.Unlock()
}

// Delay models a pause of d in a request (a network hop): it moves the
// request timeline in ctx d later and sleeps on clock (nil: the system
// clock) until that virtual instant, which may already have passed on a
// late machine; without a timeline it sleeps d from now. It returns
// ctx.Err() if ctx ends first.
func Delay(ctx context.Context, clock Clock, d time.Duration) error {
	if clock == nil {
		clock = systemClock{}
	}
	now := clock.Now()
	from := arrival(ctx, now)
	if d <= 0 {
		return ctx.Err()
	}
	deadline := from.Add(d)
	for {
		now := clock.Now()
		if !now.Before(deadline) {
			if err := ctx.Err(); err != nil {
				return err
			}
			AdvanceVirtual(ctx, deadline)
			return nil
		}
		c, stop := clock.Timer(deadline.Sub(now))
		select {
		case <-c:
		case <-ctx.Done():
			stop()
			return ctx.Err()
		}
	}
}

// arrival is when an operation of ctx's request arrives in virtual time:
// the timeline's now, never later than the clock's now; without a
// timeline, now.
func arrival(ctx context.Context, now time.Time) time.Time {
	if v, ok := VirtualNow(ctx); ok && v.Before(now) {
		return v
	}
	return now
}
