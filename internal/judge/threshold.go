package judge

import (
	"fmt"
	"math"

	"time"

	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/reporters"
	"github.com/surgeload/surge/scenario"
)

// Threshold judges one threshold on a stage's merged data tl, which
// played for dur and lost lost arrivals: on the whole stage, or with a
// window on every window of that length (sliding by one interval; the
// whole stage when it is shorter), each of which must pass. The result
// carries the worst window's value. Windows with nothing to judge (an
// idle stretch) are skipped; when every one is empty the threshold has no
// data.
func Threshold(th scenario.Threshold, tl *metrics.Timeline, dur time.Duration, lost uint64) reporters.ThresholdResult {
	e := th.Parsed
	res := reporters.ThresholdResult{Expr: th.Expr}
	type window struct {
		data *metrics.Interval
		span time.Duration
		at   float64
	}
	var windows []window
	last, _ := tl.Last()
	w := uint32(0)
	if e.Window > 0 && tl.Step > 0 {
		w = uint32((e.Window + tl.Step - 1) / tl.Step)
	}
	if w == 0 || tl.Len() == 0 || w > last+1 {
		windows = append(windows, window{data: tl.Total, span: dur})
	} else {
		for start := uint32(0); start+w <= last+1; start++ {
			windows = append(windows, window{data: tl.Range(start, start+w), span: time.Duration(w) * tl.Step, at: (time.Duration(start) * tl.Step).Seconds()})
		}
	}
	judged := false
	res.Pass = true
	for _, win := range windows {
		l := lost
		if e.Window > 0 {
			l = 0 // lost arrivals are not placed in time
		}
		v, shown, has, err := Measure(e, win.data, LayoutOf(tl), win.span, l)
		if err != nil {
			res.Pass, res.Measured = false, err.Error()
			return res
		}
		if !has {
			if !judged {
				res.Measured = "no " + shown
			}
			continue
		}
		pass := Compare(v, e.Op, e.Value)
		if !judged || worse(e.Op, v, res.Value) || (!pass && res.Pass) {
			res.Value, res.Measured = v, shown
			if e.Window > 0 {
				at := win.at
				res.WindowAtS = &at
			}
		}
		judged = true
		res.Pass = res.Pass && pass
	}
	if !judged {
		res.Pass, res.NoData = false, true
	}
	return res
}

// Applies reports whether threshold th is judged on the stage named
// stage: it has no stage selector, or selects it.
func Applies(th scenario.Threshold, stage string) bool {
	name, ok := th.Parsed.Selectors["stage"]
	return !ok || name == stage
}

// RunWide reports whether th is judged on the whole run, all stages
// merged: it has neither a stage selector nor a window.
func RunWide(th scenario.Threshold) bool {
	_, ok := th.Parsed.Selectors["stage"]
	return !ok && th.Parsed.Window == 0
}

// Abort judges the thresholds marked abort that apply to the stage named
// stage on what it has played so far (tl, elapsed since its T0), once
// their grace has passed: a windowless one on everything so far, a
// windowed one on its last complete window. It returns the first breached
// threshold and why. Nothing to judge yet is not a breach.
func Abort(ths []scenario.Threshold, stage string, tl *metrics.Timeline, elapsed time.Duration) (expr, why string, breached bool) {
	for _, th := range ths {
		e := th.Parsed
		if !th.Abort || elapsed < th.Grace.Std() || elapsed <= 0 || !Applies(th, stage) {
			continue
		}
		data, span := tl.Total, elapsed
		if e.Window > 0 && tl.Step > 0 {
			w := uint32((e.Window + tl.Step - 1) / tl.Step)
			end := uint32(elapsed / tl.Step) // intervals before it are complete
			if end < w {
				continue // no complete window yet
			}
			data = tl.Range(end-w, end)
			span = time.Duration(w) * tl.Step
		}
		v, shown, has, err := Measure(e, data, LayoutOf(tl), span, 0)
		if err != nil || !has || Compare(v, e.Op, e.Value) {
			continue
		}
		return th.Expr, fmt.Sprintf("abort threshold %q breached at %v: %s", th.Expr, elapsed.Truncate(time.Second), shown), true
	}
	return "", "", false
}

// SLO evaluates one SLO expression (text, parsed as e) on a step's
// judged data. It returns ok, or a line saying what broke with the
// measured value. A metric without samples (no responses for a latency
// or an error rate) breaks the SLO: nothing shows the rate was sustained.
func SLO(e scenario.ThresholdExpr, text string, judged *metrics.Interval, lay Layout, span time.Duration) (string, bool) {
	v, shown, has, err := Measure(e, judged, lay, span, 0)
	switch {
	case err != nil:
		return fmt.Sprintf("%s: %v", text, err), false
	case !has:
		return text + ": no " + shown + " to judge", false
	case Compare(v, e.Op, e.Value):
		return "", true
	}
	return fmt.Sprintf("%s = %s, want %s", metricLabel(e), shown, text[len(metricPrefix(text)):]), false
}

// Step judges one step of a capacity search, played at rate for dur from
// start (since the search began), against the SLO on its data after the
// warmup, and fills its row of the step table from its report.
func Step(cfg scenario.Search, tl *metrics.Timeline, dur time.Duration, step *reporters.Stage, rate float64, start time.Duration) reporters.SearchStep {
	row := reporters.SearchStep{
		RateRPS: rate, StartS: start.Seconds(),
		Intended: step.Intended, Issued: step.Issued, Succeeded: step.Succeeded, Failed: step.Failed,
		Dropped: step.Dropped, Lost: step.Lost, InFlightAtEnd: step.InFlightAtEnd,
		GoodputRPS:       float64(step.Succeeded) / dur.Seconds(),
		GeneratorLimited: step.GeneratorLimited,
		Bottleneck:       step.Bottleneck,
	}
	if len(step.Components) > 0 {
		row.BottleneckUtilisation = step.Components[0].Utilisation
	}
	// The judged window: intervals from the warmup on, the drain included.
	from := uint32(cfg.Warmup.Std() / tl.Step)
	judged := tl.Range(from, math.MaxUint32)
	span := dur - time.Duration(from)*tl.Step
	all := judged.Select(-1)
	row.P50MS, row.P99MS, row.P999MS = ms(metrics.ValueAtPercentile(all.Response, 50)), ms(metrics.ValueAtPercentile(all.Response, 99)), ms(metrics.ValueAtPercentile(all.Response, 99.9))
	if done := all.Succeeded + all.Failed; done > 0 {
		row.ErrorRate = float64(all.Failed) / float64(done)
	}
	row.Pass = true
	for i, e := range cfg.Parsed {
		if broken, ok := SLO(e, cfg.SLO[i], judged, LayoutOf(tl), span); !ok {
			row.Pass = false
			row.Broken = append(row.Broken, broken)
		}
	}
	if row.GeneratorLimited {
		row.Pass = false
		row.Broken = append(row.Broken, "generator-limited: the step judged nothing about the target")
	}
	return row
}

func ms(ns int64) float64 { return float64(ns) / float64(time.Millisecond) }
