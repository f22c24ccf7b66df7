package resource

import (
	"context"
	"errors"
	"fmt"
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

// holdLog records a Resource's holds through its trace hook.
type holdLog struct {
	mu    sync.Mutex
	holds [][2]time.Time // per hold: start, deadline; by slot in bySlot
	slots map[int][][2]time.Time
}

func traceHolds(r *Resource) *holdLog {
	l := &holdLog{slots: map[int][][2]time.Time{}}
	r.trace = func(slot int, start, deadline time.Time) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.holds = append(l.holds, [2]time.Time{start, deadline})
		l.slots[slot] = append(l.slots[slot], [2]time.Time{start, deadline})
	}
	return l
}

// checkSlots checks each slot's holds in the order they were taken: each
// starts no earlier than the previous one's deadline (a slot serves one
// operation at a time in virtual time), exactly at it when queued is set
// (the operation was waiting, so lateness must not delay it), and lasts
// between lo and hi.
func (l *holdLog) checkSlots(t *testing.T, queued bool, lo, hi time.Duration) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for slot, hs := range l.slots {
		for k, h := range hs {
			if d := h[1].Sub(h[0]); d < lo || d > hi {
				t.Fatalf("slot %d hold %d: start to deadline %v; want from %v to %v", slot, k, d, lo, hi)
			}
			if k == 0 {
				continue
			}
			prev := hs[k-1][1]
			if h[0].Before(prev) {
				t.Fatalf("slot %d hold %d starts %v before the previous deadline", slot, k, prev.Sub(h[0]))
			}
			if queued && !h[0].Equal(prev) {
				t.Fatalf("slot %d hold %d of a queued operation starts %v after the previous deadline; want at it", slot, k, h[0].Sub(prev))
			}
		}
	}
}

// TestDeadlinesOnOneSlot queues N operations of cost c at once on one
// slot, with timers firing on time, late by up to ten costs, or early,
// and checks the model exactly: the deadlines are t0 + c, t0 + 2c, …,
// t0 + N·c whatever the lateness; no operation returns before its
// deadline, so by any moment T no more than (T − t0) ÷ c have completed;
// the last returns at most one lateness after t0 + N·c (lateness does not
// accumulate); and the busy time is exactly N·c.
func TestDeadlinesOnOneSlot(t *testing.T) {
	const (
		c = 2 * time.Millisecond
		n = 100
	)
	for _, tt := range []struct {
		name  string
		clock *skewClock
		most  time.Duration // the most a timer fires late
	}{
		{"on time", late(0), 0},
		{"late c/2", late(c / 2), c / 2},
		{"late c", late(c), c},
		{"late 10c", late(10 * c), 10 * c},
		{"jitter to 3c", jittery(3*c, 1), 3 * c},
		{"early", early(), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := mustResource(t, ResourceConfig{Slots: 1, QueueLimit: n, Clock: tt.clock}, "r", nil)
				log := traceHolds(r)
				t0 := time.Now()
				var mu sync.Mutex
				var returns []time.Time
				var wg sync.WaitGroup
				for range n {
					wg.Go(func() {
						end, err := r.do(context.Background(), c)
						now := time.Now()
						if err != nil {
							t.Error(err)
							return
						}
						if now.Before(end) {
							t.Errorf("an operation returned %v before its deadline", end.Sub(now))
						}
						mu.Lock()
						returns = append(returns, now)
						mu.Unlock()
					})
				}
				wg.Wait()

				if len(log.holds) != n {
					t.Fatalf("%d holds; want %d", len(log.holds), n)
				}
				for k, h := range log.holds {
					if want := t0.Add(time.Duration(k+1) * c); !h[1].Equal(want) {
						t.Fatalf("hold %d: deadline t0+%v; want t0+%v", k, h[1].Sub(t0), want.Sub(t0))
					}
				}
				log.checkSlots(t, true, c, c)
				slices.SortFunc(returns, func(a, b time.Time) int { return a.Compare(b) })
				for k, at := range returns {
					if most := int(at.Sub(t0) / c); k+1 > most {
						t.Fatalf("%d operations completed by t0+%v; at most %d fit", k+1, at.Sub(t0), most)
					}
				}
				last := returns[n-1].Sub(t0)
				if last > n*c+tt.most {
					t.Errorf("the last operation returned at t0+%v; want by t0+%v (N·c plus one lateness)", last, n*c+tt.most)
				}
				s := r.Stats()
				if s.Served != n || s.BusyTime != n*c || s.Busy != 0 || s.Queued != 0 {
					t.Errorf("Stats = %+v; want %d served, busy time exactly %v, idle", s, n, n*c)
				}
			})
		})
	}
}

