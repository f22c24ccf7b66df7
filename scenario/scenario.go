package scenario

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/surgeload/surge/internal/extract"
	"github.com/surgeload/surge/internal/template"
)

// MaxFileSize is the largest scenario file, in bytes, that Load and Parse
// accept. Real scenarios are a few kilobytes; the bound keeps a wrong path
// (a log file, a binary) from being read whole.
const MaxFileSize = 1 << 20

// Bounds on data files, the CSV and JSON-lines files that request
// templates draw values from ({{csv FILE COLUMN}}, {{jsonl FILE FIELD}}).
// Every agent holds them in memory, so they are kept small.
const (
	// MaxDataFileSize is the largest data file, in bytes.
	MaxDataFileSize = 8 << 20
	// MaxDataSize is the largest total size of the data files of a
	// scenario, in bytes.
	MaxDataSize = 16 << 20
)

// Limits on the load curve. They are sanity bounds on the file, not on what
// an agent may do: agents enforce their own limits at run time, and the
// scenario's own Safety section sets the caps of a run below these.
const (
	// MaxRate is the highest rate any rate of a scenario may have, and the
	// highest safety.max_rate: 10M requests per second across the whole
	// fleet.
	MaxRate Rate = 10_000_000
	// MaxRequests bounds the request mix: each request name has its own
	// histograms in every interval on every agent.
	MaxRequests = 64
	// MaxDuration is the longest a stage may play (the highest
	// safety.max_duration: a week), and the longest of the other durations
	// of a scenario (timeouts, grace periods).
	MaxDuration = Duration(7 * 24 * time.Hour)
	// MaxBaseDuration is the longest a curve may be before compression
	// (a year, say a year of traffic compressed into an hour), and so the
	// longest of its parts.
	MaxBaseDuration = Duration(366 * 24 * time.Hour)
	// MaxSteps bounds load.steps and MaxSpikes load.spikes.
	MaxSteps  = 1000
	MaxSpikes = 100
	// MaxThresholds bounds the thresholds of a scenario.
	MaxThresholds = 100
)

// Defaults of the safety section.
const (
	// DefaultMaxRate is safety.max_rate when it is not given.
	DefaultMaxRate Rate = 100_000
	// DefaultMaxDuration is safety.max_duration when it is not given.
	DefaultMaxDuration = Duration(24 * time.Hour)
	// DefaultOnAgentLoss is safety.on_agent_loss when it is not given.
	DefaultOnAgentLoss = OnAgentLossDegrade
	// DefaultHeadroom is capacity.headroom when it is not given.
	DefaultHeadroom = 1.3
	// DefaultSeed is the seed of a scenario file without one.
	DefaultSeed uint64 = 1
)

// The values of safety.on_agent_loss.
const (
	// OnAgentLossDegrade keeps the run going when an agent is lost: its
	// share of the schedule is dropped (and counted as lost) until the
	// coordinator re-splits the schedule among the remaining agents.
	OnAgentLossDegrade = "degrade"
	// OnAgentLossAbort stops the run when an agent is lost.
	OnAgentLossAbort = "abort"
)

// Arrival processes (load.arrival).
const (
	// ArrivalUniform spaces arrivals deterministically: arrival i is sent
	// when the cumulative rate Λ(t) reaches i.
	ArrivalUniform = "uniform"
	// ArrivalPoisson is a non-homogeneous Poisson process of intensity
	// λ(t), seeded by Scenario.Seed.
	ArrivalPoisson = "poisson"
)

// ErrInvalid is matched (errors.Is) by every error of Parse, Load (except
// I/O errors) and Validate that is caused by the content of the scenario.
// The command line maps it to exit code 2.
var ErrInvalid = errors.New("invalid scenario")

