// Package queue is the asynchronous job queue of Surge's reference target
// topologies: an http.Handler that accepts jobs at once (POST /jobs
// answers 202 Accepted with the job's id) and has W workers run them
// later, with retries, exponential backoff with full jitter, and a
// dead-letter queue for jobs that never succeed.
//
//	q, err := queue.New("jobs", queue.DefaultConfig(), prometheus.DefaultRegisterer)
//	if err != nil {
//		return err
//	}
//	defer q.Close()
//	srv, err := targets.NewServer("127.0.0.1:0", q)
//
// The HTTP API:
//
//	POST /jobs       202 {"id":"17"} with Location: /jobs/17;
//	                 503 with Retry-After when the queue is full (or closed);
//	                 413 when the body is larger than Config.MaxBodyBytes
//	GET  /jobs/{id}  200 with the job's Status as JSON, 404 if unknown or forgotten
//
// Capacity: the workers drain jobs at Workers ÷ ServiceTime per second
// (each attempt holds a worker on a timer for ServiceTime, using no CPU,
// or runs Config.Process). Jobs beyond what the workers can take wait, up
// to QueueLimit of them; more are refused. A job whose attempt fails is
// retried after a random backoff, and after MaxAttempts failed attempts it
// is dead: it goes to the dead-letter queue. Poison jobs (a body with
// "poison": true, or a seeded fraction of all jobs) fail every attempt,
// so they end there after exactly MaxAttempts attempts.
//
// # Simulated time
//
// Attempts on the ServiceTime timer run on virtual deadlines, as the
// slots of targets/resource do. Each worker remembers when its last
// attempt ended in the model; its next attempt starts at the later of
// that instant and when the job became ready (submitted, or its backoff
// over), and ends exactly ServiceTime later. The worker sleeps on the
// Clock until then and never wakes before. A timer that fires late (a
// busy host) delays the worker's return but not the next attempt's
// start, so while jobs wait the attempts of a worker are exactly
// ServiceTime apart: the queue never drains faster than
// Workers ÷ ServiceTime, and lateness does not make it slower. Backoffs
// count from the attempt's virtual end. Stats.BusyTime and the
// utilisation and queue-depth gauges are in the same virtual time: a
// worker past its deadline but not yet awake is counted as having taken
// the next ready job. Attempts run by Config.Process are real time.
//
// Memory is bounded: at most QueueLimit jobs wait, Workers run, and the
// records of finished jobs (MaxRecords) and dead letters (DLQLimit) are
// kept oldest-out.
//
// Metrics, registered on the prometheus.Registerer given to New (nil
// registers none), each with the label component="<name>":
//
//	surge_target_utilisation           gauge    busy workers ÷ workers
//	surge_target_queue_depth           gauge    jobs queued for a worker (retries due included)
//	surge_target_queue_retrying        gauge    jobs waiting out a retry backoff
//	surge_target_dlq_depth             gauge    jobs in the dead-letter queue
//	surge_target_requests_total        counter  attempts the workers finished
//	surge_target_rejected_total{reason} counter jobs refused: "queue_full" or "closed"
//	surge_target_jobs_accepted_total   counter  jobs accepted
//	surge_target_jobs_done_total       counter  jobs that succeeded
//	surge_target_jobs_dead_total       counter  jobs that went to the dead-letter queue
//	surge_target_job_retries_total     counter  failed attempts that were retried
//
// Concurrency: a Queue is safe for concurrent use. It owns W worker
// goroutines and one retry scheduler, which end when Close returns.
package queue
