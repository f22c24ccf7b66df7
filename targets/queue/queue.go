package queue

import (
	"github.com/surgeload/surge/targets/internal/metricdef"

	"bytes"
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Errors of Submit.
var (
	// ErrQueueFull means QueueLimit jobs are already waiting.
	ErrQueueFull = errors.New("job queue full")
	// ErrClosed means the queue has been closed.
	ErrClosed = errors.New("job queue closed")
	// ErrBodyTooLarge means the body is larger than Config.MaxBodyBytes.
	ErrBodyTooLarge = errors.New("job body too large")
)

// ErrPoison is the failure of every attempt at a poison job.
var ErrPoison = errors.New("poison job")

// State is where a job is in its life.
type State string

// The states of a job. Queued → Running → Done, or Running → Retrying →
// Running … → Dead after MaxAttempts failed attempts.
const (
	// Queued: accepted, waiting for its first attempt.
	Queued State = "queued"
	// Running: a worker is running an attempt.
	Running State = "running"
	// Retrying: an attempt failed; the job waits for the next one (out
	// its backoff, then for a worker).
	Retrying State = "retrying"
	// Done: an attempt succeeded.
	Done State = "done"
	// Dead: MaxAttempts attempts failed; the job is in the dead-letter
	// queue.
	Dead State = "dead"
)

// Status is what GET /jobs/{id} answers, as JSON.
type Status struct {
	ID          string `json:"id"`
	State       State  `json:"status"`
	Attempts    int    `json:"attempts"` // attempts started, the running one included
	MaxAttempts int    `json:"max_attempts"`
	Poison      bool   `json:"poison,omitempty"`
	// LastError is the error of the last failed attempt.
	LastError string    `json:"last_error,omitempty"`
	Created   time.Time `json:"created"`
	// NextAttempt is when a retrying job's backoff ends.
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	Finished    time.Time `json:"finished,omitzero"`
}

// Stats counts a queue's jobs. Queued and Running are in virtual time
// (see Simulated time in the package documentation): a job that a worker
// past its attempt's end will take next counts as running.
type Stats struct {
	Queued      int // waiting for a worker (retries due included)
	Retrying    int // waiting out a backoff
	Running     int // held by a worker
	DeadLetters int // in the dead-letter queue

	Accepted uint64 // jobs accepted since New
	Done     uint64 // jobs that succeeded
	Dead     uint64 // jobs that died
	Retries  uint64 // failed attempts that were retried
	Attempts uint64 // attempts finished

	// BusyTime is worker-time spent in attempts, in virtual time (see
	// Simulated time in the package documentation): from each attempt's
	// start to its end. Its growth over an interval divided by Workers ×
	// the interval is the workers' mean utilisation; it never grows by
	// more than that.
	BusyTime time.Duration
}

// Queue is the job queue: an http.Handler serving POST /jobs and
// GET /jobs/{id}, and the workers that run the jobs. Create it with New
// and stop it with Close.
type Queue struct {
	cfg   Config
	mux   *http.ServeMux
	ready chan *job // jobs for the workers; never full (see Submit)
	wake  chan struct{}

	// ctx ends at Close: the workers and the scheduler stop, and running
	// attempts are cancelled. It is the lifetime of the queue's own
	// goroutines, not of a caller's request.
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once

	mu       sync.Mutex
	closed   bool
	seq      uint64
	rng      *rand.Rand
	jobs     map[string]*job
	waiting  int           // queued + retrying: bounded by QueueLimit
	running  int           // held by a worker
	backoff  retryHeap     // retrying jobs, soonest first
	finished fifo[string]  // ids of finished jobs whose records are kept, oldest first
	dlq      fifo[*Status] // dead letters, oldest first
	stats    Stats

	clock Clock
	// workerEnd is, per worker, the virtual end of its running attempt on
	// the ServiceTime timer; zero while idle or in Process. Guarded by mu.
	workerEnd []time.Time
	// workerStart is, per worker, when its running attempt started.
	// Guarded by mu.
	workerStart []time.Time
	busyDone    time.Duration // busy time of finished attempts; guarded by mu
	// vworkers are the virtual workers of timed attempts, the one free
	// earliest first. Guarded by mu.
	vworkers vworkerHeap
	// trace, set by tests before Submit, is called with each timed
	// attempt's worker, start and end.
	trace func(worker int, start, end time.Time)

	m metrics
}

// job is the record of one job. Fields are guarded by Queue.mu.
type job struct {
	id        string
	body      []byte // nil once finished
	poison    bool
	state     State
	attempts  int
	lastErr   string
	created   time.Time
	nextAt    time.Time // end of the backoff, while in Queue.backoff
	readyAt   time.Time // when it was last ready for a worker: submitted, or its backoff ended
	finished  time.Time
	heapIndex int
}

// New returns a Queue for cfg, with its workers started, whose metrics
// are labelled component=name and registered on reg (nil registers
// none).
func New(name string, cfg Config, reg prometheus.Registerer) (*Queue, error) {
	if err := errors.Join(metricdef.CheckName(name), cfg.Validate()); err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	q := &Queue{
		cfg:    cfg,
		mux:    http.NewServeMux(),
		ready:  make(chan *job, cfg.QueueLimit+cfg.Workers),
		wake:   make(chan struct{}, 1),
		ctx:    ctx,
		cancel: cancel,
		rng:    rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		jobs:   make(map[string]*job),
		clock:  cfg.Clock,

		workerEnd:   make([]time.Time, cfg.Workers),
		workerStart: make([]time.Time, cfg.Workers),
		vworkers:    make(vworkerHeap, cfg.Workers),
	}
	for i := range q.vworkers {
		q.vworkers[i] = &vworker{id: i} // all free from the start: a valid heap
	}
	if q.clock == nil {
		q.clock = systemClock{}
	}
	q.m = newMetrics(q)
	if err := q.m.register(reg, name); err != nil {
		cancel()
		return nil, fmt.Errorf("job queue: %w", err)
	}
	q.mux.HandleFunc("POST /jobs", q.handleSubmit)
	q.mux.HandleFunc("GET /jobs/{id}", q.handleStatus)

	q.wg.Add(cfg.Workers + 1)
	for i := range cfg.Workers {
		go q.worker(i) // ends when ctx is done
	}
	go q.scheduler() // ends when ctx is done
	return q, nil
}

// Close stops the queue: Submit and POST /jobs refuse new jobs, running
// attempts are cancelled (their jobs go back to queued, the attempt not
// counted), and Close returns when the workers and the scheduler have
// ended. Waiting jobs stay where they are, readable with Status. Close is
// idempotent and always returns nil.
func (q *Queue) Close() error {
	q.closeOnce.Do(func() {
		q.mu.Lock()
		q.closed = true
		q.mu.Unlock()
		q.cancel()
		q.wg.Wait()
	})
	return nil
}

// ServeHTTP serves POST /jobs and GET /jobs/{id}; see the package doc.
func (q *Queue) ServeHTTP(w http.ResponseWriter, r *http.Request) { q.mux.ServeHTTP(w, r) }

// Submit accepts a job with body and returns its id. It fails with
// ErrQueueFull when QueueLimit jobs are waiting, ErrClosed after Close,
// and ErrBodyTooLarge. The queue keeps body until the job finishes: do
// not modify it.
func (q *Queue) Submit(body []byte) (string, error) {
	if len(body) > q.cfg.MaxBodyBytes {
		return "", fmt.Errorf("%w: %d bytes, more than %d", ErrBodyTooLarge, len(body), q.cfg.MaxBodyBytes)
	}
	poison := q.poisonBody(body) // outside the lock: it may parse JSON
	now := q.clock.Now()
	q.mu.Lock()
	switch {
	case q.closed:
		q.mu.Unlock()
		q.m.rejectedClosed.Inc()
		return "", ErrClosed
	// The bound is on the queue in virtual time: a job that a worker past
	// its attempt's end will take next is no longer waiting there.
	case q.waiting >= q.cfg.QueueLimit && q.waiting-q.takenLocked(now) >= q.cfg.QueueLimit:
		q.mu.Unlock()
		q.m.rejectedFull.Inc()
		return "", ErrQueueFull
	}
	if q.cfg.PoisonFraction > 0 && q.rng.Float64() < q.cfg.PoisonFraction {
		poison = true
	}
	q.seq++
	j := &job{id: strconv.FormatUint(q.seq, 10), body: body, poison: poison, state: Queued, created: now, readyAt: now}
	q.jobs[j.id] = j
	q.waiting++
	q.stats.Accepted++
	q.mu.Unlock()
	q.m.accepted.Inc()
	// Never blocks: every job in ready or on its way there is counted in
	// waiting, which is at most QueueLimit plus one per worker past its
	// attempt's end (see the bound above), the capacity of ready.
	q.ready <- j
	return j.id, nil
}

// poisonBody reports whether body is a JSON object whose PoisonField is
// true.
func (q *Queue) poisonBody(body []byte) bool {
	field := q.cfg.PoisonField
	if field == "" || !bytes.Contains(body, []byte(field)) {
		return false // the common case costs no parsing
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return false
	}
	return string(bytes.TrimSpace(fields[field])) == "true"
}

// Status returns the status of job id, and false when no such job is
// known (never submitted, or finished and forgotten).
func (q *Queue) Status(id string) (Status, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	j, ok := q.jobs[id]
	if !ok {
		return Status{}, false
	}
	return q.statusOf(j), true
}

// statusOf returns j's status. q.mu is held.
func (q *Queue) statusOf(j *job) Status {
	return Status{
		ID:          j.id,
		State:       j.state,
		Attempts:    j.attempts,
		MaxAttempts: q.cfg.MaxAttempts,
		Poison:      j.poison,
		LastError:   j.lastErr,
		Created:     j.created,
		NextAttempt: j.nextAt,
		Finished:    j.finished,
	}
}

// DeadLetters returns the statuses of the jobs in the dead-letter queue,
// oldest first.
func (q *Queue) DeadLetters() []Status {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]Status, 0, q.dlq.len())
	for _, s := range q.dlq.all() {
		out = append(out, *s)
	}
	return out
}

