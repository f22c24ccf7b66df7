package capacity

import (
	"errors"
	"math"
	"testing"
)

// Under uniform popularity every key is alike, so Che's fixed point gives
// exactly the share of keys cached, C ÷ N, as does the top-C mass.
func TestCheHitRateUniform(t *testing.T) {
	for _, tc := range []struct{ n, c int }{{100, 1}, {100, 50}, {1000, 999}, {10, 3}} {
		p, err := ZipfPopularity(0, tc.n)
		if err != nil {
			t.Fatal(err)
		}
		want := float64(tc.c) / float64(tc.n)
		h, T, err := CheHitRate(p, tc.c)
		if err != nil || math.Abs(h-want) > 1e-9 || !(T > 0) {
			t.Errorf("CheHitRate(uniform %d, %d) = %v, T %v, %v; want %v", tc.n, tc.c, h, T, err, want)
		}
		if m := TopMass(p, tc.c); math.Abs(m-want) > 1e-9 {
			t.Errorf("TopMass(uniform %d, %d) = %v; want %v", tc.n, tc.c, m, want)
		}
	}
}

// Under Zipf popularity LRU keeps some unpopular keys: Che's rate is below
// the top-C mass, grows with the capacity and the skew, and is 1 when
// everything fits.
func TestCheHitRateZipf(t *testing.T) {
	prev := 0.0
	for _, c := range []int{10, 100, 1000, 10_000} {
		p, _ := ZipfPopularity(1.1, 100_000)
		h, T, err := CheHitRate(p, c)
		if err != nil {
			t.Fatal(err)
		}
		// T fills the cache exactly.
		var occ float64
		for _, pi := range p {
			occ += -math.Expm1(-pi * T)
		}
		if math.Abs(occ-float64(c)) > 1e-6*float64(c) {
			t.Errorf("capacity %d: occupancy at T = %v is %v", c, T, occ)
		}
		if top := TopMass(p, c); !(h < top) || !(h > prev) {
			t.Errorf("capacity %d: Che %v; want above the smaller cache's %v and below the top-C mass %v", c, h, prev, top)
		}
		prev = h
	}
	p, _ := ZipfPopularity(0.8, 1000)
	q, _ := ZipfPopularity(1.2, 1000)
	hp, _, _ := CheHitRate(p, 100)
	hq, _, _ := CheHitRate(q, 100)
	if !(hq > hp) {
		t.Errorf("Che at s = 1.2 (%v) not above s = 0.8 (%v)", hq, hp)
	}
	if h, T, err := CheHitRate(p, 1000); h != 1 || !math.IsInf(T, 1) || err != nil {
		t.Errorf("CheHitRate with every key fitting = %v, %v, %v; want 1, +Inf", h, T, err)
	}
}

func TestHitRateInvalid(t *testing.T) {
	for _, tc := range []struct {
		s float64
		n int
	}{{-1, 10}, {math.NaN(), 10}, {1, 0}, {1, MaxZipfKeys + 1}} {
		if _, err := ZipfPopularity(tc.s, tc.n); !errors.Is(err, ErrInvalid) {
			t.Errorf("ZipfPopularity(%v, %d) = %v; want ErrInvalid", tc.s, tc.n, err)
		}
	}
	if _, _, err := CheHitRate(nil, 1); !errors.Is(err, ErrInvalid) {
		t.Errorf("CheHitRate(no keys) = %v", err)
	}
	if _, _, err := CheHitRate([]float64{0.5, 0.5}, 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("CheHitRate(capacity 0) = %v", err)
	}
}
