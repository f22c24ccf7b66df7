package schedule

import "math"

// Deterministic random numbers for the Poisson schedule.
//
// Agents of one run may be built by different Go versions and run on
// different architectures, and each computes its own arrival instants, so
// every draw must be a pure function of (seed, block, node) with the same
// bits everywhere. Hence no math/rand (its streams are not a compatibility
// promise), no math.Log (it is assembly on some architectures and Go on
// others), and explicit float64 conversions around products that feed a
// sum: the Go spec lets a compiler fuse x*y + z into one FMA instruction
// (arm64 does, amd64 does not), and an explicit conversion forbids it. With
// these rules every operation below is a correctly rounded IEEE operation
// (+ − × ÷ √) or exact bit manipulation, so the results are bit-identical
// on every platform.

// mix64 is the SplitMix64 finalizer, a bijection with full avalanche.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

const golden = 0x9e3779b97f4a7c15

// stream is a counter-based generator: the SplitMix64 sequence started at
// a state that hashes its key. Streams for different keys are independent
// for all practical purposes.
type stream struct{ s uint64 }

// newStream keys a stream by (seed, a, b).
func newStream(seed, a, b uint64) stream {
	h := mix64(seed ^ 0x5375726765506f69) // "SurgePoi"
	h = mix64(h + golden + a)
	h = mix64(h + golden + b)
	return stream{h}
}

func (r *stream) next() uint64 {
	r.s += golden
	return mix64(r.s)
}

// uniform returns a float64 in the open interval (0, 1): 53 random bits,
// centred in their cell.
func (r *stream) uniform() float64 {
	return (float64(r.next()>>11) + 0.5) * 0x1p-53
}

// normal returns a standard normal draw by inverting the normal CDF at a
// uniform (Wichura's algorithm AS 241, PPND16, relative error ~1e-16):
// one uniform per draw, no rejection.
func (r *stream) normal() float64 {
	return normalQuantile(r.uniform())
}

// gamma returns a Gamma(a, 1) draw for an integer shape a >= 1.
// Shape 1 is an exponential, −log U. Larger shapes use Marsaglia and Tsang
// (2000): with d = a − 1/3 and c = 1/√(9d), propose d·(1 + c·Z)³ for a
// normal Z and accept with their squeeze, which avoids the logarithm for
// ~98% of proposals.
func (r *stream) gamma(a float64) float64 {
	if a == 1 {
		return -detLog(r.uniform())
	}
	d := a - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.normal()
		v := float64(c*x) + 1
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.uniform()
		x2 := float64(x * x)
		if u < 1-float64(0.0331*float64(x2*x2)) {
			return d * v
		}
		if detLog(u) < float64(0.5*x2)+float64(d*(float64(1-v)+detLog(v))) {
			return d * v
		}
	}
}

// betaHalf returns a Beta(h, h) draw for an integer h >= 1, as X/(X+Y) with
// X, Y independent Gamma(h, 1); Beta(1, 1) is a uniform.
func (r *stream) betaHalf(h float64) float64 {
	if h == 1 {
		return r.uniform()
	}
	x := r.gamma(h)
	y := r.gamma(h)
	return x / (x + y)
}

// normalQuantile is Φ⁻¹(p) for 0 < p < 1 (AS 241).
func normalQuantile(p float64) float64 {
	q := p - 0.5
	if math.Abs(q) <= 0.425 {
		r := 0.180625 - float64(q*q)
		num := horner(r, 3.387132872796366608, 133.14166789178437745, 1971.5909503065514427, 13731.693765509461125,
			45921.953931549871457, 67265.770927008700853, 33430.575583588128105, 2509.0809287301226727)
		den := horner(r, 1, 42.313330701600911252, 687.1870074920579083, 5394.1960214247511077,
			21213.794301586595867, 39307.89580009271061, 28729.085735721942674, 5226.495278852854561)
		return float64(q*num) / den
	}
	r := p
	if q > 0 {
		r = 1 - p
	}
	r = math.Sqrt(-detLog(r))
	var x float64
	if r <= 5 {
		r -= 1.6
		x = horner(r, 1.42343711074968357734, 4.6303378461565452959, 5.7694972214606914055, 3.64784832476320460504,
			1.27045825245236838258, 0.24178072517745061177, 0.0227238449892691845833, 7.7454501427834140764e-4) /
			horner(r, 1, 2.05319162663775882187, 1.6763848301838038494, 0.68976733498510000455,
				0.14810397642748007459, 0.0151986665636164571966, 5.475938084995344946e-4, 1.05075007164441684324e-9)
	} else {
		r -= 5
		x = horner(r, 6.6579046435011037772, 5.4637849111641143699, 1.7848265399172913358, 0.29656057182850489123,
			0.026532189526576123093, 0.0012426609473880784386, 2.71155556874348757815e-5, 2.01033439929228813265e-7) /
			horner(r, 1, 0.59983220655588793769, 0.13692988092273580531, 0.0148753612908506148525,
				7.868691311456132591e-4, 1.8463183175100546818e-5, 1.4215117583164458887e-7, 2.04426310338993978564e-15)
	}
	if q < 0 {
		return -x
	}
	return x
}

// horner evaluates c0 + c1·x + … + c7·x⁷ without fused multiply-adds.
func horner(x, c0, c1, c2, c3, c4, c5, c6, c7 float64) float64 {
	v := c7
	v = float64(v*x) + c6
	v = float64(v*x) + c5
	v = float64(v*x) + c4
	v = float64(v*x) + c3
	v = float64(v*x) + c2
	v = float64(v*x) + c1
	return float64(v*x) + c0
}

// detLog is the natural logarithm of a positive normal float64, computed
// with only correctly rounded operations (the fdlibm algorithm: x = 2^k·(1+f)
// with √2/2 <= 1+f < √2, log(1+f) = f − s(f − R) with s = f/(2+f) and R a
// minimax polynomial in s²; error < 1 ulp). It returns NaN for x <= 0 or
// NaN, +Inf for +Inf; the schedule only passes values in (0, ∞).
func detLog(x float64) float64 {
	const (
		ln2Hi = 6.93147180369123816490e-01
		ln2Lo = 1.90821492927058770002e-10
		l1    = 6.666666666666735130e-01
		l2    = 3.999999999940941908e-01
		l3    = 2.857142874366239149e-01
		l4    = 2.222219843214978396e-01
		l5    = 1.818357216161805012e-01
		l6    = 1.531383769920937332e-01
		l7    = 1.479819860511658591e-01
	)
	switch {
	case math.IsNaN(x) || x <= 0:
		return math.NaN()
	case math.IsInf(x, 1):
		return x
	}
	f1, ki := math.Frexp(x)
	if f1 < math.Sqrt2/2 {
		f1 *= 2
		ki--
	}
	f := f1 - 1
	k := float64(ki)
	s := f / (2 + f)
	s2 := float64(s * s)
	s4 := float64(s2 * s2)
	t1 := float64(s2 * (float64(s4*(float64(s4*(float64(s4*l7)+l5))+l3)) + l1))
	t2 := float64(s4 * (float64(s4*(float64(s4*l6)+l4)) + l2))
	rr := t1 + t2
	hfsq := float64(float64(0.5*f) * f)
	return float64(k*ln2Hi) - ((hfsq - (float64(s*(hfsq+rr)) + float64(k*ln2Lo))) - f)
}
