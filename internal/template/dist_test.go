package template

import (
	"fmt"
	"math"
	"strconv"
	"testing"
)

// zipfNorm returns H(N, s) = Σ_{k=1..N} k⁻ˢ: summed directly up to 10⁶
// terms, beyond that by Euler–Maclaurin from M = 1000:
//
//	Σ_{k=M..N} f(k) ≈ ∫_M^N f + (f(M)+f(N))/2 + (f′(N)−f′(M))/12 − (f‴(N)−f‴(M))/720
//
// with f(x) = x⁻ˢ; the next term is below 10⁻¹⁸ relative at M = 1000.
func zipfNorm(s float64, n uint64) float64 {
	if n <= 1_000_000 {
		var h float64
		for k := n; k >= 1; k-- { // smallest terms first
			h += math.Pow(float64(k), -s)
		}
		return h
	}
	const m = 1000
	var h float64
	for k := m - 1; k >= 1; k-- {
		h += math.Pow(float64(k), -s)
	}
	f := func(x float64) float64 { return math.Pow(x, -s) }
	f1 := func(x float64) float64 { return -s * math.Pow(x, -s-1) }
	f3 := func(x float64) float64 { return -s * (s + 1) * (s + 2) * math.Pow(x, -s-3) }
	M, N := float64(m), float64(n)
	var integral float64
	if s == 1 {
		integral = math.Log(N / M)
	} else {
		integral = (math.Pow(N, 1-s) - math.Pow(M, 1-s)) / (1 - s)
	}
	return h + integral + (f(M)+f(N))/2 + (f1(N)-f1(M))/12 - (f3(N)-f3(M))/720
}

func TestZipfNorm(t *testing.T) {
	// The Euler–Maclaurin branch agrees with the direct sum where both apply.
	for _, s := range []float64{0.5, 0.99, 1, 1.1, 2} {
		direct := zipfNorm(s, 1_000_000)
		em := func() float64 { // force the Euler–Maclaurin branch at N = 10⁶
			const m = 1000
			var h float64
			for k := m - 1; k >= 1; k-- {
				h += math.Pow(float64(k), -s)
			}
			M, N := float64(m), 1e6
			var integral float64
			if s == 1 {
				integral = math.Log(N / M)
			} else {
				integral = (math.Pow(N, 1-s) - math.Pow(M, 1-s)) / (1 - s)
			}
			f := func(x float64) float64 { return math.Pow(x, -s) }
			f1 := func(x float64) float64 { return -s * math.Pow(x, -s-1) }
			f3 := func(x float64) float64 { return -s * (s + 1) * (s + 2) * math.Pow(x, -s-3) }
			return h + integral + (f(M)+f(N))/2 + (f1(N)-f1(M))/12 - (f3(N)-f3(M))/720
		}()
		if math.Abs(direct-em) > 1e-9*direct {
			t.Errorf("H(1e6, %v): direct %v, Euler–Maclaurin %v", s, direct, em)
		}
	}
}

// TestZipfPMF draws 10⁶ ranks per (S, N) with a fixed seed and compares the
// frequency of ranks 1..10 and of the tail (> 10) with the exact pmf
// k⁻ˢ/H(N, s). Each frequency must be within 5 standard deviations of its
// probability (√(p(1−p)/n)); with a fixed seed the test is deterministic.
func TestZipfPMF(t *testing.T) {
	cases := []struct {
		s float64
		n uint64
	}{
		{1.1, 1_000_000},
		{0.99, 1_000_000},
		{1, 1000},
		{0.5, 100},
		{0.2, 7},
		{2, 1_000_000_000},
		{0.99, 1_000_000_000},
		{3, 2},
	}
	const draws = 1_000_000
	for _, c := range cases {
		t.Run(fmt.Sprintf("s=%v,N=%v", c.s, c.n), func(t *testing.T) {
			z := newZipf(c.s, c.n)
			var counts [12]float64 // 1..10, and 11 for the tail
			for i := range uint64(draws) {
				r := newStream(2024, i, 3)
				k := z.draw(&r)
				switch {
				case k < 1 || k > c.n:
					t.Fatalf("draw %d = %d, outside [1, %d]", i, k, c.n)
				case k <= 10:
					counts[k]++
				default:
					counts[11]++
				}
			}
			h := zipfNorm(c.s, c.n)
			tail := 1.0
			check := func(label string, p, got float64) {
				sd := math.Sqrt(p * (1 - p) / draws)
				if math.Abs(got/draws-p) > 5*sd+1e-12 {
					t.Errorf("%s: frequency %.6f, pmf %.6f (%.1f sd)", label, got/draws, p, math.Abs(got/draws-p)/sd)
				}
			}
			for k := uint64(1); k <= 10 && k <= c.n; k++ {
				p := math.Pow(float64(k), -c.s) / h
				tail -= p
				check("rank "+strconv.FormatUint(k, 10), p, counts[k])
			}
			if c.n > 10 {
				check("ranks > 10", tail, counts[11])
			}
		})
	}
}

// TestZipfLargeKeySpace checks that a key space of 10⁹ costs nothing at set-up
// and draws over its whole range: the largest of 10⁵ draws with s = 0.5 is
// near the top (P(k > N/2) ≈ 1 − 1/√2 ≈ 0.29 per draw).
func TestZipfLargeKeySpace(t *testing.T) {
	tpl, err := Parse("{{zipf 0.5 1000000000}}")
	if err != nil {
		t.Fatal(err)
	}
	var top uint64
	for i := range uint64(100_000) {
		k, err := strconv.ParseUint(tpl.Render(1, i, nil), 10, 64)
		if err != nil || k < 1 || k > 1e9 {
			t.Fatalf("render %d = %v, %v", i, k, err)
		}
		top = max(top, k)
	}
	if top < 999_000_000 {
		t.Errorf("largest of 10⁵ draws = %d; want near 10⁹", top)
	}
}

