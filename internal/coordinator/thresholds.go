package coordinator

import (
	"fmt"
	"time"

	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/reporters"
	"github.com/surgeload/surge/scenario"
)

// judgeThresholds judges every scenario threshold that applies to the
// stage sr played (those without a stage selector, and those selecting
// it) on its merged data, and puts the results in st.
func (r *run) judgeThresholds(st *reporters.Stage, sr *stageRun) {
	r.addToRun(sr, st.Lost)
	for _, th := range r.sc.Thresholds {
		if name, ok := th.Parsed.Selectors["stage"]; ok && name != sr.name {
			continue
		}
		res := judgeThreshold(th, sr, st.Lost)
		if !res.Pass {
			switch {
			case res.NoData:
				r.warn("stage %s: threshold %q had nothing to judge (%s): the run is invalid", sr.name, th.Expr, res.Measured)
			default:
				r.warn("stage %s: threshold %q failed: %s", sr.name, th.Expr, res.Measured)
			}
		}
		st.Thresholds = append(st.Thresholds, res)
	}
}

// judgeThreshold judges one threshold on a stage: on the whole stage, or
// with a window on every window of that length (sliding by one interval;
// the whole stage when it is shorter), each of which must pass. The
// result carries the worst window's value. Windows with nothing to judge
// (an idle stretch) are skipped; when every one is empty the threshold has
// no data.
func judgeThreshold(th scenario.Threshold, sr *stageRun, lost uint64) reporters.ThresholdResult {
	e := th.Parsed
	res := reporters.ThresholdResult{Expr: th.Expr}
	type window struct {
		data *metrics.Interval
		span time.Duration
		at   float64
	}
	var windows []window
	var last uint32
	for idx := range sr.intervals {
		last = max(last, idx)
	}
	w := uint32(0)
	if e.Window > 0 && sr.interval > 0 {
		w = uint32((e.Window + sr.interval - 1) / sr.interval)
	}
	if w == 0 || len(sr.intervals) == 0 || w > last+1 {
		windows = append(windows, window{data: sr.total, span: sr.dur})
	} else {
		for start := uint32(0); start+w <= last+1; start++ {
			windows = append(windows, window{data: sr.merged(start, start+w), span: time.Duration(w) * sr.interval, at: (time.Duration(start) * sr.interval).Seconds()})
		}
	}
	judged := false
	res.Pass = true
	for _, win := range windows {
		l := lost
		if e.Window > 0 {
			l = 0 // lost arrivals are not placed in time
		}
		v, shown, has, err := measure(e, win.data, sr, win.span, l)
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
		pass := compare(v, e.Op, e.Value)
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

// worse reports whether v is further from passing op than was.
func worse(op string, v, was float64) bool {
	switch op {
	case "<", "<=":
		return v > was
	case ">", ">=":
		return v < was
	}
	return false
}

// abortCheck judges the thresholds marked abort on what stage sr has
// played so far, once their grace has passed: a windowless one on
// everything so far, a windowed one on its last complete window. It
// returns the first breached threshold and why. Nothing to judge yet is
// not a breach.
func (r *run) abortCheck(sr *stageRun, t0 time.Time) (expr, why string, breached bool) {
	if sr.step {
		return "", "", false
	}
	elapsed := time.Since(t0)
	for _, th := range r.sc.Thresholds {
		e := th.Parsed
		if !th.Abort || elapsed < th.Grace.Std() || elapsed <= 0 {
			continue
		}
		if name, ok := e.Selectors["stage"]; ok && name != sr.name {
			continue
		}
		data, span := sr.total, elapsed
		if e.Window > 0 && sr.interval > 0 {
			w := uint32((e.Window + sr.interval - 1) / sr.interval)
			end := uint32(elapsed / sr.interval) // intervals before it are complete
			if end < w {
				continue // no complete window yet
			}
			data = sr.merged(end-w, end)
			span = time.Duration(w) * sr.interval
		}
		v, shown, has, err := measure(e, data, sr, span, 0)
		if err != nil || !has || compare(v, e.Op, e.Value) {
			continue
		}
		return th.Expr, fmt.Sprintf("abort threshold %q breached at %v: %s", th.Expr, elapsed.Truncate(time.Second), shown), true
	}
	return "", "", false
}

// addToRun merges a judged stage's data into the whole run's, which the
// run-wide thresholds are judged on.
func (r *run) addToRun(sr *stageRun, lost uint64) {
	if r.whole == nil {
		r.whole = &stageRun{name: "run", reqs: sr.reqs, geom: sr.geom, total: metrics.NewInterval(sr.geom, len(sr.reqs))}
	}
	if err := r.whole.total.Merge(sr.total); err != nil {
		r.warn("run-wide thresholds: %v", err)
		return
	}
	r.whole.dur += sr.dur
	r.wholeLost += lost
}

// judgeRun judges the thresholds without a stage selector or a window on
// the whole run, all stages merged, into the report's Thresholds.
func (r *run) judgeRun() {
	if r.whole == nil || len(r.report.Stages) < 2 {
		return // one stage: its own results say it all
	}
	for _, th := range r.sc.Thresholds {
		if _, ok := th.Parsed.Selectors["stage"]; ok || th.Parsed.Window > 0 {
			continue
		}
		res := judgeThreshold(th, r.whole, r.wholeLost)
		if !res.Pass && !res.NoData {
			r.warn("run: threshold %q failed over all stages: %s", th.Expr, res.Measured)
		}
		r.report.Thresholds = append(r.report.Thresholds, res)
	}
}

// merged is the stage's intervals with indexes in [from, end) merged into
// one. They have the stage's geometry (each was merged into sr.total
// already), so merging cannot fail.
func (sr *stageRun) merged(from, end uint32) *metrics.Interval {
	out := metrics.NewInterval(sr.geom, len(sr.reqs))
	for idx, iv := range sr.intervals {
		if idx >= from && idx < end {
			_ = out.Merge(iv)
		}
	}
	return out
}
