package engine

import (
	"context"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/surgeload/surge/internal/h1"
	"github.com/surgeload/surge/internal/metrics"
)

// Sender loops: the engine's fast path. A job whose requests go over
// plain HTTP/1.1 keep-alive connections with Surge's own client (the
// default) is played by one to GOMAXPROCS sender loops instead of a pacer
// that starts a goroutine per arrival. Each loop is one goroutine that
// owns an h1.Loop (its connections, in an epoll instance of its own): it
// paces its stripe of the share — arrival k, k+n, k+2n… of the agent's own
// arrivals — and, between arrivals, waits in the h1.Loop, which writes the
// requests, reads the responses and times them out. A request then costs
// its system calls (a peek, a write, a read, a share of an epoll_wait) and
// no goroutine of its own, no hand-off between threads, no runtime timer;
// its result goes into the loop's own shard of the recorder, whose lock
// nothing else takes but the interval's rotation. With default timing the
// loop blocks its thread in epoll_wait between wake-ups, or, when the
// agent has a single processor or the loop's rate is low, parks in Go's
// netpoller (its epoll instance is itself polled) so that the processor
// serves the agent's other goroutines meanwhile (parkLoops); with precise
// timing it blocks its own locked thread until shortly before the
// instant (preciseSpin), then polls its sockets without blocking up to
// it.
//
// The rules do not change: an arrival is sent at or after its intended
// instant (the loop checks the clock before each), never dropped but at
// the in-flight cap (agent-wide), with its send lag recorded; a request
// that finds no connection waits in its loop's queue for one (on-wire
// lag), bounded by the connect timeout; latency is from the intended
// instant. A request the loop cannot carry (its templated URL turned out
// https) is sent on its own goroutine as before.

// loopRate is the rate (arrivals per second of the agent's share at the
// peak of the curve) that one sender loop is given: a run gets
// ⌈peak ÷ loopRate⌉ loops, at most GOMAXPROCS. A second loop costs
// wake-ups and context switches: on two cores shared with the target,
// one loop was cheaper per request at 10,000 to 45,000 req/s (14.5 against
// 19–26 µs at 45,000) and kept the schedule as well (BenchmarkRun with
// SURGE_BENCH_LOOPS); a loop tops out when it fills its core.
var loopRate = 75_000.0

// loopWindow is how late default timing lets an arrival be so that it is
// sent in the same wake-up as the ones before it: the loop sleeps until
// the next arrival's instant plus loopWindow (and wakes earlier whenever a
// response comes in). Precise timing sleeps until the instant itself.
var loopWindow = 500 * time.Microsecond

// preciseSpin is how long before an arrival's instant a precise sender
// loop stops sleeping in epoll_wait and polls its sockets without
// blocking until the instant: a kernel wake-up from epoll_wait, even with
// a timer slack of 1 ns, came 130–200 µs late at p99 on the shared VM
// this was measured on, and a sleep that ends this early has that much
// room. Arrivals less than preciseSpin apart keep the loop's thread busy
// (its cost: up to one core; bench/ENGINE.md).
var preciseSpin = 200 * time.Microsecond

// preciseYieldMin is how many responses a precise sender loop reads at
// most before it looks at the clock for its next arrival.
const preciseYieldMin = 2

// loopBurst is how many due arrivals a loop sends in a row before it
// looks at its sockets (when it is behind, responses are read between
// bursts rather than after the whole backlog).
const loopBurst = 32

// parkLoops reports whether a sender loop parks in Go's netpoller
// between wake-ups rather than block its thread in epoll_wait. Only with
// default timing and a single processor: there a thread blocked in a
// system call holds the only P, which the runtime must take back for the
// agent's other goroutines (hand-offs, wake-ups). With two or more, the
// netpoller costs more than it saves: every wake-up of a parked loop
// goes through the runtime's own epoll_wait, readies the goroutine and
// wakes an idle P to spin for work, and the loop then waits again in its
// own epoll instance. At 50,000 req/s against a loopback nginx on two
// cores, parked loops cost 21.4–22.6 CPU-µs per completed request and
// fell 0.4–0.5 s behind (11–32 % dropped at the in-flight cap); blocked
// ones cost 17.3–18.0 and kept up (bench/ENGINE.md). At 10,000 req/s it
// is the other way round, by less: parked 26–29.6, blocked 31–32 (the
// blocked thread's system call goes through the scheduler's hand-off
// when the agent's other goroutines want the processor). So a loop
// parks while its own rate stays under parkRate. Precise timing always
// blocks, to the microsecond.
func parkLoops(precise bool, rate float64) bool {
	return !precise && (runtime.GOMAXPROCS(0) == 1 || rate < parkRate)
}

// parkRate is the rate per sender loop (arrivals per second at the peak
// of the curve) from which a default-timing loop blocks its thread
// rather than park, with two or more processors: between the 10,000
// (parking cheaper) and 50,000 req/s (parking falls behind) measured.
var parkRate = 25_000.0

