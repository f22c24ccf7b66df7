package coordinator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/surgeload/surge/internal/agent"
	"github.com/surgeload/surge/internal/cluster"
	"github.com/surgeload/surge/internal/livemetrics"
	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/internal/stages"
	"github.com/surgeload/surge/internal/tokenproof"
	"github.com/surgeload/surge/internal/wire"
	surgev1 "github.com/surgeload/surge/proto/gen/surge/v1"
	"github.com/surgeload/surge/reporters"
	"github.com/surgeload/surge/scenario"
)

// run is the state of one Play call.
type run struct {
	cfg    Config
	plan   *stages.Plan
	sc     *scenario.Scenario
	id     string
	node   *cluster.Node
	conns  []*conn
	inbox  chan inMsg
	epoch  uint64
	report *reporters.Report
	// aborted says why an abort threshold stopped the run.
	aborted string
	// metrics is the live Prometheus export; nil without MetricsListen.
	metrics *livemetrics.Exporter
	// whole is every judged stage's data merged, wholeDur their length and
	// wholeLost their lost arrivals: what the run-wide thresholds are
	// judged on.
	whole     *metrics.Timeline
	wholeDur  time.Duration
	wholeLost uint64
	// joiners are agents that joined mid-run and were left idle (named
	// once).
	joiners map[string]bool
	// hlog writes latency.hlog a stage at a time; nil without Config.Hlog.
	hlog *reporters.HlogWriter
	// agentWarned are the agents' preflight warnings already in the
	// report (each once, whatever the number of stages).
	agentWarned map[string]bool
	// haltKeepAlive stops the pings that keep the agents' leases while
	// no stage plays; nil while one does.
	haltKeepAlive func()
	// lossErr collects the stages an agent was lost in under
	// on_agent_loss: degrade, beyond safety.max_lost: the run goes on and
	// is invalid at the end.
	lossErr error
}

// Run compiles sc with cfg.Overrides (stages.Compile) and plays it: see
// Play.
func Run(ctx context.Context, cfg Config, sc *scenario.Scenario) (*reporters.Report, error) {
	plan, err := stages.Compile(sc, cfg.Overrides)
	if err != nil {
		return nil, err
	}
	return Play(ctx, cfg, plan)
}

// Play carries out a compiled scenario and returns its report. The report
// is returned (with warnings) even when Play also returns an error after
// load was sent, so what was measured is never lost. cfg.Overrides is not
// read: plan was compiled with them.
func Play(ctx context.Context, cfg Config, plan *stages.Plan) (*reporters.Report, error) {
	if cfg.MaxSendLag <= 0 && plan.Scenario != nil && plan.Scenario.Safety.MaxSendLag > 0 {
		cfg.MaxSendLag = plan.Scenario.Safety.MaxSendLag.Std() // the scenario's bound, unless the caller set one
	}
	cfg = withDefaults(cfg)
	if cfg.Expect <= 0 && cfg.Agents <= 0 {
		return nil, fmt.Errorf("%w: embedded mode needs at least one agent (--agents)", ErrNoAgents)
	}
	sc := plan.Scenario
	r := &run{cfg: cfg, plan: plan, sc: sc, id: newID(), inbox: make(chan inMsg, 64), joiners: map[string]bool{}}
	if r.cfg.Name == "" {
		r.cfg.Name = "coordinator-" + r.id[:6]
	}
	r.report = &reporters.Report{Schema: reporters.Schema, Scenario: sc.Name, RunID: r.id, Started: time.Now().UTC()}
	if cfg.Hlog != nil {
		r.hlog = reporters.NewHlogWriter(cfg.Hlog, r.id, sc.Name, r.report.Started)
	}
	if r.cfg.Expect <= 0 && len(r.cfg.GossipKey) == 0 {
		r.cfg.GossipKey = make([]byte, 32)
		_, _ = rand.Read(r.cfg.GossipKey)
	}
	stop, err := r.setUp(ctx)
	defer stop()
	if err != nil {
		return nil, err
	}
	var runErr error
	for k := range plan.Stages {
		if err := r.stage(ctx, k); err != nil {
			runErr = err
			break
		}
		if ctx.Err() != nil {
			break
		}
		if r.aborted != "" {
			if k+1 < len(plan.Stages) {
				r.warn("run aborted after stage %s (%s): %d later stage(s) not played", plan.Stages[k].Name, r.aborted, len(plan.Stages)-k-1)
			}
			break
		}
	}
	return r.finish(runErr)
}

