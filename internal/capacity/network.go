package capacity

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Station is one service centre of a system seen as a queueing network:
// a component with Servers identical servers (slots, pool connections,
// CPUs, workers) that each request of the mix keeps busy for Demand on
// average — its visits × mean service time, summed over its servers'
// work, the time a server is held while waiting downstream included.
//
// N identical components that share the load evenly are one Station with
// N × their servers and the whole demand: 3 shards of 4 connections that
// each take a third of the writes are a Station of 12 servers.
type Station struct {
	// Name names the component, as the target's metrics label it.
	Name string
	// Servers is how many requests the station serves at once; > 0.
	Servers float64
	// Demand is the busy time the station spends per request of the mix,
	// ≥ 0. A station with no demand is no limit and is left out.
	Demand time.Duration
	// Working is how Demand is made up, with the numbers substituted, like
	// "2 + 0.9 × 0.2 × 4.5 + 0.1 × 9 ms"; optional. Bottleneck shows the
	// limiting station's.
	Working string
}

// Ceiling is the throughput, in requests of the mix per second, at which
// the station is busy all the time: Servers ÷ Demand (the utilisation
// law, U = X·D ÷ c, at U = 1). It is +Inf for a station without demand.
func (s Station) Ceiling() float64 {
	if s.Demand <= 0 {
		return math.Inf(1)
	}
	return s.Servers / s.Demand.Seconds()
}

// term is the station's part of a Bottleneck working: "app 8 ÷ 3.71 ms =
// 2,156".
func (s Station) term() string {
	return fmt.Sprintf("%s %s ÷ %s = %s", s.Name, workNumber(s.Servers), millis(s.Demand), FormatNumber(s.Ceiling()))
}

// Bottleneck is the bottleneck analysis of a queueing network: every
// station k saturates at X_k = c_k ÷ D_k requests per second, so the
// system's throughput ceiling is the smallest of them, and the station
// that gives it is the bottleneck. reason is the working in one line with
// the numbers substituted:
//
//	min(app 8 ÷ 3.71 ms = 2,156, db 4 ÷ 1.71 ms = 2,339): limited by app (demand 2 + 1.71 ms)
//
// (the part in parentheses is the limiting station's Working, when it has
// one). Stations with zero demand are left out; on a tie the first station
// is named. The error wraps ErrInvalid when there is no station, a station
// has no name, Servers ≤ 0, NaN or infinite, or a negative Demand, or when
// every station has zero demand (then nothing limits the throughput).
func Bottleneck(stations []Station) (ceiling float64, limiting Station, reason string, err error) {
	if len(stations) == 0 {
		return 0, Station{}, "", fmt.Errorf("%w: no stations", ErrInvalid)
	}
	var errs []error
	var loaded []Station
	for i, s := range stations {
		switch {
		case s.Name == "":
			errs = append(errs, fmt.Errorf("%w: station %d has no name", ErrInvalid, i))
		case math.IsNaN(s.Servers) || math.IsInf(s.Servers, 0) || s.Servers <= 0:
			errs = append(errs, fmt.Errorf("%w: station %s has %v servers, want a finite number > 0", ErrInvalid, s.Name, s.Servers))
		case s.Demand < 0:
			errs = append(errs, fmt.Errorf("%w: station %s has a demand of %v, want ≥ 0", ErrInvalid, s.Name, s.Demand))
		case s.Demand > 0:
			loaded = append(loaded, s)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return 0, Station{}, "", err
	}
	if len(loaded) == 0 {
		return 0, Station{}, "", fmt.Errorf("%w: no station has a demand: nothing limits the throughput", ErrInvalid)
	}
	best := loaded[0]
	terms := make([]string, len(loaded))
	for i, s := range loaded {
		terms[i] = s.term()
		if s.Ceiling() < best.Ceiling() {
			best = s
		}
	}
	if len(loaded) == 1 {
		reason = terms[0]
	} else {
		reason = fmt.Sprintf("min(%s): limited by %s", strings.Join(terms, ", "), best.Name)
	}
	if best.Working != "" {
		reason += " (demand " + best.Working + ")"
	}
	return best.Ceiling(), best, reason, nil
}
