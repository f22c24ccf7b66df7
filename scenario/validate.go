package scenario

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/net/http/httpguts"

	"github.com/surgeload/surge/internal/template"
)

// checker runs the semantic checks. With a decoder (from Parse) it knows
// which fields were written in the file and where; without one (Validate)
// it judges the values alone. It checks the values as written, before the
// defaults are applied, so that an explicit zero is told apart from an
// absent field.
//
// Besides problems and warnings it produces what Parse keeps: the compiled
// templates, the loaded data files and the parsed thresholds.
type checker struct {
	src   *decoder
	opts  Options
	probs []problem
	warns []problem

	seed         uint64
	stageNames   []string // with defaults, by index
	requestNames []string
	journeyNames []string   // by index
	stepNames    [][]string // by journey and step; "" for a think step
	stepCompiled [][]Compiled
	uses         []templateUse
	compiled     []Compiled
	loaded       template.Tables // tables a Scenario already holds (Validate)
	data         template.Tables
	tried        map[string]bool // data files already loaded or reported
	dataSize     int
	parsed       []ThresholdExpr
	tlsRead      map[string]tlsContents // client TLS files read, by client block path
}

func newChecker(src *decoder, opts Options) *checker {
	return &checker{src: src, opts: opts, data: template.Tables{}, tried: map[string]bool{}}
}

// add reports a problem about the value at path.
func (c *checker) add(path, format string, args ...any) {
	c.probs = append(c.probs, problem{path: path, msg: fmt.Sprintf(format, args...)})
}

// addKey reports a problem about the key (name) of the map entry at path.
func (c *checker) addKey(path, format string, args ...any) {
	c.probs = append(c.probs, problem{path: path, onKey: true, msg: fmt.Sprintf(format, args...)})
}

// addAt reports a problem about the value at path, positioned at the
// value at `at` if it was written (even as null), else at path.
func (c *checker) addAt(path, at, format string, args ...any) {
	c.probs = append(c.probs, problem{path: path, at: at, msg: fmt.Sprintf(format, args...)})
}

// addIn reports a problem at byte off of the string value at path: at
// that very character when its position in the file can be told, else at
// the value, with the offset in the message.
func (c *checker) addIn(path, value string, off int, format string, args ...any) {
	c.probs = append(c.probs, c.inString(path, value, off, fmt.Sprintf(format, args...)))
}

func (c *checker) inString(path, value string, off int, msg string) problem {
	p := problem{path: path, msg: msg}
	if c.src != nil {
		if pos, ok := c.src.stringPos(path, value, off); ok {
			p.pos = pos
			return p
		}
	}
	if off > 0 {
		p.msg += fmt.Sprintf(" (at byte %d of the value)", off)
	}
	return p
}

// warn reports a warning about the value at path.
func (c *checker) warn(path, format string, args ...any) {
	c.warns = append(c.warns, problem{path: path, msg: fmt.Sprintf(format, args...)})
}

// missing reports that field, a child of path, is required. It points at
// the field if it was written as null, else at path.
func (c *checker) missing(path, field string) {
	c.probs = append(c.probs, problem{path: path, at: joinPath(path, field), msg: field + " is required"})
}

// set reports whether path was written in the file with a value. Without
// a file it is false: only the value itself can tell.
func (c *checker) set(path string) bool { return c.src != nil && c.src.has(path) }

// failed reports whether a value at or below path could not be decoded:
// its zero value stands in for it, so conclusions drawn from it (a peak
// rate, a played duration) would be wrong.
func (c *checker) failed(path string) bool {
	if c.src == nil {
		return false
	}
	for _, f := range c.src.failed {
		if isUnder(f, path) {
			return true
		}
	}
	return false
}

// written returns path if it was written in the file, else alt: where to
// point at a problem about a value that may have come from a default.
func (c *checker) written(path, alt string) string {
	if c.set(path) {
		return path
	}
	return alt
}

// where names a place in a message: "line:col" in a file, else the path.
func (c *checker) where(path string) string {
	if c.src == nil {
		return path
	}
	return c.src.locate(problem{path: path}).String()
}

// whereKey is where for the key of a map entry.
func (c *checker) whereKey(path string) string {
	if c.src == nil {
		return path
	}
	return c.src.locate(problem{path: path, onKey: true}).String()
}

