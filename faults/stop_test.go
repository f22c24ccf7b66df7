//go:build faults && linux

package faults

import (
	"context"
	"syscall"
	"testing"
	"time"
)

// TestStopAgent SIGSTOPs one of four agents for 10 s of a 1000/s stage,
// then SIGCONTs it. The coordinator must declare it lost after its agent
// timeout and hand its share to the survivors only once the stopped
// agent's lease has expired; on waking up the agent must check its lease
// before sending anything: at most a handful of stale requests, no
// catch-up burst. Requests are attributed to the stopped agent by its TCP
// connections to the target, read from /proc while it is stopped (and
// again after it wakes, for connections it opens then).
func TestStopAgent(t *testing.T) {
	needBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	const rate, victim, stale = 1000.0, "a2", 5
	tg := newTarget(t, "127.0.0.1:0")
	out := t.TempDir()
	coord, join := startCoordinator(ctx, t, direct, writeScenario(t, "long.yaml", tg.URL), out, 4, "127.0.0.1:0")
	agents := startAgents(t, join, 4)
	a := agents[1]

	first := tg.waitFirst(ctx, t, append(agents, coord)...)
	// Stop it mid-interval (the first request is T0 within a few ms, and
	// intervals are 1 s aligned to T0): about half a second of arrivals
	// it fired has not been reported yet, and must still be counted.
	sleepUntil(ctx, t, first.Add(5500*time.Millisecond))
	stopped := time.Now()
	a.signal(t, syscall.SIGSTOP)
	// A stopped process's sockets cannot change: this is every
	// connection it had to the target.
	ports, err := socketPorts(a.pid(), tg.port)
	if err != nil {
		t.Fatalf("map %s's sockets: %v", victim, err)
	}
	t.Logf("%s (pid %d) stopped; its connections to the target come from ports %v", victim, a.pid(), keys(ports))
	if len(ports) == 0 {
		t.Fatalf("%s holds no connection to the target while stopped: cannot attribute its requests", victim)
	}

	sleepUntil(ctx, t, stopped.Add(10*time.Second))
	resumed := time.Now()
	a.signal(t, syscall.SIGCONT)
	// Pick up connections it opens after waking, until a few seconds on.
	for time.Since(resumed) < 3*time.Second && !a.exited() {
		more, err := socketPorts(a.pid(), tg.port)
		if err == nil {
			for p := range more {
				ports[p] = true
			}
		}
		sleepUntil(ctx, t, time.Now().Add(50*time.Millisecond))
	}

	code := coord.wait(t, 90*time.Second)
	hits := tg.snapshot()
	r, st := readReport(t, out)
	if code != 4 {
		t.Errorf("coordinator exit code %d; want 4 (invalid run: an agent was lost and no max_lost tolerates it)", code)
	}
	stopS, resumeS := stageS(st, stopped), stageS(st, resumed)
	t.Logf("stopped %s at %.3fs, resumed it at %.3fs", victim, stopS, resumeS)

	var own, during, afterWake int
	var wakeFirst, wakeLast time.Time
	for _, h := range hits {
		if !ports[h.remote.Port()] {
			continue
		}
		own++
		switch {
		case h.at.After(resumed):
			afterWake++
			if wakeFirst.IsZero() {
				wakeFirst = h.at
			}
			wakeLast = h.at
		case h.at.After(stopped.Add(100 * time.Millisecond)):
			during++
		}
	}
	t.Logf("requests from %s's connections: %d in all, %d while stopped, %d after SIGCONT (first %v, last %v after it)",
		victim, own, during, afterWake, sinceOrZero(wakeFirst, resumed), sinceOrZero(wakeLast, resumed))
	if own == 0 {
		t.Errorf("no request came from %s's connections: the attribution is broken", victim)
	}
	if during > 0 {
		t.Errorf("%d requests from %s's connections arrived while it was stopped", during, victim)
	}
	if afterWake > stale {
		t.Errorf("%s sent %d requests after SIGCONT; want at most %d stale ones (its lease had expired: no catch-up burst)", victim, afterWake, stale)
	}

	g := gapOf(t, st, victim)
	checkTakenBy(t, g)
	// Declared lost after the agent timeout (3 s by default), generously.
	if d := g.DetectedS - stopS; d > 9 || d < 0 {
		t.Errorf("gap of %s detected %.3fs after SIGSTOP; want within [0, 9s] (3 x the agent timeout)", victim, d)
	}
	// The cut must not come before the stopped agent's lease expired,
	// or an arrival could be fired twice.
	if g.CutS < g.LastHeardS+lease.Seconds()-0.05 {
		t.Errorf("gap of %s: cut at %.3fs, before its lease could have expired (last heard %.3fs + lease %v)", victim, g.CutS, g.LastHeardS, lease)
	}
	if g.Lost == 0 {
		t.Errorf("gap of %s: lost 0; the arrivals between its silence and the cut were lost", victim)
	}
	at := agentOf(t, r, victim)
	if int64(at.Lost) != int64(at.Intended)-int64(at.Issued)-int64(at.Dropped) {
		t.Errorf("agent %s: lost %d; want intended %d - issued %d - dropped %d", victim, at.Lost, at.Intended, at.Issued, at.Dropped)
	}
	checkBalance(t, r, st)
	checkLostInGap(t, st, stopS, g.CutS)

	// Requests the victim sent after its last snapshot (at most one
	// interval's worth before SIGSTOP) can never be reported: they are
	// among the arrivals counted lost, never on top of them. Nothing else
	// reached the target uncounted.
	extra := int64(len(hits)) - int64(st.Issued)
	t.Logf("the target saw %d requests, the report issued %d: %d sent by %s after its last snapshot, counted in its %d lost",
		len(hits), st.Issued, extra, victim, g.Lost)
	if extra > int64(g.Lost)+stale {
		t.Errorf("the target saw %d requests, the report issued %d: %d uncounted, more than the %d lost + %d stale",
			len(hits), st.Issued, extra, g.Lost, stale)
	}
	checkRecovery(t, hits, st, g.CutS+1, st.DurationS-1, rate, 0.90)
}

func sinceOrZero(at, from time.Time) time.Duration {
	if at.IsZero() {
		return 0
	}
	return at.Sub(from)
}

func keys(m map[uint16]bool) []uint16 {
	var ks []uint16
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
