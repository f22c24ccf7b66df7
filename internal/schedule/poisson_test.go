package schedule

import (
	"math"
	"slices"
	"testing"
	"time"
)

// The statistical tests below use fixed seeds, so they are deterministic:
// each either always passes or always fails. Their thresholds are the
// p = 0.001 critical values, so a correct sampler fails one of them for a
// given seed with probability 0.001; the seeds are fixed and pass.

// ksExp1 is the Kolmogorov–Smirnov statistic √n·D of samples against
// Exp(1).
func ksExp1(z []float64) float64 {
	z = slices.Clone(z)
	slices.Sort(z)
	n := float64(len(z))
	d := 0.0
	for i, v := range z {
		f := -math.Expm1(-v)
		d = math.Max(d, math.Max(float64(i+1)/n-f, f-float64(i)/n))
	}
	return d * math.Sqrt(n)
}

// ksCritical is the asymptotic p = 0.001 critical value of √n·D.
const ksCritical = 1.949

// chi2Critical approximates the p = 0.001 critical value of χ² with k
// degrees of freedom (Wilson–Hilferty).
func chi2Critical(k int) float64 {
	kf := float64(k)
	const z = 3.0902 // Φ⁻¹(0.999)
	return kf * math.Pow(1-2/(9*kf)+z*math.Sqrt(2/(9*kf)), 3)
}

// rescaledGaps are Λ(t_i) − Λ(t_{i−1}) of the whole schedule: by the
// time-rescaling theorem they are iid Exp(1) for a Poisson process of
// intensity λ (the first is Λ(t_0)).
func rescaledGaps(s *Schedule) []float64 {
	c := s.Curve()
	gaps := make([]float64, s.Len())
	prev := 0.0
	for i := range gaps {
		y := c.Cumulative(s.At(uint64(i)))
		gaps[i] = y - prev
		prev = y
	}
	return gaps
}

func TestPoissonDeterministic(t *testing.T) {
	spec := testCurves()["launch day"]
	a := mustSchedule(t, spec, Poisson, 42)
	b := mustSchedule(t, spec, Poisson, 42)
	c := mustSchedule(t, spec, Poisson, 43)
	if a.Len() != b.Len() {
		t.Fatalf("same seed: Len %d and %d", a.Len(), b.Len())
	}
	same := 0
	for i := range a.Len() {
		if a.At(i) != b.At(i) {
			t.Fatalf("same seed: At(%d) = %v and %v", i, a.At(i), b.At(i))
		}
		if a.At(i) == c.At(i) {
			same++
		}
	}
	if same > int(a.Len()/100) {
		t.Errorf("seeds 42 and 43 agree on %d of %d instants; want independent draws", same, a.Len())
	}
}

// TestPoissonSplitInvariant: agents with their own schedule objects, each
// walking only its share (forwards, backwards or from the middle), compute
// exactly the instants of the sequential walk.
func TestPoissonSplitInvariant(t *testing.T) {
	spec := testCurves()["spiky ramp"]
	whole := mustSchedule(t, spec, Poisson, 7)
	want := make([]time.Duration, whole.Len())
	for i := range want {
		want[i] = whole.At(uint64(i))
	}
	for _, weights := range [][]uint32{{1}, {1, 1, 1}, {3, 2, 1}, {1, 2, 3, 4, 5, 6, 7}} {
		shares, err := Split(weights)
		if err != nil {
			t.Fatal(err)
		}
		for k, sh := range shares {
			own := mustSchedule(t, spec, Poisson, 7)
			var idx []uint64
			it := sh.Iter(0, own.Len())
			for i, ok := it.Next(); ok; i, ok = it.Next() {
				idx = append(idx, i)
			}
			switch k % 3 {
			case 1:
				slices.Reverse(idx)
			case 2:
				idx = append(idx[len(idx)/2:], idx[:len(idx)/2]...)
			}
			for _, i := range idx {
				if got := own.At(i); got != want[i] {
					t.Fatalf("weights %v agent %d: At(%d) = %v; the sequential walk gave %v", weights, k, i, got, want[i])
				}
			}
		}
	}
}

