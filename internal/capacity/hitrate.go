package capacity

import (
	"fmt"
	"math"
	"slices"
)

// MaxZipfKeys bounds the key count of ZipfPopularity.
const MaxZipfKeys = 10_000_000

// ZipfPopularity returns the request probabilities of n keys whose
// popularity follows Zipf(s): p_i = i^(−s) ÷ Σ_j j^(−s), i = 1..n, most
// popular first, as the load's {{zipf s n}} draws them. s ≥ 0 (0 is
// uniform); n from 1 to MaxZipfKeys.
func ZipfPopularity(s float64, n int) ([]float64, error) {
	if math.IsNaN(s) || math.IsInf(s, 0) || s < 0 || n < 1 || n > MaxZipfKeys {
		return nil, fmt.Errorf("%w: zipf(%v, %d): want s ≥ 0 and 1 to %d keys", ErrInvalid, s, n, MaxZipfKeys)
	}
	p := make([]float64, n)
	var sum float64
	for i := range p {
		p[i] = math.Pow(float64(i+1), -s)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p, nil
}

// CheHitRate is Che's approximation of the hit rate of an LRU cache of c
// entries under independent requests for keys of popularities p (the
// independent reference model; p sums to 1). A key is in the cache when it
// was asked for within the last T requests, the cache's characteristic
// time, which fills it exactly:
//
//	Σ_i (1 − e^(−p_i·T)) = c
//
// and a request hits with probability
//
//	h = Σ_i p_i · (1 − e^(−p_i·T)).
//
// It is accurate to a point or two for Zipf popularities once the cache
// is warm (Fricker, Robert and Roberts, 2012). It ignores expiry: it holds
// for a TTL much longer than T requests' time (T ÷ the request rate), as
// the bundled caches' 10-minute TTL is at hundreds of reads a second; a
// shorter TTL lowers the hit rate. It also returns T, in requests. A cache
// that holds every key (c ≥ len(p)) hits every request once warm: 1 and
// T = +Inf.
func CheHitRate(p []float64, c int) (hit, t float64, err error) {
	if len(p) == 0 || c < 1 {
		return 0, 0, fmt.Errorf("%w: che: want keys and a capacity ≥ 1 (got %d keys, capacity %d)", ErrInvalid, len(p), c)
	}
	if c >= len(p) {
		return 1, math.Inf(1), nil
	}
	occupancy := func(t float64) float64 {
		var s float64
		for _, pi := range p {
			s += -math.Expm1(-pi * t)
		}
		return s
	}
	lo, hi := 0.0, float64(c)
	for occupancy(hi) < float64(c) {
		hi *= 2
		if math.IsInf(hi, 0) {
			return 0, 0, fmt.Errorf("%w: che: no characteristic time fills %d entries (popularities summing to less than 1?)", ErrInvalid, c)
		}
	}
	for range 200 {
		mid := (lo + hi) / 2
		if occupancy(mid) < float64(c) {
			lo = mid
		} else {
			hi = mid
		}
	}
	t = (lo + hi) / 2
	for _, pi := range p {
		hit += pi * -math.Expm1(-pi*t)
	}
	return hit, t, nil
}

// TopMass is the probability mass of the c most popular keys: the hit
// rate of a cache that always holds exactly them (an LFU cache with a
// long TTL under a steady popularity), an upper bound on any cache of c
// entries under independent requests.
func TopMass(p []float64, c int) float64 {
	if c >= len(p) {
		c = len(p)
	}
	q := slices.Clone(p)
	slices.SortFunc(q, func(a, b float64) int {
		switch {
		case a > b:
			return -1
		case a < b:
			return 1
		}
		return 0
	})
	var s float64
	for _, v := range q[:max(c, 0)] {
		s += v
	}
	return s
}
