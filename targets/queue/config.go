package queue

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Limits of a Config.
const (
	// MaxWorkers bounds Workers.
	MaxWorkers = 10_000
	// MaxQueueLimit bounds QueueLimit.
	MaxQueueLimit = 1_000_000
	// MaxServiceTime bounds ServiceTime and AttemptTimeout.
	MaxServiceTime = time.Hour
	// MaxAttemptLimit bounds MaxAttempts.
	MaxAttemptLimit = 100
	// MaxBackoff bounds BackoffBase and BackoffMax.
	MaxBackoff = 24 * time.Hour
	// MaxRecordLimit bounds MaxRecords and DLQLimit.
	MaxRecordLimit = 10_000_000
	// MaxBodyLimit bounds MaxBodyBytes.
	MaxBodyLimit = 16 << 20
	// maxPoisonField bounds the length of PoisonField.
	maxPoisonField = 256
)

// Job is one attempt at a job, as given to Config.Process.
type Job struct {
	// ID is the job's id, as answered to POST /jobs.
	ID string
	// Body is the request body the job was submitted with. It is shared
	// by all attempts: do not modify it.
	Body []byte
	// Attempt numbers this attempt, from 1 to MaxAttempts.
	Attempt int
	// Poison reports a poison job: its attempt fails whatever Process
	// returns.
	Poison bool
}

// Config configures a Queue.
type Config struct {
	// Workers is W, how many jobs are run at once, from 1 to
	// MaxWorkers. Default 4.
	Workers int

	// QueueLimit bounds the jobs waiting: queued for a worker, or
	// waiting out a retry backoff. A job submitted at the bound is
	// refused (503 over HTTP, ErrQueueFull from Submit). From 1 to
	// MaxQueueLimit. Default 1000.
	QueueLimit int

	// ServiceTime is how long one attempt holds its worker, on a timer,
	// when Process is nil; from 0 to MaxServiceTime. The queue then
	// drains at Workers ÷ ServiceTime jobs per second, however busy the
	// host (see Simulated time in the package documentation). Default
	// 50 ms.
	ServiceTime time.Duration

	// Process, when set, runs each attempt instead of the ServiceTime
	// timer: a nil error is success. It is called from the worker
	// goroutines, W at a time, and must return when ctx is done (at
	// Close, or after AttemptTimeout). A panic in it is a failed
	// attempt. Nil means the ServiceTime timer, which always succeeds.
	Process func(ctx context.Context, job Job) error

	// AttemptTimeout bounds one attempt: its ctx is cancelled after this
	// long and the attempt fails. From 0 (no bound) to MaxServiceTime.
	// Default 0.
	AttemptTimeout time.Duration

	// MaxAttempts is how many attempts a job gets before it is dead, from
	// 1 (no retries) to MaxAttemptLimit. Default 5.
	MaxAttempts int

	// BackoffBase and BackoffMax shape the wait before a retry, with
	// "full jitter": after the n-th failed attempt the job waits a time
	// drawn uniformly from [0, min(BackoffMax, BackoffBase·2^(n−1))],
	// so the bound doubles with each failure while the random draw keeps
	// retries of many jobs from arriving in lockstep. BackoffBase is
	// from above 0 to MaxBackoff (default 100 ms), BackoffMax from
	// BackoffBase to MaxBackoff (default 10 s).
	BackoffBase time.Duration
	BackoffMax  time.Duration

	// PoisonField names a JSON field that marks a poison job: a job
	// whose body is a JSON object with this field set to true fails
	// every attempt. Empty switches the check off. Default "poison".
	PoisonField string

	// PoisonFraction makes each job poison with this probability, drawn
	// at submission, from 0 to 1. Default 0.
	PoisonFraction float64

	// Seed seeds the random draws (backoff jitter, PoisonFraction), so
	// that a run can be repeated. Default 1.
	Seed uint64

	// MaxRecords bounds the records of finished (done or dead) jobs kept
	// for GET /jobs/{id}; the oldest finished is forgotten first. From 1
	// to MaxRecordLimit. Default 10000.
	MaxRecords int

	// DLQLimit bounds the dead-letter queue; the oldest dead letter is
	// dropped first (the surge_target_dlq_depth metric then stays at the
	// bound). From 1 to MaxRecordLimit. Default 1000.
	DLQLimit int

	// MaxBodyBytes is the largest job body accepted, from 0 to
	// MaxBodyLimit; a larger one gets 413 (ErrBodyTooLarge from Submit).
	// Bodies are held until their job finishes, so the queue holds at
	// most (QueueLimit + Workers) × MaxBodyBytes of them. Default 64 KiB.
	MaxBodyBytes int

	// Clock is the time service times, backoffs and the jobs' timestamps
	// run on. Nil: the system clock. Tests inject a fake one.
	Clock Clock
}

