package resource

import "time"

// Clock is the time a Resource's service times run on: where it reads
// the present and how it sleeps until a deadline. A nil Clock in a
// configuration means the system clock (time.Now and time.NewTimer).
//
// A Resource computes every operation's completion deadline from Now and
// the slot's previous deadline, and never lets the operation return
// before Now reaches it; a Timer that fires early or late only makes it
// check again or return late. Tests inject a clock whose timers fire late
// by a chosen amount to play a loaded machine deterministically.
//
// Implementations must be safe for concurrent use.
type Clock interface {
	// Now returns the current time. It must never go backwards.
	Now() time.Time
	// Timer returns a channel that receives a value once d has passed
	// (or later), and a function that stops the timer, as time.NewTimer's
	// C and Stop do.
	Timer(d time.Duration) (c <-chan time.Time, stop func() bool)
}

// SystemClock returns the Clock of the machine: time.Now and
// time.NewTimer, on the monotonic clock.
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

var _ Clock = systemClock{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) Timer(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}

// laterOf returns the later of a and b.
func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
