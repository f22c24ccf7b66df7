package schedule

import (
	"errors"
	"math"
	"slices"
	"time"
)

// Curve is a validated, built rate curve λ(t) over played time
// [0, Duration). It is immutable and safe for concurrent use.
//
// A curve is stored as a table of pieces that partition [0, Duration) at
// every corner of the base curve (steps, hours, the ends of a ramp, the
// diurnal peaks and troughs, all mapped through the compression) and of the
// spikes (the starts and ends of ramp up, hold and ramp down). Inside a
// piece the rate is one of:
//
//   - a constant, with Λ linear and inverted in closed form;
//   - a polynomial (a ramp, a spike ramp, or products of them where they
//     overlap), with Λ its exact integral and inverted in closed form when
//     λ is linear (Λ quadratic) and by safeguarded Newton otherwise;
//   - a smooth function (the diurnal bell, times any spike ramps), replaced
//     by its degree-16 Chebyshev interpolant on a piece that is halved until
//     the interpolant's trailing coefficients are below 1e-15 of its scale.
//     Λ is the exact integral of the interpolant (Clenshaw–Curtis
//     quadrature), so its error is of the order of 1e-15 of the piece's
//     count: a 100M/day curve integrates a day to within a few ulps of 1e8
//     (< 1e-7 arrivals), checked in the tests against a Bessel-series
//     closed form and an independent Gauss–Legendre quadrature. Each smooth
//     piece also carries a Chebyshev interpolant of its inverse, accurate
//     to 0.01 ns, so inverting it is a single series evaluation.
//
// The cumulative count at each piece start is summed with Neumaier's
// compensated summation, so it carries no error growth over many pieces.
type Curve struct {
	spec    Spec
	k       float64       // compression factor
	dur     time.Duration // played duration
	durF    float64       // dur in ns
	starts  []float64     // piece starts in played ns; starts[n] = durF
	cums    []float64     // Λ at piece starts; cums[n] = total
	pieces  []piece
	total   float64
	peak    float64
	diurnal *diurnalShape // the smooth base, if any
}

type pieceKind uint8

const (
	pieceConst pieceKind = iota
	piecePoly
	pieceCheb
)

// piece is one part of the curve; s ∈ [0, 1] is its local time.
type piece struct {
	kind   pieceKind
	t0, w  float64   // start and width in played ns
	sec    float64   // width in seconds (smooth: the width integrated over, see smooth)
	rate   float64   // const: the rate
	nsPer  float64   // const: 1e9/rate (0 when the rate is 0)
	lam    []float64 // poly: λ(s) monomial; cheb: λ interpolant in x = 2s−1
	cum    []float64 // poly: Λ_local(s) monomial; cheb: Λ_local in x (arrivals)
	r0, r1 float64   // λ at s = 0 and s = 1
	mult   []float64 // cheb: the spike multiplier as a polynomial in s
	inv    []float64 // cheb: s as a Chebyshev series in u = 2·Λ_local/m − 1
	m      float64   // cheb: Λ over the piece
	x0     float64   // cheb: bell coordinate at s = 0 (see smoothPhase)
	xspan  float64   // cheb: bell coordinate span over the piece
}

// baseSeg is a part of the base curve in base ns, either linear (v0 at a to
// v1 at b) or the smooth diurnal shape.
type baseSeg struct {
	a, b   float64
	smooth bool
	v0, v1 float64
}

// factor is a spike multiplier that is linear over an interval:
// m(t) = m0 + slope·(t − at), t in played ns.
type factor struct{ m0, slope, at float64 }

func (f factor) at0(t float64) float64 { return f.m0 + f.slope*(t-f.at) }

