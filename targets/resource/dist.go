package resource

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"
)

// z99 is Φ⁻¹(0.99), the standard normal 99th percentile.
const z99 = 2.3263478740408408

// MaxLogNormalP99Ratio is the largest p99 ÷ mean a log-normal Dist can be
// built with by LogNormalP99: e^(z²/2) with z = Φ⁻¹(0.99). Past it no
// log-normal with that mean has that p99 on the low-σ branch (see
// LogNormalP99).
const MaxLogNormalP99Ratio = 14.968488362247689

// MaxLogNormalSigma is the largest σ a log-normal Dist accepts. Beyond it
// the mean is carried by draws so rare that no test run sees them.
const MaxLogNormalSigma = 4.0

// maxSample caps a single draw, so that a far tail of the exponential or
// log-normal distribution cannot overflow a time.Duration or hold a slot
// for longer than any test runs.
const maxSample = time.Hour

// distKind is the family of a Dist.
type distKind uint8

const (
	kindConstant distKind = iota // the zero Dist: constant 0
	kindExponential
	kindLogNormal
	kindUniform
)

// Dist is a distribution of service times: how long one operation holds a
// slot. Build one with Constant, Exponential, LogNormal, LogNormalP99 or
// Uniform, or parse one from text (UnmarshalText). The zero Dist is the
// constant 0.
//
// A Dist is a small immutable value, safe to copy and to share. It draws
// nothing by itself: Sample takes the random source, and a Sampler pairs a
// Dist with a seeded source that is safe for concurrent use.
type Dist struct {
	kind  distKind
	a, b  time.Duration // constant: a; exponential: mean a; uniform: [a, b]; log-normal: mean a, p99 b (0 if built from σ)
	sigma float64       // log-normal σ of the underlying normal
	mu    float64       // log-normal μ, in nanoseconds' log: ln(mean) − σ²/2
}

// Constant returns the distribution that is always d.
func Constant(d time.Duration) Dist { return Dist{kind: kindConstant, a: d} }

// Exponential returns the exponential distribution with the given mean:
// memoryless service, the "M" of M/M/c. Its p99 is about 4.6 × mean.
func Exponential(mean time.Duration) Dist { return Dist{kind: kindExponential, a: mean} }

// Uniform returns the uniform distribution on [lo, hi].
func Uniform(lo, hi time.Duration) Dist { return Dist{kind: kindUniform, a: lo, b: hi} }

// LogNormal returns the log-normal distribution with the given mean whose
// underlying normal has standard deviation sigma (0 < sigma ≤
// MaxLogNormalSigma). Then μ = ln(mean) − σ²/2 and p99 = e^(μ + 2.326σ).
// Service times of real servers are often close to log-normal: a body
// near the median and a long right tail.
func LogNormal(mean time.Duration, sigma float64) Dist {
	d := Dist{kind: kindLogNormal, a: mean, sigma: sigma}
	d.setMu()
	return d
}

// LogNormalP99 returns the log-normal distribution with the given mean and
// 99th percentile, which is how service times are usually specified. It
// solves ln(p99/mean) = zσ − σ²/2 for the smaller root
// σ = z − √(z² − 2·ln(p99/mean)), z = Φ⁻¹(0.99), so p99 must be above the
// mean and at most MaxLogNormalP99Ratio × mean; Validate reports other
// values.
func LogNormalP99(mean, p99 time.Duration) Dist {
	d := Dist{kind: kindLogNormal, a: mean, b: p99, sigma: math.NaN()}
	if mean > 0 && p99 > mean {
		disc := z99*z99 - 2*math.Log(float64(p99)/float64(mean))
		if disc >= 0 {
			d.sigma = z99 - math.Sqrt(disc)
		}
	}
	d.setMu()
	return d
}

func (d *Dist) setMu() {
	if d.a > 0 {
		d.mu = math.Log(float64(d.a)) - d.sigma*d.sigma/2
	}
}