// Stats returns the queue's counts now.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.statsLocked(q.clock.Now())
}

// statsLocked returns the counts at now, in virtual time. q.mu is held.
func (q *Queue) statsLocked(now time.Time) Stats {
	s := q.stats
	s.Retrying = q.backoff.Len()
	overdue := q.overdueLocked(now)
	taken := min(q.waiting-s.Retrying, overdue)
	s.Queued = q.waiting - s.Retrying - taken
	s.Running = q.running - overdue + taken
	s.DeadLetters = q.dlq.len()
	s.BusyTime = q.busyDone
	for i, start := range q.workerStart {
		if start.IsZero() {
			continue
		}
		end := now
		if e := q.workerEnd[i]; !e.IsZero() && e.Before(now) {
			end = e
		}
		if end.After(start) {
			s.BusyTime += end.Sub(start)
		}
	}
	return s
}

// overdueLocked counts the workers whose timed attempt is past its end
// at now but who have not woken up to finish it. q.mu is held.
func (q *Queue) overdueLocked(now time.Time) int {
	n := 0
	for _, e := range q.workerEnd {
		if !e.IsZero() && !now.Before(e) {
			n++
		}
	}
	return n
}

// takenLocked is how many of the jobs queued for a worker have one in
// virtual time: one each for the overdue workers. q.mu is held.
func (q *Queue) takenLocked(now time.Time) int {
	return min(q.waiting-q.backoff.Len(), q.overdueLocked(now))
}

