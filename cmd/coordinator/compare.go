package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/surgeload/surge/internal/exitcode"
	"github.com/surgeload/surge/reporters"
)

func newCompare(stdout, _ io.Writer) *cobra.Command {
	def := reporters.DefaultCompareOptions()
	var latency, throughput, errRate string
	minLatency, minThroughput := def.MinLatencyDelta, def.MinThroughputDelta
	cmd := &cobra.Command{
		Use:   "compare BASE HEAD",
		Short: "Compare two runs' report.json stage by stage and flag regressions",
		Long: `Compare reads two reports (report.json files, or directories holding one)
and prints, for each stage both have (matched by name), the achieved rate,
response-time p50, p99, p99.9 and max, error rate, dropped arrivals and the
measured ceiling, with HEAD's change from BASE.

A change beyond a tolerance is a regression: a latency up by more than
--max-regression-latency and by more than --min-latency-delta, the
achieved rate or a (reached) ceiling down by more than
--max-regression-throughput and by more than --min-throughput-delta req/s,
the error rate up by more than --max-regression-errors percentage points.
A change past the relative tolerance but not past its absolute floor is
shown as "within noise floor": a p99 of 4.0 ms that becomes 5.8 ms (+45%,
+1.8 ms) is scheduling noise on a shared CI runner, one of 40 ms that
becomes 58 ms is a regression. The exit code is 1 when there is any
regression, 0 when there is none, 2 when a report cannot be read.`,
		Args: cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			var opts reporters.CompareOptions
			var errs []error
			for _, f := range []struct {
				name, v string
				dst     *float64
			}{{"max-regression-latency", latency, &opts.Latency}, {"max-regression-throughput", throughput, &opts.Throughput},
				{"max-regression-errors", errRate, &opts.ErrorRate}} {
				v, err := parsePercent(f.v)
				if err != nil {
					errs = append(errs, fmt.Errorf("--%s %q %v", f.name, f.v, err))
				}
				*f.dst = v
			}
			if minLatency < 0 {
				errs = append(errs, fmt.Errorf("--min-latency-delta %v must be >= 0", minLatency))
			}
			if math.IsNaN(minThroughput) || math.IsInf(minThroughput, 0) || minThroughput < 0 {
				errs = append(errs, fmt.Errorf("--min-throughput-delta %v must be a rate >= 0 in req/s", minThroughput))
			}
			opts.MinLatencyDelta, opts.MinThroughputDelta = minLatency, minThroughput
			if err := errors.Join(errs...); err != nil {
				return fail(exitcode.Invalid, err)
			}
			base, err := loadReport(args[0])
			if err != nil {
				return err
			}
			head, err := loadReport(args[1])
			if err != nil {
				return err
			}
			c := opts.Compare(base, head)
			if err := reporters.WriteCompare(stdout, c); err != nil {
				return fail(exitcode.CannotRun, err)
			}
			if n := len(c.Regressions); n > 0 {
				return fail(exitcode.ThresholdsFailed, fmt.Errorf("%d regression(s) beyond the tolerances: %s", n, strings.Join(c.Regressions, "; ")))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&latency, "max-regression-latency", percentText(def.Latency), "largest rise of a latency percentile that is not a regression")
	f.StringVar(&throughput, "max-regression-throughput", percentText(def.Throughput), "largest fall of the achieved rate or ceiling that is not a regression")
	f.StringVar(&errRate, "max-regression-errors", percentText(def.ErrorRate), "largest rise of the error rate, in percentage points, that is not a regression (an absolute rule: the error rate's noise floor)")
	f.DurationVar(&minLatency, "min-latency-delta", def.MinLatencyDelta, "latency noise floor: a rise of at most this much is not a regression, whatever its relative size (0 = none)")
	f.Float64Var(&minThroughput, "min-throughput-delta", def.MinThroughputDelta, "throughput noise floor in req/s: a fall of at most this much is not a regression (0 = none)")
	return cmd
}

func percentText(f float64) string { return strconv.FormatFloat(100*f, 'g', -1, 64) + "%" }

// parsePercent reads "10%" (or "10") as 0.10.
func parsePercent(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%")), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, errors.New("must be a percentage >= 0, like 10%")
	}
	return v / 100, nil
}

// loadReport reads a report.json, or the report.json in a directory; its
// errors name the file and are input errors (exit code 2).
func loadReport(path string) (*reporters.Report, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "report.json")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fail(exitcode.Invalid, err)
	}
	defer f.Close()
	rep, err := reporters.ReadReport(f)
	if err != nil {
		return nil, fail(exitcode.Invalid, fmt.Errorf("%s: %w", path, err))
	}
	return rep, nil
}
