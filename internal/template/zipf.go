package template

import "math"

// Zipf sampling by rejection-inversion.
//
// The target is the truncated Zipf law on ranks 1…N with exponent s > 0:
//
//	P(k) = k⁻ˢ / H(N, s),   H(N, s) = Σ_{j=1..N} j⁻ˢ
//
// Rank 1 is the most popular key. s may be below 1 (web caches are often
// described with s ≈ 0.6–0.99), where the law has no infinite-N limit, so the
// method cannot lean on the ζ function the way math/rand's Zipf does (it
// requires s > 1). An alias table would be exact for any s but costs O(N)
// memory, which is out of the question for key spaces of 10⁹.
//
// Rejection-inversion (W. Hörmann and G. Derflinger, "Rejection-inversion to
// generate variates from monotone discrete distributions", ACM TOMACS 6(3),
// 1996) is exact and O(1) per draw with O(1) set-up. Take the continuous hat
// h(x) = x⁻ˢ and its integral from 1,
//
//	H(x) = ∫₁ˣ t⁻ˢ dt = (x^(1−s) − 1)/(1−s)   (= ln x when s = 1),
//
// with inverse H⁻¹(u) = (1 + (1−s)·u)^(1/(1−s)) (= eᵘ when s = 1). Because h
// is convex, the interval [H(k+½) − h(k), H(k+½)] has length h(k) = k⁻ˢ and
// lies inside [H(k−½), H(k+½)]: draw u uniformly on (H(3/2) − 1, H(N+½)],
// set x = H⁻¹(u) and k = round(x); accept k when u ≥ H(k+½) − h(k). Accepted
// u are uniform on the disjoint union of those intervals, so P(k) ∝ k⁻ˢ
// exactly. A cheap squeeze, k − x ≤ 2 − H⁻¹(H(5/2) − h(2)), accepts most draws
// without evaluating H. The acceptance rate is high for every s (the hat
// wastes at most the part of each [H(k−½), H(k+½)] that is not k⁻ˢ), so the
// expected number of uniforms per draw is a small constant.
//
// H and H⁻¹ are evaluated through expm1(y)/y and log1p(y)/y with y = (1−s)·ln x
// and y = (1−s)·u, whose series are used near y = 0; this keeps full precision
// around s = 1 (both sides of it) instead of dividing two vanishing
// differences. This is the formulation used by Apache Commons RNG's
// RejectionInversionZipfSampler.

// Parameter bounds for {{zipf S N}}. The upper bound on N keeps every rank
// exactly representable as a float64 (the method computes in floating point);
// the bound on S keeps x^(−s) and its integral away from underflow, beyond
// which the law is in any case rank 1 with probability 1 − 2⁻⁶⁴.
const (
	zipfMaxN = 1 << 53
	zipfMaxS = 64
)

// zipfSampler holds the set-up of one {{zipf S N}} action. It is immutable.
type zipfSampler struct {
	s      float64 // exponent
	n      float64 // number of ranks N, as a float
	nInt   uint64  // N
	hX1    float64 // H(3/2) − h(1): the low end of the u interval
	hN     float64 // H(N + 1/2): the high end
	squeez float64 // 2 − H⁻¹(H(5/2) − h(2)): k − x at most this is always accepted
}

func newZipf(s float64, n uint64) zipfSampler {
	z := zipfSampler{s: s, n: float64(n), nInt: n}
	z.hX1 = z.hIntegral(1.5) - 1
	z.hN = z.hIntegral(z.n + 0.5)
	z.squeez = 2 - z.hIntegralInverse(z.hIntegral(2.5)-z.h(2))
	return z
}

// zipfMaxTries bounds the rejection loop. The acceptance probability of
// every round is above 1/2 for every valid (s, N) (measured: about 0.99), so
// 64 straight rejections have probability below 2⁻⁶⁴; the bound exists only
// so that an unforeseen floating-point corner (a NaN) cannot hang a render.
const zipfMaxTries = 64

// draw returns a rank in [1, N].
func (z *zipfSampler) draw(r *stream) uint64 {
	kf := 1.0
	for range zipfMaxTries {
		// u is uniform on (hX1, hN]: float64() is in [0, 1).
		u := z.hN + r.float64()*(z.hX1-z.hN)
		x := z.hIntegralInverse(u)
		// Round to the nearest rank, clamped: rounding errors of H⁻¹ near the
		// ends must not produce rank 0 or N+1.
		kf = math.Floor(x + 0.5)
		if !(kf >= 1) { // also catches NaN
			kf = 1
		} else if kf > z.n {
			kf = z.n
		}
		if kf-x <= z.squeez || u >= z.hIntegral(kf+0.5)-z.h(kf) {
			return uint64(kf)
		}
	}
	return uint64(kf)
}

// h(x) = x^(−s).
func (z *zipfSampler) h(x float64) float64 {
	return math.Exp(-z.s * math.Log(x))
}

// hIntegral(x) = H(x) = (x^(1−s) − 1)/(1−s) = expm1((1−s)·ln x)/((1−s)·ln x) · ln x.
func (z *zipfSampler) hIntegral(x float64) float64 {
	logX := math.Log(x)
	return expm1OverX((1-z.s)*logX) * logX
}

// hIntegralInverse(u) = H⁻¹(u) = exp(log1p((1−s)·u)/((1−s)·u) · u).
func (z *zipfSampler) hIntegralInverse(u float64) float64 {
	t := u * (1 - z.s)
	if t < -1 {
		// (1−s)·u ≥ −1 holds mathematically on the u interval (it is 1 +
		// (1−s)u = x^(1−s) > 0); rounding can push it just below.
		t = -1
	}
	return math.Exp(log1pOverX(t) * u)
}

// log1pOverX returns log1p(x)/x, continuous at 0 (value 1).
func log1pOverX(x float64) float64 {
	if math.Abs(x) > 1e-8 {
		return math.Log1p(x) / x
	}
	return 1 - x*(1.0/2-x*(1.0/3-x*(1.0/4)))
}

// expm1OverX returns expm1(x)/x, continuous at 0 (value 1).
func expm1OverX(x float64) float64 {
	if math.Abs(x) > 1e-8 {
		return math.Expm1(x) / x
	}
	return 1 + x*(1.0/2)*(1+x*(1.0/3)*(1+x*(1.0/4)))
}
