package stages

import (
	"errors"
	"fmt"
	"time"

	"github.com/surgeload/surge/internal/engine"
	"github.com/surgeload/surge/scenario"
)

// Client returns the client options and limits of stage k's assignments.
// Precedence, field by field: a limit pinned in o (a command-line flag the
// user set) wins; else the stage's client settings (its own block over the
// scenario's); else o.Limits (the command-line defaults) for the limits
// and the engine's defaults for the options. Drain follows the timeout:
// the effective timeout + 1s when the scenario supplies the timeout, else
// o.Limits.Drain; and at least the longest per-request timeout + 1s.
func Client(o Overrides, sc *scenario.Scenario, k int) (engine.ClientOptions, engine.Limits, error) {
	c := sc.StageClient(k)
	var opts engine.ClientOptions
	var errs []error
	opts.Mode = enumOf(&errs, "connections", c.ConnectionsOr(), map[string]engine.ConnMode{
		scenario.ConnectionsKeepAlive: engine.KeepAlive, scenario.ConnectionsPerRequest: engine.PerRequest})
	opts.Protocol = enumOf(&errs, "protocol", c.ProtocolOr(), map[string]engine.Protocol{
		scenario.ProtocolHTTP1: engine.HTTP1, scenario.ProtocolH2: engine.HTTP2})
	opts.Impl = enumOf(&errs, "implementation", c.ImplementationOr(), map[string]engine.Implementation{
		scenario.ImplementationSurge: engine.ImplNative, scenario.ImplementationNetHTTP: engine.ImplNetHTTP})
	opts.Timing = enumOf(&errs, "timing", c.TimingOr(), map[string]engine.Timing{
		scenario.TimingDefault: engine.TimingDefault, scenario.TimingPrecise: engine.TimingPrecise})
	if err := errors.Join(errs...); err != nil {
		return opts, engine.Limits{}, err
	}
	if c.InsecureSkipVerify != nil {
		opts.InsecureSkipVerify = *c.InsecureSkipVerify
	}
	addrs, err := scenario.ExpandSourceAddresses(c.SourceAddresses)
	if err != nil {
		return opts, engine.Limits{}, err
	}
	if len(addrs) > 0 {
		opts.SourceAddrs = addrs
	}
	if c.FollowRedirects != nil {
		opts.FollowRedirects = *c.FollowRedirects
	}
	if c.ConnectTimeout != nil {
		opts.ConnectTimeout = c.ConnectTimeout.Std()
	}
	if c.FirstByteTimeout != nil {
		opts.FirstByteTimeout = c.FirstByteTimeout.Std()
	}
	// TLS files travel as their contents (agents may run elsewhere); the
	// scenario's checks read them.
	opts.RootCAs, opts.ClientCert, opts.ClientKey = c.CAPEM, c.CertPEM, engine.Secret(c.KeyPEM)
	if c.ServerName != nil {
		opts.ServerName = *c.ServerName
	}

	l, pin := o.Limits, o.Pinned
	if c.MaxInFlight != nil && !pin.MaxInFlight {
		l.MaxInFlight = *c.MaxInFlight
	}
	if c.MaxBody != nil && !pin.MaxBodyBytes {
		l.MaxBodyBytes = int64(*c.MaxBody)
	}
	if c.MaxConns != nil && !pin.MaxConns {
		l.MaxConns = *c.MaxConns
	}
	if c.Timeout != nil && !pin.Timeout {
		l.Timeout = c.Timeout.Std()
		l.Drain = l.Timeout + time.Second // wait for in-flight requests as long as they may take
	}
	// A request's own timeout may be longer than the stage's: drain as long
	// as the longest, or such requests would be cut off and reported in
	// flight at the end.
	for _, r := range sc.Requests {
		if d := r.Timeout.Std() + time.Second; d > l.Drain {
			l.Drain = d
		}
	}
	// A journey that starts at the last arrival plays all its steps:
	// drain as long as the longest journey may take (every think at its
	// longest, every request at its timeout), within the engine's bound.
	for _, j := range sc.Journeys {
		var d time.Duration
		for _, st := range j.Steps {
			if t := st.Think; t != nil {
				d += max(t.Fixed.Std(), t.Max.Std(), min(t.Mean.Std()*scenario.ExpThinkCap, scenario.MaxThink.Std()))
				continue
			}
			timeout := st.Timeout.Std()
			if timeout == 0 {
				timeout = l.Timeout
			}
			d += time.Duration(max(st.Loop, 1)) * timeout
		}
		l.Drain = max(l.Drain, min(d+time.Second, maxDrain))
	}
	if err := errors.Join(opts.Validate(), l.Validate()); err != nil {
		return opts, l, err
	}
	return opts, l, nil
}

// enumOf maps a scenario enum value to the engine's, recording an unknown
// one (which validation should have refused) in errs.
func enumOf[T any](errs *[]error, field, v string, m map[string]T) T {
	e, ok := m[v]
	if !ok {
		*errs = append(*errs, fmt.Errorf("unknown %s %q", field, v))
	}
	return e
}

// maxDrain is the engine's bound on Limits.Drain.
const maxDrain = 2 * time.Hour
