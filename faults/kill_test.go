//go:build linux

package faults

import (
	"context"
	"syscall"
	"testing"
	"time"
)

// TestKillAgent SIGKILLs one of four agents 5 s into a 400/s stage. Its
// stream breaks at once, but a broken stream is what a network blip looks
// like too, and an agent whose stream broke fires on within its lease
// waiting to be resumed: the coordinator redials, fails, and declares it
// lost only when its lease has run out; the survivors take its share over
// from a cut just after. The gap is marked, the counts balance, the
// report bounds what the killed agent sent and never reported, and the
// run ends with exit code 4 (on_agent_loss: degrade, no max_lost).
func TestKillAgent(t *testing.T) {
	needBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	const rate, victim = 400.0, "a2"
	tg := newTarget(t, "127.0.0.1:0")
	out := t.TempDir()
	coord, join := startCoordinator(ctx, t, direct, writeScenario(t, "short.yaml", tg.URL), out, 4, "127.0.0.1:0")
	agents := startAgents(t, join, 4)

	first := tg.waitFirst(ctx, t, append(agents, coord)...)
	sleepUntil(ctx, t, first.Add(5*time.Second))
	killed := time.Now()
	agents[1].signal(t, syscall.SIGKILL)

	if code := coord.wait(t, 60*time.Second); code != 4 {
		t.Errorf("coordinator exit code %d; want 4 (invalid run: an agent was lost and no max_lost tolerates it)", code)
	}
	hits := tg.snapshot()
	r, st := readReport(t, out)
	killS := stageS(st, killed)
	// Arrivals the killed agent fired after its last snapshot reached the
	// target but are counted lost: nothing of them was reported.
	t.Logf("killed %s at %.3fs; the target saw %d requests, %d more than the report issued",
		victim, killS, len(hits), int64(len(hits))-int64(st.Issued))

	g := gapOf(t, st, victim)
	if g.Cause != "stream broken" {
		t.Errorf("gap of %s: cause %q; want %q", victim, g.Cause, "stream broken")
	}
	// Lost once its lease ran out (a lease after the last message sent to
	// it, which may be up to a heartbeat after the kill), checked at the
	// next heartbeat: within [lease, lease + 3 s] of the kill, generously.
	if d := g.DetectedS - killS; d > lease.Seconds()+3 || d < lease.Seconds()-1 {
		t.Errorf("gap of %s detected at %.3fs, %.3fs after the kill; want within [lease - 1s, lease + 3s] (lease %v)", victim, g.DetectedS, d, lease)
	}
	if g.CutS < g.LastHeardS+lease.Seconds()-0.05 {
		t.Errorf("gap of %s: cut at %.3fs, before its lease could have expired (last heard %.3fs + lease %v)", victim, g.CutS, g.LastHeardS, lease)
	}
	if d := g.CutS - g.DetectedS; d > 1 || d < 0 {
		t.Errorf("gap of %s: cut at %.3fs, %.3fs after detection; want within [0, 1s]", victim, g.CutS, d)
	}
	// What the target saw beyond the report's issued is what the killed
	// agent sent after its last snapshot: within the report's bounds.
	extra := int64(len(hits)) - int64(st.Issued)
	t.Logf("unreported: %d; bounds [%d, %d] (stage %d)", extra, g.SentUnreportedMin, g.SentUnreported, st.SentUnreported)
	if extra < int64(g.SentUnreportedMin) || extra > int64(g.SentUnreported) {
		t.Errorf("the target saw %d requests beyond the %d issued; the report bounds them within [%d, %d]", extra, st.Issued, g.SentUnreportedMin, g.SentUnreported)
	}
	checkTakenBy(t, g)
	if g.Lost == 0 {
		t.Errorf("gap of %s: lost 0; the arrivals between the kill and the cut were lost", victim)
	}

	a := agentOf(t, r, victim)
	if int64(a.Lost) != int64(a.Intended)-int64(a.Issued)-int64(a.Dropped) {
		t.Errorf("agent %s: lost %d; want intended %d - issued %d - dropped %d", victim, a.Lost, a.Intended, a.Issued, a.Dropped)
	}
	if a.Lost != g.Lost {
		t.Errorf("agent %s lost %d but its gap lost %d", victim, a.Lost, g.Lost)
	}
	checkBalance(t, r, st)
	checkLostInGap(t, st, killS, g.CutS)

	// The victim's quarter of the rate is missing from its kill to the
	// cut, no longer.
	if want := float64(st.Intended) - rate/4*(g.CutS-killS+0.5); float64(len(hits)) < want {
		t.Errorf("the target saw %d requests; want >= %.0f (all but the victim's share from the kill to the cut)", len(hits), want)
	}
	// From a second after the cut to a second before the end, the
	// survivors carry the whole rate.
	checkRecovery(t, hits, st, g.CutS+1, st.DurationS-1, rate, 0.90)
}

// TestKillCoordinator SIGKILLs the coordinator 4 s into a stage played by
// three agents: their leases must stop the load within lease + 1 s, and
// the agents themselves keep running, ready for the next coordinator.
func TestKillCoordinator(t *testing.T) {
	needBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	tg := newTarget(t, "127.0.0.1:0")
	coord, join := startCoordinator(ctx, t, direct, writeScenario(t, "short.yaml", tg.URL), t.TempDir(), 3, "127.0.0.1:0")
	agents := startAgents(t, join, 3)

	first := tg.waitFirst(ctx, t, append(agents, coord)...)
	sleepUntil(ctx, t, first.Add(4*time.Second))
	killed := time.Now()
	coord.signal(t, syscall.SIGKILL)
	coord.wait(t, 10*time.Second)

	// Watch well past the bound: the stage would have gone on for 11 s.
	bound := killed.Add(lease + time.Second)
	sleepUntil(ctx, t, bound.Add(3*time.Second))
	hits := tg.snapshot()
	before, after := 0, 0
	var last time.Time
	for _, h := range hits {
		if h.at.Before(killed) {
			before++
		} else {
			after++
		}
		if h.at.After(last) {
			last = h.at
		}
	}
	t.Logf("%d requests before the kill, %d after; the last %v after the kill (bound: lease %v + 1s)", before, after, last.Sub(killed), lease)
	if before < 1000 {
		t.Errorf("only %d requests before the kill: the stage was not running at 400/s", before)
	}
	if last.After(bound) {
		t.Errorf("the target received a request %v after the coordinator was killed; want none later than %v (lease + 1s)", last.Sub(killed), lease+time.Second)
	}
	for _, a := range agents {
		if a.exited() {
			t.Errorf("agent %s exited %s after its coordinator died; want it still running", a.name, a.state())
		} else if err := syscall.Kill(a.pid(), 0); err != nil {
			t.Errorf("agent %s: %v", a.name, err)
		}
	}
}