func (c *checker) scenario(s *Scenario) {
	c.seed = s.Seed
	if strings.TrimSpace(s.Name) == "" {
		if c.set("name") {
			c.add("name", "name must not be empty")
		} else {
			c.missing("", "name")
		}
	} else {
		c.noControl("name", s.Name)
	}

	if len(s.Stages) == 0 {
		c.addAt(c.written("stages", ""), "stages", "at least one stage is required")
	}
	stageNames := map[string]string{} // name → where it was first used
	c.stageNames = make([]string, len(s.Stages))
	for i := range s.Stages {
		c.stage(s, i, stageNames)
	}

	hasRequests := len(s.Requests) > 0 || c.set("requests")
	hasJourneys := len(s.Journeys) > 0 || c.set("journeys")
	switch {
	case hasRequests && hasJourneys:
		c.addKey("journeys", "a scenario has requests or journeys, not both (requests at %s)", c.whereKey("requests"))
	case hasJourneys:
	case len(s.Requests) == 0:
		c.addAt(c.written("requests", ""), "requests", "at least one request (or journey) is required")
	}
	if len(s.Requests) > MaxRequests {
		c.add("requests", "at most %d requests are allowed (got %d): every request name keeps its own histograms on every agent", MaxRequests, len(s.Requests))
	}
	requestNames := map[string]string{}
	c.requestNames = make([]string, len(s.Requests))
	c.compiled = make([]Compiled, len(s.Requests))
	for i := range s.Requests {
		c.request(s, i, requestNames)
	}
	c.journeys(s)
	c.loaded = s.Data
	c.templates()

	c.clients(s)
	safety, safetyOK := c.safety(&s.Safety)
	c.loads(s, safety, safetyOK)
	c.searches(s, safety, safetyOK)
	c.thresholds(s.Thresholds)
	c.capacity(s.Capacity)
}

// apply stores in s what the checks produced. Parse calls it on a valid
// scenario, after the defaults.
func (c *checker) apply(s *Scenario) {
	for i := range s.Requests {
		s.Requests[i].Compiled = c.compiled[i]
	}
	for i := range s.Journeys {
		for k := range s.Journeys[i].Steps {
			s.Journeys[i].Steps[k].Compiled = c.stepCompiled[i][k]
		}
	}
	for i := range s.Thresholds {
		s.Thresholds[i].Parsed = c.parsed[i]
	}
	if len(c.data) > 0 {
		s.Data = c.data
	}
	c.applyTLS(s)
}

func (c *checker) stage(s *Scenario, i int, names map[string]string) {
	st := &s.Stages[i]
	path := indexPath("stages", i)
	urlPath, bundledPath := joinPath(path, "url"), joinPath(path, "bundled")
	hasURL := st.URL != "" || c.set(urlPath)
	hasBundled := st.Bundled != "" || c.set(bundledPath)
	switch {
	case hasURL && hasBundled:
		c.add(path, "stage must set one of url or bundled, not both")
	case !hasURL && !hasBundled:
		c.add(path, "stage must set url or bundled")
	}
	if hasURL {
		c.stageURL(urlPath, st.URL)
	}
	if hasBundled {
		c.bundled(bundledPath, st.Bundled)
	}

	namePath := joinPath(path, "name")
	if st.Name != "" {
		c.noControl(namePath, st.Name)
	}
	name := cmp.Or(st.Name, defaultStageName(*st))
	c.stageNames[i] = name
	c.unique("stage", name, c.written(namePath, path), names)
}

// stageURL checks a stage's base URL.
func (c *checker) stageURL(path, raw string) {
	u, err := url.Parse(raw)
	if err != nil {
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err // its text repeats the URL
		}
		c.add(path, "invalid url %q: %v", raw, err)
		return
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		c.add(path, "url must start with http:// or https:// (got %q)", raw)
	case u.Hostname() == "":
		c.add(path, "url must have a host (got %q)", raw)
	case u.Port() != "" && !validPort(u.Port()):
		c.add(path, "url has an invalid port %q (want 1 to 65535)", u.Port())
	case u.Path != "" && u.Path != "/" || u.RawPath != "":
		c.add(path, "url must not have a path; put paths on requests (got %q)", raw)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		c.add(path, "url must not have a query or fragment (got %q)", raw)
	}
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