// withDefaults fills cfg's unset fields from DefaultConfig.
func withDefaults(cfg Config) Config {
	d := DefaultConfig()
	if cfg.GossipListen == "" {
		cfg.GossipListen = d.GossipListen
	}
	if cfg.Wait <= 0 {
		cfg.Wait = d.Wait
	}
	if cfg.Interval <= 0 {
		cfg.Interval = d.Interval
	}
	if cfg.Lead <= 0 {
		cfg.Lead = d.Lead
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = d.Heartbeat
	}
	if cfg.MaxSendLag <= 0 {
		cfg.MaxSendLag = d.MaxSendLag
	}
	if cfg.MaxClockOffset < 0 {
		cfg.MaxClockOffset = d.MaxClockOffset
	}
	if cfg.AgentTimeout <= 0 {
		cfg.AgentTimeout = d.AgentTimeout
	}
	if cfg.TakeoverLead <= 0 {
		cfg.TakeoverLead = d.TakeoverLead
	}
	if cfg.StartTarget == nil {
		cfg.StartTarget = startBundled
		cfg.startWith = startBundledWith
	}
	return cfg
}

// setUp starts what the run needs before its first stage: the live
// metrics, the coordinator's gossip node, the embedded agents; then waits
// for the agents and connects to them. stop undoes it all (in reverse),
// and is valid whatever the error.
func (r *run) setUp(ctx context.Context) (stop func(), err error) {
	var undo []func()
	stop = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	cfg := r.cfg
	if cfg.Metrics != nil {
		r.metrics = cfg.Metrics
	} else if cfg.MetricsListen != "" {
		r.metrics = livemetrics.New()
		addr, stopMetrics, err := livemetrics.Serve(cfg.MetricsListen, r.metrics)
		if err != nil {
			return stop, err
		}
		undo = append(undo, stopMetrics)
		if cfg.MetricsListening != nil {
			cfg.MetricsListening(addr)
		}
	}
	r.metrics.SetRun(r.id, r.sc.Name)
	node, err := cluster.Start(cluster.Config{
		Name: cfg.Name, Listen: cfg.GossipListen, SecretKey: cfg.GossipKey,
		Meta:                 cluster.Meta{Role: cluster.RoleCoordinator, Protocol: wire.ProtocolVersion, Version: agent.Version},
		Log:                  cfg.Log,
		Verbose:              cfg.Verbose,
		FastFailureDetection: cfg.FastFailureDetection,
	})
	if err != nil {
		return stop, fmt.Errorf("coordinator: %w", err)
	}
	r.node = node
	undo = append(undo, func() { node.Close() })
	if cfg.Listening != nil {
		cfg.Listening(node.Addr())
	}
	want := cfg.Expect
	if cfg.Expect <= 0 {
		want = cfg.Agents
		stopAgents, err := r.startEmbedded(cfg.Agents)
		undo = append(undo, stopAgents)
		if err != nil {
			return stop, err
		}
	}
	members, err := r.waitAgents(ctx, want)
	if err != nil {
		return stop, err
	}
	undo = append(undo, func() {
		for _, c := range r.conns {
			c.close()
		}
	})
	need := want
	if cfg.MinAgents > 0 {
		need = min(need, cfg.MinAgents)
	}
	if err := r.connect(ctx, members, max(need, 1)); err != nil {
		return stop, err
	}
	r.haltKeepAlive = r.keepAlive()
	undo = append(undo, func() { r.pauseKeepAlive() })
	return stop, nil
}

// pauseKeepAlive stops the pings between stages (see keepAlive), if they
// run.
func (r *run) pauseKeepAlive() {
	if r.haltKeepAlive != nil {
		r.haltKeepAlive()
		r.haltKeepAlive = nil
	}
}

