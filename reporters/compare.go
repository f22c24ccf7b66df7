package reporters

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// MaxReportBytes is the largest report.json ReadReport accepts.
const MaxReportBytes = 256 << 20

// ReadReport reads a saved report.json, to compare or render it again.
// The input must be at most MaxReportBytes of one JSON object of schema
// Schema (fields added later within the schema are ignored); its counts
// must balance (Report.Check; the error then wraps ErrUnbalanced); and
// every histogram must decode (the error then wraps ErrHistogram and
// names the stage and interval). JSON errors say at which byte, line and
// column.
func ReadReport(rd io.Reader) (*Report, error) {
	return readReport(rd, MaxReportBytes)
}

func readReport(rd io.Reader, limit int64) (*Report, error) {
	data, err := io.ReadAll(io.LimitReader(rd, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("read report: larger than %d MiB; not a report.json", limit>>20)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		if se, ok := errors.AsType[*json.SyntaxError](err); ok {
			return nil, fmt.Errorf("read report: invalid JSON %s: %v", where(data, se.Offset), se)
		}
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
			return nil, fmt.Errorf("read report: %s: %v", where(data, te.Offset), te)
		}
		return nil, fmt.Errorf("read report: %w", err)
	}
	if r.Schema != Schema {
		return nil, fmt.Errorf("read report: schema %q, want %q", r.Schema, Schema)
	}
	if err := r.Check(); err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	if err := r.checkHistograms(); err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	return &r, nil
}

// where is an offset of encoding/json (the bytes read when it failed) as
// "at byte N (line L, column C)", the line and column (from 1) being
// those of the N-th byte.
func where(data []byte, off int64) string {
	off = min(max(off, 0), int64(len(data)))
	before := data[:max(off-1, 0)]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("at byte %d (line %d, column %d)", off, line, col)
}

// CompareOptions are the tolerances beyond which a change is a
// regression. Latency and Throughput are fractions (0.10 is 10%), each
// with an absolute noise floor: a change is a regression only when it
// exceeds both its relative tolerance and its floor, so that a p99 of a
// few milliseconds that moves by a scheduler slice does not fail a gate.
type CompareOptions struct {
	// Latency is the largest relative rise of a response-time percentile
	// (p50, p99, p99.9, max) that is not a regression.
	Latency float64
	// MinLatencyDelta is the latency noise floor: a rise of a percentile
	// of at most this much is not a regression, whatever its relative
	// size (4.0 → 5.8 ms is +45% but only 1.8 ms). 0 turns the floor off.
	MinLatencyDelta time.Duration
	// Throughput is the largest relative fall of the achieved rate or
	// the measured ceiling that is not a regression.
	Throughput float64
	// MinThroughputDelta is the throughput noise floor in req/s: a fall
	// of at most this much is not a regression (at 10 req/s, −6% is 0.6
	// req/s: fewer than one request a second). 0 turns the floor off.
	MinThroughputDelta float64
	// ErrorRate is the largest absolute rise of the error rate
	// (failed ÷ finished) that is not a regression: 0.001 is 0.1
	// percentage point. This rule is absolute already: it is the error
	// rate's noise floor, and there is no relative rule beside it.
	ErrorRate float64
}

// DefaultMinLatencyDelta is the default latency noise floor, 5 ms. Why 5:
// on a shared CI runner a percentile moves from run to run by a scheduling
// delay of the generator or the target (Linux's CFS gives a runnable task
// a slice of a few milliseconds when the cores are busy; a Go GC cycle or
// a timer wake-up adds its share), which is not a change of the code under
// test. A p99 of 4 ms that becomes 5.8 ms (+45%) is that kind of noise; one
// of 40 ms that becomes 58 ms (+18 ms) is not. Sub-millisecond services
// compared on a quiet machine can lower it (--min-latency-delta 0.5ms).
const DefaultMinLatencyDelta = 5 * time.Millisecond

// DefaultMinThroughputDelta is the default throughput noise floor: 1 req/s
// (one request a second more or less is within counting noise of a short
// stage).
const DefaultMinThroughputDelta = 1.0