// topologies are the bundled reference topologies a scenario may name:
// the steps of the scaling staircase and the echo target.
var topologies = []string{"single-box", "split", "cache", "lb", "replicas", "sharding", "queue", "multi-region", "echo"}

// Topologies returns the names of the bundled reference topologies a stage
// may name (Stage.Bundled): single-box, split, cache, lb, replicas,
// sharding, queue, multi-region and echo. A build may not ship all of them
// (Options.IsBundled).
func Topologies() []string { return slices.Clone(topologies) }

func (c *checker) bundled(path, name string) {
	known := slices.Contains(topologies, name)
	ships := known
	if c.opts.IsBundled != nil {
		ships = c.opts.IsBundled(name)
	}
	switch {
	case ships:
	case known:
		c.warn(path, "bundled topology %q is not available in this build yet", name)
	default:
		best, bestDist := "", math.MaxInt
		for _, t := range topologies {
			if d := editDistance(name, t); d < bestDist {
				best, bestDist = t, d
			}
		}
		if bestDist <= max(1, len(name)/3) {
			c.add(path, "unknown bundled topology %q (did you mean %q?)", name, best)
		} else {
			c.add(path, "unknown bundled topology %q (known: %s)", name, strings.Join(topologies, ", "))
		}
	}
}

func (c *checker) request(s *Scenario, i int, names map[string]string) {
	r := &s.Requests[i]
	path := indexPath("requests", i)
	c.compiled[i] = c.requestFields(path, r, nil)

	weightPath := joinPath(path, "weight")
	switch w := r.Weight; {
	case math.IsNaN(w) || w < 0 || (w == 0 && c.set(weightPath)):
		c.add(weightPath, "weight must be > 0 (got %s)", formatNumber(w))
	case math.IsInf(w, 0):
		c.add(weightPath, "weight must be finite")
	}

	namePath := joinPath(path, "name")
	if r.Name != "" {
		c.noControl(namePath, r.Name)
	}
	withDefaults := *r
	withDefaults.applyDefaults()
	c.requestNames[i] = withDefaults.Name
	c.unique("request", withDefaults.Name, c.written(namePath, path), names)
}

// requestFields checks what a request of the mix and a journey's request
// step have in common: method, path or url, headers, body, timeout,
// expect and checks, and returns their compiled templates and checks.
// scope is nil for a request of the mix, where {{var NAME}} is an error,
// else the journey's variables as the step sees them.
func (c *checker) requestFields(path string, r *Request, scope *varScope) Compiled {
	if r.Method != "" && !httpguts.ValidHeaderFieldName(r.Method) { // a method is a token too
		c.add(joinPath(path, "method"), "invalid method %q (want an HTTP method like GET or POST)", r.Method)
	}
	pathPath, urlPath := joinPath(path, "path"), joinPath(path, "url")
	hasURL := r.URL != "" || c.set(urlPath)
	if hasURL && (r.Path != "" || c.set(pathPath)) {
		c.add(path, "request must set one of path or url, not both")
	}
	withDefaults := *r
	withDefaults.applyDefaults()

	var cp Compiled
	if withDefaults.Path != "" {
		cp.Path = c.varTemplate(c.written(pathPath, path), withDefaults.Path, usePath, scope)
	}
	if hasURL {
		cp.URL = c.varTemplate(urlPath, r.URL, useURL, scope)
	}
	c.headers(joinPath(path, "headers"), r.Headers)
	if len(r.Headers) > 0 {
		cp.Headers = make(map[string]*template.Template, len(r.Headers))
		for _, k := range slices.Sorted(maps.Keys(r.Headers)) {
			cp.Headers[k] = c.varTemplate(keyPath(joinPath(path, "headers"), k), r.Headers[k], useHeader, scope)
		}
	}
	if r.Body != "" {
		cp.Body = c.varTemplate(joinPath(path, "body"), r.Body, useBody, scope)
	}

	timeoutPath := joinPath(path, "timeout")
	if r.Timeout < 0 || (r.Timeout == 0 && c.set(timeoutPath)) {
		c.add(timeoutPath, "timeout must be > 0 (got %s)", r.Timeout)
	}
	c.timeBound(timeoutPath, r.Timeout)
	c.expect(joinPath(path, "expect"), r.Expect)
	cp.Checks = c.checks(joinPath(path, "checks"), r.Checks)
	return cp
}