// DefaultConfig returns 4 workers at 50 ms an attempt (80 jobs per
// second), a queue of 1000, 5 attempts with backoff from 100 ms to 10 s,
// poison jobs marked by "poison": true, and bounded records.
func DefaultConfig() Config {
	return Config{
		Workers:      4,
		QueueLimit:   1000,
		ServiceTime:  50 * time.Millisecond,
		MaxAttempts:  5,
		BackoffBase:  100 * time.Millisecond,
		BackoffMax:   10 * time.Second,
		PoisonField:  "poison",
		Seed:         1,
		MaxRecords:   10_000,
		DLQLimit:     1000,
		MaxBodyBytes: 64 << 10,
	}
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.Workers >= 1 && c.Workers <= MaxWorkers, "workers must be from 1 to %d (got %d)", MaxWorkers, c.Workers)
	check(c.QueueLimit >= 1 && c.QueueLimit <= MaxQueueLimit, "queue limit must be from 1 to %d (got %d)", MaxQueueLimit, c.QueueLimit)
	check(c.ServiceTime >= 0 && c.ServiceTime <= MaxServiceTime, "service time must be from 0 to %v (got %v)", MaxServiceTime, c.ServiceTime)
	check(c.AttemptTimeout >= 0 && c.AttemptTimeout <= MaxServiceTime, "attempt timeout must be from 0 (none) to %v (got %v)", MaxServiceTime, c.AttemptTimeout)
	check(c.MaxAttempts >= 1 && c.MaxAttempts <= MaxAttemptLimit, "max attempts must be from 1 to %d (got %d)", MaxAttemptLimit, c.MaxAttempts)
	check(c.BackoffBase > 0 && c.BackoffBase <= MaxBackoff, "backoff base must be above 0 and at most %v (got %v)", MaxBackoff, c.BackoffBase)
	check(c.BackoffMax >= max(c.BackoffBase, 1) && c.BackoffMax <= MaxBackoff, "backoff max must be from backoff base (%v) to %v (got %v)", c.BackoffBase, MaxBackoff, c.BackoffMax)
	check(len(c.PoisonField) <= maxPoisonField, "poison field must be at most %d bytes (got %d)", maxPoisonField, len(c.PoisonField))
	check(c.PoisonFraction >= 0 && c.PoisonFraction <= 1, "poison fraction must be from 0 to 1 (got %g)", c.PoisonFraction)
	check(c.MaxRecords >= 1 && c.MaxRecords <= MaxRecordLimit, "max records must be from 1 to %d (got %d)", MaxRecordLimit, c.MaxRecords)
	check(c.DLQLimit >= 1 && c.DLQLimit <= MaxRecordLimit, "dlq limit must be from 1 to %d (got %d)", MaxRecordLimit, c.DLQLimit)
	check(c.MaxBodyBytes >= 0 && c.MaxBodyBytes <= MaxBodyLimit, "max body bytes must be from 0 to %d (got %d)", MaxBodyLimit, c.MaxBodyBytes)
	return errors.Join(errs...)
}
