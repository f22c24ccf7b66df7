package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/surgeload/surge"
	"github.com/surgeload/surge/internal/auth"
	"github.com/surgeload/surge/internal/engine"
	"github.com/surgeload/surge/internal/exitcode"
	"github.com/surgeload/surge/internal/stages"
	"github.com/surgeload/surge/reporters"
	"github.com/surgeload/surge/scenario"
	"github.com/surgeload/surge/targets"
)

// run is the whole program; main only wires signals and the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return exitcode.Execute(newRoot(ctx, stdout, stderr), args, stdout, stderr)
}

func fail(code int, err error) error { return exitcode.New(code, err) }

func newRoot(ctx context.Context, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "coordinator",
		Short: "Surge coordinator: plays a scenario's schedule across agents and reports honest latencies",
	}
	root.AddCommand(newRun(ctx, stdout, stderr), newValidate(stdout, stderr), newPlan(stdout, stderr))
	root.AddCommand(newCompare(stdout, stderr), newReport(stdout, stderr))
	root.AddCommand(newCerts(stdout), newImport(stdout, stderr))
	return root
}

func loadScenario(path string, stderr io.Writer) (*scenario.Scenario, error) {
	sc, err := scenario.Load(path, scenario.Options{
		IsBundled: func(name string) bool {
			_, ok := targets.Describe(name)
			return ok
		},
		Warn: func(e *scenario.Error) { fmt.Fprintf(stderr, "warning: %v\n", e) },
	})
	if err != nil {
		if errors.Is(err, scenario.ErrInvalid) {
			return nil, invalidScenario(path, err, stderr)
		}
		return nil, fail(exitcode.Invalid, err)
	}
	return sc, nil
}

// invalidScenario prints every problem, one per line with its position,
// and returns the one-line summary error (exit code 2).
func invalidScenario(path string, err error, stderr io.Writer) error {
	fmt.Fprintln(stderr, err)
	msg := strings.TrimSpace(err.Error())
	if strings.HasSuffix(msg, "too many problems; fix these and try again") {
		return fail(exitcode.Invalid, fmt.Errorf("%s: too many problems in the scenario (the first %d are listed)", path, strings.Count(msg, "\n")))
	}
	return fail(exitcode.Invalid, fmt.Errorf("%s: %d problem(s) in the scenario", path, strings.Count(msg, "\n")+1))
}

func newValidate(stdout, stderr io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "validate SCENARIO",
		Short: "Check a scenario file and list every problem with its line and column",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			sc, scheds, err := loadScheduled(args[0], stderr)
			if err != nil {
				return err
			}
			summary(stdout, args[0], sc, scheds)
			if line := clientSummary(sc); line != "" {
				fmt.Fprintln(stdout, line)
			}
			return nil
		},
	}
}

