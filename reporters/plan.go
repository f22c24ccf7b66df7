package reporters

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/surgeload/surge/internal/capacity"
)

// planWorkingWidth is the widest the working column of WritePlan grows;
// longer workings (the ceiling of a stage with four limits) wrap onto
// continuation lines so the value column stays where the eye expects it.
const planWorkingWidth = 64

// Plan is a capacity plan as WritePlan prints it: steps worked out in
// order, then notes on what was skipped or needs attention. It is plain
// data, so a program can print a plan it computed itself; Surge's
// coordinator fills it from its planner (coordinator plan).
type Plan struct {
	Steps []PlanStep
	Notes []string
}

// PlanStep is one line of a Plan: what is computed (Label), its working
// with the numbers substituted (Working), the exact value and its unit.
// For example {"peak", "1,157.4 × 5", 5787.037…, "req/s"}. Value is not
// rounded: WritePlan formats it.
type PlanStep struct {
	Label, Working string
	Value          float64
	Unit           string
}

// WritePlan writes a capacity plan as an aligned table — step, working,
// value, unit — followed by its notes:
//
//	step            working                  value
//	average         100,000,000 ÷ 86,400 s   1,157 req/s
//	peak            1,157.4 × 5              5,787 req/s
//
// Values are written with thousands separators and a precision that
// shrinks as numbers grow: whole from 100 up (1,157), one decimal from
// 10 (57.9), two from 1 (1.25), three significant digits below (0.123);
// the working keeps a digit more so a reader can redo each step by hand.
// A plan with no steps writes only its notes.
func WritePlan(w io.Writer, p Plan) error {
	var b strings.Builder
	if len(p.Steps) > 0 {
		labelW, workW, valueW := len("step"), len("working"), len("value")
		values := make([]string, len(p.Steps))
		for i, s := range p.Steps {
			values[i] = capacity.FormatNumber(s.Value)
			labelW = max(labelW, utf8.RuneCountInString(s.Label))
			workW = max(workW, min(planWorkingWidth, utf8.RuneCountInString(s.Working)))
			valueW = max(valueW, utf8.RuneCountInString(values[i]))
		}
		line := func(label, working, value, unit string) {
			row := "  " + pad(label, labelW) + "  " + pad(working, workW) + "  " + padLeft(value, valueW)
			if unit != "" {
				row += " " + unit
			}
			b.WriteString(strings.TrimRight(row, " "))
			b.WriteByte('\n')
		}
		line("step", "working", "value", "")
		for i, s := range p.Steps {
			lines := wrap(s.Working, planWorkingWidth)
			line(s.Label, lines[0], values[i], s.Unit)
			for _, more := range lines[1:] {
				line("", "  "+more, "", "")
			}
		}
	}
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// wrap splits s into lines of at most width runes (width − 2 after the
// first, which are meant to be indented by two), breaking after a space —
// after ", " or "; " when that leaves the line at least a third full, so
// the terms of a min stay whole. A word longer than the line stays whole.
func wrap(s string, width int) []string {
	var lines []string
	for {
		limit := width
		if len(lines) > 0 {
			limit = width - 2
		}
		if utf8.RuneCountInString(s) <= limit {
			break
		}
		cut := byteIndex(s, limit)
		at := max(strings.LastIndex(s[:cut], ", "), strings.LastIndex(s[:cut], "; "))
		if at > 0 && at >= byteIndex(s, limit/3) {
			at += 2
		} else if at = strings.LastIndex(s[:cut], " "); at > 0 {
			at++
		} else if at = strings.Index(s[cut:], " "); at >= 0 {
			at += cut + 1
		} else {
			break
		}
		lines = append(lines, strings.TrimRight(s[:at], " "))
		s = s[at:]
	}
	return append(lines, s)
}

// byteIndex is the byte offset of the rune at position n of s, or len(s).
func byteIndex(s string, n int) int {
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}

// pad left-aligns s in width runes.
func pad(s string, width int) string {
	return s + strings.Repeat(" ", max(0, width-utf8.RuneCountInString(s)))
}

// padLeft right-aligns s in width runes.
func padLeft(s string, width int) string {
	return strings.Repeat(" ", max(0, width-utf8.RuneCountInString(s))) + s
}

// ErrPreview is matched (errors.Is) by the errors of WriteCurve and
// WriteShares about their arguments (no samples, a NaN rate, a width out
// of range, no shares).
var ErrPreview = errors.New("cannot render the plan preview")

// eighths are the block characters of a bar, from empty to a full cell in
// steps of one eighth.
var eighths = []rune(" ▁▂▃▄▅▆▇█")

// WriteCurve draws a rate curve in the terminal: one bar of block
// characters per column, eight levels per row, the y axis labelled in
// req/s from 0 to a round number at or above the peak, the x axis in time
// from 0 to duration.
//
// samples are the rate at evenly spaced instants: sample i stands for
// [i·d/n, (i+1)·d/n) of the duration d. With at least as many samples as
// columns, a column shows the highest sample it covers, so a short spike
// stays visible; with fewer, a column shows the sample under its middle.
// Any positive rate shows at least one eighth. width (columns of the plot,
// 8..1000) and height (rows, 2..200) do not count the axes and labels.
func WriteCurve(w io.Writer, samples []float64, duration time.Duration, width, height int) error {
	var errs []error
	if len(samples) == 0 {
		errs = append(errs, fmt.Errorf("%w: no samples", ErrPreview))
	}
	for i, v := range samples {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			errs = append(errs, fmt.Errorf("%w: sample %d is %v, want a finite rate ≥ 0", ErrPreview, i, v))
			break
		}
	}
	if duration <= 0 {
		errs = append(errs, fmt.Errorf("%w: duration %v, want > 0", ErrPreview, duration))
	}
	if width < 8 || width > 1000 {
		errs = append(errs, fmt.Errorf("%w: width %d, want 8..1000", ErrPreview, width))
	}
	if height < 2 || height > 200 {
		errs = append(errs, fmt.Errorf("%w: height %d, want 2..200", ErrPreview, height))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}

	cols := resample(samples, width)
	peak := 0.0
	for _, v := range samples {
		peak = max(peak, v)
	}
	top := niceCeil(peak)
	levels := make([]int, width)
	for c, v := range cols {
		levels[c] = int(math.Round(v / top * float64(height*8)))
		if v > 0 && levels[c] == 0 {
			levels[c] = 1
		}
	}

	// The y labels: the top edge of every step-th row counted from the
	// axis, and 0 on the axis. The top edge of row r (0 at the top) is
	// top·(height−r)/height.
	step := labelStep(height)
	labels := make([]string, height)
	labelW := 1
	for r := range height {
		if (height-r)%step == 0 {
			labels[r] = capacity.FormatNumber(top * float64(height-r) / float64(height))
			labelW = max(labelW, utf8.RuneCountInString(labels[r]))
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "req/s (peak %s)\n", capacity.FormatNumber(peak))
	row := make([]rune, width)
	for r := range height {
		base := (height - 1 - r) * 8
		for c, l := range levels {
			row[c] = eighths[min(8, max(0, l-base))]
		}
		axis := " │"
		if labels[r] != "" {
			axis = " ┤"
		}
		b.WriteString(padLeft(labels[r], labelW) + axis + strings.TrimRight(string(row), " ") + "\n")
	}
	b.WriteString(padLeft("0", labelW) + " └" + strings.Repeat("─", width) + "\n")
	b.WriteString(strings.TrimRight(strings.Repeat(" ", labelW+2)+timeAxis(duration, width), " ") + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// resample reduces or stretches samples to width columns (see WriteCurve).
func resample(samples []float64, width int) []float64 {
	n := len(samples)
	cols := make([]float64, width)
	for c := range cols {
		if n >= width {
			for _, v := range samples[c*n/width : (c+1)*n/width] {
				cols[c] = max(cols[c], v)
			}
		} else {
			cols[c] = samples[(2*c+1)*n/(2*width)]
		}
	}
	return cols
}

// niceCeil is the smallest round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6
// or 8 times a power of ten) at or above x; 1 when x is 0.
func niceCeil(x float64) float64 {
	if x <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if m*e >= x*(1-1e-12) {
			return m * e
		}
	}
	return 10 * e
}

// labelStep is how many rows apart the y labels are: about five labels,
// at a step that divides the height when one does, so the top row is
// labelled with the round maximum.
func labelStep(height int) int {
	lo := (height + 4) / 5
	for s := lo; s <= height/2; s++ {
		if height%s == 0 {
			return s
		}
	}
	return max(1, (height+3)/4)
}

// timeAxis writes the time labels under a plot of width columns: 0 at the
// left, the duration at the right edge, and the quarters centred on their
// columns. Labels are placed in order of importance — the ends, the half,
// the quarters — and one that would touch a placed label is dropped.
func timeAxis(duration time.Duration, width int) string {
	line := []rune(strings.Repeat(" ", width))
	used := make([]bool, width+1) // columns taken, with a gap of one around each label
	for _, k := range []int{0, 4, 2, 1, 3} {
		label := []rune(shortDuration(duration * time.Duration(k) / 4))
		start := width*k/4 - len(label)/2
		switch k {
		case 0:
			start = 0
		case 4:
			start = width - len(label)
		}
		end := start + len(label)
		if start < 0 || end > width || slices.Contains(used[max(0, start-1):min(width, end+1)], true) {
			continue
		}
		copy(line[start:], label)
		for c := start; c < end; c++ {
			used[c] = true
		}
	}
	return string(line)
}

// shortDuration writes a time offset the short way: "0", "250ms", "2.5s",
// "2m30s", "6h", "1h30m".
func shortDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	}
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// ShareRow is one agent's share of a schedule in the plan's preview: its
// name, its fraction as the split writes it ("1/3"), and how many
// arrivals it owns.
type ShareRow struct {
	Agent    string
	Fraction string
	Arrivals uint64
}

// WriteShares writes each agent's share of the schedule as an aligned
// table, with the total of the arrivals on the last line.
func WriteShares(w io.Writer, shares []ShareRow) error {
	if len(shares) == 0 {
		return fmt.Errorf("%w: no shares", ErrPreview)
	}
	var total uint64
	agentW, fracW, arrW := len("agent"), len("share"), len("arrivals")
	counts := make([]string, len(shares))
	for i, s := range shares {
		if total+s.Arrivals < total {
			return fmt.Errorf("%w: the arrivals add up to more than %d", ErrPreview, uint64(math.MaxUint64))
		}
		total += s.Arrivals
		counts[i] = groupDigits(s.Arrivals)
		agentW = max(agentW, utf8.RuneCountInString(s.Agent))
		fracW = max(fracW, utf8.RuneCountInString(s.Fraction))
	}
	totalS := groupDigits(total)
	arrW = max(arrW, len(totalS))
	var b strings.Builder
	row := func(agent, frac, arrivals string) {
		b.WriteString("  " + pad(agent, agentW) + "  " + pad(frac, fracW) + "  " + padLeft(arrivals, arrW) + "\n")
	}
	row("agent", "share", "arrivals")
	for i, s := range shares {
		row(s.Agent, s.Fraction, counts[i])
	}
	row("total", "", totalS)
	_, err := io.WriteString(w, b.String())
	return err
}

// groupDigits writes n with thousands separators: 1234567 → "1,234,567".
func groupDigits(n uint64) string {
	s := strconv.FormatUint(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
