package report

import (
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/reporters"
)

// Played is what a stage report needs beside the merged data: what was
// scheduled and how the stage ended.
type Played struct {
	// Name and Target name the stage (a search step's name has its rate).
	Name, Target string
	// Intended is the arrivals of the schedule played; Duration its
	// scheduled length.
	Intended uint64
	Duration time.Duration
	// Lost is the arrivals owned by lost agents and never reached; LostAt
	// places them in the intervals they were due in. InFlight is the
	// requests issued without a reported completion at the end.
	Lost, InFlight uint64
	LostAt         map[uint32]uint64
	// CPUShare divides reported CPU: embedded agents share one process and
	// each reports it, so their sum counts it that many times. 0 means 1.
	CPUShare int
	// Stopped says why the stage stopped early; empty when it did not.
	Stopped string
}

// Stage turns a stage's merged data into its report: the counts, the
// percentiles of every request merged and of each, error classes, drop
// causes and one entry per interval from the first to the last with data
// (or lost arrivals).
func Stage(tl *metrics.Timeline, p Played) (reporters.Stage, error) {
	t := tl.Total.TotalsN(tl.Arrivals)
	resp, svc, ttfb := tl.Geometry.New(), tl.Geometry.New(), tl.Geometry.New()
	var all metrics.Series // the requests' phases merged
	for k, s := range tl.Total.Series {
		if !isRequest(tl, k) {
			continue
		}
		if err := metrics.Merge(resp, s.Response); err != nil {
			return reporters.Stage{}, err
		}
		if err := metrics.Merge(svc, s.Service); err != nil {
			return reporters.Stage{}, err
		}
		if err := metrics.Merge(ttfb, s.TTFB); err != nil {
			return reporters.Stage{}, err
		}
		if err := all.Phases.Merge(&s.Phases); err != nil {
			return reporters.Stage{}, err
		}
		all.NewConns += s.NewConns
	}
	all.TTFB = ttfb
	enc, err := metrics.EncodeHistogram(resp)
	if err != nil {
		return reporters.Stage{}, err
	}
	dur := p.Duration.Seconds()
	st := reporters.Stage{
		Name: p.Name, Target: p.Target,
		Intended: p.Intended, Issued: t.Issued, Succeeded: t.Succeeded, Failed: t.Failed,
		Dropped: t.Dropped, Lost: p.Lost, InFlightAtEnd: p.InFlight,
		DurationS:      dur,
		IntendedRPS:    float64(p.Intended) / dur,
		AchievedRPS:    float64(t.Issued) / dur,
		ResponseTimeMS: Percentiles(resp),
		ServiceTimeMS:  Percentiles(svc),
		SendLagMS:      Percentiles(tl.Total.SendLag),
		OnWireLagMS:    Percentiles(tl.Total.OnWireLag),
		TTFBMS:         Percentiles(ttfb),
		Phases:         PhasesOf(&all),
		Errors:         Errors(t),
		BytesIn:        t.BytesIn,
		BodyTruncated:  t.BodyTruncated,
		ConnWaits:      t.ConnWaits,
		OverRange:      t.OverRange,
		Histogram:      string(enc),
		Stopped:        p.Stopped,
	}
	for c, n := range t.DroppedBy {
		if n > 0 {
			if st.DroppedBy == nil {
				st.DroppedBy = map[string]uint64{}
			}
			st.DroppedBy[metrics.DropCause(c).String()] = n
		}
	}
	for k, s := range tl.Total.Series {
		rq := reporters.Request{
			Name: tl.Names[k], Issued: s.Issued, Succeeded: s.Succeeded, Failed: s.Failed, Dropped: s.Dropped,
			Errors: Errors(s.Counters), ResponseTimeMS: Percentiles(s.Response),
			ServiceTimeMS: Percentiles(s.Service), TTFBMS: Percentiles(s.TTFB),
			Phases: PhasesOf(&s),
		}
		if kind := kindOf(tl, k); kind != metrics.KindRequest {
			rq.Kind = kind.String()
			rq.InFlightAtEnd = s.Issued - min(s.Issued, s.Succeeded+s.Failed)
			if kind == metrics.KindCheck {
				rq.ResponseTimeMS, rq.ServiceTimeMS, rq.TTFBMS = reporters.Percentiles{}, reporters.Percentiles{}, reporters.Percentiles{}
				rq.Phases = reporters.Phases{}
			}
			if kind == metrics.KindJourney {
				// A journey's time is its duration, from the arrival's
				// intended instant to its last step's end.
				rq.ServiceTimeMS, rq.TTFBMS = reporters.Percentiles{}, reporters.Percentiles{}
				rq.Phases = reporters.Phases{} // its steps have them
			}
		}
		st.Requests = append(st.Requests, rq)
	}
	st.Intervals, err = intervals(tl, p)
	return st, err
}

// intervals is the stage's time series: one entry per interval from 0 to
// the last with data or lost arrivals.
func intervals(tl *metrics.Timeline, p Played) ([]reporters.Interval, error) {
	last, ok := tl.Last()
	for idx := range p.LostAt {
		last, ok = max(last, idx), true
	}
	if !ok {
		return nil, nil
	}
	share := time.Duration(max(p.CPUShare, 1))
	var out []reporters.Interval
	for idx := uint32(0); idx <= last; idx++ {
		iv := reporters.Interval{TS: float64(idx) * float64(tl.Step) / 1e9, Lost: p.LostAt[idx]}
		if m, ok := tl.At(idx); ok {
			merged, err := fillInterval(&iv, tl, m)
			if err != nil {
				return nil, err
			}
			// One request: the timeline's own encoding, which a packed
			// interval shares with the report instead of copying. Several:
			// the merge fillInterval made, encoded once.
			switch {
			case len(m.Series) == 1:
				iv.Histogram, err = tl.ResponseEncoding(idx)
			case merged.TotalCount() > 0:
				var b []byte
				b, err = metrics.EncodeHistogram(merged)
				iv.Histogram = string(b)
			}
			if err != nil {
				return nil, err
			}
			iv.CPUS = (m.CPU / share).Seconds()
		}
		// Intended is every arrival due in the interval, as the stage's:
		// the lost ones (never reached, so no agent counted them) too.
		iv.Intended += iv.Lost
		out = append(out, iv)
	}
	return out, nil
}

