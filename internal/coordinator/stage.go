package coordinator

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/surgeload/surge/internal/cluster"
	"github.com/surgeload/surge/internal/engine"
	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/internal/predict"
	"github.com/surgeload/surge/internal/probe"
	"github.com/surgeload/surge/internal/report"
	"github.com/surgeload/surge/internal/schedule"
	"github.com/surgeload/surge/internal/wire"
	surgev1 "github.com/surgeload/surge/proto/gen/surge/v1"
	"github.com/surgeload/surge/reporters"
	"github.com/surgeload/surge/scenario"
)

// stageRun accumulates the merged data of one played schedule: a stage,
// or one step of a capacity search (or, for a search, all its steps).
type stageRun struct {
	name   string
	target string
	// probe reads a bundled target's /metrics while the stage plays.
	probe *probe.Probe
	// sched is what was played; nil for a search's aggregate.
	sched *schedule.Schedule
	// intended and dur are the arrivals and the scheduled length played.
	intended uint64
	dur      time.Duration
	// tl is every agent's snapshots merged, by interval and in total.
	tl *metrics.Timeline
	// limits are the stage's effective limits (see stages.Client).
	limits  engine.Limits
	stopped string
	// cpuShare divides reported CPU: embedded agents share one process and
	// each reports it, so their sum counts it that many times.
	cpuShare int
	// live are the agents the schedule was assigned to; t0 its start.
	live []*conn
	t0   time.Time
	// step is set for one rate of a capacity search: abort thresholds
	// are not judged on it. stage is the scenario stage's name (name has
	// the rate of a step in it).
	step  bool
	stage string
	// abortedBy is the abort threshold that stopped the stage.
	abortedBy string
	// job is the template of every assignment of the stage (share and
	// range aside), index its stage index.
	job   engine.Job
	index uint32
	// gaps are the agents lost mid-stage; gapOf maps an agent's name to
	// its gap. lostAt is the lost arrivals per interval (finishStage).
	gaps   []reporters.Gap
	gapOf  map[string]int
	lostAt map[uint32]uint64
	// stopNow, when set, makes collect stop every agent (an agent was
	// lost under on_agent_loss: abort).
	stopNow string
}

func (r *run) newStageRun(name, target string, limits engine.Limits, agents int) *stageRun {
	names, kinds, arrivals := r.plan.Series()
	sr := &stageRun{
		name: name, target: target, limits: limits, cpuShare: 1,
		tl: metrics.NewTimeline(metrics.DefaultGeometry(), names, r.cfg.Interval),
	}
	sr.tl.Kinds, sr.tl.Arrivals = kinds, arrivals
	if r.cfg.Expect <= 0 {
		sr.cpuShare = agents
	}
	return sr
}

// stage plays stage k on every live agent (or searches its capacity) and
// appends its report.
func (r *run) stage(ctx context.Context, k int) error {
	st := r.plan.Stages[k]
	target, stopTarget, err := r.resolveTarget(st)
	if err != nil {
		return err
	}
	defer stopTarget()
	if st.Search != nil {
		return r.search(ctx, k, target)
	}
	sr, err := r.play(ctx, k, st.Name, st.Schedule, target, false)
	if err != nil {
		return err
	}
	rep, err := r.finishStage(sr)
	if rep != nil {
		r.judgeThresholds(rep, sr)
		rep.Ceiling = report.Ceiling(rep.Intervals, r.cfg.Interval)
		r.predict(rep, k)
		r.report.Stages = append(r.report.Stages, *rep)
	}
	if rep != nil && errors.Is(err, ErrAgentLost) && r.sc.Safety.OnAgentLoss != scenario.OnAgentLossAbort && sr.stopped == "" {
		// degrade: the survivors carried the stage on; the run goes on
		// with them, invalid unless the loss is within safety.max_lost.
		if frac := float64(rep.Lost) / float64(max(rep.Intended, 1)); tookOver(rep) && frac <= float64(r.sc.Safety.MaxLost) {
			r.warn("stage %s: %d arrivals (%.3f%%) lost to lost agents, within safety.max_lost %s", rep.Name, rep.Lost, 100*frac, r.sc.Safety.MaxLost)
		} else {
			r.lossErr = errors.Join(r.lossErr, err)
		}
		return nil
	}
	return err
}

