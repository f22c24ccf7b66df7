package judge

import (
	"fmt"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"strconv"
	"strings"
	"time"

	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/scenario"
)

// Layout is what each series of a stage is: names and kinds by series
// index (Kinds nil: every one a request of the mix), and how many leading
// series are arrivals.
type Layout struct {
	Geometry metrics.Geometry
	Names    []string
	Kinds    []metrics.Kind
	Arrivals int
}

// LayoutOf is tl's layout.
func LayoutOf(tl *metrics.Timeline) Layout {
	return Layout{Geometry: tl.Geometry, Names: tl.Names, Kinds: tl.Kinds, Arrivals: tl.Arrivals}
}

func (l Layout) kind(k int) metrics.Kind {
	if k < len(l.Kinds) {
		return l.Kinds[k]
	}
	return metrics.KindRequest
}

// pick returns the series e selects out of judged: a request or step,
// a journey, or — with no selector — every request (of the mix, or every
// journey step) merged for latencies and errors, every journey merged for
// journey metrics, and every arrival (requests or journeys) merged for
// the rates and counts of arrivals. one reports a single series.
func (l Layout) pick(e scenario.ThresholdExpr, judged *metrics.Interval) (s metrics.Series, one bool, err error) {
	find := func(name string, ok func(metrics.Kind) bool) int {
		for i, n := range l.Names {
			if n == name && ok(l.kind(i)) {
				return i
			}
		}
		return -1
	}
	isReq := func(k metrics.Kind) bool { return k == metrics.KindRequest || k == metrics.KindStep }
	isJourney := func(k metrics.Kind) bool { return k == metrics.KindJourney }
	switch {
	case e.Selectors["step"] != "":
		name := e.Selectors["step"]
		i := find(name, func(k metrics.Kind) bool { return k == metrics.KindStep })
		if i < 0 {
			return s, false, fmt.Errorf("no journey step named %q", name)
		}
		if e.JourneyMetric() {
			return s, false, fmt.Errorf("%s is a metric of journeys, not of a step", e.Metric)
		}
		return judged.Series[i], true, nil
	case e.Selectors["journey"] != "":
		name := e.Selectors["journey"]
		i := find(name, isJourney)
		if i < 0 {
			return s, false, fmt.Errorf("no journey named %q", name)
		}
		if !e.JourneyMetric() {
			// The journey's requests: its steps merged.
			return l.merge(judged, func(k int) bool {
				return l.kind(k) == metrics.KindStep && strings.HasPrefix(l.Names[k], name+"/")
			}), false, nil
		}
		return judged.Series[i], true, nil
	case e.Selectors["request"] != "":
		name := e.Selectors["request"]
		i := find(name, isReq)
		if i < 0 {
			return s, false, fmt.Errorf("no request named %q", name)
		}
		return judged.Series[i], true, nil
	case e.JourneyMetric():
		return l.merge(judged, func(k int) bool { return isJourney(l.kind(k)) }), false, nil
	}
	switch e.Metric {
	case "achieved_rate", "rps", "dropped", "lost":
		return l.merge(judged, func(k int) bool { return k < l.arrivals(judged) }), false, nil
	}
	return l.merge(judged, func(k int) bool { return isReq(l.kind(k)) }), false, nil
}

func (l Layout) arrivals(judged *metrics.Interval) int {
	if l.Arrivals <= 0 {
		return len(judged.Series)
	}
	return l.Arrivals
}

// merge is the series of judged that keep selects, merged (the one
// itself when only it is selected and no others exist).
func (l Layout) merge(judged *metrics.Interval, keep func(int) bool) metrics.Series {
	var picked []int
	for k := range judged.Series {
		if keep(k) {
			picked = append(picked, k)
		}
	}
	if len(picked) == len(judged.Series) {
		return judged.Select(-1)
	}
	if len(picked) == 1 {
		return judged.Series[picked[0]]
	}
	out := metrics.NewSeries(l.Geometry)
	for _, k := range picked {
		_ = out.Merge(judged.Series[k]) // one geometry
	}
	return out
}