// fillInterval fills one interval's counts and percentiles from its
// merged data m, and returns its response times, every request merged.
func fillInterval(iv *reporters.Interval, tl *metrics.Timeline, m *metrics.Interval) (merged *hdrhistogram.Histogram, err error) {
	tt := m.TotalsN(tl.Arrivals)
	h := tl.Geometry.New()
	for k, s := range m.Series {
		if !isRequest(tl, k) {
			continue
		}
		if err := metrics.Merge(h, s.Response); err != nil {
			return nil, err
		}
		if s.Intended+s.Issued+s.Succeeded+s.Failed+s.Dropped > 0 {
			iv.Requests = append(iv.Requests, reporters.IntervalRequest{
				Name: tl.Names[k], Intended: s.Intended, Issued: s.Issued, Succeeded: s.Succeeded, Failed: s.Failed,
				Dropped: s.Dropped, P50MS: ms(metrics.ValueAtPercentile(s.Response, 50)), P75MS: ms(metrics.ValueAtPercentile(s.Response, 75)),
				P95MS: ms(metrics.ValueAtPercentile(s.Response, 95)), P99MS: ms(metrics.ValueAtPercentile(s.Response, 99)),
			})
		}
	}
	iv.Intended, iv.Issued, iv.Succeeded, iv.Failed, iv.Dropped = tt.Intended, tt.Issued, tt.Succeeded, tt.Failed, tt.Dropped
	iv.P50MS, iv.P75MS = ms(metrics.ValueAtPercentile(h, 50)), ms(metrics.ValueAtPercentile(h, 75))
	iv.P95MS, iv.P99MS = ms(metrics.ValueAtPercentile(h, 95)), ms(metrics.ValueAtPercentile(h, 99))
	iv.P90MS, iv.P999MS = ms(metrics.ValueAtPercentile(h, 90)), ms(metrics.ValueAtPercentile(h, 99.9))
	if h.TotalCount() > 0 {
		iv.MaxMS = ms(h.Max())
	}
	if tt.Failed > 0 {
		iv.Errors = Errors(tt)
	}
	iv.InFlight, iv.SendLagP99MS = m.InFlight, ms(metrics.ValueAtPercentile(m.SendLag, 99))
	iv.OnWireLagP99MS = ms(metrics.ValueAtPercentile(m.OnWireLag, 99))
	return h, nil
}

// Percentiles summarises a merged histogram in milliseconds.
// PhasesOf summarises s's phases, its time to first byte among them; the
// zero Phases (left out of the report) when s has none (a check's series,
// or data from an agent that did not time them).
func PhasesOf(s *metrics.Series) reporters.Phases {
	var p reporters.Phases
	any := s.NewConns > 0
	for ph := range metrics.NumPhases {
		if h := s.Phases.Get(ph); h != nil {
			p.Set(ph.String(), Percentiles(h))
			any = true
		}
	}
	if !any {
		return reporters.Phases{}
	}
	if s.TTFB != nil {
		p.TTFBMS = Percentiles(s.TTFB)
	}
	p.NewConns = s.NewConns
	return p
}

// Percentiles summarises h in the report's form (zero when h is empty).
func Percentiles(h *hdrhistogram.Histogram) reporters.Percentiles {
	if h.TotalCount() == 0 {
		return reporters.Percentiles{}
	}
	return reporters.Percentiles{
		P50:  ms(metrics.ValueAtPercentile(h, 50)),
		P75:  ms(metrics.ValueAtPercentile(h, 75)),
		P90:  ms(metrics.ValueAtPercentile(h, 90)),
		P95:  ms(metrics.ValueAtPercentile(h, 95)),
		P99:  ms(metrics.ValueAtPercentile(h, 99)),
		P999: ms(metrics.ValueAtPercentile(h, 99.9)),
		Max:  ms(h.Max()),
		Mean: h.Mean() / 1e6,
	}
}

func ms(ns int64) float64 { return float64(ns) / float64(time.Millisecond) }

// Errors lists failures by class; it is never nil so report.json always
// carries an "errors" object.
func Errors(c metrics.Counters) map[string]uint64 {
	m := map[string]uint64{}
	for o, n := range c.Errors {
		if n > 0 {
			m[metrics.Outcome(o).String()] = n
		}
	}
	return m
}

// kindOf is series k's kind (a request of the mix when the timeline says
// nothing).
func kindOf(tl *metrics.Timeline, k int) metrics.Kind {
	if k < len(tl.Kinds) {
		return tl.Kinds[k]
	}
	return metrics.KindRequest
}

// isRequest reports whether series k times requests (of the mix, or a
// journey's steps): the stage's response times are theirs, not the
// journeys' durations or the checks'.
func isRequest(tl *metrics.Timeline, k int) bool {
	kind := kindOf(tl, k)
	return kind == metrics.KindRequest || kind == metrics.KindStep
}
