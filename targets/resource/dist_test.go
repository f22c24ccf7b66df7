package resource

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

const ms = time.Millisecond

func TestDistMeanAndQuantile(t *testing.T) {
	tests := []struct {
		d        Dist
		mean     time.Duration
		median   time.Duration
		p99      time.Duration
		sigma    float64
		wantText string
	}{
		{Dist{}, 0, 0, 0, 0, "constant(0s)"},
		{Constant(7 * ms), 7 * ms, 7 * ms, 7 * ms, 0, "constant(7ms)"},
		// Exponential: median = ln 2 · mean, p99 = ln 100 · mean.
		{Exponential(10 * ms), 10 * ms, 6931472, 46051702, 0, "exponential(10ms)"},
		{Uniform(5*ms, 15*ms), 10 * ms, 10 * ms, 14900 * time.Microsecond, 0, "uniform(5ms, 15ms)"},
		// Log-normal built from its p99 has that p99, and median
		// e^μ = mean · e^(−σ²/2).
		{LogNormalP99(10*ms, 50*ms), 10 * ms, 6994897, 50 * ms, 0.84546, "lognormal(10ms, p99=50ms)"},
		{LogNormal(10*ms, 0.5), 10 * ms, 8824969, 28240554, 0.5, "lognormal(10ms, sigma=0.5)"},
	}
	for _, tt := range tests {
		if err := tt.d.Validate(); err != nil {
			t.Errorf("%v.Validate() = %v", tt.d, err)
		}
		if got := tt.d.Mean(); got != tt.mean {
			t.Errorf("%v.Mean() = %v; want %v", tt.d, got, tt.mean)
		}
		for _, q := range []struct {
			q    float64
			want time.Duration
		}{{0.5, tt.median}, {0.99, tt.p99}} {
			if got := tt.d.Quantile(q.q); math.Abs(float64(got-q.want)) > 1000 { // within 1µs
				t.Errorf("%v.Quantile(%v) = %v; want %v", tt.d, q.q, got, q.want)
			}
		}
		if got := tt.d.Sigma(); math.Abs(got-tt.sigma) > 1e-4 {
			t.Errorf("%v.Sigma() = %v; want %v", tt.d, got, tt.sigma)
		}
		if got := tt.d.String(); got != tt.wantText {
			t.Errorf("String() = %q; want %q", got, tt.wantText)
		}
	}
}

// TestDistSample checks that draws have the distribution's mean and
// percentiles: 200,000 draws, so the sample mean is within 1% of the mean
// for these (σ/√n ≈ 0.2%–0.5% of it) and the sample p99 within 3%.
func TestDistSample(t *testing.T) {
	for _, d := range []Dist{
		Constant(3 * ms),
		Exponential(10 * ms),
		Uniform(2*ms, 4*ms),
		LogNormalP99(10*ms, 40*ms),
		LogNormal(5*ms, 0.3),
	} {
		r := rand.New(rand.NewPCG(1, 2))
		const n = 200_000
		xs := make([]time.Duration, n)
		var sum float64
		for i := range xs {
			xs[i] = d.Sample(r)
			sum += float64(xs[i])
		}
		slices.Sort(xs)
		mean := time.Duration(sum / n)
		p50, p99 := xs[n/2], xs[n*99/100]
		t.Logf("%v: mean %v p50 %v p99 %v", d, mean, p50, p99)
		if got, want := float64(mean), float64(d.Mean()); math.Abs(got-want) > 0.01*want {
			t.Errorf("%v: sample mean %v; want %v ± 1%%", d, mean, d.Mean())
		}
		for _, c := range []struct {
			q   float64
			got time.Duration
		}{{0.5, p50}, {0.99, p99}} {
			if want := float64(d.Quantile(c.q)); math.Abs(float64(c.got)-want) > 0.03*want {
				t.Errorf("%v: sample %v-quantile %v; want %v ± 3%%", d, c.q, c.got, d.Quantile(c.q))
			}
		}
		if xs[0] < 0 {
			t.Errorf("%v: negative draw %v", d, xs[0])
		}
	}
}

