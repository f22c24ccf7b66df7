package queue

import (
	"github.com/surgeload/surge/targets/internal/metricdef"

	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Names and help texts of the metrics shared by every target component.
// Prometheus requires one help text per metric name within a registry, so
// these must match the other targets packages word for word.
const (
	helpRequests    = metricdef.HelpRequests
	helpRejected    = metricdef.HelpRejected
	helpUtilisation = metricdef.HelpUtilisation
	helpQueueDepth  = metricdef.HelpQueueDepth
	helpDLQDepth    = "Jobs in the component's dead-letter queue."
)

// Rejection reasons, the values of the reason label of
// surge_target_rejected_total.
const (
	// ReasonQueueFull counts jobs refused because QueueLimit jobs waited.
	ReasonQueueFull = "queue_full"
	// ReasonClosed counts jobs refused after Close.
	ReasonClosed = "closed"
)

type metrics struct {
	collectors []prometheus.Collector

	attempts       prometheus.Counter
	rejectedFull   prometheus.Counter
	rejectedClosed prometheus.Counter
	accepted       prometheus.Counter
	done           prometheus.Counter
	dead           prometheus.Counter
	retries        prometheus.Counter
}

func newMetrics(q *Queue) metrics {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "surge_target_rejected_total", Help: helpRejected,
	}, []string{"reason"})
	m := metrics{
		attempts:       counter("surge_target_requests_total", helpRequests),
		rejectedFull:   rejected.WithLabelValues(ReasonQueueFull),
		rejectedClosed: rejected.WithLabelValues(ReasonClosed),
		accepted:       counter("surge_target_jobs_accepted_total", "Jobs the queue accepted."),
		done:           counter("surge_target_jobs_done_total", "Jobs that succeeded."),
		dead:           counter("surge_target_jobs_dead_total", "Jobs that failed every attempt and went to the dead-letter queue."),
		retries:        counter("surge_target_job_retries_total", "Failed job attempts that were retried."),
	}
	workers := float64(q.cfg.Workers)
	m.collectors = []prometheus.Collector{
		m.attempts, rejected, m.accepted, m.done, m.dead, m.retries,
		gauge("surge_target_utilisation", helpUtilisation, func() float64 {
			return float64(q.Stats().Running) / workers
		}),
		gauge("surge_target_queue_depth", helpQueueDepth, func() float64 {
			return float64(q.Stats().Queued)
		}),
		gauge("surge_target_queue_retrying", "Jobs waiting out a retry backoff.", func() float64 {
			q.mu.Lock()
			defer q.mu.Unlock()
			return float64(q.backoff.Len())
		}),
		gauge("surge_target_dlq_depth", helpDLQDepth, func() float64 {
			q.mu.Lock()
			defer q.mu.Unlock()
			return float64(q.dlq.len())
		}),
	}
	return m
}

// register registers the metrics on reg with the label component=name,
// all or none. A nil reg registers nothing.
func (m metrics) register(reg prometheus.Registerer, name string) error {
	if reg == nil {
		return nil
	}
	reg = prometheus.WrapRegistererWith(prometheus.Labels{"component": name}, reg)
	for i, c := range m.collectors {
		if err := reg.Register(c); err != nil {
			for _, done := range m.collectors[:i] {
				reg.Unregister(done)
			}
			return fmt.Errorf("register metrics of component %q: %w", name, err)
		}
	}
	return nil
}