// sender is one event loop of a run.
type sender struct {
	r       *runner
	k, n    int // it plays arrivals k, k+n, … of the share
	lp      *h1.Loop
	sh      *shard
	tp      *native
	precise bool
	// next is the offset from T0 of the arrival this loop is on;
	// MaxInt64 once it is done pacing.
	next atomic.Int64
	// quit is set when the run is over: leave without waiting for the
	// requests in flight (they are counted as in flight at the end).
	quit    atomic.Bool
	started bool // paceLoops ran it (set before the pacer is done)
	exited  chan struct{}

	scratch nativeScratch
	free    []*call
}

// call is one request in a sender loop, from Send to Done.
type call struct {
	req      int
	body     int // request body bytes
	intended time.Time
	start    time.Time // dispatched
}

// useLoops reports whether the job can be played by sender loops: Surge's
// own HTTP/1.1 client, keep-alive, no redirects to follow, a plain http
// target, and a system with epoll.
func useLoops(j *Job) bool {
	o := j.Client
	return h1.LoopSupported && o.Protocol == HTTP1 && o.Impl == ImplNative && o.Mode == KeepAlive &&
		o.FollowRedirects == 0 && j.Target.Scheme == "http"
}

// loopsForTest, when positive, is the number of sender loops of every
// run (set by this package's tests only).
var loopsForTest int

// loopCount is how many sender loops play j.
func loopCount(j *Job) int {
	peak := j.Schedule.Curve().Peak() * j.Share.Fraction()
	n := int(math.Ceil(peak / loopRate))
	n = min(max(n, 1), runtime.GOMAXPROCS(0))
	if loopsForTest > 0 {
		n = loopsForTest
	}
	if j.Limits.MaxConns > 0 {
		n = min(n, j.Limits.MaxConns) // each loop needs a connection of its own
	}
	return n
}

