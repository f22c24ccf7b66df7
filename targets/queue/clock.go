package queue

import "time"

// Clock is the time a Queue's service times and backoffs run on: where
// it reads the present and how it waits. A nil Config.Clock means the
// system clock (time.Now and time.NewTimer). It has the method set of
// resource.Clock, so one implementation serves both.
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