// Validate reports whether d can be drawn from, naming the parameter and
// its allowed range when not.
func (d Dist) Validate() error {
	switch d.kind {
	case kindConstant:
		if d.a < 0 || d.a > maxSample {
			return fmt.Errorf("constant service time must be from 0 to %v (got %v)", maxSample, d.a)
		}
	case kindExponential:
		if d.a <= 0 || d.a > maxSample {
			return fmt.Errorf("exponential mean must be above 0 and at most %v (got %v)", maxSample, d.a)
		}
	case kindUniform:
		var errs []error
		if d.a < 0 {
			errs = append(errs, fmt.Errorf("uniform low bound must not be negative (got %v)", d.a))
		}
		if d.b < d.a || d.b > maxSample {
			errs = append(errs, fmt.Errorf("uniform high bound must be from the low bound %v to %v (got %v)", d.a, maxSample, d.b))
		}
		return errors.Join(errs...)
	case kindLogNormal:
		if d.a <= 0 || d.a > maxSample {
			return fmt.Errorf("log-normal mean must be above 0 and at most %v (got %v)", maxSample, d.a)
		}
		if d.b != 0 {
			if !(d.sigma > 0) {
				return fmt.Errorf("log-normal p99 must be above the mean %v and at most %.2f × mean = %v (got %v)",
					d.a, MaxLogNormalP99Ratio, time.Duration(MaxLogNormalP99Ratio*float64(d.a)), d.b)
			}
		} else if !(d.sigma > 0 && d.sigma <= MaxLogNormalSigma) {
			return fmt.Errorf("log-normal sigma must be above 0 and at most %g (got %g)", MaxLogNormalSigma, d.sigma)
		}
	}
	return nil
}

// Mean returns the mean of d.
func (d Dist) Mean() time.Duration {
	switch d.kind {
	case kindUniform:
		return d.a + (d.b-d.a)/2
	default:
		return d.a
	}
}

// Quantile returns the q-quantile of d (0 ≤ q < 1) computed from its
// formula: the service time that a fraction q of draws stay at or under.
// It is what a capacity plan compares a measured percentile with.
func (d Dist) Quantile(q float64) time.Duration {
	q = min(max(q, 0), 1)
	var x float64
	switch d.kind {
	case kindConstant:
		return d.a
	case kindExponential:
		x = -float64(d.a) * math.Log1p(-q)
	case kindUniform:
		x = float64(d.a) + q*float64(d.b-d.a)
	case kindLogNormal:
		x = math.Exp(d.mu + d.sigma*math.Sqrt2*math.Erfinv(2*q-1))
	}
	return clampSample(x)
}

// Sigma returns σ of a log-normal d (also when it was built from a p99),
// and 0 for the other families.
func (d Dist) Sigma() float64 {
	if d.kind != kindLogNormal {
		return 0
	}
	return d.sigma
}

// Sample draws one service time from d using r, which must not be shared
// between goroutines without a lock (a Sampler holds one). Draws are at
// most one hour.
func (d Dist) Sample(r *rand.Rand) time.Duration {
	switch d.kind {
	case kindExponential:
		return clampSample(r.ExpFloat64() * float64(d.a))
	case kindUniform:
		return d.a + time.Duration(r.Int64N(int64(d.b-d.a)+1))
	case kindLogNormal:
		return clampSample(math.Exp(d.mu + d.sigma*r.NormFloat64()))
	default:
		return d.a
	}
}

func clampSample(x float64) time.Duration {
	if !(x < float64(maxSample)) { // also NaN
		return maxSample
	}
	return time.Duration(max(x, 0))
}

// String returns d in the text form UnmarshalText reads, for example
// "exponential(10ms)" or "lognormal(10ms, p99=50ms)".
func (d Dist) String() string {
	switch d.kind {
	case kindExponential:
		return "exponential(" + d.a.String() + ")"
	case kindUniform:
		return "uniform(" + d.a.String() + ", " + d.b.String() + ")"
	case kindLogNormal:
		if d.b != 0 {
			return "lognormal(" + d.a.String() + ", p99=" + d.b.String() + ")"
		}
		return "lognormal(" + d.a.String() + ", sigma=" + strconv.FormatFloat(d.sigma, 'g', -1, 64) + ")"
	default:
		return "constant(" + d.a.String() + ")"
	}
}

