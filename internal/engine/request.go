package engine

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/surgeload/surge/internal/extract"
	"github.com/surgeload/surge/internal/h1"
	"github.com/surgeload/surge/internal/template"
)

// compiled is a Request ready for the hot path: templates parsed once,
// static parts kept as they are.
type compiled struct {
	name, method string
	url          *template.Template // the full URL: target + path, or the request's absolute URL
	staticURL    string             // set when url has no actions
	header       http.Header        // static headers
	headerTmpl   []headerTemplate   // headers whose value has actions
	body         *template.Template
	staticBody   []byte
	timeout      time.Duration // 0 = the job's default
	expect       []int         // sorted; empty = any 2xx/3xx
	// seed draws the URL's values; bodySeed the body's, and each header
	// template has its own, so that the fields of one request draw
	// independently ({{choice}} in a header is not tied to {{zipf}} in the
	// path).
	seed, bodySeed uint64

	// For the native transport: the parsed static URL, static headers
	// (without Host) in a fixed order, the Host header's value if set, and
	// the whole request when nothing in it is templated.
	nativeURL    *url.URL
	nativeHeader []h1.Header
	nativeHost   string
	native       *nativeReq

	// checks are the request's assertions on the response (they need its
	// body: a job with checks uses net/http); extracts the values a
	// journey step takes from it.
	checks   []*extract.Check
	extracts []compiledExtract
	// vars lists the journey variables the templates use, each once.
	vars []string
	// series is the request's (or step's) series; checkSeries the series
	// of its first check, the others following.
	series, checkSeries int
}

type headerTemplate struct {
	name string
	tmpl *template.Template
	seed uint64
}

// plan is the compiled request mix of a job.
type plan struct {
	reqs []compiled
	// journeys replace reqs in a journey job.
	journeys []cjourney
	mix      *template.Mix
	seed     uint64
}

