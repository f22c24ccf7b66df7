package schedule

import (
	"fmt"
	"math"
)

// The smooth diurnal shape (see Diurnal):
//
//	g(θ) = (e^{κ·cos θ} − e^{−κ}) / (e^{κ} − e^{−κ}),  θ = 2π(h − PeakHour)/24.
//
// It is evaluated from half-angle forms, which keep full relative precision
// near the peak and the trough: with φ = θ/2, 1 + cos θ = 2cos²φ and
// 1 − cos θ = 2sin²φ, and
//
//	g = e^{−2κ·sin²φ} · expm1(−2κ·cos²φ) / expm1(−2κ)     for κ > 0,
//	g = expm1(2κ·cos²φ) / expm1(2κ)                       for κ < 0.
//
// Every exponent is then <= 0 (nothing overflows) and small wherever g is
// not negligible. This matters: exp amplifies the rounding of its argument
// by the argument's size, so the textbook form e^{κ(cos θ − 1)} loses
// about log₁₀(2κ) digits at the peak — enough, for sharp peaks, to spoil
// both the solved daily mean and the piece interpolation.

// maxKappa bounds the sharpness of the smooth diurnal peak: κ = 1e6 is a
// peak about 15 s wide in a 24 h day, far beyond any real traffic shape.
const maxKappa = 1e6

// bellShape is g for given cos²φ and sin²φ (φ = θ/2).
func bellShape(kappa, cos2, sin2 float64) float64 {
	switch {
	case kappa > 0:
		return math.Exp(-2*kappa*sin2) * math.Expm1(-2*kappa*cos2) / math.Expm1(-2*kappa)
	case kappa < 0:
		return math.Expm1(2*kappa*cos2) / math.Expm1(2*kappa)
	default:
		return cos2
	}
}

// bellMean is the mean of g over a period, by the trapezoid rule on n
// equally spaced points. For a periodic analytic function this rule is
// spectrally accurate: its error is the size of the n-th Fourier
// coefficient of g, which decays like e^{−n²/(2|κ|)}, so n = 40 + 10·√|κ|
// points give full double precision.
func bellMean(kappa float64) float64 {
	n := 40 + 10*int(math.Ceil(math.Sqrt(math.Abs(kappa))))
	// g is even in θ: sum over the half period [0, π] with weights, with
	// Neumaier's compensated summation.
	var sum, comp float64
	half := n / 2
	for j := 0; j <= half; j++ {
		phi := math.Pi * float64(j) / float64(n)
		c, s := math.Cos(phi), math.Sin(phi)
		v := bellShape(kappa, c*c, s*s)
		if j != 0 && (n%2 != 0 || j != half) {
			v *= 2
		}
		t := sum + v
		if math.Abs(sum) >= math.Abs(v) {
			comp += (sum - t) + v
		} else {
			comp += (v - t) + sum
		}
		sum = t
	}
	return (sum + comp) / float64(n)
}

// solveKappa finds κ with bellMean(κ) = m, for 0 < m < 1. The mean is
// strictly decreasing in κ and bellMean(−κ) = 1 − bellMean(κ), so it is
// enough to solve for m < 1/2 on κ > 0: bracket by doubling, then bisect
// until the bracket cannot shrink any more.
func solveKappa(m float64) (float64, error) {
	switch {
	case m == 0.5:
		return 0, nil
	case m > 0.5:
		k, err := solveKappa(1 - m)
		return -k, err
	}
	lo, hi := 0.0, 1.0
	for bellMean(hi) > m {
		lo, hi = hi, 2*hi
		if hi > 2*maxKappa {
			return 0, invalid("diurnal: a peak this sharp (daily mean of the bell %.3g) cannot be drawn smoothly; use hourly weights", m)
		}
	}
	for range 200 {
		mid := lo + (hi-lo)/2
		if mid <= lo || mid >= hi {
			break
		}
		if bellMean(mid) > m {
			lo = mid
		} else {
			hi = mid
		}
	}
	k := lo + (hi-lo)/2
	if k > maxKappa {
		return 0, invalid("diurnal: a peak this sharp (κ = %.3g) cannot be drawn smoothly; use hourly weights", k)
	}
	return k, nil
}

// diurnalShape is the evaluated smooth diurnal base in base time.
type diurnalShape struct {
	trough, amp float64 // rate = trough + amp·g
	kappa       float64
	peakSec     float64 // peak hour in seconds of the day
}

// newDiurnalShape solves the shape of a validated smooth Diurnal.
func newDiurnalShape(d *Diurnal) (*diurnalShape, error) {
	avg := d.DailyRequests / 86400
	peak := d.PeakMultiplier * avg
	trough := avg / d.PeakMultiplier
	if d.PeakToTrough != 0 {
		trough = peak / d.PeakToTrough
	}
	sh := &diurnalShape{trough: trough, amp: peak - trough, peakSec: math.Mod(d.PeakHour*3600, 86400)}
	if d.PeakMultiplier == 1 {
		sh.trough, sh.amp = avg, 0
		return sh, nil
	}
	k, err := solveKappa((avg - trough) / (peak - trough))
	if err != nil {
		return nil, err
	}
	sh.kappa = k
	return sh, nil
}

// rateAt is the base rate x seconds after a peak (before it when x < 0).
// The shape has period 86400 s in x (cos² and sin² have period π in φ).
func (d *diurnalShape) rateAt(x float64) float64 {
	phi := math.Pi * x / 86400
	c, s := math.Cos(phi), math.Sin(phi)
	return d.trough + d.amp*bellShape(d.kappa, c*c, s*s)
}

// String describes the solved shape.
func (d *diurnalShape) String() string {
	return fmt.Sprintf("trough %.6g/s + %.6g/s × bell(κ=%.6g) peaking at %gs", d.trough, d.amp, d.kappa, d.peakSec)
}