// newSenders makes the run's sender loops when the job can use them.
func (r *runner) newSenders() error {
	t, ok := r.tp.(*native)
	if !ok || !useLoops(r.job) {
		return nil
	}
	n := loopCount(r.job)
	peak := r.job.Schedule.Curve().Peak() * r.job.Share.Fraction()
	maxConns := r.job.Limits.MaxConns
	for k := range n {
		s := &sender{r: r, k: k, n: n, tp: t, sh: r.shards[0], precise: r.job.Client.Timing == TimingPrecise, exited: make(chan struct{})}
		if k > 0 {
			s.sh = newShard(r.job)
			r.shards = append(r.shards, s.sh)
		}
		cfg := h1.LoopConfig{Done: s.done, MaxDialsPerHost: max(h1.DefaultMaxDials/n, 1), Park: parkLoops(s.precise, peak/float64(n))}
		if s.precise {
			// Back to the pacer after every few responses: an arrival
			// due is not held up by a batch of them.
			cfg.YieldMin = preciseYieldMin
		}
		if maxConns > 0 {
			// The agent's bound, split: loop k gets its share, the
			// shares adding up to the bound.
			cfg.MaxConnsPerHost = maxConns/n + btoi(k < maxConns%n)
		}
		lp, err := t.c.NewLoop(cfg)
		if err != nil {
			for _, s := range r.senders {
				s.lp.Close()
			}
			r.senders = nil
			r.shards = r.shards[:1]
			return nil // no event loop here: the goroutine per request it is
		}
		s.lp = lp
		r.senders = append(r.senders, s)
	}
	// The transport's close ends the loops.
	t.loops = r.senders
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// paceLoops runs the sender loops and returns when every one of them is
// done pacing (the share played, or ctx done); they go on serving their
// requests in flight until those end or the transport is closed.
func (r *runner) paceLoops(ctx context.Context) {
	var pacing sync.WaitGroup
	for _, s := range r.senders {
		s.next.Store(0)
	}
	// A stop wakes every loop at once, however long it sleeps.
	stop := context.AfterFunc(ctx, func() {
		for _, s := range r.senders {
			s.lp.Wake()
		}
	})
	defer stop()
	for _, s := range r.senders {
		s.started = true
		pacing.Add(1)
		r.wg.Add(1)
		go func() { // exits when its share is played and its requests have ended, or at quit
			defer r.wg.Done()
			defer close(s.exited)
			s.run(ctx, pacing.Done)
		}()
	}
	pacing.Wait()
}

// run paces the loop's stripe of the share, calling paced when it is
// done, then serves the requests still in flight until they end or quit.
func (s *sender) run(ctx context.Context, paced func()) {
	if s.precise {
		unlock := preciseThread()
		defer unlock()
	}
	defer s.lp.Close()
	s.pace(ctx)
	s.next.Store(math.MaxInt64)
	s.lp.YieldAt(time.Time{})
	paced()
	for s.lp.InFlight() > 0 && !s.quit.Load() {
		if err := s.lp.Wait(-1); err != nil {
			return
		}
	}
}

// pace sends the loop's arrivals at their instants.
func (s *sender) pace(ctx context.Context) {
	r := s.r
	j := r.job
	done := ctx.Done()
	it := j.Share.Iter(j.First, j.End)
	for skip := 0; skip < s.k; skip++ {
		if _, ok := it.Next(); !ok {
			return
		}
	}
	burst := 0
	for i, ok := it.Next(); ok; {
		at := j.Schedule.At(i)
		s.next.Store(int64(at))
		intended := r.t0.Add(at)
		s.lp.YieldAt(intended)
		now := time.Now()
		for now.Before(intended) {
			burst = 0
			wait := intended.Sub(now)
			if s.precise {
				// Sleep to preciseSpin before the instant, then poll
				// the sockets (a zero wait: responses are read as they
				// come) until it.
				wait = max(wait-preciseSpin, 0)
			} else {
				wait += loopWindow
			}
			if err := s.lp.Wait(wait); err != nil {
				r.stopPacing(err)
				return
			}
			if s.quit.Load() {
				return
			}
			if stopped(done) {
				return
			}
			now = time.Now()
		}
		if stopped(done) || s.quit.Load() {
			return
		}
		if j.Gate != nil {
			if err := j.Gate(); err != nil {
				r.stopPacing(err)
				return
			}
		}
		s.issue(i, at, intended, now)
		if burst++; burst == loopBurst {
			// Behind: read every response that is in before sending
			// more, so that reading keeps up with sending.
			burst = 0
			s.lp.YieldAt(time.Time{})
			if err := s.lp.Wait(0); err != nil {
				r.stopPacing(err)
				return
			}
		}
		for range s.n {
			if i, ok = it.Next(); !ok {
				break
			}
		}
	}
}

func stopped(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// issue counts arrival i (intended at offset at) and sends it, or drops
// it at the in-flight cap.
func (s *sender) issue(i uint64, at time.Duration, intended, now time.Time) {
	r := s.r
	req := r.plan.pick(i)
	slot := r.slot(at)
	admitted := r.admit()
	s.sh.mu.Lock()
	if !admitted {
		s.sh.rec.Dropped(slot, req, metrics.InFlightCap)
		s.sh.mu.Unlock()
		return
	}
	s.sh.rec.Issued(slot, req, now.Sub(intended))
	s.sh.mu.Unlock()

	c := &r.plan.reqs[req]
	nr := c.native
	if nr == nil { // templated: render this arrival's request
		var err error
		if nr, err = s.tp.render(&s.scratch, c, i); err != nil {
			res := metrics.Result{Request: req, Outcome: metrics.Other}
			done := time.Now()
			times(&res, intended, now, done, instants{})
			r.finished(s.sh, done, res)
			return
		}
	}
	if nr.target.TLS {
		// The loop speaks plain HTTP: this one goes on its own goroutine.
		r.wg.Add(1)
		go r.send(s.sh, i, req, intended)
		return
	}
	timeout := c.timeout
	if timeout == 0 {
		timeout = r.job.Limits.Timeout
	}
	cl := s.newCall()
	*cl = call{req: req, body: len(nr.req.Body), intended: intended, start: now}
	// Send copies the request out: the scratch it was rendered into is
	// free again when it returns.
	s.lp.Send(nr.target, &nr.req, s.tp.options(now, timeout), cl)
}

// done is the h1.Loop's Done: the result of a request this loop sent.
func (s *sender) done(tag any, hr *h1.Result, err error) {
	cl := tag.(*call)
	end := time.Now()
	c := &s.r.plan.reqs[cl.req]
	res := metrics.Result{Request: cl.req}
	if hr.Phase > h1.PhaseWrite { // counted as nethttp does: body bytes that were sent
		res.BytesOut = int64(cl.body)
	}
	res.BytesIn, res.Truncated, res.ConnWait = hr.BodyBytes, hr.Truncated, hr.Waited
	if err != nil {
		res.Outcome = classifyNative(err, hr.Phase)
	} else {
		res.Outcome = c.classifyResponse(hr.Status, hr.BreakerOpen)
	}
	times(&res, cl.intended, cl.start, end, instants{onWire: hr.ConnAt, wrote: hr.WroteAt, firstByte: hr.FirstByte, conn: hr.Conn})
	s.free = append(s.free, cl)
	s.r.finished(s.sh, end, res)
}

func (s *sender) newCall() *call {
	if n := len(s.free); n > 0 {
		cl := s.free[n-1]
		s.free = s.free[:n-1]
		return cl
	}
	return new(call)
}

// stopLoops ends the sender loops (the run is over) and waits for them.
// It is called after the pacer is done, so started is settled.
func stopLoops(loops []*sender) {
	for _, s := range loops {
		s.quit.Store(true)
		s.lp.Wake()
	}
	for _, s := range loops {
		if s.started {
			<-s.exited
		} else {
			s.lp.Close()
		}
	}
}
