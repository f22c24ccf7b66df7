package schedule

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"
)

func TestSplitOffsets(t *testing.T) {
	tests := []struct {
		weights []uint32
		want    [][]uint32
	}{
		{[]uint32{1}, [][]uint32{{0}}},
		{[]uint32{1, 1, 1}, [][]uint32{{0}, {1}, {2}}},
		{[]uint32{2, 1}, [][]uint32{{0, 2}, {1}}},
		{[]uint32{1, 2}, [][]uint32{{1}, {0, 2}}},
		{[]uint32{5, 1, 1}, [][]uint32{{0, 1, 3, 5, 6}, {2}, {4}}},
	}
	for _, tt := range tests {
		got, err := Split(tt.weights)
		if err != nil {
			t.Fatalf("Split(%v) error: %v", tt.weights, err)
		}
		var offs [][]uint32
		for _, s := range got {
			offs = append(offs, s.Offsets)
		}
		if !reflect.DeepEqual(offs, tt.want) {
			t.Errorf("Split(%v) offsets = %v; want %v", tt.weights, offs, tt.want)
		}
	}
}

func TestSplitInvalid(t *testing.T) {
	for _, w := range [][]uint32{nil, {}, {1, 0}, {MaxCycle, 1}} {
		if _, err := Split(w); !errors.Is(err, ErrInvalid) {
			t.Errorf("Split(%v) error = %v; want ErrInvalid", w, err)
		}
	}
}

func TestShareValidate(t *testing.T) {
	bad := []Share{
		{},
		{Cycle: 3},
		{Cycle: 2, Offsets: []uint32{0, 1, 1}},
		{Cycle: 2, Offsets: []uint32{2}},
		{Cycle: 4, Offsets: []uint32{2, 1}},
		{Cycle: MaxCycle + 1, Offsets: []uint32{0}},
	}
	for _, s := range bad {
		if err := s.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("Share%+v.Validate() = %v; want ErrInvalid", s, err)
		}
	}
	ok, _ := Split([]uint32{3, 2, 2})
	for _, s := range ok {
		if err := s.Validate(); err != nil {
			t.Errorf("Share%+v.Validate() = %v; want nil", s, err)
		}
	}
}

// TestSplitExactAndEven is the split contract: for several agent counts and
// rates, every arrival index of the global schedule is owned by exactly one
// agent, each agent owns its exact fraction, and each agent's arrivals are
// evenly spread: in any 1 s window its count is within ±1 of its share of
// the arrivals in that window.
func TestSplitExactAndEven(t *testing.T) {
	rates := []float64{1, 7.5, 100, 997, 3333.3, 10_000}
	agentCounts := []int{1, 2, 3, 4, 5, 7, 16}
	for _, rate := range rates {
		for _, n := range agentCounts {
			t.Run(fmt.Sprintf("rate=%v/agents=%d", rate, n), func(t *testing.T) {
				s := mustConstant(t, rate, 5*time.Second)
				shares, err := Equal(n)
				if err != nil {
					t.Fatal(err)
				}
				checkPartition(t, s, shares)
				checkWindows(t, s, shares, time.Second, 1)
			})
		}
	}
}

// TestSplitWeighted checks unequal shares: still an exact partition, and
// spread evenly enough that no 1 s window is off by more than one cycle's
// rounding.
func TestSplitWeighted(t *testing.T) {
	for _, w := range [][]uint32{{2, 1}, {1, 2, 3}, {8, 8, 4, 2}, {5, 1, 1}} {
		t.Run(fmt.Sprint(w), func(t *testing.T) {
			s := mustConstant(t, 1000, 3*time.Second)
			shares, err := Split(w)
			if err != nil {
				t.Fatal(err)
			}
			checkPartition(t, s, shares)
			checkWindows(t, s, shares, time.Second, 2)
		})
	}
}

func checkPartition(t *testing.T, s *Schedule, shares []Share) {
	t.Helper()
	owner := make([]int, s.Len())
	for i := range owner {
		owner[i] = -1
	}
	var total uint64
	for k, sh := range shares {
		it := sh.Iter(0, s.Len())
		var own uint64
		prev := int64(-1)
		for i, ok := it.Next(); ok; i, ok = it.Next() {
			if int64(i) <= prev {
				t.Fatalf("agent %d: Iter not increasing: %d after %d", k, i, prev)
			}
			prev = int64(i)
			if owner[i] != -1 {
				t.Fatalf("index %d owned by agent %d and agent %d", i, owner[i], k)
			}
			if !sh.Owns(i) {
				t.Fatalf("agent %d: Iter yields %d but Owns(%d) = false", k, i, i)
			}
			owner[i] = k
			own++
		}
		if c := sh.Count(0, s.Len()); c != own {
			t.Errorf("agent %d: Count = %d; Iter yielded %d", k, c, own)
		}
		want := float64(s.Len()) * float64(len(sh.Offsets)) / float64(sh.Cycle)
		if math.Abs(float64(own)-want) > float64(len(sh.Offsets)) {
			t.Errorf("agent %d owns %d of %d; want about %.1f", k, own, s.Len(), want)
		}
		total += own
	}
	for i, k := range owner {
		if k == -1 {
			t.Fatalf("index %d owned by no agent", i)
		}
	}
	if total != s.Len() {
		t.Errorf("agents own %d in all; schedule has %d", total, s.Len())
	}
}

func checkWindows(t *testing.T, s *Schedule, shares []Share, window time.Duration, tolerance float64) {
	t.Helper()
	for a := range s.Len() {
		b := s.CountBefore(s.At(a) + window)
		for k, sh := range shares {
			got := float64(sh.Count(a, b))
			want := float64(b-a) * float64(len(sh.Offsets)) / float64(sh.Cycle)
			if math.Abs(got-want) > tolerance {
				t.Fatalf("agent %d: window [%v, %v) holds %v of its arrivals; want %.2f ±%v", k, s.At(a), s.At(a)+window, got, want, tolerance)
			}
		}
	}
}

func TestIterRange(t *testing.T) {
	sh := Share{Cycle: 5, Offsets: []uint32{1, 3}}
	tests := []struct {
		first, end uint64
		want       []uint64
	}{
		{0, 12, []uint64{1, 3, 6, 8, 11}},
		{2, 9, []uint64{3, 6, 8}},
		{4, 6, nil},
		{9, 9, nil},
		{11, 12, []uint64{11}},
		{12, 30, []uint64{13, 16, 18, 21, 23, 26, 28}},
	}
	for _, tt := range tests {
		it := sh.Iter(tt.first, tt.end)
		var got []uint64
		for i, ok := it.Next(); ok; i, ok = it.Next() {
			got = append(got, i)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Iter(%d, %d) = %v; want %v", tt.first, tt.end, got, tt.want)
		}
		if c := sh.Count(tt.first, tt.end); c != uint64(len(tt.want)) {
			t.Errorf("Count(%d, %d) = %d; want %d", tt.first, tt.end, c, len(tt.want))
		}
	}
	var zero Iter
	if _, ok := zero.Next(); ok {
		t.Error("zero Iter yielded a value")
	}
}

func BenchmarkIter(b *testing.B) {
	shares, _ := Equal(3)
	s, _ := NewConstant(Constant{Rate: 50_000, Duration: time.Hour}, Uniform)
	b.ReportAllocs()
	it := shares[1].Iter(0, s.Len())
	var sink time.Duration
	for b.Loop() {
		i, ok := it.Next()
		if !ok {
			it = shares[1].Iter(0, s.Len())
		}
		sink += s.At(i)
	}
	_ = sink
}