// worker runs jobs from ready until the queue closes. i is its index.
func (q *Queue) worker(i int) {
	defer q.wg.Done()
	for {
		select {
		case <-q.ctx.Done():
			return
		case j := <-q.ready:
			q.run(i, j)
		}
	}
}

// run makes one attempt at j on worker goroutine i and settles its
// outcome.
//
// A timed attempt (no Process) takes the virtual worker that is free
// earliest: it starts at the later of that instant and when j became
// ready, and ends ServiceTime later (or AttemptTimeout, if that is
// shorter: the attempt then fails with context.DeadlineExceeded). The
// virtual worker is free again from that end, whether or not this
// goroutine has woken up by then, so however late goroutines wake the
// jobs go to virtual workers first come, first served, as in a queue of
// Workers servers.
func (q *Queue) run(i int, j *job) {
	timed := q.cfg.Process == nil
	var start, end time.Time // end: the virtual end of a timed attempt
	timeout := false
	vw := -1
	if timed {
		q.mu.Lock()
		v := q.vworkers[0]
		start = laterOf(j.readyAt, v.free)
		d := q.cfg.ServiceTime
		if t := q.cfg.AttemptTimeout; t > 0 && t < d {
			d, timeout = t, true
		}
		end = start.Add(d)
		v.free = end
		heap.Fix(&q.vworkers, 0)
		vw = v.id
		q.mu.Unlock()
	} else {
		start = q.clock.Now()
	}
	q.mu.Lock()
	q.waiting--
	q.running++
	j.state = Running
	j.nextAt = time.Time{}
	j.attempts++
	attempt := Job{ID: j.id, Body: j.body, Attempt: j.attempts, Poison: j.poison}
	q.workerStart[i], q.workerEnd[i] = start, end
	q.mu.Unlock()
	if q.trace != nil && timed {
		q.trace(vw, start, end)
	}

	var err error
	if timed {
		err = q.sleepUntil(end)
		if err == nil && timeout {
			err = context.DeadlineExceeded
		}
	} else {
		err = q.process(attempt)
	}

	now := q.clock.Now()
	if timed && (q.ctx.Err() == nil || !now.Before(end)) {
		now = end // a timed attempt ends at its deadline
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.running--
	q.busyDone += now.Sub(start)
	q.workerStart[i], q.workerEnd[i] = time.Time{}, time.Time{}
	if err != nil && q.ctx.Err() != nil {
		// Cut short by Close: not the job's failure.
		j.state, j.attempts = Queued, j.attempts-1
		if j.attempts > 0 {
			j.state = Retrying
		}
		return
	}
	q.stats.Attempts++
	q.m.attempts.Inc()
	if err == nil && j.poison {
		err = ErrPoison
	}
	switch {
	case err == nil:
		q.stats.Done++
		q.m.done.Inc()
		q.finish(j, Done, now)
	case j.attempts >= q.cfg.MaxAttempts:
		j.lastErr = err.Error()
		q.stats.Dead++
		q.m.dead.Inc()
		q.finish(j, Dead, now)
		s := q.statusOf(j)
		q.dlq.push(&s)
		if q.dlq.len() > q.cfg.DLQLimit {
			q.dlq.pop()
		}
	default:
		j.lastErr = err.Error()
		j.state = Retrying
		j.nextAt = now.Add(q.backoffDelay(j.attempts))
		q.waiting++
		q.stats.Retries++
		q.m.retries.Inc()
		heap.Push(&q.backoff, j)
		if j.heapIndex == 0 { // the soonest: the scheduler's timer must move
			select {
			case q.wake <- struct{}{}:
			default: // a wake-up is already pending
			}
		}
	}
}

// process runs one attempt by Process, bounded by AttemptTimeout.
func (q *Queue) process(job Job) (err error) {
	ctx := q.ctx
	if q.cfg.AttemptTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, q.cfg.AttemptTimeout)
		defer cancel()
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("attempt panicked: %v", p)
		}
	}()
	return q.cfg.Process(ctx, job)
}

