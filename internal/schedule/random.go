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
type stream struct {
	s     uint64
	spare float64 // the second normal of the last polar pair
	has   bool
}

// blockKey hashes (seed, block) once; nodeStream then keys the stream of
// each tree node of the block with one more mix.
func blockKey(seed, block uint64) uint64 {
	h := mix64(seed ^ 0x5375726765506f69) // "SurgePoi"
	return mix64(h + golden + block)
}

// nodeStream is the stream of node n of a block.
func nodeStream(key, n uint64) stream {
	return stream{s: mix64(key + golden*(n+1))}
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

// normal returns a standard normal draw by Marsaglia's polar method: a
// point (u, v) uniform in the unit disc gives two independent normals
// u·m and v·m with m = √(−2 ln s / s), s = u² + v². It needs one logarithm
// and one square root per two draws, and accepts π/4 of the proposals.
func (r *stream) normal() float64 {
	if r.has {
		r.has = false
		return r.spare
	}
	for {
		u := 2*r.uniform() - 1
		v := 2*r.uniform() - 1
		s := float64(u*u) + float64(v*v)
		if s >= 1 || s == 0 {
			continue
		}
		m := math.Sqrt(-2 * detLog(s) / s)
		r.spare, r.has = v*m, true
		return u * m
	}
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

// betaHalf returns a Beta(h, h) draw for an integer h >= 1: a uniform for
// h = 1, the median of three uniforms for h = 2 (the k-th smallest of n
// uniforms is Beta(k, n+1−k)), and otherwise X/(X+Y) with X, Y independent
// Gamma(h, 1).
func (r *stream) betaHalf(h float64) float64 {
	switch h {
	case 1:
		return r.uniform()
	case 2:
		a, b, c := r.uniform(), r.uniform(), r.uniform()
		return max(min(a, b), min(max(a, b), c))
	}
	x := r.gamma(h)
	y := r.gamma(h)
	return x / (x + y)
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
	var f1 float64
	var ki int
	if b := math.Float64bits(x); b-0x0010000000000000 < 0x7fe0000000000000 {
		// Positive normal (the only inputs here): split the bits directly.
		ki = int(b>>52) - 1022
		f1 = math.Float64frombits(b&(1<<52-1) | 1022<<52) // in [1/2, 1)
	} else {
		switch {
		case math.IsNaN(x) || x <= 0:
			return math.NaN()
		case math.IsInf(x, 1):
			return x
		}
		f1, ki = math.Frexp(x)
	}
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