func TestDistValidate(t *testing.T) {
	tests := []struct {
		d    Dist
		want string
	}{
		{Constant(-1), "constant service time must be from 0 to 1h0m0s (got -1ns)"},
		{Constant(2 * time.Hour), "constant service time must be from 0 to 1h0m0s (got 2h0m0s)"},
		{Exponential(0), "exponential mean must be above 0 and at most 1h0m0s (got 0s)"},
		{Exponential(2 * time.Hour), "exponential mean must be above 0 and at most 1h0m0s (got 2h0m0s)"},
		{Uniform(-1, 5), "uniform low bound must not be negative (got -1ns)"},
		{Uniform(5*ms, 4*ms), "uniform high bound must be from the low bound 5ms to 1h0m0s (got 4ms)"},
		{LogNormal(0, 1), "log-normal mean must be above 0 and at most 1h0m0s (got 0s)"},
		{LogNormal(ms, 0), "log-normal sigma must be above 0 and at most 4 (got 0)"},
		{LogNormal(ms, 4.5), "log-normal sigma must be above 0 and at most 4 (got 4.5)"},
		{LogNormalP99(10*ms, 10*ms), "log-normal p99 must be above the mean 10ms and at most 14.97 × mean = 149.684883ms (got 10ms)"},
		{LogNormalP99(10*ms, 5*ms), "log-normal p99 must be above the mean 10ms and at most 14.97 × mean = 149.684883ms (got 5ms)"},
		{LogNormalP99(10*ms, 150*ms), "log-normal p99 must be above the mean 10ms and at most 14.97 × mean = 149.684883ms (got 150ms)"},
	}
	for _, tt := range tests {
		if err := tt.d.Validate(); err == nil || err.Error() != tt.want {
			t.Errorf("%v.Validate() = %v; want %q", tt.d, err, tt.want)
		}
	}
	if err := LogNormalP99(10*ms, 149*ms).Validate(); err != nil {
		t.Errorf("p99 at 14.9 × mean: %v", err)
	}
}

func TestDistText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"10ms", "constant(10ms)"},
		{" constant( 1.5ms ) ", "constant(1.5ms)"},
		{"exp(10ms)", "exponential(10ms)"},
		{"exponential(2s)", "exponential(2s)"},
		{"uniform(5ms,15ms)", "uniform(5ms, 15ms)"},
		{"lognormal(10ms, p99=50ms)", "lognormal(10ms, p99=50ms)"},
		{"lognormal(10ms,sigma = 0.25)", "lognormal(10ms, sigma=0.25)"},
	}
	for _, tt := range tests {
		var d Dist
		if err := d.UnmarshalText([]byte(tt.in)); err != nil {
			t.Errorf("UnmarshalText(%q): %v", tt.in, err)
			continue
		}
		if got := d.String(); got != tt.want {
			t.Errorf("UnmarshalText(%q) = %s; want %s", tt.in, got, tt.want)
		}
		var again Dist
		text, _ := d.MarshalText()
		if err := again.UnmarshalText(text); err != nil || again != d {
			t.Errorf("round trip of %s = %v, %v", d, again, err)
		}
	}
	bad := []struct{ in, want string }{
		{"", `distribution "": want a duration or family(arguments): constant, exponential, uniform or lognormal`},
		{"fast", `distribution "fast": want a duration or family(arguments): constant, exponential, uniform or lognormal`},
		{"exp(10ms", `distribution "exp(10ms": missing closing parenthesis`},
		{"normal(10ms)", `distribution "normal(10ms)": unknown family "normal" (want constant, exponential, uniform or lognormal)`},
		{"exp(10ms, 2ms)", `distribution "exp(10ms, 2ms)": exp takes 1 arguments (got 2)`},
		{"uniform(5ms)", `distribution "uniform(5ms)": uniform takes 2 arguments (got 1)`},
		{"uniform(5ms, x)", `distribution "uniform(5ms, x)": argument 2: time: invalid duration "x"`},
		{"lognormal(10ms, 50ms)", `distribution "lognormal(10ms, 50ms)": lognormal's second argument must be p99=DURATION or sigma=NUMBER (got "50ms")`},
		{"lognormal(10ms, p99=0)", `distribution "lognormal(10ms, p99=0)": p99 must be above the mean (got 0s)`},
		{"lognormal(10ms, sigma=x)", `distribution "lognormal(10ms, sigma=x)": sigma: strconv.ParseFloat: parsing "x": invalid syntax`},
		{"exp(-1s)", `distribution "exp(-1s)": exponential mean must be above 0 and at most 1h0m0s (got -1s)`},
		{"lognormal(10ms, p99=5ms)", `distribution "lognormal(10ms, p99=5ms)": log-normal p99 must be above the mean 10ms and at most 14.97 × mean = 149.684883ms (got 5ms)`},
	}
	for _, tt := range bad {
		d := Constant(ms)
		if err := d.UnmarshalText([]byte(tt.in)); err == nil || err.Error() != tt.want {
			t.Errorf("UnmarshalText(%q) = %v; want %q", tt.in, err, tt.want)
		}
		if d != Constant(ms) {
			t.Errorf("UnmarshalText(%q) failed but changed the Dist to %v", tt.in, d)
		}
	}
}

