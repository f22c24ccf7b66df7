package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/surgeload/surge/internal/extract"
	"github.com/surgeload/surge/internal/metrics"
)

// Summary is the outcome of a finished job.
type Summary struct {
	// Totals is the sum of every interval emitted, over its arrivals'
	// series (Job.Series): the requests of a mix, or the journeys.
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
	r := &runner{
		e:       e,
		job:     &job,
		plan:    p,
		t0:      t0,
		observe: e.cfg.Observe,
		quit:    make(chan struct{}),
	}
	// Journeys waiting for their next step's instant end with the run.
	defer close(r.quit)
	r.shards = []*shard{newShard(&job)}
	if r.tp, err = e.newTransport(r); err != nil {
		return Summary{}, err
	}
	if err := r.newSenders(); err != nil {
		r.tp.close()
		return Summary{}, err
	}
	// Closing the transport ends outstanding requests promptly once Run
	// returns (the recorder is closed by then, so they are reported as in
	// flight at the end and never recorded twice).
	defer r.tp.close()

	paceCtx, stopPacing := context.WithCancelCause(ctx)
	defer stopPacing(nil)

	pacerDone := make(chan struct{})
	r.stopPacing = stopPacing
	go func() { // exits when the share is played or paceCtx is done
		defer close(pacerDone)
		if len(r.senders) > 0 {
			r.paceLoops(paceCtx)
			return
		}
		r.pace(paceCtx)
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
	_, _, arrivals := job.Series()
	emitOne := func(iv *metrics.Interval) error {
		now := processCPU()
		iv.CPU, cpu = now-cpu, now
		sum.CPU += iv.CPU
		sum.Totals.Add(iv.TotalsN(arrivals))
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
			if r.progress() < int64(end) && time.Since(t0.Add(end)) < rotateGrace*job.Interval {
				timer.Reset(time.Millisecond)
				continue
			}
			// Rotation is only ever done from this goroutine, so iv stays
			// valid while it is encoded here, outside the locks.
			iv := r.rotate()
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

// finish emits the intervals still open, each as itself and in order (when
// rotation ran behind, the pacer and the completions may have filled
// several), then closes the last one and the recorder under one lock hold,
// so that every issued request is either finished in some interval or
// counted as in flight at the end.
func (r *runner) finish(sum *Summary, emit func(*metrics.Interval) error) error {
	for r.pending() {
		// Rotation is only done from this goroutine: iv stays valid while
		// it is encoded.
		if err := emit(r.rotate()); err != nil {
			return err
		}
	}
	var iv *metrics.Interval
	for k, sh := range r.shards {
		sh.mu.Lock()
		sum.InFlightAtEnd += sh.rec.Close()
		x := sh.rec.Rotate()
		sh.mu.Unlock()
		if k == 0 {
			iv = x
		} else {
			_ = iv.Merge(x) // cannot fail: one geometry, one request mix
		}
	}
	return emit(iv)
}

// shard is a part of a run's recorder, with its lock. Each sender loop
// records into its own shard, so that requests recorded on different
// processors never contend for one lock; rotation merges the shards.
type shard struct {
	mu  sync.Mutex
	rec *metrics.Recorder
}

func newShard(j *Job) *shard {
	return &shard{rec: metrics.NewRecorder(j.Geometry, j.seriesCount())}
}

// rotate closes the current interval of every shard and returns their
// merge, valid until the next rotate.
func (r *runner) rotate() *metrics.Interval {
	var iv *metrics.Interval
	for k, sh := range r.shards {
		sh.mu.Lock()
		x := sh.rec.Rotate()
		sh.mu.Unlock()
		if k == 0 {
			iv = x
		} else {
			_ = iv.Merge(x) // cannot fail: one geometry, one request mix
		}
	}
	return iv
}

// pending reports whether a shard holds events of an interval after the
// current one (see metrics.Recorder.Pending).
func (r *runner) pending() bool {
	for _, sh := range r.shards {
		sh.mu.Lock()
		p := sh.rec.Pending()
		sh.mu.Unlock()
		if p {
			return true
		}
	}
	return false
}

// progress is the offset from T0 of the earliest arrival a pacer is on:
// every arrival before it has been counted.
func (r *runner) progress() int64 {
	if len(r.senders) == 0 {
		return r.next.Load()
	}
	p := int64(math.MaxInt64)
	for _, s := range r.senders {
		p = min(p, s.next.Load())
	}
	return p
}

// admit takes a place for one more request under Limits.MaxInFlight, or
// reports that the cap is reached.
func (r *runner) admit() bool {
	limit := int64(r.job.Limits.MaxInFlight)
	for {
		n := r.inFlight.Load()
		if n >= limit {
			return false
		}
		if r.inFlight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

type runner struct {
	e       *Engine
	job     *Job
	t0      time.Time
	tp      transport
	plan    *plan
	observe func(metrics.Result)
	// stopPacing ends pacing with a cause (the job's Gate refused).
	stopPacing context.CancelCauseFunc

	// next is the offset from T0 of the arrival the pacer is on (waiting
	// for or sending); every arrival before it has been counted. MaxInt64
	// once the pacer is done. (Sender loops keep their own.)
	next atomic.Int64

	// shards hold the recorder; shards[0] serves the pacer of pace and
	// the requests sent on their own goroutine.
	shards []*shard
	// senders are the event loops that pace and send, when the job can
	// use them (none: pace and a goroutine per request).
	senders []*sender
	// inFlight is the number of requests issued and not yet ended, for
	// Limits.MaxInFlight.
	inFlight atomic.Int64
	// wg counts the request goroutines and the sender loops.
	wg sync.WaitGroup
	// quit is closed when Run returns.
	quit chan struct{}
}

// rotateGrace bounds, in intervals, how long closing an interval waits for
// a late pacer, so that every arrival is counted in the interval of its
// intended instant even when the pacer runs seconds late (a starved
// machine). It leaves two of the recorder's MaxOpen slots: completions
// recorded meanwhile, in the interval in which they happen, still find
// theirs open.
const rotateGrace = metrics.MaxOpen - 2

// spinWindow is how long before an arrival's instant the precise pacer
// stops sleeping and spins: Go timers shorter than about 1 ms fire about
// 1.1 ms late, so a sleep ends this early and the spin covers the rest.
const spinWindow = 2 * time.Millisecond

// pace walks the agent's share of the schedule and sends every arrival at
// its intended instant. Deadlines come from the global index and T0, never
// from summed sleeps. After any wake-up it sends everything already due.
func (r *runner) pace(ctx context.Context) {
	it := r.job.Share.Iter(r.job.First, r.job.End)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	sh := r.shards[0]
	precise := r.job.Client.Timing == TimingPrecise
	var ts *threadSleeper
	if precise {
		ts = newThreadSleeper()
		defer ts.release()
	}
	defer r.next.Store(math.MaxInt64)
	for i, ok := it.Next(); ok; i, ok = it.Next() {
		at := r.job.Schedule.At(i)
		r.next.Store(int64(at))
		intended := r.t0.Add(at)
		wait := time.Until(intended)
		if precise {
			wait -= spinWindow
		}
		if wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		} else if ctx.Err() != nil {
			return
		}
		if precise && !spinUntil(ctx, ts, intended) {
			return
		}
		if r.job.Gate != nil {
			if err := r.job.Gate(); err != nil {
				r.stopPacing(err)
				return
			}
		}
		req := r.plan.pick(i)
		slot := r.slot(at)
		now := time.Now()
		admitted := r.admit()
		sh.mu.Lock()
		if !admitted {
			sh.rec.Dropped(slot, req, metrics.InFlightCap)
			sh.mu.Unlock()
			continue
		}
		sh.rec.Issued(slot, req, now.Sub(intended))
		sh.mu.Unlock()
		r.wg.Add(1)
		if r.plan.journeys != nil {
			go r.journey(sh, i, req, intended, now)
			continue
		}
		go r.send(sh, i, req, intended)
	}
}

// hardSpin is the last stretch before an instant that the precise pacer
// spins without yielding or sleeping: a yield can leave the pacer behind
// every runnable goroutine, and a thread sleep can overshoot, by about
// that much.
const hardSpin = 50 * time.Microsecond

// spinUntil returns at instant t. Until hardSpin before it, it sleeps the
// pacer's thread (ts, with two or more processors) or yields the processor
// between clock reads so the requests already sent can run; then it spins
// on the clock alone. False if ctx ended first.
func spinUntil(ctx context.Context, ts *threadSleeper, t time.Time) bool {
	for n := 0; ; n++ {
		left := time.Until(t)
		if left <= 0 {
			return true
		}
		if n&63 == 63 && ctx.Err() != nil {
			return false
		}
		if left > hardSpin && !ts.sleep(left-hardSpin) {
			runtime.Gosched()
		}
	}
}

// slot is the index of the interval holding offset d from T0.
func (r *runner) slot(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	return uint32(min(d/r.job.Interval, 1<<31))
}

// send performs the request of arrival i and records its result in sh. It
// exits when the response body is read, or at its timeout, or when the
// transport is closed.
func (r *runner) send(sh *shard, i uint64, req int, intended time.Time) {
	defer r.wg.Done()
	c := &r.plan.reqs[req]
	timeout := c.timeout
	if timeout == 0 {
		timeout = r.job.Limits.Timeout
	}
	start := time.Now()
	res := metrics.Result{Request: req}
	if c.needBody() {
		// Checks read the body: the net/http client (newTransport).
		var resp extract.Response
		at := r.tp.(*netHTTP).doJourney(c, i, c.seed, nil, nil, timeout, &res, &resp)
		done := time.Now()
		times(&res, intended, start, done, at)
		var checks []metrics.Outcome
		if res.Outcome == metrics.OK {
			checks = r.evaluate(c, &resp, &res, nil)
		}
		if len(checks) > 0 {
			sh.mu.Lock()
			slot := r.slot(done.Sub(r.t0))
			for k, o := range checks {
				sh.rec.Count(slot, c.checkSeries+k, o, res.Response, res.Service)
			}
			sh.mu.Unlock()
		}
		r.finished(sh, done, res)
		return
	}
	at := r.tp.do(c, i, timeout, &res)
	done := time.Now()
	times(&res, intended, start, done, at)
	r.finished(sh, done, res)
}

// finished records a request that ended at done in sh (the shard that
// issued it).
func (r *runner) finished(sh *shard, done time.Time, res metrics.Result) {
	r.inFlight.Add(-1)
	slot := r.slot(done.Sub(r.t0))
	sh.mu.Lock()
	if sh.rec.Finished(slot, res) && r.observe != nil {
		r.observe(res)
	}
	sh.mu.Unlock()
}

// times sets res's durations from a request's instants: intended (the
// schedule's), dispatched (start), on the wire and first byte (at) and
// done.
func times(res *metrics.Result, intended, start, done time.Time, at instants) {
	res.Response = done.Sub(intended)
	res.Service = done.Sub(start)
	switch {
	case !at.onWire.IsZero():
		res.Service = done.Sub(at.onWire)
		res.OnWire, res.HasOnWire = at.onWire.Sub(intended), true
	case res.ConnWait:
		// It waited for a pooled connection and never got one: late on
		// the wire by its whole wait at least.
		res.OnWire, res.HasOnWire = done.Sub(intended), true
	}
	if !at.firstByte.IsZero() && !at.onWire.IsZero() {
		res.TTFB, res.HasTTFB = at.firstByte.Sub(at.onWire), true
	}
	phaseTimes(res, done, &at)
}

// phaseTimes sets res's phases from a request's instants (see
// metrics.Phase): write from on the wire to written, read from the first
// byte to the body read (done, or at.readDone when a redirect followed),
// and the connection's opening when the request opened it.
func phaseTimes(res *metrics.Result, done time.Time, at *instants) {
	if !at.wrote.IsZero() && !at.onWire.IsZero() {
		res.Phase[metrics.PhaseWrite] = at.wrote.Sub(at.onWire)
		res.Timed = res.Timed.With(metrics.PhaseWrite)
	}
	if !at.firstByte.IsZero() {
		end := done
		if !at.readDone.IsZero() {
			end = at.readDone
		}
		res.Phase[metrics.PhaseRead] = end.Sub(at.firstByte)
		res.Timed = res.Timed.With(metrics.PhaseRead)
	}
	if ct := &at.conn; ct.Dialed {
		res.NewConn = true
		res.Phase[metrics.PhaseConnect] = ct.Connect
		res.Timed = res.Timed.With(metrics.PhaseConnect)
		if ct.Looked {
			res.Phase[metrics.PhaseDNS] = ct.DNS
			res.Timed = res.Timed.With(metrics.PhaseDNS)
		}
		if ct.Handshook {
			res.Phase[metrics.PhaseTLS] = ct.TLS
			res.Timed = res.Timed.With(metrics.PhaseTLS)
		}
	}
}

// classifyStatus maps a response status to an outcome class for c. A 429
// is rate_limited, apart from the other 4xx.
func (c *compiled) classifyStatus(status int) metrics.Outcome {
	switch {
	case c.success(status):
		return metrics.OK
	case len(c.expect) > 0 && status >= 200 && status < 400:
		return metrics.UnexpectedStatus
	case status == http.StatusTooManyRequests:
		return metrics.RateLimited
	case status >= 400 && status < 500:
		return metrics.HTTP4xx
	case status >= 500 && status < 600:
		return metrics.HTTP5xx
	default:
		return metrics.Other
	}
}

// classifyResponse is classifyStatus for a response that may carry
// "X-Surge-Breaker: open" (breakerOpen): an unexpected 503 with it is
// breaker_open, apart from the other 5xx.
func (c *compiled) classifyResponse(status int, breakerOpen bool) metrics.Outcome {
	o := c.classifyStatus(status)
	if breakerOpen && status == http.StatusServiceUnavailable && o == metrics.HTTP5xx {
		return metrics.BreakerOpen
	}
	return o
}

// breakerOpen reports whether a net/http response is an open breaker's
// refusal: the header is looked at only on a 503.
func breakerOpen(status int, h http.Header) bool {
	return status == http.StatusServiceUnavailable && strings.EqualFold(h.Get("X-Surge-Breaker"), "open")
}

// classifyErr maps a transport error to an outcome class.
func classifyErr(err error) metrics.Outcome {
	var ne net.Error
	switch {
	case isLocalResource(err):
		// First: the generator's failure, whatever the dial made of it.
		return metrics.LocalResource
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return metrics.Timeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return metrics.ConnRefused
	case isTLSError(err):
		return metrics.TLSError
	case isDialError(err):
		return metrics.DialError
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return metrics.ConnReset
	case isProtocolError(err):
		return metrics.ProtocolError
	default:
		return metrics.Other
	}
}

// isProtocolError reports a response that broke HTTP, as net/http words it
// (its errors carry no types for these).
func isProtocolError(err error) bool {
	msg := err.Error()
	for _, m := range protocolErrorTexts {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

var protocolErrorTexts = []string{
	"malformed HTTP", "invalid Content-Length", "bad Content-Length", "multiple Content-Length",
	"invalid byte in chunk length", "chunk length", "malformed chunked encoding", "header too long",
	"unsupported transfer encoding", "too many transfer encodings", "invalid header field",
	// Transport.MaxResponseHeaderBytes exceeded: HTTP/1.1, then HTTP/2.
	"server response headers exceeded", "response header list larger than",
}

// isLocalResource reports that this process ran out of file descriptors
// (its own limit, EMFILE, or the system's, ENFILE) making a socket: a
// generator-side failure, not the target's, though it surfaces as a
// dial error.
func isLocalResource(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

// isDialError reports a failure to make a connection at all (other than a
// refusal or a timeout): a disallowed address, no free local port, an
// unreachable network, a name that does not resolve.
func isDialError(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &dns) || (errors.As(err, &op) && op.Op == "dial") || errors.Is(err, ErrTargetNotAllowed)
}
