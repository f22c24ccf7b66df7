package report

import (
	"fmt"
	"slices"
	"time"

	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/reporters"
)

// Generator is what judging the generator's own health needs to know.
type Generator struct {
	// MaxSendLag is the send-lag p99 above which a stage is flagged
	// generator-limited.
	MaxSendLag time.Duration
	// MaxInFlight and MaxConns are the stage's per-agent limits, named in
	// the advice.
	MaxInFlight, MaxConns int
	// CPUShare divides reported CPU (see Played.CPUShare).
	CPUShare int
}

// GeneratorHealth fills the stage's generator cost and flags a stage the
// generator (not the target) limited. It returns the warnings to show,
// in order.
func GeneratorHealth(st *reporters.Stage, total *metrics.Interval, g Generator) (warnings []string) {
	cpu := total.CPU / time.Duration(max(g.CPUShare, 1))
	st.AgentCPUS = cpu.Seconds()
	if done := st.Succeeded + st.Failed; done > 0 {
		st.CPUPerRequestUS = float64(cpu.Microseconds()) / float64(done)
	}
	if lag := time.Duration(metrics.ValueAtPercentile(total.SendLag, 99)); total.SendLag.TotalCount() > 0 && lag > g.MaxSendLag {
		st.GeneratorNotes = append(st.GeneratorNotes, fmt.Sprintf(
			"send lag p99 %v is over %v: the agents could not send on time, so the target saw less load than intended at those instants; add agents (or cores), lower the rate per agent, or bound the connection pool (client.max_conns in the scenario, or --max-conns) so late arrivals wait for a connection instead of dialling new ones",
			lag.Round(10*time.Microsecond), g.MaxSendLag))
	}
	if note, pool := onWireNote(st, total, g); note != "" {
		st.GeneratorNotes = append(st.GeneratorNotes, note)
		st.PoolLimited = pool
	}
	if st.Dropped > 0 {
		st.GeneratorNotes = append(st.GeneratorNotes, fmt.Sprintf(
			"%d arrivals were dropped at the in-flight cap (%d per agent): raise it (client.max_in_flight in the scenario, or --max-in-flight) if the target may hold that many requests, or add agents",
			st.Dropped, g.MaxInFlight))
	}
	if n := st.Errors[metrics.LocalResource.String()]; n > 0 {
		// The generator's own failure: these requests were never sent,
		// so the target saw less load than intended.
		st.GeneratorNotes = append(st.GeneratorNotes, fmt.Sprintf(
			"%d requests failed with local_resource: an agent ran out of file descriptors (EMFILE/ENFILE) and never sent them; raise the agents' open-file limit (ulimit -n, or LimitNOFILE= under systemd) above max_conns × targets, lower client.max_conns (or --max-conns), or add agents",
			n))
	}
	if !st.PoolLimited && manyWaited(st) {
		// Not generator-limited (the pool is the user's setting), but the
		// client held those sends back: say so where the numbers are read.
		warnings = append(warnings, fmt.Sprintf("stage %s: %d of %d requests (%.1f%%) waited for a pooled connection at the bound of %d per agent; their response times include that wait. If the target can take more connections, raise client.max_conns (or --max-conns)",
			st.Name, st.ConnWaits, st.Issued, 100*float64(st.ConnWaits)/float64(st.Issued), g.MaxConns))
	}
	if len(st.GeneratorNotes) > 0 {
		st.GeneratorLimited = true
		for _, n := range st.GeneratorNotes {
			warnings = append(warnings, fmt.Sprintf("stage %s is generator-limited: %s", st.Name, n))
		}
	}
	return warnings
}

// manyWaited reports that 1% or more of the stage's requests waited for
// a pooled connection at the pool's bound.
func manyWaited(st *reporters.Stage) bool {
	return st.ConnWaits > 0 && st.ConnWaits*100 >= st.Issued
}

// onWireNote judges the on-wire lag (on the wire − intended): when its p99
// is over the generator bound while the send lag is not (that has its own
// note), the requests were dispatched on time but went out late, so the
// target was not offered the scheduled load at those instants. pool is
// set when the pool's bound held them (manyWaited): raising max_conns is
// the fix. Otherwise the connections themselves were slow to come (dials,
// TLS handshakes).
func onWireNote(st *reporters.Stage, total *metrics.Interval, g Generator) (note string, pool bool) {
	if total.OnWireLag == nil || total.OnWireLag.TotalCount() == 0 {
		return "", false
	}
	lag := time.Duration(metrics.ValueAtPercentile(total.OnWireLag, 99))
	send := time.Duration(metrics.ValueAtPercentile(total.SendLag, 99))
	if lag <= g.MaxSendLag || total.SendLag.TotalCount() > 0 && send > g.MaxSendLag {
		return "", false
	}
	head := fmt.Sprintf("on-wire lag p99 %v is over %v (send lag p99 %v): requests were dispatched on time but went out on the wire late, so the target saw less load than intended at those instants",
		lag.Round(10*time.Microsecond), g.MaxSendLag, send.Round(10*time.Microsecond))
	if manyWaited(st) {
		return fmt.Sprintf("%s; pool-limited: %d of %d requests (%.1f%%) waited for a pooled connection at the bound of %d per agent. Raise client.max_conns (or --max-conns) if the target can take more connections, or add agents",
			head, st.ConnWaits, st.Issued, 100*float64(st.ConnWaits)/float64(max(st.Issued, 1)), g.MaxConns), true
	}
	return head + "; connections came late (dials or TLS handshakes, or a pooled connection at client.max_conns): keep connections alive and reusable (no per-request connections), or raise client.max_conns (or --max-conns) if it bounds the pool", false
}

// Ceiling measures a played stage's ceiling from its intervals (of length
// step). The intervals in which the target fell behind (successes under
// 95% of the arrivals, whether the rest failed, waited or timed out) are
// saturated; with at least reporters.CeilingWindow of them the ceiling is
// reached, and it is their median rate of successes: the plateau the
// target holds while the load keeps climbing, robust to a lucky or an
// unlucky interval. Otherwise the target kept up, and the ceiling is only
// a lower bound: the highest rate of successes over CeilingWindow
// consecutive intervals. nil for a stage without intervals.
func Ceiling(ivs []reporters.Interval, step time.Duration) *reporters.Ceiling {
	if len(ivs) == 0 || step <= 0 {
		return nil
	}
	var saturated []float64
	for _, iv := range ivs {
		// Lost arrivals (a lost agent's) say nothing of the target.
		if played := iv.Intended - iv.Lost; played > 0 && float64(iv.Succeeded) < 0.95*float64(played) {
			saturated = append(saturated, float64(iv.Succeeded)/step.Seconds())
		}
	}
	if len(saturated) >= reporters.CeilingWindow {
		slices.Sort(saturated)
		n := len(saturated)
		median := saturated[n/2]
		if n%2 == 0 {
			median = (saturated[n/2-1] + saturated[n/2]) / 2
		}
		return &reporters.Ceiling{MeasuredRPS: median, Method: reporters.CeilingGoodput, Reached: true}
	}
	w := min(reporters.CeilingWindow, len(ivs))
	c := &reporters.Ceiling{Method: reporters.CeilingGoodput}
	for i := 0; i+w <= len(ivs); i++ {
		var ok uint64
		for _, iv := range ivs[i : i+w] {
			ok += iv.Succeeded
		}
		c.MeasuredRPS = max(c.MeasuredRPS, float64(ok)/(float64(w)*step.Seconds()))
	}
	return c
}