// finish closes the run's accounts: the agents' totals, the run-wide
// thresholds, the verdict and the balance check.
func (r *run) finish(runErr error) (*reporters.Report, error) {
	if runErr == nil && r.lossErr != nil {
		runErr = fmt.Errorf("%w: %w", ErrRunFailed, r.lossErr)
	}
	for _, c := range r.conns {
		if c.ready { // one refused in the handshake never was the run's
			r.report.Agents = append(r.report.Agents, c.total)
		}
	}
	if r.hlog != nil {
		if err := r.hlog.Flush(); err != nil {
			r.warn("latency.hlog: %v", err)
		}
	}
	r.judgeRun()
	r.report.Judge()
	if err := r.report.Check(); err != nil && runErr == nil {
		runErr = fmt.Errorf("%w: %w", ErrRunFailed, err)
	}
	if runErr != nil && len(r.report.Stages) == 0 {
		return nil, runErr
	}
	return r.report, runErr
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// hlogEmit returns what writes a stage's intervals to latency.hlog as its
// timeline packs them (metrics.Timeline.Emit), or nil when the run writes
// none; a failure to write is warned about once per stage (report.json
// is whole either way).
func (r *run) hlogEmit(sr *stageRun) func(*metrics.Interval, bool) error {
	if r.hlog == nil {
		return nil
	}
	warned := false
	return func(iv *metrics.Interval, _ bool) error {
		if err := r.hlog.Interval(sr.name, sr.t0, sr.tl.Step, sr.tl.Names, iv); err != nil && !warned {
			warned = true
			r.warn("latency.hlog: %v", err)
		}
		return nil
	}
}

func (r *run) logf(format string, args ...any) {
	if r.cfg.Log != nil {
		fmt.Fprintf(r.cfg.Log, format+"\n", args...)
	}
}

// agentWarnings puts an agent's preflight warnings (Accepted.warnings)
// into the report, each once. They are the agent's words: bounded in
// number and length, one line each.
func (r *run) agentWarnings(agent string, ws []string) {
	const maxWarnings, maxLen = 8, 1000
	for i, w := range ws {
		if i == maxWarnings {
			break
		}
		w = strings.Join(strings.Fields(w), " ")
		if len(w) > maxLen {
			w = strings.ToValidUTF8(w[:maxLen], "") + "…"
		}
		if w == "" || r.agentWarned[agent+"\x00"+w] {
			continue
		}
		if r.agentWarned == nil {
			r.agentWarned = map[string]bool{}
		}
		r.agentWarned[agent+"\x00"+w] = true
		r.warn("agent %s: %s", agent, w)
	}
}

func (r *run) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.report.Warnings = append(r.report.Warnings, msg)
	r.logf("warning: %s", msg)
}

// startEmbedded starts n agents in this process; they join by gossip and
// are driven over gRPC on loopback like any other agent.
func (r *run) startEmbedded(n int) (stop func(), err error) {
	var agents []*agent.Agent
	stop = func() { // each Close leaves gossip gracefully (bounded); do them at once
		var wg sync.WaitGroup
		for _, a := range agents {
			wg.Go(func() { a.Close() })
		}
		wg.Wait()
	}
	for k := range n {
		ac := r.cfg.Agent
		ac.Name = fmt.Sprintf("%s-agent-%d", r.cfg.Name, k+1)
		ac.GossipListen, ac.GRPCListen = "127.0.0.1:0", "127.0.0.1:0"
		ac.Join = []string{r.node.Addr()}
		ac.FastFailureDetection = r.cfg.FastFailureDetection
		ac.Verbose = ac.Verbose || r.cfg.Verbose
		ac.GossipKey = r.cfg.GossipKey
		if ac.Log == nil {
			ac.Log = r.cfg.Log
		}
		a, err := agent.Start(ac)
		if err != nil {
			return stop, fmt.Errorf("%w: start embedded agent: %w", ErrNoAgents, err)
		}
		agents = append(agents, a)
	}
	return stop, nil
}

