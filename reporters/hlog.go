package reporters

import (
	"bufio"
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
// read by hdrhistogram-go's HistogramLogReader, HdrHistogram's Java
// HistogramLogProcessor and HistogramLogAnalyzer.
//
// The header is a comment naming the run, the format version line,
// #[StartTime: ...] and #[BaseTime: ...] — both start (the run's start),
// in seconds since the epoch with millisecond resolution — and the legend.
// Then, for each stage × interval that has a histogram (an interval
// without responses has none and is skipped), two lines with the same
// histogram: an untagged one, the whole run at that instant (stages play
// one after the other, so it is that stage's), which tools read with
// their defaults; and one tagged with the stage ("Tag=STAGE,"; a comma,
// space or line break in a stage name becomes "_", since the format
// forbids them in tags) for tools asked for a tag:
//
//	START,LENGTH,MAX,HISTOGRAM
//	Tag=STAGE,START,LENGTH,MAX,HISTOGRAM
//
// START is seconds since BaseTime at the interval's real instant: the
// stage's T0 (Stage.Started) plus the interval's t_s. A stage without
// Started (a report from before it was recorded) is laid after the
// previous one: where that one ended, its start plus the later of its
// DurationS and the end of its last interval. LENGTH is the report's
// interval length, derived from the smallest step between consecutive t_s
// of the stage (else of any stage, else 1 s). Timestamps have millisecond
// resolution.
//
// Histogram values are nanoseconds, as recorded. MAX is the interval's
// maximum divided by 1e6, i.e. in milliseconds: the library's fixed
// max-value divisor (MsToNsRatio), which HdrHistogram's tools assume for
// ns-valued logs. Use an output value unit ratio of 1e6 with
// HistogramLogProcessor (-outputValueUnitRatio 1000000) to see ms.
//
// Every histogram is checked before anything is written, so a corrupt
// one returns an error naming its stage and interval and writes nothing;
// then each is decoded again as it is written, so the memory needed does
// not grow with the number of intervals.
func WriteHlog(w io.Writer, r *Report, start time.Time) error {
	// A line refers to its interval's histogram, decoded when written: a
	// long run's report has tens of thousands, each ~197 KB decoded.
	type line struct {
		stage, interval int
		tag             string
		start, end      int64 // ms since the epoch
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
	next := float64(startMS) / 1000 // where a stage without Started begins, in s since the epoch
	for si, s := range r.Stages {
		length := intervalLen(s.Intervals)
		if length == 0 {
			length = runLen
		}
		at := next
		if !s.Started.IsZero() {
			at = float64(s.Started.UnixMilli()) / 1000
		}
		end := s.DurationS
		for i, iv := range s.Intervals {
			if iv.TS+length > end {
				end = iv.TS + length
			}
			if iv.Histogram == "" {
				continue
			}
			// Decoded now to refuse a damaged report before writing.
			if _, err := decodeHistogram(iv.Histogram); err != nil {
				return fmt.Errorf("hlog: stage %s interval %d (t_s %g): histogram: %w", s.Name, i, iv.TS, err)
			}
			from := int64(math.Round((at + iv.TS) * 1000))
			to := from + int64(math.Round(length*1000))
			lines = append(lines, line{stage: si, interval: i, start: from, end: to},
				line{stage: si, interval: i, tag: hlogTag(s.Name), start: from, end: to})
		}
		if !(end >= 0) || math.IsInf(end, 0) {
			end = 0
		}
		next = at + end
	}

	bw := bufio.NewWriter(w)
	lw := hdrhistogram.NewHistogramLogWriter(bw)
	lw.SetBaseTime(startMS)
	if err := writeHlogHeader(lw, r.RunID, r.Scenario, startMS); err != nil {
		return err
	}
	// Keep readers' scans simple: in time order, the untagged line first.
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].start < lines[j].start })
	for _, l := range lines {
		h, err := decodeHistogram(r.Stages[l.stage].Intervals[l.interval].Histogram)
		if err != nil { // decoded once already
			return fmt.Errorf("hlog: %w", err)
		}
		h.SetTag(l.tag)
		h.SetStartTimeMs(l.start)
		h.SetEndTimeMs(l.end)
		if err := lw.OutputIntervalHistogram(h); err != nil {
			return fmt.Errorf("hlog: stage %s: %w", l.tag, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("hlog: %w", err)
	}
	return nil
}

// writeHlogHeader writes latency.hlog's header: a comment naming the run,
// the format version, StartTime and BaseTime (startMS, with millisecond
// resolution) and the legend.
func writeHlogHeader(lw *hdrhistogram.HistogramLogWriter, runID, scenario string, startMS int64) error {
	secs := fmt.Sprintf("%.3f", float64(startMS)/1000)
	for _, c := range []string{
		fmt.Sprintf("[surge run %s scenario %s: response times in ns, Interval_Max in ms]", oneLine(runID), oneLine(scenario)),
		fmt.Sprintf("[Histogram log format version %s]", hdrhistogram.HISTOGRAM_LOG_FORMAT_VERSION),
		// The library writes these two in whole seconds; its reader (like
		// Java's) takes fractions.
		fmt.Sprintf("[StartTime: %s (seconds since epoch), %s]", secs, time.UnixMilli(startMS).UTC().Format("Mon Jan 02 15:04:05 MST 2006")),
		fmt.Sprintf("[BaseTime: %s (seconds since epoch)]", secs),
	} {
		if err := lw.OutputComment(c); err != nil {
			return fmt.Errorf("hlog: %w", err)
		}
	}
	if err := lw.OutputLegend(); err != nil {
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
