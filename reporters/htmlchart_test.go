package reporters

import (
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
)

// svgLayout is one drawing of a chart: "main" when the chart has one,
// "ylog" and "ylin" when it has both scales.
type svgLayout struct {
	Legends   []string
	Polylines [][][2]float64
	YTicks    []svgTick
	Notes     []string
	NoData    bool
}

type svgTick struct {
	Label string
	Y     float64
}

type svgChart struct {
	Name, Stage, Scale string
	Points             int
	Layouts            map[string]*svgLayout
}

// parseCharts walks the page's SVG charts, failing on any numeric
// attribute or polyline coordinate that is not a finite number.
func parseCharts(t *testing.T, page string) map[string]*svgChart {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(page))
	d.Strict, d.AutoClose, d.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	charts := map[string]*svgChart{}
	var cur *svgChart
	var groups []string
	var text *strings.Builder
	var textClass, textY string
	layout := func() *svgLayout {
		name := "main"
		for _, g := range groups {
			if g == "ylog" || g == "ylin" {
				name = g
			}
		}
		if cur.Layouts[name] == nil {
			cur.Layouts[name] = &svgLayout{}
		}
		return cur.Layouts[name]
	}
	inLegend := func() bool {
		for _, g := range groups {
			if strings.HasPrefix(g, "legend") {
				return true
			}
		}
		return false
	}
	num := func(el, attr, v string) float64 {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			t.Errorf("<%s %s=%q> is not a finite number", el, attr, v)
		}
		return f
	}
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the page does not parse: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			attrs := map[string]string{}
			for _, a := range tok.Attr {
				attrs[a.Name.Local] = a.Value
			}
			el := tok.Name.Local
			if el == "svg" {
				if name, ok := attrs["data-chart"]; ok {
					n, _ := strconv.Atoi(attrs["data-points"])
					cur = &svgChart{Name: name, Stage: attrs["data-stage"], Scale: attrs["data-scale"], Points: n, Layouts: map[string]*svgLayout{}}
					charts[name+"/"+cur.Stage] = cur
					groups = nil
				}
				continue
			}
			if cur == nil {
				continue
			}
			for _, a := range []string{"x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "width", "height"} {
				if v, ok := attrs[a]; ok {
					num(el, a, v)
				}
			}
			switch el {
			case "g":
				groups = append(groups, attrs["class"])
			case "polyline":
				var line [][2]float64
				for _, xy := range strings.Fields(attrs["points"]) {
					x, y, ok := strings.Cut(xy, ",")
					if !ok {
						t.Errorf("polyline point %q", xy)
					}
					line = append(line, [2]float64{num(el, "points", x), num(el, "points", y)})
				}
				l := layout()
				l.Polylines = append(l.Polylines, line)
			case "text":
				text, textClass, textY = &strings.Builder{}, attrs["class"], attrs["y"]
			}
		case xml.CharData:
			if text != nil {
				text.Write(tok)
			}
		case xml.EndElement:
			if cur == nil {
				continue
			}
			switch tok.Name.Local {
			case "svg":
				cur = nil
			case "g":
				if len(groups) > 0 {
					groups = groups[:len(groups)-1]
				}
			case "text":
				if text == nil {
					continue
				}
				s := text.String()
				switch {
				case textClass == "ytick":
					y, _ := strconv.ParseFloat(textY, 64)
					l := layout()
					l.YTicks = append(l.YTicks, svgTick{Label: s, Y: y})
				case textClass == "note":
					l := layout()
					l.Notes = append(l.Notes, s)
				case textClass == "nodata":
					layout().NoData = true
				case inLegend():
					l := layout()
					l.Legends = append(l.Legends, s)
				}
				text = nil
			}
		}
	}
	return charts
}