// DefaultCompareOptions: latency up to +10% or up to +5 ms, throughput
// down to −5% or down to −1 req/s, error rate up to +0.1 percentage point.
func DefaultCompareOptions() CompareOptions {
	return CompareOptions{Latency: 0.10, MinLatencyDelta: DefaultMinLatencyDelta,
		Throughput: 0.05, MinThroughputDelta: DefaultMinThroughputDelta, ErrorRate: 0.001}
}

// Comparison is a head report compared with a base report, stage by
// stage (stages are matched by name).
type Comparison struct {
	Options                 CompareOptions
	BaseScenario, BaseRunID string
	HeadScenario, HeadRunID string
	Stages                  []StageComparison
	// Added are stages only the head has; Removed those only the base has.
	Added, Removed []string
	// Regressions are the changes beyond the tolerances, one line each,
	// in table order; empty when there are none.
	Regressions []string
}

// StageComparison is one stage present in both reports.
type StageComparison struct {
	Name  string
	Rows  []CompareRow
	Notes []string
}

// Kinds of CompareRow: how its values are shown and judged.
const (
	RowRate      = "rate"       // req/s; a fall is a regression
	RowLatency   = "latency"    // ms; a rise is a regression
	RowErrorRate = "error_rate" // fraction; a rise is a regression (absolute)
	RowCount     = "count"      // shown, never judged
)

// CompareRow is one metric of a stage in both reports.
type CompareRow struct {
	Metric string
	Kind   string
	// Base and Head are the values; Delta is Head − Base, Relative is
	// Delta ÷ Base when HasRelative (Base > 0).
	Base, Head, Delta float64
	Relative          float64
	HasRelative       bool
	// NA is set when the metric has no value on a side (an error rate
	// without finished requests): nothing is judged.
	NA bool
	// LowerBound marks a ceiling row whose head or base is only a lower
	// bound (not reached).
	BaseLowerBound, HeadLowerBound bool
	// Regression is set when the change is beyond its tolerance and its
	// noise floor; WithinFloor when it is beyond the (relative) tolerance
	// but not beyond the (absolute) floor, so it is not a regression.
	Regression  bool
	WithinFloor bool
}

// regressionSlack absorbs floating-point error, so that a change exactly
// at a tolerance is not a regression.
const regressionSlack = 1e-9

// Compare compares head with base using DefaultCompareOptions.
func Compare(base, head *Report) Comparison {
	return DefaultCompareOptions().Compare(base, head)
}

// Compare compares head with base: per stage matched by name, the
// achieved rate, response-time p50, p99, p99.9 and max, error rate,
// dropped arrivals and, when both have one, the measured ceiling.
func (o CompareOptions) Compare(base, head *Report) Comparison {
	c := Comparison{Options: o, BaseScenario: base.Scenario, BaseRunID: base.RunID, HeadScenario: head.Scenario, HeadRunID: head.RunID}
	used := make([]bool, len(head.Stages))
	for _, b := range base.Stages {
		k := -1
		for j, h := range head.Stages {
			if !used[j] && h.Name == b.Name {
				k = j
				break
			}
		}
		if k < 0 {
			c.Removed = append(c.Removed, b.Name)
			continue
		}
		used[k] = true
		sc := o.compareStage(&b, &head.Stages[k])
		for _, r := range sc.Rows {
			if r.Regression {
				c.Regressions = append(c.Regressions, fmt.Sprintf("stage %s: %s %s → %s (%s, tolerance %s)",
					sc.Name, r.Metric, r.value(r.Base, r.BaseLowerBound)+r.unit(), r.value(r.Head, r.HeadLowerBound)+r.unit(), r.change(), o.tolerance(r.Kind)))
			}
		}
		c.Stages = append(c.Stages, sc)
	}
	for j, h := range head.Stages {
		if !used[j] {
			c.Added = append(c.Added, h.Name)
		}
	}
	return c
}