// Scenario is one scenario file: the systems to load, the requests to send,
// the load curve to send them at and what makes the run pass.
//
// A Scenario from Parse or Load has its defaults applied, its templates
// compiled (Request.Compiled), its data files loaded (Data) and its
// thresholds parsed (Threshold.Parsed); it remembers where each value was
// written (Position).
type Scenario struct {
	// Name identifies the scenario in reports. Required.
	Name string `yaml:"name" json:"name"`
	// Seed drives every random choice of a run: template values, the
	// Poisson arrival times and the request mix. The same seed gives the
	// same run, whatever the number of agents. Any uint64; a file without
	// a seed gets DefaultSeed (1). (A Scenario built in code has the seed
	// it is given, 0 included.)
	Seed uint64 `yaml:"seed" json:"seed"`
	// Stages are the target systems, run one after the other. At least one.
	Stages []Stage `yaml:"stages" json:"stages"`
	// Requests is the request mix. A scenario has Requests or Journeys,
	// not both.
	Requests []Request `yaml:"requests" json:"requests,omitempty"`
	// Journeys are user journeys: each arrival starts one instance of a
	// journey drawn by weight. See Journey.
	Journeys []Journey `yaml:"journeys" json:"journeys,omitempty"`
	// Load is the arrival-rate curve played against every stage that does
	// not set its own. Required unless every stage sets one.
	Load Curve `yaml:"load" json:"load"`
	// Client says how agents talk to the targets: connection use, HTTP
	// version, client code, timing and per-request limits. Optional; a
	// stage's own block (Stage.Client) overrides it field by field (see
	// StageClient).
	Client Client `yaml:"client" json:"client,omitzero"`
	// Thresholds decide whether the run passes. Optional.
	Thresholds []Threshold `yaml:"thresholds" json:"thresholds,omitempty"`
	// Safety caps what the scenario may ask for. Optional: see Safety for
	// the defaults.
	Safety Safety `yaml:"safety" json:"safety"`
	// Capacity holds the inputs of the capacity plan (coordinator plan).
	// Optional; nil when absent.
	Capacity *Capacity `yaml:"capacity" json:"capacity,omitempty"`
	// Search is the capacity search of every stage in mode "capacity"
	// that has no search block of its own (and of every stage under the
	// run's --capacity flag). Optional.
	Search *Search `yaml:"search" json:"search,omitempty"`

	// Data holds the data files the templates read, by the name they are
	// written with in the templates. Parse fills it in.
	Data template.Tables `yaml:"-" json:"-"`

	// src remembers where values were written; nil for a Scenario built
	// in code.
	src *source
}

// Stage is one target system: either a URL of the user's own service or a
// bundled reference topology (package targets) started for the run.
type Stage struct {
	// Name labels the stage in reports. Default: the bundled topology name,
	// or the URL's host:port. Unique within a scenario.
	Name string `yaml:"name" json:"name,omitempty"`
	// URL is the base URL of the system: http or https, a host, an optional
	// port and no path, query or fragment (paths belong to requests).
	// Exactly one of URL and Bundled is set.
	URL string `yaml:"url" json:"url,omitempty"`
	// Bundled names a reference topology: one of Topologies(). A known
	// name that this build does not ship is a warning, not an error.
	Bundled string `yaml:"bundled" json:"bundled,omitempty"`
	// Options configure a bundled topology: a map merged over its default
	// configuration (`target --topology NAME --print-config` prints it),
	// e.g. {gateway: {limiter: token_bucket, rate: 200, burst: 50}} or
	// {breaker: {failures: 5, open_for: 2s}}. Only with Bundled; checked
	// against the topology's configuration before the run.
	Options TopologyOptions `yaml:"options" json:"options,omitempty"`
	// Load, when set, replaces the scenario's load section for this stage
	// (the whole section, not field by field). See Scenario.StageLoad.
	Load *Curve `yaml:"load" json:"load,omitempty"`
	// Client, when set, overrides the scenario's client block for this
	// stage, field by field. See Scenario.StageClient.
	Client *Client `yaml:"client" json:"client,omitempty"`
	// Mode is "run" (the default: play the load curve) or "capacity"
	// (search for the highest rate that meets an SLO; see Search).
	Mode string `yaml:"mode" json:"mode,omitempty"`
	// Search, when set, replaces the scenario's search block for this
	// stage (the whole block). See Scenario.StageSearch.
	Search *Search `yaml:"search" json:"search,omitempty"`
}

