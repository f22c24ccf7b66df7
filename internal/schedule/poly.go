package schedule

import (
	"math"
	"slices"
)

// Polynomials on the unit interval. A piece of the rate curve that is built
// from constants, ramps and spike ramps is a product of linear factors in
// the piece's local time s ∈ [0, 1], so its rate is a polynomial
// λ(s) = Σ c_k s^k and its cumulative count an exact polynomial of one
// degree more. Coefficients are in the monomial basis: degrees stay small
// (one per overlapping ramp), every factor is positive on [0, 1], and on the
// unit interval Horner's rule is then accurate to a few ulps.

// polyEval evaluates Σ c_k s^k by Horner's rule.
func polyEval(c []float64, s float64) float64 {
	v := 0.0
	for k := len(c) - 1; k >= 0; k-- {
		v = v*s + c[k]
	}
	return v
}

// polyMul multiplies two polynomials.
func polyMul(a, b []float64) []float64 {
	out := make([]float64, len(a)+len(b)-1)
	for i, x := range a {
		for j, y := range b {
			out[i+j] += x * y
		}
	}
	return out
}

// polyDeriv is the derivative.
func polyDeriv(c []float64) []float64 {
	if len(c) <= 1 {
		return []float64{0}
	}
	out := make([]float64, len(c)-1)
	for k := 1; k < len(c); k++ {
		out[k-1] = float64(k) * c[k]
	}
	return out
}

// polyTrim drops trailing zero coefficients (keeping at least one).
func polyTrim(c []float64) []float64 {
	for len(c) > 1 && c[len(c)-1] == 0 {
		c = c[:len(c)-1]
	}
	return c
}

// polyRoots01 returns the real roots of c in [0, 1], sorted. Roots are
// isolated exactly: between consecutive critical points (the roots of the
// derivative, found recursively) the polynomial is monotone, so it has at
// most one root there, which bisection finds to the last bit.
func polyRoots01(c []float64) []float64 {
	c = polyTrim(slices.Clone(c))
	switch len(c) {
	case 1:
		return nil // a constant: no isolated roots
	case 2:
		if s := -c[0] / c[1]; s >= 0 && s <= 1 {
			return []float64{s}
		}
		return nil
	}
	edges := append([]float64{0}, polyRoots01(polyDeriv(c))...)
	edges = append(edges, 1)
	var roots []float64
	for k := 0; k+1 < len(edges); k++ {
		a, b := edges[k], edges[k+1]
		fa, fb := polyEval(c, a), polyEval(c, b)
		switch {
		case fa == 0:
			if len(roots) == 0 || roots[len(roots)-1] != a {
				roots = append(roots, a)
			}
		case fb == 0:
			// Found as fa of the next interval (or below for the last).
		case (fa < 0) != (fb < 0):
			roots = append(roots, bisect(func(s float64) float64 { return polyEval(c, s) }, a, b, fa))
		}
	}
	if polyEval(c, 1) == 0 && (len(roots) == 0 || roots[len(roots)-1] != 1) {
		roots = append(roots, 1)
	}
	return roots
}

// bisect finds a sign change of f in [a, b] to full precision; fa = f(a).
func bisect(f func(float64) float64, a, b, fa float64) float64 {
	for range 200 {
		m := a + (b-a)/2
		if m <= a || m >= b {
			break
		}
		fm := f(m)
		if fm == 0 {
			return m
		}
		if (fm < 0) == (fa < 0) {
			a, fa = m, fm
		} else {
			b = m
		}
	}
	return a + (b-a)/2
}

// polyMax01 is the maximum of c over [0, 1]: the largest value at an end
// point or at a root of the derivative.
func polyMax01(c []float64) float64 {
	best := math.Max(polyEval(c, 0), polyEval(c, 1))
	for _, s := range polyRoots01(polyDeriv(c)) {
		best = math.Max(best, polyEval(c, s))
	}
	return best
}

