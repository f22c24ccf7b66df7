package targets

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/surgeload/surge/internal/capacity"
	"github.com/surgeload/surge/targets/data"
)

// zipfStream draws key ranks 0..n−1 with P(i) = p[i] by inverting the
// CDF, from a seeded generator: the same seed gives the same stream.
type zipfStream struct {
	cdf []float64
	rng *rand.Rand
}

func newZipfStream(p []float64, seed uint64) *zipfStream {
	z := &zipfStream{cdf: make([]float64, len(p)), rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
	var acc float64
	for i, v := range p {
		acc += v
		z.cdf[i] = acc
	}
	return z
}

func (z *zipfStream) next() int {
	return min(sort.SearchFloat64s(z.cdf, z.rng.Float64()), len(z.cdf)-1)
}

// TestCDNEdgeHitRate drives the cdn's edge cache, as buildCDN makes it
// from the default config, with a seeded stream of Zipf(1.1, 100,000)
// keys (the bundled examples' {{zipf 1.1 100000}}) and checks the hit rate
// it measures in its own counters against the analytic value: Che's
// approximation for LRU, within ±0.02; with LFU eviction, between Che's
// LRU value − 0.02 and the mass of the top-C keys + 0.02 (the most any
// cache of C entries can hit). No clock is involved: the TTL (10 minutes)
// is far longer than the test, and the stream is counted, not timed.
func TestCDNEdgeHitRate(t *testing.T) {
	const (
		s, n     = 1.1, 100_000
		warm     = 100_000 // requests before counting: the cache fills
		measured = 300_000
		tol      = 0.02
	)
	p, err := capacity.ZipfPopularity(s, n)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultCDNConfig().Edge
	che, _, err := capacity.CheHitRate(p, cfg.Capacity)
	if err != nil {
		t.Fatal(err)
	}
	top := capacity.TopMass(p, cfg.Capacity)
	for _, ev := range []data.Eviction{data.LRU, data.LFU} {
		t.Run(ev.String(), func(t *testing.T) {
			cfg := cfg
			cfg.Eviction = ev
			origin, err := data.NewTable("origin", data.DefaultTableConfig(), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			edge, err := edgeCache(cfg, origin, nil, newAssembly())
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			z := newZipfStream(p, 18)
			get := func() {
				if _, err := edge.Get(ctx, fmt.Sprint(z.next())); err != nil {
					t.Fatal(err)
				}
			}
			for range warm {
				get()
			}
			h0, m0 := edge.Stats()
			for range measured {
				get()
			}
			h1, m1 := edge.Stats()
			got := float64(h1-h0) / float64((h1-h0)+(m1-m0))
			t.Logf("Zipf(%g, %d), %s edge of %d: measured hit rate %.4f; Che (LRU) %.4f; top-%d mass %.4f", s, n, ev, cfg.Capacity, got, che, cfg.Capacity, top)
			switch ev {
			case data.LRU:
				if math.Abs(got-che) > tol {
					t.Errorf("LRU edge hit rate %.4f; want Che's approximation %.4f ± %.2f", got, che, tol)
				}
			case data.LFU:
				if got < che-tol || got > top+tol {
					t.Errorf("LFU edge hit rate %.4f; want from Che's LRU value %.4f to the top-C mass %.4f (± %.2f)", got, che, top, tol)
				}
			}
		})
	}
}
