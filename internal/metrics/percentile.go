package metrics

import (
	"math"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// ValueAtPercentile returns the value at percentile p (in percent, 0..100,
// as in HdrHistogram: 99.9 is p99.9) of h, by nearest rank, exactly as Java
// HdrHistogram's AbstractHistogram.getValueAtPercentile (2.1.10 and later:
// read in the HdrHistogram-2.1.11 tag) and hdr-histogram-js compute it. It is
// the only way Surge computes a percentile: every report, threshold, progress
// line and gauge goes through it (ARCHITECTURE.md, measurement rule 4).
//
// The rule, for a histogram holding N values:
//
//	p' = min(max(nextafter(p, −∞), 0), 100)  // one ulp below p, clamped
//	rank = max(⌈p'·N / 100⌉, 1)              // nearest rank, at least the first value
//
// and the result is the highest value equivalent to (in the same bucket as)
// the rank-th smallest recorded value: the first bucket at which the
// cumulative count reaches rank. For p == 0 it is the lowest equivalent
// value of the smallest recorded value instead. An empty histogram gives 0.
//
// Why one ulp below p: p·N/100 is computed in floating point, and a product
// that is mathematically an integer k can come out a hair above k (99.9 % of
// 41,000 is 40,959 exactly but 40959.00000000001 in float64), which ⌈⌉ would
// push one rank too high. Taking p one ulp lower first makes an exact k stay
// k, while a fractional rank (99.9 % of 1,600 = 1598.4) is still rounded up
// (rank 1599). The expression p'·N/100 (multiply, then divide) is Java's,
// kept as is so that every rounding step is the same.
//
// Why not h.ValueAtQuantile: hdrhistogram-go rounds the rank half up,
// ⌊p·N/100 + ½⌋, one rank lower than nearest rank whenever the fractional
// part of p·N/100 is below ½ (p99.9 of 1,600 values: rank 1598, not 1599),
// so its percentiles, and the thresholds judged on them, read low.
//
// Edge cases follow Java: p > 100 is 100; p < 0 is rank 1 but, unlike
// p == 0, the highest equivalent value; NaN is rank 1, highest equivalent
// value. One deliberate difference: where Java's floating-point rank would
// exceed N (only possible beyond 2^53 values) the rank is N, the maximum,
// where Java would return 0.
func ValueAtPercentile(h *hdrhistogram.Histogram, p float64) int64 {
	n := h.TotalCount()
	if n == 0 {
		return 0
	}
	r := nearestRank(p, n)
	if p == 0 {
		// Java returns the lowest equivalent value of the first non-empty
		// bucket for exactly 0, and so does hdrhistogram-go for 0.
		return h.ValueAtPercentile(0)
	}
	// Find the bucket of the r-th value with hdrhistogram-go's own walk over
	// its counts (it returns the highest equivalent value of the first
	// bucket whose cumulative count reaches its rank, as Java does), asking
	// it for a percentile that it maps back to exactly rank r:
	//
	//	p_r = 100·(r − ¼)/N  ⇒  p_r·N/100 = r − ¼ (± a few ulps of r).
	//
	// hdrhistogram-go's rank is ⌊p_r·N/100 + ½⌋ = ⌊r + ¼⌋ = r, clamped to
	// [1, N]; a rank rule rounding up instead, ⌈r − ¼⌉, gives r as well, so
	// the mapping does not depend on which of the two the library uses. The
	// float error, a few ulps of r, is far below ¼ for any r < 2^50.
	// p_r > 0, so the library returns the highest equivalent value.
	// TestValueAtPercentile checks the result against a walk of the buckets
	// and against sorted raw samples.
	return h.ValueAtPercentile(100 * (float64(r) - 0.25) / float64(n))
}

// nearestRank is Java HdrHistogram's countAtPercentile for percentile p of
// n > 0 values, clamped to n: see ValueAtPercentile.
func nearestRank(p float64, n int64) int64 {
	pp := math.Min(math.Max(math.Nextafter(p, math.Inf(-1)), 0), 100)
	fp := math.Ceil(pp * float64(n) / 100)
	switch {
	case !(fp >= 1): // NaN (Java's (long)NaN is 0) or 0: at least the first value
		return 1
	case fp >= float64(n):
		return n
	}
	return int64(fp)
}
