package scenario

import (
	"cmp"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// checker runs the semantic checks. With a decoder (from Parse) it knows
// which fields were written in the file and where; without one (Validate)
// it judges the values alone.
type checker struct {
	src   *decoder
	probs []problem
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

// missing reports that field, a child of path, is required. It points at
// the field if it was written as null, else at path.
func (c *checker) missing(path, field string) {
	c.probs = append(c.probs, problem{path: path, at: joinPath(path, field), msg: field + " is required"})
}

// set reports whether path was written in the file with a value. Without
// a file it is false: only the value itself can tell.
func (c *checker) set(path string) bool { return c.src != nil && c.src.has(path) }

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

func (c *checker) scenario(s *Scenario, opts Options) {
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
	for i := range s.Stages {
		c.stage(&s.Stages[i], indexPath("stages", i), opts, stageNames)
	}

	if len(s.Requests) == 0 {
		c.addAt(c.written("requests", ""), "requests", "at least one request is required")
	}
	if len(s.Requests) > MaxRequests {
		c.add("requests", "at most %d requests are allowed (got %d): every request name keeps its own histograms on every agent", MaxRequests, len(s.Requests))
	}
	requestNames := map[string]string{}
	for i := range s.Requests {
		c.request(&s.Requests[i], indexPath("requests", i), requestNames)
	}

	c.load(&s.Load)
}

func (c *checker) stage(st *Stage, path string, opts Options, names map[string]string) {
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
		c.bundled(bundledPath, st.Bundled, opts)
	}

	namePath := joinPath(path, "name")
	if st.Name != "" {
		c.noControl(namePath, st.Name)
	}
	name := cmp.Or(st.Name, defaultStageName(*st))
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

// bundledName is what a bundled topology name may look like when no
// registry is given.
var bundledName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

func (c *checker) bundled(path, name string, opts Options) {
	if opts.IsBundled != nil {
		if !opts.IsBundled(name) {
			c.add(path, "unknown bundled topology %q", name)
		}
		return
	}
	if !bundledName.MatchString(name) {
		c.add(path, "invalid bundled topology name %q (want lowercase letters, digits and dashes)", name)
	}
}

func (c *checker) request(r *Request, path string, names map[string]string) {
	if r.Method != "" && !isToken(r.Method) {
		c.add(joinPath(path, "method"), "invalid method %q (want an HTTP method like GET or POST)", r.Method)
	}
	if r.Path != "" {
		c.requestPath(joinPath(path, "path"), r.Path)
	}
	c.headers(joinPath(path, "headers"), r.Headers)

	timeoutPath := joinPath(path, "timeout")
	if r.Timeout < 0 || (r.Timeout == 0 && c.set(timeoutPath)) {
		c.add(timeoutPath, "timeout must be > 0 (got %s)", r.Timeout)
	}

	namePath := joinPath(path, "name")
	if r.Name != "" {
		c.noControl(namePath, r.Name)
	}
	withDefaults := *r
	withDefaults.applyDefaults()
	c.unique("request", withDefaults.Name, c.written(namePath, path), names)
}

// requestPath checks a request target: an absolute path with an optional
// query, as it goes on the request line.
func (c *checker) requestPath(path, p string) {
	switch {
	case !strings.HasPrefix(p, "/"):
		c.add(path, "path must start with \"/\" (got %q)", p)
	case strings.IndexFunc(p, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		c.add(path, "path must not contain spaces or control characters (got %q)", p)
	case strings.Contains(p, "#"):
		c.add(path, "path must not contain a fragment (got %q)", p)
	default:
		if _, err := url.ParseRequestURI(p); err != nil {
			if ue, ok := err.(*url.Error); ok {
				err = ue.Err
			}
			c.add(path, "invalid path %q: %v", p, err)
		}
	}
}

// headers checks header names and values. Names that differ only in case
// are the same header in HTTP, so they may not both appear.
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
		if !isToken(k) {
			c.addKey(p, "invalid header name %q", k)
		} else if prev, dup := first[strings.ToLower(k)]; dup {
			c.addKey(p, "duplicate header %q (same as %q at %s)", k, prev, c.whereKey(keyPath(path, prev)))
		} else {
			first[strings.ToLower(k)] = k
		}
		if !validHeaderValue(h[k]) {
			c.add(p, "header %q has a control character in its value", k)
		}
	}
}

func (c *checker) load(l *Curve) {
	// The table of curves: one entry per field of Curve.
	curves := []struct {
		name string
		set  bool
	}{
		{"constant", l.Constant != nil},
	}
	var set, all []string
	for _, cv := range curves {
		all = append(all, cv.name)
		if cv.set {
			set = append(set, cv.name)
		}
	}
	switch {
	case len(set) == 0 && !c.set("load"):
		c.missing("", "load")
	case len(set) == 0:
		c.add("load", "load must set a curve (one of: %s)", strings.Join(all, ", "))
	case len(set) > 1:
		c.add("load", "load must set exactly one curve (got %s)", strings.Join(set, " and "))
	}
	if l.Constant != nil {
		c.constant(l.Constant, "load.constant")
	}
}

func (c *checker) constant(k *Constant, path string) {
	c.rate(k.Rate, path, "rate")
	c.duration(k.Duration, path, "duration")
}

// rate checks a required rate, the field of path.
func (c *checker) rate(r Rate, path, field string) {
	p := joinPath(path, field)
	switch {
	case r == 0 && c.src != nil && !c.set(p):
		c.missing(path, field)
	case !(r > 0): // also NaN
		c.add(p, "%s must be > 0 (got %s)", field, formatNumber(float64(r)))
	case r > MaxRate:
		c.add(p, "%s must be at most %s (got %s)", field, MaxRate, r)
	}
}

// duration checks a required duration, the field of path.
func (c *checker) duration(d Duration, path, field string) {
	p := joinPath(path, field)
	switch {
	case d == 0 && c.src != nil && !c.set(p):
		c.missing(path, field)
	case d <= 0:
		c.add(p, "%s must be > 0 (got %s)", field, d)
	case d > MaxDuration:
		c.add(p, "%s must be at most %s (got %s)", field, MaxDuration, d)
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

// isToken reports whether s is an HTTP token (RFC 9110 §5.6.2), the
// syntax of methods and header names.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue reports whether s may be sent as a header value: no
// control characters except horizontal tab (RFC 9110 §5.5).
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