// expect checks the expected statuses of a request.
func (c *checker) expect(path string, statuses []int) {
	if statuses == nil {
		return
	}
	if len(statuses) == 0 {
		c.add(path, "expect must list at least one status (leave it out to accept any 2xx or 3xx)")
		return
	}
	seen := map[int]bool{}
	for j, st := range statuses {
		p := indexPath(path, j)
		switch {
		case st < 100 || st > 599:
			c.add(p, "%s must be an HTTP status from 100 to 599 (got %d)", label(p), st)
		case seen[st]:
			c.add(p, "duplicate status %d in expect", st)
		}
		seen[st] = true
	}
}

// requestTarget says what is wrong with a request target (path and
// query), or "".
func requestTarget(p string) string {
	switch {
	case !strings.HasPrefix(p, "/"):
		return fmt.Sprintf("path must start with \"/\" (got %q)", p)
	case strings.IndexFunc(p, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		return fmt.Sprintf("path must not contain spaces or control characters (got %q)", p)
	case strings.Contains(p, "#"):
		return fmt.Sprintf("path must not contain a fragment (got %q)", p)
	}
	if _, err := url.ParseRequestURI(p); err != nil {
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err
		}
		return fmt.Sprintf("invalid path %q: %v", p, err)
	}
	return ""
}

// requestURL says what is wrong with the absolute URL of a request, or "".
func requestURL(raw string) string {
	if strings.IndexFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return fmt.Sprintf("url must not contain spaces or control characters (got %q)", raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err
		}
		return fmt.Sprintf("invalid url %q: %v", raw, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("url must start with http:// or https:// (got %q)", raw)
	case u.Hostname() == "":
		return fmt.Sprintf("url must have a host (got %q)", raw)
	case u.Port() != "" && !validPort(u.Port()):
		return fmt.Sprintf("url has an invalid port %q (want 1 to 65535)", u.Port())
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Sprintf("url must not have a fragment (got %q)", raw)
	}
	return ""
}

// clientHeaders are the headers the client writes itself, and why.
var clientHeaders = map[string]string{
	"content-length":    "from the body's length",
	"transfer-encoding": "bodies are sent with a Content-Length",
	"connection":        "set client.connections (keep-alive or per-request)",
}

// headers checks header names and values. Names that differ only in case
// are the same header in HTTP, so they may not both appear. (Values are
// templates, checked with the other templates.)
func (c *checker) headers(path string, h map[string]string) {
	if len(h) == 0 {
		return
	}
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	// File order when there is a file (so "first" means first), else
	// alphabetical; either way deterministic.
	slices.SortFunc(names, func(a, b string) int {
		if c.src != nil {
			pa := c.src.locate(problem{path: keyPath(path, a), onKey: true})
			pb := c.src.locate(problem{path: keyPath(path, b), onKey: true})
			if r := cmp.Or(cmp.Compare(pa.line, pb.line), cmp.Compare(pa.col, pb.col)); r != 0 {
				return r
			}
		}
		return strings.Compare(a, b)
	})
	first := map[string]string{}
	for _, k := range names {
		p := keyPath(path, k)
		if !httpguts.ValidHeaderFieldName(k) {
			c.addKey(p, "invalid header name %q", k)
		} else if why, owned := clientHeaders[strings.ToLower(k)]; owned {
			c.addKey(p, "header %s is set by the client: %s", k, why)
		} else if prev, dup := first[strings.ToLower(k)]; dup {
			c.addKey(p, "duplicate header %q (same as %q at %s)", k, prev, c.whereKey(keyPath(path, prev)))
		} else {
			first[strings.ToLower(k)] = k
		}
	}
}

// unique reports name if an earlier stage or request used it.
func (c *checker) unique(kind, name, path string, seen map[string]string) {
	if name == "" {
		return // no usable name: the reason is reported elsewhere
	}
	if first, dup := seen[name]; dup {
		c.add(path, "duplicate %s name %q (first at %s)", kind, name, c.where(first))
		return
	}
	seen[name] = path
}

// noControl reports names with control characters: they would garble
// terminal output and reports.
func (c *checker) noControl(path, s string) {
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		c.add(path, "%s must not contain control characters (got %q)", label(path), s)
	}
}
