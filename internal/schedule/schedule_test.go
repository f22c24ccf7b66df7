package schedule

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"
)

func mustConstant(t testing.TB, rate float64, d time.Duration) *Schedule {
	t.Helper()
	s, err := NewConstant(Constant{Rate: rate, Duration: d}, Uniform)
	if err != nil {
		t.Fatalf("NewConstant(%v, %v) error: %v", rate, d, err)
	}
	return s
}

func TestConstantLen(t *testing.T) {
	tests := []struct {
		rate float64
		d    time.Duration
		want uint64
	}{
		{1000, 5 * time.Second, 5000},
		{1, time.Second, 1},
		{1, 1500 * time.Millisecond, 2},
		{2.5, time.Second, 3}, // 0, 0.4 s, 0.8 s
		{3, time.Second, 3},
		{7, time.Second, 7},
		{0.5, 10 * time.Second, 5},
		{10_000_000, time.Millisecond, 10_000},
		{1157.4074074074074, time.Hour, 4_166_667},
		{0.001, time.Second, 1}, // only arrival 0 at T0
	}
	for _, tt := range tests {
		s := mustConstant(t, tt.rate, tt.d)
		if got := s.Len(); got != tt.want {
			t.Errorf("NewConstant(%v/s, %v).Len() = %d; want %d", tt.rate, tt.d, got, tt.want)
		}
		// Len agrees with At exactly: the last arrival is inside, the next is not.
		if n := s.Len(); s.At(n-1) >= tt.d || s.At(n) < tt.d {
			t.Errorf("rate %v d %v: At(n-1)=%v At(n)=%v do not bracket the duration", tt.rate, tt.d, s.At(n-1), s.At(n))
		}
	}
}

func TestConstantAtNoDrift(t *testing.T) {
	s := mustConstant(t, 3, time.Hour)
	// Computed from the index, never by summing: arrival 3·k is exactly k seconds.
	for _, k := range []uint64{0, 1, 60, 3599} {
		if got, want := s.At(3*k), time.Duration(k)*time.Second; got != want {
			t.Errorf("At(%d) = %v; want %v", 3*k, got, want)
		}
	}
	var prev time.Duration
	for i := range s.Len() {
		at := s.At(i)
		if at < prev {
			t.Fatalf("At(%d) = %v < At(%d) = %v", i, at, i-1, prev)
		}
		prev = at
	}
}

func TestCountBefore(t *testing.T) {
	s := mustConstant(t, 7.5, 4*time.Second)
	for _, ms := range []int64{-1, 0, 1, 133, 134, 999, 1000, 2500, 3999, 4000, 5000} {
		at := time.Duration(ms) * time.Millisecond
		var want uint64
		for i := range s.Len() {
			if s.At(i) < at {
				want++
			}
		}
		if got := s.CountBefore(at); got != want {
			t.Errorf("CountBefore(%v) = %d; want %d", at, got, want)
		}
	}
}

func TestNewConstantInvalid(t *testing.T) {
	tests := []struct {
		c    Constant
		a    Arrival
		want string
	}{
		{Constant{Rate: 0, Duration: time.Second}, Uniform, "rate 0/s must be > 0"},
		{Constant{Rate: -5, Duration: time.Second}, Uniform, "rate -5/s must be > 0"},
		{Constant{Rate: math.NaN(), Duration: time.Second}, Uniform, "rate NaN/s"},
		{Constant{Rate: math.Inf(1), Duration: time.Second}, Uniform, "must be > 0 and <= 10000000/s"},
		{Constant{Rate: 10, Duration: 0}, Uniform, "duration 0s must be > 0"},
		{Constant{Rate: 10, Duration: 8 * 24 * time.Hour}, Uniform, "duration 192h0m0s must be > 0 and <= 168h0m0s"},
		{Constant{Rate: 10, Duration: time.Second}, Arrival(0), "arrival process arrival(0) is not supported"},
	}
	for _, tt := range tests {
		_, err := NewConstant(tt.c, tt.a)
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewConstant(%+v, %v) error = %v; want one containing %q wrapping ErrInvalid", tt.c, tt.a, err, tt.want)
		}
	}
}