// TestLateSlotsKeepCapacity queues 100 operations per slot at once on a
// resource of several slots with random service times, while its timers
// fire late by up to 30% of the mean, and checks through its own accounting that it neither runs ahead
// of the model nor falls behind it: on every slot each operation starts
// exactly at the previous one's deadline (the queue is never empty), so
// the holds tile virtual time, and the busy time never exceeds
// Slots × elapsed.
func TestLateSlotsKeepCapacity(t *testing.T) {
	for _, tt := range []struct {
		slots int
		dist  Dist
	}{
		{4, Exponential(10 * time.Millisecond)},
		{3, LogNormalP99(5*time.Millisecond, 20*time.Millisecond)},
	} {
		t.Run(fmt.Sprintf("%d slots %v", tt.slots, tt.dist), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clock := jittery(tt.dist.Mean()*3/10, 2)
				r := mustResource(t, ResourceConfig{Slots: tt.slots, QueueLimit: 1000, Costs: map[Op]Dist{OpDefault: tt.dist}, Seed: 3, Clock: clock}, "r", nil)
				log := traceHolds(r)
				t0 := time.Now()
				// All arriving at t0, so that every slot has a successor
				// waiting until the end.
				var wg sync.WaitGroup
				for range 100 * tt.slots {
					wg.Go(func() {
						if err := r.Serve(context.Background(), OpDefault); err != nil {
							t.Error(err)
						}
					})
				}
				// Sample Stats while it runs: never more busy than slots
				// allow.
				stop := make(chan struct{})
				var samples int
				sampler := sync.WaitGroup{}
				sampler.Go(func() {
					for {
						select {
						case <-stop:
							return
						case <-time.After(7 * time.Millisecond):
						}
						s, now := r.Stats(), time.Now()
						samples++
						if limit := time.Duration(tt.slots) * now.Sub(t0); s.BusyTime > limit {
							t.Errorf("busy time %v after %v on %d slots; at most %v", s.BusyTime, now.Sub(t0), tt.slots, limit)
						}
						if s.Busy > tt.slots || s.Busy < 0 || s.Queued < 0 {
							t.Errorf("Stats = %+v", s)
						}
					}
				})
				wg.Wait()
				close(stop)
				sampler.Wait()

				// The first operation on each slot starts at t0, and then
				// every one at its predecessor's deadline, so a slot's last
				// deadline is t0 plus the sum of its costs.
				log.checkSlots(t, true, 0, time.Hour)
				var sum time.Duration
				for slot, hs := range log.slots {
					if !hs[0][0].Equal(t0) {
						t.Errorf("slot %d: first start t0+%v; want t0", slot, hs[0][0].Sub(t0))
					}
					for _, h := range hs {
						sum += h[1].Sub(h[0])
					}
				}
				s := r.Stats()
				if s.Served != uint64(len(log.holds)) || s.BusyTime != sum {
					t.Errorf("Stats = %+v; want %d served and busy time %v, the sum of the costs", s, len(log.holds), sum)
				}
				t.Logf("%d operations, %d Stats samples; busy %v over %v on %d slots", s.Served, samples, s.BusyTime, time.Since(t0), tt.slots)
			})
		})
	}
}

