//go:build linux

package faults

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The parts of report.json these tests read (reporters/report.go has the
// schema). They are decoded by their JSON names, so that the tests read
// the file as a user's tooling would.
type report struct {
	Stages   []stage       `json:"stages"`
	Agents   []agentTotals `json:"agents"`
	Warnings []string      `json:"warnings"`
	Verdict  string        `json:"verdict"`
}

type stage struct {
	Name string `json:"name"`
	// Started is the wall time of the stage's T0 on the coordinator.
	Started        time.Time  `json:"started"`
	Intended       uint64     `json:"intended"`
	Issued         uint64     `json:"issued"`
	Succeeded      uint64     `json:"succeeded"`
	Failed         uint64     `json:"failed"`
	Dropped        uint64     `json:"dropped"`
	Lost           uint64     `json:"lost"`
	SentUnreported uint64     `json:"sent_unreported"`
	InFlightAtEnd  uint64     `json:"in_flight_at_end"`
	DurationS      float64    `json:"duration_s"`
	Gaps           []gap      `json:"gaps"`
	Intervals      []interval `json:"intervals"`
}

// gap is an agent lost during a stage; times are seconds since T0.
type gap struct {
	Agent      string   `json:"agent"`
	Cause      string   `json:"cause"`
	LastHeardS float64  `json:"last_heard_s"`
	DetectedS  float64  `json:"detected_s"`
	CutS       float64  `json:"cut_s"`
	CutIndex   uint64   `json:"cut_index"`
	Lost       uint64   `json:"lost"`
	TakenBy    []string `json:"taken_by"`
	// SentUnreported and SentUnreportedMin bound what the lost agent sent
	// and never reported.
	SentUnreported    uint64 `json:"sent_unreported"`
	SentUnreportedMin uint64 `json:"sent_unreported_min"`
}

type interval struct {
	TS       float64 `json:"t_s"`
	Intended uint64  `json:"intended"`
	Issued   uint64  `json:"issued"`
	Dropped  uint64  `json:"dropped"`
	Lost     uint64  `json:"lost"`
}

type agentTotals struct {
	Name          string  `json:"name"`
	Intended      uint64  `json:"intended"`
	Issued        uint64  `json:"issued"`
	Succeeded     uint64  `json:"succeeded"`
	Failed        uint64  `json:"failed"`
	Dropped       uint64  `json:"dropped"`
	Lost          uint64  `json:"lost"`
	InFlightAtEnd uint64  `json:"in_flight_at_end"`
	ClockOffsetMS float64 `json:"clock_offset_ms"`
	ClockErrorMS  float64 `json:"clock_error_ms"`
}

// readReport reads dir/report.json and returns its only stage.
func readReport(t *testing.T, dir string) (*report, *stage) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatalf("the coordinator wrote no report: %v", err)
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	if len(r.Stages) != 1 {
		t.Fatalf("report.json has %d stages; want 1", len(r.Stages))
	}
	st := &r.Stages[0]
	if st.Started.IsZero() {
		t.Fatalf("report.json: stages[0].started is missing: the tests need the stage's T0 to place the fault")
	}
	t.Logf("stage %s: started %s, intended %d issued %d dropped %d lost %d (succeeded %d failed %d in flight %d); verdict %q; warnings %q",
		st.Name, st.Started.Format(time.RFC3339Nano), st.Intended, st.Issued, st.Dropped, st.Lost, st.Succeeded, st.Failed, st.InFlightAtEnd, r.Verdict, r.Warnings)
	for _, g := range st.Gaps {
		t.Logf("gap %+v", g)
	}
	for _, a := range r.Agents {
		t.Logf("agent %+v", a)
	}
	return &r, st
}