// predict puts the predicted ceiling of bundled stage k beside the
// measured one (predict.Attach).
func (r *run) predict(st *reporters.Stage, k int) {
	if err := predict.Attach(st, r.sc, k); err != nil {
		r.warn("stage %s: no predicted ceiling: %v", st.Name, err)
	}
}

// tookOver reports whether every lost agent's share was taken over.
func tookOver(st *reporters.Stage) bool {
	for _, g := range st.Gaps {
		if len(g.TakenBy) == 0 {
			return false
		}
	}
	return len(st.Gaps) > 0
}

// play assigns sched of stage k to every live agent, starts it and
// collects until every agent is done or lost. The error is for a schedule
// that could not be started; what happened after the start is in the
// returned stageRun, for finishStage.
func (r *run) play(ctx context.Context, k int, name string, sched *schedule.Schedule, target *url.URL, step bool) (*stageRun, error) {
	st := r.plan.Stages[k]
	r.pauseKeepAlive()
	defer func() { r.haltKeepAlive = r.keepAlive() }()
	r.admitJoiners(ctx)
	live := r.live()
	if len(live) == 0 {
		return nil, fmt.Errorf("%w: stage %s: no live agent", ErrRunFailed, name)
	}
	shares, err := schedule.Equal(len(live))
	if err != nil {
		return nil, fmt.Errorf("stage %s: %w", name, err)
	}
	if st.ClientErr != nil {
		return nil, fmt.Errorf("%w: stage %s: client settings: %w", ErrRunFailed, name, st.ClientErr)
	}
	sr := r.newStageRun(name, target.String(), st.Limits, len(live))
	sr.sched, sr.intended, sr.dur, sr.live, sr.step, sr.stage = sched, sched.Len(), sched.Duration(), live, step, st.Name
	r.epoch++
	stageIndex := uint32(k)
	sr.index, sr.gapOf = stageIndex, map[string]int{}
	sr.job = engine.Job{Target: target, Requests: r.plan.Requests, Journeys: r.plan.Journeys, Data: r.sc.Data, Schedule: sched,
		Limits: st.Limits, Client: st.Client, Interval: r.cfg.Interval, Geometry: sr.tl.Geometry}
	r.logf("stage %s: %d %s arrivals over %v (average %.1f/s, peak %.1f/s) against %s, split across %d agents",
		name, sched.Len(), sched.Arrival(), sched.Duration(), sched.Curve().Average(), sched.Curve().Peak(), target, len(live))

	// Assign, then wait until every agent accepted (validated, target
	// reachable) before anyone fires.
	for i, cn := range live {
		j := &agentJob{epoch: r.epoch, share: shares[i], first: 0, end: sched.Len(), reached: map[uint32]uint64{}}
		cn.stage = &agentStage{jobs: []*agentJob{j}}
		if err := r.assign(cn, sr, j); err != nil {
			cn.markLost(err)
		}
	}
	if err := r.awaitAccepted(ctx, live); err != nil {
		r.stopAll(live, "stage aborted before start")
		for _, cn := range live {
			cn.stage = nil
		}
		return nil, fmt.Errorf("stage %s: %w", name, err)
	}

	sr.t0 = time.Now().Add(r.cfg.Lead)
	sr.tl.Emit = r.hlogEmit(sr)
	for _, cn := range live {
		if err := r.start(cn, sr, cn.stage.jobs[0]); err != nil {
			cn.markLost(err)
		}
	}
	if st.Bundled != "" {
		sr.probe = probe.Start(target.String(), sr.t0, r.cfg.Interval)
		// Stopped (idempotently) by targetLoad; this covers early returns,
		// and runs before the target itself is stopped.
		defer func() { _, _ = sr.probe.Stop() }()
	}
	r.collect(ctx, live, sr, sr.t0)
	return sr, nil
}

// assign sends job j of stage sr to agent cn.
func (r *run) assign(cn *conn, sr *stageRun, j *agentJob) error {
	job := sr.job
	job.Share, job.First, job.End = j.share, j.first, j.end
	a := wire.Assignment{RunID: r.id, Epoch: j.epoch, StageIndex: sr.index, StageName: sr.name, Job: job}
	return cn.send(&surgev1.SessionRequest{Msg: &surgev1.SessionRequest_Assign{Assign: wire.AssignToProto(a)}})
}