// Request is one kind of request in the mix.
//
// Path, URL, header values and Body are templates (package
// internal/template): literal text with actions such as {{seq}},
// {{int 1 100}}, {{zipf 1.1 1000000}}, {{choice a b}}, {{uuid}},
// {{csv users.csv id}} and {{jsonl items.jsonl sku}} that draw a value per
// arrival, deterministically from the scenario's seed and the arrival's
// index. Data files are named relative to the scenario file.
type Request struct {
	// Name labels the request in reports and threshold selectors.
	// Default: "METHOD path" (or "METHOD url"), e.g. "GET /items/1".
	// Unique within a scenario.
	Name string `yaml:"name" json:"name,omitempty"`
	// Method is the HTTP method, upper-cased by Parse. Default GET.
	Method string `yaml:"method" json:"method,omitempty"`
	// Path is the request target on the stage's URL, starting with "/"
	// (written literally: a template cannot supply the first slash), with
	// an optional query. Default "/" unless URL is set.
	Path string `yaml:"path" json:"path,omitempty"`
	// URL is an absolute http or https URL to send the request to instead
	// of a path on the stage's URL. At most one of Path and URL is set.
	URL string `yaml:"url" json:"url,omitempty"`
	// Headers are sent with every request of this kind. Names are HTTP
	// tokens and must be distinct ignoring case; values are templates.
	Headers map[string]string `yaml:"headers" json:"headers,omitempty"`
	// Body is sent as the request body; empty means none.
	Body string `yaml:"body" json:"body,omitempty"`
	// Timeout bounds one request, from when it is sent to the end of the
	// response body. Zero means the default of the command that runs it.
	Timeout Duration `yaml:"timeout" json:"timeout,omitempty"`
	// Weight is the request's share of the mix: each arrival is this
	// request with probability Weight ÷ Σ Weight. > 0; default 1 (a
	// Weight of 0 in a Scenario built in code means 1).
	Weight float64 `yaml:"weight" json:"weight,omitempty"`
	// Expect lists the response statuses (100 to 599) that count as
	// success. Empty means any 2xx or 3xx status.
	Expect []int `yaml:"expect" json:"expect,omitempty"`

	// Checks are assertions on the response; a failed one fails the
	// request with class check_failed. Checks read the body up to the
	// client's max_body_bytes.
	Checks []Check `yaml:"checks" json:"checks,omitempty"`

	// Compiled holds the templates of Path, URL, Headers and Body, built
	// by Parse.
	Compiled Compiled `yaml:"-" json:"-"`
}

// Compiled holds the compiled templates of a request. A nil template
// stands for an empty string (no URL, no body).
type Compiled struct {
	Path    *template.Template
	URL     *template.Template
	Headers map[string]*template.Template
	Body    *template.Template
	// Checks are the request's Checks compiled, in order.
	Checks []*extract.Check
	// Extract are a journey step's extractions compiled, in the order of
	// JourneyStep.Extract (whose Var names each value).
	Extract []*extract.Extractor
}

// Expected reports whether a response status counts as success for r:
// listed in Expect, or any 2xx or 3xx when Expect is empty.
func (r *Request) Expected(status int) bool {
	if len(r.Expect) == 0 {
		return status >= 200 && status < 400
	}
	return slices.Contains(r.Expect, status)
}

// Safety caps what a scenario may ask for, so that a typo ("2M" for "2k")
// cannot turn a test into an attack. Parse rejects a load curve whose peak
// rate or played duration is over the caps.
type Safety struct {
	// MaxRate is the highest rate the load curve may reach (its peak,
	// spikes included), across all agents. Default DefaultMaxRate
	// (100k/s); at most MaxRate.
	MaxRate Rate `yaml:"max_rate" json:"max_rate,omitempty"`
	// MaxDuration is the longest a stage's played curve may last. Default
	// DefaultMaxDuration (24h); at most MaxDuration.
	MaxDuration Duration `yaml:"max_duration" json:"max_duration,omitempty"`
	// OnAgentLoss says what to do when an agent is lost during a run:
	// "degrade" (the default) or "abort".
	OnAgentLoss string `yaml:"on_agent_loss" json:"on_agent_loss,omitempty"`
	// MaxLost is the part of a stage's arrivals that may be lost to a lost
	// agent (before the survivors took its share over) with the run still
	// valid, under on_agent_loss: degrade. Default 0: any loss makes the
	// run invalid (exit 4), though it is still played to the end.
	MaxLost Percent `yaml:"max_lost" json:"max_lost,omitempty"`
	// RebalanceOnJoin lets agents that join mid-run (new ones, or lost
	// ones that came back) take a share from the next stage or capacity
	// search step on. Default false: they stay idle, and the split of the
	// run stays the one it started with.
	RebalanceOnJoin bool `yaml:"rebalance_on_join" json:"rebalance_on_join,omitempty"`
	// MaxSendLag is the generator's fidelity bound for this scenario: a
	// stage whose send lag or on-wire lag p99 passes it is
	// generator-limited (the run is invalid). Default: the coordinator's
	// --max-send-lag (5ms), which also overrides it when given; at most
	// MaxSendLagBound.
	MaxSendLag Duration `yaml:"max_send_lag" json:"max_send_lag,omitempty"`
}