// TestPoissonGoodnessOfFit: the time-rescaled gaps of whole schedules are
// Exp(1) (Kolmogorov–Smirnov), also at the seams of the construction
// (block boundaries and the first bisection of each block), successive
// gaps are uncorrelated, and counts in windows of equal expected count μ
// are Poisson(μ) (χ²).
func TestPoissonGoodnessOfFit(t *testing.T) {
	for _, name := range []string{"launch day", "spiky ramp", "steps", "constant 100M"} {
		for _, seed := range []uint64{1, 2} {
			s := mustSchedule(t, testCurves()[name], Poisson, seed)
			gaps := rescaledGaps(s)
			if ks := ksExp1(gaps); ks > ksCritical {
				t.Errorf("%s seed %d: KS √n·D = %.3f over %d gaps; want <= %.3f", name, seed, ks, len(gaps), ksCritical)
			}
			bsize := 1 << s.pois.shift
			var seam, root []float64
			for i := bsize; i < len(gaps); i += bsize {
				seam = append(seam, gaps[i])
				root = append(root, gaps[i-bsize/2])
			}
			if len(seam) >= 50 {
				if ks := ksExp1(seam); ks > ksCritical {
					t.Errorf("%s seed %d: KS at block boundaries √n·D = %.3f over %d gaps", name, seed, ks, len(seam))
				}
				if ks := ksExp1(root); ks > ksCritical {
					t.Errorf("%s seed %d: KS at block middles √n·D = %.3f over %d gaps", name, seed, ks, len(root))
				}
			}
			// Serial correlation of successive gaps.
			n := float64(len(gaps) - 1)
			var sx, sy, sxx, syy, sxy float64
			for i := 1; i < len(gaps); i++ {
				x, y := gaps[i-1], gaps[i]
				sx, sy, sxx, syy, sxy = sx+x, sy+y, sxx+x*x, syy+y*y, sxy+x*y
			}
			r := (sxy/n - sx/n*sy/n) / math.Sqrt((sxx/n-sx/n*sx/n)*(syy/n-sy/n*sy/n))
			if math.Abs(r)*math.Sqrt(n) > 3.29 {
				t.Errorf("%s seed %d: serial correlation %.4f over %d gaps; want |r|·√n <= 3.29", name, seed, r, int(n))
			}
			// Counts in windows of Λ-length μ.
			const mu = 10.0
			c := s.Curve()
			windows := int(c.Total() / mu)
			if windows < 200 {
				continue
			}
			counts := make([]int, windows)
			for i := range s.Len() {
				if w := int(c.Cumulative(s.At(i)) / mu); w < windows {
					counts[w]++
				}
			}
			// Bins 0..4 together, 5..16 each, 17+ together.
			obs := make([]float64, 14)
			for _, k := range counts {
				obs[min(max(k-4, 0), 13)]++
			}
			pmf := func(k int) float64 {
				lg, _ := math.Lgamma(float64(k + 1))
				return math.Exp(float64(k)*math.Log(mu) - mu - lg)
			}
			exp := make([]float64, 14)
			for k := 0; k <= 16; k++ {
				exp[max(k-4, 0)] += pmf(k)
			}
			rest := 1.0
			for _, p := range exp {
				rest -= p
			}
			exp[13] = rest
			chi := 0.0
			for b := range obs {
				e := exp[b] * float64(windows)
				chi += (obs[b] - e) * (obs[b] - e) / e
			}
			if crit := chi2Critical(len(obs) - 1); chi > crit {
				t.Errorf("%s seed %d: χ² of %d window counts = %.1f; want <= %.1f", name, seed, windows, chi, crit)
			}
		}
	}
}

// TestPoissonCount: over many seeds, Len is Poisson(Λ(D)) distributed:
// (Len − Λ)/√Λ has mean 0 and variance 1.
func TestPoissonCount(t *testing.T) {
	c := mustCurve(t, Spec{Ramp: &Ramp{From: 10, To: 190, Duration: 10 * time.Second}})
	const seeds = 400
	var sum, sum2 float64
	for seed := range uint64(seeds) {
		s, err := New(c, Poisson, seed)
		if err != nil {
			t.Fatal(err)
		}
		z := (float64(s.Len()) - c.Total()) / math.Sqrt(c.Total())
		sum += z
		sum2 += z * z
	}
	mean, variance := sum/seeds, sum2/seeds-(sum/seeds)*(sum/seeds)
	// Standard errors: 1/√400 = 0.05 for the mean, √(2/400) ≈ 0.07 for the
	// variance; allow 3.29 of them.
	if math.Abs(mean) > 0.17 || math.Abs(variance-1) > 0.24 {
		t.Errorf("(Len − Λ)/√Λ over %d seeds: mean %.3f, variance %.3f; want 0 and 1", seeds, mean, variance)
	}
}

// TestPoissonBlocks: the block table stays bounded for the largest curves.
func TestPoissonBlocks(t *testing.T) {
	for _, total := range []float64{1, 1000, 1e6, 1e8, 1e10} {
		p := newPoissonTable(1, total)
		bsize := float64(uint64(1) << p.shift)
		if len(p.base) > 1<<maxBlocks+3 || p.base[len(p.base)-1] < total || p.base[len(p.base)-2] >= total {
			t.Errorf("total %g: %d blocks of %g, last two ends %v", total, len(p.base)-1, bsize, p.base[len(p.base)-2:])
		}
		// The count descends the same tree as the values.
		for _, y := range []float64{total / 3, total / 2, total} {
			n := p.count(y)
			if (n > 0 && p.value(n-1) >= y) || p.value(n) < y {
				t.Errorf("total %g: count(%g) = %d but values %v, %v", total, y, n, p.value(n-1), p.value(n))
			}
		}
	}
}

