package reporters

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
)

// CSVHeader is the header row of timeseries.csv. Columns are only ever
// appended, never reordered or renamed.
var CSVHeader = []string{
	"stage", "t_s", "intended", "issued", "succeeded", "failed", "dropped",
	"p50_ms", "p99_ms", "in_flight", "send_lag_p99_ms", "cpu_s",
}

// WriteCSV writes timeseries.csv: the header row (CSVHeader), then one row
// per stage × interval, stages and intervals in report order. t_s is the
// interval's start in seconds into its stage. Every row covers all the
// stage's requests together: a breakdown by request name would need
// per-interval, per-request data that the report does not carry yet
// (Interval holds totals only), so there are no per-request rows.
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
				s.Name, csvFloat(iv.TS),
				u(iv.Intended), u(iv.Issued), u(iv.Succeeded), u(iv.Failed), u(iv.Dropped),
				csvFloat(iv.P50MS), csvFloat(iv.P99MS), u(iv.InFlight),
				csvFloat(iv.SendLagP99MS), csvFloat(iv.CPUS),
			}
			if err := cw.Write(row); err != nil {
				return fmt.Errorf("write timeseries.csv: %w", err)
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write timeseries.csv: %w", err)
	}
	return nil
}

// csvFloat formats v as the shortest plain decimal that reads back as v.
func csvFloat(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return ""
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