// compile parses every template of the job and builds the mix. Every
// problem is returned at once.
func (j *Job) compile() (*plan, error) {
	var errs []error
	var seed uint64
	if j.Schedule != nil {
		seed = j.Schedule.Seed()
	}
	p := &plan{reqs: make([]compiled, len(j.Requests)), seed: template.DeriveSeed(seed, "mix")}
	weights := make([]float64, len(j.Requests))
	base := ""
	if j.Target != nil {
		base = j.Target.Scheme + "://" + j.Target.Host
	}
	bad := func(k int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: request %d: %s", ErrInvalidJob, k, fmt.Sprintf(format, args...)))
	}
	checkSeries := len(j.Requests)
	for k, r := range j.Requests {
		w := r.Weight
		if w == 0 {
			w = 1
		}
		if w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			bad(k, "weight %v must be a finite number > 0", r.Weight)
		}
		weights[k] = w
		c := &p.reqs[k]
		c.series, c.checkSeries = k, checkSeries
		checkSeries += len(r.Checks)
		c.compile(r, template.DeriveSeed(seed, "request/"+r.Name), base, j.Data, func(format string, args ...any) { bad(k, format, args...) })
		if len(c.vars) > 0 {
			bad(k, "{{var %s}}: variables exist only in journeys", c.vars[0])
		}
	}
	if len(j.Journeys) > 0 {
		if len(j.Requests) > 0 {
			errs = append(errs, fmt.Errorf("%w: a job has requests or journeys, not both", ErrInvalidJob))
		}
		errs = append(errs, p.compileJourneys(j, seed, base)...)
	}
	if len(j.Requests) > 0 {
		m, err := template.NewMix(weights)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: %w", ErrInvalidJob, err))
		}
		p.mix = m
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// compile fills c from r: templates parsed once (seed draws the URL's
// values, and derives the body's and the headers'), static parts kept as
// they are. bad receives every problem.
func (c *compiled) compile(r Request, seed uint64, base string, data template.Tables, bad func(format string, args ...any)) {
	c.name, c.method, c.timeout = r.Name, r.Method, r.Timeout
	c.seed = seed
	c.bodySeed = template.DeriveSeed(c.seed, "body")
	if !httpguts.ValidHeaderFieldName(r.Method) { // a method is a token, as a field name is
		bad("bad method %q", r.Method)
	}
	if r.Timeout < 0 {
		bad("negative timeout")
	}
	for _, s := range r.Expect {
		if s < 100 || s > 599 {
			bad("expected status %d is not in 100..599", s)
		}
	}
	c.expect = slices.Sorted(slices.Values(r.Expect))
	raw := base + r.Path
	if r.URL != "" {
		raw = r.URL
		if u, err := url.Parse(r.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("url %q must be an absolute http(s) URL", r.URL)
		}
	} else if !strings.HasPrefix(r.Path, "/") {
		bad("path %q must start with /", r.Path)
	}
	t, err := template.Parse(raw)
	if err != nil {
		bad("url %q: %v", raw, err)
	} else {
		c.url = t
		if t.Static() {
			c.staticURL = raw
		}
	}
	c.header = http.Header{}
	for name, vs := range r.Header {
		if !httpguts.ValidHeaderFieldName(name) {
			bad("bad header name %q", name)
			continue
		}
		switch http.CanonicalHeaderKey(name) {
		case "Content-Length", "Transfer-Encoding", "Connection":
			bad("header %s is set by the client (body length; client.connections)", name)
			continue
		}
		for _, v := range vs {
			ht, err := template.Parse(v)
			switch {
			case err != nil:
				bad("header %s: %v", name, err)
			case ht.Static():
				c.header.Add(name, v)
			default:
				c.headerTmpl = append(c.headerTmpl, headerTemplate{name: name, tmpl: ht, seed: template.DeriveSeed(c.seed, "header/"+name)})
			}
		}
	}
	if len(r.Body) > 0 {
		bt, err := template.Parse(string(r.Body))
		if err != nil {
			bad("body: %v", err)
		} else if bt.Static() {
			c.staticBody = r.Body
		} else {
			c.body = bt
		}
	}
	c.compileNative()
	tmpls := []*template.Template{c.url, c.body}
	for _, h := range c.headerTmpl {
		tmpls = append(tmpls, h.tmpl)
	}
	for _, t := range tmpls {
		if t != nil && len(t.Files()) > 0 {
			if data == nil {
				bad("templates read data files %v but the job has no data", t.Files())
			} else if err := t.CheckData(data); err != nil {
				bad("%v", err)
			}
		}
	}
	for k, cs := range r.Checks {
		ck, err := extract.CompileCheck(cs)
		if err != nil {
			bad("check %d: %v", k, err)
			continue
		}
		c.checks = append(c.checks, ck)
	}
	seen := map[string]bool{}
	for _, t := range c.templates() {
		for _, v := range t.VarRefs() {
			if !seen[v.Name] {
				seen[v.Name] = true
				c.vars = append(c.vars, v.Name)
			}
		}
	}
}

// templates are c's non-nil templates: URL, body, headers.
func (c *compiled) templates() []*template.Template {
	var ts []*template.Template
	if c.url != nil {
		ts = append(ts, c.url)
	}
	if c.body != nil {
		ts = append(ts, c.body)
	}
	for _, h := range c.headerTmpl {
		ts = append(ts, h.tmpl)
	}
	return ts
}

// needBody reports whether c reads the response body (checks or
// extractions).
func (c *compiled) needBody() bool { return len(c.checks) > 0 || len(c.extracts) > 0 }

// compileNative prepares what the native transport can do once.
func (c *compiled) compileNative() {
	for _, name := range slices.Sorted(maps.Keys(c.header)) {
		for _, v := range c.header[name] {
			if name == "Host" {
				c.nativeHost = v
				continue
			}
			c.nativeHeader = append(c.nativeHeader, h1.Header{Name: name, Value: v})
		}
	}
	if c.staticURL == "" {
		return
	}
	u, err := url.Parse(c.staticURL)
	if err != nil {
		return // reported by compile
	}
	c.nativeURL = u
	if len(c.headerTmpl) > 0 || c.body != nil {
		return
	}
	nr, err := newNativeReq(u, c.method, c.nativeHeader, c.nativeHost, c.staticBody)
	if err == nil {
		c.native = &nr
	}
}

// pick is the request of global arrival i.
func (p *plan) pick(i uint64) int {
	if len(p.reqs) == 1 || p.mix == nil {
		return 0
	}
	return p.mix.Pick(p.seed, i)
}

// success reports whether a status counts as success for c.
func (c *compiled) success(status int) bool {
	if len(c.expect) == 0 {
		return status >= 200 && status < 400
	}
	_, ok := slices.BinarySearch(c.expect, status)
	return ok
}