// start fires job j of stage sr on agent cn, at the stage's T0 mapped into
// the agent's clock.
func (r *run) start(cn *conn, sr *stageRun, j *agentJob) error {
	return cn.send(&surgev1.SessionRequest{Msg: &surgev1.SessionRequest_Start{Start: &surgev1.Start{
		Epoch: j.epoch, StageIndex: sr.index, T0UnixNano: sr.t0.Add(cn.clock.offset()).UnixNano()}}})
}

// awaitAccepted waits for Accepted from every agent (bounded).
func (r *run) awaitAccepted(ctx context.Context, live []*conn) error {
	timeout := time.NewTimer(15 * time.Second)
	defer timeout.Stop()
	for {
		waiting := 0
		for _, cn := range live {
			if cn.lost != nil {
				return fmt.Errorf("%w: %v", ErrRunFailed, cn.lost)
			}
			if !cn.stage.jobs[0].accepted {
				waiting++
			}
		}
		if waiting == 0 {
			return nil
		}
		select {
		case in := <-r.inbox:
			cn := in.c
			if stale(in) {
				continue
			}
			switch {
			case in.err != nil:
				cn.markLost(fmt.Errorf("agent %s: stream ended: %w", cn.name, in.err))
			case in.msg.GetHeartbeatAck() != nil:
				cn.heard = time.Now()
			case in.msg.GetAccepted() != nil:
				acc := in.msg.GetAccepted()
				if acc.GetEpoch() != r.epoch {
					continue
				}
				j := cn.stage.jobs[0]
				if acc.GetOwnArrivals() != j.own() {
					return fmt.Errorf("%w: agent %s owns %d arrivals, coordinator computed %d", ErrRunFailed, cn.name, acc.GetOwnArrivals(), j.own())
				}
				cn.heard = time.Now()
				j.accepted = true
				r.agentWarnings(cn.name, acc.GetWarnings())
			case in.msg.GetError() != nil:
				e := in.msg.GetError()
				switch e.GetCode() {
				case surgev1.ErrorCode_ERROR_CODE_TARGET_UNREACHABLE, surgev1.ErrorCode_ERROR_CODE_TARGET_NOT_ALLOWED:
					return fmt.Errorf("%w: %s (seen by agent %s)", ErrTargetUnreachable,
						strings.TrimPrefix(e.GetMessage(), ErrTargetUnreachable.Error()+": "), cn.name)
				default:
					return fmt.Errorf("%w: agent %s refused the assignment: %s", ErrRunFailed, cn.name, e.GetMessage())
				}
			}
		case <-timeout.C:
			return fmt.Errorf("%w: agents did not accept the assignment within 15s", ErrRunFailed)
		case <-ctx.Done():
			return fmt.Errorf("%w: interrupted", ErrRunFailed)
		}
	}
}

func (r *run) stopAll(live []*conn, reason string) {
	for _, cn := range live {
		if cn.lost == nil {
			_ = cn.send(&surgev1.SessionRequest{Msg: &surgev1.SessionRequest_Stop{Stop: &surgev1.Stop{Epoch: r.epoch, Reason: reason}}})
		}
	}
}