// Measure computes e's metric on judged (the merged data of a stage, a
// step or a window of span); lay says what its series are, for the
// selectors. has is false when there is nothing to judge: no responses
// for a latency or an error rate, no arrivals for an achieved rate; shown
// then names what is missing. lost is the arrivals lost over the span (a
// stage's; 0 for a step or a window).
func Measure(e scenario.ThresholdExpr, judged *metrics.Interval, lay Layout, span time.Duration, lost uint64) (v float64, shown string, has bool, err error) {
	s, one, err := lay.pick(e, judged)
	if err != nil {
		return 0, "", false, err
	}
	idx := -1
	if one {
		idx = 0
	}
	if stat, ok := e.JourneyStat(); ok {
		e.Metric = stat
	}
	if phase, stat, ok := e.PhaseStat(); ok {
		e.Metric = stat
		h := s.TTFB
		if p, ok := metrics.ParsePhase(phase); ok {
			h = s.Phases[p]
		}
		if h == nil || h.TotalCount() == 0 {
			return 0, phase + " times", false, nil
		}
		v := latency(e, h)
		return v, formatMS(v), true, nil
	}
	if e.Metric == "journey_error_rate" {
		e.Metric = "error_rate"
	}
	done := s.Succeeded + s.Failed
	if _, ok := e.Percentile(); ok || e.Metric == "max" || e.Metric == "mean" {
		if s.Response.TotalCount() == 0 {
			return 0, "responses", false, nil
		}
		v = latency(e, s.Response)
		return v, formatMS(v), true, nil
	}
	switch m := e.Metric; {
	case m == "error_rate":
		if done == 0 {
			return 0, "responses", false, nil
		}
		v = float64(s.Failed) / float64(done)
		return v, fmt.Sprintf("%.2f%%", 100*v), true, nil
	case m == "achieved_rate":
		if s.Intended == 0 {
			return 0, "arrivals", false, nil
		}
		v = float64(s.Issued) / float64(s.Intended)
		return v, fmt.Sprintf("%.2f%%", 100*v), true, nil
	case m == "rps":
		if span <= 0 {
			return 0, "time", false, nil
		}
		v = float64(s.Issued) / span.Seconds()
		return v, fmt.Sprintf("%.1f/s", v), true, nil
	case m == "dropped":
		return float64(s.Dropped), fmt.Sprint(s.Dropped), true, nil
	case m == "failed":
		return float64(s.Failed), fmt.Sprint(s.Failed), true, nil
	case m == "lost" && idx < 0:
		return float64(lost), fmt.Sprint(lost), true, nil
	}
	return 0, "", false, fmt.Errorf("%s cannot be judged here", e.Metric)
}

// latency is e's statistic (pN, max or mean) of h, not empty, in ns.
func latency(e scenario.ThresholdExpr, h *hdrhistogram.Histogram) float64 {
	if pct, ok := e.Percentile(); ok {
		// Nearest rank, as every reported percentile (so a threshold is
		// judged on the value the report shows).
		return float64(metrics.ValueAtPercentile(h, pct))
	}
	if e.Metric == "max" {
		return float64(h.Max())
	}
	return h.Mean()
}

// formatMS shows a latency of v ns in milliseconds.
func formatMS(v float64) string {
	return strconv.FormatFloat(v/float64(time.Millisecond), 'g', 5, 64) + "ms"
}

// Compare applies a threshold's operator: v op want.
func Compare(v float64, op string, want float64) bool {
	switch op {
	case "<":
		return v < want
	case "<=":
		return v <= want
	case ">":
		return v > want
	case ">=":
		return v >= want
	case "==":
		return v == want
	case "!=":
		return v != want
	}
	return false
}

// worse reports whether v is further from passing op than was.
func worse(op string, v, was float64) bool {
	switch op {
	case "<", "<=":
		return v > was
	case ">", ">=":
		return v < was
	}
	return false
}

// metricLabel is the metric with its selector, as written in reports.
func metricLabel(e scenario.ThresholdExpr) string {
	for _, key := range []string{"request", "journey", "step"} {
		if name, ok := e.Selectors[key]; ok {
			return fmt.Sprintf("%s{%s=%s}", e.Metric, key, name)
		}
	}
	return e.Metric
}

// metricPrefix is the part of an expression before its operator (which
// comes after any selector or window).
func metricPrefix(text string) string {
	from := max(strings.LastIndexByte(text, '}'), strings.LastIndexByte(text, ']'), -1) + 1
	for i := from; i < len(text); i++ {
		switch text[i] {
		case '<', '>', '=', '!':
			return text[:i]
		}
	}
	return ""
}