// sleepUntil waits on the Clock until end, never returning before it,
// or until the queue closes.
func (q *Queue) sleepUntil(end time.Time) error {
	for {
		now := q.clock.Now()
		if !now.Before(end) {
			return nil
		}
		c, stop := q.clock.Timer(end.Sub(now))
		select {
		case <-c:
		case <-q.ctx.Done():
			stop()
			return q.ctx.Err()
		}
	}
}

// finish records that j ended in state s, and forgets the oldest
// finished records beyond MaxRecords. q.mu is held.
func (q *Queue) finish(j *job, s State, now time.Time) {
	j.state = s
	j.finished = now
	j.body = nil
	q.finished.push(j.id)
	for q.finished.len() > q.cfg.MaxRecords {
		delete(q.jobs, q.finished.pop())
	}
}

// backoffCap is the bound of the backoff after the n-th failed attempt:
// min(BackoffMax, BackoffBase·2^(n−1)).
func (q *Queue) backoffCap(n int) time.Duration {
	d := q.cfg.BackoffBase
	for i := 1; i < n && d < q.cfg.BackoffMax; i++ {
		d *= 2 // no overflow: d < BackoffMax ≤ 24 h before doubling
	}
	return min(d, q.cfg.BackoffMax)
}

// backoffDelay draws the wait after the n-th failed attempt, uniformly
// from [0, backoffCap(n)] ("full jitter"). q.mu is held (for rng).
func (q *Queue) backoffDelay(n int) time.Duration {
	return time.Duration(q.rng.Int64N(int64(q.backoffCap(n)) + 1))
}