// collect receives snapshots until every agent is done or lost. It sends
// heartbeats, prints progress, hands a lost agent's share to the
// survivors, and on ctx cancellation stops the agents and keeps collecting
// for a grace period so nothing measured is lost.
func (r *run) collect(ctx context.Context, live []*conn, sr *stageRun, t0 time.Time) {
	hb := time.NewTicker(r.cfg.Heartbeat)
	defer hb.Stop()
	// Upper bound on the stage: T0, the schedule, the drain, and slack for
	// the last snapshots. Past it, silent agents are declared lost.
	limit := time.NewTimer(time.Until(t0.Add(sr.sched.Duration() + sr.limits.Drain + 2*r.cfg.Interval + 10*time.Second)))
	defer limit.Stop()
	var grace <-chan time.Time
	stopping := ctx.Done()
	var seq uint64
	stop := func(why string) {
		if grace == nil {
			r.stopAll(live, why)
			grace = time.After(5 * time.Second)
		}
	}
	defer func() {
		for _, cn := range live {
			cn.stopRedial()
		}
	}()
	lastTick := time.Now()
	for {
		pending := 0
		for _, cn := range live {
			// An agent being resumed is waited for even when its jobs
			// are done: it needs a stream for the next stage.
			if cn.lost == nil && (!cn.stage.done() || !cn.detached.IsZero()) {
				pending++
			}
		}
		if pending == 0 {
			return
		}
		if sr.stopNow != "" {
			stop(sr.stopNow)
		}
		select {
		case in := <-r.inbox:
			r.handle(in, sr)
		case <-r.node.Changes():
			r.membership(sr, live)
		case <-hb.C:
			seq++
			now := time.Now()
			if now.Sub(lastTick) > 2*r.cfg.Heartbeat {
				// The coordinator itself was stalled (stopped, starved):
				// no agent was heard meanwhile, and that is not theirs.
				r.logf("stage %s: the coordinator did not run for %v; agents' silence is counted from now", sr.name, now.Sub(lastTick).Round(time.Millisecond))
				for _, cn := range live {
					cn.quietFrom = now
				}
			}
			lastTick = now
			for _, cn := range live {
				r.beat(sr, cn, seq)
			}
			r.pack(sr, t0)
			r.progress(sr, t0)
			r.metrics.SetAlive(len(r.live()))
			if grace == nil {
				if expr, why, breached := r.abortCheck(sr, t0); breached {
					sr.stopped, sr.abortedBy = why, expr
					r.aborted = why
					stop(why)
				}
			}
		case <-stopping:
			stopping = nil
			sr.stopped = "interrupted"
			stop("coordinator interrupted")
		case <-grace:
			for _, cn := range live {
				if cn.lost == nil && (!cn.stage.done() || !cn.detached.IsZero()) {
					cn.markLost(fmt.Errorf("agent %s: no done within 5s of stop", cn.name))
				}
			}
		case <-limit.C:
			for _, cn := range live {
				if cn.lost == nil && (!cn.stage.done() || !cn.detached.IsZero()) {
					cn.markLost(fmt.Errorf("agent %s: silent past the end of the stage", cn.name))
				}
			}
		}
	}
}

// packLag is how many intervals behind the current one the stage's
// merged data is packed: past the snapshots still to come from agents on
// time (an agent sends interval k just after its end). A later one (a
// starved agent closes an interval up to metrics.MaxOpen-2 late) unpacks
// its interval again: correct, only slower. Live intervals cost about
// 197 KB per histogram, 2 per request name and 1 more, so this keeps few.
const packLag = 3

// pack packs the stage's intervals no snapshot will reach any more, so
// that the coordinator's memory does not grow with the run's length.
func (r *run) pack(sr *stageRun, t0 time.Time) {
	if sr.tl.Step <= 0 {
		return
	}
	if cur := uint32(max(time.Since(t0), 0) / sr.tl.Step); cur > packLag {
		if err := sr.tl.Pack(cur - packLag); err != nil {
			r.warn("stage %s: %v", sr.name, err)
		}
	}
}

// membership takes gossip's news of the agents playing the stage. A
// member that left or died is only suspected while its stream is heard
// from: the stream is the authority on liveness (a graceful leave may
// overtake the Done the agent sent before it, and gossip can be wrong on a
// starved machine). beat declares it lost once it is also silent.
func (r *run) membership(sr *stageRun, live []*conn) {
	for _, ev := range r.node.Events() {
		if ev.Kind != cluster.Left {
			continue
		}
		for _, cn := range live {
			if cn.name == ev.Member.Name && cn.lost == nil && cn.gossipGone.IsZero() {
				cn.gossipGone = time.Now()
				r.gossipCheck(sr, cn)
			}
		}
	}
}

// gossipCheck treats an agent gossip says is gone, once nothing came from
// it for two heartbeats, as one whose stream broke: its session is
// resumed if it is only the network (gossip shares it), and it is lost if
// not resumed within its lease.
func (r *run) gossipCheck(sr *stageRun, cn *conn) {
	if cn.gossipGone.IsZero() || cn.lost != nil || cn.stage == nil || cn.stage.done() || !cn.detached.IsZero() {
		return
	}
	if silent := r.silence(cn, time.Now()); silent > 2*r.cfg.Heartbeat {
		r.detach(sr, cn, causeGossip, fmt.Errorf("agent %s left the cluster (gossip) and is silent for %v", cn.name, silent.Round(time.Millisecond)))
	}
}