// testCurves are small curves of every kind, each with at most a few
// hundred thousand arrivals so tests can walk all of them.
func testCurves() map[string]Spec {
	w := make([]float64, 24)
	for h := range w {
		w[h] = float64((h*7)%24 + 1)
	}
	w[5] = 0
	// A launch day in one minute.
	fast := Spec{
		Diurnal:  &Diurnal{DailyRequests: 100e6, PeakMultiplier: 5, PeakToTrough: 20, PeakHour: 20},
		Compress: 1440,
		Spikes: []Spike{
			{AtFraction: 0.4, Multiplier: 5, Ramp: 3 * time.Second, Hold: 12 * time.Second},
			{AtFraction: 0.8, Multiplier: 5, Ramp: time.Second, Hold: 3 * time.Second, RampDown: 2 * time.Second},
		},
	}
	return map[string]Spec{
		"constant":      {Constant: &Constant{Rate: 7.5, Duration: 4 * time.Second}},
		"constant 100M": {Constant: &Constant{Rate: 100e6 / 86400, Duration: time.Minute}},
		"ramp up":       {Ramp: &Ramp{From: 0, To: 1000, Duration: 10 * time.Second}},
		"ramp down":     {Ramp: &Ramp{From: 1000, To: 0, Duration: 10 * time.Second}},
		"steps":         {Steps: []Step{{Rate: 0, Duration: time.Second}, {Rate: 333, Duration: 2 * time.Second}, {Rate: 0, Duration: time.Second}, {Rate: 1e4, Duration: time.Second}}},
		"hourly":        {Diurnal: &Diurnal{DailyRequests: 20e6, HourlyWeights: w}, Compress: 1440},
		"launch day":    fast,
		"spiky ramp": {Ramp: &Ramp{From: 200, To: 20, Duration: 30 * time.Second}, Spikes: []Spike{
			{At: 5 * time.Second, Multiplier: 10, Ramp: 3 * time.Second, Hold: time.Second, RampDown: 7 * time.Second},
			{At: 9 * time.Second, Multiplier: 4, Ramp: 5 * time.Second, Hold: 0, RampDown: 0}}},
	}
}

func mustSchedule(t testing.TB, spec Spec, a Arrival, seed uint64) *Schedule {
	t.Helper()
	s, err := New(mustCurve(t, spec), a, seed)
	if err != nil {
		t.Fatalf("New(%v, %d) error: %v", a, seed, err)
	}
	return s
}

// TestLenAtCountBeforeAgree walks every arrival of every test curve under
// both processes: At never decreases, Len is exactly #{i : At(i) < D}, and
// CountBefore(t) is exactly #{i : At(i) < t} at every arrival instant, one
// nanosecond either side of it, and elsewhere.
func TestLenAtCountBeforeAgree(t *testing.T) {
	for name, spec := range testCurves() {
		for _, a := range []Arrival{Uniform, Poisson} {
			t.Run(name+"/"+a.String(), func(t *testing.T) {
				s := mustSchedule(t, spec, a, 42)
				n, d := s.Len(), s.Duration()
				ats := make([]time.Duration, n+3)
				for i := range ats {
					ats[i] = s.At(uint64(i))
					if i > 0 && ats[i] < ats[i-1] {
						t.Fatalf("At(%d) = %v < At(%d) = %v", i, ats[i], i-1, ats[i-1])
					}
				}
				if n == 0 || ats[n-1] >= d || ats[n] != d || ats[n+2] != d {
					t.Fatalf("Len = %d but At(Len-1), At(Len), At(Len+2) = %v, %v, %v; want < %v, = %v, = %v", n, ats[max(n, 1)-1], ats[n], ats[n+2], d, d, d)
				}
				count := func(at time.Duration) uint64 {
					return uint64(sort.Search(int(n), func(i int) bool { return ats[i] >= at }))
				}
				step := max(1, int(n)/20_000)
				check := func(at time.Duration) {
					if got, want := s.CountBefore(at), count(at); got != want {
						t.Fatalf("CountBefore(%v) = %d; want %d", at, got, want)
					}
				}
				for i := 0; i < int(n); i += step {
					check(ats[i])
					check(ats[i] + 1)
					check(ats[i] - 1)
				}
				for _, at := range []time.Duration{-1, 0, 1, d / 3, d - 1, d, d + 1} {
					check(at)
				}
				r := nodeStream(blockKey(7, 0), 0)
				for range 5000 {
					check(time.Duration(r.uniform() * float64(d)))
				}
			})
		}
	}
}

