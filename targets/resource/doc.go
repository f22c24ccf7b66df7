// Package resource is the capacity model of Surge's reference targets:
// components with explicit, configurable capacities, so that they
// saturate where capacity-planning arithmetic says they will.
//
// The building block is a [Resource]: N slots, a bounded first-in-first-out
// queue in front of them, and service times drawn per operation from a
// distribution ([Dist]: constant, exponential, log-normal, uniform;
// seeded). An operation holds a slot for its service time on a timer, so
// a Resource models work without burning CPU that the load generator on
// the same machine needs. Service times are virtual deadlines on a
// [Clock] (see Simulated time on [Resource]): a slot's queued operations
// complete exactly their costs apart, so a busy host can neither push a
// Resource past its capacity nor, at saturation, below it. Its
// saturation throughput is Slots ÷ mean service time, and its latency
// follows a queue's hockey stick: near the service time at half load,
// climbing steeply past 80–90 %.
//
// On it are built:
//
//   - [AppServer], an http.Handler with a concurrency limit and a service
//     time that answers 503 with Retry-After when its queue is full;
//   - [DB], a primary database with read and write costs and a
//     connection pool;
//   - [SharedBox], stage 1 of the staircase: an AppServer and a DB whose
//     work is charged to one shared budget of CPU slots.
//
// A first program:
//
//	reg := prometheus.NewRegistry()
//	app, err := resource.NewAppServer("app", resource.DefaultAppServerConfig(), reg)
//	if err != nil {
//		return err
//	}
//	srv := httptest.NewServer(app) // or targets.NewServer("127.0.0.1:0", app)
//	defer srv.Close()
//
// # Metrics
//
// Each component registers one set of series on the prometheus.Registerer
// it is given (none when nil), every series labelled
// component="<instance name>":
//
//	surge_target_utilisation              gauge    busy slots ÷ slots (connections in use ÷ pool for a DB)
//	surge_target_queue_depth              gauge    operations waiting for a slot
//	surge_target_pool_waits_total         counter  acquisitions that found no free slot and queued
//	surge_target_rejected_total{reason}   counter  operations refused with ErrQueueFull (reason="queue_full")
//	surge_target_requests_total           counter  operations served (held their slot to the end)
//	surge_target_slots                    gauge    the configured slots (capacity)
//	surge_target_busy_seconds_total       counter  slot-seconds busy; rate ÷ slots = mean utilisation
//
// The utilisation gauge is the state at the scrape; the busy-seconds
// counter gives the mean over any interval, which is what a bottleneck
// finder should compare. The same values are available without Prometheus
// from [Resource.Stats].
//
// # Concurrency
//
// Every type is safe for concurrent use once built. Nothing here starts a
// goroutine: an operation's wait runs on the caller's goroutine, so there
// is nothing to Close. An operation whose context ends leaves the queue or
// its slot at once and returns ctx.Err().
//
// The package stands alone: it never imports the load-generation side of
// Surge.
package resource
