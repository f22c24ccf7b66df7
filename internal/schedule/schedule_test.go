package schedule

import (
	"errors"
	"fmt"
	"math"
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
