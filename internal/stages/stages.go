package stages

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/surgeload/surge/internal/engine"
	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/internal/schedule"
	"github.com/surgeload/surge/scenario"
)

// Overrides are the command line's settings that change what a scenario
// plays. The zero value overrides nothing and leaves the limits at
// engine.DefaultLimits.
type Overrides struct {
	// CheckOptions, when set, checks a bundled stage's options against
	// its topology's configuration (the coordinator's targets.DecodeConfig);
	// nil leaves them to the start of the stage.
	CheckOptions func(topology string, options []byte) error
	// Limits are sent to every agent with each assignment, except where a
	// stage's client settings in the scenario (client.max_conns, timeout,
	// max_in_flight, max_body) say otherwise — unless Pinned says the
	// field was set explicitly (a command-line flag), which then wins for
	// every stage. Drain is the effective timeout + 1s when the scenario
	// sets the timeout, else Limits.Drain. The zero value means
	// engine.DefaultLimits.
	Limits engine.Limits
	// Pinned marks the fields of Limits the user set explicitly, on the
	// command line: they override the scenario's client blocks.
	Pinned PinnedLimits
	// Capacity makes every stage search its capacity, as if each had
	// mode: capacity (see scenario.Search).
	Capacity bool
	// Search overrides the scenario's search settings, field by field, in
	// every stage that searches.
	Search SearchOverrides
}

// PinnedLimits marks the fields of Overrides.Limits that override the
// scenario's client settings in every stage. The zero value pins nothing:
// the scenario's values win over Overrides.Limits wherever it sets them.
type PinnedLimits struct {
	MaxInFlight, Timeout, MaxBodyBytes, MaxConns bool
}

// SearchOverrides are command-line settings of a capacity search: they
// replace the scenario's search settings field by field, for every stage
// that searches. Zero fields leave the scenario's value.
type SearchOverrides struct {
	Method   string
	Start    float64
	Max      float64
	Hold     time.Duration
	SLO      []string
	MaxSteps int
}

// Stage is one playable stage.
type Stage struct {
	// Index is the stage's position in the scenario.
	Index int
	// Name, Bundled and URL are the scenario stage's.
	Name, Bundled, URL string
	// Options configure the bundled topology (JSON, merged over its
	// defaults); nil for its defaults.
	Options []byte
	// Schedule is the stage's exact schedule; nil when it searches its
	// capacity (Search is set then: the search builds one per rate).
	Schedule *schedule.Schedule
	// Search is the search's settings, overrides and defaults applied, for
	// a stage that searches its capacity; nil otherwise.
	Search *scenario.Search
	// Arrival is the search's arrival process (Search only).
	Arrival schedule.Arrival
	// Client and Limits are what every assignment of the stage carries
	// (see Client for the precedence).
	Client engine.ClientOptions
	Limits engine.Limits
	// ClientErr is why the stage's client settings cannot be played; the
	// stage fails when it is reached (the stages before it still play).
	ClientErr error
}

// Plan is a compiled scenario: what a run plays.
type Plan struct {
	// Scenario is what was compiled; its thresholds, safety settings and
	// data are read while the run plays.
	Scenario *scenario.Scenario
	// Requests is the request mix as the engine takes it, the same in
	// every stage.
	Requests []engine.Request
	// Journeys replace Requests in a journey scenario.
	Journeys []engine.Journey
	// Stages are the scenario's stages, in order.
	Stages []Stage
}

// Names returns the series names, by series index.
func (p *Plan) Names() []string {
	names, _, _ := p.Series()
	return names
}

// Series returns the series layout every assignment records (see
// engine.Job.Series): names, kinds, and how many are arrivals.
func (p *Plan) Series() (names []string, kinds []metrics.Kind, arrivals int) {
	j := engine.Job{Requests: p.Requests, Journeys: p.Journeys}
	return j.Series()
}