// silence is how long nothing came from cn, counted from no earlier than
// the coordinator's own last stall.
func (r *run) silence(cn *conn, now time.Time) time.Duration {
	return now.Sub(later(cn.heard, cn.quietFrom))
}

// beat checks one agent once per heartbeat: an agent being resumed is
// lost once its lease has run out; one silent past --agent-timeout (or
// gone by gossip and silent) is resumed; any other is pinged.
func (r *run) beat(sr *stageRun, cn *conn, seq uint64) {
	if cn.lost != nil {
		return
	}
	now := time.Now()
	if !cn.detached.IsZero() {
		// It stops firing a lease after the last message it had, which
		// was sent no later than cn.sent.
		if end := cn.sent.Add(cn.lease + leaseSlack); now.After(end) {
			r.agentLost(sr, cn, cn.detachCause, fmt.Errorf("%w; not resumed within its lease (%v): lost", cn.detachErr, cn.lease))
		}
		return
	}
	if silent := r.silence(cn, now); !cn.stage.done() && silent > r.cfg.AgentTimeout {
		r.detach(sr, cn, causeSilent, fmt.Errorf("agent %s: silent for %v (no snapshot or heartbeat ack; --agent-timeout %v)",
			cn.name, silent.Round(time.Millisecond), r.cfg.AgentTimeout))
		return
	}
	if r.gossipCheck(sr, cn); !cn.detached.IsZero() {
		return
	}
	if err := cn.ping(seq); err != nil {
		r.detach(sr, cn, causeStream, err)
	}
}

// handle merges one agent message into the stage.
func (r *run) handle(in inMsg, sr *stageRun) {
	cn := in.c
	if in.resumed != nil {
		r.resumed(sr, cn, in.resumed)
		return
	}
	if in.gen != cn.gen {
		return // an older stream's: the resumed one sends its results again
	}
	if in.err != nil {
		if cn.lost == nil {
			r.detach(sr, cn, causeStream, fmt.Errorf("agent %s: stream ended: %w", cn.name, in.err))
		}
		return
	}
	t4 := time.Now()
	cn.heard = t4
	if ack := in.msg.GetHeartbeatAck(); ack != nil {
		cn.clock.add(ack.GetEchoCoordinatorTimeUnixNano(), ack.GetReceiveTimeUnixNano(), ack.GetSendTimeUnixNano(), t4.UnixNano())
		if cn.stage != nil {
			for _, jr := range ack.GetReached() {
				if j := cn.stage.job(jr.GetEpoch()); j != nil {
					j.dispatched = max(j.dispatched, jr.GetReached())
				}
			}
		}
		return
	}
	if seq := in.msg.GetSeq(); seq > 0 {
		switch last := cn.acked.Load(); {
		case seq <= last:
			cn.dups++ // sent again on a resume: taken already
			return
		case seq > last+1:
			if cn.lost == nil {
				r.agentLost(sr, cn, causeError, fmt.Errorf("agent %s: result %d after %d: results are missing", cn.name, seq, last))
			}
			return
		}
		cn.acked.Store(seq)
	}
	if cn.stage == nil {
		return
	}
	defer func() {
		if cn.lost != nil && cn.detached.IsZero() && cn.stage != nil && cn.stage.done() {
			r.release(cn) // lost, came back, and sent all it kept
		}
	}()
	switch msg := in.msg.GetMsg().(type) {
	case *surgev1.SessionResponse_Snapshot:
		s := msg.Snapshot
		j := cn.stage.job(s.GetEpoch())
		if j == nil || s.GetStageIndex() != sr.index {
			return // from an older epoch or stage
		}
		if last := sr.lastInterval(); s.GetInterval() > last {
			r.agentLost(sr, cn, causeError, fmt.Errorf("agent %s: bad snapshot: interval %d is past the stage's last (%d)", cn.name, s.GetInterval(), last))
			return
		}
		if !j.take(s.GetInterval()) {
			// (run, epoch, stage, interval) taken already: a result sent
			// again under a new number is still taken once.
			cn.dups++
			return
		}
		t, err := r.mergeSnapshot(sr, s)
		if err != nil {
			r.agentLost(sr, cn, causeError, fmt.Errorf("agent %s: %w", cn.name, err))
			return
		}
		j.counters.Add(t)
		if t.Intended > 0 {
			j.reached[s.GetInterval()] += t.Intended
		}
	case *surgev1.SessionResponse_Done:
		d, err := wire.DoneFromProto(msg.Done)
		if err != nil {
			r.agentLost(sr, cn, causeError, fmt.Errorf("agent %s: bad done: %w", cn.name, err))
			return
		}
		j := cn.stage.job(d.Epoch)
		if j == nil || d.StageIndex != sr.index {
			return
		}
		if d.Totals != j.counters {
			r.agentLost(sr, cn, causeError, fmt.Errorf("agent %s: done totals %+v differ from the sum of its snapshots %+v", cn.name, d.Totals, j.counters))
			return
		}
		j.done, j.inFlight, j.stopped = true, d.InFlightAtEnd, d.Stopped
		if d.Stopped != "" && sr.stopped == "" && sr.stopNow == "" {
			// Not stopped by this coordinator: the agent quit its share.
			r.agentLost(sr, cn, causeStopped, fmt.Errorf("agent %s stopped early: %s", cn.name, d.Stopped))
		}
	case *surgev1.SessionResponse_Accepted:
		acc := msg.Accepted
		j := cn.stage.job(acc.GetEpoch())
		if j == nil || j.accepted || cn.lost != nil {
			return
		}
		if acc.GetOwnArrivals() != j.own() {
			r.agentLost(sr, cn, causeError, fmt.Errorf("agent %s owns %d arrivals of epoch %d, coordinator computed %d", cn.name, acc.GetOwnArrivals(), j.epoch, j.own()))
			return
		}
		j.accepted = true
		if err := r.start(cn, sr, j); err != nil {
			r.agentLost(sr, cn, causeStream, err)
		}
	case *surgev1.SessionResponse_Error:
		e := msg.Error
		if j := cn.stage.takeover(); j != nil && !e.GetFatal() {
			r.refuseTakeover(sr, cn, j, e.GetMessage())
			return
		}
		r.agentLost(sr, cn, causeError, fmt.Errorf("agent %s: %s", cn.name, e.GetMessage()))
	}
}

