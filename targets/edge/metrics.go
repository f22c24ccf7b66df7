package edge

import (
	"github.com/surgeload/surge/targets/internal/metricdef"
)

// Names and help texts of the metrics. The first ones are shared by every
// target component, from metricdef: Prometheus requires one help text per
// metric name within a registry.
const (
	metricRequests    = metricdef.Requests
	helpRequests      = metricdef.HelpRequests
	metricRejected    = metricdef.Rejected
	helpRejected      = metricdef.HelpRejected
	metricUtilisation = metricdef.Utilisation
	helpUtilisation   = metricdef.HelpUtilisation

	metricBreakerState       = "surge_target_breaker_state"
	helpBreakerState         = "Circuit breaker state: 0 closed, 1 open, 2 half-open."
	metricBreakerTransitions = "surge_target_breaker_transitions_total"
	helpBreakerTransitions   = "Circuit breaker state changes, by the state entered."
)

// Rejection reasons, the values of the reason label of
// surge_target_rejected_total.
const (
	// ReasonRateLimited counts requests a RateLimiter refused.
	ReasonRateLimited = "rate_limited"
	// ReasonBreakerOpen counts calls a Breaker refused, open or half-open.
	ReasonBreakerOpen = "breaker_open"
)