// decadeMS reads a log axis label (decadeLabel) back as milliseconds,
// failing the test when it is not a power of ten.
func decadeMS(t *testing.T, label string) float64 {
	t.Helper()
	v, unit, ok := strings.Cut(label, " ")
	f, err := strconv.ParseFloat(v, 64)
	scale := map[string]float64{"ns": 1e-6, "µs": 1e-3, "ms": 1, "s": 1e3}[unit]
	if !ok || err != nil || scale == 0 {
		t.Fatalf("tick label %q is not a value and a unit", label)
	}
	f *= scale
	if k := math.Log10(f); math.Abs(k-math.Round(k)) > 1e-9 {
		t.Errorf("tick label %q (%g ms) is not a decade", label, f)
	}
	return f
}

// checkLogTicks: the ticks are decades, rising by the same factor of 10
// (1 decade unless the range is very wide) and equally spaced upwards.
func checkLogTicks(t *testing.T, where string, ticks []svgTick) (labels []string) {
	t.Helper()
	if len(ticks) < 2 || len(ticks) > maxLogTicks+1 {
		t.Errorf("%s: %d log ticks, want 2..%d", where, len(ticks), maxLogTicks+1)
		return nil
	}
	var step, gap float64
	for i, tk := range ticks {
		labels = append(labels, tk.Label)
		if i == 0 {
			continue
		}
		r := math.Round(math.Log10(decadeMS(t, tk.Label) / decadeMS(t, ticks[i-1].Label)))
		g := ticks[i-1].Y - tk.Y
		if i == 1 {
			step, gap = r, g
		}
		if r < 1 || r != step {
			t.Errorf("%s: ticks %v: not one step of 10^%g apart", where, labels, step)
		}
		if g <= 0 || math.Abs(g-gap) > 0.25 {
			t.Errorf("%s: tick %q at y %g: spacing %g, want %g (upwards, equal)", where, tk.Label, tk.Y, g, gap)
		}
	}
	return labels
}

// TestHTMLLogAxes: every latency chart has a log layout with decade
// ticks over the data and a linear one for the toggle, and the number of
// series each chart draws.
func TestHTMLLogAxes(t *testing.T) {
	r := htmlReport(t)
	page := writeHTML(t, r)
	charts := parseCharts(t, page)
	delete(charts, "phases/1") // bars, no y axis: TestHTMLPhases
	if len(charts) != 1+4*len(r.Stages) {
		t.Fatalf("%d charts, want %d", len(charts), 1+4*len(r.Stages))
	}
	series := map[string]int{"throughput": 3, "errors": 2, "latency": 4, "distribution": 1, "spectrum": len(r.Stages)}
	for key, c := range charts {
		want := series[c.Name]
		if c.Scale == "log" {
			if len(c.Layouts) != 2 || c.Layouts["ylog"] == nil || c.Layouts["ylin"] == nil {
				t.Errorf("%s: layouts %v, want ylog and ylin", key, c.Layouts)
				continue
			}
			checkLogTicks(t, key, c.Layouts["ylog"].YTicks)
			if lin := c.Layouts["ylin"].YTicks; len(lin) == 0 || lin[0].Label != "0" {
				t.Errorf("%s: linear layout ticks %v, want from 0", key, lin)
			}
		} else if c.Name == "latency" || c.Name == "distribution" || c.Name == "spectrum" {
			t.Errorf("%s: scale %q, want log", key, c.Scale)
		}
		for name, l := range c.Layouts {
			if len(l.Legends) != want {
				t.Errorf("%s %s: %d series in the legend %q, want %d", key, name, len(l.Legends), l.Legends, want)
			}
		}
	}
	// Stage echo's intervals go from a p50 of 0.99 ms to a max of
	// 1004 ms: both within 1% of a decade, drawn on its line.
	if got := strings.Join(checkLogTicks(t, "echo latency", charts["latency/0"].Layouts["ylog"].YTicks), ", "); got != "1 ms, 10 ms, 100 ms, 1 s" {
		t.Errorf("echo latency ticks: %s", got)
	}
	// Stage peak holds 2.0 to 4.0 ms: one decade.
	if got := strings.Join(checkLogTicks(t, "peak distribution", charts["distribution/1"].Layouts["ylog"].YTicks), ", "); got != "1 ms, 10 ms" {
		t.Errorf("peak distribution ticks: %s", got)
	}
	if !strings.Contains(page, `<input type="checkbox" id="linear-y">`) {
		t.Error("the page has no linear-axes toggle")
	}
}