// merge adds one agent snapshot to the stage and the live metrics.
func (r *run) merge(sr *stageRun, d *metrics.SparseInterval) error {
	if err := sr.tl.AddSparse(d); err != nil {
		return err
	}
	r.metrics.ObserveSparse(sr.stage, sr.tl.Names, d)
	return nil
}

// Progress is what a run shows once per heartbeat while a stage plays.
// Last… fields are over the last complete interval.
type Progress struct {
	Stage            string
	Elapsed, Total   time.Duration
	Intended, Issued uint64 // so far; Planned is the stage's whole schedule
	Planned          uint64
	Succeeded        uint64
	Failed, Dropped  uint64
	// LastIntendedRPS and LastAchievedRPS are arrivals due and requests
	// issued per second in the last complete interval; LastP50 and LastP99
	// its response-time percentiles (all requests).
	LastIntendedRPS, LastAchievedRPS float64
	LastP50, LastP99                 time.Duration
	AgentsAlive                      int
}

// progress reports the stage once per heartbeat: to Config.Progress when
// set, else as one plain log line.
func (r *run) progress(sr *stageRun, t0 time.Time) {
	t := sr.tl.Total.TotalsN(sr.tl.Arrivals)
	elapsed := min(max(time.Since(t0), 0), sr.dur)
	p := Progress{
		Stage: sr.name, Elapsed: elapsed, Total: sr.dur, Intended: t.Intended, Issued: t.Issued, Planned: sr.intended,
		Succeeded: t.Succeeded, Failed: t.Failed, Dropped: t.Dropped, AgentsAlive: len(r.live()),
	}
	if step := sr.tl.Step; step > 0 {
		if cur := uint32(time.Since(t0) / step); cur > 0 {
			if iv, ok := sr.tl.At(cur - 1); ok {
				it := iv.TotalsN(sr.tl.Arrivals)
				secs := step.Seconds()
				p.LastIntendedRPS, p.LastAchievedRPS = float64(it.Intended)/secs, float64(it.Issued)/secs
				all := iv.Select(-1)
				p.LastP50, p.LastP99 = time.Duration(metrics.ValueAtPercentile(all.Response, 50)), time.Duration(metrics.ValueAtPercentile(all.Response, 99))
			}
		}
	}
	if r.cfg.Progress != nil {
		r.cfg.Progress(p)
		return
	}
	r.logf("%s", p)
}

