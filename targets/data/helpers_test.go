package data

import (
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// metricValue returns the value of the series name{labels...} that g
// exposes, failing the test if there is not exactly one.
func metricValue(t *testing.T, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	if len(labels)%2 != 0 {
		t.Fatalf("metricValue(%s): labels must be name, value pairs", name)
	}
	families, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var found []*dto.Metric
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for i := 0; i < len(labels); i += 2 {
				if !hasLabel(m, labels[i], labels[i+1]) {
					continue metrics
				}
			}
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s{%s}: found %d series; want 1", name, strings.Join(labels, ","), len(found))
	}
	m := found[0]
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	t.Fatalf("%s: not a counter or gauge", name)
	return 0
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// zipf draws ranks 0..n-1 with P(i) ∝ 1/(i+1)^s, for any s ≥ 0
// (math/rand/v2's Zipf needs s > 1), by inverting the CDF.
type zipf struct {
	p, cdf []float64
}

func newZipf(s float64, n int) *zipf {
	z := &zipf{p: make([]float64, n), cdf: make([]float64, n)}
	var sum float64
	for i := range z.p {
		z.p[i] = math.Pow(float64(i+1), -s)
		sum += z.p[i]
	}
	var acc float64
	for i := range z.p {
		z.p[i] /= sum
		acc += z.p[i]
		z.cdf[i] = acc
	}
	z.cdf[n-1] = 1
	return z
}

func (z *zipf) draw(r *rand.Rand) int {
	return sort.SearchFloat64s(z.cdf, r.Float64())
}

// cheHitRate is Che's approximation of the hit rate of an LRU cache of
// capacity c under independent requests with popularities p: the
// characteristic time T solves Σ(1 − e^(−p_i·T)) = c, and the hit rate
// is Σ p_i·(1 − e^(−p_i·T)). It needs c < len(p).
func cheHitRate(p []float64, c int) float64 {
	occupancy := func(T float64) float64 {
		var s float64
		for _, pi := range p {
			s += -math.Expm1(-pi * T)
		}
		return s
	}
	lo, hi := 0.0, 1.0
	for occupancy(hi) < float64(c) {
		hi *= 2
	}
	for range 200 {
		mid := (lo + hi) / 2
		if occupancy(mid) < float64(c) {
			lo = mid
		} else {
			hi = mid
		}
	}
	T := (lo + hi) / 2
	var h float64
	for _, pi := range p {
		h += pi * -math.Expm1(-pi*T)
	}
	return h
}

// topMass is the probability mass of the c most popular keys: the hit
// rate of a perfect LFU cache, an upper bound for LRU.
func topMass(p []float64, c int) float64 {
	var s float64
	for _, pi := range p[:c] {
		s += pi
	}
	return s
}
