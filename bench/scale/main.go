// Command scale measures Surge at fleet scale; bench/scale.sh (`make
// bench-scale`) drives it and writes bench/SCALE.md.
//
//	scale gossip [-nodes 1000] [-profile surge-fleet] [-transport mem] ...
//
// starts a memberlist cluster in this process, every node joining the
// first as agents join their coordinator, and measures how long until
// every node sees every other one (convergence). The profile picks the
// configuration: memberlist's DefaultLANConfig as it comes, or Surge's
// own (cluster.Start, on a fleet address, on loopback, or with
// FastFailureDetection). The transport is an in-memory network shaped
// like UDP and TCP (memnet.go), or real sockets on 127.0.0.1. It prints
// one JSON object (gossipResult) and exits 0, or 3 when the cluster did
// not converge within -timeout.
//
//	scale exec -log FILE -rusage FILE [-stdout FILE] -- COMMAND [ARG...]
//
// runs a command (the coordinator), stamping each line of its stderr with
// the instant it was read (µs since the Unix epoch) and writing, once it
// exits, its exit status, CPU time and peak RSS as JSON (execResult).
//
// Bounded: gossip stops at -timeout (plus -settle and a second to close
// the nodes); exec lasts as long as its command, which it never outlives.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: scale gossip [flags] | scale exec [flags] -- COMMAND [ARG...]")
		return 2
	}
	switch args[0] {
	case "gossip":
		return runGossip(args[1:], stdout, stderr)
	case "exec":
		return runExec(args[1:], stderr)
	default:
		fmt.Fprintf(stderr, "scale: unknown command %q (want gossip or exec)\n", args[0])
		return 2
	}
}