// Compile turns sc, with the command line's overrides, into the playable
// stages: every stage's exact schedule checked against the safety limits,
// or its search settings checked; and its client settings. Problems of
// the scenario match scenario.ErrInvalid; those of its schedules are
// positioned in the scenario file.
func Compile(sc *scenario.Scenario, o Overrides) (*Plan, error) {
	if o.Limits == (engine.Limits{}) {
		o.Limits = engine.DefaultLimits()
	}
	scheds, err := Schedules(sc)
	if err != nil {
		return nil, err
	}
	p := &Plan{Scenario: sc, Requests: Requests(sc), Journeys: Journeys(sc), Stages: make([]Stage, len(sc.Stages))}
	for k, st := range sc.Stages {
		s := Stage{Index: k, Name: st.Name, Bundled: st.Bundled, URL: st.URL, Schedule: scheds[k], Options: st.Options}
		if len(st.Options) > 0 && st.Bundled == "" {
			return nil, sc.Errorf(fmt.Sprintf("stages[%d].options", k), "options configure a bundled topology: this stage has a url")
		}
		if len(st.Options) > 0 && o.CheckOptions != nil {
			if err := o.CheckOptions(st.Bundled, st.Options); err != nil {
				return nil, sc.Errorf(fmt.Sprintf("stages[%d].options", k), "%v", err)
			}
		}
		switch {
		case o.Capacity || sc.StageMode(k) == scenario.ModeCapacity:
			cfg, err := Search(sc, k, o.Search)
			if err != nil {
				return nil, err
			}
			arrival, err := schedule.ParseArrival(cfg.Arrival)
			if err != nil {
				return nil, fmt.Errorf("%w: stage %s: %w", scenario.ErrInvalid, st.Name, err)
			}
			s.Schedule, s.Search, s.Arrival = nil, &cfg, arrival
		case scheds[k] == nil:
			return nil, fmt.Errorf("%w: stage %s has no load to play", scenario.ErrInvalid, st.Name)
		}
		s.Client, s.Limits, s.ClientErr = Client(o, sc, k)
		p.Stages[k] = s
	}
	return p, nil
}

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

// Requests converts the scenario's request mix for the engine. Templates
// travel as written; every agent compiles them itself.
func Requests(sc *scenario.Scenario) []engine.Request {
	out := make([]engine.Request, len(sc.Requests))
	for k := range sc.Requests {
		out[k] = request(&sc.Requests[k])
	}
	return out
}

func request(rq *scenario.Request) engine.Request {
	er := engine.Request{Name: rq.Name, Method: rq.Method, Path: rq.Path, URL: rq.URL,
		Timeout: rq.Timeout.Std(), Weight: rq.Weight, Expect: rq.Expect, Checks: rq.Checks}
	if len(rq.Headers) > 0 {
		er.Header = http.Header{}
		for name, v := range rq.Headers {
			er.Header.Set(name, v)
		}
	}
	if rq.Body != "" {
		er.Body = []byte(rq.Body)
	}
	return er
}

var thinkDists = map[string]engine.ThinkDist{
	scenario.ThinkFixed: engine.ThinkFixed, scenario.ThinkUniform: engine.ThinkUniform, scenario.ThinkExponential: engine.ThinkExponential,
}

// Journeys converts the scenario's journeys for the engine.
func Journeys(sc *scenario.Scenario) []engine.Journey {
	var out []engine.Journey
	for _, j := range sc.Journeys {
		ej := engine.Journey{Name: j.Name, Weight: j.Weight, NoCookies: !j.CookiesOn(), ContinueOnError: j.OnError == scenario.OnErrorContinue}
		for k := range j.Steps {
			st := &j.Steps[k]
			var es engine.Step
			if st.Think != nil {
				t := st.Think
				es.Think = &engine.Think{Dist: thinkDists[t.Dist], Fixed: t.Fixed.Std(), Min: t.Min.Std(), Max: t.Max.Std(), Mean: t.Mean.Std()}
			} else {
				es.Request = request(&st.Request)
				es.Loop = st.Loop
				for _, e := range st.Extract {
					es.Extract = append(es.Extract, engine.Extraction{Var: e.Var, Spec: e.Spec})
				}
			}
			ej.Steps = append(ej.Steps, es)
		}
		out = append(out, ej)
	}
	return out
}
