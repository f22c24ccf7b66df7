package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/surgeload/surge/internal/agent"
	"github.com/surgeload/surge/internal/auth"
	"github.com/surgeload/surge/internal/engine"
	"github.com/surgeload/surge/internal/exitcode"
	"github.com/surgeload/surge/internal/version"
	"github.com/surgeload/surge/scenario"
)

// run is the whole program; main only wires signals and the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg := agent.DefaultConfig()
	var sec auth.Flags
	var pprofListen, maxRate string
	var allowTargets []string
	var procs int
	cmd := &cobra.Command{
		Use:   "agent --join COORDINATOR_GOSSIP_ADDR",
		Short: "Surge agent: joins the coordinator's gossip cluster and fires the load it is assigned",
		Long: `The agent joins the gossip cluster at --join, advertising its gRPC address,
protocol version and core count. The coordinator dials it and assigns it a
share of each stage's schedule. The agent stops firing by itself when it has
not heard from its coordinator for --lease; until then, a coordinator whose
stream broke (a network blip) resumes the session on a new one and loses
nothing.

On loopback the control plane may be plaintext. Any other --gossip-listen or
--grpc-listen needs --tls-ca, --tls-cert and --tls-key (mutual TLS: only a
coordinator certificate of that CA may drive this agent) and
--gossip-key-file, all written by ` + "`coordinator certs init`" + `; or
--insecure-allow-remote to accept a plaintext, unauthenticated control plane.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if maxRate != "" {
				r, err := scenario.ParseRate(maxRate)
				if err != nil || !(r > 0) {
					return exitcode.New(exitcode.Invalid, fmt.Errorf("--max-rate %q must be a rate > 0, like 5k/s", maxRate))
				}
				cfg.MaxRate = float64(r)
			}
			if err := checkFlags(cfg, &sec, procs); err != nil {
				return exitcode.New(exitcode.Invalid, err)
			}
			allow, err := engine.ParseAllowlist(allowTargets)
			if err != nil {
				return exitcode.New(exitcode.Invalid, fmt.Errorf("--allow-target: %w", err))
			}
			cfg.Engine.Allow = allow
			var logMu sync.Mutex
			refused := func(remote string, err error) {
				logMu.Lock()
				defer logMu.Unlock()
				fmt.Fprintf(stderr, "agent: refused %s: %v\n", remote, err)
			}
			opts, err := sec.ServerOptions(refused)
			if err != nil {
				return exitcode.New(exitcode.Invalid, err)
			}
			cfg.ServerOptions, cfg.Refused = opts, refused
			if cfg.Token, err = sec.SessionToken(); err != nil {
				return exitcode.New(exitcode.Invalid, err)
			}
			if cfg.GossipKey, err = sec.GossipKey(); err != nil {
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
			fmt.Fprintf(stdout, "agent %s: gossip %s, grpc %s, joining %v; targets allowed: %s\n", a.Name(), a.GossipAddr(), a.GRPCAddr(), cfg.Join, allow)
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
	f.StringVar(&cfg.Name, "name", "", "unique agent name (default: agent-HOST-PID- and 64 random bits, unique by construction)")
	f.StringVar(&cfg.GossipListen, "gossip-listen", cfg.GossipListen, "gossip ip:port (port 0 picks a free one)")
	f.StringVar(&cfg.GRPCListen, "grpc-listen", cfg.GRPCListen, "gRPC ip:port the coordinator dials (port 0 picks a free one)")
	f.DurationVar(&cfg.Lease, "lease", cfg.Lease, "stop firing after this long without a message from the coordinator")
	f.IntVar(&cfg.Cores, "cores", 0, "cores to advertise (default: GOMAXPROCS)")
	f.IntVar(&procs, "procs", 0, "processors the agent's Go runtime uses (GOMAXPROCS; default all). 1 is cheapest per request and best when the agent shares the machine with its target; run one agent per core to use more")
	f.StringVar(&pprofListen, "pprof-listen", "", "serve Go's pprof profiles on this loopback ip:port (for profiling the engine)")
	f.StringVar(&maxRate, "max-rate", "100k/s", "this agent's own limit: refuse any assignment whose share peaks above this rate")
	f.DurationVar(&cfg.MaxDuration, "max-duration", cfg.MaxDuration, "this agent's own limit: refuse any assignment whose schedule lasts longer")
	f.IntVar(&cfg.MaxInFlight, "max-in-flight", 0, "this agent's own limit: at most this many requests outstanding, whatever the coordinator asks (0 = the coordinator's cap)")
	f.StringSliceVar(&allowTargets, "allow-target", nil, "targets this agent may send load to, checked at every dial after DNS (redirects included); no coordinator can widen it. "+
		"A CIDR or IP (10.0.0.0/8, 2001:db8::/32, 192.0.2.7), a host name (api.example.com) or a wildcard (*.example.com: any subdomain, not the apex); repeat or comma-separate. "+
		"Loopback is always allowed; with none, only loopback. Link-local and cloud-metadata addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254) are refused even for an allowed name unless a CIDR names them")
	f.BoolVarP(&cfg.Verbose, "verbose", "v", false, "also log gossip detail: every line of memberlist's own log, prefixed gossip: (without it, only a summary of members of other clusters knocking)")
	sec.Register(f, auth.RoleAgent)
	version.AddFlag(cmd, "agent")
	return exitcode.Execute(cmd, args, stdout, stderr)
}

func checkFlags(cfg agent.Config, sec *auth.Flags, procs int) error {
	var errs []error
	if len(cfg.Join) == 0 {
		errs = append(errs, errors.New("--join is required: the coordinator's gossip address, e.g. 127.0.0.1:7946"))
	}
	listeners := []auth.Listener{{Flag: "--gossip-listen", Addr: cfg.GossipListen}, {Flag: "--grpc-listen", Addr: cfg.GRPCListen}}
	for _, l := range listeners {
		if _, err := netip.ParseAddrPort(l.Addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q must be ip:port", l.Flag, l.Addr))
		}
	}
	if err := sec.Check(listeners...); err != nil {
		errs = append(errs, err)
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
