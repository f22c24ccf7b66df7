package coordinator

import (
	"fmt"
	"strings"
	"time"

	"github.com/surgeload/surge/internal/schedule"
	surgev1 "github.com/surgeload/surge/proto/gen/surge/v1"
	"github.com/surgeload/surge/reporters"
	"github.com/surgeload/surge/scenario"
)

// How an agent was found lost: the report's closed set of gap causes.
const (
	causeStream  = reporters.GapStream
	causeSilent  = reporters.GapSilent
	causeGossip  = reporters.GapGossip
	causeError   = reporters.GapError
	causeStopped = reporters.GapStopped
)

// leaseSlack covers the network delay of the last message that renewed a
// silent agent's lease.
const leaseSlack = 250 * time.Millisecond

// agentLost handles an agent lost while it plays stage sr: it is told to
// stop (if it can still hear), its stream is closed, and — under
// on_agent_loss: degrade — the arrivals it owns from a cut index on are
// dealt among the survivors in a newer epoch. What it owned before the cut
// and never reached is lost, counted exactly from the schedule when the
// stage finishes. Under on_agent_loss: abort the stage and the run stop.
func (r *run) agentLost(sr *stageRun, cn *conn, cause string, err error) {
	if cn.lost != nil {
		return
	}
	cn.markLost(err)
	now := time.Now()
	// The latest instant it may have fired until: its lease's end, unless
	// it said it stopped.
	cn.lostLeaseEnd = now
	if cause != causeStopped {
		cn.lostLeaseEnd = later(now, cn.sent.Add(cn.lease+leaseSlack))
	}
	if cn.detached.IsZero() {
		_ = cn.send(&surgev1.SessionRequest{Msg: &surgev1.SessionRequest_Stop{Stop: &surgev1.Stop{Epoch: r.epoch, Reason: err.Error()}}})
		cn.close()
	}
	// else it is still redialled until the stage is over: should it come
	// back, it sends the results it kept, which count.
	if cn.stage == nil || cn.stage.finished() {
		return
	}
	gap := reporters.Gap{Agent: cn.name, Cause: cause, LastHeardS: sinceS(sr.t0, cn.heard), DetectedS: sinceS(sr.t0, now)}
	r.warn("stage %s: %v", sr.name, err)
	defer func() {
		sr.gapOf[cn.name] = len(sr.gaps)
		sr.gaps = append(sr.gaps, gap)
	}()
	if r.sc.Safety.OnAgentLoss == scenario.OnAgentLossAbort {
		why := fmt.Sprintf("agent %s lost (on_agent_loss: abort)", cn.name)
		if sr.stopped == "" {
			sr.stopped = why
		}
		sr.stopNow, r.aborted = why, why
		return
	}
	if sr.stopped != "" {
		return // the stage is stopping anyway
	}

	// The cut: far enough ahead for the survivors to hold their new
	// assignment before it falls due, and — unless it said it stopped —
	// after the lost agent's lease has run out (a broken stream does not
	// stop an agent: it fires on, waiting to be resumed).
	cut := later(now.Add(r.cfg.TakeoverLead), cn.lostLeaseEnd)
	n := sr.sched.Len()
	at := sr.sched.CountBefore(max(cut.Sub(sr.t0), 0))
	for _, j := range cn.stage.jobs {
		at = max(at, j.first) // a job taken over but not yet started: from its start
	}
	at = min(at, n)
	gap.CutIndex, gap.CutS = at, sinceS(sr.t0, cut)
	if at < n {
		gap.CutS = sr.sched.At(at).Seconds()
	}

	var rest schedule.Share
	for _, j := range cn.stage.jobs {
		if j.end <= at {
			continue
		}
		if rest.Cycle == 0 {
			rest = j.share
			continue
		}
		u, err := schedule.Union(rest, j.share)
		if err != nil {
			r.warn("stage %s: the share of agent %s cannot be taken over (%v): its arrivals are lost", sr.name, cn.name, err)
			return
		}
		rest = u
	}
	if rest.Cycle == 0 {
		return // nothing left to play
	}
	survivors, silent := takers(sr.live, r.silenceBound(), time.Now())
	if len(silent) > 0 {
		r.warn("stage %s: not giving agent %s's share to agents not heard from within %v: %s", sr.name, cn.name, r.silenceBound(), strings.Join(silent, ", "))
	}
	if len(survivors) == 0 {
		r.warn("stage %s: no agent heard from is left to take over the share of agent %s: its arrivals are lost", sr.name, cn.name)
		return
	}
	parts, err := schedule.Divide(rest, len(survivors))
	if err != nil {
		r.warn("stage %s: the share of agent %s cannot be divided among %d survivors (%v): its arrivals are lost", sr.name, cn.name, len(survivors), err)
		return
	}
	for _, j := range cn.stage.jobs {
		j.end = min(j.end, at)
	}
	r.epoch++
	for k, s := range survivors {
		j := &agentJob{epoch: r.epoch, share: parts[k], first: at, end: n, reached: map[uint32]uint64{}, from: cn}
		if j.own() == 0 {
			continue
		}
		s.stage.jobs = append(s.stage.jobs, j)
		gap.TakenBy = append(gap.TakenBy, s.name)
		// A send that fails means a broken stream: the error reaches
		// handle, which hands this job on with the rest of its share.
		_ = r.assign(s, sr, j)
	}
	r.logf("stage %s: agent %s lost (%s); from arrival %d (t=%.3fs) its share is taken over by %v in epoch %d",
		sr.name, cn.name, cause, at, gap.CutS, gap.TakenBy, r.epoch)
}

