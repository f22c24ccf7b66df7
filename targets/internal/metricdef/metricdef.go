package metricdef

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

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

// Register registers cs on reg with the label component=name. When one
// fails it unregisters the ones already registered, so that a failed
// constructor leaves the registry as it was. A nil reg registers nothing.
func Register(reg prometheus.Registerer, name string, cs ...prometheus.Collector) error {
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

// CheckName reports a component name that cannot label its metrics.
func CheckName(name string) error {
	if name == "" {
		return errors.New("name must not be empty (it labels the component's metrics)")
	}
	return nil
}

// The metrics of the shop flow every topology serves (component="shop").
const (
	AuthRequests         = "surge_target_auth_requests_total"
	HelpAuthRequests     = "Requests to the shop's authenticated routes, by outcome: ok, missing_token, unknown_token, missing_cookie, unknown_session or mismatch (a token of one session with another session's cookie)."
	Logins               = "surge_target_logins_total"
	HelpLogins           = "Successful logins (POST /login answered 200)."
	Checkouts            = "surge_target_checkouts_total"
	HelpCheckouts        = "Orders placed (POST /checkout answered 201)."
	Sessions             = "surge_target_sessions"
	HelpSessions         = "Sessions the shop holds now."
	SessionEvictions     = "surge_target_session_evictions_total"
	HelpSessionEvictions = "Sessions dropped, least recently used first, to keep within the session bound."
)
