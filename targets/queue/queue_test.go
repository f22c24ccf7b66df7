package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/surgeload/surge/targets/edge"
)

// newQueue returns a started queue closed at the end of the test.
func newQueue(t *testing.T, cfg Config, reg prometheus.Registerer) *Queue {
	t.Helper()
	q, err := New("jobs", cfg, reg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return q
}

// waitFor polls cond every 2 ms until it holds, failing the test after a
// minute: a hang guard, not a timing assertion, so it is long enough for
// the busiest machine.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func settled(q *Queue, n uint64) func() bool {
	return func() bool { s := q.Stats(); return s.Done+s.Dead >= n }
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want []string
	}{
		{"default", func(*Config) {}, nil},
		{"zero", func(c *Config) { *c = Config{} }, []string{
			"workers must be from 1 to 10000 (got 0)", "queue limit must be from 1 to 1000000 (got 0)",
			"max attempts must be from 1 to 100 (got 0)", "backoff base must be above 0 and at most 24h0m0s (got 0s)",
			"backoff max must be from backoff base (0s) to 24h0m0s (got 0s)", "max records must be from 1 to 10000000 (got 0)",
			"dlq limit must be from 1 to 10000000 (got 0)"}},
		{"all wrong", func(c *Config) {
			*c = Config{Workers: MaxWorkers + 1, QueueLimit: -1, ServiceTime: -time.Second, AttemptTimeout: 2 * time.Hour,
				MaxAttempts: 101, BackoffBase: time.Second, BackoffMax: time.Millisecond, PoisonField: strings.Repeat("p", 300),
				PoisonFraction: 2, MaxRecords: MaxRecordLimit + 1, DLQLimit: -5, MaxBodyBytes: MaxBodyLimit + 1}
		}, []string{"workers must be from 1 to 10000 (got 10001)", "queue limit must be from 1 to 1000000 (got -1)",
			"service time must be from 0 to 1h0m0s (got -1s)", "attempt timeout must be from 0 (none) to 1h0m0s (got 2h0m0s)",
			"max attempts must be from 1 to 100 (got 101)", "backoff max must be from backoff base (1s) to 24h0m0s (got 1ms)",
			"poison field must be at most 256 bytes (got 300)", "poison fraction must be from 0 to 1 (got 2)",
			"max records must be from 1 to 10000000 (got 10000001)", "dlq limit must be from 1 to 10000000 (got -5)",
			"max body bytes must be from 0 to 16777216 (got 16777217)"}},
		{"NaN fraction", func(c *Config) { c.PoisonFraction = math.NaN() }, []string{"poison fraction must be from 0 to 1 (got NaN)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.edit(&cfg)
			err := cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v; want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate(%+v) = nil; want %q", cfg, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q; want it to contain %q", err, w)
				}
			}
			if got, want := strings.Count(err.Error(), "\n")+1, len(tt.want); got != want {
				t.Errorf("Validate() gave %d problems; want %d:\n%v", got, want, err)
			}
		})
	}
	if _, err := New("", DefaultConfig(), nil); err == nil || !strings.Contains(err.Error(), "name must not be empty") {
		t.Errorf("New with an empty name: err = %v; want a name error", err)
	}
}

func TestBackoffCap(t *testing.T) {
	cfg := DefaultConfig()
	cfg.BackoffBase, cfg.BackoffMax = 100*time.Millisecond, time.Second
	q := &Queue{cfg: cfg}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for n := 1; n <= len(want); n++ {
		if got := q.backoffCap(n); got != want[n-1]*time.Millisecond {
			t.Errorf("backoffCap(%d) = %v; want %v", n, got, want[n-1]*time.Millisecond)
		}
	}
	q.cfg.BackoffBase, q.cfg.BackoffMax = time.Nanosecond, MaxBackoff
	if got := q.backoffCap(MaxAttemptLimit); got != MaxBackoff {
		t.Errorf("backoffCap(100) from 1 ns = %v; want BackoffMax %v (no overflow)", got, MaxBackoff)
	}
}

