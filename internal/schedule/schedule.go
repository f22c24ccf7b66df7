package schedule

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrInvalid is wrapped by every error about invalid schedule settings.
var ErrInvalid = errors.New("invalid schedule")

// Limits on what a schedule may describe. They keep every arrival index and
// instant representable and every run bounded.
const (
	// MaxRate is the highest rate a curve may ask for, in requests per second.
	MaxRate = 10_000_000
	// MaxDuration is the longest a single stage may last.
	MaxDuration = 7 * 24 * time.Hour
)

// Arrival is how arrival instants are placed under the rate curve.
type Arrival int

const (
	// Uniform spaces arrivals deterministically: arrival i is at the instant
	// where the cumulative rate reaches i.
	Uniform Arrival = iota + 1
)

// String returns the arrival process name as written in a scenario.
func (a Arrival) String() string {
	switch a {
	case Uniform:
		return "uniform"
	default:
		return fmt.Sprintf("arrival(%d)", int(a))
	}
}

// Constant is a fixed rate for a duration.
type Constant struct {
	// Rate is in requests per second, > 0 and <= MaxRate.
	Rate float64
	// Duration is how long the rate is held, > 0 and <= MaxDuration.
	Duration time.Duration
}

// Schedule is the global arrival schedule of one stage. It is immutable and
// safe for concurrent use.
type Schedule struct {
	constant Constant
	arrival  Arrival
	n        uint64
	// nsPerArrival is 1e9/rate, kept as float64: At(i) = floor(i·nsPerArrival).
	// The product's relative error is ~1e-16, far below 1 ns for any
	// representable duration.
	nsPerArrival float64
}

// NewConstant builds the uniform schedule of a constant rate. Invalid
// settings are rejected here, so nothing can fail while a run is firing.
func NewConstant(c Constant, a Arrival) (*Schedule, error) {
	var errs []error
	if math.IsNaN(c.Rate) || c.Rate <= 0 || c.Rate > MaxRate {
		errs = append(errs, fmt.Errorf("%w: rate %v/s must be > 0 and <= %d/s", ErrInvalid, c.Rate, MaxRate))
	}
	if c.Duration <= 0 || c.Duration > MaxDuration {
		errs = append(errs, fmt.Errorf("%w: duration %v must be > 0 and <= %v", ErrInvalid, c.Duration, MaxDuration))
	}
	if a != Uniform {
		errs = append(errs, fmt.Errorf("%w: arrival process %v is not supported", ErrInvalid, a))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	s := &Schedule{constant: c, arrival: a, nsPerArrival: 1e9 / c.Rate}
	// n = #{i >= 0 : At(i) < Duration}. Start from the real-valued answer
	// and correct for rounding so that n agrees with At exactly.
	n := uint64(math.Ceil(c.Rate * c.Duration.Seconds()))
	for n > 0 && s.At(n-1) >= c.Duration {
		n--
	}
	for s.At(n) < c.Duration {
		n++
	}
	s.n = n
	return s, nil
}

// Len is the number of arrivals in the schedule.
func (s *Schedule) Len() uint64 { return s.n }

// Duration is the length of the stage's load.
func (s *Schedule) Duration() time.Duration { return s.constant.Duration }

// Constant returns the curve the schedule was built from.
func (s *Schedule) Constant() Constant { return s.constant }

// Arrival returns the arrival process.
func (s *Schedule) Arrival() Arrival { return s.arrival }

// At is the intended instant of arrival i as an offset from T0. It is
// defined for every i (also beyond Len) and never decreases with i.
func (s *Schedule) At(i uint64) time.Duration {
	return time.Duration(math.Floor(float64(i) * s.nsPerArrival))
}

// CountBefore is the number of arrivals whose intended instant is < t.
func (s *Schedule) CountBefore(t time.Duration) uint64 {
	if t <= 0 {
		return 0
	}
	if t >= s.constant.Duration {
		return s.n
	}
	n := uint64(math.Ceil(t.Seconds() * s.constant.Rate))
	for n > 0 && s.At(n-1) >= t {
		n--
	}
	for n < s.n && s.At(n) < t {
		n++
	}
	return n
}
