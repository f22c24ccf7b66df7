package coordinator

import (
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/reporters"
)

// percentiles summarises a merged histogram in milliseconds. Percentiles
// only ever come from merged histograms, never from averaging.
func percentiles(h *hdrhistogram.Histogram) reporters.Percentiles {
	if h.TotalCount() == 0 {
		return reporters.Percentiles{}
	}
	return reporters.Percentiles{
		P50:  ms(h.ValueAtQuantile(50)),
		P90:  ms(h.ValueAtQuantile(90)),
		P99:  ms(h.ValueAtQuantile(99)),
		P999: ms(h.ValueAtQuantile(99.9)),
		Max:  ms(h.Max()),
		Mean: h.Mean() / 1e6,
	}
}

func ms(ns int64) float64 { return float64(ns) / float64(time.Millisecond) }

// errorMap lists failures by class; it is never nil so report.json always
// carries an "errors" object.
func errorMap(c metrics.Counters) map[string]uint64 {
	m := map[string]uint64{}
	for o, n := range c.Errors {
		if n > 0 {
			m[metrics.Outcome(o).String()] = n
		}
	}
	return m
}

func (sr *stageRun) intervalLen() time.Duration { return sr.interval }
