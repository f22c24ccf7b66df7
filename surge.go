package surge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/surgeload/surge/internal/coordinator"
	"github.com/surgeload/surge/internal/engine"
	"github.com/surgeload/surge/internal/exitcode"
	"github.com/surgeload/surge/internal/livemetrics"
	"github.com/surgeload/surge/internal/push"
	"github.com/surgeload/surge/internal/stages"
	"github.com/surgeload/surge/reporters"
	"github.com/surgeload/surge/scenario"
	"github.com/surgeload/surge/targets"
)

// Errors Run returns; test them with errors.Is. A scenario that cannot be
// played matches scenario.ErrInvalid.
var (
	// ErrNoAgents: not enough compatible agents joined within the wait.
	ErrNoAgents = coordinator.ErrNoAgents
	// ErrTargetUnreachable: an agent could not reach (or may not reach) a
	// stage's target before the stage started.
	ErrTargetUnreachable = coordinator.ErrTargetUnreachable
	// ErrRunFailed: the run started but could not be carried out fully.
	ErrRunFailed = coordinator.ErrRunFailed
	// ErrAgentLost: an agent was lost while it played a stage; the report
	// counts its arrivals as lost. Also matches ErrRunFailed.
	ErrAgentLost = coordinator.ErrAgentLost
)

// Progress is what a run shows once per heartbeat while a stage plays:
// elapsed time, counts so far and the last complete interval's rates and
// percentiles. Its String is one plain line.
type Progress = coordinator.Progress

// Options configure a run. The zero value of a field means its default
// (see DefaultOptions), except where a field says otherwise.
type Options struct {
	// Agents is how many agents to start inside this program (embedded
	// mode). Ignored when Expect > 0. Default 2.
	Agents int
	// Expect, when > 0, starts no agent and waits (at most Wait) for that
	// many external agents to join GossipListen.
	Expect int
	// MinAgents, when > 0, lets the run start with fewer agents than
	// Expect (or Agents) ready, down to this many. By default every one
	// must complete the handshake, or the run fails before any load is
	// sent, naming why each did not (refused, unreachable, another
	// coordinator's).
	MinAgents int
	// GossipListen is the ip:port agents join. Default 127.0.0.1:7946;
	// use 127.0.0.1:0 for an ephemeral port (embedded mode).
	GossipListen string
	// Wait bounds how long to wait for agents to join. Default 30s.
	Wait time.Duration
	// Interval is the reporting interval. Default 1s.
	Interval time.Duration
	// MaxInFlight, Timeout, MaxBody and MaxConns, when set, pin the
	// per-agent limits over every stage's client settings in the scenario
	// (as the command line's flags do); nil leaves the scenario's value,
	// else the default (10,000 in flight, 30s, 1 MiB, the engine's pool
	// bound).
	MaxInFlight *int
	Timeout     *time.Duration
	MaxBody     *int64
	MaxConns    *int
	// Capacity makes every stage search its capacity, as if each had
	// mode: capacity; Search overrides the scenario's search settings.
	Capacity bool
	Search   Search
	// MaxSendLag is the send-lag (and on-wire lag) p99 above which a
	// stage is flagged generator-limited. 0 (DefaultOptions) takes the
	// scenario's safety.max_send_lag, else 5ms.
	MaxSendLag time.Duration
	// AgentTimeout declares an agent lost when nothing came from it for
	// this long. Default 3s.
	AgentTimeout time.Duration
	// MaxClockOffset refuses an agent whose clock differs by more than
	// this. Default 1s; negative means no limit.
	MaxClockOffset time.Duration
	// Log receives progress lines and warnings, one Write per line, from
	// several goroutines (embedded agents, gossip); nil discards them.
	Log io.Writer
	// Progress, if set, receives the playing stage's progress once per
	// heartbeat instead of a plain line on Log.
	Progress func(Progress)
	// Listening, if set, is called with the bound gossip address before
	// any agent is awaited.
	Listening func(gossipAddr string)
	// MetricsListen, if set, serves the run's live Prometheus metrics at
	// /metrics on this ip:port; MetricsListening receives the bound
	// address. The endpoint stays up MetricsLinger after the run (default
	// 20s, so that a scrape every 15 s sees the end; negative: none), or
	// until Plan.Close: see Plan.Wait.
	MetricsListen    string
	MetricsListening func(addr string)
	MetricsLinger    time.Duration
	// Push, when it names a receiver (remote-write, OTLP), pushes the same
	// live metrics there every Push.Interval (default Interval) and once
	// at the end with the final totals, each series labelled run_id.
	Push PushConfig
	// GossipKey (16, 24 or 32 bytes) encrypts gossip. Embedded mode uses
	// a random key when none is set.
	GossipKey []byte
	// DialOptions secure the gRPC connections to external agents (see the
	// README's "running across machines"); empty means plaintext, which
	// only loopback agents may use unless PlaintextRemote is set.
	DialOptions     []grpc.DialOption
	PlaintextRemote bool
	// Token, if set, is the shared token: every external agent must prove
	// it holds it in the Session handshake or it is refused, and the
	// coordinator proves it back (AgentOptions.Token); it is never sent.
	Token []byte
	// StartTarget starts a bundled topology and returns its base URL and a
	// stop function; nil starts it from package targets on loopback.
	StartTarget func(name string) (url string, stop func() error, err error)
	// Verbose shows the gossip library's own log lines on Log.
	Verbose bool
	// Hlog, if set, receives latency.hlog (the HdrHistogram interval log)
	// as the run plays, a stage at a time when it ends: per interval the
	// response times (untagged, and tagged with the stage and with each
	// request name) and the stage's service time, send lag and on-wire
	// lag (see reporters.HlogWriter). report.json keeps only the response
	// times per interval, from which reporters.WriteHlog writes the first
	// two kinds of line. The run does not close it.
	Hlog io.Writer
}

