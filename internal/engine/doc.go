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
// Safety: every dial — both clients, every redirect hop, and Preflight — is
// checked after DNS resolution against the agent's Allowlist (Config.Allow),
// before the connection is attempted; by default only loopback addresses
// may be dialled.
//
// Concurrency: Run may be called from several goroutines at once (an agent
// plays a lost agent's share beside its own); each call has its own pacer,
// transport and recorder. Interval CPU is the whole process's, so callers
// running jobs side by side count it once.
// Run owns every goroutine it starts and returns only after the pacer and
// the interval loop have stopped; request goroutines still outstanding at
// that point are cancelled and exit promptly.
package engine
