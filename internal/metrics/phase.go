package metrics

import (
	"fmt"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Phase names one part of a request's time on the wire, beside time to
// first byte (Series.TTFB), which has its own histogram since before
// phases were measured.
//
// A request on a fresh connection has a DNS phase (only when a name was
// looked up: none for an IP literal), a connect phase (the TCP dial) and,
// over https, a TLS phase (the handshake); a request on a reused
// connection has none of the three. Every request that was written has a
// write phase (write start − last byte written) and every request that
// got a first byte a read phase (first byte − body read).
type Phase uint8

// The phases, in the order a request goes through them.
const (
	PhaseDNS Phase = iota
	PhaseConnect
	PhaseTLS
	PhaseWrite
	PhaseRead
	NumPhases
)

var phaseNames = [NumPhases]string{"dns", "connect", "tls", "write", "read"}

// String is the phase's name in reports and thresholds.
func (p Phase) String() string {
	if p < NumPhases {
		return phaseNames[p]
	}
	return fmt.Sprintf("phase(%d)", uint8(p))
}

// ParsePhase returns the phase named s.
func ParsePhase(s string) (Phase, bool) {
	for p, n := range phaseNames {
		if n == s {
			return Phase(p), true
		}
	}
	return 0, false
}

// Phases are the phase histograms of one series. A histogram is
// allocated on its first value, so a series with no phase data (an
// interval decoded from the packed timeline, a check's series) costs
// nothing; a nil entry is an empty histogram.
type Phases [NumPhases]*hdrhistogram.Histogram

// Get returns phase p's histogram, or nil when it holds nothing.
func (ps *Phases) Get(p Phase) *hdrhistogram.Histogram {
	if h := ps[p]; h != nil && h.TotalCount() > 0 {
		return h
	}
	return nil
}

// record adds d to phase p, allocating its histogram of geometry g on
// first use.
func (ps *Phases) record(g Geometry, p Phase, d time.Duration) {
	if ps[p] == nil {
		ps[p] = g.New()
	}
	g.record(ps[p], d)
}

// ensure returns phase p's histogram, allocating it with geometry g.
func (ps *Phases) ensure(g Geometry, p Phase) *hdrhistogram.Histogram {
	if ps[p] == nil {
		ps[p] = g.New()
	}
	return ps[p]
}

// Merge adds o into ps.
func (ps *Phases) Merge(o *Phases) error {
	for p, h := range o {
		if h == nil || h.TotalCount() == 0 {
			continue
		}
		if err := Merge(ps.ensure(geometryOf(h), Phase(p)), h); err != nil {
			return fmt.Errorf("%s phase: %w", Phase(p), err)
		}
	}
	return nil
}

// Reset empties every histogram, keeping its memory.
func (ps *Phases) Reset() {
	for _, h := range ps {
		if h != nil {
			h.Reset()
		}
	}
}

// Timed says which phases of a Result hold a duration, one bit per Phase.
type Timed uint8

// Has reports whether phase p was timed.
func (t Timed) Has(p Phase) bool { return t&(1<<p) != 0 }

// With returns t with phase p timed.
func (t Timed) With(p Phase) Timed { return t | 1<<p }
