// Package metricdef holds the names and help texts of the metrics every
// target component exports, so that a bottleneck finder can compare
// components and so that they can share one registry: Prometheus refuses
// to register one metric name with two help texts.
package metricdef

// The metrics shared by the target components; each series carries the
// label component="instance name".
const (
	Utilisation     = "surge_target_utilisation"
	HelpUtilisation = "Busy fraction of the component's capacity, from 0 to 1."
	QueueDepth      = "surge_target_queue_depth"
	HelpQueueDepth  = "Requests or jobs waiting in the component's queue."
	PoolWaits       = "surge_target_pool_waits_total"
	HelpPoolWaits   = "Acquisitions that had to wait for a free slot, connection or worker."
	Rejected        = "surge_target_rejected_total"
	HelpRejected    = "Requests or jobs the component shed, by reason."
	Requests        = "surge_target_requests_total"
	HelpRequests    = "Operations the component served."
	Slots           = "surge_target_slots"
	HelpSlots       = "Capacity of the component: slots, connections or workers."
	BusySeconds     = "surge_target_busy_seconds_total"
	HelpBusySeconds = "Slot-seconds the component's slots were busy; its rate divided by surge_target_slots is the mean utilisation."
)
