package scenario

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// MaxFileSize is the largest scenario file, in bytes, that Load and Parse
// accept. Real scenarios are a few kilobytes; the bound keeps a wrong path
// (a log file, a binary) from being read whole.
const MaxFileSize = 1 << 20

// Limits on the load curve. They are sanity bounds on the file, not on what
// an agent may do: agents enforce their own limits at run time.
const (
	// MaxRate is the highest rate a curve may ask for: 10M requests per
	// second across the whole fleet.
	MaxRate Rate = 10_000_000
	// MaxRequests bounds the request mix: each request name has its own
	// histograms in every interval on every agent.
	MaxRequests = 64
	// MaxDuration is the longest a curve may last.
	MaxDuration = Duration(24 * time.Hour)
)

// ErrInvalid is matched (errors.Is) by every error of Parse, Load (except
// I/O errors) and Validate that is caused by the content of the scenario.
// The command line maps it to exit code 2.
var ErrInvalid = errors.New("invalid scenario")

// Scenario is one scenario file: the systems to load, the requests to send
// and the load curve to send them at.
type Scenario struct {
	// Name identifies the scenario in reports. Required.
	Name string `yaml:"name" json:"name"`
	// Stages are the target systems, run one after the other. At least one.
	Stages []Stage `yaml:"stages" json:"stages"`
	// Requests is the request mix. At least one.
	Requests []Request `yaml:"requests" json:"requests"`
	// Load is the arrival-rate curve played against every stage.
	Load Curve `yaml:"load" json:"load"`
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
	// Bundled names a reference topology, e.g. "echo".
	Bundled string `yaml:"bundled" json:"bundled,omitempty"`
}

// Request is one kind of request in the mix.
type Request struct {
	// Name labels the request in reports. Default: "METHOD path", e.g.
	// "GET /items/1". Unique within a scenario.
	Name string `yaml:"name" json:"name,omitempty"`
	// Method is the HTTP method, upper-cased by Parse. Default GET.
	Method string `yaml:"method" json:"method,omitempty"`
	// Path is the request target, starting with "/", with an optional
	// query. Default "/".
	Path string `yaml:"path" json:"path,omitempty"`
	// Headers are sent with every request of this kind. Names are HTTP
	// tokens and must be distinct ignoring case.
	Headers map[string]string `yaml:"headers" json:"headers,omitempty"`
	// Body is sent as the request body; empty means none.
	Body string `yaml:"body" json:"body,omitempty"`
	// Timeout bounds one request, from when it is sent to the end of the
	// response body. Zero means the default of the command that runs it.
	Timeout Duration `yaml:"timeout" json:"timeout,omitempty"`
}

// Curve is the load section of a scenario: the arrival-rate curve λ(t).
// Exactly one of its fields is set. (It is not called Load because that
// is the name of the function that reads a file.)
type Curve struct {
	// Constant is a fixed rate for a fixed time.
	Constant *Constant `yaml:"constant" json:"constant,omitempty"`
}

// Constant is a load curve with a fixed rate.
type Constant struct {
	// Rate is the arrival rate; > 0 and at most MaxRate.
	Rate Rate `yaml:"rate" json:"rate"`
	// Duration is how long the curve lasts; > 0 and at most MaxDuration.
	Duration Duration `yaml:"duration" json:"duration"`
}

// Options adjust how a scenario is checked.
type Options struct {
	// IsBundled reports whether name is a bundled topology. The command
	// line passes the registry of package targets; nil accepts any name of
	// lowercase letters, digits and dashes, so a scenario can be checked
	// without knowing which topologies the agents ship.
	IsBundled func(name string) bool
}

// Load reads the scenario file at path and parses it with Parse. Errors
// about the content match ErrInvalid; a file that cannot be read gives the
// underlying I/O error (for example one matching fs.ErrNotExist).
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
	return Parse(path, src, opts)
}

// ApplyDefaults fills in the optional fields that were left empty: stage
// and request names, the method (GET, and upper-cased) and the path ("/").
// It is idempotent and Parse calls it before validating.
func (s *Scenario) ApplyDefaults() {
	for i := range s.Stages {
		st := &s.Stages[i]
		if st.Name == "" {
			st.Name = defaultStageName(*st)
		}
	}
	for i := range s.Requests {
		s.Requests[i].applyDefaults()
	}
}

func (r *Request) applyDefaults() {
	if isToken(r.Method) { // an invalid method is reported as written
		r.Method = strings.ToUpper(r.Method)
	}
	if r.Method == "" {
		r.Method = "GET"
	}
	if r.Path == "" {
		r.Path = "/"
	}
	if r.Name == "" {
		r.Name = r.Method + " " + r.Path
	}
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
