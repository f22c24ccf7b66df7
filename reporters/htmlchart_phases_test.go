package reporters

import (
	"fmt"
	"html"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

type phaseSegFound struct {
	Phase  string
	X, W   float64
	Median float64
}

type phaseBarFound struct {
	Label string
	Segs  []phaseSegFound
}

var (
	barLabelRE = regexp.MustCompile(`<text class="barlabel"[^>]*>([^<]*)</text>`)
	segRE      = regexp.MustCompile(`<rect class="seg" x="([^"]+)" y="[^"]+" width="([^"]+)" height="18" fill="[^"]+" data-phase="([^"]+)" data-ms="([^"]+)">`)
)

// phaseChartOf finds stage's phases chart in page and reads its bars.
func phaseChartOf(t *testing.T, page string, stage int) (svg string, bars []phaseBarFound) {
	t.Helper()
	svg = regexp.MustCompile(`(?s)<svg data-chart="phases" data-stage="` + strconv.Itoa(stage) + `".*?</svg>`).FindString(page)
	if svg == "" {
		return "", nil
	}
	f := func(s string) float64 {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			t.Errorf("%q is not a finite number", s)
		}
		return v
	}
	for _, chunk := range strings.Split(svg, `<g class="bar">`)[1:] {
		var b phaseBarFound
		if m := barLabelRE.FindStringSubmatch(chunk); m != nil {
			b.Label = html.UnescapeString(m[1])
		}
		for _, m := range segRE.FindAllStringSubmatch(chunk, -1) {
			b.Segs = append(b.Segs, phaseSegFound{Phase: m[3], X: f(m[1]), W: f(m[2]), Median: f(m[4])})
		}
		bars = append(bars, b)
	}
	return svg, bars
}

// TestHTMLPhases: the fixed model's stage peak has phases (no dns, no
// tls): a bar per entity stacks its medians end to end, at the report's
// exact figures and to scale, and the table has a row per phase measured.
func TestHTMLPhases(t *testing.T) {
	r := htmlReport(t)
	page := writeHTML(t, r)
	if n := strings.Count(page, `<table class="phases">`); n != 1 {
		t.Fatalf("%d phase tables, want 1 (stage peak)", n)
	}
	svg, bars := phaseChartOf(t, page, 1)
	if svg == "" {
		t.Fatal("no phases chart for stage peak")
	}
	s := &r.Stages[1]
	ents := []struct {
		name string
		p    Phases
	}{{"all requests", s.Phases}, {s.Requests[0].Name, s.Requests[0].Phases}, {s.Requests[1].Name, s.Requests[1].Phases}}
	if len(bars) != len(ents) {
		t.Fatalf("%d bars, want %d", len(bars), len(ents))
	}
	// The longest stack is search <q>'s, 2.77 ms: the axis runs to 3.
	scale := (phaseRight - phaseLeft) / 3
	for k, e := range ents {
		b := bars[k]
		if b.Label != e.name {
			t.Errorf("bar %d: label %q, want %q", k, b.Label, e.name)
		}
		var got []string
		at := 0.0
		for _, sg := range b.Segs {
			got = append(got, sg.Phase)
			want := e.p.Of(sg.Phase).P50
			if sg.Median != want {
				t.Errorf("%s %s: data-ms %v, report p50 %v", e.name, sg.Phase, sg.Median, want)
			}
			if math.Abs(sg.W-want*scale) > 0.11 {
				t.Errorf("%s %s: width %v, want %v (to scale)", e.name, sg.Phase, sg.W, want*scale)
			}
			if x := phaseLeft + at*scale; math.Abs(sg.X-x) > 0.11 {
				t.Errorf("%s %s: starts at %v, want %v (after the phases before it)", e.name, sg.Phase, sg.X, x)
			}
			at += want
		}
		if strings.Join(got, " ") != "connect write ttfb read" {
			t.Errorf("%s: segments %v, want connect write ttfb read", e.name, got)
		}
	}
	if !strings.Contains(svg, `data-points="12"`) {
		t.Error("the phases chart does not count its 12 segments")
	}
	table := regexp.MustCompile(`(?s)<table class="phases">.*?</table>`).FindString(page)
	if n := strings.Count(table, "<tr>") - 1; n != 3*4 {
		t.Errorf("%d phase rows, want 12 (3 entities × connect, write, ttfb, read)", n)
	}
	for _, want := range []string{`<td rowspan="4">8</td>`, `<td rowspan="4">6</td>`, `<td rowspan="4">2</td>`, "<td>3.250</td>", "No request had a dns or tls phase."} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(table, "—") {
		t.Error("the phase table has dashes though every phase shown was measured")
	}
}