// waitAgents waits, bounded by cfg.Wait, until want compatible agents are
// members. Agents speaking another protocol version are refused by name.
func (r *run) waitAgents(ctx context.Context, want int) ([]cluster.Member, error) {
	deadline := time.NewTimer(r.cfg.Wait)
	defer deadline.Stop()
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	refused := map[string]string{}
	for {
		var ok []cluster.Member
		for _, m := range r.node.Members() {
			switch {
			case m.MetaErr != nil:
				if _, seen := refused[m.Name]; !seen {
					refused[m.Name] = fmt.Sprintf("member %s at %s: %v", m.Name, m.Addr, m.MetaErr)
					r.warn("refusing %s", refused[m.Name])
				}
			case m.Meta.Role != cluster.RoleAgent:
			case m.Meta.Protocol != wire.ProtocolVersion:
				if _, seen := refused[m.Name]; !seen {
					refused[m.Name] = fmt.Sprintf("agent %s speaks protocol v%d, this coordinator speaks v%d", m.Name, m.Meta.Protocol, wire.ProtocolVersion)
					r.warn("refusing %s", refused[m.Name])
				}
			default:
				ok = append(ok, m)
			}
		}
		for _, c := range r.node.Conflicts() {
			if _, seen := refused[c]; !seen {
				refused[c] = c
				r.warn("%s", c)
			}
		}
		for _, ev := range r.node.Events() {
			if ev.Member.Meta.Role == cluster.RoleAgent {
				r.logf("agent %s %s (%s)", ev.Member.Name, ev.Kind, ev.Member.Meta.GRPC)
			}
		}
		if len(ok) >= want {
			return ok, nil
		}
		select {
		case <-poll.C:
		case <-deadline.C:
			if r.cfg.MinAgents > 0 && len(ok) >= r.cfg.MinAgents {
				r.warn("%d of %d agents joined %s within %v; going on with them (--min-agents %d)", len(ok), want, r.node.Addr(), r.cfg.Wait, r.cfg.MinAgents)
				return ok, nil
			}
			msg := fmt.Sprintf("%d of %d agents joined %s within %v", len(ok), want, r.node.Addr(), r.cfg.Wait)
			if len(refused) > 0 {
				reasons := make([]string, 0, len(refused))
				for _, v := range refused {
					reasons = append(reasons, v)
				}
				slices.Sort(reasons)
				msg += "; refused: " + strings.Join(reasons, "; ")
			}
			return nil, fmt.Errorf("%w: %s", ErrNoAgents, msg)
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: interrupted while waiting for agents", ErrNoAgents)
		}
	}
}

// connect dials every agent, exchanges Hello/Ready (protocol check and one
// clock reading) and keeps those that answer; fewer than need of them is
// an error naming why each other one did not.
func (r *run) connect(ctx context.Context, members []cluster.Member, need int) error {
	var dialProblems []string
	var added []*conn
	// Dial and say hello to every agent at once (at most dialParallel at
	// a time): one after another, a fleet of hundreds takes seconds. The
	// answers wait in the inbox for the handshake loop below.
	dialled := make([]*conn, len(members))
	dialErrs := make([]error, len(members))
	sem := make(chan struct{}, dialParallel)
	var wg sync.WaitGroup
	for k, m := range members {
		if ap, err := netip.ParseAddrPort(m.Meta.GRPC); len(r.cfg.DialOptions) == 0 && !r.cfg.PlaintextRemote && (err != nil || !ap.Addr().IsLoopback()) {
			dialErrs[k] = fmt.Errorf("agent %s at %s: not dialled: a plaintext control plane is for loopback only; secure it (--tls-ca/--tls-cert/--tls-key) or add --insecure-allow-remote", m.Name, m.Meta.GRPC)
			continue
		}
		sem <- struct{}{}
		wg.Go(func() { // exits once the agent is dialled and greeted (or not)
			defer func() { <-sem }()
			c, err := dial(ctx, m, r.inbox, r.cfg.DialOptions)
			if err != nil {
				dialErrs[k] = err
				return
			}
			c.nonce = tokenproof.Nonce()
			if err := c.send(&surgev1.SessionRequest{Msg: &surgev1.SessionRequest_Hello{Hello: &surgev1.Hello{
				ProtocolVersion: wire.ProtocolVersion, CoordinatorName: r.cfg.Name, RunId: r.id,
				CoordinatorTimeUnixNano: time.Now().UnixNano(), AuthNonce: c.nonce,
			}}}); err != nil {
				c.markLost(err)
			}
			dialled[k] = c
		})
	}
	wg.Wait()
	for k := range members {
		if err := dialErrs[k]; err != nil {
			r.warn("%v", err)
			dialProblems = append(dialProblems, err.Error())
			continue
		}
		if c := dialled[k]; c != nil {
			r.conns = append(r.conns, c)
			added = append(added, c)
		}
	}
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for pending := r.pendingReady(); pending > 0; pending = r.pendingReady() {
		select {
		case in := <-r.inbox:
			r.handshake(in)
		case <-timeout.C:
			for _, c := range r.conns {
				if !c.ready {
					c.markLost(fmt.Errorf("agent %s: no answer to hello within 10s", c.name))
				}
			}
		case <-ctx.Done():
			return fmt.Errorf("%w: interrupted while connecting", ErrNoAgents)
		}
	}
	var names []string
	problems := dialProblems
	for _, c := range added {
		if c.live() {
			names = append(names, c.name)
		} else {
			problems = append(problems, c.lost.Error())
			r.warn("%v", c.lost)
		}
	}
	if len(names) < need {
		if len(problems) == 0 {
			problems = append(problems, "no other reason given")
		}
		return fmt.Errorf("%w: %d of %d agents completed the handshake (%s); the others: %s", ErrNoAgents, len(names), need,
			minAgentsHint(r.cfg), strings.Join(problems, "; "))
	}
	r.logf("%d agents ready: %s", len(names), strings.Join(names, ", "))
	return nil
}

