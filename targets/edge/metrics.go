package edge

import (
	"github.com/surgeload/surge/targets/internal/metricdef"

	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
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

// register registers cs on reg with the label component=name. When one
// fails it unregisters the ones already registered, so that a failed
// constructor leaves the registry as it was. A nil reg registers nothing.
func register(reg prometheus.Registerer, name string, cs ...prometheus.Collector) error {
	if reg == nil {
		return nil
	}
	reg = prometheus.WrapRegistererWith(prometheus.Labels{"component": name}, reg)
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return fmt.Errorf("register metrics of component %q: %w", name, err)
		}
	}
	return nil
}

// checkName reports a component name that cannot label its metrics.
func checkName(name string) error {
	if name == "" {
		return errors.New("name must not be empty (it labels the component's metrics)")
	}
	return nil
}
