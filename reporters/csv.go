package reporters

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/surgeload/surge/internal/metrics"
)

// CSVHeader is the header row of timeseries.csv. Columns are only ever
// appended, never reordered or renamed.
var CSVHeader = append([]string{
	"stage", "request", "t_s", "intended", "issued", "succeeded", "failed", "dropped",
	"p50_ms", "p99_ms", "in_flight", "send_lag_p99_ms", "cpu_s",
	"p75_ms", "p95_ms",
	"timestamp", "lost", "p90_ms", "p99.9_ms", "max_ms",
}, append(append(csvErrorColumns(), csvLaterColumns...), csvClassColumns(csvLaterClasses, metrics.NumOutcomes)...)...)

// csvLaterColumns were added after the per-class failure columns (a class
// added later goes after them in turn: see csvLaterClasses).
var csvLaterColumns = []string{"on_wire_lag_p99_ms"}

// csvLaterClasses is the first failure class added after csvLaterColumns:
// its column and those of the classes after it come last.
const csvLaterClasses = metrics.RateLimited

// csvErrorColumns are the per-class failure columns, "errors_" + the class,
// in the order of the classes, up to csvLaterClasses.
func csvErrorColumns() []string { return csvClassColumns(metrics.OK+1, csvLaterClasses) }

// csvClassColumns are the failure columns of the classes from lo up to hi.
func csvClassColumns(lo, hi metrics.Outcome) []string {
	var out []string
	for o := lo; o < hi; o++ {
		out = append(out, "errors_"+o.String())
	}
	return out
}

// CSVAllRequests is the request column of a row that covers every request
// of the interval.
const CSVAllRequests = "*"

// WriteCSV writes timeseries.csv: the header row (CSVHeader), then for
// each stage × interval, in report order, one row covering all requests
// (request "*") followed by one row per request name with data in that
// interval (Interval.Requests). t_s is the interval's start in seconds
// into its stage. in_flight, send_lag_p99_ms and cpu_s belong to the
// interval as a whole and are empty on the per-request rows. p75_ms and
// p95_ms, appended later, are on every row, like p50_ms and p99_ms.
// timestamp is the interval's start as an absolute UTC time (RFC 3339,
// milliseconds: the stage's T0 plus t_s; empty for a stage without one),
// on every row; lost, p90_ms, p99.9_ms, max_ms and the failures by class
// (errors_CLASS, one column per class) belong to the interval as a whole
// and are empty on the per-request rows; so is on_wire_lag_p99_ms (the
// interval's on-wire lag p99: when the requests went out on the wire,
// against when they were due), which comes after the failure columns, and
// so are errors_rate_limited and errors_breaker_open, which come after it.
//
// The output is RFC 4180 (encoding/csv, CRLF-free "\n" line ends, quoting
// as needed). Numbers are plain decimals, never in exponent form; a
// non-finite float (NaN, ±Inf) is written as an empty field.
func WriteCSV(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return fmt.Errorf("write timeseries.csv: %w", err)
	}
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	for _, s := range r.Stages {
		for _, iv := range s.Intervals {
			row := []string{
				s.Name, CSVAllRequests, csvFloat(iv.TS),
				u(iv.Intended), u(iv.Issued), u(iv.Succeeded), u(iv.Failed), u(iv.Dropped),
				csvFloat(iv.P50MS), csvFloat(iv.P99MS), u(iv.InFlight),
				csvFloat(iv.SendLagP99MS), csvFloat(iv.CPUS),
				csvFloat(iv.P75MS), csvFloat(iv.P95MS),
				csvTime(s.Started, iv.TS), u(iv.Lost), csvFloat(iv.P90MS), csvFloat(iv.P999MS), csvFloat(iv.MaxMS),
			}
			for o := metrics.OK + 1; o < csvLaterClasses; o++ {
				row = append(row, u(iv.Errors[o.String()]))
			}
			row = append(row, csvFloat(iv.OnWireLagP99MS))
			for o := csvLaterClasses; o < metrics.NumOutcomes; o++ {
				row = append(row, u(iv.Errors[o.String()]))
			}
			if err := cw.Write(row); err != nil {
				return fmt.Errorf("write timeseries.csv: %w", err)
			}
			for _, rq := range iv.Requests {
				row := []string{
					s.Name, rq.Name, csvFloat(iv.TS),
					u(rq.Intended), u(rq.Issued), u(rq.Succeeded), u(rq.Failed), u(rq.Dropped),
					csvFloat(rq.P50MS), csvFloat(rq.P99MS), "", "", "",
					csvFloat(rq.P75MS), csvFloat(rq.P95MS),
					csvTime(s.Started, iv.TS),
				}
				row = append(row, make([]string, len(CSVHeader)-len(row))...) // per interval only
				if err := cw.Write(row); err != nil {
					return fmt.Errorf("write timeseries.csv: %w", err)
				}
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write timeseries.csv: %w", err)
	}
	return nil
}

// csvTime is the absolute start of the interval at ts seconds into a stage
// that started at started; empty when the start is unknown.
func csvTime(started time.Time, ts float64) string {
	if started.IsZero() || math.IsNaN(ts) || math.IsInf(ts, 0) {
		return ""
	}
	return started.Add(time.Duration(math.Round(ts * 1e9))).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// csvFloat formats v as the shortest plain decimal that reads back as v.
func csvFloat(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return ""
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
