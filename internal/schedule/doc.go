// Package schedule turns a rate curve into the global, deterministic sequence
// of intended arrival instants, and splits that sequence exactly across
// agents.
//
// Everything here is a pure function: no goroutines, no clocks, no sockets.
// An arrival is identified by its global index i (0, 1, 2, …); its intended
// instant is Schedule.At(i), an offset from T0. Because every agent computes
// At from the same parameters, the agents together play exactly the global
// schedule, and a deadline is always computed from the index and T0, never
// by summing sleeps, so nothing drifts.
//
// A Share says which indexes an agent owns: of every Cycle consecutive
// indexes, those at the listed Offsets (striped, in the manner of k6's
// execution segments). Split builds shares that add up to exactly one and
// spreads each share evenly over the cycle.
package schedule
