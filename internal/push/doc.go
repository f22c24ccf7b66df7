// Package push pushes a run's live metrics (package livemetrics' series,
// same names, counters as counters) to Prometheus remote-write 1.0 and to
// OTLP/HTTP receivers, every interval and once at the end with the final
// totals, each series labelled with the run's run_id. Pushes run on their
// own goroutine with a timeout and bounded retries; a failure is counted
// and reported, never slows or fails the run.
package push
