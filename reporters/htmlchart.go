package reporters

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/surgeload/surge/internal/metrics"
)

// chartSpec is what a chart shows and how its axes run.
type chartSpec struct {
	Name, Stage, Title, XLabel, YLabel string
	// XMin and XMax bound the x axis; when equal, the data's own range.
	XMin, XMax float64
	// XTicks, when given, replace the computed x ticks.
	XTicks []tick
	// LogY puts y on a log scale with a labelled tick per decade. A value
	// of 0 has no place there, nor one under logFloorMS (1 ns, below any
	// clock's resolution, where 10^k underflows soon after): it is a gap,
	// counted in chartView.Hidden and said in a note on the chart.
	LogY bool
	// Linear, with LogY, also lays the chart out on a linear y axis from
	// 0 (chartView.Lin), which the page's "linear axes" toggle shows,
	// labelled LinearYLabel.
	Linear       bool
	LinearYLabel string
}

// buildChart lays out series in the fixed frame: x linear over
// [XMin, XMax], y linear from 0 to a round number above the highest
// value, or with LogY over the decades that hold the positive values.
// Values that cannot be drawn (NaN, ±Inf, beyond 1e15, or ≤ 0 on a log
// axis) are gaps, so the SVG never holds a NaN or an infinity.
func buildChart(spec chartSpec, series []rawSeries) chartView {
	c := chartView{Name: spec.Name, Stage: spec.Stage, Title: spec.Title, XLabel: spec.XLabel, YLabel: spec.YLabel, Log: spec.LogY,
		W: chartW, H: chartH, Left: plotLeft, Right: plotRight, Top: plotTop, Bottom: plotBottom}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) && math.Abs(v) < 1e15 }
	drawn := make([]rawSeries, len(series))
	for i := range series {
		pts := append([]point(nil), series[i].Points...)
		for j := range pts {
			ok := pts[j].OK && finite(pts[j].X) && finite(pts[j].Y)
			if ok && spec.LogY && pts[j].Y < logFloorMS {
				ok = false
				c.Hidden++
			}
			pts[j].OK = ok
		}
		drawn[i] = series[i]
		drawn[i].Points = pts
	}
	dataXMin, dataXMax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), 0.0
	for _, s := range drawn {
		for _, p := range s.Points {
			if !p.OK {
				continue
			}
			c.Points++
			dataXMin, dataXMax = math.Min(dataXMin, p.X), math.Max(dataXMax, p.X)
			ymax = math.Max(ymax, p.Y)
			if p.Y > 0 {
				ymin = math.Min(ymin, p.Y)
			}
		}
	}
	if c.Hidden > 0 {
		c.Note = fmt.Sprintf("%d value%s of 0 (under 1 ns) not drawn (log axis)", c.Hidden, plural(c.Hidden))
	}
	if c.Points == 0 {
		c.NoData = true
		return c
	}
	xmin, xmax := spec.XMin, spec.XMax
	if xmin == xmax {
		xmin, xmax = dataXMin, dataXMax
	}
	if xmax <= xmin {
		xmax = xmin + 1
	}
	xTicks := spec.XTicks
	if xTicks == nil {
		step := niceStep((xmax - xmin) / 8)
		first := math.Ceil(xmin / step)
		for k := 0.0; k <= 20; k++ {
			x := (first + k) * step
			if x > xmax+step*1e-9 {
				break
			}
			xTicks = append(xTicks, tick{Pos: x, Label: tickLabel(x, step)})
		}
	}
	sx := func(x float64) float64 { return plotLeft + (x-xmin)/(xmax-xmin)*(plotRight-plotLeft) }
	for _, t := range xTicks {
		if t.Pos >= xmin-1e-9 && t.Pos <= xmax+1e-9 {
			c.XTicks = append(c.XTicks, tick{Pos: round1(sx(t.Pos)), Label: t.Label})
		}
	}
	var sy func(float64) float64
	if spec.LogY {
		sy, c.YTicks, c.YMinor = logAxis(ymin, ymax)
	} else {
		sy, c.YTicks = linearAxis(ymax)
	}
	legendX := plotLeft
	for _, s := range drawn {
		cs := chartSeries{Name: s.Name, Color: s.Color, Dash: s.Dash, LegendX: legendX}
		var seg []string
		n := 0
		for _, p := range s.Points {
			if p.OK {
				n++
			}
		}
		cs.Empty = n == 0
		if cs.Empty {
			cs.Name += ": no samples"
		}
		legendX += 24 + 7*float64(len([]rune(cs.Name))) + 18
		flush := func() {
			if len(seg) > 0 {
				cs.Segments = append(cs.Segments, strings.Join(seg, " "))
			}
			seg = nil
		}
		for _, p := range s.Points {
			if !p.OK {
				flush()
				continue
			}
			x, y := round1(sx(p.X)), round1(sy(p.Y))
			seg = append(seg, strconv.FormatFloat(x, 'f', -1, 64)+","+strconv.FormatFloat(y, 'f', -1, 64))
			d := chartDot{X: x, Y: y, Tip: p.Tip}
			if p.Key {
				d.Q, d.MS = percentileText(p.Q), strconv.FormatFloat(p.Y, 'g', -1, 64)
			}
			if p.Key || (!s.KeyDots && n <= maxDots) {
				cs.Dots = append(cs.Dots, d)
			}
		}
		flush()
		c.Series = append(c.Series, cs)
	}
	if spec.LogY && spec.Linear {
		lin := spec
		lin.LogY, lin.Linear, lin.YLabel = false, false, spec.LinearYLabel
		l := buildChart(lin, series)
		c.Lin = &l
	}
	return c
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// linearAxis maps y in [0, a round number ≥ ymax] onto the plot, with
// about five ticks.
func linearAxis(ymax float64) (func(float64) float64, []tick) {
	ystep := niceStep(ymax / 5)
	if ymax <= 0 {
		ystep = 0.2
	}
	ytop := math.Ceil(ymax/ystep) * ystep
	if ytop <= 0 {
		ytop = 1
	}
	sy := func(y float64) float64 { return plotBottom - y/ytop*(plotBottom-plotTop) }
	var ticks []tick
	for k := 0.0; k <= 20; k++ {
		y := k * ystep
		if y > ytop+ystep*1e-9 {
			break
		}
		ticks = append(ticks, tick{Pos: round1(sy(y)), Label: tickLabel(y, ystep)})
	}
	return sy, ticks
}

