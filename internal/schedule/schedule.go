package schedule

import (
	"errors"
	"math"
	"time"
)

// Schedule is the global arrival schedule of one stage: arrival index i ↦
// intended instant At(i), an offset from T0. It is immutable and safe for
// concurrent use.
type Schedule struct {
	curve   *Curve
	arrival Arrival
	seed    uint64
	n       uint64
	pois    *poissonTable // Poisson only
}

// New builds the schedule of a curve.
//
// Uniform: t_i = Λ⁻¹(i), the instant at which the expected count first
// exceeds i, so arrival 0 is at T0 (or at the end of a leading stretch of
// zero rate) and any window [a, b) holds Λ(b) − Λ(a) arrivals to within one.
//
// Poisson: t_i = Λ⁻¹(S_i) with S the epochs of a unit-rate Poisson process
// drawn from seed (see poissonTable): the same (spec, seed) gives the same
// instants on every agent, whatever the split. Building costs O(N/B) with
// B = max(64, N/2^18) rounded up to a power of two, and At(i) costs log₂B
// Beta draws.
//
// In both cases Len = #{i : At(i) < Duration} and CountBefore(t) =
// #{i : At(i) < t}: both are computed from an estimate and then settled
// against At itself, so Len, At and CountBefore agree exactly.
func New(c *Curve, arrival Arrival, seed uint64) (*Schedule, error) {
	if c == nil {
		return nil, invalid("no curve")
	}
	if arrival != Uniform && arrival != Poisson {
		return nil, invalid("arrival process %v is not supported", arrival)
	}
	s := &Schedule{curve: c, arrival: arrival, seed: seed}
	if arrival == Poisson {
		s.pois = newPoissonTable(seed, c.total)
	}
	s.n = s.settle(s.estimate(c.total), math.MaxUint64, c.dur)
	return s, nil
}

// NewConstant builds the schedule of a constant rate. Invalid settings are
// rejected here, so nothing can fail while a run is firing.
func NewConstant(c Constant, a Arrival) (*Schedule, error) {
	var errs []error
	if a != Uniform && a != Poisson {
		errs = append(errs, invalid("arrival process %v is not supported", a))
	}
	curve, err := NewCurve(Spec{Constant: &c})
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return New(curve, a, 0)
}

// estimate is the number of arrivals whose Λ position is below y: ⌈y⌉ for
// Uniform, the tree count for Poisson.
func (s *Schedule) estimate(y float64) uint64 {
	if y <= 0 {
		return 0
	}
	if s.pois != nil {
		return s.pois.count(y)
	}
	return uint64(math.Ceil(y))
}

// settle corrects an estimate n of #{i < limit : At(i) < t} using At
// itself, so that the result agrees with At exactly: rounding to the
// nanosecond can move an arrival across t.
func (s *Schedule) settle(n, limit uint64, t time.Duration) uint64 {
	n = min(n, limit)
	for n > 0 && s.At(n-1) >= t {
		n--
	}
	for n < limit && s.At(n) < t {
		n++
	}
	return n
}

// Len is the number of arrivals in the schedule.
func (s *Schedule) Len() uint64 { return s.n }

// Duration is the played duration of the stage's load.
func (s *Schedule) Duration() time.Duration { return s.curve.dur }

// Arrival returns the arrival process.
func (s *Schedule) Arrival() Arrival { return s.arrival }

// Curve returns the rate curve.
func (s *Schedule) Curve() *Curve { return s.curve }

// Spec returns a copy of the curve's spec.
func (s *Schedule) Spec() Spec { return s.curve.Spec() }

// Seed returns the seed of the Poisson draws (kept for Uniform too).
func (s *Schedule) Seed() uint64 { return s.seed }

// At is the intended instant of arrival i as an offset from T0, truncated
// to the nanosecond. It is defined for every i: it is < Duration for
// i < Len and Duration from Len on, and it never decreases with i.
//
// (Precisely: on constant pieces every operation is monotone in i, so At
// is exactly non-decreasing. Elsewhere Λ⁻¹ is computed to within 0.01 ns;
// uniform arrivals are at least 100 ns apart (MaxRate), so they keep their
// order, and two Poisson arrivals could swap only if they were less than
// 0.01 ns apart and straddled a nanosecond boundary, about once in 10¹⁰
// arrivals, by one nanosecond.)
func (s *Schedule) At(i uint64) time.Duration {
	y := float64(i)
	if s.pois != nil {
		y = s.pois.value(i)
	}
	return time.Duration(s.curve.inverse(y))
}

// CountBefore is the number of arrivals whose intended instant is < t.
func (s *Schedule) CountBefore(t time.Duration) uint64 {
	if t <= 0 {
		return 0
	}
	if t >= s.curve.dur {
		return s.n
	}
	return s.settle(s.estimate(s.curve.cumulative(float64(t))), s.n, t)
}
