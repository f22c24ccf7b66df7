package queue

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/surgeload/surge/targets/internal/skewclock"
)

// The skewed clocks of targets/internal/skewclock (fake time in a
// synctest bubble, timers late, jittery or early).
type skewClock = skewclock.Clock

var (
	_       Clock = (*skewClock)(nil)
	late          = skewclock.Late
	jittery       = skewclock.Jittery
	early         = skewclock.Early
)

// attemptLog records a queue's timed attempts, per virtual worker.
type attemptLog struct {
	mu      sync.Mutex
	workers map[int][][2]time.Time
}

func traceAttempts(q *Queue) *attemptLog {
	l := &attemptLog{workers: map[int][][2]time.Time{}}
	q.trace = func(w int, start, end time.Time) {
		l.mu.Lock()
		l.workers[w] = append(l.workers[w], [2]time.Time{start, end})
		l.mu.Unlock()
	}
	return l
}

// check checks that every attempt lasted exactly s and, on each virtual
// worker,
// started exactly when the previous one ended: the jobs were all queued,
// so however late a worker woke, its next attempt started at the
// previous one's end.
func (l *attemptLog) check(t *testing.T, s time.Duration) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for w, as := range l.workers {
		// Traced as the goroutines ran: put them in virtual order.
		slices.SortFunc(as, func(a, b [2]time.Time) int { return a[0].Compare(b[0]) })
		for k, a := range as {
			if a[1].Sub(a[0]) != s {
				t.Fatalf("worker %d attempt %d lasted %v; want %v", w, k, a[1].Sub(a[0]), s)
			}
			if k > 0 && !a[0].Equal(as[k-1][1]) {
				t.Fatalf("worker %d attempt %d started %v after the previous one ended; want at its end", w, k, a[0].Sub(as[k-1][1]))
			}
		}
	}
}

// TestTimedAttemptTimeout checks that a timed attempt longer than
// AttemptTimeout fails at exactly the timeout in virtual time, not when a
// real-time context (at the mercy of a busy host) says so.
func TestTimedAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Workers, cfg.MaxAttempts, cfg.ServiceTime, cfg.AttemptTimeout = 1, 1, 50*time.Millisecond, 20*time.Millisecond
		cfg.Clock = late(7 * time.Millisecond)
		q := newQueue(t, cfg, nil)
		id, err := q.Submit(nil)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the job to die", settled(q, 1))
		s, _ := q.Status(id)
		if s.State != Dead || s.LastError != context.DeadlineExceeded.Error() || s.Finished.Sub(s.Created) != cfg.AttemptTimeout {
			t.Errorf("status %+v (finished after %v); want dead of %v after exactly %v", s, s.Finished.Sub(s.Created), context.DeadlineExceeded, cfg.AttemptTimeout)
		}
		if st := q.Stats(); st.BusyTime != cfg.AttemptTimeout {
			t.Errorf("busy time %v; want %v", st.BusyTime, cfg.AttemptTimeout)
		}
	})
}

// TestOverdueWorkerIsFree checks the virtual-time view of a worker past
// its attempt's end but not yet awake (its timer fires an hour late): the
// job it will take next counts as running, not queued, in Stats and for
// the queue bound.
func TestOverdueWorkerIsFree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const s = 10 * time.Millisecond
		cfg := DefaultConfig()
		cfg.Workers, cfg.QueueLimit, cfg.ServiceTime, cfg.Clock = 1, 1, s, late(time.Hour)
		q := newQueue(t, cfg, nil)
		submit := func() error { _, err := q.Submit(nil); return err }
		if err := submit(); err != nil { // A: running
			t.Fatal(err)
		}
		synctest.Wait()
		if err := submit(); err != nil { // B: queued
			t.Fatal(err)
		}
		if st := q.Stats(); st.Running != 1 || st.Queued != 1 {
			t.Fatalf("before A's end: %+v; want 1 running, 1 queued", st)
		}
		if err := submit(); !errors.Is(err, ErrQueueFull) {
			t.Fatalf("Submit with A running and B queued = %v; want ErrQueueFull", err)
		}
		time.Sleep(s) // A's end: its worker is free in virtual time
		if st := q.Stats(); st.Running != 1 || st.Queued != 0 || st.BusyTime != s {
			t.Fatalf("at A's end, its worker asleep: %+v; want B running, none queued, busy time %v", st, s)
		}
		if err := submit(); err != nil { // C: within the bound now
			t.Fatalf("Submit with B running in virtual time = %v", err)
		}
		if err := submit(); !errors.Is(err, ErrQueueFull) {
			t.Fatalf("Submit with B running and C queued = %v; want ErrQueueFull", err)
		}
		clock := cfg.Clock.(*skewClock)
		clock.OnTime()
		time.Sleep(2 * time.Hour) // A's timer fires, an hour late
		if st := q.Stats(); st.Done != 3 || st.BusyTime != 3*s {
			t.Errorf("stats %+v; want 3 done, busy time exactly %v", st, 3*s)
		}
	})
}