// TestPoissonGolden pins the first instants of a seeded schedule and the
// random primitives. Agents of different builds must compute the same
// instants: a change here breaks mixed-version runs and must be a
// deliberate, versioned decision.
func TestPoissonGolden(t *testing.T) {
	s := mustSchedule(t, Spec{Constant: &Constant{Rate: 1000, Duration: time.Second}}, Poisson, 42)
	got := []time.Duration{s.At(0), s.At(1), s.At(2), s.At(255), s.At(256), s.At(500)}
	want := pinned.instants
	if !slices.Equal(got, want) {
		t.Errorf("Poisson instants = %#v; want %#v", got, want)
	}
	if got := [3]uint64{mix64(0), mix64(1), nodeStream(blockKey(1, 2), 3).s}; got != pinned.mix {
		t.Errorf("mix64/nodeStream = %#v; want %#v", got, pinned.mix)
	}
	r := nodeStream(blockKey(42, 0), 0)
	if got := [3]float64{r.uniform(), r.normal(), r.gamma(256)}; got != pinned.draws {
		t.Errorf("draws = %#v; want %#v", got, pinned.draws)
	}
}

var pinned = struct {
	instants []time.Duration
	mix      [3]uint64
	draws    [3]float64
}{
	instants: []time.Duration{726153, 2654686, 2983962, 279527551, 279586062, 524540844},
	mix:      [3]uint64{0x0, 0x5692161d100b05e5, 0x82a5f5ba1c02720c},
	draws:    [3]float64{0.5876358027681352, -0.31515621147989353, 278.83529076915966},
}

// TestNormal: the polar method's draws are standard normal (KS against Φ).
func TestNormal(t *testing.T) {
	r := nodeStream(blockKey(5, 0), 0)
	z := make([]float64, 200_000)
	for k := range z {
		z[k] = r.normal()
	}
	slices.Sort(z)
	n := float64(len(z))
	d := 0.0
	for i, v := range z {
		f := 0.5 * math.Erfc(-v/math.Sqrt2)
		d = math.Max(d, math.Max(float64(i+1)/n-f, f-float64(i)/n))
	}
	if ks := d * math.Sqrt(n); ks > ksCritical {
		t.Errorf("normal draws: KS √n·D = %.3f; want <= %.3f", ks, ksCritical)
	}
}

func TestDetLog(t *testing.T) {
	r := nodeStream(blockKey(3, 0), 0)
	for k := range 200_000 {
		x := r.uniform()
		switch k % 3 {
		case 1:
			x = math.Ldexp(x, int(r.next()%2000)-1000)
		case 2:
			x = 1 + (x-0.5)*1e-6
		}
		got, want := detLog(x), math.Log(x)
		if got != want && math.Abs(got-want) > 1.01*math.Abs(math.Nextafter(want, math.Inf(1))-want) {
			t.Fatalf("detLog(%v) = %v; math.Log = %v", x, got, want)
		}
	}
	if !math.IsNaN(detLog(0)) || !math.IsNaN(detLog(-1)) || !math.IsInf(detLog(math.Inf(1)), 1) || detLog(1) != 0 {
		t.Errorf("detLog special cases: %v %v %v %v", detLog(0), detLog(-1), detLog(math.Inf(1)), detLog(1))
	}
}

// TestSamplerMoments checks the Gamma and Beta samplers' first moments
// and a Gamma(1) KS test.
func TestSamplerMoments(t *testing.T) {
	const n = 200_000
	for _, h := range []float64{1, 2, 3, 8, 256, 1 << 20} {
		r := nodeStream(blockKey(11, uint64(h)), 0)
		var g, g2, b, b2 float64
		exp := make([]float64, 0, n)
		for range n {
			x := r.gamma(h)
			g, g2 = g+x, g2+x*x
			if h == 1 {
				exp = append(exp, x)
			}
			y := r.betaHalf(h)
			if y <= 0 || y >= 1 {
				t.Fatalf("Beta(%v, %v) draw %v outside (0, 1)", h, h, y)
			}
			b, b2 = b+y, b2+y*y
		}
		gm, gv := g/n, g2/n-(g/n)*(g/n)
		bm, bv := b/n, b2/n-(b/n)*(b/n)
		// Gamma(h): mean h, variance h. Beta(h, h): mean 1/2, variance 1/(4(2h+1)).
		if math.Abs(gm-h) > 4*math.Sqrt(h/n) || math.Abs(gv/h-1) > 4*math.Sqrt((2+6/h)/n) {
			t.Errorf("Gamma(%v): mean %v, variance %v", h, gm, gv)
		}
		wantBV := 1 / (4 * (2*h + 1))
		if math.Abs(bm-0.5) > 4*math.Sqrt(wantBV/n) || math.Abs(bv/wantBV-1) > 4*math.Sqrt(2.0/n) {
			t.Errorf("Beta(%v, %v): mean %v, variance %v (want %v)", h, h, bm, bv, wantBV)
		}
		if h == 1 {
			if ks := ksExp1(exp); ks > ksCritical {
				t.Errorf("Gamma(1): KS √n·D = %.3f", ks)
			}
		}
	}
}
