package reporters

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/surgeload/surge/internal/metrics"
)

//go:embed html/report.html.tmpl
var htmlFS embed.FS

var htmlTemplate = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"ms":     ms,
	"f0":     func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) },
	"f1":     func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	"f2":     func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) },
	"pct":    func(v float64) string { return strconv.FormatFloat(100*v, 'f', 1, 64) + "%" },
	"counts": counts,
	"upper":  strings.ToUpper,
	"join":   strings.Join,
	"add":    func(a, b int) int { return a + b },
	"add1":   func(a, b float64) float64 { return a + b },
	"sub":    func(a, b float64) float64 { return a - b },
	"mid":    func(a, b float64) float64 { return (a + b) / 2 },
	"deref":  func(p *float64) float64 { return *p },
	"pctRow": func(name string, p Percentiles) pctRow { return pctRow{Name: name, P: p} },
	"orList": orList,
}).ParseFS(htmlFS, "html/report.html.tmpl"))

// WriteHTML writes r as one self-contained HTML page: the verdict, the
// stages compared, the latency percentile spectrum of every stage
// overlaid, and per stage its throughput, latency, response-time
// distribution (the percentile spectrum of its merged histogram, marked
// at report.json's own percentiles) and error charts (inline SVG, no
// script or network needed to view them), the phase breakdown and the
// request, threshold, search and component tables. Latency axes are
// logarithmic, with a CSS-only toggle to linear ones. Histograms that do
// not decode are shown as missing data, never as an error.
func WriteHTML(w io.Writer, r *Report) error {
	var b bytes.Buffer
	if err := htmlTemplate.Execute(&b, newHTMLView(r)); err != nil {
		return fmt.Errorf("write html report: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// orList is "a", "a or b", "a, b or c".
func orList(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

type pctRow struct {
	Name string
	P    Percentiles
}

// htmlView is what the template renders.
type htmlView struct {
	R        *Report
	Started  string
	Verdict  string // pass, fail, invalid or none
	Spectrum chartView
	Stages   []stageView
}

type stageView struct {
	Index      int
	S          *Stage
	Color      string
	Throughput chartView
	Latency    chartView
	Errors     chartView
	// Distribution is the stage's response-time percentile spectrum.
	Distribution chartView
	// Phases is the phase breakdown; nil when the report has none.
	Phases   *phasesView
	Requests []requestView
	// Journeys is set when the stage has journeys or checks: the table
	// then shows each entry's kind.
	Journeys  bool
	Ceiling   string
	Errs      string
	DroppedBy string
}

type requestView struct {
	R      Request
	Errors string
}

func newHTMLView(r *Report) htmlView {
	v := htmlView{R: r, Verdict: r.Verdict}
	if v.Verdict == "" {
		v.Verdict = "none"
	}
	if !r.Started.IsZero() {
		v.Started = r.Started.UTC().Format(time.RFC3339)
	}
	var spectra []rawSeries
	for i := range r.Stages {
		s := &r.Stages[i]
		sv := stageView{Index: i, S: s, Color: stageColor(i), Errs: counts(s.Errors), DroppedBy: counts(s.DroppedBy)}
		sv.Throughput, sv.Latency, sv.Errors = stageCharts(i, s)
		sv.Distribution = distributionChart(i, s)
		sv.Phases = phasesOf(i, s)
		for _, rq := range s.Requests {
			sv.Requests = append(sv.Requests, requestView{R: rq, Errors: counts(rq.Errors)})
			sv.Journeys = sv.Journeys || rq.Kind != ""
		}
		if c := s.Ceiling; c != nil {
			sv.Ceiling = ceilingText(c)
		}
		v.Stages = append(v.Stages, sv)
		spectra = append(spectra, spectrumSeries(i, s))
	}
	v.Spectrum = spectrumChart(spectra)
	return v
}

// stageColors are told apart by colour-blind readers too (Okabe–Ito).
var stageColors = []string{"#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#f0e442"}

func stageColor(i int) string { return stageColors[i%len(stageColors)] }

// decodeHTMLHistogram decodes a histogram to chart: a report built by a
// program may carry one that is damaged (ReadReport refuses those) or
// empty, and the chart then falls back or says "no data" instead of
// failing the page.
func decodeHTMLHistogram(s string) (h *hdrhistogram.Histogram, ok bool) {
	h, err := decodeHistogram(s)
	if err != nil || h.TotalCount() <= 0 {
		return nil, false
	}
	return h, true
}

// A chart is drawn in a fixed frame; these are its pixels.
const (
	chartW, chartH                                  = 620.0, 300.0
	plotLeft, plotRight, plotTop, plotBottom        = 64.0, 584.0, 34.0, 256.0
	maxDots                                         = 400
	spectrumStep                                    = 0.05
	spectrumMinX, spectrumMaxX, spectrumAxisDefault = 1.0, 5.0, 4.0
)

// point is one value of a series; a point with !OK is a gap. A Key
// point of a percentile spectrum is percentile Q, marked with a dot.
type point struct {
	X, Y float64
	OK   bool
	Tip  string
	Key  bool
	Q    float64
}

type rawSeries struct {
	Name, Color string
	Dash        bool
	// KeyDots: a dot only at the Key points, not at every point.
	KeyDots bool
	Points  []point
}

type tick struct {
	Pos   float64
	Label string
}

type chartDot struct {
	X, Y float64
	Tip  string
	// Q and MS are a key point's percentile and value (ms, shortest
	// round-trip form), as data attributes for readers and tests.
	Q, MS string
}

type chartSeries struct {
	Name, Color string
	Dash        bool
	Segments    []string
	Dots        []chartDot
	LegendX     float64
	// Empty: no value to draw; the legend says "no samples".
	Empty bool
}

// chartView is an inline SVG chart.
type chartView struct {
	Name, Title, XLabel, YLabel, Stage string
	W, H, Left, Right, Top, Bottom     float64
	XTicks, YTicks                     []tick
	// YMinor are the light grid lines of a log axis at 2× and 5× a
	// decade, labelled when the axis spans at most two decades.
	YMinor []tick
	Series []chartSeries
	Points int
	NoData bool
	// Log: y is on a log scale. Hidden counts the values ≤ 0 it cannot
	// show, which Note says.
	Log    bool
	Hidden int
	Note   string
	// Lin is the same chart on a linear y axis, for the page's toggle.
	Lin *chartView
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// niceStep is the 1, 2 or 5 × 10^k at or above raw.
func niceStep(raw float64) float64 {
	if raw <= 0 || math.IsNaN(raw) || math.IsInf(raw, 0) {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw*(1-1e-9) {
			return m * mag
		}
	}
	return 10 * mag
}

func tickLabel(v, step float64) string {
	dec := 0
	if step < 1 {
		dec = int(math.Ceil(-math.Log10(step) - 1e-9))
	}
	if math.Abs(v) < step*1e-9 {
		v = 0
	}
	return strconv.FormatFloat(v, 'f', dec, 64)
}

// intervalWidth is the length in seconds of interval i of s.
func intervalWidth(s *Stage, i int) float64 {
	iv := s.Intervals
	switch {
	case i+1 < len(iv) && iv[i+1].TS > iv[i].TS:
		return iv[i+1].TS - iv[i].TS
	case i > 0 && iv[i].TS > iv[i-1].TS:
		return iv[i].TS - iv[i-1].TS
	case len(iv) == 1 && s.DurationS > 0:
		return s.DurationS
	}
	return 1
}

// stageCharts are a stage's throughput, latency and errors over time.
func stageCharts(i int, s *Stage) (throughput, latency, errs chartView) {
	stage := strconv.Itoa(i)
	rate := func(name, color string, dash bool, f func(Interval) uint64) rawSeries {
		rs := rawSeries{Name: name, Color: color, Dash: dash}
		for j, iv := range s.Intervals {
			v := float64(f(iv)) / intervalWidth(s, j)
			rs.Points = append(rs.Points, point{X: iv.TS, Y: v, OK: true,
				Tip: fmt.Sprintf("%s at %gs: %.1f/s", name, iv.TS, v)})
		}
		return rs
	}
	throughput = buildChart(chartSpec{Name: "throughput", Stage: stage, Title: "Throughput: intended (the schedule) vs achieved",
		XLabel: "seconds into the stage", YLabel: "requests/s"},
		[]rawSeries{
			rate("intended/s", "#555555", true, func(iv Interval) uint64 { return iv.Intended }),
			rate("issued/s", "#0072b2", false, func(iv Interval) uint64 { return iv.Issued }),
			rate("succeeded/s", "#009e73", false, func(iv Interval) uint64 { return iv.Succeeded }),
		})
	errs = buildChart(chartSpec{Name: "errors", Stage: stage, Title: "Errors and drops", XLabel: "seconds into the stage", YLabel: "per second"},
		[]rawSeries{
			rate("failed/s", "#d55e00", false, func(iv Interval) uint64 { return iv.Failed }),
			rate("dropped/s", "#cc79a7", false, func(iv Interval) uint64 { return iv.Dropped }),
		})

	names := []string{"p50", "p90", "p99", "max"}
	colors := []string{"#009e73", "#56b4e9", "#e69f00", "#d55e00"}
	lat := make([]rawSeries, len(names))
	for k := range lat {
		lat[k] = rawSeries{Name: names[k], Color: colors[k]}
	}
	for _, iv := range s.Intervals {
		var vals [4]float64
		var have [4]bool
		if h, ok := decodeHTMLHistogram(iv.Histogram); ok {
			vals = [4]float64{float64(metrics.ValueAtPercentile(h, 50)) / 1e6, float64(metrics.ValueAtPercentile(h, 90)) / 1e6,
				float64(metrics.ValueAtPercentile(h, 99)) / 1e6, float64(h.Max()) / 1e6}
			have = [4]bool{true, true, true, true}
		} else if iv.Succeeded+iv.Failed > 0 || iv.P50MS > 0 || iv.P99MS > 0 {
			// No usable histogram: the interval's own p50 and p99.
			vals[0], vals[2] = iv.P50MS, iv.P99MS
			have[0], have[2] = true, true
		}
		for k := range lat {
			lat[k].Points = append(lat[k].Points, point{X: iv.TS, Y: vals[k], OK: have[k],
				Tip: fmt.Sprintf("%s at %gs: %s ms", names[k], iv.TS, ms(vals[k]))})
		}
	}
	latency = buildChart(chartSpec{Name: "latency", Stage: stage, Title: "Response time percentiles per interval",
		XLabel: "seconds into the stage", YLabel: "response time (log scale)", LogY: true, Linear: true, LinearYLabel: "response time, ms"}, lat)
	return throughput, latency, errs
}

// spectrumSeries is a stage's latency by percentile, x = log10(1/(1−q)),
// up to the percentile its count can resolve.
func spectrumSeries(i int, s *Stage) rawSeries {
	rs := rawSeries{Name: s.Name, Color: stageColor(i)}
	if h, ok := decodeHTMLHistogram(s.Histogram); ok {
		rs.Points = spectrumPoints(h, s.Name+" ", spectrumMinX)
	}
	return rs
}

// spectrumChart overlays the stages' spectra: the stage comparison, on a
// log latency axis so that one slow stage does not flatten the others.
func spectrumChart(series []rawSeries) chartView {
	xmax := spectrumAxisDefault
	for _, s := range series {
		for _, p := range s.Points {
			xmax = math.Max(xmax, p.X)
		}
	}
	return buildChart(chartSpec{Name: "spectrum", Stage: "all", Title: "Latency by percentile, every stage (HDR percentile spectrum)",
		XLabel: "percentile (log scale of 1/(1−q))", YLabel: "response time (log scale)",
		XMax: math.Ceil(xmax - 1e-9), XTicks: spectrumTicks(), LogY: true, Linear: true, LinearYLabel: "response time, ms"}, series)
}

// percentileText is a percentile such as 99.9 with at most three
// decimals and no trailing zeros.
func percentileText(q float64) string {
	t := strconv.FormatFloat(q, 'f', 3, 64)
	return strings.TrimRight(strings.TrimRight(t, "0"), ".")
}