// logFloorMS is the lowest value a log axis shows, in ms: 1 ns.
const logFloorMS = 1e-6

// logSlack is how far (relative) a value may lie beyond a log axis's
// end decade and be drawn on it.
const logSlack = 0.01

// maxLogTicks bounds the labelled decades of a log axis: beyond it every
// second (third, …) decade is labelled.
const maxLogTicks = 10

// logAxis maps y in [lo, hi] (logFloorMS ≤ lo ≤ hi, in ms) onto the plot on a log
// scale from the decade at or below lo to the decade at or above hi (at
// least one decade), with a labelled tick per decade (0.1 ms, 1 ms, 10 ms,
// 100 ms, 1 s, …) and, over at most six decades, unlabelled grid lines
// at 2× and 5× each decade, labelled over at most two.
func logAxis(lo, hi float64) (sy func(float64) float64, ticks []tick, minor []tick) {
	// A value within 1% of a decade (an HDR bucket's lowest equivalent
	// value of 1 ms is 0.9994 ms) does not open a decade of its own: it
	// is drawn on that decade's line.
	kmin, kmax := decadeBelow(lo*(1+logSlack)), decadeAbove(hi/(1+logSlack))
	if kmax <= kmin {
		kmax = kmin + 1
	}
	every := (kmax - kmin + maxLogTicks - 1) / maxLogTicks
	kmax = kmin + (kmax-kmin+every-1)/every*every // the top is labelled too
	l0, span := float64(kmin), float64(kmax-kmin)
	sy = func(y float64) float64 {
		return math.Min(plotBottom, math.Max(plotTop, plotBottom-(math.Log10(y)-l0)/span*(plotBottom-plotTop)))
	}
	for k := kmin; k <= kmax; k++ {
		if (k-kmin)%every == 0 {
			ticks = append(ticks, tick{Pos: round1(sy(math.Pow10(k))), Label: decadeLabel(k)})
		}
	}
	if kmax-kmin <= 6 {
		for k := kmin; k < kmax; k++ {
			for _, m := range []float64{2, 5} {
				t := tick{Pos: round1(sy(m * math.Pow10(k)))}
				if kmax-kmin <= 2 {
					t.Label = msLabel(m, k)
				}
				minor = append(minor, t)
			}
		}
	}
	return sy, ticks, minor
}

// decadeBelow is the largest k with 10^k ≤ v (v > 0), exact where
// math.Log10 is a hair off at a power of ten.
func decadeBelow(v float64) int {
	k := int(math.Floor(math.Log10(v)))
	for math.Pow10(k) > v {
		k--
	}
	for math.Pow10(k+1) <= v {
		k++
	}
	return k
}

// decadeAbove is the smallest k with 10^k ≥ v (v > 0).
func decadeAbove(v float64) int {
	k := decadeBelow(v)
	if math.Pow10(k) < v {
		k++
	}
	return k
}

