package targets

import (
	"net/http"

	"github.com/surgeload/surge/targets/resource"
)

// BuildTopology gives the external tests the registry's build step: the
// handler of the named topology configured by cfg (as for StartTopology)
// and what stops what it owns, without a TCP listener. A test can then
// serve it on an in-memory network inside a synctest bubble, where a
// saturation check runs on fake time.
func BuildTopology(name string, cfg any) (http.Handler, func() error, error) {
	t, ok := lookup(name)
	if !ok {
		return nil, nil, unknown(name)
	}
	return t.build(cfg)
}

// SetSimClock makes c the Clock of the apps, dbs and CPUs of the
// topologies built until the returned function restores the system
// clock. Not for parallel tests.
func SetSimClock(c resource.Clock) (restore func()) {
	simClock = c
	return func() { simClock = nil }
}