// TestOverdueSlotIsFree checks the virtual-time view of a slot whose
// holder is past its deadline but not yet awake (its timer fires an hour
// late): the operation waiting for it counts as in service, not queued,
// and the queue bound counts the same way.
func TestOverdueSlotIsFree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const c = 10 * time.Millisecond
		r := mustResource(t, ResourceConfig{Slots: 1, QueueLimit: 1, Clock: late(time.Hour)}, "r", nil)
		log := traceHolds(r)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		errs := make(chan error, 3)
		t0 := time.Now()
		go func() { errs <- r.Do(ctx, c) }() // A: holds the slot
		synctest.Wait()
		go func() { errs <- r.Do(ctx, c) }() // B: waits
		synctest.Wait()
		if s := r.Stats(); s.Busy != 1 || s.Queued != 1 {
			t.Fatalf("before A's deadline: %+v; want 1 busy, 1 queued", s)
		}
		if err := r.Do(ctx, c); !errors.Is(err, ErrQueueFull) {
			t.Fatalf("Do with A before its deadline and B queued = %v; want ErrQueueFull", err)
		}

		time.Sleep(c) // A's deadline: its slot is free in virtual time
		if s := r.Stats(); s.Busy != 1 || s.Queued != 0 || s.BusyTime != c {
			t.Fatalf("at A's deadline, A asleep: %+v; want 1 busy (B), 0 queued, busy time %v", s, c)
		}
		go func() { errs <- r.Do(ctx, c) }() // C: queues behind B, within the bound
		synctest.Wait()
		if s := r.Stats(); s.Queued != 1 || s.Rejected != 1 {
			t.Fatalf("after C: %+v; want C queued and only the earlier rejection", s)
		}
		if err := r.Do(ctx, c); !errors.Is(err, ErrQueueFull) {
			t.Fatalf("Do with B in service and C queued = %v; want ErrQueueFull", err)
		}

		// Let everyone wake: B starts at A's deadline and C at B's, not
		// when the late timers fired.
		clock := r.clock.(*skewClock)
		clock.OnTime()
		time.Sleep(2 * time.Hour)
		for range 3 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		want := [][2]time.Time{{t0, t0.Add(c)}, {t0.Add(c), t0.Add(2 * c)}, {t0.Add(2 * c), t0.Add(3 * c)}}
		if !slices.Equal(log.holds, want) {
			t.Errorf("holds (start, deadline) from t0: %v; want %v", sinceT0(log.holds, t0), sinceT0(want, t0))
		}
		if s := r.Stats(); s.Served != 3 || s.BusyTime != 3*c || s.Rejected != 2 {
			t.Errorf("Stats = %+v; want 3 served, busy time %v, 2 rejected", s, 3*c)
		}
	})
}

func sinceT0(hs [][2]time.Time, t0 time.Time) [][2]time.Duration {
	out := make([][2]time.Duration, len(hs))
	for i, h := range hs {
		out[i] = [2]time.Duration{h[0].Sub(t0), h[1].Sub(t0)}
	}
	return out
}

// TestHoldNeverEndsEarly checks on the machine's own clock, however busy
// it is, that no operation returns before its deadline: n operations of
// cost d on s slots cannot finish in less than ⌈n ÷ s⌉·d, nor one in
// less than d. Both are lower bounds on elapsed time, which load can only
// raise, so the test cannot be fooled by it. The busy time, in virtual
// time, is exactly n·d.
func TestHoldNeverEndsEarly(t *testing.T) {
	const d = 2 * time.Millisecond
	for _, tt := range []struct{ slots, clients, ops int }{
		{1, 1, 100},
		{4, 8, 200}, // queued operations too: 50 rounds of 4
	} {
		t.Run(fmt.Sprintf("%d slots %d clients", tt.slots, tt.clients), func(t *testing.T) {
			r := mustResource(t, ResourceConfig{Slots: tt.slots, QueueLimit: tt.clients}, "r", nil)
			ctx := context.Background()
			var wg sync.WaitGroup
			var mu sync.Mutex
			shortest := time.Duration(1<<63 - 1)
			start := time.Now()
			for c := range tt.clients {
				wg.Go(func() {
					for i := c; i < tt.ops; i += tt.clients {
						began := time.Now()
						if err := r.Do(ctx, d); err != nil {
							t.Error(err)
							return
						}
						took := time.Since(began)
						mu.Lock()
						shortest = min(shortest, took)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			rounds := (tt.ops + tt.slots - 1) / tt.slots
			s := r.Stats()
			t.Logf("%d × %v on %d slots: %v (at least %v), shortest call %v", tt.ops, d, tt.slots, elapsed, time.Duration(rounds)*d, shortest)
			if elapsed < time.Duration(rounds)*d {
				t.Errorf("%d operations of %v on %d slots took %v; want at least %v", tt.ops, d, tt.slots, elapsed, time.Duration(rounds)*d)
			}
			if shortest < d {
				t.Errorf("an operation of %v returned after %v; want at least %v", d, shortest, d)
			}
			if s.Served != uint64(tt.ops) || s.BusyTime != time.Duration(tt.ops)*d {
				t.Errorf("Stats = %+v; want %d served and exactly %v busy", s, tt.ops, time.Duration(tt.ops)*d)
			}
		})
	}
}