// Search overrides a capacity search's settings, field by field; zero
// fields leave the scenario's value.
type Search struct {
	// Method is "binary" or "step".
	Method string
	// Start and Max are the first and highest rates tried, per second.
	Start, Max float64
	// Hold is how long each rate is held.
	Hold time.Duration
	// SLO are expressions every step must meet, like "p99 < 250ms".
	SLO []string
	// MaxSteps bounds the rates tried.
	MaxSteps int
}

// DefaultOptions is embedded mode: two agents in this program, gossip on
// 127.0.0.1:7946.
func DefaultOptions() Options {
	c := coordinator.DefaultConfig()
	return Options{Agents: c.Agents, GossipListen: c.GossipListen, Wait: c.Wait, Interval: c.Interval,
		AgentTimeout: c.AgentTimeout, MaxClockOffset: c.MaxClockOffset}
}

// Load reads and validates the scenario file at path. Every problem is
// reported at once, one per line as FILE:LINE:COL: message, and the error
// matches scenario.ErrInvalid. A bundled topology this build does not ship
// is an error; warnings go to warn (nil ignores them).
func Load(path string, warn func(*scenario.Error)) (*scenario.Scenario, error) {
	return scenario.Load(path, parseOptions(warn))
}

// Parse validates a scenario from YAML source; name is used in messages.
func Parse(name string, src []byte, warn func(*scenario.Error)) (*scenario.Scenario, error) {
	return scenario.Parse(name, src, parseOptions(warn))
}

func parseOptions(warn func(*scenario.Error)) scenario.Options {
	return scenario.Options{
		IsBundled: func(name string) bool { _, ok := targets.Describe(name); return ok },
		Warn:      warn,
	}
}

// Build checks a scenario built in code, as Parse checks a file (every
// problem at once, each with its field path), and fills in its defaults
// and parsed thresholds. It changes sc and returns it.
func Build(sc *scenario.Scenario) (*scenario.Scenario, error) {
	if err := sc.Validate(parseOptions(nil)); err != nil {
		return nil, err
	}
	sc.ApplyDefaults()
	for i := range sc.Thresholds {
		p, err := scenario.ParseThreshold(sc.Thresholds[i].Expr)
		if err != nil { // Validate checked it
			return nil, fmt.Errorf("%w: thresholds[%d]: %w", scenario.ErrInvalid, i, err)
		}
		sc.Thresholds[i].Parsed = p
	}
	return sc, nil
}

// Plan is a scenario compiled for a run: every stage's exact schedule (or
// search settings) and client settings, checked before any load is sent.
type Plan struct {
	opts Options
	plan *stages.Plan
	// pushStats counts the last Run's pushes (Options.Push).
	pushStats PushStats
	// lingering is closed once the live metrics endpoint is down (nil:
	// none was served); closing ends the linger early.
	lingering chan struct{}
	closing   chan struct{}
	closeOnce sync.Once
}

// Length is how long the plan's load plays at most: every stage's
// scheduled length, a capacity search counted at its step bound (steps ×
// hold); cooldowns, lead times and drains come on top.
func (p *Plan) Length() time.Duration {
	var d time.Duration
	for _, st := range p.plan.Stages {
		switch {
		case st.Schedule != nil:
			d += st.Schedule.Duration()
		case st.Search != nil:
			d += time.Duration(st.Search.MaxSteps) * st.Search.Hold.Std()
		}
	}
	return d
}

