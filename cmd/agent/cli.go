package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/surgeload/surge/internal/agent"
	"github.com/surgeload/surge/internal/exitcode"
	"github.com/surgeload/surge/scenario"
)

// run is the whole program; main only wires signals and the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg := agent.DefaultConfig()
	var allowRemote bool
	var pprofListen, maxRate string
	var procs int
	cmd := &cobra.Command{
		Use:   "agent --join COORDINATOR_GOSSIP_ADDR",
		Short: "Surge agent: joins the coordinator's gossip cluster and fires the load it is assigned",
		Long: `The agent joins the gossip cluster at --join, advertising its gRPC address,
protocol version and core count. The coordinator dials it and assigns it a
share of each stage's schedule. The agent stops firing by itself when it has
not heard from its coordinator for --lease.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if maxRate != "" {
				r, err := scenario.ParseRate(maxRate)
				if err != nil || !(r > 0) {
					return exitcode.New(exitcode.Invalid, fmt.Errorf("--max-rate %q must be a rate > 0, like 5k/s", maxRate))
				}
				cfg.MaxRate = float64(r)
			}
			if err := checkFlags(cfg, allowRemote, procs); err != nil {
				return exitcode.New(exitcode.Invalid, err)
			}
			cfg.Log = stderr
			if procs > 0 {
				// The engine is system-call bound; with fewer processors the
				// runtime hands work between threads less often.
				runtime.GOMAXPROCS(procs)
			}
			if pprofListen != "" {
				addr, stopPprof, err := servePprof(pprofListen)
				if err != nil {
					return exitcode.New(exitcode.Invalid, err)
				}
				defer stopPprof()
				fmt.Fprintf(stdout, "agent: pprof on http://%s/debug/pprof/\n", addr)
			}
			a, err := agent.Start(cfg)
			if err != nil {
				return exitcode.New(exitcode.CannotRun, err)
			}
			fmt.Fprintf(stdout, "agent %s: gossip %s, grpc %s, joining %v\n", a.Name(), a.GossipAddr(), a.GRPCAddr(), cfg.Join)
			<-ctx.Done()
			fmt.Fprintf(stdout, "agent %s: shutting down\n", a.Name())
			if err := a.Close(); err != nil {
				return exitcode.New(exitcode.CannotRun, err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&cfg.Join, "join", nil, "gossip address(es) of the coordinator (host:port), required")
	f.StringVar(&cfg.Name, "name", "", "unique agent name (default: hostname plus a random suffix)")
	f.StringVar(&cfg.GossipListen, "gossip-listen", cfg.GossipListen, "gossip ip:port (port 0 picks a free one)")
	f.StringVar(&cfg.GRPCListen, "grpc-listen", cfg.GRPCListen, "gRPC ip:port the coordinator dials (port 0 picks a free one)")
	f.DurationVar(&cfg.Lease, "lease", cfg.Lease, "stop firing after this long without a message from the coordinator")
	f.IntVar(&cfg.Cores, "cores", 0, "cores to advertise (default: GOMAXPROCS)")
	f.IntVar(&procs, "procs", 0, "processors the agent's Go runtime uses (GOMAXPROCS; default all). 1 is cheapest per request and best when the agent shares the machine with its target; run one agent per core to use more")
	f.StringVar(&pprofListen, "pprof-listen", "", "serve Go's pprof profiles on this loopback ip:port (for profiling the engine)")
	f.StringVar(&maxRate, "max-rate", "100k/s", "this agent's own limit: refuse any assignment whose share peaks above this rate")
	f.DurationVar(&cfg.MaxDuration, "max-duration", cfg.MaxDuration, "this agent's own limit: refuse any assignment whose schedule lasts longer")
	f.IntVar(&cfg.MaxInFlight, "max-in-flight", 0, "this agent's own limit: at most this many requests outstanding, whatever the coordinator asks (0 = the coordinator's cap)")
	f.BoolVar(&allowRemote, "insecure-allow-remote", false, "allow non-loopback listeners (the control plane is plaintext and unauthenticated)")
	return exitcode.Execute(cmd, args, stdout, stderr)
}

func checkFlags(cfg agent.Config, allowRemote bool, procs int) error {
	var errs []error
	if len(cfg.Join) == 0 {
		errs = append(errs, errors.New("--join is required: the coordinator's gossip address, e.g. 127.0.0.1:7946"))
	}
	for _, l := range []struct{ flag, v string }{{"--gossip-listen", cfg.GossipListen}, {"--grpc-listen", cfg.GRPCListen}} {
		ap, err := netip.ParseAddrPort(l.v)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s %q must be ip:port", l.flag, l.v))
		case !ap.Addr().IsLoopback() && !allowRemote:
			errs = append(errs, fmt.Errorf("%s %s is not loopback: the control plane is plaintext and unauthenticated; add --insecure-allow-remote to accept that", l.flag, l.v))
		}
	}
	if cfg.Lease < time.Second || cfg.Lease > 5*time.Minute {
		errs = append(errs, fmt.Errorf("--lease %v must be in [1s, 5m]", cfg.Lease))
	}
	if procs < 0 || procs > 1024 {
		errs = append(errs, fmt.Errorf("--procs %d must be in 0..1024", procs))
	}
	if cfg.Cores < 0 {
		errs = append(errs, fmt.Errorf("--cores %d must be >= 0", cfg.Cores))
	}
	if cfg.MaxDuration <= 0 {
		errs = append(errs, fmt.Errorf("--max-duration %v must be > 0", cfg.MaxDuration))
	}
	if cfg.MaxInFlight < 0 {
		errs = append(errs, fmt.Errorf("--max-in-flight %d must be >= 0", cfg.MaxInFlight))
	}
	return errors.Join(errs...)
}
