package metrics

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// reportedPercentiles are the percentiles Surge reports, as exact decimals
// (so the oracle's rank is computed in exact arithmetic) and as the float64
// that callers pass.
var reportedPercentiles = []string{"50", "75", "90", "95", "99", "99.9", "100"}

// oracleRank is the nearest rank of percentile p (a decimal string) of n
// values, computed exactly with rationals: max(⌈p·n/100⌉, 1).
func oracleRank(t *testing.T, p string, n int) int {
	t.Helper()
	r, ok := new(big.Rat).SetString(p)
	if !ok {
		t.Fatalf("bad percentile %q", p)
	}
	r.Mul(r, big.NewRat(int64(n), 100))
	// ⌈a/b⌉ for a, b > 0 is (a + b − 1) / b.
	num, den := r.Num(), r.Denom()
	c := new(big.Int).Add(num, new(big.Int).Sub(den, big.NewInt(1)))
	c.Quo(c, den)
	return max(int(c.Int64()), 1)
}

// highestEquivalent is the top of the bucket that holds v in a histogram of
// geometry g: the Max of a histogram holding only v. It does not use any
// percentile code.
func highestEquivalent(g Geometry, v int64) int64 {
	h := g.New()
	_ = h.RecordValue(v)
	return h.Max()
}

// walkValueAtRank is the value at rank r by a plain walk of the buckets in
// value order: the top of the first bucket whose cumulative count reaches r.
func walkValueAtRank(h *hdrhistogram.Histogram, r int64) int64 {
	return walkBars(h.Distribution(), r)
}

// walkBars is walkValueAtRank over h.Distribution().
func walkBars(bars []hdrhistogram.Bar, r int64) int64 {
	var cum int64
	for _, b := range bars {
		if cum += b.Count; cum >= r {
			return b.To
		}
	}
	return 0
}

// TestValueAtPercentile checks ValueAtPercentile against values computed
// independently: sort the raw samples, take the nearest-rank one (rank
// ⌈p·N/100⌉ in exact arithmetic) and map it to the top of its bucket, which
// is what HdrHistogram returns.
func TestValueAtPercentile(t *testing.T) {
	g := DefaultGeometry()
	rng := rand.New(rand.NewPCG(14, 1600))
	type set struct {
		name    string
		samples []int64
	}
	// distinct is 1..n ms: each sample in its own bucket, so one rank off
	// is one value off.
	distinct := func(n int) []int64 {
		s := make([]int64, n)
		for i := range s {
			s[i] = int64(i+1) * int64(time.Millisecond)
		}
		rng.Shuffle(n, func(i, j int) { s[i], s[j] = s[j], s[i] })
		return s
	}
	random := func(n int, spread int64) []int64 {
		s := make([]int64, n)
		for i := range s {
			// Log-uniform from 1 µs up: values across many buckets.
			s[i] = int64(float64(time.Microsecond) * math.Pow(float64(spread), rng.Float64()))
		}
		return s
	}
	sets := []set{
		{"N=1", distinct(1)}, {"N=2", distinct(2)}, {"N=3", distinct(3)}, {"N=10", distinct(10)},
		{"N=1600", distinct(1600)}, {"N=41000", distinct(41000)},
		{"ties", []int64{5e6, 5e6, 5e6, 7e6, 7e6, 9e6, 9e6, 9e6, 9e6, 2e9}},
	}
	for i, n := range []int{4, 7, 13, 99, 100, 101, 999, 1000, 1001, 5000, 12345} {
		sets = append(sets, set{fmt.Sprintf("random%d N=%d", i, n), random(n, 1e6)})
	}
	for _, s := range sets {
		h := g.New()
		for _, v := range s.samples {
			if err := h.RecordValue(v); err != nil {
				t.Fatal(err)
			}
		}
		sorted := slices.Clone(s.samples)
		slices.Sort(sorted)
		for _, ps := range reportedPercentiles {
			var p float64
			fmt.Sscan(ps, &p)
			r := oracleRank(t, ps, len(sorted))
			want := highestEquivalent(g, sorted[r-1])
			if got := ValueAtPercentile(h, p); got != want {
				t.Errorf("%s: ValueAtPercentile(h, %v) = %d; want %d (the sample of rank %d, %d, at the top of its bucket)",
					s.name, p, got, want, r, sorted[r-1])
			}
			if got, walk := ValueAtPercentile(h, p), walkValueAtRank(h, int64(r)); got != walk {
				t.Errorf("%s: ValueAtPercentile(h, %v) = %d; the bucket walk to rank %d gives %d", s.name, p, got, r, walk)
			}
		}
	}
}

// TestValueAtPercentileIssue14 pins the example of issue 14: of 1,600
// distinct values, p99.9 is rank ⌈1598.4⌉ = 1599, as Java HdrHistogram and
// hdr-histogram-js say, where hdrhistogram-go's half-up rounding says 1598.
func TestValueAtPercentileIssue14(t *testing.T) {
	g := DefaultGeometry()
	h := g.New()
	for i := int64(1); i <= 1600; i++ {
		_ = h.RecordValue(i * int64(time.Millisecond))
	}
	if got, want := ValueAtPercentile(h, 99.9), highestEquivalent(g, 1599*int64(time.Millisecond)); got != want {
		t.Errorf("p99.9 of 1..1600 ms = %d; want %d (rank 1599)", got, want)
	}
	if low := h.ValueAtQuantile(99.9); low != highestEquivalent(g, 1598*int64(time.Millisecond)) {
		// Not a requirement on the library: a note that the reason for
		// ValueAtPercentile is gone, if this starts failing.
		t.Logf("hdrhistogram-go now gives p99.9 = %d (it gave rank 1598)", low)
	}
}

