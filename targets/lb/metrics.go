package lb

import (
	"github.com/surgeload/surge/targets/internal/metricdef"

	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a request is shed, the values of the reason label of
// surge_target_rejected_total.
const (
	// ReasonUnhealthy: no backend was healthy (503).
	ReasonUnhealthy = "unhealthy"
	// ReasonQueueFull: MaxInFlight requests were in flight and QueueLimit
	// more were waiting (503).
	ReasonQueueFull = "queue_full"
	// ReasonQueueTimeout: the request waited QueueTimeout for a slot
	// (503).
	ReasonQueueTimeout = "queue_timeout"
)

// metrics are a Balancer's Prometheus collectors. Every series carries
// component=<the Balancer's name>, added by the wrapping registerer.
type metrics struct {
	collectors []prometheus.Collector

	poolWaits prometheus.Counter
	rejected  map[string]prometheus.Counter // by reason
	requests  prometheus.Counter
}

// newMetrics builds the metrics of b. Gauges are functions of b's state,
// read at scrape time.
func newMetrics(b *Balancer) *metrics {
	m := &metrics{
		poolWaits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricdef.PoolWaits,
			Help: metricdef.HelpPoolWaits,
		}),
		requests: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricdef.Requests,
			Help: metricdef.HelpRequests,
		}),
		rejected: make(map[string]prometheus.Counter),
	}
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: metricdef.Rejected,
		Help: metricdef.HelpRejected,
	}, []string{"reason"})
	for _, r := range []string{ReasonUnhealthy, ReasonQueueFull, ReasonQueueTimeout} {
		m.rejected[r] = rejected.WithLabelValues(r) // series exist from the start, at 0
	}
	utilisation := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: metricdef.Utilisation,
		Help: metricdef.HelpUtilisation,
	}, func() float64 { return float64(len(b.slots)) / float64(cap(b.slots)) })
	queueDepth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: metricdef.QueueDepth,
		Help: metricdef.HelpQueueDepth,
	}, func() float64 { return float64(b.waiting.Load()) })

	backendRequests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "surge_target_backend_requests_total",
		Help: "Requests forwarded to each backend and finished, whatever the outcome.",
	}, []string{"backend"})
	backendErrors := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "surge_target_backend_errors_total",
		Help: "Requests to each backend that failed in transport (answered 502).",
	}, []string{"backend"})
	checkFailures := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "surge_target_health_check_failures_total",
		Help: "Failed active health checks of each backend.",
	}, []string{"backend"})
	m.collectors = append(m.collectors, m.poolWaits, m.requests, rejected, utilisation, queueDepth,
		backendRequests, backendErrors, checkFailures)

	for _, be := range b.backends {
		be.requests = backendRequests.WithLabelValues(be.name)
		be.errors = backendErrors.WithLabelValues(be.name)
		be.checkFailures = checkFailures.WithLabelValues(be.name)
		labels := prometheus.Labels{"backend": be.name}
		m.collectors = append(m.collectors,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name:        "surge_target_backend_up",
				Help:        "1 if the backend is in rotation (healthy), 0 if health checks took it out.",
				ConstLabels: labels,
			}, func() float64 {
				if be.up.Load() {
					return 1
				}
				return 0
			}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name:        "surge_target_backend_in_flight",
				Help:        "Requests in flight to the backend.",
				ConstLabels: labels,
			}, func() float64 { return float64(be.inFlight.Load()) }),
		)
	}
	return m
}

// register registers every collector with reg, each series labelled
// component=name. It undoes its work on failure.
func (m *metrics) register(name string, reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	reg = prometheus.WrapRegistererWith(prometheus.Labels{"component": name}, reg)
	for i, c := range m.collectors {
		if err := reg.Register(c); err != nil {
			for _, done := range m.collectors[:i] {
				reg.Unregister(done)
			}
			return fmt.Errorf("register metrics: %w", err)
		}
	}
	return nil
}