// MarshalText returns d.String(), so that a Dist reads and writes the same
// way in YAML, JSON and flags.
func (d Dist) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a distribution in one of these forms (durations as
// time.ParseDuration reads them; spaces are optional):
//
//	10ms                          constant 10ms
//	constant(10ms)                the same
//	exponential(10ms)             exponential with mean 10ms ("exp" too)
//	uniform(5ms, 15ms)            uniform on [5ms, 15ms]
//	lognormal(10ms, p99=50ms)     log-normal with mean 10ms and p99 50ms
//	lognormal(10ms, sigma=0.5)    log-normal with mean 10ms and σ 0.5
//
// The parsed distribution is validated.
func (d *Dist) UnmarshalText(text []byte) error {
	parsed, err := parseDist(string(text))
	if err != nil {
		return fmt.Errorf("distribution %q: %w", text, err)
	}
	if err := parsed.Validate(); err != nil {
		return fmt.Errorf("distribution %q: %w", text, err)
	}
	*d = parsed
	return nil
}

func parseDist(s string) (Dist, error) {
	s = strings.TrimSpace(s)
	open := strings.IndexByte(s, '(')
	if open < 0 {
		v, err := time.ParseDuration(s)
		if err != nil {
			return Dist{}, errors.New("want a duration or family(arguments): constant, exponential, uniform or lognormal")
		}
		return Constant(v), nil
	}
	if !strings.HasSuffix(s, ")") {
		return Dist{}, errors.New("missing closing parenthesis")
	}
	family := strings.TrimSpace(s[:open])
	var args []string
	for a := range strings.SplitSeq(s[open+1:len(s)-1], ",") {
		args = append(args, strings.TrimSpace(a))
	}
	duration := func(i int) (time.Duration, error) {
		v, err := time.ParseDuration(args[i])
		if err != nil {
			return 0, fmt.Errorf("argument %d: %w", i+1, err)
		}
		return v, nil
	}
	want := func(n int) error {
		if len(args) != n {
			return fmt.Errorf("%s takes %d arguments (got %d)", family, n, len(args))
		}
		return nil
	}
	switch family {
	case "constant", "exponential", "exp":
		if err := want(1); err != nil {
			return Dist{}, err
		}
		v, err := duration(0)
		if err != nil {
			return Dist{}, err
		}
		if family == "constant" {
			return Constant(v), nil
		}
		return Exponential(v), nil
	case "uniform":
		if err := want(2); err != nil {
			return Dist{}, err
		}
		lo, err := duration(0)
		if err != nil {
			return Dist{}, err
		}
		hi, err := duration(1)
		if err != nil {
			return Dist{}, err
		}
		return Uniform(lo, hi), nil
	case "lognormal":
		if err := want(2); err != nil {
			return Dist{}, err
		}
		mean, err := duration(0)
		if err != nil {
			return Dist{}, err
		}
		key, value, ok := strings.Cut(args[1], "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		switch {
		case ok && key == "p99":
			p99, err := time.ParseDuration(value)
			if err != nil {
				return Dist{}, fmt.Errorf("p99: %w", err)
			}
			if p99 == 0 {
				return Dist{}, errors.New("p99 must be above the mean (got 0s)")
			}
			return LogNormalP99(mean, p99), nil
		case ok && key == "sigma":
			sigma, err := strconv.ParseFloat(value, 64)
			if err != nil {
				return Dist{}, fmt.Errorf("sigma: %w", err)
			}
			return LogNormal(mean, sigma), nil
		default:
			return Dist{}, fmt.Errorf("lognormal's second argument must be p99=DURATION or sigma=NUMBER (got %q)", args[1])
		}
	default:
		return Dist{}, fmt.Errorf("unknown family %q (want constant, exponential, uniform or lognormal)", family)
	}
}

// Sampler draws from a Dist with its own seeded random source. The
// sequence of draws is fixed by the seed; a Sampler is safe for concurrent
// use, and then which goroutine gets which draw of that sequence depends
// on scheduling.
type Sampler struct {
	dist Dist
	mu   sync.Mutex
	rng  *rand.Rand
}

// NewSampler returns a Sampler of d seeded with seed. It does not validate
// d.
func NewSampler(d Dist, seed uint64) *Sampler {
	return &Sampler{dist: d, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Dist returns the distribution s draws from.
func (s *Sampler) Dist() Dist { return s.dist }

// Next returns the next draw.
func (s *Sampler) Next() time.Duration {
	if s.dist.kind == kindConstant {
		return s.dist.a // no randomness: no lock
	}
	s.mu.Lock()
	v := s.dist.Sample(s.rng)
	s.mu.Unlock()
	return v
}
