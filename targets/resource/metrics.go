package resource

import (
	"github.com/surgeload/surge/targets/internal/metricdef"

	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Names and help texts of the metrics. The first ones are shared by every
// target component, so that a bottleneck finder can compare components;
// Prometheus requires one help text per metric name within a registry, so
// these must match the other targets packages word for word.
const (
	metricUtilisation = "surge_target_utilisation"
	helpUtilisation   = metricdef.HelpUtilisation
	metricQueueDepth  = "surge_target_queue_depth"
	helpQueueDepth    = metricdef.HelpQueueDepth
	metricPoolWaits   = "surge_target_pool_waits_total"
	helpPoolWaits     = metricdef.HelpPoolWaits
	metricRejected    = "surge_target_rejected_total"
	helpRejected      = metricdef.HelpRejected
	metricRequests    = "surge_target_requests_total"
	helpRequests      = metricdef.HelpRequests

	metricSlots       = "surge_target_slots"
	helpSlots         = metricdef.HelpSlots
	metricBusySeconds = "surge_target_busy_seconds_total"
	helpBusySeconds   = metricdef.HelpBusySeconds
)

// ReasonQueueFull is the reason label of surge_target_rejected_total for
// operations refused with ErrQueueFull.
const ReasonQueueFull = "queue_full"

var (
	descUtilisation = prometheus.NewDesc(metricUtilisation, helpUtilisation, nil, nil)
	descQueueDepth  = prometheus.NewDesc(metricQueueDepth, helpQueueDepth, nil, nil)
	descPoolWaits   = prometheus.NewDesc(metricPoolWaits, helpPoolWaits, nil, nil)
	descRejected    = prometheus.NewDesc(metricRejected, helpRejected, []string{"reason"}, nil)
	descRequests    = prometheus.NewDesc(metricRequests, helpRequests, nil, nil)
	descSlots       = prometheus.NewDesc(metricSlots, helpSlots, nil, nil)
	descBusySeconds = prometheus.NewDesc(metricBusySeconds, helpBusySeconds, nil, nil)
)

// resourceCollector exposes a Resource's Stats, taken once per scrape so
// that the values of one scrape agree with each other.
type resourceCollector struct{ r *Resource }

func (c *resourceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descUtilisation
	ch <- descQueueDepth
	ch <- descPoolWaits
	ch <- descRejected
	ch <- descRequests
	ch <- descSlots
	ch <- descBusySeconds
}

func (c *resourceCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.r.Stats()
	ch <- prometheus.MustNewConstMetric(descUtilisation, prometheus.GaugeValue, s.Utilisation())
	ch <- prometheus.MustNewConstMetric(descQueueDepth, prometheus.GaugeValue, float64(s.Queued))
	ch <- prometheus.MustNewConstMetric(descPoolWaits, prometheus.CounterValue, float64(s.Waits))
	ch <- prometheus.MustNewConstMetric(descRejected, prometheus.CounterValue, float64(s.Rejected), ReasonQueueFull)
	ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(s.Served))
	ch <- prometheus.MustNewConstMetric(descSlots, prometheus.GaugeValue, float64(s.Slots))
	ch <- prometheus.MustNewConstMetric(descBusySeconds, prometheus.CounterValue, s.BusyTime.Seconds())
}

// register registers r's metrics on reg with the label component=r.name.
// A nil reg registers nothing.
func register(reg prometheus.Registerer, r *Resource) error {
	if reg == nil {
		return nil
	}
	reg = prometheus.WrapRegistererWith(prometheus.Labels{"component": r.name}, reg)
	if err := reg.Register(r.collector); err != nil {
		return fmt.Errorf("register metrics of component %q: %w", r.name, err)
	}
	return nil
}

// unregister undoes register for each of rs, so that a constructor that
// fails part way leaves reg as it was.
func unregister(reg prometheus.Registerer, rs ...*Resource) {
	if reg == nil {
		return
	}
	for _, r := range rs {
		prometheus.WrapRegistererWith(prometheus.Labels{"component": r.name}, reg).Unregister(r.collector)
	}
}