// TestUniformWindows: under Uniform every window [a, b) holds
// Λ(b) − Λ(a) arrivals within one, for 1 s windows sliding by 10 ms and
// for windows of random length.
func TestUniformWindows(t *testing.T) {
	for name, spec := range testCurves() {
		s := mustSchedule(t, spec, Uniform, 0)
		c := s.Curve()
		check := func(a, b time.Duration) {
			got := float64(s.CountBefore(b) - s.CountBefore(a))
			want := c.Cumulative(b) - c.Cumulative(a)
			if math.Abs(got-want) > 1+1e-9 {
				t.Fatalf("%s: window [%v, %v) holds %v arrivals; ∫λ = %.6f", name, a, b, got, want)
			}
		}
		for a := time.Duration(0); a < s.Duration(); a += 10 * time.Millisecond {
			check(a, a+time.Second)
		}
		r := nodeStream(blockKey(9, 0), 0)
		for range 20_000 {
			a := time.Duration(r.uniform() * float64(s.Duration()))
			b := a + time.Duration(r.uniform()*float64(s.Duration()-a))
			check(a, b)
		}
	}
}

// TestUniformArrivalZero: arrival 0 is at T0, or at the end of a leading
// pause.
func TestUniformArrivalZero(t *testing.T) {
	if at := mustSchedule(t, testCurves()["ramp up"], Uniform, 0).At(0); at != 0 {
		t.Errorf("ramp from 0: At(0) = %v; want 0", at)
	}
	if at := mustSchedule(t, testCurves()["steps"], Uniform, 0).At(0); at != time.Second {
		t.Errorf("steps after a pause: At(0) = %v; want 1s", at)
	}
}

func TestNewInvalid(t *testing.T) {
	c := mustCurve(t, Spec{Constant: &Constant{Rate: 1, Duration: time.Second}})
	if _, err := New(c, Arrival(0), 1); !errors.Is(err, ErrInvalid) {
		t.Errorf("New(arrival 0) error = %v; want ErrInvalid", err)
	}
	if _, err := New(nil, Uniform, 1); !errors.Is(err, ErrInvalid) {
		t.Errorf("New(nil curve) error = %v; want ErrInvalid", err)
	}
	s, err := New(c, Poisson, 99)
	if err != nil || s.Seed() != 99 || s.Arrival() != Poisson || s.Curve() != c || s.Spec().Constant.Rate != 1 {
		t.Errorf("New(c, Poisson, 99) = %+v, %v", s, err)
	}
}

func ExampleSplit() {
	shares, _ := Split([]uint32{1, 1, 2})
	s, _ := NewConstant(Constant{Rate: 4, Duration: 2 * time.Second}, Uniform)
	for k, sh := range shares {
		it := sh.Iter(0, s.Len())
		fmt.Printf("agent %d owns %v:", k, sh)
		for i, ok := it.Next(); ok; i, ok = it.Next() {
			fmt.Printf(" %d@%v", i, s.At(i))
		}
		fmt.Println()
	}
	// Output:
	// agent 0 owns 1/4: 1@250ms 5@1.25s
	// agent 1 owns 1/4: 2@500ms 6@1.5s
	// agent 2 owns 2/4: 0@0s 3@750ms 4@1s 7@1.75s
}
