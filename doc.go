// Package surge runs Surge load tests from Go programs, the way the
// coordinator command does, without the command line: load (or build) a
// scenario, run it on agents started inside the program or on an existing
// fleet, watch its progress, and get the report and its verdict.
//
//	sc, err := surge.Load("launch.yaml", nil)
//	if err != nil { ... }                  // every problem with line:column
//	opts := surge.DefaultOptions()          // two embedded agents on loopback
//	opts.Progress = func(p surge.Progress) { log.Print(p) }
//	rep, err := surge.Run(ctx, sc, opts)
//	os.Exit(surge.ExitCode(rep, err))       // 0 pass, 1 thresholds failed, …
//
// The schedule is open-model and exact: arrivals are fired at their
// intended instants whatever the target does, latency is measured from the
// intended instant, and every report balances (intended = issued +
// dropped + lost). Embedded agents still join by gossip and are driven
// over gRPC on loopback, so a program exercises the same code path as a
// fleet. With Options.Expect > 0 no agent is started; the run waits for
// that many agents (started with the agent command) to join
// Options.GossipListen.
//
// Run blocks until the run ends or ctx is cancelled; cancelling stops the
// agents and keeps what was measured. Options.Progress is called from
// Run's goroutine only; Options.Log is also written by the embedded agents
// and the gossip layer, from their goroutines, so it must be safe for
// concurrent use (one Write per line).
package surge
