package resource

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// closedLoop runs clients goroutines that each call op back to back for
// d, and returns the completions per second of the ones that succeeded,
// counted between warm and d − warm/2 so that neither the start nor the
// operations cut short at the end skew it. Every goroutine has ended when
// it returns. The tests call it inside a synctest bubble, so d and the
// rate are in the bubble's fake time: the clients never fall behind
// because the machine is busy.
func closedLoop(t *testing.T, clients int, d time.Duration, op func(context.Context) error) float64 {
	t.Helper()
	const warm = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var done atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				if op(ctx) == nil {
					done.Add(1)
				}
			}
		})
	}
	time.Sleep(time.Until(start.Add(warm)))
	n1, t1 := done.Load(), time.Now()
	time.Sleep(time.Until(start.Add(d - warm/2)))
	n2, t2 := done.Load(), time.Now()
	wg.Wait()
	return float64(n2-n1) / t2.Sub(t1).Seconds()
}

// openLoop offers op at Poisson arrivals of the given rate for d (the
// arrival times drawn from seed) and returns the response time of each
// arrival that succeeded, measured from its intended arrival time, so a
// driver that falls behind does not hide queueing (no coordinated
// omission). It also returns how many failed. Inside a synctest bubble,
// as the tests use it, arrivals and response times are exact fake time. Every goroutine has ended
// when it returns; each operation is bounded by d + 10 s.
func openLoop(t *testing.T, rate float64, d time.Duration, seed uint64, op func(context.Context) error) (rts []time.Duration, failed int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 0))
	var arrivals []time.Duration
	for at := time.Duration(0); ; {
		at += time.Duration(rng.ExpFloat64() / rate * float64(time.Second))
		if at >= d {
			break
		}
		arrivals = append(arrivals, at)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d+10*time.Second)
	defer cancel()
	results := make([]time.Duration, len(arrivals))
	var wg sync.WaitGroup
	start := time.Now()
	timer := time.NewTimer(0)
	<-timer.C
	for i, at := range arrivals {
		if wait := time.Until(start.Add(at)); wait > 0 {
			timer.Reset(wait)
			<-timer.C
		}
		wg.Go(func() {
			if op(ctx) != nil {
				results[i] = -1
				return
			}
			results[i] = time.Since(start.Add(at))
		})
	}
	wg.Wait()
	for _, rt := range results {
		if rt < 0 {
			failed++
			continue
		}
		rts = append(rts, rt)
	}
	return rts, failed
}

// quantile returns the q-quantile of xs (nearest rank), sorting xs.
func quantile(xs []time.Duration, q float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	i := int(q*float64(len(xs))+0.5) - 1
	return xs[min(max(i, 0), len(xs)-1)]
}
