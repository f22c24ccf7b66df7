package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/surgeload/surge/internal/metrics"
)

// Summary is the outcome of a finished job.
type Summary struct {
	// Totals is the sum of every interval emitted.
	Totals metrics.Counters
	// Intervals is how many intervals were emitted.
	Intervals uint32
	// InFlightAtEnd is the number of issued requests that had not finished
	// when the engine stopped waiting for them.
	InFlightAtEnd uint64
	// Stopped is empty when the job played its whole share; otherwise it
	// says why it stopped early.
	Stopped string
	// CPU is the CPU time the process used while the job ran.
	CPU time.Duration
}

// processCPU is the CPU time (user + system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// EmitFunc receives each closed interval, in order. The interval is valid
// only until EmitFunc returns. An error stops the job.
type EmitFunc func(*metrics.Interval) error

// Run plays job from t0, which must carry a monotonic clock reading (any
// time.Time from time.Now or derived from one by Add). It calls emit at the
// end of every interval and once more for the last, partial interval, and
// returns when the share is played and the outstanding requests have
// finished or the drain time is over, or when ctx is done (the job then
// stops early: Summary.Stopped says why).
func (e *Engine) Run(ctx context.Context, job Job, t0 time.Time, emit EmitFunc) (Summary, error) {
	if err := job.Validate(); err != nil {
		return Summary{}, err
	}
	p, err := job.compile()
	if err != nil {
		return Summary{}, err
	}
	client, tr := e.client(job.Limits)
	defer tr.CloseIdleConnections()

	r := &runner{
		e:       e,
		job:     &job,
		plan:    p,
		t0:      t0,
		client:  client,
		rec:     metrics.NewRecorder(job.Geometry, len(job.Requests)),
		observe: e.cfg.Observe,
	}

	// reqCtx is cancelled when Run returns: outstanding requests then end
	// promptly, after the recorder was closed, so they are reported as in
	// flight at the end and never recorded twice.
	reqCtx, cancelReqs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelReqs()
	paceCtx, stopPacing := context.WithCancelCause(ctx)
	defer stopPacing(nil)

	pacerDone := make(chan struct{})
	go func() { // exits when the share is played or paceCtx is done
		defer close(pacerDone)
		r.pace(paceCtx, reqCtx)
	}()
	allDone := make(chan struct{})
	go func() { // exits when the pacer and every request goroutine have
		<-pacerDone
		r.wg.Wait()
		close(allDone)
	}()
	defer func() {
		stopPacing(nil)
		<-pacerDone
	}()

	var (
		sum   Summary
		index uint32
		drain <-chan time.Time
		timer = time.NewTimer(time.Until(t0.Add(job.Interval)))
	)
	defer timer.Stop()
	pacerDoneCh := pacerDone
	cpu := processCPU()
	emitOne := func(iv *metrics.Interval) error {
		now := processCPU()
		iv.CPU, cpu = now-cpu, now
		sum.CPU += iv.CPU
		sum.Totals.Add(iv.Totals())
		sum.Intervals++
		if err := emit(iv); err != nil {
			return fmt.Errorf("emit interval %d: %w", iv.Index, err)
		}
		return nil
	}
	for {
		select {
		case <-timer.C:
			// Close interval index only once the pacer has reached every
			// arrival intended before its end, so each arrival is counted
			// in its own interval even when the pacer runs late — unless
			// it is so late that snapshots would stall (then late arrivals
			// count in the interval in which they were sent).
			end := time.Duration(index+1) * job.Interval
			if r.next.Load() < int64(end) && time.Since(t0.Add(end)) < rotateGrace*job.Interval {
				timer.Reset(time.Millisecond)
				continue
			}
			r.mu.Lock()
			iv := r.rec.Rotate()
			r.mu.Unlock()
			// Rotate is only ever called from this goroutine, so iv stays
			// valid while it is encoded here, outside the lock.
			if err := emitOne(iv); err != nil {
				stopPacing(err)
				return sum, err
			}
			index++
			timer.Reset(time.Until(t0.Add(time.Duration(index+1) * job.Interval)))
			continue
		case <-pacerDoneCh:
			pacerDoneCh = nil
			if err := context.Cause(paceCtx); err != nil {
				sum.Stopped = stopReason(err)
				return sum, r.finish(&sum, emitOne)
			}
			drain = time.After(job.Limits.Drain)
			continue
		case <-ctx.Done():
			sum.Stopped = stopReason(context.Cause(ctx))
			// The pacer may be sending right now: let it see the stop and
			// return before the recorder closes, so every request that
			// reaches the target was counted as issued.
			stopPacing(context.Cause(ctx))
			<-pacerDone
		case <-allDone:
		case <-drain:
		}
		return sum, r.finish(&sum, emitOne)
	}
}

