// Command coordinator runs Surge scenarios: it starts (or finds by gossip)
// agents, drives them over gRPC and writes the report.
//
// Its subcommands are run, validate, plan, compare, report, certs, import
// (import har: a journey scenario from a browser recording) and version
// (also --version). run, validate and plan take a scenario file, or "-"
// for stdin (source.go); run and validate also make a one-request
// scenario from flags (--url, adhoc.go), through the same decoder and
// checks. run's --allow-target is the embedded agents' allowlist,
// checked before the run (allowcheck.go) and at every dial.
// main only turns SIGINT and SIGTERM into a cancelled context and exits
// with the code run returns; run(ctx, args, stdout, stderr) is the whole
// program, which tests call in-process. Exit codes are those of
// internal/exitcode: 0 pass, 1 a threshold failed, 2 invalid input or
// usage, 3 the work could not be carried out, 4 a run that cannot be
// judged.
package main