// handshake takes one message of an agent being connected: Ready (protocol
// check, lease, first clock reading), the acks of the clock exchanges that
// follow it until the clock can be judged, or a refusal.
func (r *run) handshake(in inMsg) {
	t4 := time.Now().UnixNano()
	c := in.c
	if stale(in) {
		return
	}
	switch {
	case in.err != nil:
		c.markLost(fmt.Errorf("agent %s: %w", c.name, in.err))
	case c.ready || c.lost != nil:
		// An agent admitted earlier (a late message of its last
		// stage), or one already given up on.
	case in.msg.GetReady() != nil:
		rd := in.msg.GetReady()
		if rd.GetProtocolVersion() != wire.ProtocolVersion {
			c.markLost(fmt.Errorf("agent %s speaks protocol v%d, this coordinator speaks v%d", c.name, rd.GetProtocolVersion(), wire.ProtocolVersion))
			break
		}
		c.clock.add(rd.GetEchoCoordinatorTimeUnixNano(), rd.GetReceiveTimeUnixNano(), rd.GetSendTimeUnixNano(), t4)
		c.lease = time.Duration(rd.GetLeaseNanos())
		if c.lease <= 0 || c.lease > time.Hour {
			c.markLost(fmt.Errorf("agent %s announces a lease of %v; want (0, 1h]", c.name, c.lease))
			break
		}
		if err := r.proveToken(c, rd); err != nil {
			c.markLost(err)
			break
		}
		c.heard = time.Now()
		if err := c.ping(1); err != nil {
			c.markLost(err)
		}
	case in.msg.GetHeartbeatAck() != nil:
		// The first exchanges estimate the agent's clock: keep
		// going until clockExchanges, then judge it.
		ack := in.msg.GetHeartbeatAck()
		c.clock.add(ack.GetEchoCoordinatorTimeUnixNano(), ack.GetReceiveTimeUnixNano(), ack.GetSendTimeUnixNano(), t4)
		c.heard = time.Now()
		if c.clock.n < clockExchanges {
			if err := c.ping(ack.GetSeq() + 1); err != nil {
				c.markLost(err)
			}
			break
		}
		if err := r.checkClock(c); err != nil {
			c.markLost(err)
			break
		}
		c.ready = true
	case in.msg.GetError() != nil:
		c.markLost(fmt.Errorf("agent %s refused the session: %s", c.name, in.msg.GetError().GetMessage()))
	default:
		c.markLost(fmt.Errorf("agent %s: unexpected first message", c.name))
	}
}

// admitJoiners, between stages, dials the agents that joined the cluster
// since the run started, and those lost earlier that came back, when the
// scenario asks for it (safety.rebalance_on_join): they take a share from
// the next stage (or search step) on, with a newer epoch. Otherwise they
// are named once and left idle.
func (r *run) admitJoiners(ctx context.Context) {
	known := map[string]*conn{}
	for _, c := range r.conns {
		known[c.name] = c
	}
	var fresh []cluster.Member
	for _, m := range r.node.Members() {
		if m.MetaErr != nil || m.Meta.Role != cluster.RoleAgent || m.Meta.Protocol != wire.ProtocolVersion {
			continue
		}
		if c, ok := known[m.Name]; ok && c.lost == nil {
			continue
		}
		if r.joiners[m.Name] {
			continue
		}
		fresh = append(fresh, m)
	}
	if len(fresh) == 0 {
		return
	}
	if !r.sc.Safety.RebalanceOnJoin {
		for _, m := range fresh {
			r.joiners[m.Name] = true
			r.logf("agent %s joined mid-run; left idle (safety.rebalance_on_join is off)", m.Name)
		}
		return
	}
	before := len(r.conns)
	if err := r.connect(ctx, fresh, 1); err != nil {
		r.warn("agents that joined mid-run could not be admitted: %v", err)
	}
	for _, c := range r.conns[before:] {
		if !c.live() {
			continue
		}
		// A lost agent that came back keeps one line in the report.
		if old, ok := known[c.name]; ok {
			c.total = old.total
			r.conns = slices.DeleteFunc(r.conns, func(x *conn) bool { return x == old })
		}
		r.logf("agent %s joined mid-run: it takes a share from the next stage on", c.name)
	}
}