// TestDrainRate fills the queue and checks that W workers at a service
// time S drain it at exactly W ÷ S jobs per second in the queue's own
// accounting, with timers on time, late (as on a busy host) or early:
// every worker's attempts are exactly S apart, the last job finishes at
// exactly ⌈jobs ÷ W⌉·S, and the busy time is exactly jobs × S. It runs in
// a synctest bubble with an injected clock whose timers fire off their
// time by a chosen amount, so a busy machine changes nothing and a late
// one is played exactly.
func TestDrainRate(t *testing.T) {
	const s = 20 * time.Millisecond
	for _, tt := range []struct {
		name  string
		clock *skewClock
	}{
		{"on time", late(0)},
		{"late 3ms", late(3 * time.Millisecond)},
		{"jitter to 4ms", jittery(4*time.Millisecond, 1)},
		{"late 3S", late(3 * s)},
		{"early", early()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { testDrainRate(t, tt.clock, s) })
		})
	}
}

func testDrainRate(t *testing.T, clock *skewClock, s time.Duration) {
	reg := prometheus.NewRegistry()
	cfg := DefaultConfig()
	cfg.Workers, cfg.ServiceTime, cfg.QueueLimit, cfg.Clock = 8, s, 1000, clock
	q, err := New("jobs", cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	log := traceAttempts(q)
	const jobs = 320
	start := time.Now()
	var ids []string
	for i := range jobs {
		id, err := q.Submit(nil)
		if err != nil {
			t.Fatalf("Submit %d: %v", i, err)
		}
		ids = append(ids, id)
	}
	// Mid-way, between two rounds of attempts (5 done, the 6th running),
	// every worker is busy and the rest wait, in virtual time, however
	// late the workers wake.
	time.Sleep(5*s + 3*s/4)
	if u, d := gauge(t, reg, "surge_target_utilisation"), gauge(t, reg, "surge_target_queue_depth"); u != 1 || d != jobs-6*8 {
		t.Errorf("mid-drain: utilisation %v, queue depth %v; want 1 and %d", u, d, jobs-6*8)
	}
	if st := q.Stats(); st.Done > 5*8 {
		t.Errorf("mid-drain: %d jobs done after 5.75 service times; at most %d fit", st.Done, 5*8)
	}
	waitFor(t, "the queue to drain", settled(q, jobs))

	var last time.Time
	for _, id := range ids {
		st, ok := q.Status(id)
		if !ok || st.State != Done {
			t.Fatalf("job %s: %+v; want done", id, st)
		}
		last = laterOf(last, st.Finished)
	}
	rounds := (jobs + cfg.Workers - 1) / cfg.Workers
	if got, want := last.Sub(start), time.Duration(rounds)*s; got != want {
		t.Errorf("the last job finished at start+%v; want exactly %v (%d rounds of %v)", got, want, rounds, s)
	}
	rate := jobs / last.Sub(start).Seconds()
	t.Logf("drained %d jobs by start+%v in the queue's accounting: %.1f jobs/s; W ÷ S = %.1f", jobs, last.Sub(start), rate, float64(cfg.Workers)/s.Seconds())
	log.check(t, s)
	if st := q.Stats(); st.Done != jobs || st.Attempts != jobs || st.Queued+st.Running+st.Retrying != 0 || st.BusyTime != jobs*s {
		t.Errorf("stats %+v; want %d done in %d attempts, nothing left, busy time exactly %v", st, jobs, jobs, jobs*s)
	}
	if u := gauge(t, reg, "surge_target_utilisation"); u != 0 {
		t.Errorf("drained: utilisation %v; want 0", u)
	}
}

// gauge reads the one series of a metric from reg.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.Metric) == 1 {
			m := mf.Metric[0]
			if m.Gauge != nil {
				return m.Gauge.GetValue()
			}
			return m.Counter.GetValue()
		}
	}
	t.Fatalf("no single series %s", name)
	return 0
}

// TestPoisonJobsDeadLetter checks that poison jobs fail exactly
// MaxAttempts times, with backoff growing, and end in the dead-letter
// queue, while good jobs succeed at once. It runs in a synctest bubble,
// so the gaps between attempts are the backoff the queue chose plus the
// 1 ms attempt, exactly, and not whatever a busy machine adds to them.
func TestPoisonJobsDeadLetter(t *testing.T) { synctest.Test(t, testPoisonJobsDeadLetter) }

