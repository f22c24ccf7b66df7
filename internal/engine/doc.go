// Package engine is Surge's HTTP firing engine: it plays an agent's share of
// a schedule against a target, sending every arrival at its intended instant
// on the monotonic clock, and records what happened into per-interval
// metrics.
//
// The engine is open-model. It never waits for the target before sending
// the next arrival: each arrival is sent by its own goroutine as soon as it
// falls due, however many earlier requests are still outstanding. When the
// in-flight cap is reached the arrival is counted as dropped with its cause,
// never delayed. Whenever the pacer wakes it sends everything that has
// fallen due, and its own lateness is recorded as send lag.
//
// Latency is measured from the intended send time (response time), and
// also from the actual send (service time), so a stalled target shows up in
// the response-time percentiles exactly as users would feel it.
//
// Safety: every dial is checked after DNS resolution against an allow
// function; by default only loopback addresses may be dialled.
//
// Concurrency: Run may be called from one goroutine at a time per Engine.
// Run owns every goroutine it starts and returns only after the pacer and
// the interval loop have stopped; request goroutines still outstanding at
// that point are cancelled and exit promptly.
package engine