// scheduler moves retrying jobs whose backoff has ended to ready, until
// the queue closes.
func (q *Queue) scheduler() {
	defer q.wg.Done()
	var due []*job
	for {
		q.mu.Lock()
		now := q.clock.Now()
		due = due[:0]
		for q.backoff.Len() > 0 && !q.backoff[0].nextAt.After(now) {
			j := heap.Pop(&q.backoff).(*job)
			j.readyAt, j.nextAt = j.nextAt, time.Time{}
			due = append(due, j)
		}
		next := time.Duration(-1)
		if q.backoff.Len() > 0 {
			next = q.backoff[0].nextAt.Sub(now)
		}
		q.mu.Unlock()
		for _, j := range due {
			q.ready <- j // never blocks: j is counted in waiting
		}
		clear(due) // let finished jobs be collected
		var timer <-chan time.Time
		stop := func() bool { return false }
		if next >= 0 {
			timer, stop = q.clock.Timer(next)
		}
		select {
		case <-q.ctx.Done():
			stop()
			return
		case <-q.wake:
			stop()
		case <-timer:
		}
	}
}

// vworker is a virtual worker: when its last timed attempt ends.
type vworker struct {
	id   int
	free time.Time
}

// vworkerHeap orders virtual workers by when they are free.
type vworkerHeap []*vworker

func (h vworkerHeap) Len() int           { return len(h) }
func (h vworkerHeap) Less(i, k int) bool { return h[i].free.Before(h[k].free) }
func (h vworkerHeap) Swap(i, k int)      { h[i], h[k] = h[k], h[i] }
func (h *vworkerHeap) Push(x any)        { *h = append(*h, x.(*vworker)) }
func (h *vworkerHeap) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}

// retryHeap orders retrying jobs by the end of their backoff.
type retryHeap []*job

func (h retryHeap) Len() int           { return len(h) }
func (h retryHeap) Less(i, k int) bool { return h[i].nextAt.Before(h[k].nextAt) }
func (h retryHeap) Swap(i, k int) {
	h[i], h[k] = h[k], h[i]
	h[i].heapIndex, h[k].heapIndex = i, k
}
func (h *retryHeap) Push(x any) {
	j := x.(*job)
	j.heapIndex = len(*h)
	*h = append(*h, j)
}
func (h *retryHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	j.heapIndex = -1
	return j
}

// fifo is a first-in first-out queue on a slice that compacts itself, so
// that its memory follows its length.
type fifo[T any] struct {
	items []T
	head  int
}

func (f *fifo[T]) len() int { return len(f.items) - f.head }
func (f *fifo[T]) all() []T { return f.items[f.head:] }
func (f *fifo[T]) push(v T) { f.items = append(f.items, v) }

func (f *fifo[T]) pop() T {
	v := f.items[f.head]
	var zero T
	f.items[f.head] = zero
	f.head++
	if f.head >= 64 && f.head*2 >= len(f.items) {
		n := copy(f.items, f.items[f.head:])
		clear(f.items[n:])
		f.items = f.items[:n]
		f.head = 0
	}
	return v
}