// Names are the plan's request names.
func (p *Plan) Names() []string { return p.plan.Names() }

// DefaultMetricsLinger is how long the live metrics stay up after a run:
// long enough for a Prometheus scraping every 15 s to see the end.
const DefaultMetricsLinger = 20 * time.Second

// Compile checks sc with opts and compiles it; the error lists what
// cannot be played and matches scenario.ErrInvalid (problems of a stage's
// schedule are positioned in the scenario file).
func Compile(sc *scenario.Scenario, opts Options) (*Plan, error) {
	if sc == nil {
		return nil, fmt.Errorf("%w: no scenario", scenario.ErrInvalid)
	}
	p, err := stages.Compile(sc, overrides(opts))
	if err != nil {
		return nil, err
	}
	return &Plan{opts: opts, plan: p}, nil
}

// Run carries out the plan and returns its report. The report is returned
// whenever load was sent, even with an error, so what was measured is
// never lost; its Verdict says whether the run passed.
//
// With Options.MetricsListen the live metrics are served from the start
// and kept up after Run returns, for Options.MetricsLinger: Wait for it
// (or Close to end it) before the program exits. A Plan runs once.
func (p *Plan) Run(ctx context.Context) (*reporters.Report, error) {
	cfg := config(p.opts)
	if p.opts.MetricsListen != "" {
		exp := livemetrics.New()
		addr, stop, err := livemetrics.Serve(p.opts.MetricsListen, exp)
		if err != nil {
			return nil, err
		}
		if p.opts.MetricsListening != nil {
			p.opts.MetricsListening(addr)
		}
		cfg.Metrics = exp
		defer p.linger(stop)
	}
	if !p.opts.Push.Enabled() {
		return coordinator.Play(ctx, cfg, p.plan)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = livemetrics.New()
	}
	pc := p.opts.Push
	if pc.Interval == 0 {
		pc.Interval = cfg.Interval
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(cfg.Metrics); err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	pusher, err := push.Start(ctx, pc, reg)
	if err != nil {
		return nil, err
	}
	rep, err := coordinator.Play(ctx, cfg, p.plan)
	// The final totals are pushed even when ctx ended (Ctrl-C): the
	// pusher's own timeout and retries bound it.
	p.pushStats = pusher.Close(context.WithoutCancel(ctx))
	return rep, err
}

// PushConfig selects the receivers a run's metrics are pushed to (see
// Options.Push): Prometheus remote-write 1.0 and OTLP/HTTP URLs, extra
// labels, headers (like Authorization), TLS and the interval.
type PushConfig = push.Config

// PushStats counts the pushes of a run by receiver, succeeded and failed.
type PushStats = push.Stats

// DefaultPushConfig pushes nowhere, with the default timeout and retries.
func DefaultPushConfig() PushConfig { return push.DefaultConfig() }

// ParsePushLabel parses a name=value push label.
func ParsePushLabel(s string) (string, string, error) { return push.ParseLabel(s) }

// ParsePushHeader parses a "Name: value" push header.
func ParsePushHeader(s string) (string, string, error) { return push.ParseHeader(s) }

// PushStats returns the counts of the last Run's pushes (zero without
// Options.Push).
func (p *Plan) PushStats() PushStats { return p.pushStats }

// linger keeps the metrics endpoint up for the linger, then stops it; its
// goroutine ends then, or at Close.
func (p *Plan) linger(stop func()) {
	d := p.opts.MetricsLinger
	if d == 0 {
		d = DefaultMetricsLinger
	}
	p.lingering, p.closing = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.lingering)
		defer stop()
		if d < 0 {
			return
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-p.closing:
		}
	}()
}

// Wait blocks until the live metrics endpoint of the last Run is down
// (its linger has passed, or Close was called), or ctx ends; at once when
// none was served.
func (p *Plan) Wait(ctx context.Context) error {
	if p.lingering == nil {
		return nil
	}
	select {
	case <-p.lingering:
		return nil
	case <-ctx.Done():
		p.Close()
		<-p.lingering
		return ctx.Err()
	}
}

// Close ends the linger of the live metrics endpoint now and waits until
// it is down.
func (p *Plan) Close() {
	if p.lingering == nil {
		return
	}
	p.closeOnce.Do(func() { close(p.closing) })
	<-p.lingering
}