func stopReason(err error) string {
	if errors.Is(err, context.Canceled) {
		return "stopped"
	}
	return err.Error()
}

// finish closes the last interval and the recorder under one lock hold, so
// that every issued request is either finished in some interval or counted
// as in flight at the end.
func (r *runner) finish(sum *Summary, emit func(*metrics.Interval) error) error {
	r.mu.Lock()
	sum.InFlightAtEnd = r.rec.Close()
	iv := r.rec.Rotate()
	r.mu.Unlock()
	return emit(iv)
}

type runner struct {
	e       *Engine
	job     *Job
	t0      time.Time
	client  *http.Client
	plan    *plan
	observe func(metrics.Result)

	// next is the offset from T0 of the arrival the pacer is on (waiting
	// for or sending); every arrival before it has been counted. MaxInt64
	// once the pacer is done.
	next atomic.Int64

	mu  sync.Mutex
	rec *metrics.Recorder
	wg  sync.WaitGroup
}

// rotateGrace bounds, in intervals, how long closing an interval waits for
// a late pacer.
const rotateGrace = metrics.MaxOpen / 4

// pace walks the agent's share of the schedule and sends every arrival at
// its intended instant. Deadlines come from the global index and T0, never
// from summed sleeps. After any wake-up it sends everything already due.
func (r *runner) pace(ctx, reqCtx context.Context) {
	it := r.job.Share.Iter(r.job.First, r.job.End)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	maxInFlight := uint64(r.job.Limits.MaxInFlight)
	defer r.next.Store(math.MaxInt64)
	for i, ok := it.Next(); ok; i, ok = it.Next() {
		at := r.job.Schedule.At(i)
		r.next.Store(int64(at))
		intended := r.t0.Add(at)
		if wait := time.Until(intended); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		} else if ctx.Err() != nil {
			return
		}
		req := r.plan.pick(i)
		slot := r.slot(at)
		now := time.Now()
		r.mu.Lock()
		if r.rec.InFlight() >= maxInFlight {
			r.rec.Dropped(slot, req, metrics.InFlightCap)
			r.mu.Unlock()
			continue
		}
		r.rec.Issued(slot, req, now.Sub(intended))
		r.mu.Unlock()
		r.wg.Add(1)
		go r.send(reqCtx, i, req, intended, now)
	}
}

// slot is the index of the interval holding offset d from T0.
func (r *runner) slot(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	return uint32(min(d/r.job.Interval, 1<<31))
}