func testPoisonJobsDeadLetter(t *testing.T) {
	const (
		poisonJobs  = 100
		goodJobs    = 50
		maxAttempts = 4
		base        = 20 * time.Millisecond
	)
	var mu sync.Mutex
	times := map[string][]time.Time{} // job id → start of each attempt
	cfg := DefaultConfig()
	cfg.Workers, cfg.MaxAttempts, cfg.BackoffBase, cfg.BackoffMax = 16, maxAttempts, base, time.Second
	cfg.Process = func(ctx context.Context, job Job) error {
		mu.Lock()
		times[job.ID] = append(times[job.ID], time.Now())
		if got, want := len(times[job.ID]), job.Attempt; got != want {
			t.Errorf("job %s: attempt numbered %d; want %d", job.ID, want, got)
		}
		mu.Unlock()
		time.Sleep(time.Millisecond)
		return nil // poison jobs fail anyway
	}
	reg := prometheus.NewRegistry()
	q := newQueue(t, cfg, reg)
	poison := map[string]bool{}
	for i := range poisonJobs + goodJobs {
		body := []byte(`{"n": 1}`)
		if i%3 < 2 { // 100 of 150
			body = []byte(`{"n": 1, "poison": true}`)
		}
		id, err := q.Submit(body)
		if err != nil {
			t.Fatal(err)
		}
		poison[id] = i%3 < 2
	}
	waitFor(t, "every job to settle", settled(q, poisonJobs+goodJobs))

	mu.Lock()
	defer mu.Unlock()
	gaps := make([][]time.Duration, maxAttempts) // gaps[n]: start of attempt n+1 − start of attempt n
	for id, p := range poison {
		s, ok := q.Status(id)
		if !ok {
			t.Fatalf("job %s forgotten", id)
		}
		if !p {
			if s.State != Done || s.Attempts != 1 || len(times[id]) != 1 {
				t.Errorf("good job %s: %s after %d attempts (%d runs); want done after 1", id, s.State, s.Attempts, len(times[id]))
			}
			continue
		}
		if s.State != Dead || s.Attempts != maxAttempts || len(times[id]) != maxAttempts || s.LastError != ErrPoison.Error() || !s.Poison {
			t.Errorf("poison job %s: %+v, %d runs; want dead after exactly %d attempts, last error %q", id, s, len(times[id]), maxAttempts, ErrPoison)
			continue
		}
		for n := 1; n < maxAttempts; n++ {
			gaps[n] = append(gaps[n], times[id][n].Sub(times[id][n-1]))
		}
	}
	// With full jitter the wait after failure n is uniform on
	// [0, base·2^(n−1)]: its mean doubles with each failure, and each
	// gap is the 1 ms attempt plus the wait (plus scheduling slack).
	var prevMean, firstMean time.Duration
	for n := 1; n < maxAttempts; n++ {
		limit := base << (n - 1)
		var sum, lo, hi time.Duration
		lo = time.Hour
		for _, g := range gaps[n] {
			sum += g
			lo, hi = min(lo, g), max(hi, g)
		}
		mean := sum / time.Duration(len(gaps[n]))
		t.Logf("gap after failure %d: mean %v (expected ≈ 1 ms + %v), min %v, max %v, cap %v", n, mean.Round(10*time.Microsecond), limit/2, lo.Round(10*time.Microsecond), hi.Round(10*time.Microsecond), limit)
		if hi > limit+100*time.Millisecond {
			t.Errorf("gap after failure %d reached %v; want at most the cap %v (+100 ms slack)", n, hi, limit)
		}
		// Expected ratios ≈ 21/11 and 41/21; the 100 draws keep each mean
		// within about 5% of the cap.
		if n > 1 && float64(mean) < 1.3*float64(prevMean) {
			t.Errorf("mean gap after failure %d is %v, after failure %d %v; want backoff growing (≥ 1.3×)", n, mean, n-1, prevMean)
		}
		if n == 1 {
			firstMean = mean
		} else if n == maxAttempts-1 && float64(mean) < 2*float64(firstMean) {
			t.Errorf("mean gap after failure %d is %v, after failure 1 %v; want at least 2× (≈ 3.7× expected)", n, mean, firstMean)
		}
		if n == maxAttempts-1 && (lo > limit/2 || hi < limit/2) {
			t.Errorf("gaps after failure %d all on one side of half the cap (%v..%v); want them spread by the jitter", n, lo, hi)
		}
		prevMean = mean
	}

	dl := q.DeadLetters()
	if len(dl) != poisonJobs {
		t.Errorf("%d dead letters; want %d", len(dl), poisonJobs)
	}
	for _, s := range dl {
		if !poison[s.ID] || s.State != Dead {
			t.Errorf("dead letter %+v; want only poison jobs, dead", s)
		}
	}
	want := fmt.Sprintf(`
# HELP surge_target_dlq_depth Jobs in the component's dead-letter queue.
# TYPE surge_target_dlq_depth gauge
surge_target_dlq_depth{component="jobs"} %d
# HELP surge_target_job_retries_total Failed job attempts that were retried.
# TYPE surge_target_job_retries_total counter
surge_target_job_retries_total{component="jobs"} %d
# HELP surge_target_jobs_accepted_total Jobs the queue accepted.
# TYPE surge_target_jobs_accepted_total counter
surge_target_jobs_accepted_total{component="jobs"} %d
# HELP surge_target_jobs_dead_total Jobs that failed every attempt and went to the dead-letter queue.
# TYPE surge_target_jobs_dead_total counter
surge_target_jobs_dead_total{component="jobs"} %d
# HELP surge_target_jobs_done_total Jobs that succeeded.
# TYPE surge_target_jobs_done_total counter
surge_target_jobs_done_total{component="jobs"} %d
# HELP surge_target_requests_total Operations the component served.
# TYPE surge_target_requests_total counter
surge_target_requests_total{component="jobs"} %d
`, poisonJobs, poisonJobs*(maxAttempts-1), poisonJobs+goodJobs, poisonJobs, goodJobs, poisonJobs*maxAttempts+goodJobs)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"surge_target_dlq_depth", "surge_target_job_retries_total", "surge_target_jobs_accepted_total",
		"surge_target_jobs_dead_total", "surge_target_jobs_done_total", "surge_target_requests_total"); err != nil {
		t.Error(err)
	}
}

