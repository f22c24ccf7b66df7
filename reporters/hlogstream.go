package reporters

import (
	"bufio"
	"fmt"
	"io"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/surgeload/surge/internal/metrics"
)

// The tags of latency.hlog's lines besides the stage's own (Tag=STAGE,
// its response times): Tag=STAGE/REQUEST for one request name's response
// times (when the stage has more than one), and Tag=STAGE:KIND for the
// stage's other histograms.
const (
	HlogService   = "service_time" // done − on the wire
	HlogSendLag   = "send_lag"     // dispatched − intended
	HlogOnWireLag = "on_wire_lag"  // on the wire − intended
)

// HlogWriter writes latency.hlog while a run plays, an interval at a time
// as the coordinator packs it (metrics.Timeline.Emit), so it holds every
// histogram the coordinator has per interval — response time per request name, service
// time, send lag and on-wire lag — without report.json having to carry
// them (report.json has each interval's response times, all requests
// merged: what WriteHlog writes from it).
//
// The header is WriteHlog's. Then, per interval of each stage, at its
// real instant (the stage's T0 plus the interval's offset), lines in this
// order, each left out when its histogram is empty:
//
//	START,LENGTH,MAX,HISTOGRAM                    response time, all requests (the untagged, whole-run line)
//	Tag=STAGE,START,LENGTH,MAX,HISTOGRAM          the same histogram, tagged with the stage
//	Tag=STAGE/REQUEST,...                         one request name's response time (stages with 2+ names)
//	Tag=STAGE:service_time,...                    service time, all requests
//	Tag=STAGE:send_lag,...                        send lag
//	Tag=STAGE:on_wire_lag,...                     on-wire lag
//	Tag=STAGE#PHASE,...                           one phase, all requests (PHASE: dns, connect, tls, write, ttfb, read)
//	Tag=STAGE/REQUEST#PHASE,...                   one phase of one request name (stages with 2+ names)
//
// Names are made valid tags as in WriteHlog (a comma, space or line break
// becomes "_"). Lines come in time order, except the rare late part of an
// interval (a snapshot that came after the interval was written), which
// follows at its own interval's instant. Nothing is kept; Flush ends the
// file.
type HlogWriter struct {
	bw   *bufio.Writer
	lw   *hdrhistogram.HistogramLogWriter
	n    int // interval lines written
	head func() error
}

// NewHlogWriter returns a writer whose header (written with the first
// interval, or by Flush) names run and scenario and has start as StartTime
// and BaseTime.
func NewHlogWriter(w io.Writer, runID, scenario string, start time.Time) *HlogWriter {
	bw := bufio.NewWriter(w)
	h := &HlogWriter{bw: bw, lw: hdrhistogram.NewHistogramLogWriter(bw)}
	startMS := start.UnixMilli()
	h.lw.SetBaseTime(startMS)
	h.head = func() error { return writeHlogHeader(h.lw, runID, scenario, startMS) }
	return h
}

// Lines is how many interval lines were written so far.
func (h *HlogWriter) Lines() int { return h.n }

// Interval writes the lines of one interval of a stage whose T0 was
// started: iv is its merged data (Index its position, of length step),
// names the request names by series. Called for a late part of an
// interval already written (see metrics.Timeline.Emit), it writes that
// part's lines, at the interval's instant again: a reader that sums lines
// gets every value once.
func (h *HlogWriter) Interval(stage string, started time.Time, step time.Duration, names []string, iv *metrics.Interval) error {
	if err := h.header(); err != nil {
		return err
	}
	tag := hlogTag(stage)
	from := started.Add(time.Duration(iv.Index) * step).UnixMilli()
	to := from + step.Milliseconds()
	all := iv.Select(-1)
	lines := []hlogLine{{"", all.Response}, {tag, all.Response}}
	if len(iv.Series) > 1 {
		for i, s := range iv.Series {
			lines = append(lines, hlogLine{tag + "/" + hlogTag(names[i]), s.Response})
		}
	}
	lines = append(lines, hlogLine{tag + ":" + HlogService, all.Service},
		hlogLine{tag + ":" + HlogSendLag, iv.SendLag}, hlogLine{tag + ":" + HlogOnWireLag, iv.OnWireLag})
	lines = appendPhaseLines(lines, tag, &all)
	if len(iv.Series) > 1 {
		for i := range iv.Series {
			lines = appendPhaseLines(lines, tag+"/"+hlogTag(names[i]), &iv.Series[i])
		}
	}
	for _, l := range lines {
		if l.h == nil || l.h.TotalCount() == 0 {
			continue
		}
		if err := h.line(l.tag, l.h, from, to); err != nil {
			return fmt.Errorf("hlog: stage %s interval %d: %w", stage, iv.Index, err)
		}
	}
	return nil
}

// appendPhaseLines appends a line per phase of s, tagged TAG#PHASE, in
// PhaseNames order (empty ones are left out when written).
func appendPhaseLines(lines []hlogLine, tag string, s *metrics.Series) []hlogLine {
	for _, name := range PhaseNames {
		h := s.TTFB
		if p, ok := metrics.ParsePhase(name); ok {
			h = s.Phases[p]
		}
		lines = append(lines, hlogLine{tag + "#" + name, h})
	}
	return lines
}

// hlogLine is one line to write: its tag ("" for none) and histogram.
type hlogLine struct {
	tag string
	h   *hdrhistogram.Histogram
}

// line writes one interval line of h (restoring its tag and times after:
// it may be the merged data's own histogram).
func (h *HlogWriter) line(tag string, hist *hdrhistogram.Histogram, from, to int64) error {
	oldTag, oldStart, oldEnd := hist.Tag(), hist.StartTimeMs(), hist.EndTimeMs()
	defer func() { hist.SetTag(oldTag); hist.SetStartTimeMs(oldStart); hist.SetEndTimeMs(oldEnd) }()
	hist.SetTag(tag)
	hist.SetStartTimeMs(from)
	hist.SetEndTimeMs(to)
	if err := h.lw.OutputIntervalHistogram(hist); err != nil {
		return err
	}
	h.n++
	return nil
}

func (h *HlogWriter) header() error {
	if h.head == nil {
		return nil
	}
	head := h.head
	h.head = nil
	return head()
}

// Flush writes the header if no stage was written and flushes what is
// buffered.
func (h *HlogWriter) Flush() error {
	if err := h.header(); err != nil {
		return err
	}
	if err := h.bw.Flush(); err != nil {
		return fmt.Errorf("hlog: %w", err)
	}
	return nil
}
