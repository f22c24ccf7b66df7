package judge

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/scenario"
)

// Measure computes e's metric on judged (the merged data of a stage, a
// step or a window of span); names are the request names by series
// index, for a request selector. has is false when there is nothing to
// judge: no responses for a latency or an error rate, no arrivals for an
// achieved rate; shown then names what is missing. lost is the arrivals
// lost over the span (a stage's; 0 for a step or a window).
func Measure(e scenario.ThresholdExpr, judged *metrics.Interval, names []string, span time.Duration, lost uint64) (v float64, shown string, has bool, err error) {
	idx := -1
	if name, ok := e.Selectors["request"]; ok {
		for i, n := range names {
			if n == name {
				idx = i
			}
		}
		if idx < 0 {
			return 0, "", false, fmt.Errorf("no request named %q", name)
		}
	}
	s := judged.Select(idx)
	done := s.Succeeded + s.Failed
	if pct, ok := e.Percentile(); ok || e.Metric == "max" || e.Metric == "mean" {
		if s.Response.TotalCount() == 0 {
			return 0, "responses", false, nil
		}
		switch {
		case ok:
			// Nearest rank, as every reported percentile (so a threshold
			// is judged on the value the report shows).
			v = float64(metrics.ValueAtPercentile(s.Response, pct))
		case e.Metric == "max":
			v = float64(s.Response.Max())
		default:
			v = s.Response.Mean()
		}
		return v, strconv.FormatFloat(v/float64(time.Millisecond), 'g', 5, 64) + "ms", true, nil
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
	if name, ok := e.Selectors["request"]; ok {
		return fmt.Sprintf("%s{request=%s}", e.Metric, name)
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