// Chebyshev series on x ∈ [−1, 1]. The smooth parts of a curve (the diurnal
// bell, and the bell times spike ramps) are interpolated piece by piece at
// n+1 Chebyshev points; for an analytic function the coefficients decay
// geometrically, so a piece is accepted once the last coefficients are below
// chebTol of the function's scale (otherwise it is halved). The cumulative
// count of a piece is the exact integral of its interpolant (the
// Clenshaw–Curtis rule), whose error is bounded by the sum of the neglected
// coefficients: with the trailing ones below 1e-15 of the scale and decaying
// geometrically, about 1e-15 of the piece's count. (Samples are taken where
// they carry no avoidable rounding — see Curve.smoothPhase — or the noise
// floor of the samples, not truncation, would set the error.) Series are
// evaluated with Clenshaw's recurrence, which is backward stable.

const (
	chebN   = 16    // interpolation degree of a smooth piece
	chebTol = 1e-15 // accepted size of the last coefficients, relative
	invTol  = 1e-13 // the same for the inverse of a piece, in units of the piece (see fitInverse)
)

// chebNodes are the Chebyshev points of the second kind x_j = cos(πj/n)
// and chebCos[j][k] = cos(πjk/n), for the discrete cosine transform.
var chebNodes, chebCos = func() ([]float64, [][]float64) {
	x := make([]float64, chebN+1)
	cs := make([][]float64, chebN+1)
	for j := range x {
		x[j] = math.Cos(math.Pi * float64(j) / chebN)
		cs[j] = make([]float64, chebN+1)
		for k := range cs[j] {
			cs[j][k] = math.Cos(math.Pi * float64(j*k%(2*chebN)) / chebN)
		}
	}
	// Exact values at the symmetric points keep the fit unbiased.
	x[chebN/2] = 0
	return x, cs
}()

// chebFit returns the Chebyshev coefficients of the polynomial of degree
// chebN interpolating the samples f_j = f(chebNodes[j]) (a DCT-I).
func chebFit(f []float64) []float64 {
	c := make([]float64, chebN+1)
	for k := range c {
		sum := 0.0
		for j, v := range f {
			w := v
			if j == 0 || j == chebN {
				w /= 2
			}
			sum += w * chebCos[j][k]
		}
		c[k] = 2 * sum / chebN
	}
	c[0] /= 2
	c[chebN] /= 2
	return c
}

// chebEval evaluates Σ c_k T_k(x) by Clenshaw's recurrence.
func chebEval(c []float64, x float64) float64 {
	var b1, b2 float64
	x2 := 2 * x
	for k := len(c) - 1; k >= 1; k-- {
		b1, b2 = x2*b1-b2+c[k], b1
	}
	return x*b1 - b2 + c[0]
}

// chebIntegral returns the coefficients of the antiderivative of Σ c_k T_k
// that vanishes at x = −1, using ∫T_0 = T_1, ∫T_1 = T_2/4 and
// ∫T_k = T_{k+1}/(2(k+1)) − T_{k−1}/(2(k−1)).
func chebIntegral(c []float64) []float64 {
	a := make([]float64, len(c)+1)
	for k, v := range c {
		switch k {
		case 0:
			a[1] += v
		case 1:
			a[2] += v / 4
		default:
			a[k+1] += v / float64(2*(k+1))
			a[k-1] -= v / float64(2*(k-1))
		}
	}
	// T_k(−1) = (−1)^k.
	a0 := 0.0
	for k := len(a) - 1; k >= 1; k-- {
		if k%2 == 0 {
			a0 -= a[k]
		} else {
			a0 += a[k]
		}
	}
	a[0] = a0
	return a
}

// chebChop drops trailing coefficients that are negligible against scale.
func chebChop(c []float64, scale float64) []float64 {
	for len(c) > 1 && math.Abs(c[len(c)-1]) <= 1e-17*scale {
		c = c[:len(c)-1]
	}
	return c
}
