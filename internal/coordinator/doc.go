// Package coordinator runs a scenario: it finds agents by gossip (or starts
// them in its own process), dials each one's Session stream, splits every
// stage's global schedule exactly across them, starts them at a common T0,
// merges their per-interval snapshots losslessly and builds the report.
//
// Concurrency: Run is the single orchestrating goroutine. Each agent
// session has one receiving goroutine that forwards messages to Run's
// inbox and exits when the stream ends; Run cancels every stream before it
// returns, so no goroutine outlives it.
package coordinator
