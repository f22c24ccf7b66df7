package metrics

import (
	"testing"
	"time"
)

func TestParsePhase(t *testing.T) {
	for p := range NumPhases {
		got, ok := ParsePhase(p.String())
		if !ok || got != p {
			t.Errorf("ParsePhase(%q) = %v, %v; want %v, true", p.String(), got, ok, p)
		}
	}
	for _, s := range []string{"", "ttfb", "DNS", "phase(9)"} {
		if p, ok := ParsePhase(s); ok {
			t.Errorf("ParsePhase(%q) = %v, true; want false", s, p)
		}
	}
}

// phaseResult is a finished request with the phases of timed, each
// lasting its phase's index + 1 ms.
func phaseResult(req int, timed Timed, fresh bool) Result {
	res := Result{Request: req, Outcome: OK, Response: time.Millisecond, Service: time.Millisecond, Timed: timed, NewConn: fresh}
	for p := range NumPhases {
		if timed.Has(p) {
			res.Phase[p] = time.Duration(p+1) * time.Millisecond
		}
	}
	return res
}

// TestRecorderPhases records requests with and without fresh
// connections and checks each phase's count, value and NewConns, through
// the recorder, a merge, the sparse form and a timeline.
func TestRecorderPhases(t *testing.T) {
	g := DefaultGeometry()
	fresh := Timed(0).With(PhaseDNS).With(PhaseConnect).With(PhaseWrite).With(PhaseRead)
	reused := Timed(0).With(PhaseWrite).With(PhaseRead)
	r := NewRecorder(g, 2)
	for i := range 10 {
		r.Issued(0, 0, 0)
		r.Issued(0, 1, 0)
		r.Finished(0, phaseResult(0, fresh, i < 3))
		if i < 3 {
			r.Finished(0, phaseResult(1, reused, false))
		} else {
			r.Finished(0, Result{Request: 1, Outcome: Timeout, Response: time.Second, Service: time.Second})
		}
	}
	iv := r.Rotate()
	check := func(name string, iv *Interval) {
		t.Helper()
		want := [2][NumPhases]int64{{10, 10, 0, 10, 10}, {0, 0, 0, 3, 3}}
		for k, s := range iv.Series {
			for p := range NumPhases {
				var n int64
				if h := s.Phases.Get(p); h != nil {
					n = h.TotalCount()
					if v := h.Max(); time.Duration(v) < time.Duration(p+1)*time.Millisecond {
						t.Errorf("%s: series %d %v max = %v; want >= %v", name, k, p, time.Duration(v), time.Duration(p+1)*time.Millisecond)
					}
				}
				if n != want[k][p] {
					t.Errorf("%s: series %d %v count = %d; want %d", name, k, p, n, want[k][p])
				}
			}
		}
		if got := iv.Series[0].NewConns; got != 3 {
			t.Errorf("%s: series 0 NewConns = %d; want 3", name, got)
		}
		if got := iv.Series[1].NewConns; got != 0 {
			t.Errorf("%s: series 1 NewConns = %d; want 0", name, got)
		}
	}
	check("recorded", iv)

	var d SparseInterval
	if err := d.Set(iv); err != nil {
		t.Fatal(err)
	}
	back, err := d.Interval(g)
	if err != nil {
		t.Fatal(err)
	}
	check("sparse round trip", back)

	// Two agents' snapshots merged: every count doubles.
	m := NewInterval(g, 2)
	if err := m.Merge(iv); err != nil {
		t.Fatal(err)
	}
	if err := m.AddSparse(&d); err != nil {
		t.Fatal(err)
	}
	for p, h := range m.Series[0].Phases {
		var want int64
		if p != int(PhaseTLS) {
			want = 20
		}
		var got int64
		if h != nil {
			got = h.TotalCount()
		}
		if got != want {
			t.Errorf("merged series 0 %v count = %d; want %d", Phase(p), got, want)
		}
	}
	if got := m.Series[0].NewConns; got != 6 {
		t.Errorf("merged NewConns = %d; want 6", got)
	}

	// A timeline keeps phases in its total.
	tl := NewTimeline(g, []string{"a", "b"}, time.Second)
	if err := tl.AddSparse(&d); err != nil {
		t.Fatal(err)
	}
	check("timeline total", tl.Total)

	// Reset keeps the memory and empties it.
	m.Series[0].Reset()
	for p := range NumPhases {
		if m.Series[0].Phases.Get(p) != nil {
			t.Errorf("after Reset, %v is not empty", p)
		}
	}
}

// TestRecorderPhasesNoAlloc: recording phases allocates nothing once the
// interval's histograms exist.
func TestRecorderPhasesNoAlloc(t *testing.T) {
	r := NewRecorder(DefaultGeometry(), 1)
	res := phaseResult(0, Timed(0).With(PhaseDNS).With(PhaseConnect).With(PhaseTLS).With(PhaseWrite).With(PhaseRead), true)
	r.Issued(0, 0, 0)
	r.Finished(0, res)
	if n := testing.AllocsPerRun(100, func() {
		r.Issued(0, 0, 0)
		r.Finished(0, res)
	}); n != 0 {
		t.Errorf("Finished with phases: %v allocations per request; want 0", n)
	}
}
