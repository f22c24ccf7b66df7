package schedule

import (
	"fmt"
	"slices"
	"testing"
)

// worst straddling/inside window deviation for the agents continuing.
func worstDev(prev, next []Share, from []int, at uint64) (inside, straddle float64) {
	for k, f := range from {
		pn := deviation(next[k])
		inside = max(inside, slices.Max(pn)-slices.Min(pn))
		if f < 0 {
			continue
		}
		po := deviation(prev[f])
		inside = max(inside, slices.Max(po)-slices.Min(po))
		// brute force windows [a, b) with a <= at <= b, lengths up to 3 cycles each side
		co, cn := uint64(prev[f].Cycle), uint64(next[k].Cycle)
		fo := float64(len(prev[f].Offsets)) / float64(co)
		fn := float64(len(next[k].Offsets)) / float64(cn)
		for a := at - min(at, 3*co); a <= at; a++ {
			for b := at; b <= at+3*cn; b++ {
				got := float64(prev[f].Count(a, at) + next[k].Count(at, b))
				want := float64(at-a)*fo + float64(b-at)*fn
				straddle = max(straddle, abs(got-want))
			}
		}
	}
	return
}
func abs(x float64) float64 { if x < 0 { return -x }; return x }

func TestZZSplit(t *testing.T) {
	cases := []struct {
		prev []Ratio
		next []Ratio
		from []int
	}{
		{[]Ratio{{1, 3}, {1, 3}, {1, 3}}, []Ratio{{1, 2}, {1, 2}}, []int{0, 1}},
		{[]Ratio{{1, 3}, {1, 3}, {1, 3}}, []Ratio{{1, 2}, {1, 2}}, []int{0, 2}},
		{[]Ratio{{1, 2}, {1, 3}, {1, 6}}, []Ratio{{3, 4}, {1, 4}}, []int{0, 2}},
		{[]Ratio{{1, 2}, {1, 3}, {1, 6}}, []Ratio{{1, 3}, {1, 3}, {1, 3}}, []int{0, 1, 2}},
		{[]Ratio{{1, 2}, {1, 3}, {1, 6}}, []Ratio{{1, 4}, {1, 4}, {1, 4}, {1, 4}}, []int{0, 1, 2, -1}},
		{[]Ratio{{1, 2}, {1, 2}}, []Ratio{{1, 3}, {1, 3}, {1, 3}}, []int{0, 1, -1}},
		{[]Ratio{{1, 5}, {1, 5}, {1, 5}, {1, 5}, {1, 5}}, []Ratio{{1, 4}, {1, 4}, {1, 4}, {1, 4}}, []int{0, 1, 3, 4}},
	}
	for _, c := range cases {
		prev, _ := SplitRational(c.prev)
		w := 0.0
		wi := 0.0
		w0 := 0.0
		for at := uint64(100); at < 160; at++ {
			next, err := Reshare(prev, at, c.next, c.from)
			if err != nil {
				t.Fatal(err)
			}
			in, st := worstDev(prev, next, c.from, at)
			w, wi = max(w, st), max(wi, in)
			plain, _ := SplitRational(c.next)
			_, st0 := worstDev(prev, plain, c.from, at)
			w0 = max(w0, st0)
		}
		fmt.Printf("%v -> %v: inside %.3f straddle %.3f (unrotated %.3f)\n", c.prev, c.next, wi, w, w0)
	}
}

func TestZZSpread(t *testing.T) {
	r := newStream(5, 0, 0)
	worst := 0.0
	var worstW []uint32
	hist := map[string]int{}
	for range 3000 {
		n := 2 + int(r.next()%6)
		w := make([]uint32, n)
		for k := range w {
			w[k] = 1 + uint32(r.next()%12)
		}
		sh, _ := Split(w)
		m := 0.0
		for _, s := range sh {
			p := deviation(s)
			m = max(m, slices.Max(p)-slices.Min(p))
		}
		switch {
		case m < 1:
			hist["<1"]++
		case m <= 1+1e-9:
			hist["=1"]++
		case m < 1.5:
			hist["<1.5"]++
		default:
			hist[">=1.5"]++
		}
		if m > worst {
			worst, worstW = m, w
		}
	}
	fmt.Println(hist, worst, worstW)
}
