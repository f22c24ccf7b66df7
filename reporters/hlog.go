package reporters

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// WriteHlog writes latency.hlog: the run's per-interval response-time
// histograms in the HdrHistogram interval log format (version 1.3), as
// written by hdrhistogram-go's HistogramLogWriter and read by its
// HistogramLogReader, HdrHistogram's Java HistogramLogProcessor and
// HistogramLogAnalyzer.
//
// The header is a comment naming the run, the format version line,
// #[StartTime: ...] and #[BaseTime: ...] (both start truncated to the
// whole second, the resolution the library writes them at), and the legend.
// Then there is one line per stage × interval that has a histogram (an
// interval without responses has none and is skipped), tagged with the
// stage ("Tag=STAGE,"; a comma, space or line break in a stage name
// becomes "_", since the format forbids them in tags):
//
//	Tag=STAGE,START,LENGTH,MAX,HISTOGRAM
//
// START is seconds since BaseTime. Stages are laid end to end in report
// order: a stage starts where the previous one ended, which is its start
// plus the later of its DurationS and the end of its last interval (a
// stage's intervals may run past its schedule while the last responses
// drain); the real gaps between stages (setup, warmup) are not in the
// report and so not in the log. Within a stage START is that offset plus
// the interval's t_s. LENGTH is the report's interval length, derived
// from the smallest step between consecutive t_s of the stage (else of
// any stage, else 1 s). Timestamps have millisecond resolution.
//
// Histogram values are nanoseconds, as recorded. MAX is the interval's
// maximum divided by 1e6, i.e. in milliseconds: the library's fixed
// max-value divisor (MsToNsRatio), which HdrHistogram's tools assume for
// ns-valued logs. Use an output value unit ratio of 1e6 with
// HistogramLogProcessor (-outputValueUnitRatio 1000000) to see ms.
//
// Every histogram is decoded before anything is written, so a corrupt
// one returns an error naming its stage and interval and writes nothing.
func WriteHlog(w io.Writer, r *Report, start time.Time) error {
	type line struct {
		h          *hdrhistogram.Histogram
		start, end int64 // ms since the epoch
	}
	runLen := 0.0
	for _, s := range r.Stages {
		if l := intervalLen(s.Intervals); l > 0 && (runLen == 0 || l < runLen) {
			runLen = l
		}
	}
	if runLen == 0 {
		runLen = 1
	}
	startMS := start.UnixMilli()
	var lines []line
	offset := 0.0
	for _, s := range r.Stages {
		length := intervalLen(s.Intervals)
		if length == 0 {
			length = runLen
		}
		end := s.DurationS
		for i, iv := range s.Intervals {
			if iv.TS+length > end {
				end = iv.TS + length
			}
			if iv.Histogram == "" {
				continue
			}
			h, err := decodeHistogram(iv.Histogram)
			if err != nil {
				return fmt.Errorf("hlog: stage %s interval %d (t_s %g): histogram: %w", s.Name, i, iv.TS, err)
			}
			h.SetTag(hlogTag(s.Name))
			at := startMS + int64(math.Round((offset+iv.TS)*1000))
			lines = append(lines, line{h: h, start: at, end: at + int64(math.Round(length*1000))})
		}
		if !(end >= 0) || math.IsInf(end, 0) {
			end = 0
		}
		offset += end
	}

	var b bytes.Buffer
	lw := hdrhistogram.NewHistogramLogWriter(&b)
	base := start.Unix() * 1000
	lw.SetBaseTime(base)
	if err := lw.OutputComment(fmt.Sprintf("[surge run %s scenario %s: response times in ns, Interval_Max in ms]", oneLine(r.RunID), oneLine(r.Scenario))); err != nil {
		return fmt.Errorf("hlog: %w", err)
	}
	if err := lw.OutputLogFormatVersion(); err != nil {
		return fmt.Errorf("hlog: %w", err)
	}
	if err := lw.OutputStartTime(base); err != nil {
		return fmt.Errorf("hlog: %w", err)
	}
	if err := lw.OutputBaseTime(base); err != nil {
		return fmt.Errorf("hlog: %w", err)
	}
	if err := lw.OutputLegend(); err != nil {
		return fmt.Errorf("hlog: %w", err)
	}
	// Stages are in order and so are their intervals; sort anyway so a
	// report with unordered t_s still gives a log readers can scan.
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].start < lines[j].start })
	for _, l := range lines {
		l.h.SetStartTimeMs(l.start)
		l.h.SetEndTimeMs(l.end)
		if err := lw.OutputIntervalHistogram(l.h); err != nil {
			return fmt.Errorf("hlog: stage %s: %w", l.h.Tag(), err)
		}
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("hlog: %w", err)
	}
	return nil
}

// intervalLen is the smallest positive step between consecutive interval
// starts, in seconds, or 0 with fewer than two intervals.
func intervalLen(ivs []Interval) float64 {
	l := 0.0
	for i := 1; i < len(ivs); i++ {
		if d := ivs[i].TS - ivs[i-1].TS; d > 0 && (l == 0 || d < l) {
			l = d
		}
	}
	return l
}

// hlogTag makes a stage name a valid interval log tag: no commas, spaces
// or line breaks (and never empty, which would mean untagged).
func hlogTag(name string) string {
	t := strings.Map(func(r rune) rune {
		switch r {
		case ',', ' ', '\t', '\r', '\n':
			return '_'
		}
		return r
	}, name)
	if t == "" {
		return "_"
	}
	return t
}

// oneLine keeps a value from breaking a comment line.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}