// dialParallel bounds the agents dialled at once.
const dialParallel = 32

// clockExchanges is how many exchanges estimate an agent's clock before
// it is used.
const clockExchanges = 8

// checkClock refuses an agent whose clock is off by more than the
// tolerance (offset plus error bound), or could not be estimated; and
// records the estimate in its report.
func (r *run) checkClock(c *conn) error {
	s, ok := c.clock.best()
	if !ok {
		return fmt.Errorf("agent %s: no usable clock exchange (its clock answers are inconsistent)", c.name)
	}
	c.total.ClockOffsetMS = float64(s.offset) / 1e6
	c.total.ClockErrorMS = float64(s.rtt/2) / 1e6
	off := s.offset.Abs() + s.rtt/2
	if r.cfg.MaxClockOffset > 0 && off > r.cfg.MaxClockOffset {
		return fmt.Errorf("agent %s: its clock is off by %v ± %v, beyond the tolerance of %v (--max-clock-offset): fix its time sync (NTP/chrony) or raise the tolerance",
			c.name, s.offset.Round(time.Microsecond), (s.rtt / 2).Round(time.Microsecond), r.cfg.MaxClockOffset)
	}
	return nil
}

func (r *run) pendingReady() int {
	n := 0
	for _, c := range r.conns {
		if !c.ready && c.lost == nil {
			n++
		}
	}
	return n
}

func (r *run) live() []*conn {
	var out []*conn
	for _, c := range r.conns {
		if c.live() {
			out = append(out, c)
		}
	}
	return out
}

// resolveTarget returns the base URL of a stage, starting a bundled
// topology in this process when the stage names one.
func (r *run) resolveTarget(st stages.Stage) (*url.URL, func() error, error) {
	raw, stop := st.URL, func() error { return nil }
	if st.Bundled != "" {
		start := r.cfg.StartTarget
		if r.cfg.startWith != nil && len(st.Options) > 0 {
			start = func(name string) (string, func() error, error) { return r.cfg.startWith(name, st.Options) }
		}
		u, s, err := start(st.Bundled)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: start bundled target %s: %w", ErrTargetUnreachable, st.Bundled, err)
		}
		raw, stop = u, s
	}
	u, err := url.Parse(raw)
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("%w: stage %s: %w", ErrTargetUnreachable, st.Name, err)
	}
	return u, stop, nil
}

// proveToken, in token mode, checks the agent's proof that it holds the
// shared token (refusing it otherwise: a gossip member is not an agent of
// ours by joining) and sends the coordinator's own proof. The token
// itself is never sent.
func (r *run) proveToken(c *conn, rd *surgev1.Ready) error {
	tok := r.cfg.Token
	if tok == nil {
		return nil
	}
	if !tokenproof.VerifyProof(tok, tokenproof.ProofAgent, r.id, c.nonce, rd.GetAuthNonce(), rd.GetAuthProof()) {
		return fmt.Errorf("agent %s did not prove it holds the shared token: refused (an agent without --token-file, another token, or not one of ours)", c.name)
	}
	return c.send(&surgev1.SessionRequest{Msg: &surgev1.SessionRequest_AuthProof{AuthProof: &surgev1.AuthProof{
		Proof: tokenproof.Proof(tok, tokenproof.ProofCoordinator, r.id, c.nonce, rd.GetAuthNonce())}}})
}

// minAgentsHint says how many agents the run needed, and how to need
// fewer.
func minAgentsHint(cfg Config) string {
	if cfg.MinAgents > 0 {
		return fmt.Sprintf("--min-agents %d", cfg.MinAgents)
	}
	return "all are needed unless --min-agents allows fewer"
}