// TestHTTPStatuses walks jobs through every state over real loopback
// HTTP, with one worker and attempts that finish when the test says.
func TestHTTPStatuses(t *testing.T) {
	started := make(chan string)
	finish := make(chan error)
	cfg := DefaultConfig()
	cfg.Workers, cfg.MaxAttempts, cfg.BackoffBase, cfg.BackoffMax = 1, 2, time.Millisecond, time.Millisecond
	cfg.Process = func(ctx context.Context, job Job) error {
		select {
		case started <- job.ID:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case err := <-finish:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	q := newQueue(t, cfg, nil)
	srv := httptest.NewServer(q)
	defer srv.Close()

	post := func(body string) string {
		t.Helper()
		resp, err := srv.Client().Post(srv.URL+"/jobs", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a struct{ ID string }
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			t.Fatalf("POST /jobs: decoding the answer: %v", err)
		}
		if resp.StatusCode != http.StatusAccepted || a.ID == "" {
			t.Fatalf("POST /jobs: status %d, id %q; want 202 and an id", resp.StatusCode, a.ID)
		}
		if loc := resp.Header.Get("Location"); loc != "/jobs/"+a.ID {
			t.Errorf("POST /jobs: Location %q; want /jobs/%s", loc, a.ID)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("POST /jobs: Content-Type %q; want application/json", ct)
		}
		return a.ID
	}
	get := func(id string) (int, Status) {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + "/jobs/" + id)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var s Status
		if resp.StatusCode == http.StatusOK {
			if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
				t.Fatalf("GET /jobs/%s: %v", id, err)
			}
		}
		return resp.StatusCode, s
	}
	expect := func(id string, state State, attempts int) Status {
		t.Helper()
		code, s := get(id)
		if code != 200 || s.State != state || s.Attempts != attempts || s.ID != id || s.MaxAttempts != 2 {
			t.Errorf("GET /jobs/%s: %d %+v; want 200, %s after %d attempts", id, code, s, state, attempts)
		}
		return s
	}

	a := post(`{"task":"a"}`)
	if got := <-started; got != a {
		t.Fatalf("started %s; want %s", got, a)
	}
	expect(a, Running, 1)
	b := post(`{"task":"b"}`)
	expect(b, Queued, 0)
	finish <- errors.New("db timeout") // a fails: retrying, b runs
	if got := <-started; got != b {
		t.Fatalf("started %s; want %s", got, b)
	}
	s := expect(a, Retrying, 1)
	if s.LastError != "db timeout" {
		t.Errorf("job a: last error %q; want %q", s.LastError, "db timeout")
	}
	expect(b, Running, 1)
	finish <- nil // b done, a runs again
	if got := <-started; got != a {
		t.Fatalf("started %s; want %s", got, a)
	}
	s = expect(b, Done, 1)
	if s.Finished.IsZero() {
		t.Error("done job b: no finished time")
	}
	finish <- nil
	waitFor(t, "job a done", func() bool { s, _ := q.Status(a); return s.State == Done })
	expect(a, Done, 2)

	p := post(`{"poison": true}`)
	for range 2 {
		<-started
		finish <- nil
	}
	waitFor(t, "the poison job dead", func() bool { s, _ := q.Status(p); return s.State == Dead })
	s = expect(p, Dead, 2)
	if !s.Poison || s.LastError != "poison job" {
		t.Errorf("poison job: %+v; want poison, last error %q", s, "poison job")
	}

	if code, _ := get("999"); code != http.StatusNotFound {
		t.Errorf("GET unknown job: %d; want 404", code)
	}
	resp, err := srv.Client().Get(srv.URL + "/jobs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET /jobs: %d, Allow %q; want 405, POST", resp.StatusCode, resp.Header.Get("Allow"))
	}
	resp, err = srv.Client().Post(srv.URL+"/jobs", "text/plain", strings.NewReader(strings.Repeat("x", cfg.MaxBodyBytes+1)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("POST of %d bytes: %d; want 413", cfg.MaxBodyBytes+1, resp.StatusCode)
	}
}

