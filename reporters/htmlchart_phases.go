package reporters

import (
	"fmt"
	"math"
	"slices"
	"strconv"
)

// phaseColors are the phases' colours, in PhaseNames' order (Okabe–Ito).
var phaseColors = [len(PhaseNames)]string{"#cc79a7", "#e69f00", "#f0e442", "#56b4e9", "#0072b2", "#009e73"}

// phasesView is a stage's phase breakdown: the table of the stage and
// of each request that has phases, and the stacked bar of their medians.
type phasesView struct {
	Entities []phaseEntity
	Chart    phaseChart
	// Absent are the phases no request of the stage had.
	Absent []string
}

// phaseEntity is the stage (all its requests merged) or one request.
type phaseEntity struct {
	Name     string
	NewConns uint64
	Rows     []phaseRow
}

// phaseRow is one phase of an entity; !Have when no request had it.
type phaseRow struct {
	Phase, Color string
	P            Percentiles
	Have         bool
}

// phaseChart is a horizontal stacked bar per entity: its phases' medians
// end to end, on a linear ms axis.
type phaseChart struct {
	Name, Stage                    string
	W, H, Left, Right, Top, Bottom float64
	Ticks                          []tick
	Bars                           []phaseBar
	Legend                         []phaseLegend
	Points                         int
	NoData                         bool
	// More counts the entities beyond the chart's bound: the table has them.
	More int
}

type phaseBar struct {
	Label, Full string
	Y, TextY    float64
	Segs        []phaseSeg
	Total       string
	TotalX      float64
}

type phaseSeg struct {
	Phase, Color string
	X, W         float64
	// MS is the median in ms, in the shortest form that reads back to
	// the report's figure.
	MS, Tip string
}

type phaseLegend struct {
	Phase, Color string
	X            float64
}

// The phase chart's frame: names on the left, totals on the right.
const (
	phaseLeft, phaseRight, phaseTop = 170.0, 540.0, 44.0
	phaseBarH, phaseBarGap          = 18.0, 8.0
	maxPhaseBars                    = 20
	maxPhaseLabel                   = 22
)

// phasesOf is stage i's phase breakdown, nil when neither the stage nor
// any request has phases (a report from before they were measured).
func phasesOf(i int, s *Stage) *phasesView {
	var ents []phaseEntity
	if s.Phases != (Phases{}) {
		ents = append(ents, newPhaseEntity("all requests", s.Phases))
	}
	for _, rq := range s.Requests {
		if rq.Phases != (Phases{}) {
			ents = append(ents, newPhaseEntity(rq.Name, rq.Phases))
		}
	}
	if len(ents) == 0 {
		return nil
	}
	// A phase no request had (dns for an IP literal, tls over plain
	// http) is named once instead of a row of dashes per entity.
	v := &phasesView{}
	for k, ph := range PhaseNames {
		had := false
		for _, e := range ents {
			had = had || e.Rows[k].Have
		}
		if !had {
			v.Absent = append(v.Absent, ph)
		}
	}
	for _, e := range ents {
		rows := e.Rows[:0:0]
		for _, r := range e.Rows {
			if !slices.Contains(v.Absent, r.Phase) {
				rows = append(rows, r)
			}
		}
		e.Rows = rows
		v.Entities = append(v.Entities, e)
	}
	v.Chart = phaseBars(i, v.Entities)
	return v
}

func newPhaseEntity(name string, p Phases) phaseEntity {
	e := phaseEntity{Name: name, NewConns: p.NewConns}
	for k, ph := range PhaseNames {
		v := p.Of(ph)
		e.Rows = append(e.Rows, phaseRow{Phase: ph, Color: phaseColors[k], P: v, Have: v != (Percentiles{})})
	}
	return e
}

// drawable is a median that has a width on a bar.
func drawable(v float64) bool { return v > 0 && v < 1e15 }

// phaseBars lays out the stacked medians of up to maxPhaseBars entities.
func phaseBars(i int, ents []phaseEntity) phaseChart {
	c := phaseChart{Name: "phases", Stage: strconv.Itoa(i), W: chartW, Left: phaseLeft, Right: phaseRight, Top: phaseTop}
	if len(ents) > maxPhaseBars {
		c.More = len(ents) - maxPhaseBars
		ents = ents[:maxPhaseBars]
	}
	c.Bottom = phaseTop + float64(len(ents))*(phaseBarH+phaseBarGap)
	c.H = c.Bottom + 44
	total := 0.0
	present := map[string]bool{}
	for _, e := range ents {
		sum := 0.0
		for _, r := range e.Rows {
			if r.Have && drawable(r.P.P50) {
				sum += r.P.P50
				present[r.Phase] = true
			}
		}
		total = math.Max(total, sum)
	}
	if total <= 0 {
		c.NoData = true
		return c
	}
	step := niceStep(total / 5)
	top := math.Ceil(total/step) * step
	sx := func(v float64) float64 { return round1(phaseLeft + v/top*(phaseRight-phaseLeft)) }
	for k := 0.0; k <= 20; k++ {
		v := k * step
		if v > top+step*1e-9 {
			break
		}
		c.Ticks = append(c.Ticks, tick{Pos: sx(v), Label: tickLabel(v, step)})
	}
	for k, e := range ents {
		y := phaseTop + float64(k)*(phaseBarH+phaseBarGap)
		b := phaseBar{Label: shortLabel(e.Name), Full: e.Name, Y: y, TextY: y + 13}
		at := 0.0
		for _, r := range e.Rows {
			if !r.Have || !drawable(r.P.P50) {
				continue
			}
			x0, x1 := sx(at), sx(at+r.P.P50)
			at += r.P.P50
			b.Segs = append(b.Segs, phaseSeg{Phase: r.Phase, Color: r.Color, X: x0, W: round1(x1 - x0),
				MS: strconv.FormatFloat(r.P.P50, 'g', -1, 64), Tip: fmt.Sprintf("%s: %s p50 %s ms", e.Name, r.Phase, ms(r.P.P50))})
			c.Points++
		}
		b.Total, b.TotalX = ms(at)+" ms", sx(at)+4
		c.Bars = append(c.Bars, b)
	}
	x := phaseLeft
	for k, ph := range PhaseNames {
		if present[ph] {
			c.Legend = append(c.Legend, phaseLegend{Phase: ph, Color: phaseColors[k], X: x})
			x += 22 + 7*float64(len(ph)) + 14
		}
	}
	return c
}

// shortLabel keeps a bar's name within the chart's left margin; the
// bar's tooltip has it whole.
func shortLabel(s string) string {
	r := []rune(s)
	if len(r) <= maxPhaseLabel {
		return s
	}
	return string(r[:maxPhaseLabel-1]) + "…"
}