// TestZipfDrawCost counts the uniforms a draw consumes: rejection-inversion
// accepts almost every first proposal.
func TestZipfDrawCost(t *testing.T) {
	for _, s := range []float64{0.01, 0.5, 0.99, 1, 1.1, 2, 10} {
		z := newZipf(s, 1_000_000)
		const draws = 100_000
		var used uint64
		for i := range uint64(draws) {
			r := newStream(5, i, 0)
			start := r.s
			z.draw(&r)
			used += (r.s - start) * inverseGolden // the number of next() calls
		}
		if avg := float64(used) / draws; avg > 1.1 {
			t.Errorf("s=%v: %.3f uniforms per draw; want about 1", s, avg)
		}
	}
}

// inverseGolden is the multiplicative inverse of golden modulo 2⁶⁴, so
// (state difference)·inverseGolden is the number of steps taken. Newton's
// iteration x ← x(2 − g·x) doubles the correct low bits each round; an odd g
// is its own inverse modulo 8, so five rounds give 3·2⁵ ≥ 64 bits.
var inverseGolden = func() uint64 {
	g := uint64(golden)
	x := g
	for range 5 {
		x *= 2 - g*x
	}
	return x
}()

func TestInverseGolden(t *testing.T) {
	if g := uint64(golden); g*inverseGolden != 1 {
		t.Fatalf("golden·inverseGolden = %#x", g*inverseGolden)
	}
}

// chiSquare returns Σ (observed − expected)² / expected for equal expected
// counts.
func chiSquare(counts []float64, total float64) float64 {
	e := total / float64(len(counts))
	var x float64
	for _, c := range counts {
		x += (c - e) * (c - e) / e
	}
	return x
}

// TestIntUniform checks {{int A B}} with a chi-square test on 10⁵ draws.
// Critical values at p = 0.001: 27.88 for 9 degrees of freedom, 16.27 for 3.
func TestIntUniform(t *testing.T) {
	cases := []struct {
		src      string
		lo, size int64
		critical float64
	}{
		{"{{int 1 10}}", 1, 10, 27.88},
		{"{{int -2 1}}", -2, 4, 16.27},
	}
	const draws = 100_000
	for _, c := range cases {
		tpl, err := Parse(c.src)
		if err != nil {
			t.Fatal(err)
		}
		counts := make([]float64, c.size)
		for i := range uint64(draws) {
			v, err := strconv.ParseInt(tpl.Render(77, i, nil), 10, 64)
			if err != nil || v < c.lo || v >= c.lo+c.size {
				t.Fatalf("%s rendered %d, %v", c.src, v, err)
			}
			counts[v-c.lo]++
		}
		if x := chiSquare(counts, draws); x > c.critical {
			t.Errorf("%s: chi-square %.2f > %.2f over %v", c.src, x, c.critical, counts)
		}
	}
	// The full int64 range draws both signs and extreme magnitudes.
	tpl, err := Parse("{{int -9223372036854775808 9223372036854775807}}")
	if err != nil {
		t.Fatal(err)
	}
	var neg, big int
	for i := range uint64(1000) {
		v, _ := strconv.ParseInt(tpl.Render(1, i, nil), 10, 64)
		if v < 0 {
			neg++
		}
		if v > 1<<62 || v < -1<<62 {
			big++
		}
	}
	if neg < 400 || neg > 600 || big < 400 || big > 600 {
		t.Errorf("full-range int: %d negative, %d beyond ±2⁶² of 1000", neg, big)
	}
}

func TestChoiceUniform(t *testing.T) {
	tpl, err := Parse(`{{choice a b "c" d}}`)
	if err != nil {
		t.Fatal(err)
	}
	const draws = 100_000
	idx := map[string]int{"a": 0, "b": 1, "c": 2, "d": 3}
	counts := make([]float64, 4)
	for i := range uint64(draws) {
		j, ok := idx[tpl.Render(8, i, nil)]
		if !ok {
			t.Fatalf("choice rendered %q", tpl.Render(8, i, nil))
		}
		counts[j]++
	}
	if x := chiSquare(counts, draws); x > 16.27 {
		t.Errorf("choice: chi-square %.2f > 16.27 over %v", x, counts)
	}
}

// TestUintnExact checks Lemire's rejection on a bound where the plain
// multiply-shift is visibly biased: for n = 3·2⁶², each of the 2⁶⁴ words maps
// to ⌊x·n/2⁶⁴⌋ = ⌊3x/4⌋, so without the rejection step the values v ≡ 0
// (mod 3) receive two words each and the others one: P(v ≡ 0) would be 1/2
// instead of 1/3.
func TestUintnExact(t *testing.T) {
	const n = 3 << 62
	const draws = 300_000
	var zero float64 // draws ≡ 0 (mod 3)
	for i := range uint64(draws) {
		r := newStream(1, i, 0)
		v := r.uintn(n)
		if v >= n {
			t.Fatalf("uintn(%d) = %d", uint64(n), v)
		}
		if v%3 == 0 {
			zero++
		}
	}
	// Exact: p = 1/3, sd = √(p(1−p)/draws) ≈ 0.00086.
	if f := zero / draws; math.Abs(f-1.0/3) > 0.005 {
		t.Errorf("uintn: fraction of values ≡ 0 (mod 3) = %.4f; want 1/3", f)
	}
}
