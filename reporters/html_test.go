package reporters

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
)

// htmlReport is the fixed model of the HTML golden file and the browser
// test: writersReport (per-interval histograms, thresholds of every
// outcome, a name to escape) with stage histograms, components, a cache,
// ceilings, and a third stage that is a capacity search over 24 intervals.
func htmlReport(t *testing.T) *Report {
	t.Helper()
	r := writersReport(t)
	one, two := &r.Stages[0], &r.Stages[1]
	one.Histogram = testHist(t, append(spread(99, 500_000, 10_000, 12_500_000), spread(49, 600_000, 20_000, 1_003_500_000)...)...)
	one.Ceiling = &Ceiling{MeasuredRPS: 990, Method: CeilingGoodput}
	two.Histogram = testHist(t, append(spread(100, 2_000_000, 10_000, 3_000_000), spread(100, 2_500_000, 10_000, 4_000_000)...)...)
	two.Bottleneck = "app"
	two.Components = []ComponentLoad{{Component: "app", Utilisation: 0.99, QueueDepthMean: 7.5, QueueDepthMax: 31}, {Component: "cache", Utilisation: 0.4}}
	hit := 0.912
	two.HitRate = &hit
	two.Ceiling = &Ceiling{MeasuredRPS: 2050, Method: CeilingGoodput, Reached: true, PredictedRPS: 2160,
		PredictedBottleneck: "app", PredictedWorking: "min(app 8 ÷ 3.71 ms = 2,160, db 4 ÷ 1.71 ms = 2,340): limited by app", Ratio: 2050.0 / 2160}
	two.Requests = []Request{
		{Name: "home", Issued: 150, Succeeded: 150, ResponseTimeMS: Percentiles{P50: 2.1, P99: 3.5, P999: 3.9}},
		{Name: "search <q>", Issued: 50, Succeeded: 50, Errors: map[string]uint64{}, ResponseTimeMS: Percentiles{P50: 2.6, P99: 3.9, P999: 4}},
	}
	// Phases on a loopback IP literal over plain http: no dns, no tls.
	two.Phases = Phases{NewConns: 8,
		ConnectMS: Percentiles{P50: 0.125, P90: 0.2, P99: 0.4, Max: 0.5},
		WriteMS:   Percentiles{P50: 0.0125, P90: 0.02, P99: 0.05, Max: 0.1},
		TTFBMS:    Percentiles{P50: 1.75, P90: 2.5, P99: 3.25, Max: 3.9},
		ReadMS:    Percentiles{P50: 0.2, P90: 0.3, P99: 0.45, Max: 0.6}}
	two.Requests[0].Phases = Phases{NewConns: 6,
		ConnectMS: Percentiles{P50: 0.1, P90: 0.2, P99: 0.4, Max: 0.4},
		WriteMS:   Percentiles{P50: 0.011, P90: 0.02, P99: 0.04, Max: 0.05},
		TTFBMS:    Percentiles{P50: 1.6, P90: 2.4, P99: 3.1, Max: 3.5},
		ReadMS:    Percentiles{P50: 0.15, P90: 0.25, P99: 0.4, Max: 0.5}}
	two.Requests[1].Phases = Phases{NewConns: 2,
		ConnectMS: Percentiles{P50: 0.3, P90: 0.5, P99: 0.5, Max: 0.5},
		WriteMS:   Percentiles{P50: 0.02, P90: 0.03, P99: 0.05, Max: 0.1},
		TTFBMS:    Percentiles{P50: 2.1, P90: 2.9, P99: 3.3, Max: 3.9},
		ReadMS:    Percentiles{P50: 0.35, P90: 0.45, P99: 0.55, Max: 0.6}}

	three := Stage{Name: "capacity", Target: "bundled:cache-db", DurationS: 24, Errors: map[string]uint64{}, Bottleneck: "db",
		Components: []ComponentLoad{{Component: "db", Utilisation: 0.98, QueueDepthMean: 12.25, QueueDepthMax: 64}}}
	var all []int64
	for i := range 24 {
		rate := uint64(200 + 40*i)
		ok := min(rate, 900)
		failed := rate - ok
		lo := int64(1_000_000 + 150_000*i*i)
		vals := spread(int(ok/10), lo, int64(20_000+2_000*i), lo*4)
		all = append(all, vals...)
		three.Intervals = append(three.Intervals, Interval{TS: float64(i), Intended: rate, Issued: rate, Succeeded: ok, Failed: failed,
			P50MS: float64(lo) / 1e6, P99MS: float64(lo) * 3 / 1e6, Histogram: testHist(t, vals...)})
		three.Intended += rate
		three.Issued += rate
		three.Succeeded += ok
		three.Failed += failed
	}
	three.Errors["http_5xx"] = three.Failed
	three.IntendedRPS = float64(three.Intended) / three.DurationS
	three.AchievedRPS = float64(three.Issued) / three.DurationS
	three.ResponseTimeMS = Percentiles{P50: 12.5, P75: 30, P90: 60, P95: 70, P99: 80, P999: 95, Max: 96, Mean: 20}
	three.Histogram = testHist(t, all...)
	three.Requests = []Request{{Name: "get", Issued: three.Issued, Succeeded: three.Succeeded, Failed: three.Failed,
		Errors: map[string]uint64{"http_5xx": three.Failed, "timeout": 0}, ResponseTimeMS: Percentiles{P50: 12.5, P99: 80, P999: 95}}}
	three.Ceiling = &Ceiling{MeasuredRPS: 800, Method: CeilingSearch, Reached: true, PredictedRPS: 850, PredictedBottleneck: "db", Ratio: 800.0 / 850}
	three.Search = &Search{Method: "binary", SLO: []string{"p99 < 250ms", "error_rate < 1%"}, HoldS: 6, WarmupS: 1,
		SustainedRPS: 800, BrokeRPS: 900, Outcome: SearchFound, Steps: []SearchStep{
			{RateRPS: 400, GoodputRPS: 400, P50MS: 1.2, P99MS: 4.5, P999MS: 9, Pass: true, Bottleneck: "db", BottleneckUtilisation: 0.45},
			{RateRPS: 800, StartS: 6, GoodputRPS: 799.5, P50MS: 2.5, P99MS: 40, P999MS: 90, Pass: true, Bottleneck: "db", BottleneckUtilisation: 0.9},
			{RateRPS: 1000, StartS: 12, GoodputRPS: 900, P50MS: 300, P99MS: 1200, P999MS: 1500, ErrorRate: 0.1,
				Broken: []string{"p99 = 1.2s, want < 250ms", "error_rate = 10.00%, want < 1%"}, Bottleneck: "db", BottleneckUtilisation: 1},
			{RateRPS: 900, StartS: 18, GoodputRPS: 880, P50MS: 40, P99MS: 300, P999MS: 400, ErrorRate: 0.02, GeneratorLimited: true},
		}}
	three.Thresholds = []ThresholdResult{{Expr: "p99 < 250ms", Pass: true, Value: 80e6, Measured: "80ms"}}
	r.Stages = append(r.Stages, three)
	r.Judge()
	return r
}

