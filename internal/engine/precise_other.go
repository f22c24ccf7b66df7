//go:build !linux

package engine

import "time"

// threadSleeper is Linux-only; elsewhere the precise pacer spins.
type threadSleeper struct{}

func newThreadSleeper() *threadSleeper            { return &threadSleeper{} }
func (s *threadSleeper) release()                 {}
func (s *threadSleeper) sleep(time.Duration) bool { return false }

// preciseThread does nothing here: no loops without Linux.
func preciseThread() (unlock func()) { return func() {} }