// TestHTMLPhasesEdgeCases: many requests, medians of 0, a phase only
// one request had, a report without phases, phases on requests only.
func TestHTMLPhasesEdgeCases(t *testing.T) {
	ttfbOnly := func(p50 float64) Phases {
		return Phases{TTFBMS: Percentiles{P50: p50, P90: 2 * p50, P99: 3 * p50, Max: 4 * p50}}
	}
	many := Stage{Name: "many", Phases: ttfbOnly(1), Errors: map[string]uint64{}}
	for i := range 25 {
		many.Requests = append(many.Requests, Request{Name: fmt.Sprintf("r%02d", i), Phases: ttfbOnly(0.5 + float64(i)/10)})
	}
	zero := Stage{Name: "zero medians", Phases: Phases{NewConns: 3, ConnectMS: Percentiles{Max: 0.002}, ReadMS: Percentiles{P99: 0.001, Max: 0.001}}}
	dns := Stage{Name: "dns", Phases: ttfbOnly(1), Requests: []Request{
		{Name: "by name", Phases: Phases{NewConns: 1, DNSMS: Percentiles{P50: 0.5, Max: 0.5}, TTFBMS: Percentiles{P50: 1, Max: 1}}},
		{Name: "by address", Phases: ttfbOnly(1)},
	}}
	none := Stage{Name: "none", Requests: []Request{{Name: "old"}}}
	reqOnly := Stage{Name: "requests only", Requests: []Request{{Name: "x", Phases: ttfbOnly(2)}}}
	r := &Report{Schema: Schema, Scenario: "phases", Stages: []Stage{many, zero, dns, none, reqOnly}}
	page := writeHTML(t, r)
	for _, bad := range []string{"NaN", "Inf"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q", bad)
		}
	}

	svg, bars := phaseChartOf(t, page, 0)
	if len(bars) != maxPhaseBars || !strings.Contains(svg, "and 6 more in the table") {
		t.Errorf("many: %d bars (want %d) and a note of the 6 left out: %v", len(bars), maxPhaseBars, strings.Contains(svg, "more in the table"))
	}
	stage0 := page[strings.Index(page, `id="stage-0"`):strings.Index(page, `id="stage-1"`)]
	if n := strings.Count(stage0, `<td class="l" rowspan="1">`); n != 26 {
		t.Errorf("many: %d entities in the table, want 26 (the stage and 25 requests)", n)
	}

	svg, bars = phaseChartOf(t, page, 1)
	if !strings.Contains(svg, ">no data<") || len(bars) != 0 || !strings.Contains(svg, `data-points="0"`) {
		t.Errorf("zero medians: want a no-data chart, got %d bars:\n%s", len(bars), svg)
	}
	stage1 := page[strings.Index(page, `id="stage-1"`):strings.Index(page, `id="stage-2"`)]
	if !strings.Contains(stage1, "<td>0.002</td>") || !strings.Contains(stage1, `<td rowspan="2">3</td>`) {
		t.Error("zero medians: the table lacks connect's max or the 3 new conns")
	}

	_, bars = phaseChartOf(t, page, 2)
	if len(bars) != 3 || len(bars[1].Segs) != 2 || bars[1].Segs[0].Phase != "dns" || len(bars[2].Segs) != 1 {
		t.Errorf("dns: bars %+v, want dns+ttfb for by name and ttfb alone for the others", bars)
	}
	stage2 := page[strings.Index(page, `id="stage-2"`):strings.Index(page, `id="stage-3"`)]
	if n := strings.Count(stage2, "<td>—</td>"); n != 2*4 {
		t.Errorf("dns: %d dashes, want 8 (the dns rows of the stage and of by address)", n)
	}

	if svg, _ := phaseChartOf(t, page, 3); svg != "" || strings.Count(page, `<table class="phases">`) != 4 {
		t.Error("a stage without phases has a phase breakdown")
	}
	if _, bars := phaseChartOf(t, page, 4); len(bars) != 1 || bars[0].Label != "x" {
		t.Errorf("requests only: bars %+v, want one for x", bars)
	}
}

func TestOrList(t *testing.T) {
	for in, want := range map[string]string{"": "", "a": "a", "a b": "a or b", "a b c": "a, b or c"} {
		if got := orList(strings.Fields(in)); got != want {
			t.Errorf("orList(%q) = %q, want %q", in, got, want)
		}
	}
}