// checkBalance checks intended = issued + dropped + lost and issued =
// succeeded + failed + in flight, for the stage and every agent, and that
// the agents add up to the stage.
func checkBalance(t *testing.T, r *report, st *stage) {
	t.Helper()
	if st.Intended != st.Issued+st.Dropped+st.Lost {
		t.Errorf("stage: intended %d != issued %d + dropped %d + lost %d", st.Intended, st.Issued, st.Dropped, st.Lost)
	}
	if st.Issued != st.Succeeded+st.Failed+st.InFlightAtEnd {
		t.Errorf("stage: issued %d != succeeded %d + failed %d + in flight %d", st.Issued, st.Succeeded, st.Failed, st.InFlightAtEnd)
	}
	var sum agentTotals
	for _, a := range r.Agents {
		if a.Intended != a.Issued+a.Dropped+a.Lost {
			t.Errorf("agent %s: intended %d != issued %d + dropped %d + lost %d", a.Name, a.Intended, a.Issued, a.Dropped, a.Lost)
		}
		sum.Intended += a.Intended
		sum.Issued += a.Issued
		sum.Dropped += a.Dropped
		sum.Lost += a.Lost
	}
	if sum.Intended != st.Intended || sum.Issued != st.Issued || sum.Dropped != st.Dropped || sum.Lost != st.Lost {
		t.Errorf("the agents add up to intended %d issued %d dropped %d lost %d; the stage says %d %d %d %d",
			sum.Intended, sum.Issued, sum.Dropped, sum.Lost, st.Intended, st.Issued, st.Dropped, st.Lost)
	}
	var ivLost uint64
	for _, iv := range st.Intervals {
		ivLost += iv.Lost
	}
	if ivLost != st.Lost {
		t.Errorf("the intervals' lost add up to %d; the stage lost %d", ivLost, st.Lost)
	}
}

// gapOf is the stage's gap for agent, failing the test when none.
func gapOf(t *testing.T, st *stage, agent string) gap {
	t.Helper()
	for _, g := range st.Gaps {
		if g.Agent == agent {
			return g
		}
	}
	t.Fatalf("report.json has no gap for agent %s (gaps: %+v)", agent, st.Gaps)
	return gap{}
}

// agentOf is the report's totals for agent.
func agentOf(t *testing.T, r *report, agent string) agentTotals {
	t.Helper()
	for _, a := range r.Agents {
		if a.Name == agent {
			return a
		}
	}
	t.Fatalf("report.json has no agent %s", agent)
	return agentTotals{}
}

// stageS is when, in seconds since the stage's T0, the instant at was.
// T0 is the coordinator's wall clock and at this process's: both are this
// machine's clock.
func stageS(st *stage, at time.Time) float64 { return at.Sub(st.Started).Seconds() }

// checkTakenBy checks that the gap's share went to survivors only.
func checkTakenBy(t *testing.T, g gap) {
	t.Helper()
	if len(g.TakenBy) == 0 {
		t.Errorf("gap of %s: taken_by is empty: its share was not re-assigned", g.Agent)
	}
	for _, n := range g.TakenBy {
		if n == g.Agent {
			t.Errorf("gap of %s: its share was re-assigned to itself (taken_by %v)", g.Agent, g.TakenBy)
		}
	}
}

// checkLostInGap checks that the intervals overlapping [from, to] (stage
// seconds) count lost arrivals: the gap is marked where it happened.
func checkLostInGap(t *testing.T, st *stage, from, to float64) {
	t.Helper()
	var lost uint64
	for i, iv := range st.Intervals {
		end := st.DurationS
		if i+1 < len(st.Intervals) {
			end = st.Intervals[i+1].TS
		}
		if iv.TS <= to && end >= from {
			lost += iv.Lost
		}
	}
	if lost == 0 {
		t.Errorf("no interval between %.2fs and %.2fs counts a lost arrival: the gap is not marked", from, to)
	}
}

// checkRecovery checks that every whole second of stage time in [from,
// to) had at least frac of the rate at the target: after a cut, the
// survivors carry the whole rate; through a blip, the agents fire on.
func checkRecovery(t *testing.T, hits []hit, st *stage, from, to, rate, frac float64) {
	t.Helper()
	first, last := int(math.Ceil(from)), int(math.Floor(to))
	if last <= first {
		t.Errorf("no whole second between %.2fs and %.2fs to check the rate", from, to)
		return
	}
	counts := make([]int, last)
	for _, h := range hits {
		if s := stageS(st, h.at); s >= 0 && int(s) < last {
			counts[int(s)]++
		}
	}
	t.Logf("requests per second at the target (stage seconds 0..%d): %v", last-1, counts)
	for s := first; s < last; s++ {
		if float64(counts[s]) < frac*rate {
			t.Errorf("second %d (checked from %.2fs): the target saw %d requests; want >= %.0f (%.0f%% of %.0f/s)",
				s, from, counts[s], frac*rate, frac*100, rate)
		}
	}
}