// finished reports whether every job of the agent played its share to the
// end: done, and not stopped early on the agent's own account.
func (as *agentStage) finished() bool {
	for _, j := range as.jobs {
		if !j.done || j.stopped != "" {
			return false
		}
	}
	return true
}

// takeover is the agent's last job that took over a lost agent's share and
// has reached nothing yet: an error now is that job's refusal.
func (as *agentStage) takeover() *agentJob {
	if len(as.jobs) < 2 {
		return nil
	}
	j := as.jobs[len(as.jobs)-1]
	if j.from == nil || j.done || j.counters.Intended > 0 {
		return nil
	}
	return j
}

// refuseTakeover returns a refused job to the lost agent it came from:
// its arrivals are lost, and the survivor is not counted as taking over.
func (r *run) refuseTakeover(sr *stageRun, cn *conn, j *agentJob, why string) {
	r.warn("stage %s: agent %s refused to take over part of the share of agent %s (%s): those %d arrivals are lost",
		sr.name, cn.name, j.from.name, why, j.own())
	// Not stopped: Stop ends every epoch up to its own, the survivor's own
	// share included; a refused job is not running anyway.
	cn.stage.jobs = cn.stage.jobs[:len(cn.stage.jobs)-1]
	j.done = true
	j.from.stage.jobs = append(j.from.stage.jobs, j)
	if g, ok := sr.gapOf[j.from.name]; ok {
		taken := sr.gaps[g].TakenBy[:0]
		for _, name := range sr.gaps[g].TakenBy {
			if name != cn.name {
				taken = append(taken, name)
			}
		}
		sr.gaps[g].TakenBy = taken
	}
}

// sinceS is t − t0 in seconds (0 for a zero t).
func sinceS(t0, t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return t.Sub(t0).Seconds()
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// silenceBound is how long a live agent may have been silent and still be
// given a lost agent's share: half the agent timeout, so an agent on its
// way to being declared lost itself is never handed more.
func (r *run) silenceBound() time.Duration { return r.cfg.AgentTimeout / 2 }

// takers are the agents of live that may take a lost agent's share over:
// playing the stage, not lost, and heard from within bound of now. silent
// names those left out for their silence (not lost yet, but they may be
// next).
func takers(live []*conn, bound time.Duration, now time.Time) (ok []*conn, silent []string) {
	for _, s := range live {
		switch quiet := now.Sub(s.heard); {
		case s.lost != nil || s.stage == nil:
		case !s.detached.IsZero():
			silent = append(silent, fmt.Sprintf("%s (being resumed)", s.name))
		case quiet > bound:
			silent = append(silent, fmt.Sprintf("%s (silent %v)", s.name, quiet.Round(time.Millisecond)))
		default:
			ok = append(ok, s)
		}
	}
	return ok, silent
}