func FuzzDistText(f *testing.F) {
	for _, s := range []string{"10ms", "exp(1s)", "uniform(1ms, 2ms)", "lognormal(10ms, p99=40ms)", "lognormal(1s,sigma=1e-3)", "constant(0)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var d Dist
		if err := d.UnmarshalText([]byte(s)); err != nil {
			return
		}
		var again Dist
		if err := again.UnmarshalText([]byte(d.String())); err != nil || again.String() != d.String() {
			t.Errorf("%q parsed to %s, which reparsed to %s, %v", s, d, again, err)
		}
		r := rand.New(rand.NewPCG(1, 1))
		for range 10 {
			if x := d.Sample(r); x < 0 || x > maxSample {
				t.Errorf("%s drew %v", d, x)
			}
		}
	})
}

// TestSamplerSeeded checks that a seed fixes the sequence of draws, and
// that concurrent callers share out that same sequence.
func TestSamplerSeeded(t *testing.T) {
	d := LogNormalP99(10*ms, 40*ms)
	const n = 4000
	seq := func(seed uint64) []time.Duration {
		s := NewSampler(d, seed)
		xs := make([]time.Duration, n)
		for i := range xs {
			xs[i] = s.Next()
		}
		return xs
	}
	a, b, c := seq(1), seq(1), seq(2)
	if !slices.Equal(a, b) {
		t.Error("two samplers with seed 1 drew different sequences")
	}
	if slices.Equal(a, c) {
		t.Error("seeds 1 and 2 drew the same sequence")
	}

	s := NewSampler(d, 1)
	var mu sync.Mutex
	var got []time.Duration
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			mine := make([]time.Duration, n/8)
			for i := range mine {
				mine[i] = s.Next()
			}
			mu.Lock()
			got = append(got, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(got)
	slices.Sort(a)
	if !slices.Equal(got, a) {
		t.Error("8 goroutines sharing a sampler drew other values than the seed's sequence")
	}
	if s.Dist() != d {
		t.Errorf("Dist() = %v; want %v", s.Dist(), d)
	}
}

// TestClassSeeds checks that each cost class of a resource has its own
// sequence, so interleaving reads and writes does not change either.
func TestClassSeeds(t *testing.T) {
	if classSeed(1, OpRead) == classSeed(1, OpWrite) || classSeed(1, OpRead) == classSeed(2, OpRead) {
		t.Error("class seeds collide")
	}
}