// String is the plain progress line: for logs and terminals that are not
// TTYs.
func (p Progress) String() string {
	return fmt.Sprintf("stage %s  %v/%v  req/s %.0f intended %.0f achieved  p50 %v p99 %v  issued %d/%d  ok %d  failed %d  dropped %d  agents %d",
		p.Stage, p.Elapsed.Truncate(time.Second), p.Total, p.LastIntendedRPS, p.LastAchievedRPS, p.LastP50.Round(time.Microsecond),
		p.LastP99.Round(time.Microsecond), p.Issued, p.Planned, p.Succeeded, p.Failed, p.Dropped, p.AgentsAlive)
}

// finishStage accounts for every agent and builds the report of what sr
// played. The error says the schedule was not carried out fully (an agent
// lost or stopped early); the report is returned with it whenever load was
// sent, so what was measured is never lost.
func (r *run) finishStage(sr *stageRun) (*reporters.Stage, error) {
	var lost, inFlight uint64
	var lostAgents []error
	sr.lostAt = map[uint32]uint64{}
	for _, cn := range sr.live {
		as := cn.stage
		if as == nil {
			continue
		}
		c := as.counters()
		// Arrivals a job owned but its agent never reached are lost;
		// requests it issued without a reported completion are in flight
		// at the end.
		var agentLost, agentInFlight, unreported, unreportedMin uint64
		stopped := "" // why the agent stopped early on its own, if it did
		for _, j := range as.jobs {
			if cn.lost != nil && !j.done {
				hi, lo := sr.sentUnreported(cn, j)
				unreported += hi
				unreportedMin += lo
			}
			if j.done && j.stopped != "" && stopped == "" {
				stopped = j.stopped
			}
			jl := j.own() - min(j.own(), j.counters.Intended)
			agentLost += jl
			if jl > 0 {
				r.placeLost(sr, j)
				if cn.lost == nil && j.done && j.stopped == "" {
					// Played to the end, yet short: a takeover started
					// after some of its arrivals were overdue.
					r.warn("stage %s: agent %s reached %d of the %d arrivals of epoch %d (a takeover that started late does not fire what was overdue): %d lost",
						sr.name, cn.name, j.counters.Intended, j.own(), j.epoch, jl)
				}
			}
			if j.done {
				agentInFlight += j.inFlight
			} else {
				agentInFlight += j.counters.Issued - min(j.counters.Issued, j.counters.Completed())
			}
		}
		switch {
		case cn.lost != nil && (!as.done() || hasGap(sr, cn.name)):
			lostAgents = append(lostAgents, cn.lost)
			if g, ok := sr.gapOf[cn.name]; ok {
				sr.gaps[g].Lost = agentLost
				sr.gaps[g].SentUnreported, sr.gaps[g].SentUnreportedMin = unreported, unreportedMin
			}
			r.warn("stage %s: %v; %d of its %d arrivals lost", sr.name, cn.lost, agentLost, as.own())
		case stopped != "" && sr.stopped == "":
			// The agent stopped on its own (shut down, lease expired).
			err := fmt.Errorf("agent %s stopped early: %s", cn.name, stopped)
			lostAgents = append(lostAgents, err)
			r.warn("stage %s: %v; %d of its %d arrivals lost", sr.name, err, agentLost, as.own())
		}
		lost += agentLost
		inFlight += agentInFlight
		cn.total.Intended += as.own()
		cn.total.Issued += c.Issued
		cn.total.Succeeded += c.Succeeded
		cn.total.Failed += c.Failed
		cn.total.Dropped += c.Dropped
		cn.total.Lost += agentLost
		cn.total.InFlightAtEnd += agentInFlight
		cn.stage = nil
	}
	r.metrics.AddLost(sr.stage, lost)
	// Every snapshot is in: pack (and emit) what is left.
	if err := sr.tl.Pack(math.MaxUint32); err != nil {
		return nil, fmt.Errorf("%w: stage %s: %w", ErrRunFailed, sr.name, err)
	}
	st, err := report.Stage(sr.tl, sr.played(lost, inFlight))
	if err != nil {
		return nil, fmt.Errorf("%w: stage %s: %w", ErrRunFailed, sr.name, err)
	}
	st.Started = sr.t0.UTC()
	st.Gaps = sr.gaps
	for _, g := range sr.gaps {
		st.SentUnreported += g.SentUnreported
	}
	r.generatorHealth(&st, sr)
	r.targetLoad(&st, sr)
	st.AbortedBy = sr.abortedBy
	if sr.stopped != "" {
		r.warn("stage %s stopped early: %s", sr.name, sr.stopped)
	}
	if len(lostAgents) > 0 {
		return &st, fmt.Errorf("%w: %w: stage %s: %w", ErrRunFailed, ErrAgentLost, sr.name, errors.Join(lostAgents...))
	}
	return &st, nil
}

