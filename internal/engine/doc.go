// Package engine is Surge's HTTP firing engine: it plays an agent's share of
// a schedule against a target, sending every arrival at its intended instant
// on the monotonic clock, and records what happened into per-interval
// metrics.
//
// The engine is open-model. It never waits for the target before sending
// the next arrival: each arrival is sent as soon as it falls due, however
// many earlier requests are still outstanding. When the in-flight cap is
// reached the arrival is counted as dropped with its cause, never delayed.
// Whenever a pacer wakes it sends everything that has fallen due, and its
// own lateness is recorded as send lag.
//
// Two ways to send. A job on plain HTTP/1.1 with keep-alive connections
// and Surge's own client (the default) is played by sender loops (loop.go):
// one to GOMAXPROCS goroutines, each pacing a stripe of the share and
// doing the I/O of its requests in an event loop of its own (h1.Loop), so
// that a request costs its system calls and no goroutine or thread
// hand-off; each loop records into its own shard of the recorder. Any
// other job (TLS, HTTP/2, net/http, a connection per request, redirects)
// has one pacer that starts a goroutine per arrival, which does the
// request with a blocking client. Both obey the same rules.
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
// plays a lost agent's share beside its own); each call has its own pacers,
// transport and recorder. A job's Gate and the Config's Observe may be
// called from several goroutines at once (one per sender loop). Interval CPU is the whole process's, so callers
// running jobs side by side count it once.
// Run owns every goroutine it starts and returns only after the pacers,
// the sender loops and the interval loop have stopped; request goroutines
// still outstanding at that point are cancelled and exit promptly.
package engine
