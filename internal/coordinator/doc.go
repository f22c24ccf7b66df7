// Package coordinator orchestrates a run: it finds agents by gossip (or
// starts them in its own process), dials each one's Session stream, deals
// every compiled stage's global schedule exactly across them, starts them
// at a common T0, collects and merges their per-interval snapshots, hands
// a lost agent's share to the survivors, and stops them. What it plays
// comes compiled from package stages; judging (package judge), the report
// model (package report) and predictions (package predict) are pure
// functions it calls on the merged data.
//
// Concurrency: Play is the single orchestrating goroutine. Each agent
// session has one receiving goroutine that forwards messages to Play's
// inbox and exits when the stream ends; Play cancels every stream before
// it returns, so no goroutine outlives it. The target probe and the live
// metrics server it starts are stopped before it returns too.
package coordinator