// MaxSendLagBound bounds safety.max_send_lag: beyond it a run is too late
// to say anything of its schedule.
const MaxSendLagBound = Duration(time.Second)

// Capacity holds the inputs of the capacity plan (the scaling staircase of
// coordinator plan). Every field is optional; the plan computes the steps
// whose inputs are given. Rates are in requests per second.
type Capacity struct {
	// DailyRequests is the daily request volume ("100M").
	DailyRequests Count `yaml:"daily_requests" json:"daily_requests,omitempty"`
	// PeakMultiplier is the peak rate over the average ("5x"); >= 1.
	PeakMultiplier Multiplier `yaml:"peak_multiplier" json:"peak_multiplier,omitempty"`
	// PerServerRPS is what one application server sustains.
	PerServerRPS float64 `yaml:"per_server_rps" json:"per_server_rps,omitempty"`
	// Headroom multiplies the server count for spare capacity; >= 1.
	// Default DefaultHeadroom (1.3, 30% spare).
	Headroom float64 `yaml:"headroom" json:"headroom,omitempty"`
	// ReadFraction is the share of requests that are reads ("90%").
	ReadFraction Percent `yaml:"read_fraction" json:"read_fraction,omitempty"`
	// CacheHitRate is the share of reads served by the cache ("90%").
	CacheHitRate Percent `yaml:"cache_hit_rate" json:"cache_hit_rate,omitempty"`
	// ReplicaReadRPS is what one database read replica sustains.
	ReplicaReadRPS float64 `yaml:"replica_read_rps" json:"replica_read_rps,omitempty"`
	// PrimaryWriteCeiling is the write rate one primary database sustains.
	PrimaryWriteCeiling float64 `yaml:"primary_write_ceiling" json:"primary_write_ceiling,omitempty"`
	// QueueWorkers is the number of workers draining the job queue.
	QueueWorkers int `yaml:"queue_workers" json:"queue_workers,omitempty"`
	// QueueJobTime is how long one worker takes per job.
	QueueJobTime Duration `yaml:"queue_job_time" json:"queue_job_time,omitempty"`
	// RegionRTT is the round-trip time between regions.
	RegionRTT Duration `yaml:"region_rtt" json:"region_rtt,omitempty"`
	// CallsPerPage is the number of sequential cross-region calls a page
	// makes.
	CallsPerPage int `yaml:"calls_per_page" json:"calls_per_page,omitempty"`
}

// Options adjust how a scenario is checked.
type Options struct {
	// IsBundled reports whether this build ships the bundled topology
	// name. The command line passes the registry of package targets. A
	// name that is one of Topologies() but not shipped is a warning; a
	// name that is neither is an error. nil ships every known topology.
	IsBundled func(name string) bool
	// Warn receives the warnings: problems that do not stop the scenario
	// from running, such as a known bundled topology this build does not
	// have yet. nil ignores them. Each is an *Error like the errors.
	Warn func(e *Error)
	// ReadFile reads a data file that a template names (relative to the
	// scenario file). Load provides one that reads next to the scenario
	// file; with nil, a scenario that uses data files is invalid ("data
	// files need Load").
	ReadFile func(name string) ([]byte, error)
}

// Load reads the scenario file at path and parses it with Parse. Errors
// about the content match ErrInvalid; a file that cannot be read gives the
// underlying I/O error (for example one matching fs.ErrNotExist).
//
// Unless opts.ReadFile is set, data files are read from the directory of
// path, and only from inside it (no absolute paths, no "..", no symbolic
// links out of it).
func Load(path string, opts Options) (*Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	defer f.Close()
	// Read one byte past the limit so Parse can tell "too big" apart from
	// "exactly at the limit" without trusting Stat (pipes, /dev/stdin).
	src, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	if opts.ReadFile == nil {
		dir := filepath.Dir(path)
		opts.ReadFile = func(name string) ([]byte, error) { return readDataFile(dir, name) }
	}
	return Parse(path, src, opts)
}

// readDataFile reads the data file name inside dir, at most one byte past
// MaxDataFileSize (so the caller can tell a file that is too big).
func readDataFile(dir, name string) ([]byte, error) {
	f, err := os.OpenInRoot(dir, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, MaxDataFileSize+1))
}