func writeHTML(t *testing.T, r *Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatalf("WriteHTML: %v", err)
	}
	return b.String()
}

func TestWriteHTMLGolden(t *testing.T) {
	out := writeHTML(t, htmlReport(t))
	golden(t, "report.html", []byte(out))
	if again := writeHTML(t, htmlReport(t)); again != out {
		t.Error("WriteHTML is not deterministic: two runs differ")
	}
}

// htmlChart is one chart found in a page.
type htmlChart struct {
	Name, Stage string
	Points      int
}

// scanHTML walks the page as lenient XML, returning its charts and
// failing on any attribute that would load something from the network.
func scanHTML(t *testing.T, page string) []htmlChart {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(page))
	d.Strict, d.AutoClose, d.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	var charts []htmlChart
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
		if el.Name.Local == "link" || el.Name.Local == "iframe" || el.Name.Local == "object" || el.Name.Local == "embed" {
			t.Errorf("the page has a <%s> element", el.Name.Local)
		}
		attrs := map[string]string{}
		for _, a := range el.Attr {
			attrs[a.Name.Local] = a.Value
			v := strings.ToLower(strings.TrimSpace(a.Value))
			switch a.Name.Local {
			case "src", "href", "srcset", "action", "poster", "data", "background":
				if strings.Contains(v, "//") || strings.HasPrefix(v, "http") {
					t.Errorf("<%s %s=%q> loads from the network", el.Name.Local, a.Name.Local, a.Value)
				}
			}
		}
		if name, ok := attrs["data-chart"]; ok {
			n, err := strconv.Atoi(attrs["data-points"])
			if err != nil {
				t.Errorf("chart %s: data-points %q: %v", name, attrs["data-points"], err)
			}
			charts = append(charts, htmlChart{Name: name, Stage: attrs["data-stage"], Points: n})
		}
	}
	for _, bad := range []string{"@import", "url(http", "url(//", "<script src"} {
		if strings.Contains(strings.ToLower(page), bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
	return charts
}

func chartPoints(charts []htmlChart, name, stage string) (int, bool) {
	for _, c := range charts {
		if c.Name == name && c.Stage == stage {
			return c.Points, true
		}
	}
	return 0, false
}

func TestWriteHTMLChartsAndSelfContained(t *testing.T) {
	r := htmlReport(t)
	page := writeHTML(t, r)
	charts := scanHTML(t, page)
	if n, ok := chartPoints(charts, "spectrum", "all"); !ok || n == 0 {
		t.Errorf("spectrum chart: present %v with %d points", ok, n)
	}
	for i, s := range r.Stages {
		for _, name := range []string{"throughput", "latency", "distribution", "errors"} {
			n, ok := chartPoints(charts, name, strconv.Itoa(i))
			if !ok || n == 0 {
				t.Errorf("stage %s: chart %s present %v with %d points", s.Name, name, ok, n)
			}
		}
	}
	if len(charts) != 1+4*len(r.Stages)+1 {
		t.Errorf("%d charts, want %d (the spectrum, 4 per stage, the phases of stage peak)", len(charts), 1+4*len(r.Stages)+1)
	}
	// The throughput chart plots intended, issued and succeeded per interval.
	if n, _ := chartPoints(charts, "throughput", "2"); n != 3*24 {
		t.Errorf("capacity stage throughput: %d points, want %d", n, 3*24)
	}
	for _, want := range []string{
		"INVALID", "peak, &#34;quoted&#34; &lt;&amp;&gt;", "search &lt;q&gt;", "NO DATA", "PASS", "FAIL", "BROKE", "GENERATOR-LIMITED",
		"≥990", "2050", "2160", "0.95", "cache hit rate: 91.2%", "http_5xx=10 timeout=5", "p50 &lt; 1ms", "<td class=\"l\">1s</td>",
		"99.99%", "Capacity search", "bottleneck: <b>app</b>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, `"quoted" <&>`) || strings.Contains(page, "search <q>") {
		t.Error("a name was not escaped")
	}
}

func TestWriteHTMLNoStages(t *testing.T) {
	r := &Report{Schema: Schema, Scenario: "empty", RunID: "x"}
	page := writeHTML(t, r)
	charts := scanHTML(t, page)
	if len(charts) != 1 || charts[0].Name != "spectrum" || charts[0].Points != 0 {
		t.Errorf("charts = %+v, want only an empty spectrum", charts)
	}
	for _, want := range []string{"no stages", "no data", "NO VERDICT"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// TestWriteHTMLDamagedData: a stage without intervals and histograms that
// do not decode draw "no data" charts, or fall back to the intervals' own
// p50 and p99, without an error or a panic.
func TestWriteHTMLDamagedData(t *testing.T) {
	hostile := make([]byte, 8+64)
	binary.BigEndian.PutUint32(hostile[0:], 0x1c849304) // V2 compressed cookie, then a body that is no zlib stream
	r := &Report{Schema: Schema, Scenario: "damaged", Stages: []Stage{
		{Name: "empty", Histogram: ""},
		{Name: "corrupt", Histogram: "HISTFAAAAB54nJNpmSzMwMDAxQABzF***", Intervals: []Interval{
			{TS: 0, Intended: 10, Issued: 10, Succeeded: 10, P50MS: 1, P99MS: 2, Histogram: "not base64 at all!"},
			{TS: 1, Intended: 10, Issued: 10, Succeeded: 10, P50MS: 1.5, P99MS: 3, Histogram: base64.StdEncoding.EncodeToString(hostile)},
			{TS: 2, Intended: 10, Histogram: "HISTFAAAAB54nJNpmSzMwMDAxQABzFCaEUzOmQVhAwAvBQIu"[:30]},
		}},
	}}
	page := writeHTML(t, r)
	charts := scanHTML(t, page)
	for _, name := range []string{"throughput", "latency", "distribution", "errors"} {
		if n, ok := chartPoints(charts, name, "0"); !ok || n != 0 {
			t.Errorf("stage without intervals: chart %s present %v with %d points, want 0", name, ok, n)
		}
	}
	if n, _ := chartPoints(charts, "spectrum", "all"); n != 0 {
		t.Errorf("spectrum of undecodable histograms: %d points, want 0", n)
	}
	if n, _ := chartPoints(charts, "latency", "1"); n != 4 {
		t.Errorf("latency with corrupt interval histograms: %d points, want 4 (p50 and p99 of two intervals)", n)
	}
	if n, _ := chartPoints(charts, "throughput", "1"); n != 9 {
		t.Errorf("throughput: %d points, want 9", n)
	}
	if got := strings.Count(page, ">no data<"); got != 6 {
		t.Errorf("%d charts say no data, want 6: the spectrum, the distributions of both stages and the first stage's three others", got)
	}
}

func TestDecodeHTMLHistogram(t *testing.T) {
	if h, ok := decodeHTMLHistogram(testHist(t, 1_000_000, 2_000_000)); !ok || h.TotalCount() != 2 {
		t.Errorf("a good histogram did not decode: %v %v", h, ok)
	}
	empty := testHist(t)
	for _, in := range []string{"", "x", "HISTFAAA", empty, strings.Repeat("A", 2<<20)} {
		if _, ok := decodeHTMLHistogram(in); ok {
			t.Errorf("decodeHTMLHistogram(%.20q) accepted it", in)
		}
	}
}

// TestWriteHTMLAwkwardNumbers: intervals whose times are equal, nearly
// equal or huge, and values that cannot be drawn, still give a finite page.
func TestWriteHTMLAwkwardNumbers(t *testing.T) {
	r := &Report{Schema: Schema, Scenario: "awkward", Stages: []Stage{{Name: "s", Intervals: []Interval{
		{TS: 1e14, Intended: 5, P50MS: math.Inf(1), P99MS: math.NaN()},
		{TS: 1e14 + 1e-3, Intended: math.MaxUint64, Issued: 1},
		{TS: 1e14 + 1e-3, Intended: 1},
		{TS: -3, Failed: 2, P50MS: 1e300},
	}}}}
	page := writeHTML(t, r)
	charts := scanHTML(t, page)
	if n, ok := chartPoints(charts, "throughput", "0"); !ok || n == 0 {
		t.Errorf("throughput: present %v with %d points", ok, n)
	}
	for _, bad := range []string{"NaN", "Inf"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
}
