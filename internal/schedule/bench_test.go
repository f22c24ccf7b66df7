package schedule

import (
	"testing"
	"time"
)

// benchSpecs are the two shapes the benchmarks measure: a constant rate,
// and a launch day (a 100M/day diurnal bell compressed 24h into 10m, with
// two 5× spikes).
func benchSpecs() map[string]Spec {
	return map[string]Spec{
		"constant":          {Constant: &Constant{Rate: 10_000, Duration: time.Hour}},
		"diurnal+spikes":    launchDay(),
		"diurnal+spikes-1d": {Diurnal: hundredM, Spikes: []Spike{{AtFraction: 0.4, Multiplier: 5, Ramp: 30 * time.Minute, Hold: 2 * time.Hour}}},
	}
}

var sinkDuration time.Duration

// benchAt measures At over consecutive indexes, as an agent walks them.
func benchAt(b *testing.B, a Arrival) {
	for name, spec := range benchSpecs() {
		b.Run(name, func(b *testing.B) {
			s := mustSchedule(b, spec, a, 1)
			n := s.Len()
			b.ReportAllocs()
			var i uint64
			for b.Loop() {
				sinkDuration += s.At(i)
				if i++; i == n {
					i = 0
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/arrival")
		})
	}
}

func BenchmarkAtUniform(b *testing.B) { benchAt(b, Uniform) }
func BenchmarkAtPoisson(b *testing.B) { benchAt(b, Poisson) }

// BenchmarkIterShare is an agent's whole per-arrival cost: walking its
// third of the schedule and computing each instant.
func BenchmarkIterShare(b *testing.B) {
	shares, err := Equal(3)
	if err != nil {
		b.Fatal(err)
	}
	for _, a := range []Arrival{Uniform, Poisson} {
		for name, spec := range benchSpecs() {
			b.Run(a.String()+"/"+name, func(b *testing.B) {
				s := mustSchedule(b, spec, a, 1)
				it := shares[1].Iter(0, s.Len())
				b.ReportAllocs()
				for b.Loop() {
					i, ok := it.Next()
					if !ok {
						it = shares[1].Iter(0, s.Len())
						i, _ = it.Next()
					}
					sinkDuration += s.At(i)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/arrival")
			})
		}
	}
}

// BenchmarkNew is the one-off cost of building a curve and its schedule
// (what every agent pays when it is assigned a stage).
func BenchmarkNew(b *testing.B) {
	for _, a := range []Arrival{Uniform, Poisson} {
		for name, spec := range benchSpecs() {
			b.Run(a.String()+"/"+name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					c, err := NewCurve(spec)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := New(c, a, 1); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkCountBefore is the cost of locating an instant in the schedule
// (used for progress and interval accounting).
func BenchmarkCountBefore(b *testing.B) {
	for _, a := range []Arrival{Uniform, Poisson} {
		b.Run(a.String(), func(b *testing.B) {
			s := mustSchedule(b, launchDay(), a, 1)
			d := s.Duration()
			b.ReportAllocs()
			var k int64
			for b.Loop() {
				k = (k + 7919) % 100_000
				_ = s.CountBefore(d * time.Duration(k) / 100_000)
			}
		})
	}
}