// lastInterval is the highest interval index a snapshot of the stage may
// carry: its schedule and drain, and slack for a clock a little off.
func (sr *stageRun) lastInterval() uint32 {
	if sr.tl.Step <= 0 {
		return math.MaxUint32
	}
	n := (sr.dur + sr.limits.Drain + time.Minute) / sr.tl.Step
	return uint32(min(n, math.MaxUint32))
}

// sentUnreported bounds what job j of lost agent cn may have sent that
// it never reported: at most every arrival it owned that fell due before
// its lease ran out, less those reported; at least its last dispatch
// counter heard, less those reported.
func (sr *stageRun) sentUnreported(cn *conn, j *agentJob) (most, least uint64) {
	if cn.lostLeaseEnd.IsZero() || sr.sched == nil || j.first >= j.end {
		return 0, 0
	}
	until := min(j.end, max(j.first, sr.sched.CountBefore(max(cn.lostLeaseEnd.Sub(sr.t0), 0))))
	due := j.share.Count(j.first, until)
	reported := j.counters.Intended
	most = due - min(due, reported)
	least = min(most, j.dispatched-min(j.dispatched, reported))
	return most, least
}

func hasGap(sr *stageRun, name string) bool {
	_, ok := sr.gapOf[name]
	return ok
}

// placeLost adds the arrivals job j owned and never reached to the
// intervals they were due in: per interval, what its share owns there
// minus what its agent reported reaching.
func (r *run) placeLost(sr *stageRun, j *agentJob) {
	if j.first >= j.end || sr.tl.Step <= 0 {
		return
	}
	iv := sr.tl.Step
	k := uint32(sr.sched.At(j.first) / iv)
	last := uint32(sr.sched.At(j.end-1) / iv)
	for ; k <= last; k++ {
		lo := max(j.first, sr.sched.CountBefore(time.Duration(k)*iv))
		hi := min(j.end, sr.sched.CountBefore(time.Duration(k+1)*iv))
		if hi <= lo {
			continue
		}
		owned := j.share.Count(lo, hi)
		if got := j.reached[k]; owned > got {
			sr.lostAt[k] += owned - got
		}
	}
}

// played is what report.Stage needs of sr beside its merged data.
func (sr *stageRun) played(lost, inFlight uint64) report.Played {
	return report.Played{Name: sr.name, Target: sr.target, Intended: sr.intended, Duration: sr.dur,
		Lost: lost, InFlight: inFlight, LostAt: sr.lostAt, CPUShare: sr.cpuShare, Stopped: sr.stopped}
}

// generatorHealth fills the stage's generator cost, flags a stage the
// generator (not the target) limited, and warns.
func (r *run) generatorHealth(st *reporters.Stage, sr *stageRun) {
	for _, w := range report.GeneratorHealth(st, sr.tl.Total, report.Generator{MaxSendLag: r.cfg.MaxSendLag,
		MaxInFlight: sr.limits.MaxInFlight, MaxConns: sr.limits.MaxConns, CPUShare: sr.cpuShare}) {
		r.warn("%s", w)
	}
}

// targetLoad fills the stage's component loads, bottleneck and cache hit
// rate from what the probe read of the target's /metrics.
func (r *run) targetLoad(st *reporters.Stage, sr *stageRun) {
	if sr.probe == nil {
		return
	}
	got, err := sr.probe.Stop()
	if err != nil {
		r.warn("stage %s: could not read the target's metrics: %v", sr.name, err)
		return
	}
	st.Components = got.Loads
	if len(got.Loads) > 0 {
		st.Bottleneck = got.Loads[0].Component
	}
	st.HitRate = got.HitRate
	st.Scaling = got.Scaling
}
