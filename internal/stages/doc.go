// Package stages compiles a scenario, with the command line's overrides,
// into the playable stages of a run: each stage's exact schedule (or its
// capacity search settings), its request mix and client settings as the
// engine takes them, and its effective limits. Compile is called once per
// run, before any load is sent, so every problem is found up front.
//
// It is pure: no goroutines, no clocks, no sockets.
package stages
