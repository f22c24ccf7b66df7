// Package skewclock is a clock for tests of the simulated components in
// testing/synctest bubbles: the bubble's fake time, with timers that fire
// off their time by a skew — late, as a loaded machine's do, or early. In a
// bubble the skew is exact, so a test plays a given lateness
// deterministically, with no real load. Clock satisfies both
// resource.Clock and queue.Clock.
package skewclock

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Clock's timers fire skew(d) off their duration d.
type Clock struct {
	mu   sync.Mutex
	skew func(d time.Duration) time.Duration
}

// Now is the (bubble's) current time.
func (c *Clock) Now() time.Time { return time.Now() }

// Timer is time.NewTimer's C and Stop for d + skew(d) (at least 0).
func (c *Clock) Timer(d time.Duration) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	d = max(0, d+c.skew(d))
	c.mu.Unlock()
	t := time.NewTimer(d)
	return t.C, t.Stop
}

// Late returns a Clock whose timers fire l late.
func Late(l time.Duration) *Clock {
	return &Clock{skew: func(time.Duration) time.Duration { return l }}
}

// Jittery returns a Clock whose timers fire late by a random amount up to
// most, drawn from seed, as timers on a busy machine do.
func Jittery(most time.Duration, seed uint64) *Clock {
	rng := rand.New(rand.NewPCG(seed, 1))
	return &Clock{skew: func(time.Duration) time.Duration { return time.Duration(rng.Int64N(int64(most) + 1)) }}
}

// Early returns a Clock whose timers fire after half their time.
func Early() *Clock {
	return &Clock{skew: func(d time.Duration) time.Duration { return -d / 2 }}
}

// OnTime makes the timers created from now on fire on time.
func (c *Clock) OnTime() {
	c.mu.Lock()
	c.skew = func(time.Duration) time.Duration { return 0 }
	c.mu.Unlock()
}