// send performs the request of arrival i and records its result. It exits
// when the response body is read, or at its timeout, or when reqCtx is
// cancelled.
func (r *runner) send(ctx context.Context, i uint64, req int, intended, sent time.Time) {
	defer r.wg.Done()
	c := &r.plan.reqs[req]
	timeout := c.timeout
	if timeout == 0 {
		timeout = r.job.Limits.Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	res := metrics.Result{Request: req}
	// The trace marks when the request got its connection (the actual
	// send: service time starts there, so waiting for a pooled connection
	// shows in response time only) and when the first response byte came
	// (which phase a timeout hit).
	var ph phases
	hreq, err := r.build(httptrace.WithClientTrace(ctx, ph.trace()), c, i)
	if err != nil {
		res.Outcome = metrics.Other
	} else {
		res.BytesOut = hreq.ContentLength
		var resp *http.Response
		resp, err = r.client.Do(hreq)
		if err == nil {
			res.BytesIn, res.Truncated, err = readBody(resp.Body, r.job.Limits.MaxBodyBytes)
			resp.Body.Close()
		}
		res.Outcome = classify(c, resp, err)
		if res.Outcome == metrics.Timeout {
			res.Outcome = ph.timeoutClass()
		}
	}
	done := time.Now()
	res.Response = done.Sub(intended)
	start := sent
	if t := ph.connAt(); !t.IsZero() {
		start = t
	}
	res.Service = done.Sub(start)

	slot := r.slot(done.Sub(r.t0))
	r.mu.Lock()
	if r.rec.Finished(slot, res) && r.observe != nil {
		r.observe(res)
	}
	r.mu.Unlock()
}

// build renders the request of arrival i.
func (r *runner) build(ctx context.Context, c *compiled, i uint64) (*http.Request, error) {
	u := c.staticURL
	if u == "" {
		u = string(c.url.Append(nil, c.seed, i, r.job.Data))
	}
	var body io.Reader
	var n int64
	switch {
	case c.body != nil:
		b := c.body.Append(nil, c.seed, i, r.job.Data)
		body, n = bytes.NewReader(b), int64(len(b))
	case len(c.staticBody) > 0:
		body, n = bytes.NewReader(c.staticBody), int64(len(c.staticBody))
	}
	hreq, err := http.NewRequestWithContext(ctx, c.method, u, body)
	if err != nil {
		return nil, err
	}
	hreq.ContentLength = n
	for k, v := range c.header {
		hreq.Header[k] = v
	}
	for _, h := range c.headerTmpl {
		hreq.Header.Add(h.name, string(h.tmpl.Append(nil, c.seed, i, r.job.Data)))
	}
	if h := hreq.Header.Get("Host"); h != "" {
		hreq.Host = h
	}
	return hreq, nil
}

// readBody reads at most limit bytes of body and discards them.
func readBody(body io.Reader, limit int64) (n int64, truncated bool, err error) {
	n, err = io.Copy(io.Discard, io.LimitReader(body, limit+1))
	if n > limit {
		return limit, true, nil
	}
	return n, false, err
}

// classify maps a response or transport error to an outcome class.
func classify(c *compiled, resp *http.Response, err error) metrics.Outcome {
	if err != nil {
		return classifyErr(err)
	}
	switch {
	case c.success(resp.StatusCode):
		return metrics.OK
	case len(c.expect) > 0 && resp.StatusCode >= 200 && resp.StatusCode < 400:
		return metrics.UnexpectedStatus
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		return metrics.HTTP4xx
	case resp.StatusCode >= 500 && resp.StatusCode < 600:
		return metrics.HTTP5xx
	default:
		return metrics.Other
	}
}

func classifyErr(err error) metrics.Outcome {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return metrics.Timeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return metrics.ConnRefused
	case isDialError(err):
		return metrics.DialError
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return metrics.ConnReset
	default:
		return metrics.Other
	}
}

// phases records, from httptrace callbacks (which may run on transport
// goroutines), how far a request got.
type phases struct {
	conn      atomic.Int64 // unix ns when the connection was ready; 0 = not yet
	firstByte atomic.Bool
}

func (p *phases) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GotConn:              func(httptrace.GotConnInfo) { p.conn.Store(time.Now().UnixNano()) },
		GotFirstResponseByte: func() { p.firstByte.Store(true) },
	}
}

// connAt is when the request got its connection, with a monotonic reading
// relative to now, or zero.
func (p *phases) connAt() time.Time {
	ns := p.conn.Load()
	if ns == 0 {
		return time.Time{}
	}
	now := time.Now()
	return now.Add(-time.Duration(now.UnixNano() - ns))
}

// timeoutClass says which phase a timeout hit.
func (p *phases) timeoutClass() metrics.Outcome {
	switch {
	case p.conn.Load() == 0:
		return metrics.TimeoutConnect
	case !p.firstByte.Load():
		return metrics.TimeoutFirstByte
	default:
		return metrics.Timeout
	}
}

// isDialError reports a failure to make a connection at all (other than a
// refusal or a timeout): a disallowed address, no free local port, an
// unreachable network, a name that does not resolve.
func isDialError(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &dns) || (errors.As(err, &op) && op.Op == "dial") || errors.Is(err, ErrTargetNotAllowed)
}