func (o CompareOptions) compareStage(b, h *Stage) StageComparison {
	sc := StageComparison{Name: b.Name}
	add := func(metric, kind string, bv, hv float64) *CompareRow {
		r := CompareRow{Metric: metric, Kind: kind, Base: bv, Head: hv, Delta: hv - bv}
		if bv > 0 {
			r.Relative, r.HasRelative = r.Delta/bv, true
		}
		switch kind {
		case RowRate:
			beyond := r.HasRelative && -r.Relative > o.Throughput+regressionSlack
			r.Regression = beyond && -r.Delta > o.MinThroughputDelta+regressionSlack
			r.WithinFloor = beyond && !r.Regression
		case RowLatency:
			beyond := r.HasRelative && r.Relative > o.Latency+regressionSlack
			r.Regression = beyond && r.Delta > durationMS(o.MinLatencyDelta)+regressionSlack
			r.WithinFloor = beyond && !r.Regression
		case RowErrorRate:
			r.Regression = r.Delta > o.ErrorRate+regressionSlack
		}
		sc.Rows = append(sc.Rows, r)
		return &sc.Rows[len(sc.Rows)-1]
	}
	add("achieved/s", RowRate, b.AchievedRPS, h.AchievedRPS)
	add("p50", RowLatency, b.ResponseTimeMS.P50, h.ResponseTimeMS.P50)
	add("p99", RowLatency, b.ResponseTimeMS.P99, h.ResponseTimeMS.P99)
	add("p99.9", RowLatency, b.ResponseTimeMS.P999, h.ResponseTimeMS.P999)
	// max is one sample: shown, never judged, so noise cannot fail a gate.
	if r := add("max", RowLatency, b.ResponseTimeMS.Max, h.ResponseTimeMS.Max); true {
		r.Regression, r.WithinFloor = false, false
	}
	ber, bok := errorRate(b)
	her, hok := errorRate(h)
	if r := add("error rate", RowErrorRate, ber, her); !bok || !hok {
		r.NA, r.Regression, r.Delta, r.HasRelative = true, false, 0, false
	}
	add("dropped", RowCount, float64(b.Dropped), float64(h.Dropped))
	if b.Ceiling != nil && h.Ceiling != nil {
		r := add("ceiling/s", RowRate, b.Ceiling.MeasuredRPS, h.Ceiling.MeasuredRPS)
		r.BaseLowerBound, r.HeadLowerBound = !b.Ceiling.Reached, !h.Ceiling.Reached
		// A head ceiling that was not reached is only a lower bound: a
		// lower number does not show that the ceiling fell.
		r.Regression = r.Regression && h.Ceiling.Reached
		r.WithinFloor = r.WithinFloor && h.Ceiling.Reached
	}
	for _, side := range []struct {
		name string
		s    *Stage
	}{{"base", b}, {"head", h}} {
		if side.s.GeneratorLimited {
			sc.Notes = append(sc.Notes, fmt.Sprintf("the %s stage was generator-limited: its numbers describe the generator as much as the target", side.name))
		}
		if side.s.Stopped != "" || side.s.Lost > 0 {
			sc.Notes = append(sc.Notes, fmt.Sprintf("the %s stage was not played fully", side.name))
		}
	}
	return sc
}

// errorRate is failed ÷ (succeeded + failed); false without finished
// requests.
func errorRate(s *Stage) (float64, bool) {
	n := float64(s.Succeeded) + float64(s.Failed)
	if n == 0 {
		return 0, false
	}
	return float64(s.Failed) / n, true
}

// durationMS is d in milliseconds.
func durationMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// tolerance is the rule of a row kind, as shown.
func (o CompareOptions) tolerance(kind string) string {
	switch kind {
	case RowRate:
		if o.MinThroughputDelta > 0 {
			return "−" + pct(o.Throughput) + " and " + o.floor(kind)
		}
		return "−" + pct(o.Throughput)
	case RowLatency:
		if o.MinLatencyDelta > 0 {
			return "+" + pct(o.Latency) + " and " + o.floor(kind)
		}
		return "+" + pct(o.Latency)
	case RowErrorRate:
		return fmt.Sprintf("+%spp", trimFloat(100*o.ErrorRate))
	}
	return ""
}

// floor is the noise floor of a row kind, as shown.
func (o CompareOptions) floor(kind string) string {
	if kind == RowRate {
		return "−" + trimFloat(o.MinThroughputDelta) + "/s"
	}
	return "+" + trimFloat(durationMS(o.MinLatencyDelta)) + "ms"
}

func pct(f float64) string { return trimFloat(100*f) + "%" }

func trimFloat(f float64) string { return fmt.Sprintf("%.4g", f) }

