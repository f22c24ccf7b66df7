// Package schedule turns a rate curve into the global, deterministic sequence
// of intended arrival instants, and splits that sequence exactly across
// agents.
//
// Everything here is a pure function: no goroutines, no clocks, no sockets.
// Curve and Schedule values are immutable and safe for concurrent use; a
// Share is a plain value; an Iter belongs to one goroutine.
//
// # Curves
//
// A Spec describes λ(t), the intended rate in requests per second, the way a
// scenario writes it: exactly one base (Constant, Ramp, Steps or Diurnal),
// optional multiplicative Spikes, and an optional compression factor that
// plays the base curve faster at unchanged rates ("24h in 10m"). NewCurve
// validates a Spec, reporting every problem at once, and builds a Curve: a
// table of pieces with exact or converged-to-rounding integrals, so that
// Rate, Cumulative Λ(t) = ∫₀ᵗ λ, Total, Peak and the inverse Λ⁻¹ are all
// cheap and precise (see Curve for the numerics, and Diurnal for the shape of
// a day).
//
//	c, _ := schedule.NewCurve(schedule.Spec{
//		Diurnal:  &schedule.Diurnal{DailyRequests: 100e6, PeakMultiplier: 5, PeakHour: 20},
//		Spikes:   []schedule.Spike{{AtFraction: 0.4, Multiplier: 5, Ramp: 30 * time.Second, Hold: 2 * time.Minute}},
//		Compress: 144,
//	})
//	s, _ := schedule.New(c, schedule.Poisson, seed)
//	for i := range s.Len() { fire(t0.Add(s.At(i))) } // one agent: only its share's i
//
// # Schedules
//
// An arrival is identified by its global index i (0, 1, 2, …); its intended
// instant is Schedule.At(i), an offset from T0, computed from i alone: the
// agents together play exactly the global schedule, and a deadline is never
// computed by summing sleeps, so nothing drifts. Uniform arrivals are at
// Λ⁻¹(i); Poisson arrivals are at Λ⁻¹(S_i) with S a unit-rate Poisson process
// drawn from a seed by a counter-based generator, so every agent computes the
// same instants whatever the split and however Go versions differ.
//
// # Splits
//
// A Share says which indexes an agent owns: of every Cycle consecutive
// indexes, those at the listed Offsets (striped, in the manner of k6's
// execution segments). Split and Equal build shares that add up to exactly
// one and spread each share evenly over the cycle. When an agent is lost,
// the coordinator cuts the schedule at a future index: Union gathers what
// the lost agent owned, and Divide deals it evenly among the survivors from
// the cut on, so every index is still owned exactly once.
package schedule