// ApplyDefaults fills in the optional fields that were left empty: stage
// and request names, the method (GET, and upper-cased), the path ("/"),
// request weights (1), journey weights (1), on_error (abort), journey
// request steps' names, methods, paths and loop (1), the arrival process
// (uniform), the safety caps and the capacity headroom. It is idempotent; Parse calls it after checking
// the values as written. It does not touch Seed, for which 0 is a valid
// value.
func (s *Scenario) ApplyDefaults() {
	for i := range s.Stages {
		st := &s.Stages[i]
		if st.Name == "" {
			st.Name = defaultStageName(*st)
		}
		if st.Load != nil {
			st.Load.applyDefaults()
		}
	}
	for i := range s.Requests {
		s.Requests[i].applyDefaults()
	}
	for i := range s.Journeys {
		s.Journeys[i].applyDefaults()
	}
	s.Load.applyDefaults()
	s.Safety.applyDefaults()
	if s.Capacity != nil && s.Capacity.Headroom == 0 {
		s.Capacity.Headroom = DefaultHeadroom
	}
}

func (r *Request) applyDefaults() {
	if httpguts.ValidHeaderFieldName(r.Method) { // a method is a token; an invalid one is reported as written
		r.Method = strings.ToUpper(r.Method)
	}
	if r.Method == "" {
		r.Method = "GET"
	}
	if r.Path == "" && r.URL == "" {
		r.Path = "/"
	}
	if r.Name == "" {
		r.Name = r.Method + " " + cmp.Or(r.Path, r.URL)
	}
	if r.Weight == 0 {
		r.Weight = 1
	}
}

// applyDefaults fills in a journey's weight (1) and on_error (abort), and
// its request steps' defaults: those of a request (name "METHOD path",
// method, path) but no weight, and loop 1. Think steps are left as they
// are. Cookies stays nil, which means on (CookiesOn).
func (j *Journey) applyDefaults() {
	if j.Weight == 0 {
		j.Weight = 1
	}
	if j.OnError == "" {
		j.OnError = OnErrorAbort
	}
	for k := range j.Steps {
		st := &j.Steps[k]
		if st.IsThink() {
			continue
		}
		weight := st.Weight
		st.Request.applyDefaults()
		st.Weight = weight // steps have no weight: an invalid one stays as written
		if st.Loop == 0 {
			st.Loop = 1
		}
	}
}

func (c *Curve) applyDefaults() {
	if c.Arrival == "" && c.isSet() {
		c.Arrival = ArrivalUniform
	}
}

func (s *Safety) applyDefaults() {
	*s = s.effective()
}

// effective returns the safety settings with the defaults filled in.
func (s Safety) effective() Safety {
	if s.MaxRate == 0 {
		s.MaxRate = DefaultMaxRate
	}
	if s.MaxDuration == 0 {
		s.MaxDuration = DefaultMaxDuration
	}
	if s.OnAgentLoss == "" {
		s.OnAgentLoss = DefaultOnAgentLoss
	}
	return s
}

// StageLoad returns the load curve played against stage k: the stage's
// own, or else the scenario's.
func (s *Scenario) StageLoad(k int) *Curve {
	if l := s.Stages[k].Load; l != nil {
		return l
	}
	return &s.Load
}

// defaultStageName is the bundled topology name, or host:port of the URL
// with the scheme's default port filled in. It returns "" when the URL is
// unusable; validation reports the URL.
func defaultStageName(st Stage) string {
	if st.Bundled != "" {
		return st.Bundled
	}
	u, err := url.Parse(st.URL)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	port := u.Port()
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "http":
			port = "80"
		case "https":
			port = "443"
		default:
			return u.Host
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// Error is one problem in a scenario. Parse and Validate return every
// problem they find, each an *Error, combined with errors.Join; each one
// matches ErrInvalid.
type Error struct {
	// File is the file name given to Parse or Load; empty from Validate.
	File string
	// Line and Column locate the problem in the file, from 1; zero when
	// unknown (always, from Validate).
	Line, Column int
	// Path locates the problem in the scenario, like "load.constant.rate"
	// or `requests[0].headers["X-Id"]`; empty for the file as a whole.
	Path string
	// Message says what is wrong, on one line.
	Message string
}

// Error formats the problem as "FILE:LINE:COL: message" when its position
// is known, "FILE: message" for the file as a whole, and "PATH: message"
// otherwise.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
	}
	if e.Line > 0 {
		if b.Len() > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Column))
	} else if e.Path != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(e.Path)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Unwrap makes every Error match ErrInvalid.
func (e *Error) Unwrap() error { return ErrInvalid }
