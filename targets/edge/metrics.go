package edge

import (
	"github.com/surgeload/surge/targets/internal/metricdef"
)

// Names and help texts of the metrics shared by every target component.
// Prometheus requires one help text per metric name within a registry, so
// these must match the other targets packages word for word.
const (
	metricRequests    = "surge_target_requests_total"
	helpRequests      = metricdef.HelpRequests
	metricRejected    = "surge_target_rejected_total"
	helpRejected      = metricdef.HelpRejected
	metricUtilisation = "surge_target_utilisation"
	helpUtilisation   = metricdef.HelpUtilisation

	metricBreakerState       = "surge_target_breaker_state"
	helpBreakerState         = "Circuit breaker state: 0 closed, 1 half-open, 2 open."
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
