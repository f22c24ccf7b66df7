package metrics

import (
	"fmt"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Series is the counters and latency histograms of one request name.
type Series struct {
	Counters
	// Response is completion − intended send time (ns): the headline latency.
	Response *hdrhistogram.Histogram
	// Service is completion − actual send time (ns), what closed-loop tools report.
	Service *hdrhistogram.Histogram
	// TTFB is first response byte − on the wire (ns): the wait for the
	// target's answer, of the requests that got one.
	TTFB *hdrhistogram.Histogram
	// Phases are the other parts of a request's time on the wire (DNS,
	// connect, TLS, write, read), allocated when first recorded.
	Phases Phases
}

// NewSeries returns an empty series of geometry g.
func NewSeries(g Geometry) Series {
	return Series{Response: g.New(), Service: g.New(), TTFB: g.New()}
}

// Merge adds o into s.
func (s *Series) Merge(o Series) error {
	s.Counters.Add(o.Counters)
	if err := Merge(s.Response, o.Response); err != nil {
		return fmt.Errorf("response time: %w", err)
	}
	if err := Merge(s.Service, o.Service); err != nil {
		return fmt.Errorf("service time: %w", err)
	}
	if err := Merge(s.TTFB, o.TTFB); err != nil {
		return fmt.Errorf("time to first byte: %w", err)
	}
	return s.Phases.Merge(&o.Phases)
}

// Reset empties s, keeping its histograms' memory.
func (s *Series) Reset() {
	s.Counters = Counters{}
	s.Response.Reset()
	s.Service.Reset()
	s.TTFB.Reset()
	s.Phases.Reset()
}

// Interval is everything one agent recorded during one reporting interval.
type Interval struct {
	// Index is the interval's position since T0 (0-based).
	Index uint32
	// Series holds one entry per request of the assignment, by index.
	Series []Series
	// SendLag is actual send − intended send (ns) over all requests: when
	// the pacer dispatched them.
	SendLag *hdrhistogram.Histogram
	// OnWireLag is on the wire − intended send (ns) over all requests
	// that completed: when a connection was in hand and the request went
	// out, so it adds the wait for a pooled connection and the dial to
	// the send lag. A request that never got a connection while it waited
	// for a pooled one counts its whole wait.
	OnWireLag *hdrhistogram.Histogram
	// InFlight is the number of requests outstanding when the interval closed.
	InFlight uint64
	// CPU is the CPU time the agent's process used during the interval
	// (set by the engine, which reads the clock; zero when unknown).
	CPU time.Duration
}

// NewInterval returns an empty interval for n requests.
func NewInterval(g Geometry, n int) *Interval {
	iv := &Interval{Series: make([]Series, n), SendLag: g.New(), OnWireLag: g.New()}
	for i := range iv.Series {
		iv.Series[i] = NewSeries(g)
	}
	return iv
}

// Totals sums the counters of every series.
func (iv *Interval) Totals() Counters {
	var c Counters
	for _, s := range iv.Series {
		c.Add(s.Counters)
	}
	return c
}

// TotalsN sums the counters of the first n series: the arrivals (the
// requests of a mix, or the journeys of a journey job), without the
// secondary series after them (journeys' steps, checks). n <= 0 or past
// the end means every series.
func (iv *Interval) TotalsN(n int) Counters {
	if n <= 0 || n > len(iv.Series) {
		return iv.Totals()
	}
	var c Counters
	for _, s := range iv.Series[:n] {
		c.Add(s.Counters)
	}
	return c
}

// Merge adds o (same number of series) into iv.
func (iv *Interval) Merge(o *Interval) error {
	if len(o.Series) != len(iv.Series) {
		return fmt.Errorf("%w: %d series merged into %d", ErrHistogram, len(o.Series), len(iv.Series))
	}
	for i := range iv.Series {
		if err := iv.Series[i].Merge(o.Series[i]); err != nil {
			return err
		}
	}
	if err := Merge(iv.SendLag, o.SendLag); err != nil {
		return fmt.Errorf("send lag: %w", err)
	}
	if err := Merge(iv.OnWireLag, o.OnWireLag); err != nil {
		return fmt.Errorf("on-wire lag: %w", err)
	}
	iv.InFlight += o.InFlight
	iv.CPU += o.CPU
	return nil
}

// Result is one finished request, as the engine observed it. Its
// durations come from the request's instants: intended (the schedule's),
// dispatched (the pacer handed it to a sender: SendLag), on the wire (a
// connection was in hand and writing began), first byte (of the
// response) and done.
type Result struct {
	Request int
	Outcome Outcome
	// Response is done − intended; Service is done − on the wire (done −
	// dispatched for a request that never got a connection).
	Response time.Duration
	Service  time.Duration
	// OnWire is on the wire − intended, when HasOnWire: the request got
	// a connection, or waited for a pooled one until it failed (then
	// done − intended: the least it was late by).
	OnWire    time.Duration
	HasOnWire bool
	// TTFB is first byte − on the wire, when HasTTFB.
	TTFB    time.Duration
	HasTTFB bool
	// Phase holds the duration of each phase Timed says was timed (see
	// Phase): DNS, connect and TLS only for the request that opened its
	// connection.
	Phase [NumPhases]time.Duration
	Timed Timed
	// NewConn is set when the request was the first on a connection
	// opened for it (counted in Counters.NewConns).
	NewConn  bool
	BytesIn  int64
	BytesOut int64
	// Truncated is set when the body was longer than the read limit.
	Truncated bool
	// ConnWait is set when the request waited for a pooled connection.
	ConnWait bool
}

// Recorder accumulates one agent's events into per-interval data and hands
// closed intervals out on Rotate. It is not safe for concurrent use.
//
// Every event carries the index of the interval it belongs to: arrivals by
// their intended instant, completions by the instant they finished. Up to
// MaxOpen intervals are open at once, from the current one on, because
// events of later intervals may be recorded before the current interval is
// rotated out (the rotation runs a little late, or much later when the
// coordinator is slow to take snapshots). Events of earlier intervals land
// in the current one; events beyond the open window land in its last
// interval.
type Recorder struct {
	geom     Geometry
	n        int
	cur      uint32
	open     [MaxOpen]*Interval // open[k] is interval cur+k, allocated on first use
	free     []*Interval
	last     *Interval // handed out by the last Rotate
	inFlight uint64
	closed   bool
}

// MaxOpen is how many intervals a Recorder keeps open at once.
const MaxOpen = 16

// NewRecorder returns a recorder for an assignment with n requests, whose
// current interval is 0.
func NewRecorder(g Geometry, n int) *Recorder {
	r := &Recorder{geom: g, n: n}
	r.open[0] = NewInterval(g, n)
	return r
}

func (r *Recorder) slot(index uint32) *Interval {
	k := 0
	if index > r.cur {
		k = int(min(index-r.cur, MaxOpen-1))
	}
	if r.open[k] == nil {
		var iv *Interval
		if l := len(r.free); l > 0 {
			iv, r.free = r.free[l-1], r.free[:l-1]
		} else {
			iv = NewInterval(r.geom, r.n)
		}
		iv.Index = r.cur + uint32(k)
		r.open[k] = iv
	}
	return r.open[k]
}

// Issued records an arrival of interval index that was sent, and its
// send lag.
func (r *Recorder) Issued(index uint32, req int, lag time.Duration) {
	if r.closed {
		return
	}
	iv := r.slot(index)
	s := &iv.Series[req]
	s.Intended++
	s.Issued++
	r.inFlight++
	r.geom.record(iv.SendLag, lag)
}

// StepIssued records a request sent on behalf of an arrival that is
// already issued (a journey's step), in interval index, with its send
// lag (from the step's intended instant). It counts as intended and
// issued in its own series, and is not in flight as an arrival:
// InFlight counts arrivals.
func (r *Recorder) StepIssued(index uint32, series int, lag time.Duration) {
	if r.closed {
		return
	}
	iv := r.slot(index)
	s := &iv.Series[series]
	s.Intended++
	s.Issued++
	r.geom.record(iv.SendLag, lag)
}

// StepFinished records the end of a request StepIssued recorded, during
// interval index, and reports whether it was recorded (not after Close).
func (r *Recorder) StepFinished(index uint32, res Result) bool {
	if r.closed {
		return false
	}
	r.inFlight++ // Finished counts one arrival less: not this one
	return r.Finished(index, res)
}

// Count records a check of a response, in its own series: intended,
// issued, and succeeded or failed with class o; its response and service
// times are the checked response's (every completion has its times, as
// on the wire).
func (r *Recorder) Count(index uint32, series int, o Outcome, response, service time.Duration) {
	if r.closed {
		return
	}
	s := &r.slot(index).Series[series]
	s.Intended++
	s.Issued++
	if o == OK {
		s.Succeeded++
	} else {
		s.Failed++
		s.Errors[o]++
	}
	if r.geom.record(s.Response, response) {
		s.OverRange++
	}
	if r.geom.record(s.Service, service) {
		s.OverRange++
	}
}

// Dropped records an arrival of interval index that was not sent.
func (r *Recorder) Dropped(index uint32, req int, cause DropCause) {
	if r.closed {
		return
	}
	s := &r.slot(index).Series[req]
	s.Intended++
	s.Dropped++
	s.DroppedBy[cause]++
}

// Finished records a request that completed during interval index and
// reports whether it was recorded. After Close it is ignored: the request
// was reported as in flight at the end.
func (r *Recorder) Finished(index uint32, res Result) bool {
	if r.closed {
		return false
	}
	iv := r.slot(index)
	s := &iv.Series[res.Request]
	if res.Outcome == OK {
		s.Succeeded++
	} else {
		s.Failed++
		s.Errors[res.Outcome]++
	}
	if r.geom.record(s.Response, res.Response) {
		s.OverRange++
	}
	if r.geom.record(s.Service, res.Service) {
		s.OverRange++
	}
	if res.HasTTFB {
		r.geom.record(s.TTFB, res.TTFB)
	}
	if res.HasOnWire {
		r.geom.record(iv.OnWireLag, res.OnWire)
	}
	if res.Timed != 0 {
		for p := range NumPhases {
			if res.Timed.Has(p) {
				s.Phases.record(r.geom, p, res.Phase[p])
			}
		}
	}
	if res.NewConn {
		s.NewConns++
	}
	if res.BytesIn > 0 {
		s.BytesIn += uint64(res.BytesIn)
	}
	if res.BytesOut > 0 {
		s.BytesOut += uint64(res.BytesOut)
	}
	if res.Truncated {
		s.BodyTruncated++
	}
	if res.ConnWait {
		s.ConnWaits++
	}
	r.inFlight--
	return true
}

// Pending reports whether an interval after the current one holds
// events: rotation ran behind the events (a starved machine), and those
// intervals should be rotated out one by one before Close, which would
// fold them into the current one.
func (r *Recorder) Pending() bool {
	for _, iv := range r.open[1:] {
		if iv != nil {
			return true
		}
	}
	return false
}

// InFlight is the number of issued requests not yet finished.
func (r *Recorder) InFlight() uint64 { return r.inFlight }

// Rotate closes the current interval and makes the next one current. The
// returned interval is valid until the following Rotate, which may reuse
// its memory; callers encode it before rotating again.
func (r *Recorder) Rotate() *Interval {
	done := r.slot(r.cur)
	done.InFlight = r.inFlight
	copy(r.open[:], r.open[1:])
	r.open[MaxOpen-1] = nil
	r.cur++
	// The interval handed out last time is free again.
	if r.last != nil {
		r.last.reset()
		r.free = append(r.free, r.last)
	}
	r.last = done
	return done
}

// Close stops recording: later events are ignored, and the number of
// requests still in flight is returned so they can be reported as in
// flight at the end. It folds the events of later open intervals into the
// current one; call Rotate after Close to collect that last interval.
func (r *Recorder) Close() (inFlightAtEnd uint64) {
	if !r.closed {
		r.closed = true
		cur := r.slot(r.cur)
		for k := 1; k < MaxOpen; k++ {
			if iv := r.open[k]; iv != nil {
				// Cannot fail: every interval has the recorder's geometry.
				_ = cur.Merge(iv)
				iv.reset()
				r.free = append(r.free, iv)
				r.open[k] = nil
			}
		}
	}
	return r.inFlight
}

func (iv *Interval) reset() {
	for i := range iv.Series {
		iv.Series[i].Reset()
	}
	iv.SendLag.Reset()
	iv.OnWireLag.Reset()
	iv.InFlight = 0
	iv.CPU = 0
}

// Select returns the series a selector picks out of iv: request i, or
// every request merged when i < 0 (the one request itself when iv has
// only one: callers only read it).
func (iv *Interval) Select(i int) Series {
	if i >= 0 {
		return iv.Series[i]
	}
	if len(iv.Series) == 1 {
		return iv.Series[0]
	}
	out := NewSeries(DefaultGeometry())
	for _, s := range iv.Series {
		_ = out.Merge(s)
	}
	return out
}