// value is one side of a row as shown.
func (r CompareRow) value(v float64, lowerBound bool) string {
	switch {
	case r.NA && r.Kind == RowErrorRate:
		return "—"
	case r.Kind == RowLatency:
		return ms(v)
	case r.Kind == RowErrorRate:
		return fmt.Sprintf("%.2f%%", 100*v)
	case r.Kind == RowCount:
		return fmt.Sprintf("%.0f", v)
	case lowerBound:
		return fmt.Sprintf("≥%.1f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// unit follows a value in a regression's line.
func (r CompareRow) unit() string {
	if r.Kind == RowLatency {
		return "ms"
	}
	return ""
}

// delta is the row's absolute change as shown.
func (r CompareRow) delta() string {
	switch {
	case r.NA:
		return "—"
	case r.Kind == RowLatency:
		return sign(r.Delta) + ms(math.Abs(r.Delta))
	case r.Kind == RowErrorRate:
		return fmt.Sprintf("%s%.2fpp", sign(r.Delta), math.Abs(100*r.Delta))
	case r.Kind == RowCount:
		return fmt.Sprintf("%s%.0f", sign(r.Delta), math.Abs(r.Delta))
	}
	return fmt.Sprintf("%s%.1f", sign(r.Delta), math.Abs(r.Delta))
}

// relative is the row's relative change as shown.
func (r CompareRow) relative() string {
	if r.NA || !r.HasRelative {
		return "—"
	}
	return fmt.Sprintf("%s%.1f%%", sign(r.Relative), math.Abs(100*r.Relative))
}

// change is how a regression is summed up: the relative change, or the
// absolute one for an error rate.
func (r CompareRow) change() string {
	if r.Kind == RowErrorRate {
		return r.delta()
	}
	return r.relative()
}

func sign(v float64) string {
	switch {
	case v > 0:
		return "+"
	case v < 0:
		return "−"
	}
	return "±"
}

// WriteCompare writes a comparison as one table per stage, then the
// stages only one side has and the regressions.
func WriteCompare(w io.Writer, c Comparison) error {
	var b strings.Builder
	fmt.Fprintf(&b, "compare: base %s (run %s) → head %s (run %s)\n", c.BaseScenario, c.BaseRunID, c.HeadScenario, c.HeadRunID)
	fmt.Fprintf(&b, "tolerances: latency %s, throughput %s, error rate %s\n",
		c.Options.tolerance(RowLatency), c.Options.tolerance(RowRate), c.Options.tolerance(RowErrorRate))
	for _, s := range c.Stages {
		fmt.Fprintf(&b, "\nstage %s\n", s.Name)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "  %-10s\tbase\thead\tdelta\tchange\t\n", "metric")
		for _, r := range s.Rows {
			mark := ""
			switch {
			case r.Regression:
				mark = "  REGRESSION (" + c.Options.tolerance(r.Kind) + ")"
			case r.WithinFloor:
				mark = "  within noise floor (" + c.Options.floor(r.Kind) + ")"
			}
			metric := r.Metric
			if r.Kind == RowLatency {
				metric += " ms"
			}
			fmt.Fprintf(tw, "  %-10s\t%s\t%s\t%s\t%s\t%s\n", metric, r.value(r.Base, r.BaseLowerBound), r.value(r.Head, r.HeadLowerBound),
				r.delta(), r.relative(), mark)
		}
		tw.Flush()
		for _, n := range s.Notes {
			fmt.Fprintf(&b, "  note: %s\n", n)
		}
	}
	if len(c.Removed) > 0 {
		fmt.Fprintf(&b, "\nstages only in base (removed): %s\n", strings.Join(c.Removed, ", "))
	}
	if len(c.Added) > 0 {
		fmt.Fprintf(&b, "\nstages only in head (added): %s\n", strings.Join(c.Added, ", "))
	}
	if len(c.Regressions) == 0 {
		fmt.Fprintf(&b, "\nno regressions beyond the tolerances\n")
	} else {
		fmt.Fprintf(&b, "\n%d regression(s) beyond the tolerances:\n", len(c.Regressions))
		for _, r := range c.Regressions {
			fmt.Fprintf(&b, "  %s\n", r)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