// NewCurve validates spec and builds its curve. Every problem is reported
// at once (errors.Join), each wrapping ErrInvalid.
func NewCurve(spec Spec) (*Curve, error) {
	spec = spec.clone()
	errs, played := spec.validate()
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c := &Curve{spec: spec, k: spec.compress(), dur: played, durF: float64(played)}
	if d := spec.Diurnal; d != nil && len(d.HourlyWeights) == 0 {
		sh, err := newDiurnalShape(d)
		if err != nil {
			return nil, err
		}
		c.diurnal = sh
	}
	c.build(c.baseSegs())
	if c.peak > MaxRate {
		errs = append(errs, invalid("peak rate %.6g/s (spikes included) is above %d/s", c.peak, MaxRate))
	}
	if !(c.total > 0) {
		errs = append(errs, invalid("the curve asks for no load (total %v arrivals)", c.total))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// baseSegs lists the base curve's parts in base ns.
func (c *Curve) baseSegs() []baseSeg {
	s := c.spec
	switch {
	case s.Constant != nil:
		return []baseSeg{{a: 0, b: float64(s.Constant.Duration), v0: s.Constant.Rate, v1: s.Constant.Rate}}
	case s.Ramp != nil:
		return []baseSeg{{a: 0, b: float64(s.Ramp.Duration), v0: s.Ramp.From, v1: s.Ramp.To}}
	case len(s.Steps) > 0:
		segs := make([]baseSeg, 0, len(s.Steps))
		var at time.Duration
		for _, st := range s.Steps {
			segs = append(segs, baseSeg{a: float64(at), b: float64(at + st.Duration), v0: st.Rate, v1: st.Rate})
			at += st.Duration
		}
		return segs
	}
	d := s.Diurnal
	end := c.spec.baseDuration()
	var edges []time.Duration
	for h := time.Duration(0); h < end; h += time.Hour {
		edges = append(edges, h)
	}
	if c.diurnal != nil {
		// The peak and the trough are corners of the pieces, so the exact
		// peak value is a piece end and each piece is monotone or nearly.
		p := time.Duration(math.Round(c.diurnal.peakSec * 1e9))
		for off := p % (day / 2); off < end; off += day / 2 {
			edges = append(edges, off)
		}
	}
	edges = append(edges, end)
	slices.Sort(edges)
	edges = slices.Compact(edges)
	var sum float64
	for _, w := range d.HourlyWeights {
		sum += w
	}
	segs := make([]baseSeg, 0, len(edges))
	for k := 0; k+1 < len(edges); k++ {
		seg := baseSeg{a: float64(edges[k]), b: float64(edges[k+1]), smooth: c.diurnal != nil}
		if !seg.smooth {
			h := int(edges[k]%day) / int(time.Hour)
			seg.v0 = d.DailyRequests * d.HourlyWeights[h] / sum / 3600
			seg.v1 = seg.v0
		}
		segs = append(segs, seg)
	}
	return segs
}

// spikeEdges returns a spike's start, end of ramp up, end of hold and end
// of ramp down in played ns.
func (c *Curve) spikeEdges(sp Spike) [4]float64 {
	start := sp.At
	if start == 0 && sp.AtFraction > 0 {
		start = time.Duration(math.Round(sp.AtFraction * c.durF))
	}
	s0 := float64(start)
	s1 := s0 + float64(sp.Ramp)
	s2 := s1 + float64(sp.Hold)
	return [4]float64{s0, s1, s2, s2 + float64(sp.rampDown())}
}

// build cuts [0, dur) at every corner and builds the pieces.
func (c *Curve) build(segs []baseSeg) {
	// Played edges of the base segments; the last one is exactly dur.
	pa := make([]float64, len(segs)+1)
	for k, sg := range segs {
		pa[k] = sg.a / c.k
	}
	pa[len(segs)] = c.durF
	edges := slices.Clone(pa)
	spikes := make([][4]float64, len(c.spec.Spikes))
	for k, sp := range c.spec.Spikes {
		spikes[k] = c.spikeEdges(sp)
		edges = append(edges, spikes[k][:]...)
	}
	edges = slices.DeleteFunc(edges, func(e float64) bool { return !(e >= 0 && e <= c.durF) })
	slices.Sort(edges)
	edges = slices.Compact(edges)

	var sum, comp float64 // Neumaier summation of the piece counts
	seg := 0
	for k := 0; k+1 < len(edges); k++ {
		a, b := edges[k], edges[k+1]
		mid := a + (b-a)/2
		for seg+1 < len(segs) && pa[seg+1] <= mid {
			seg++
		}
		var fs []factor
		for j, sp := range c.spec.Spikes {
			e := spikes[j]
			m := sp.Multiplier
			switch {
			case mid < e[0] || mid >= e[3]:
			case mid < e[1]:
				fs = append(fs, factor{m0: 1, slope: (m - 1) / (e[1] - e[0]), at: e[0]})
			case mid < e[2]:
				fs = append(fs, factor{m0: m})
			default:
				fs = append(fs, factor{m0: m, slope: -(m - 1) / (e[3] - e[2]), at: e[2]})
			}
		}
		sg := segs[seg]
		if sg.smooth {
			c.smooth(a, b, fs, 0, math.Inf(1))
		} else {
			lin := func(t float64) float64 {
				if sg.v0 == sg.v1 {
					return sg.v0
				}
				return sg.v0 + (sg.v1-sg.v0)*(t-pa[seg])/(pa[seg+1]-pa[seg])
			}
			va, vb := lin(a), lin(b)
			c.poly(a, b, polyMul([]float64{va, vb - va}, multPoly(fs, a, b)))
		}
	}
	c.starts = make([]float64, len(c.pieces)+1)
	c.cums = make([]float64, len(c.pieces)+1)
	for k := range c.pieces {
		p := &c.pieces[k]
		c.starts[k] = p.t0
		c.cums[k] = sum + comp
		m := float64(p.mass()) // rounded before the sum: no fused multiply-add on any platform
		t := sum + m
		if math.Abs(sum) >= math.Abs(m) {
			comp += (sum - t) + m
		} else {
			comp += (m - t) + sum
		}
		sum = t
		c.peak = math.Max(c.peak, c.pieceMax(p))
	}
	c.starts[len(c.pieces)] = c.durF
	c.total = sum + comp
	c.cums[len(c.pieces)] = c.total
}

// multPoly is the product of the spike factors on [a, b] as a polynomial
// in the local time s of [a, b].
func multPoly(fs []factor, a, b float64) []float64 {
	m := []float64{1}
	for _, f := range fs {
		ma, mb := f.at0(a), f.at0(b)
		if f.slope == 0 {
			mb = ma
		}
		m = polyMul(m, []float64{ma, mb - ma})
	}
	return polyTrim(m)
}

// poly appends a piece whose rate is the polynomial lam in local time.
func (c *Curve) poly(a, b float64, lam []float64) {
	lam = polyTrim(lam)
	for k, v := range lam {
		if v == 0 {
			lam[k] = 0 // no negative zeros
		}
	}
	p := piece{t0: a, w: b - a, sec: (b - a) / 1e9}
	if len(lam) == 1 {
		p.kind, p.rate, p.r0, p.r1 = pieceConst, math.Max(lam[0], 0), lam[0], lam[0]
		if p.rate > 0 {
			p.nsPer = 1e9 / p.rate
		}
		c.pieces = append(c.pieces, p)
		return
	}
	p.kind, p.lam = piecePoly, lam
	p.cum = make([]float64, len(lam)+1)
	for k, v := range lam {
		p.cum[k+1] = p.sec * v / float64(k+1)
	}
	p.r0, p.r1 = polyEval(lam, 0), polyEval(lam, 1)
	c.pieces = append(c.pieces, p)
}

// smoothPhase returns the coordinates of the ends of a smooth interval
// [a, b): their signed distance, in base seconds, to the diurnal peak
// nearest to the interval's middle.
//
// Both choices matter on a steep bell. Measuring from the nearest peak keeps
// the coordinate small where the bell is large, so samples carry no rounding
// from the absolute time or from the phase wrapping (near φ = π, sin loses
// ~1e-14 relative to the rounding of its argument; near 0 it loses nothing).
// And computing the coordinates of the edges, which adjacent pieces share,
// makes the pieces tile the phase axis exactly, so a whole day integrates to
// exactly the solved daily mean (independently rounded piece starts would
// leave gaps and overlaps of ~1e-12 s, worth ~1e-7 arrivals each at a sharp
// peak). Where the reference peak changes, at a trough, the two coordinates
// differ by exactly one period up to rounding, and the bell is flat there.
func (c *Curve) smoothPhase(a, b float64) (xa, xb float64) {
	d := c.diurnal
	mid := a + (b-a)/2
	n := math.Round((c.k*mid/1e9 - d.peakSec) / 86400)
	tp := (d.peakSec + n*86400) * 1e9 / c.k // the peak in played ns
	return c.k * (a - tp) / 1e9, c.k * (b - tp) / 1e9
}

// smoothAt is the exact rate in a smooth piece at local time s.
func (c *Curve) smoothAt(p *piece, s float64) float64 {
	return c.diurnal.rateAt(p.x0+p.xspan*s) * polyEval(p.mult, s)
}

// smooth appends Chebyshev pieces for [a, b), halving until the
// interpolant has converged (see Curve). A piece is also accepted when its
// trailing coefficients have stopped shrinking at a level below 1e-10 of
// its scale: they are then rounding noise of the samples, not truncation,
// and halving further cannot help.
func (c *Curve) smooth(a, b float64, fs []factor, depth int, parentTail float64) {
	xa, xb := c.smoothPhase(a, b)
	// sec is the width integrated over: the phase span in base seconds
	// divided by k (equal to (b−a)/1e9 up to rounding).
	p := piece{kind: pieceCheb, t0: a, w: b - a, sec: (xb - xa) / c.k, x0: xa, xspan: xb - xa, mult: multPoly(fs, a, b)}
	var samples [chebN + 1]float64
	scale := 0.0
	for j, x := range chebNodes {
		samples[j] = c.smoothAt(&p, (1+x)/2)
		scale = math.Max(scale, math.Abs(samples[j]))
	}
	coef := chebFit(samples[:])
	tail := chebTail(coef) / scale
	converged := tail <= chebTol || (tail <= 1e-10 && tail > parentTail/4)
	splittable := depth < 60 && b-a > 1e3
	if !converged && splittable {
		c.halve(a, b, fs, depth, tail)
		return
	}
	p.lam = chebChop(coef, scale)
	p.cum = chebIntegral(p.lam)
	for k := range p.cum {
		p.cum[k] *= p.sec / 2
	}
	p.m = chebEval(p.cum, 1)
	p.r0, p.r1 = samples[chebN], samples[0] // x_n = −1, x_0 = +1
	if !p.fitInverse() && splittable {
		c.halve(a, b, fs, depth, tail)
		return
	}
	c.pieces = append(c.pieces, p)
}

// halve builds [a, b) as two smooth halves.
func (c *Curve) halve(a, b float64, fs []factor, depth int, tail float64) {
	mid := a + (b-a)/2
	c.smooth(a, mid, fs, depth+1, tail)
	c.smooth(mid, b, fs, depth+1, tail)
}

// chebTail is the size of the last three coefficients (three, because a
// function symmetric about the piece's middle has every other coefficient
// zero).
func chebTail(c []float64) float64 {
	n := len(c) - 1
	return math.Max(math.Abs(c[n]), math.Max(math.Abs(c[n-1]), math.Abs(c[n-2])))
}

// fitInverse interpolates the piece's inverse — local time s as a function
// of the count u from the piece start — at Chebyshev points in u, each
// found by Newton's method, and reports whether the interpolant has
// converged: its trailing coefficients below 1e-13 and below 0.01 ns in
// time. Inverting a smooth piece is then one series evaluation with an
// error below 0.01 ns. Where the rate varies much across a piece the
// inverse converges slowly (it has a square-root-like singularity just
// outside the piece), and the caller halves the piece.
func (p *piece) fitInverse() bool {
	if !(p.m > 0) {
		return false
	}
	var s [chebN + 1]float64
	for j, x := range chebNodes {
		s[j] = p.newton(p.m*(1+x)/2, (1+x)/2)
	}
	coef := chebFit(s[:])
	if chebTail(coef) > min(invTol, 0.01/p.w) {
		return false
	}
	p.inv = chebChop(coef, 1)
	return true
}

// mass is Λ over the whole piece.
func (p *piece) mass() float64 {
	switch p.kind {
	case pieceConst:
		return p.rate * p.sec
	case piecePoly:
		return polyEval(p.cum, 1)
	default:
		return p.m
	}
}

// local is Λ from the piece start to local time s.
func (p *piece) local(s float64) float64 {
	switch p.kind {
	case pieceConst:
		return p.rate * p.sec * s
	case piecePoly:
		return polyEval(p.cum, s)
	default:
		return chebEval(p.cum, 2*s-1)
	}
}

// pieceMax is the largest rate in a piece: exact for constants and
// polynomials (critical points); for smooth pieces the best Chebyshev
// node, refined by golden-section search on the exact rate. The diurnal
// peak is a piece corner, so for a bell without spike ramps over it the
// maximum is found exactly.
func (c *Curve) pieceMax(p *piece) float64 {
	switch p.kind {
	case pieceConst:
		return p.rate
	case piecePoly:
		return polyMax01(p.lam)
	}
	f := func(s float64) float64 { return c.smoothAt(p, s) }
	best, bestS := math.Inf(-1), 0.0
	const n = 64
	for j := 0; j <= n; j++ {
		s := float64(j) / n
		if v := f(s); v > best {
			best, bestS = v, s
		}
	}
	lo, hi := math.Max(0, bestS-1.0/n), math.Min(1, bestS+1.0/n)
	const g = 0.6180339887498949
	x1, x2 := hi-g*(hi-lo), lo+g*(hi-lo)
	f1, f2 := f(x1), f(x2)
	for range 100 {
		if f1 < f2 {
			lo, x1, f1 = x1, x2, f2
			x2 = lo + g*(hi-lo)
			f2 = f(x2)
		} else {
			hi, x2, f2 = x2, x1, f1
			x1 = hi - g*(hi-lo)
			f1 = f(x1)
		}
	}
	return math.Max(best, math.Max(f1, f2))
}

// find returns the index of the piece holding played ns t, 0 <= t < dur.
func (c *Curve) find(t float64) int {
	lo, hi := 0, len(c.pieces)-1
	for lo < hi {
		m := int(uint(lo+hi+1) >> 1)
		if c.starts[m] <= t {
			lo = m
		} else {
			hi = m - 1
		}
	}
	return lo
}

// Duration is the played duration.
func (c *Curve) Duration() time.Duration { return c.dur }

// Rate is λ at played time t, in requests per second (0 outside
// [0, Duration)). Smooth parts are evaluated from their formula, not from
// their interpolants.
func (c *Curve) Rate(t time.Duration) float64 {
	if t < 0 || t >= c.dur {
		return 0
	}
	tf := float64(t)
	p := &c.pieces[c.find(tf)]
	s := (tf - p.t0) / p.w
	switch p.kind {
	case pieceConst:
		return p.rate
	case piecePoly:
		return math.Max(0, polyEval(p.lam, s))
	default:
		return c.smoothAt(p, s)
	}
}

// Cumulative is Λ(t) = ∫₀ᵗ λ, the expected number of arrivals before played
// time t: exact (to rounding) for constant and polynomial parts, and within
// ~1e-15 relative for smooth parts — under 1e-6 arrivals for a 100M/day
// curve (see Curve).
func (c *Curve) Cumulative(t time.Duration) float64 {
	return c.cumulative(float64(t))
}

func (c *Curve) cumulative(t float64) float64 {
	if t <= 0 {
		return 0
	}
	if t >= c.durF {
		return c.total
	}
	k := c.find(t)
	p := &c.pieces[k]
	return c.cums[k] + p.local((t-p.t0)/p.w)
}

// Total is Λ(Duration), the expected number of arrivals.
func (c *Curve) Total() float64 { return c.total }

// Peak is the largest rate of the curve, spikes included.
func (c *Curve) Peak() float64 { return c.peak }

// Average is Total divided by the played duration in seconds.
func (c *Curve) Average() float64 { return c.total / c.dur.Seconds() }

// Spec returns a copy of the spec the curve was built from.
func (c *Curve) Spec() Spec { return c.spec.clone() }

// Inverse is the played instant at which Λ first exceeds y, truncated to
// the nanosecond: the generalized inverse Λ⁻¹(y) = sup{t : Λ(t) <= y},
// which skips stretches of zero rate. It is Duration for y >= Total.
func (c *Curve) Inverse(y float64) time.Duration {
	return time.Duration(c.inverse(y))
}

// MeanRates divides the curve into n equal buckets and returns the mean
// rate in each, (Λ(end) − Λ(start))/width: a chart of the curve that keeps
// short spikes visible, unlike point samples.
func (c *Curve) MeanRates(n int) []float64 {
	if n <= 0 {
		return nil
	}
	out := make([]float64, n)
	width := c.durF / float64(n)
	prev := 0.0
	for k := range out {
		next := c.cumulative(width * float64(k+1))
		out[k] = (next - prev) / (width / 1e9)
		prev = next
	}
	return out
}

// inverse returns Λ⁻¹(y) in played ns (not truncated), Duration for
// y >= Total. It finds the piece with cums[k] <= y < cums[k+1] (pieces of
// zero count are skipped by the strict comparison) and solves inside it.
func (c *Curve) inverse(y float64) float64 {
	if !(y < c.total) {
		return c.durF
	}
	if y <= 0 {
		y = 0
	}
	lo, hi := 0, len(c.pieces)-1
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if c.cums[m+1] > y {
			hi = m
		} else {
			lo = m + 1
		}
	}
	p := &c.pieces[lo]
	d := float64(y - c.cums[lo])
	var t float64
	if p.kind == pieceConst {
		// Explicit conversions stop the compiler from fusing the
		// multiply-add, so every platform computes the same instant.
		t = p.t0 + float64(d*p.nsPer)
	} else {
		t = p.t0 + float64(p.w*p.solve(d))
	}
	return math.Min(t, c.durF)
}

// solve returns the local time s ∈ [0, 1] with Λ_local(s) = d.
func (p *piece) solve(d float64) float64 {
	if p.kind == pieceCheb && p.inv != nil {
		return min(max(chebEval(p.inv, 2*d/p.m-1), 0), 1)
	}
	// Λ with λ linear from r0 to r1 is A·s + C·s²; its root in the stable
	// form s = 2d / (A + √(A² + 4Cd)) is exact for linear pieces and the
	// starting point of Newton's method otherwise.
	a, cq := p.sec*p.r0, p.sec*(p.r1-p.r0)/2
	if p.kind == piecePoly && len(p.lam) == 2 {
		a, cq = p.cum[1], p.cum[2]
	}
	s := 0.0
	if den := a + math.Sqrt(math.Max(0, a*a+4*cq*d)); den > 0 {
		s = min(max(2*d/den, 0), 1)
	}
	if p.kind == piecePoly && len(p.lam) == 2 {
		return s
	}
	return p.newton(d, s)
}

// newton solves Λ_local(s) = d from the guess s by safeguarded Newton: it
// keeps a bracket [lo, hi] of the root and bisects whenever a step would
// leave it, so it cannot fail (Λ_local is increasing). It stops once a
// Newton step is below 1e-10: convergence is then quadratic, so the
// returned iterate is exact to rounding (its error is ~(λ'/λ)·1e-20).
func (p *piece) newton(d, s float64) float64 {
	if d <= 0 {
		return 0
	}
	if d >= p.mass() {
		return 1
	}
	lo, hi := 0.0, 1.0
	for range 200 {
		var f, df float64
		if p.kind == piecePoly {
			f, df = polyEval(p.cum, s)-d, p.sec*polyEval(p.lam, s)
		} else {
			x := 2*s - 1
			f, df = chebEval(p.cum, x)-d, p.sec*chebEval(p.lam, x)
		}
		if f == 0 {
			return s
		}
		if f < 0 {
			lo = s
		} else {
			hi = s
		}
		next := s - f/df
		if next >= lo && next <= hi { // false for df = 0 (NaN)
			if math.Abs(next-s) <= 1e-10 {
				return next
			}
		} else {
			next = lo + (hi-lo)/2
		}
		if hi-lo <= 2.3e-16 {
			return next
		}
		s = next
	}
	return s
}
