package schedule

import (
	"fmt"
	"strings"
)

// Arrival is how arrival instants are placed under the rate curve.
type Arrival int

const (
	// Uniform spaces arrivals deterministically: arrival i is at the instant
	// where the cumulative rate Λ first exceeds i, so every window holds ∫λ
	// arrivals to within one.
	Uniform Arrival = iota + 1
	// Poisson places arrivals as a non-homogeneous Poisson process with
	// intensity λ(t), drawn from the schedule's seed: the gaps, measured in
	// Λ (expected arrivals), are independent Exp(1) draws.
	Poisson
)

// String returns the arrival process name as written in a scenario.
func (a Arrival) String() string {
	switch a {
	case Uniform:
		return "uniform"
	case Poisson:
		return "poisson"
	default:
		return fmt.Sprintf("arrival(%d)", int(a))
	}
}

// ParseArrival parses an arrival process name as written in a scenario:
// "uniform" or "poisson" (case-insensitive). The empty string is the
// default, Uniform.
func ParseArrival(s string) (Arrival, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "uniform":
		return Uniform, nil
	case "poisson":
		return Poisson, nil
	default:
		return 0, fmt.Errorf("%w: unknown arrival process %q (want uniform or poisson)", ErrInvalid, s)
	}
}

// MarshalText implements encoding.TextMarshaler.
func (a Arrival) MarshalText() ([]byte, error) {
	if a != Uniform && a != Poisson {
		return nil, fmt.Errorf("%w: arrival process %v", ErrInvalid, a)
	}
	return []byte(a.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseArrival.
func (a *Arrival) UnmarshalText(b []byte) error {
	v, err := ParseArrival(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}