// decadeLabel names 10^k ms in the unit that reads best: 100 ns, 1 µs,
// 0.1 ms, 1 ms, 10 ms, 100 ms, 1 s, 10 s, ….
func decadeLabel(k int) string { return msLabel(1, k) }

// msLabel names m×10^k ms (m a small whole number) in the unit of 10^k:
// ns below 1 µs, µs, ms from 0.01 to 100, s from 1 to 1000, and
// otherwise ms in exponent form.
func msLabel(m float64, k int) string {
	f := func(e int) string { return strconv.FormatFloat(m*math.Pow10(e), 'f', -1, 64) }
	switch {
	case k >= -6 && k <= -4:
		return f(k+6) + " ns"
	case k == -3:
		return f(0) + " µs"
	case k >= -2 && k <= 2:
		return f(k) + " ms"
	case k >= 3 && k <= 6:
		return f(k-3) + " s"
	}
	return strconv.FormatFloat(m, 'f', -1, 64) + "e" + strconv.Itoa(k) + " ms"
}

// keyPercentiles are marked on a percentile spectrum: report.json's own
// percentiles, then the further nines a large count resolves.
var keyPercentiles = []float64{50, 75, 90, 95, 99, 99.9, 99.99, 99.999}

// spectrumX is a percentile's place on HdrHistogram's percentile axis,
// log10(1/(1−q)): 90% at 1, 99% at 2, 99.9% at 3.
func spectrumX(q float64) float64 { return math.Log10(100 / (100 - q)) }

// spectrumPoints is h's latency in ms by percentile, from 0% every
// spectrumStep of spectrumX up to the percentile its count resolves
// (log10 N, at least minEnd and at most spectrumMaxX), with every key
// percentile on the way as a Key point. Each is computed exactly as
// report.json's percentiles are (metrics.ValueAtPercentile, ns ÷ 1e6),
// so a key point equals the report's figure for that percentile.
func spectrumPoints(h *hdrhistogram.Histogram, label string, minEnd float64) []point {
	end := math.Min(spectrumMaxX, math.Max(minEnd, math.Log10(float64(h.TotalCount()))))
	at := func(q float64, key bool) point {
		v := float64(metrics.ValueAtPercentile(h, q)) / 1e6
		return point{X: spectrumX(q), Y: v, OK: true, Key: key, Q: q,
			Tip: fmt.Sprintf("%sp%s: %s ms", label, percentileText(q), ms(v))}
	}
	var pts []point
	keys := keyPercentiles
	steps := int(math.Round(end / spectrumStep))
	for k := 0; k <= steps; k++ {
		x := float64(k) * spectrumStep
		for len(keys) > 0 && spectrumX(keys[0]) <= x+1e-9 && spectrumX(keys[0]) <= end+1e-9 {
			pts = append(pts, at(keys[0], true))
			keys = keys[1:]
		}
		if len(pts) > 0 && math.Abs(pts[len(pts)-1].X-x) < spectrumStep/4 {
			continue // a key percentile stands there
		}
		pts = append(pts, at(100*(1-math.Pow(10, -x)), false))
	}
	return pts
}

// distributionChart is stage i's response-time distribution: its merged
// histogram's percentile spectrum on a log latency axis, marked at the
// key percentiles, up to p99.9 at least (report.json's last one).
func distributionChart(i int, s *Stage) chartView {
	rs := rawSeries{Name: "response time", Color: stageColor(i), KeyDots: true}
	xmax := 3.0
	if h, ok := decodeHTMLHistogram(s.Histogram); ok {
		rs.Points = spectrumPoints(h, "", 3)
		xmax = math.Ceil(rs.Points[len(rs.Points)-1].X - 1e-9)
	}
	return buildChart(chartSpec{Name: "distribution", Stage: strconv.Itoa(i),
		Title:  "Response-time distribution (HDR percentile spectrum)",
		XLabel: "percentile (log scale of 1/(1−q))", YLabel: "response time (log scale)",
		XMax: xmax, XTicks: spectrumTicks(), LogY: true, Linear: true, LinearYLabel: "response time, ms"}, []rawSeries{rs})
}

// spectrumTicks label HdrHistogram's percentile axis.
func spectrumTicks() []tick {
	var ticks []tick
	for _, t := range []struct {
		q     float64
		label string
	}{{50, "50%"}, {90, "90%"}, {99, "99%"}, {99.9, "99.9%"}, {99.99, "99.99%"}, {99.999, "99.999%"}} {
		ticks = append(ticks, tick{Pos: spectrumX(t.q), Label: t.label})
	}
	return ticks
}
