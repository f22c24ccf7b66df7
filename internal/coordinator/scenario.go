package coordinator

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/surgeload/surge/internal/engine"
	"github.com/surgeload/surge/internal/schedule"
	"github.com/surgeload/surge/scenario"
)

// LoadPath is where stage k's load section was written: its own override,
// or the scenario's.
func LoadPath(sc *scenario.Scenario, k int) string {
	if sc.Stages[k].Load != nil {
		return fmt.Sprintf("stages[%d].load", k)
	}
	return "load"
}

// Spec converts a scenario's load section into the schedule's curve spec
// and arrival process.
func Spec(c *scenario.Curve) (schedule.Spec, schedule.Arrival, error) {
	var s schedule.Spec
	arrival := schedule.Uniform
	if c.Arrival != "" {
		a, err := schedule.ParseArrival(c.Arrival)
		if err != nil {
			return s, 0, err
		}
		arrival = a
	}
	switch {
	case c.Constant != nil:
		s.Constant = &schedule.Constant{Rate: float64(c.Constant.Rate), Duration: c.Constant.Duration.Std()}
	case c.Ramp != nil:
		s.Ramp = &schedule.Ramp{From: float64(c.Ramp.From), To: float64(c.Ramp.To), Duration: c.Ramp.Duration.Std()}
	case len(c.Steps) > 0:
		for _, st := range c.Steps {
			s.Steps = append(s.Steps, schedule.Step{Rate: float64(st.Rate), Duration: st.Duration.Std()})
		}
	case c.Diurnal != nil:
		d := c.Diurnal
		s.Diurnal = &schedule.Diurnal{DailyRequests: float64(d.DailyRequests), PeakMultiplier: float64(d.PeakMultiplier),
			PeakToTrough: float64(d.PeakToTrough), PeakHour: d.PeakHour, HourlyWeights: d.HourlyWeights, Duration: d.Duration.Std()}
	}
	for _, sp := range c.Spikes {
		s.Spikes = append(s.Spikes, schedule.Spike{At: sp.At.Offset.Std(), AtFraction: sp.At.Fraction,
			Multiplier: float64(sp.Multiplier), Ramp: sp.Ramp.Std(), Hold: sp.Hold.Std(), RampDown: sp.RampDown.Std()})
	}
	if c.Compress != nil {
		s.Compress = c.Compress.Factor()
	}
	return s, arrival, nil
}

// Schedules builds the exact schedule of every stage and checks it against
// the scenario's safety limits with the exact peak rate. A stage in mode
// capacity has none (nil): its search builds one per rate. Problems are
// positioned in the scenario file and match scenario.ErrInvalid.
func Schedules(sc *scenario.Scenario) ([]*schedule.Schedule, error) {
	var errs []error
	out := make([]*schedule.Schedule, len(sc.Stages))
	for k := range sc.Stages {
		if sc.StageMode(k) == scenario.ModeCapacity {
			continue // a search builds its own schedules, one per rate
		}
		path := LoadPath(sc, k)
		spec, arrival, err := Spec(sc.StageLoad(k))
		if err != nil {
			errs = append(errs, sc.Errorf(path, "%v", err))
			continue
		}
		curve, err := schedule.NewCurve(spec)
		if err != nil {
			errs = append(errs, sc.Errorf(path, "%v", err))
			continue
		}
		if max := float64(sc.Safety.MaxRate); max > 0 && curve.Peak() > max*(1+1e-12) {
			errs = append(errs, sc.Errorf(path, "peak rate %.2f/s is over safety.max_rate %v", curve.Peak(), sc.Safety.MaxRate))
		}
		if max := sc.Safety.MaxDuration.Std(); max > 0 && curve.Duration() > max {
			errs = append(errs, sc.Errorf(path, "the curve plays for %v, over safety.max_duration %v", curve.Duration(), sc.Safety.MaxDuration))
		}
		s, err := schedule.New(curve, arrival, sc.Seed)
		if err != nil {
			errs = append(errs, sc.Errorf(path, "%v", err))
			continue
		}
		out[k] = s
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// requests converts the scenario's request mix for the engine. Templates
// travel as written; every agent compiles them itself.
func requests(sc *scenario.Scenario) []engine.Request {
	out := make([]engine.Request, len(sc.Requests))
	for k, rq := range sc.Requests {
		er := engine.Request{Name: rq.Name, Method: rq.Method, Path: rq.Path, URL: rq.URL,
			Timeout: rq.Timeout.Std(), Weight: rq.Weight, Expect: rq.Expect}
		if len(rq.Headers) > 0 {
			er.Header = http.Header{}
			for name, v := range rq.Headers {
				er.Header.Set(name, v)
			}
		}
		if rq.Body != "" {
			er.Body = []byte(rq.Body)
		}
		out[k] = er
	}
	return out
}

// stageClient returns the client options and limits of stage k's
// assignments. Precedence, field by field: a limit pinned in cfg (a
// command-line flag the user set) wins; else the stage's client settings
// (its own block over the scenario's); else cfg.Limits (the command-line
// defaults) for the limits and the engine's defaults for the options.
// Drain follows the timeout: the effective timeout + 1s when the
// scenario supplies the timeout, else cfg.Limits.Drain; and at least the
// longest per-request timeout + 1s.
func stageClient(cfg Config, sc *scenario.Scenario, k int) (engine.ClientOptions, engine.Limits, error) {
	c := sc.StageClient(k)
	var o engine.ClientOptions
	var errs []error
	o.Mode = enumOf(&errs, "connections", c.ConnectionsOr(), map[string]engine.ConnMode{
		scenario.ConnectionsKeepAlive: engine.KeepAlive, scenario.ConnectionsPerRequest: engine.PerRequest})
	o.Protocol = enumOf(&errs, "protocol", c.ProtocolOr(), map[string]engine.Protocol{
		scenario.ProtocolHTTP1: engine.HTTP1, scenario.ProtocolH2: engine.HTTP2})
	o.Impl = enumOf(&errs, "implementation", c.ImplementationOr(), map[string]engine.Implementation{
		scenario.ImplementationSurge: engine.ImplNative, scenario.ImplementationNetHTTP: engine.ImplNetHTTP})
	o.Timing = enumOf(&errs, "timing", c.TimingOr(), map[string]engine.Timing{
		scenario.TimingDefault: engine.TimingDefault, scenario.TimingPrecise: engine.TimingPrecise})
	if err := errors.Join(errs...); err != nil {
		return o, engine.Limits{}, err
	}
	if c.InsecureSkipVerify != nil {
		o.InsecureSkipVerify = *c.InsecureSkipVerify
	}
	addrs, err := scenario.ExpandSourceAddresses(c.SourceAddresses)
	if err != nil {
		return o, engine.Limits{}, err
	}
	if len(addrs) > 0 {
		o.SourceAddrs = addrs
	}
	if c.FollowRedirects != nil {
		o.FollowRedirects = *c.FollowRedirects
	}
	if c.ConnectTimeout != nil {
		o.ConnectTimeout = c.ConnectTimeout.Std()
	}
	if c.FirstByteTimeout != nil {
		o.FirstByteTimeout = c.FirstByteTimeout.Std()
	}

	l, pin := cfg.Limits, cfg.Pinned
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
	if err := errors.Join(o.Validate(), l.Validate()); err != nil {
		return o, l, err
	}
	return o, l, nil
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
