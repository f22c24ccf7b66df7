package schedule_test

import (
	"fmt"
	"time"

	"github.com/surgeload/surge/internal/schedule"
)

// A launch day: 100M requests a day peaking at 5× the average at 20:00,
// played in 10 minutes. The target sees the real rates; the count shrinks
// by the compression factor, 144.
func ExampleNewCurve() {
	c, err := schedule.NewCurve(schedule.Spec{
		Diurnal:  &schedule.Diurnal{DailyRequests: 100e6, PeakMultiplier: 5, PeakHour: 20},
		Compress: 144, // 24h in 10m
	})
	if err != nil {
		panic(err)
	}
	fmt.Printf("average %.3f/s, peak %.3f/s\n", c.Average(), c.Peak())
	fmt.Printf("played in %v: %.1f arrivals\n", c.Duration(), c.Total())
	fmt.Printf("at 8m20s (20:00) %.1f/s, at 3m20s (08:00) %.1f/s\n", c.Rate(500*time.Second), c.Rate(200*time.Second))
	// Output:
	// average 1157.407/s, peak 5787.037/s
	// played in 10m0s: 694444.4 arrivals
	// at 8m20s (20:00) 5787.0/s, at 3m20s (08:00) 231.5/s
}

// A 5× spike over a constant 100/s: the mean rate per minute shows the
// ramp up, the hold and the ramp down.
func ExampleSpike() {
	c, err := schedule.NewCurve(schedule.Spec{
		Constant: &schedule.Constant{Rate: 100, Duration: 6 * time.Minute},
		Spikes:   []schedule.Spike{{At: 2 * time.Minute, Multiplier: 5, Ramp: time.Minute, Hold: time.Minute}},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(c.MeanRates(6), c.Peak(), c.Total())
	// Output:
	// [100 100 300 500 300 100] 500 84000
}

// A ramp from 0 to 10/s over 2 s: Λ(t) = 2.5t², so arrival i is at
// √(i/2.5) s, and the ten arrivals crowd together as the rate rises.
func ExampleNew() {
	c, err := schedule.NewCurve(schedule.Spec{Ramp: &schedule.Ramp{From: 0, To: 10, Duration: 2 * time.Second}})
	if err != nil {
		panic(err)
	}
	s, err := schedule.New(c, schedule.Uniform, 0)
	if err != nil {
		panic(err)
	}
	for i := range s.Len() {
		fmt.Print(s.At(i).Round(time.Millisecond))
		if i+1 < s.Len() {
			fmt.Print(" ")
		}
	}
	fmt.Println()
	fmt.Println(s.CountBefore(time.Second), "arrivals in the first second")
	// Output:
	// 0s 632ms 894ms 1.095s 1.265s 1.414s 1.549s 1.673s 1.789s 1.897s
	// 3 arrivals in the first second
}

// A Poisson schedule is a pure function of its curve and seed: an agent
// that owns only the odd arrivals computes exactly the instants of the
// whole schedule.
func ExampleNew_poisson() {
	c, err := schedule.NewCurve(schedule.Spec{Constant: &schedule.Constant{Rate: 1000, Duration: time.Second}})
	if err != nil {
		panic(err)
	}
	whole, _ := schedule.New(c, schedule.Poisson, 42)
	agent, _ := schedule.New(c, schedule.Poisson, 42)
	shares, _ := schedule.Split([]uint32{1, 1})
	it := shares[1].Iter(0, 6)
	for i, ok := it.Next(); ok; i, ok = it.Next() {
		fmt.Println(i, agent.At(i), agent.At(i) == whole.At(i))
	}
	// Output:
	// 1 2.654686ms true
	// 3 4.126577ms true
	// 5 6.53205ms true
}

// Three agents share 12 arrivals. Agent 2 is lost; from arrival 6 on the
// two survivors divide its share between them, as the coordinator does,
// and every arrival is still owned exactly once.
func ExampleDivide() {
	shares, _ := schedule.Equal(3)
	parts, err := schedule.Divide(shares[2], 2)
	if err != nil {
		panic(err)
	}
	owner := func(i uint64) int {
		for k := range 2 {
			if shares[k].Owns(i) || (i >= 6 && parts[k].Owns(i)) {
				return k
			}
		}
		return 2
	}
	for i := range uint64(12) {
		fmt.Print(owner(i), " ")
	}
	fmt.Println()
	// Output:
	// 0 1 2 0 1 2 0 1 0 0 1 1
}