// Run compiles sc with opts and carries it out: Compile, then Plan.Run;
// with Options.MetricsListen it returns once the metrics linger is over.
func Run(ctx context.Context, sc *scenario.Scenario, opts Options) (*reporters.Report, error) {
	p, err := Compile(sc, opts)
	if err != nil {
		return nil, err
	}
	rep, err := p.Run(ctx)
	_ = p.Wait(ctx)
	return rep, err
}

// overrides turns the options' limits and search settings into the
// compiler's.
func overrides(o Options) stages.Overrides {
	ov := stages.Overrides{Limits: engine.DefaultLimits(), Capacity: o.Capacity, Search: stages.SearchOverrides(o.Search),
		CheckOptions: coordinator.CheckOptions}
	if o.MaxInFlight != nil {
		ov.Limits.MaxInFlight, ov.Pinned.MaxInFlight = *o.MaxInFlight, true
	}
	if o.Timeout != nil {
		ov.Limits.Timeout, ov.Pinned.Timeout = *o.Timeout, true
		ov.Limits.Drain = *o.Timeout + time.Second // wait for in-flight requests as long as they may take
	}
	if o.MaxBody != nil {
		ov.Limits.MaxBodyBytes, ov.Pinned.MaxBodyBytes = *o.MaxBody, true
	}
	if o.MaxConns != nil {
		ov.Limits.MaxConns, ov.Pinned.MaxConns = *o.MaxConns, true
	}
	return ov
}

// config is the coordinator's configuration for the options.
func config(o Options) coordinator.Config {
	c := coordinator.DefaultConfig()
	c.Overrides = overrides(o)
	c.Expect, c.Capacity, c.MinAgents = o.Expect, o.Capacity, o.MinAgents
	if o.Agents > 0 {
		c.Agents = o.Agents
	}
	if o.GossipListen != "" {
		c.GossipListen = o.GossipListen
	}
	c.Wait, c.Interval, c.MaxSendLag, c.AgentTimeout = o.Wait, o.Interval, o.MaxSendLag, o.AgentTimeout
	switch {
	case o.MaxClockOffset < 0:
		c.MaxClockOffset = 0 // no limit
	case o.MaxClockOffset > 0:
		c.MaxClockOffset = o.MaxClockOffset
	}
	c.Log, c.Progress, c.Listening = o.Log, o.Progress, o.Listening
	c.GossipKey, c.DialOptions, c.PlaintextRemote, c.Token = o.GossipKey, o.DialOptions, o.PlaintextRemote, o.Token
	c.StartTarget, c.Verbose, c.Hlog = o.StartTarget, o.Verbose, o.Hlog
	return c
}

// Exit codes of a run, as the coordinator command uses them.
const (
	ExitPass             = exitcode.OK
	ExitThresholdsFailed = exitcode.ThresholdsFailed
	ExitInvalid          = exitcode.Invalid
	ExitCannotRun        = exitcode.CannotRun
	ExitInvalidRun       = exitcode.InvalidRun
)

// Outcome judges what Run returned: the exit code and, unless the run
// passed, an error saying why. An agent lost mid-run or a verdict of
// invalid makes the run invalid (4): it cannot be judged; a verdict of
// fail — failed thresholds, or a stage whose requests mostly failed when
// no threshold judges errors (see reporters.DefaultMaxErrorRate) — fails
// it (1); a run that could not be carried out is 3, an invalid scenario 2.
func Outcome(rep *reporters.Report, runErr error) (code int, err error) {
	switch {
	case errors.Is(runErr, scenario.ErrInvalid):
		return ExitInvalid, runErr
	case rep != nil && errors.Is(runErr, ErrAgentLost):
		return ExitInvalidRun, fmt.Errorf("the run is invalid: %w", runErr)
	case runErr != nil:
		return ExitCannotRun, runErr
	case rep == nil:
		return ExitCannotRun, errors.New("no report")
	}
	switch rep.Verdict {
	case reporters.VerdictInvalid:
		return ExitInvalidRun, fmt.Errorf("the run is invalid: %s", strings.Join(rep.Reasons, "; "))
	case reporters.VerdictFail:
		what := "thresholds failed"
		for _, r := range rep.Reasons {
			if !strings.Contains(r, `threshold "`) {
				what = "the run failed" // the default error check, or an abort
			}
		}
		return ExitThresholdsFailed, fmt.Errorf("%s: %s", what, strings.Join(rep.Reasons, "; "))
	}
	return ExitPass, nil
}

// ExitCode is Outcome's code.
func ExitCode(rep *reporters.Report, runErr error) int {
	code, _ := Outcome(rep, runErr)
	return code
}