// TestValueAtPercentileFloat pins the one-ulp step of Java's rule: 99.9 %
// of 41,000 is exactly 40,959, though 99.9·41000/100 is 40959.000000000007
// in float64; rounding that up would take rank 40,960.
func TestValueAtPercentileFloat(t *testing.T) {
	tests := []struct {
		p    float64
		n    int64
		want int64
	}{
		{99.9, 41000, 40959}, {99.9, 1600, 1599}, {99.9, 1000, 999}, {50, 10, 5}, {50, 3, 2}, {75, 10, 8},
		{99, 1, 1}, {0, 10, 1}, {-3, 10, 1}, {math.NaN(), 10, 1}, {100, 10, 10}, {250, 10, 10},
		{math.Inf(1), 10, 10}, {math.Inf(-1), 10, 1}, {1e-300, 10, 1},
	}
	for _, tt := range tests {
		if got := nearestRank(tt.p, tt.n); got != tt.want {
			t.Errorf("nearestRank(%v, %d) = %d; want %d", tt.p, tt.n, got, tt.want)
		}
	}
}

// TestValueAtPercentileEdges: an empty histogram gives 0; p == 0 is the
// bottom of the lowest bucket, p < 0 and NaN the top of it (as in Java);
// p > 100 is the maximum.
func TestValueAtPercentileEdges(t *testing.T) {
	g := DefaultGeometry()
	h := g.New()
	if got := ValueAtPercentile(h, 99); got != 0 {
		t.Errorf("empty: ValueAtPercentile(h, 99) = %d; want 0", got)
	}
	for _, v := range []int64{3_000_123, 5_000_000, 70_000_000} {
		_ = h.RecordValue(v)
	}
	lo, hi := h.Min(), highestEquivalent(g, 3_000_123)
	tests := []struct {
		p    float64
		want int64
	}{
		{0, lo}, {math.Copysign(0, -1), lo}, {-1, hi}, {math.NaN(), hi}, {1e-9, hi},
		{100, h.Max()}, {1000, h.Max()},
	}
	for _, tt := range tests {
		if got := ValueAtPercentile(h, tt.p); got != tt.want {
			t.Errorf("ValueAtPercentile(h, %v) = %d; want %d", tt.p, got, tt.want)
		}
	}
}

// TestNoOtherPercentileRule: every percentile in the module's code goes
// through ValueAtPercentile; a direct call of hdrhistogram-go's
// ValueAtQuantile or ValueAtPercentile (half-up ranks) would report a
// different number than the rest. Test files are free to use them.
func TestNoOtherPercentileRule(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Skip("module root not found")
	}
	direct := regexp.MustCompile(`\.(ValueAtQuantile|ValueAtPercentiles?|ValueAtPercentilesSlice)\(`)
	self, _ := filepath.Abs("percentile.go")
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "vendor"):
			return filepath.SkipDir
		case d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || path == self:
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if direct.MatchString(line) && !strings.Contains(line, "metrics.ValueAtPercentile(") {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("%s:%d: percentile computed by hdrhistogram-go directly; use metrics.ValueAtPercentile: %s", rel, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The p99.9 of 1,600 values (1 ms to 1,600 ms) is the 1,599th smallest,
// rank ⌈1598.4⌉, reported as the top of its bucket: at 3 significant
// digits the bucket holding 1,599 ms is 1.05 ms wide.
func ExampleValueAtPercentile() {
	h := DefaultGeometry().New()
	for i := 1; i <= 1600; i++ {
		_ = h.RecordValue(int64(i) * int64(time.Millisecond))
	}
	fmt.Println(time.Duration(ValueAtPercentile(h, 99.9)))
	// Output: 1.599078399s
}

// TestValueAtPercentileLargeCounts: with counts far beyond any sample one
// could sort (up to ~10^15 values), the result is still the bucket the
// rank reaches in a plain walk, for random percentiles: the way
// ValueAtPercentile asks hdrhistogram-go for rank r holds for large r.
func TestValueAtPercentileLargeCounts(t *testing.T) {
	g := DefaultGeometry()
	rng := rand.New(rand.NewPCG(14, 15))
	for trial := range 200 {
		h := g.New()
		for range 1 + rng.IntN(6) {
			v := int64(float64(time.Microsecond) * math.Pow(1e6, rng.Float64()))
			if err := h.RecordValues(v, 1+rng.Int64N(int64(math.Pow(10, 1+14*rng.Float64())))); err != nil {
				t.Fatal(err)
			}
		}
		n, bars := h.TotalCount(), h.Distribution()
		for range 20 {
			p := 100 * rng.Float64()
			if rng.IntN(4) == 0 { // a boundary between two buckets
				var cum int64
				k := rng.IntN(len(bars))
				for _, b := range bars[:k+1] {
					cum += b.Count
				}
				p = 100 * float64(cum) / float64(n)
			}
			if p == 0 {
				continue // the bottom of the lowest bucket: TestValueAtPercentileEdges
			}
			r := nearestRank(p, n)
			if got, want := ValueAtPercentile(h, p), walkBars(bars, r); got != want {
				t.Fatalf("trial %d: N=%d ValueAtPercentile(h, %v) = %d; the walk to rank %d gives %d", trial, n, p, got, r, want)
			}
		}
	}
}