// TestHTMLZeroAndAbsentValues: a fast stage beside a slow one stays off
// the floor of the log axis (it lies on it in linear); values of 0 and
// below are gaps said in a note; a stage with no samples draws no line and
// says so; extreme values still give decades and finite coordinates.
func TestHTMLZeroAndAbsentValues(t *testing.T) {
	fast := spread(1000, 200_000, 100, 300_000)
	slow := spread(1000, 2_000_000_000, 1_000_000, 3_000_000_000)
	r := &Report{Schema: Schema, Scenario: "zeros", Stages: []Stage{
		{Name: "fast", Histogram: testHist(t, fast...), Intervals: []Interval{
			{TS: 0, Succeeded: 1001, Histogram: testHist(t, fast...)},
			{TS: 1, Failed: 3}, // no histogram, p50 and p99 of 0
			{TS: 2, Succeeded: 1001, Histogram: testHist(t, fast...)},
		}},
		{Name: "slow", Histogram: testHist(t, slow...)},
		{Name: "silent", Intervals: []Interval{{TS: 0, Failed: 5}, {TS: 1, Failed: 5, P50MS: -1}}},
		{Name: "extreme", Intervals: []Interval{{TS: 0, Failed: 1, P50MS: 1e-6, P99MS: 1e14}, {TS: 1, Failed: 1, P50MS: math.SmallestNonzeroFloat64, P99MS: 5e14}}},
	}}
	page := writeHTML(t, r)
	for _, bad := range []string{"NaN", "Inf"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
	charts := parseCharts(t, page)

	spec := charts["spectrum/all"]
	lg, ln := spec.Layouts["ylog"], spec.Layouts["ylin"]
	if lg == nil || ln == nil {
		t.Fatalf("spectrum layouts %v", spec.Layouts)
	}
	if got := strings.Join(lg.Legends, "|"); got != "fast|slow|silent: no samples|extreme: no samples" {
		t.Errorf("spectrum legend %q", got)
	}
	if len(lg.Polylines) != 2 || len(ln.Polylines) != 2 {
		t.Fatalf("spectrum: %d and %d lines, want 2 (fast and slow)", len(lg.Polylines), len(ln.Polylines))
	}
	if got := strings.Join(checkLogTicks(t, "spectrum", lg.YTicks), ", "); got != "0.1 ms, 1 ms, 10 ms, 100 ms, 1 s, 10 s" {
		t.Errorf("spectrum ticks: %s", got)
	}
	for _, p := range lg.Polylines[0] {
		if p[1] > plotBottom-10 {
			t.Errorf("log: the fast stage at y %g lies on the floor (%g)", p[1], plotBottom)
		}
	}
	for _, p := range ln.Polylines[0] {
		if p[1] < plotBottom-1 {
			t.Errorf("linear: the fast stage at y %g, want flattened on the floor (%g)", p[1], plotBottom)
		}
	}

	fl := charts["latency/0"]
	if fl.Points != 8 {
		t.Errorf("fast latency: %d points, want 8 (4 percentiles × 2 intervals)", fl.Points)
	}
	if l := fl.Layouts["ylog"]; len(l.Notes) != 1 || l.Notes[0] != "2 values of 0 (under 1 ns) not drawn (log axis)" {
		t.Errorf("fast latency notes %q", l.Notes)
	}
	if n := len(fl.Layouts["ylog"].Polylines); n != 8 {
		t.Errorf("fast latency: %d line segments, want 8 (4 series broken by the empty interval)", n)
	}
	sl := charts["latency/2"]
	if l := sl.Layouts["main"]; sl.Points != 0 || l == nil || !l.NoData || len(l.Notes) != 1 || l.Notes[0] != "4 values of 0 (under 1 ns) not drawn (log axis)" {
		t.Errorf("silent latency: %d points, layouts %+v", sl.Points, sl.Layouts["main"])
	}
	if d := charts["distribution/2"]; d.Points != 0 || !d.Layouts["main"].NoData {
		t.Errorf("silent distribution: %d points, want a no-data chart", d.Points)
	}
	ex := charts["latency/3"]
	if ex.Points != 3 {
		t.Errorf("extreme latency: %d points, want 3 (the 5e-324 ms one is under 1 ns)", ex.Points)
	}
	if l := ex.Layouts["ylog"]; l != nil {
		// 1 ns to 5e14 ms is 21 decades: a label every third.
		if got := strings.Join(checkLogTicks(t, "extreme latency", l.YTicks), ", "); got != "1 ns, 1 µs, 1 ms, 1 s, 1000 s, 1e9 ms, 1e12 ms, 1e15 ms" {
			t.Errorf("extreme latency ticks: %s", got)
		}
		if len(l.Notes) != 1 || l.Notes[0] != "1 value of 0 (under 1 ns) not drawn (log axis)" {
			t.Errorf("extreme latency notes %q", l.Notes)
		}
	} else {
		t.Error("extreme latency: no log layout")
	}
}

// TestHTMLHostileNames: names that try to close the script or open
// elements are text everywhere they appear (headings, tables, legends,
// tooltips, attributes).
func TestHTMLHostileNames(t *testing.T) {
	const evil = `</script><img src=x onerror=alert(1)>"'><svg onload=alert(2)>`
	r := htmlReport(t)
	r.Scenario = evil
	for i := range r.Stages {
		r.Stages[i].Name = evil + strconv.Itoa(i)
		r.Stages[i].Target = evil
		for j := range r.Stages[i].Requests {
			r.Stages[i].Requests[j].Name = evil
		}
	}
	page := writeHTML(t, r)
	d := xml.NewDecoder(strings.NewReader(page))
	d.Strict, d.AutoClose, d.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	scripts := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the page does not parse: %v", err)
		}
		el, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch el.Name.Local {
		case "img":
			t.Error("the page has an <img> element")
		case "script":
			scripts++
		}
		for _, a := range el.Attr {
			if strings.HasPrefix(strings.ToLower(a.Name.Local), "on") {
				t.Errorf("<%s %s=%q>: an event handler attribute", el.Name.Local, a.Name.Local, a.Value)
			}
		}
	}
	if scripts != 1 {
		t.Errorf("%d <script> elements, want the page's one", scripts)
	}
	for _, bad := range []string{"<img", "<svg onload", "</script><"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
	// The names are there, escaped: in the heading, the spectrum's legend
	// and a tooltip of its points.
	esc := "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;&#34;&#39;&gt;&lt;svg onload=alert(2)&gt;"
	for _, want := range []string{"<h2>Stage " + esc + "0", ">" + esc + "1</text>", "<title>" + esc + "2 p50: "} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

func TestDecades(t *testing.T) {
	for _, tc := range []struct {
		v            float64
		below, above int
	}{
		{1, 0, 0}, {10, 1, 1}, {1000, 3, 3}, {0.001, -3, -3}, {999.9999, 2, 3}, {1000.0001, 3, 4},
		{0.5, -1, 0}, {1e-300, -300, -300}, {2e14, 14, 15}, {math.SmallestNonzeroFloat64, -324, -323},
	} {
		if b, a := decadeBelow(tc.v), decadeAbove(tc.v); b != tc.below || a != tc.above {
			t.Errorf("decades of %g: %d, %d; want %d, %d", tc.v, b, a, tc.below, tc.above)
		}
	}
	for k, want := range map[int]string{
		-7: "1e-7 ms", -6: "1 ns", -5: "10 ns", -4: "100 ns", -3: "1 µs", -2: "0.01 ms", -1: "0.1 ms", 0: "1 ms",
		2: "100 ms", 3: "1 s", 4: "10 s", 6: "1000 s", 7: "1e7 ms",
	} {
		if got := decadeLabel(k); got != want {
			t.Errorf("decadeLabel(%d) = %q, want %q", k, got, want)
		}
	}
	for _, tc := range []struct {
		m    float64
		k    int
		want string
	}{{2, -5, "20 ns"}, {5, -3, "5 µs"}, {2, -2, "0.02 ms"}, {5, -1, "0.5 ms"}, {2, 0, "2 ms"}, {5, 2, "500 ms"}, {2, 3, "2 s"}, {5, 6, "5000 s"}, {2, 8, "2e8 ms"}} {
		if got := msLabel(tc.m, tc.k); got != tc.want {
			t.Errorf("msLabel(%g, %d) = %q, want %q", tc.m, tc.k, got, tc.want)
		}
	}
	for _, tc := range []struct {
		lo, hi       float64
		ticks, minor int
	}{
		{1, 1, 2, 2},         // one value: one decade, 1 ms to 10 ms
		{0.02, 0.3, 3, 4},    // two decades: 2× and 5× labelled too
		{0.35, 1004, 5, 8},   // 0.1 ms .. 1 s: 1004 is within 1% of 1000
		{0.35, 1011, 6, 10},  // 0.1 ms .. 10 s
		{0.995, 10.09, 2, 2}, // 1 ms .. 10 ms
		{1e-3, 1e6, 10, 0},   // nine decades: no minor lines
		{1e-300, 1e14, 11, 0},
	} {
		sy, ticks, minor := logAxis(tc.lo, tc.hi)
		for _, m := range minor {
			if labelled := m.Label != ""; labelled != (len(ticks) <= 3) {
				t.Errorf("logAxis(%g, %g): minor tick %+v labelled %v over %d decades", tc.lo, tc.hi, m, labelled, len(ticks)-1)
			}
		}
		if len(ticks) != tc.ticks || len(minor) != tc.minor {
			t.Errorf("logAxis(%g, %g): %d ticks, %d minor; want %d, %d", tc.lo, tc.hi, len(ticks), len(minor), tc.ticks, tc.minor)
		}
		for _, v := range []float64{tc.lo, tc.hi} {
			if y := sy(v); !(y >= plotTop-1e-9 && y <= plotBottom+1e-9) {
				t.Errorf("logAxis(%g, %g): %g at y %g, outside the plot", tc.lo, tc.hi, v, y)
			}
		}
	}
}

// TestSpectrumPoints: percentiles rise along a spectrum, every key
// percentile the count resolves is marked once, and the points stop at
// the resolvable end.
func TestSpectrumPoints(t *testing.T) {
	for _, tc := range []struct {
		n      int
		minEnd float64
		keys   []float64
		lastX  float64
	}{
		{10, 3, []float64{50, 75, 90, 95, 99, 99.9}, 3},
		{10, 1, []float64{50, 75, 90}, 1},
		{2_000, 1, []float64{50, 75, 90, 95, 99, 99.9}, 3.3},
		{200_000, 3, keyPercentiles, 5},
	} {
		h, ok := decodeHTMLHistogram(testHist(t, spread(tc.n-1, 1_000_000, 1_000, 9_000_000)...))
		if !ok {
			t.Fatal("histogram")
		}
		pts := spectrumPoints(h, "", tc.minEnd)
		var keys []float64
		for i, p := range pts {
			if p.Key {
				keys = append(keys, p.Q)
			}
			if i > 0 && (p.X <= pts[i-1].X || p.Y < pts[i-1].Y) {
				t.Errorf("n=%d: point %d (%g, %g) after (%g, %g)", tc.n, i, p.X, p.Y, pts[i-1].X, pts[i-1].Y)
			}
		}
		if fmtFloats(keys) != fmtFloats(tc.keys) {
			t.Errorf("n=%d: keys %v, want %v", tc.n, keys, tc.keys)
		}
		if last := pts[len(pts)-1].X; math.Abs(last-tc.lastX) > 0.03 {
			t.Errorf("n=%d: last x %g, want %g", tc.n, last, tc.lastX)
		}
	}
}

func fmtFloats(v []float64) string {
	s := make([]string, len(v))
	for i, f := range v {
		s[i] = strconv.FormatFloat(f, 'g', -1, 64)
	}
	return "[" + strings.Join(s, " ") + "]"
}