// TestQueueFull fills a one-worker queue: beyond QueueLimit waiting jobs,
// POST /jobs answers 503 with Retry-After.
func TestQueueFull(t *testing.T) {
	started := make(chan struct{}, 10)
	cfg := DefaultConfig()
	cfg.Workers, cfg.QueueLimit = 1, 2
	cfg.Process = func(ctx context.Context, job Job) error {
		started <- struct{}{}
		<-ctx.Done() // hold the worker until Close
		return ctx.Err()
	}
	reg := prometheus.NewRegistry()
	q, err := New("jobs", cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(q)
	defer srv.Close()
	post := func() *http.Response {
		t.Helper()
		resp, err := srv.Client().Post(srv.URL+"/jobs", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := post(); resp.StatusCode != 202 {
		t.Fatalf("first job: %d; want 202", resp.StatusCode)
	}
	<-started // the worker holds it: nothing waits
	for i := range 2 {
		if resp := post(); resp.StatusCode != 202 {
			t.Fatalf("waiting job %d of QueueLimit 2: %d; want 202", i+1, resp.StatusCode)
		}
	}
	resp := post()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("job beyond the limit: %d, Retry-After %q; want 503, 1", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if _, err := q.Submit(nil); !errors.Is(err, ErrQueueFull) {
		t.Errorf("Submit beyond the limit: %v; want ErrQueueFull", err)
	}
	if d := gauge(t, reg, "surge_target_queue_depth"); d != 2 {
		t.Errorf("queue depth %v; want 2", d)
	}

	// Close cancels the running attempt and refuses new jobs.
	closed := make(chan struct{})
	go func() { _ = q.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(time.Minute): // a hang guard
		t.Fatal("Close did not return with an attempt running")
	}
	if _, err := q.Submit(nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Close: %v; want ErrClosed", err)
	}
	if resp := post(); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("POST after Close: %d; want 503", resp.StatusCode)
	}
	if s, _ := q.Status("1"); s.State != Queued || s.Attempts != 0 {
		t.Errorf("job cut short by Close: %s after %d attempts; want queued, 0 (the attempt not counted)", s.State, s.Attempts)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP surge_target_rejected_total Requests or jobs the component shed, by reason.
# TYPE surge_target_rejected_total counter
surge_target_rejected_total{component="jobs",reason="closed"} 2
surge_target_rejected_total{component="jobs",reason="queue_full"} 2
`), "surge_target_rejected_total"); err != nil {
		t.Error(err)
	}
	if err := q.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestRecordsBounded checks that finished job records and dead letters
// are kept oldest-out within their bounds.
func TestRecordsBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Workers, cfg.ServiceTime, cfg.MaxAttempts = 2, 0, 1
	cfg.MaxRecords, cfg.DLQLimit = 5, 3
	reg := prometheus.NewRegistry()
	q := newQueue(t, cfg, reg)
	for i := range 40 {
		body := []byte(nil)
		if i%2 == 1 {
			body = []byte(`{"poison":true}`)
		}
		if _, err := q.Submit(body); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every job to settle", settled(q, 40))
	q.mu.Lock()
	records := len(q.jobs)
	q.mu.Unlock()
	if records != 5 {
		t.Errorf("%d job records kept; want MaxRecords = 5", records)
	}
	if _, ok := q.Status("1"); ok {
		t.Error("the first job is still known; want it forgotten")
	}
	dl := q.DeadLetters()
	if len(dl) != 3 {
		t.Errorf("%d dead letters; want DLQLimit = 3", len(dl))
	}
	if d := gauge(t, reg, "surge_target_dlq_depth"); d != 3 {
		t.Errorf("dlq depth %v; want 3", d)
	}
	if s := q.Stats(); s.Dead != 20 || s.Done != 20 || s.DeadLetters != 3 {
		t.Errorf("stats %+v; want 20 done, 20 dead, 3 dead letters", s)
	}
}

func TestPoisonFraction(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Workers, cfg.ServiceTime, cfg.MaxAttempts, cfg.PoisonFraction, cfg.QueueLimit = 4, 0, 1, 0.3, 1000
	q := newQueue(t, cfg, nil)
	for range 1000 {
		if _, err := q.Submit(nil); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every job to settle", settled(q, 1000))
	s := q.Stats()
	t.Logf("PoisonFraction 0.3: %d of 1000 jobs dead", s.Dead)
	if s.Dead < 250 || s.Dead > 350 {
		t.Errorf("%d of 1000 jobs dead; want about 300", s.Dead)
	}
}

func TestAttemptFailures(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Workers, cfg.MaxAttempts, cfg.AttemptTimeout = 1, 1, 20*time.Millisecond
	cfg.Process = func(ctx context.Context, job Job) error {
		switch string(job.Body) {
		case "panic":
			panic("bad job")
		case "hang":
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}
	q := newQueue(t, cfg, nil)
	for _, tt := range []struct{ body, wantErr string }{
		{"panic", "attempt panicked: bad job"},
		{"hang", context.DeadlineExceeded.Error()},
	} {
		id, err := q.Submit([]byte(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "job "+tt.body+" to die", func() bool { s, _ := q.Status(id); return s.State == Dead })
		if s, _ := q.Status(id); s.LastError != tt.wantErr {
			t.Errorf("job %q: last error %q; want %q", tt.body, s.LastError, tt.wantErr)
		}
	}
	// The worker survived the panic.
	id, _ := q.Submit([]byte("fine"))
	waitFor(t, "a job after the panic", func() bool { s, _ := q.Status(id); return s.State == Done })
}

// TestCloseEndsGoroutines checks that Close leaves no goroutine behind.
func TestCloseEndsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	cfg := DefaultConfig()
	cfg.Workers, cfg.MaxAttempts, cfg.BackoffBase, cfg.BackoffMax = 16, 3, time.Hour, time.Hour // retries wait on the scheduler
	cfg.PoisonFraction = 0.5
	q, err := New("jobs", cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if _, err := q.Submit(nil); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(20 * time.Millisecond) // some running, some in backoff
	_ = q.Close()
	waitFor(t, "the queue's goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

// TestSharedRegistry registers the queue beside the edge components on
// one registry: the shared metric names must agree on help and labels.
func TestSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	newQueue(t, DefaultConfig(), reg)
	if _, err := edge.NewRateLimiter("edge", edge.DefaultRateLimiterConfig(), reg); err != nil {
		t.Errorf("rate limiter beside the queue: %v", err)
	}
	if _, err := edge.NewBreaker("breaker", edge.DefaultBreakerConfig(), reg); err != nil {
		t.Errorf("breaker beside the queue: %v", err)
	}
	if _, err := reg.Gather(); err != nil {
		t.Error(err)
	}
	if _, err := New("jobs", DefaultConfig(), reg); err == nil {
		t.Error("a second queue named jobs: err = nil; want a registration error")
	}
}
