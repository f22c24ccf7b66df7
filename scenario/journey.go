package scenario

import (
	"github.com/surgeload/surge/internal/extract"
)

// Journey limits.
const (
	// MaxJourneys bounds the journeys of a scenario, and MaxJourneySteps
	// the request steps of all journeys together (think steps are not
	// counted): each request step keeps its own histograms on every
	// agent, as a request of the mix does.
	MaxJourneys     = 16
	MaxJourneySteps = 64
	// MaxLoop bounds a step's loop count.
	MaxLoop = 1000
	// MaxThink bounds a think time, and any draw of a distribution.
	MaxThink = Duration(3600e9)
	// ExpThinkCap caps an exponential think time's draw at this many
	// times its mean (and at MaxThink).
	ExpThinkCap = 20
)

// Journey is a user's path through the service: its steps are played in
// order by one journey instance, and each arrival of the schedule starts
// one instance of a journey drawn by weight (the rate is journeys per
// second). A scenario has either Requests or Journeys.
type Journey struct {
	// Name labels the journey in reports and selectors ({journey=NAME});
	// required, unique, no "/".
	Name string `yaml:"name" json:"name"`
	// Weight is the journey's share of the arrivals, > 0; default 1.
	Weight float64 `yaml:"weight" json:"weight,omitempty"`
	// Cookies gives each instance its own cookie jar (Set-Cookie kept and
	// sent back, per RFC 6265). Default true.
	Cookies *bool `yaml:"cookies" json:"cookies,omitempty"`
	// OnError is "abort" (default: the instance stops at its first failed
	// step and counts as failed) or "continue" (later steps still run; the
	// instance counts as failed if any step failed).
	OnError string `yaml:"on_error" json:"on_error,omitempty"`
	// Steps are played in order; at least one request step.
	Steps []JourneyStep `yaml:"steps" json:"steps"`
}

// CookiesOn reports whether the journey keeps a cookie jar.
func (j *Journey) CookiesOn() bool { return j.Cookies == nil || *j.Cookies }

// Journey error policies.
const (
	OnErrorAbort    = "abort"
	OnErrorContinue = "continue"
)

// JourneyStep is one step of a journey: a request (every field of a Request but
// Weight; templates may use {{var NAME}} of an earlier step's extraction),
// or a think time (Think set, and no request field).
type JourneyStep struct {
	// Request is the step's request. Its Name labels the step in reports
	// and selectors ({step=NAME}); default "METHOD path"; unique within
	// the journey. A step is reported as "JOURNEY/STEP".
	Request `yaml:",inline" json:",inline"`
	// Think is a pause before the next step.
	Think *Think `yaml:"think" json:"think,omitempty"`
	// Loop plays the step this many times in a row (1 to MaxLoop; 0
	// means 1). Extractions of the last iteration win.
	Loop int `yaml:"loop" json:"loop,omitempty"`
	// Extract names values of the response for later steps, in the order
	// written.
	Extract []Extraction `yaml:"extract" json:"extract,omitempty"`
}

// IsThink reports whether s is a think step.
func (s *JourneyStep) IsThink() bool { return s.Think != nil }

// Extraction is one named value a step takes from its response.
type Extraction struct {
	// Var is the variable's name, used as {{var NAME}}.
	Var          string `yaml:"-" json:"var"`
	extract.Spec `yaml:",inline" json:",inline"`
}

// Check is an assertion on a response (Request.Checks); a failed check
// fails the request with class check_failed.
type Check = extract.CheckSpec

// Think is a think time: Fixed, or uniform in [Min, Max], or exponential
// with mean Mean (capped at ExpThinkCap × Mean). Draws are a pure function
// of (seed, arrival, step, iteration), so runs reproduce on any split.
type Think struct {
	// Dist is "fixed", "uniform" or "exponential".
	Dist  string   `yaml:"-" json:"dist"`
	Fixed Duration `yaml:"-" json:"fixed,omitempty"`
	Min   Duration `yaml:"-" json:"min,omitempty"`
	Max   Duration `yaml:"-" json:"max,omitempty"`
	Mean  Duration `yaml:"-" json:"mean,omitempty"`
}

// Think distributions.
const (
	ThinkFixed       = "fixed"
	ThinkUniform     = "uniform"
	ThinkExponential = "exponential"
)