func newRun(ctx context.Context, stdout, stderr io.Writer) *cobra.Command {
	opts := surge.DefaultOptions()
	limits := engine.DefaultLimits()
	var (
		out            string
		quiet          bool
		sec            auth.Flags
		sf             = &searchFlagValues{}
		formats        []string
		maxClockOffset = opts.MaxClockOffset
		memLimit       byteSize
		pf             pushFlags
	)
	_ = memLimit.Set(defaultMemoryLimit)
	cmd := &cobra.Command{
		Use:   "run SCENARIO",
		Short: "Run a scenario (embedded agents by default) and write report.json",
		Long: `Run plays the scenario's schedule against each stage in order.

By default it starts --agents agents inside this process; they join by gossip
and are driven over gRPC on loopback, exactly like a fleet. With --expect N it
starts none and waits (at most --wait) for N external agents to join
--gossip-listen.

On loopback the control plane may be plaintext. A non-loopback --gossip-listen
or --metrics-listen needs --tls-ca, --tls-cert and --tls-key (mutual TLS: the
coordinator talks only to agents holding an agent certificate of that CA,
whatever address gossip gave them) and --gossip-key-file, all written by
` + "`coordinator certs init`" + `; or --insecure-allow-remote to accept a
plaintext, unauthenticated control plane. The TLS and token flags secure the
connections to external agents (--expect); embedded agents talk over loopback.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Callbacks (gossip's log, the listening notices) write from
			// several goroutines: one lock for every write to stderr.
			stderr := &syncWriter{w: stderr}
			if err := checkRunFlags(&opts, limits, maxClockOffset, &sec); err != nil {
				return fail(exitcode.Invalid, err)
			}
			pinLimits(&opts, limits, pinnedLimits(cmd))
			if maxClockOffset == 0 {
				opts.MaxClockOffset = -1 // no limit
			} else {
				opts.MaxClockOffset = maxClockOffset
			}
			if err := securityOptions(&opts, &sec, stderr); err != nil {
				return fail(exitcode.Invalid, err)
			}
			if err := searchFlags(&opts, sf); err != nil {
				return fail(exitcode.Invalid, err)
			}
			if err := checkFormats(formats); err != nil {
				return fail(exitcode.Invalid, err)
			}
			if err := pf.apply(&opts, stderr); err != nil {
				return fail(exitcode.Invalid, err)
			}
			applyMemoryLimit(int64(memLimit))
			if !quiet {
				view := newLiveView(stderr)
				opts.Log, opts.Progress = view, view.show
			}
			if opts.MetricsListen != "" {
				opts.MetricsListening = func(addr string) { fmt.Fprintf(stderr, "live metrics: http://%s/metrics\n", addr) }
			}
			if opts.Expect > 0 {
				opts.Listening = func(addr string) {
					fmt.Fprintf(stderr, "waiting up to %v for %d agent(s) to join %s\n", opts.Wait, opts.Expect, addr)
				}
			}
			// latency.hlog is written as the run plays (it has more than
			// report.json keeps), into a partial file renamed at the end;
			// an --out that cannot be written fails now, not after the run.
			streamed := map[string]string{}
			if slices.Contains(formats, "hlog") {
				f, err := createPartial(out, reportFormats["hlog"].file)
				if err != nil {
					return fail(exitcode.CannotRun, err)
				}
				defer f.Close()
				defer os.Remove(f.Name()) // when it was not renamed into place
				opts.Hlog, streamed["hlog"] = f, f.Name()
			}
			plan, err := compileRun(args[0], opts, stderr)
			if err != nil {
				return err
			}
			defer plan.Close() // the live metrics' linger ends with the command
			if err := checkOut(out, reportSize(plan.Length(), opts.Interval, len(plan.Names()))); err != nil {
				return fail(exitcode.CannotRun, err)
			}
			rep, runErr := plan.Run(ctx)
			reportPush(stderr, plan.PushStats())
			if rep != nil {
				if err := reporters.WriteText(stdout, rep); err != nil {
					return fail(exitcode.CannotRun, err)
				}
				paths, err := writeReports(out, rep, formats, streamed, stderr)
				if err != nil {
					return fail(exitcode.CannotRun, err)
				}
				fmt.Fprintf(stdout, "\nreport: %s\n", strings.Join(paths, ", "))
			}
			if opts.MetricsListen != "" && ctx.Err() == nil {
				linger := opts.MetricsLinger
				if linger == 0 {
					linger = surge.DefaultMetricsLinger
				}
				if linger > 0 {
					fmt.Fprintf(stderr, "live metrics stay up for %v (--metrics-linger; Ctrl-C ends it)\n", linger)
				}
			}
			_ = plan.Wait(ctx)
			if code, err := surge.Outcome(rep, runErr); code != surge.ExitPass {
				return fail(code, err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.Agents, "agents", opts.Agents, "number of agents to start in this process (embedded mode)")
	f.IntVar(&opts.Expect, "expect", 0, "wait for this many external agents instead of starting any; every one must accept, or the run fails before any load is sent")
	f.IntVar(&opts.MinAgents, "min-agents", 0, "start with fewer agents than --expect ready, down to this many (default: all of them)")
	f.DurationVar(&opts.Wait, "wait", 10*time.Second, "how long to wait for agents to join")
	f.StringVar(&opts.GossipListen, "gossip-listen", opts.GossipListen, "gossip ip:port agents join")
	f.DurationVar(&opts.Interval, "interval", opts.Interval, "reporting interval")
	f.IntVar(&limits.MaxInFlight, "max-in-flight", limits.MaxInFlight, "per agent: arrivals beyond this many outstanding requests are dropped")
	f.DurationVar(&limits.Timeout, "timeout", limits.Timeout, "default per-request total timeout")
	f.Int64Var(&limits.MaxBodyBytes, "max-body", limits.MaxBodyBytes, "response body bytes read per request (the rest is discarded)")
	f.IntVar(&limits.MaxConns, "max-conns", limits.MaxConns, "per agent: connections to one target at most (0 = no bound); arrivals then wait for one, counted in response time")
	f.DurationVar(&opts.MaxSendLag, "max-send-lag", 0, "send-lag (and on-wire lag) p99 above which a stage is flagged generator-limited (default: the scenario's safety.max_send_lag, else 5ms)")
	f.StringVar(&out, "out", "surge-results", "directory the reports are written to")
	f.StringSliceVar(&formats, "format", defaultFormats, "reports written into --out: json (report.json), csv (timeseries.csv), junit (junit.xml), hlog (latency.hlog), html (report.html), text (summary.txt)")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress lines on stderr")
	f.Var(&memLimit, "memory-limit", "soft limit on this process's memory (Go's GOMEMLIMIT, which wins when set): the collector runs and returns memory to stay under it; 0 for none. Raise it for runs of many request names over many hours (about 2 KB per interval per name is kept)")
	f.BoolVarP(&opts.Verbose, "verbose", "v", false, "also show the gossip library's own log lines (prefixed gossip:)")
	f.StringVar(&opts.MetricsListen, "metrics-listen", "", "serve the run's live Prometheus metrics at /metrics on this ip:port, as plain HTTP without authentication (off loopback only with --insecure-allow-remote)")
	f.DurationVar(&opts.MetricsLinger, "metrics-linger", surge.DefaultMetricsLinger, "keep --metrics-listen's /metrics up this long after the run, so the last scrape sees the end (negative: not at all)")
	pf.register(f)
	f.BoolVar(&opts.Capacity, "capacity", false, "search every stage's capacity (as if each had mode: capacity): the highest rate that meets the SLO")
	f.StringVar(&sf.method, "search-method", "", "capacity search method: binary or step (default: the scenario's search block, else binary)")
	f.StringVar(&sf.start, "search-start", "", "capacity search: first rate tried, like 100/s")
	f.StringVar(&sf.max, "search-max", "", "capacity search: highest rate tried (default: the scenario's safety.max_rate)")
	f.DurationVar(&opts.Search.Hold, "search-hold", 0, "capacity search: how long each rate is held (default 20s)")
	f.IntVar(&opts.Search.MaxSteps, "search-max-steps", 0, "capacity search: at most this many rates (default 12)")
	f.StringArrayVar(&opts.Search.SLO, "slo", nil, `capacity search: an SLO expression every step must meet, like "p99 < 250ms" (repeatable; default p99 < 250ms and error_rate < 1%)`)
	f.DurationVar(&opts.AgentTimeout, "agent-timeout", opts.AgentTimeout, "take an agent's stream for broken when nothing (snapshot, heartbeat ack) came from it for this long, and resume its session on a new one; it is lost (its share taken over) only if not back within its own lease")
	f.DurationVar(&maxClockOffset, "max-clock-offset", maxClockOffset, "refuse an agent whose clock differs from this one's by more than this (estimated offset plus error bound); 0 = no limit")
	sec.Register(f, auth.RoleCoordinator)
	return cmd
}

// compileRun loads the scenario and compiles it with opts, once: every
// problem is found before any load is sent (exit code 2). Problems of the
// schedules are printed one per line with their position.
func compileRun(path string, opts surge.Options, stderr io.Writer) (*surge.Plan, error) {
	sc, err := loadScenario(path, stderr)
	if err != nil {
		return nil, err
	}
	for _, st := range sc.Stages {
		if _, ok := targets.Describe(st.Bundled); st.Bundled != "" && !ok {
			return nil, fail(exitcode.Invalid, fmt.Errorf("stage %s: bundled topology %q is not available in this build (available: %s)",
				st.Name, st.Bundled, strings.Join(targets.Names(), ", ")))
		}
	}
	plan, err := surge.Compile(sc, opts)
	if err != nil {
		if _, positioned := errors.AsType[*scenario.Error](err); positioned {
			return nil, invalidScenario(path, err, stderr)
		}
		return nil, fail(exitcode.Invalid, err)
	}
	return plan, nil
}

// pinLimits pins in opts the limit flags the user set, with their values.
func pinLimits(opts *surge.Options, l engine.Limits, pin stages.PinnedLimits) {
	if pin.MaxInFlight {
		opts.MaxInFlight = &l.MaxInFlight
	}
	if pin.Timeout {
		opts.Timeout = &l.Timeout
	}
	if pin.MaxBodyBytes {
		opts.MaxBody = &l.MaxBodyBytes
	}
	if pin.MaxConns {
		opts.MaxConns = &l.MaxConns
	}
}

// searchFlagValues are the capacity search flags that need parsing.
type searchFlagValues struct{ method, start, max string }

// searchFlags parses the capacity search flags into cfg.Search.
func searchFlags(cfg *surge.Options, sf *searchFlagValues) error {
	var errs []error
	if sf.method != "" && sf.method != scenario.SearchBinary && sf.method != scenario.SearchStep {
		errs = append(errs, fmt.Errorf("--search-method %q must be binary or step", sf.method))
	}
	cfg.Search.Method = sf.method
	for _, r := range []struct {
		flag, v string
		dst     *float64
	}{{"search-start", sf.start, &cfg.Search.Start}, {"search-max", sf.max, &cfg.Search.Max}} {
		if r.v == "" {
			continue
		}
		rate, err := scenario.ParseRate(r.v)
		if err != nil || !(rate > 0) {
			errs = append(errs, fmt.Errorf("--%s %q must be a rate > 0, like 100/s or 2k/s", r.flag, r.v))
			continue
		}
		*r.dst = float64(rate)
	}
	if cfg.Search.Hold < 0 {
		errs = append(errs, fmt.Errorf("--search-hold %v must be > 0", cfg.Search.Hold))
	}
	if n := cfg.Search.MaxSteps; n < 0 || n > scenario.MaxSearchSteps {
		errs = append(errs, fmt.Errorf("--search-max-steps %d must be in 1..%d", n, scenario.MaxSearchSteps))
	}
	return errors.Join(errs...)
}

// pinnedLimits says which limit flags the user set. Those win over the
// scenario's client settings in every stage; a flag left at its default
// only fills in what the scenario does not set.
func pinnedLimits(cmd *cobra.Command) stages.PinnedLimits {
	fl := cmd.Flags()
	return stages.PinnedLimits{
		MaxInFlight:  fl.Changed("max-in-flight"),
		Timeout:      fl.Changed("timeout"),
		MaxBodyBytes: fl.Changed("max-body"),
		MaxConns:     fl.Changed("max-conns"),
	}
}

// clientSummary says in one line which client settings the scenario sets
// for each stage, or "" when it sets none.
func clientSummary(sc *scenario.Scenario) string {
	var parts []string
	same := true
	for k := range sc.Stages {
		c := sc.StageClient(k)
		same = same && c.String() == sc.StageClient(0).String()
		if !c.IsZero() {
			parts = append(parts, fmt.Sprintf("stage %s %s", sc.Stages[k].Name, c))
		}
	}
	switch {
	case len(parts) == 0:
		return ""
	case same && len(sc.Stages) > 1:
		return fmt.Sprintf("Client settings (every stage): %s; command-line limit flags override them.", sc.StageClient(0))
	}
	return fmt.Sprintf("Client settings: %s; command-line limit flags override them.", strings.Join(parts, "; "))
}

// securityOptions fills the dial options and the gossip key that the
// security flags ask for. Embedded agents are dialled over loopback with
// the cluster's own gossip key, so the TLS and token flags are for
// external agents only.
func securityOptions(cfg *surge.Options, sec *auth.Flags, stderr io.Writer) error {
	var err error
	if cfg.GossipKey, err = sec.GossipKey(); err != nil {
		return err
	}
	if cfg.Expect == 0 {
		if sec.Secured() {
			fmt.Fprintln(stderr, "warning: --tls-* and --token-file secure external agents (--expect); the embedded agents are not dialled with them")
		}
		return nil
	}
	if cfg.DialOptions, err = sec.DialOptions(); err != nil {
		return err
	}
	cfg.PlaintextRemote = sec.AllowRemote
	cfg.Token, err = sec.SessionToken()
	return err
}

func checkRunFlags(cfg *surge.Options, limits engine.Limits, maxClockOffset time.Duration, sec *auth.Flags) error {
	var errs []error
	if cfg.Expect < 0 {
		errs = append(errs, fmt.Errorf("--expect %d must be >= 0", cfg.Expect))
	}
	if cfg.Expect == 0 && (cfg.Agents < 1 || cfg.Agents > 256) {
		errs = append(errs, fmt.Errorf("--agents %d must be in 1..256", cfg.Agents))
	}
	if cfg.Wait <= 0 {
		errs = append(errs, fmt.Errorf("--wait %v must be > 0", cfg.Wait))
	}
	listeners := []auth.Listener{{Flag: "--gossip-listen", Addr: cfg.GossipListen}}
	if cfg.MetricsListen != "" {
		listeners = append(listeners, auth.Listener{Flag: "--metrics-listen", Addr: cfg.MetricsListen})
		// The metrics are plain HTTP without authentication whatever
		// secures the control plane: off loopback only when asked.
		if ap, err := netip.ParseAddrPort(cfg.MetricsListen); err == nil && !ap.Addr().IsLoopback() && !sec.AllowRemote {
			errs = append(errs, fmt.Errorf("--metrics-listen %s is not loopback: the metrics are plain HTTP without authentication; add --insecure-allow-remote to serve them there", cfg.MetricsListen))
		}
	}
	for _, l := range listeners {
		if _, err := netip.ParseAddrPort(l.Addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q must be ip:port", l.Flag, l.Addr))
		}
	}
	if err := sec.Check(listeners...); err != nil {
		errs = append(errs, err)
	}
	if cfg.AgentTimeout < 500*time.Millisecond || cfg.AgentTimeout > 10*time.Minute {
		errs = append(errs, fmt.Errorf("--agent-timeout %v must be in [500ms, 10m]", cfg.AgentTimeout))
	}
	if maxClockOffset < 0 {
		errs = append(errs, fmt.Errorf("--max-clock-offset %v must be >= 0", maxClockOffset))
	}
	if cfg.Interval < 100*time.Millisecond || cfg.Interval > time.Minute {
		errs = append(errs, fmt.Errorf("--interval %v must be in [100ms, 1m]", cfg.Interval))
	}
	limits.Drain = limits.Timeout + time.Second
	if err := limits.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// The report formats of run --format, by name: the file each is written
// to in --out, and its writer.
var (
	defaultFormats = []string{"json", "csv", "junit", "hlog", "html"}
	reportFormats  = map[string]struct {
		file  string
		write func(io.Writer, *reporters.Report) error
	}{
		"json":  {"report.json", reporters.WriteJSON},
		"csv":   {"timeseries.csv", reporters.WriteCSV},
		"junit": {"junit.xml", reporters.WriteJUnit},
		"hlog":  {"latency.hlog", func(w io.Writer, r *reporters.Report) error { return reporters.WriteHlog(w, r, r.Started) }},
		"text":  {"summary.txt", reporters.WriteText},
		"html":  {"report.html", reporters.WriteHTML},
	}
)

// checkFormats refuses a --format name that has no writer.
func checkFormats(formats []string) error {
	for _, f := range formats {
		if _, ok := reportFormats[f]; !ok {
			return fmt.Errorf("--format %q: want json, csv, junit, hlog, html or text", f)
		}
	}
	return nil
}

// writeReports writes each format into dir and returns the paths written.
// report.json is always written, first: every other format can be
// rendered again from it, so failing to write it is the only error; a
// failure with another format is a warning on warn and the others are
// still written. A format in streamed was written during the run into the
// partial file it names, which is renamed into place.
func writeReports(dir string, rep *reporters.Report, formats []string, streamed map[string]string, warn io.Writer) ([]string, error) {
	formats = append([]string{"json"}, slices.DeleteFunc(slices.Clone(formats), func(f string) bool { return f == "json" })...)
	var paths []string
	for _, f := range formats {
		rf := reportFormats[f]
		var path string
		var err error
		if partial, ok := streamed[f]; ok {
			path = filepath.Join(dir, rf.file)
			if err = os.Rename(partial, path); err != nil {
				err = fmt.Errorf("write %s: %w", rf.file, err)
			}
		} else {
			path, err = writeFileAtomic(dir, rf.file, func(w io.Writer) error { return rf.write(w, rep) })
		}
		switch {
		case err != nil && f == "json":
			return paths, err
		case err != nil:
			fmt.Fprintf(warn, "warning: %v (report.json is whole; render it again with `coordinator report`)\n", err)
		default:
			paths = append(paths, path)
		}
	}
	return paths, nil
}

// createPartial creates dir (if need be) and the partial file of name in
// it, for a format written while the run plays.
func createPartial(dir, name string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("--out %s: %w", dir, err)
	}
	f, err := os.Create(filepath.Join(dir, name+".partial"))
	if err != nil {
		return nil, fmt.Errorf("--out %s is not writable: %w", dir, err)
	}
	return f, nil
}

// writeFileAtomic writes name in dir through a temporary file renamed into
// place, so a reader never sees half a report.
func writeFileAtomic(dir, name string, write func(io.Writer) error) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("report directory: %w", err)
	}
	path := filepath.Join(dir, name)
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return "", fmt.Errorf("write %s: %w", name, err)
	}
	if err := write(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return "", fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("write %s: %w", name, err)
	}
	return path, nil
}

// syncWriter serialises writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
