package reporters

import (
	"errors"
	"fmt"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/surgeload/surge/internal/metrics"
)

// ErrHistogram is wrapped by the errors of ReadReport and WriteHlog about
// a histogram that does not decode.
var ErrHistogram = metrics.ErrHistogram

// maxHistogramErrors bounds how many bad histograms a ReadReport error
// names: a damaged file can hold thousands.
const maxHistogramErrors = 5

// decodeHistogram decodes a histogram of a report (Stage.Histogram,
// Interval.Histogram) with the decoder every reader of histograms uses
// (metrics.DecodeHistogram): bounded in size and geometry, never a panic.
// A report does not record its geometry, so any valid one is accepted;
// Surge writes metrics.DefaultGeometry.
func decodeHistogram(s string) (*hdrhistogram.Histogram, error) {
	return metrics.DecodeHistogram([]byte(s), metrics.Geometry{})
}

// checkHistograms decodes every histogram r carries, so that a damaged
// one is an input error when the report is read rather than a failure
// (or a silent gap) in whichever renderer meets it first.
func (r *Report) checkHistograms() error {
	var errs []error
	bad := 0
	check := func(s string, where func() string) {
		if s == "" {
			return // a stage or interval without responses
		}
		if _, err := decodeHistogram(s); err != nil {
			if bad++; bad <= maxHistogramErrors {
				errs = append(errs, fmt.Errorf("%s: histogram: %w", where(), err))
			}
		}
	}
	for _, s := range r.Stages {
		check(s.Histogram, func() string { return "stage " + s.Name })
		for i, iv := range s.Intervals {
			check(iv.Histogram, func() string { return fmt.Sprintf("stage %s interval %d (t_s %g)", s.Name, i, iv.TS) })
		}
	}
	if bad > maxHistogramErrors {
		errs = append(errs, fmt.Errorf("and %d more bad histograms", bad-maxHistogramErrors))
	}
	return errors.Join(errs...)
}
