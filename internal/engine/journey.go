package engine

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"strings"
	"time"

	"github.com/surgeload/surge/internal/extract"
	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/internal/template"
)

// Journey is a user journey: each arrival that draws it starts one
// instance, which plays Steps in order.
//
// Open-model timing: the first step's intended instant is the arrival's;
// step k's is step k−1's completion plus the think times between them.
// Every step's latency is measured from its intended instant, so a slow
// target shows in every step's percentiles and in the journey's duration
// (the journey series' response time: last completion − the arrival's
// intended instant).
type Journey struct {
	Name   string
	Weight float64 // 0 means 1
	// NoCookies turns off the instance's cookie jar (on by default: each
	// instance keeps the cookies its responses set, per RFC 6265).
	NoCookies bool
	// ContinueOnError plays the later steps after a failed one (the
	// instance still counts as failed); by default it stops there.
	ContinueOnError bool
	Steps           []Step
}

// Step is a request step (Think nil) or a think step (Think set).
type Step struct {
	// Request is the step's request; its Name is the step's name, its
	// templates may use {{var NAME}} of earlier extractions. Weight is
	// ignored.
	Request Request
	Think   *Think
	// Loop plays the request this many times in a row (0 means 1).
	Loop int
	// Extract are the values the step takes from its response, in order.
	Extract []Extraction
}

// Think is a pause between steps: Fixed, or uniform in [Min, Max], or
// exponential with mean Mean (a draw capped at MaxExpThink × Mean).
type Think struct {
	Dist                  ThinkDist
	Fixed, Min, Max, Mean time.Duration
}

// ThinkDist is the distribution of a think time.
type ThinkDist uint8

// Think distributions.
const (
	ThinkFixed ThinkDist = iota
	ThinkUniform
	ThinkExponential
)

// Journey bounds.
const (
	// MaxLoop bounds a step's loop count, and MaxThinkTime a think time.
	MaxLoop      = 1000
	MaxThinkTime = time.Hour
	// MaxExpThink caps an exponential draw at this many means.
	MaxExpThink = 20
)

// Extraction is one named value a step takes from its response.
type Extraction struct {
	Var  string
	Spec extract.Spec
}

// draw is the think time of arrival i at step k, loop iteration it: a
// pure function of (seed, i, k, it), so any split of the arrivals draws
// the same.
func (t *Think) draw(seed, i uint64, k, it int) time.Duration {
	u := template.Float64(seed, i, uint64(k)<<20|uint64(it))
	switch t.Dist {
	case ThinkUniform:
		return t.Min + time.Duration(u*float64(t.Max-t.Min))
	case ThinkExponential:
		d := -math.Log1p(-u) * float64(t.Mean)
		return time.Duration(min(d, MaxExpThink*float64(t.Mean), float64(MaxThinkTime)))
	default:
		return t.Fixed
	}
}

func (t *Think) validate() error {
	ok := func(d time.Duration) bool { return d >= 0 && d <= MaxThinkTime }
	switch t.Dist {
	case ThinkFixed:
		if !ok(t.Fixed) {
			return fmt.Errorf("think %v must be in [0, %v]", t.Fixed, MaxThinkTime)
		}
	case ThinkUniform:
		if !ok(t.Min) || !ok(t.Max) || t.Min > t.Max {
			return fmt.Errorf("uniform think [%v, %v] must have 0 <= min <= max <= %v", t.Min, t.Max, MaxThinkTime)
		}
	case ThinkExponential:
		if t.Mean <= 0 || t.Mean > MaxThinkTime {
			return fmt.Errorf("exponential think mean %v must be in (0, %v]", t.Mean, MaxThinkTime)
		}
	default:
		return fmt.Errorf("unknown think distribution %d", t.Dist)
	}
	return nil
}

// cjourney is a compiled journey.
type cjourney struct {
	name          string
	cookies       bool
	onErrContinue bool
	steps         []cstep
	// thinkSeed draws the think times.
	thinkSeed uint64
}

// cstep is a compiled step: a request (c set) or a think.
type cstep struct {
	c     *compiled
	think *Think
	loop  int
}

// compiledExtract is a compiled extraction.
type compiledExtract struct {
	name string
	x    *extract.Extractor
}

// Series returns the job's series layout: every series' name and kind,
// and how many leading series are arrivals. A mix is its requests, then
// one series per check ("REQUEST #CHECK"); a journey job is its journeys,
// then one series per request step ("JOURNEY/STEP"), then the checks.
func (j *Job) Series() (names []string, kinds []metrics.Kind, arrivals int) {
	add := func(name string, k metrics.Kind) {
		names = append(names, name)
		kinds = append(kinds, k)
	}
	var checks []string
	addChecks := func(owner string, r *Request) {
		for k, cs := range r.Checks {
			checks = append(checks, owner+" #"+checkName(cs, k))
		}
	}
	if len(j.Journeys) == 0 {
		for k := range j.Requests {
			add(j.Requests[k].Name, metrics.KindRequest)
			addChecks(j.Requests[k].Name, &j.Requests[k])
		}
		arrivals = len(j.Requests)
	} else {
		for _, jr := range j.Journeys {
			add(jr.Name, metrics.KindJourney)
		}
		arrivals = len(j.Journeys)
		for _, jr := range j.Journeys {
			for k := range jr.Steps {
				if st := &jr.Steps[k]; st.Think == nil {
					add(jr.Name+"/"+st.Request.Name, metrics.KindStep)
					addChecks(jr.Name+"/"+st.Request.Name, &st.Request)
				}
			}
		}
	}
	for _, c := range checks {
		add(c, metrics.KindCheck)
	}
	return names, kinds, arrivals
}

// checkName is a check's name in reports: its own, or a description.
func checkName(cs extract.CheckSpec, k int) string {
	if cs.Name != "" {
		return cs.Name
	}
	if c, err := extract.CompileCheck(cs); err == nil {
		return c.Name()
	}
	return "check " + strconv.Itoa(k+1)
}

// seriesCount is the number of series the job records.
func (j *Job) seriesCount() int {
	names, _, _ := j.Series()
	return len(names)
}

// compileJourneys compiles j's journeys into p: the mix picks journeys,
// and each request step gets its series (after the journeys) and its
// checks' series (after every step), in the order of Series.
func (p *plan) compileJourneys(j *Job, seed uint64, base string) []error {
	var errs []error
	weights := make([]float64, len(j.Journeys))
	p.journeys = make([]cjourney, len(j.Journeys))
	series := len(j.Journeys)
	nsteps := 0
	for _, jr := range j.Journeys {
		for _, st := range jr.Steps {
			if st.Think == nil {
				nsteps++
			}
		}
	}
	checkSeries := series + nsteps
	for x, jr := range j.Journeys {
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%w: journey %q: %s", ErrInvalidJob, jr.Name, fmt.Sprintf(format, args...)))
		}
		w := jr.Weight
		if w == 0 {
			w = 1
		}
		if w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			bad("weight %v must be a finite number > 0", jr.Weight)
		}
		weights[x] = w
		if jr.Name == "" || strings.Contains(jr.Name, "/") {
			bad("a journey's name is not empty and has no /")
		}
		cj := &p.journeys[x]
		cj.name, cj.cookies, cj.onErrContinue = jr.Name, !jr.NoCookies, jr.ContinueOnError
		cj.thinkSeed = template.DeriveSeed(seed, "journey/"+jr.Name+"/think")
		extracted := map[string]bool{}
		requests := 0
		for k, st := range jr.Steps {
			sbad := func(format string, args ...any) { bad("step %d: %s", k+1, fmt.Sprintf(format, args...)) }
			if st.Think != nil {
				if err := st.Think.validate(); err != nil {
					sbad("%v", err)
				}
				cj.steps = append(cj.steps, cstep{think: st.Think})
				continue
			}
			requests++
			if st.Loop < 0 || st.Loop > MaxLoop {
				sbad("loop %d must be in 0..%d", st.Loop, MaxLoop)
			}
			c := &compiled{series: series, checkSeries: checkSeries}
			series++
			checkSeries += len(st.Request.Checks)
			c.compile(st.Request, template.DeriveSeed(seed, "journey/"+jr.Name+"/step/"+st.Request.Name), base, j.Data, sbad)
			for _, v := range c.vars {
				if !extracted[v] {
					sbad("{{var %s}}: no earlier step extracts %s", v, v)
				}
			}
			for _, e := range st.Extract {
				if !template.ValidVarName(e.Var) {
					sbad("extract: %q is not a variable name", e.Var)
					continue
				}
				x, err := extract.Compile(e.Spec)
				if err != nil {
					sbad("extract %s: %v", e.Var, err)
					continue
				}
				c.extracts = append(c.extracts, compiledExtract{name: e.Var, x: x})
				extracted[e.Var] = true
			}
			cj.steps = append(cj.steps, cstep{c: c, loop: max(st.Loop, 1)})
		}
		if requests == 0 {
			bad("no request step")
		}
	}
	m, err := template.NewMix(weights)
	if err != nil {
		errs = append(errs, fmt.Errorf("%w: %w", ErrInvalidJob, err))
	}
	p.mix = m
	return errs
}

// vars are one journey instance's variables.
type vars map[string]string

// Var implements template.Vars.
func (v vars) Var(name string) (string, bool) {
	s, ok := v[name]
	return s, ok
}

// quit is closed when Run returns: journeys waiting for a step's instant
// stop there (they are reported in flight at the end).
func (r *runner) stopped() bool {
	select {
	case <-r.quit:
		return true
	default:
		return false
	}
}

// sleepUntil waits until t, or until the run ends (false).
func (r *runner) sleepUntil(t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return !r.stopped()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-r.quit:
		return false
	}
}

// journey plays journey x for arrival i, started at start (its intended
// instant is intended), and records every step and the journey's end in
// sh. It exits when the journey ends, or when the run ends (the journey
// then counts in flight at the end: the recorder is closed).
func (r *runner) journey(sh *shard, i uint64, x int, intended, start time.Time) {
	defer r.wg.Done()
	cj := &r.plan.journeys[x]
	t, ok := r.tp.(*netHTTP)
	if !ok { // cannot happen: newTransport picks net/http for journeys
		panic("engine: journey without the net/http transport")
	}
	var jar http.CookieJar
	if cj.cookies {
		jar, _ = cookiejar.New(nil) // never fails with nil options
	}
	v := vars{}
	outcome := metrics.OK
	due := intended
	last := start
	var bytesIn, bytesOut int64
steps:
	for k := range cj.steps {
		st := &cj.steps[k]
		if st.think != nil {
			due = due.Add(st.think.draw(cj.thinkSeed, i, k, 0))
			continue
		}
		for it := range st.loop {
			if !r.sleepUntil(due) {
				return
			}
			if r.job.Gate != nil {
				// The lease holds for every step, not only the arrival: an
				// agent that lost its coordinator sends nothing more.
				if err := r.job.Gate(); err != nil {
					r.stopPacing(err)
					return
				}
			}
			res, done := r.step(sh, t, st.c, i, it, due, jar, v)
			bytesIn += res.BytesIn
			bytesOut += res.BytesOut
			last, due = done, done
			if res.Outcome != metrics.OK {
				if outcome == metrics.OK {
					outcome = res.Outcome
				}
				if !cj.onErrContinue {
					break steps
				}
			}
		}
	}
	res := metrics.Result{Request: x, Outcome: outcome, Response: last.Sub(intended), Service: last.Sub(start)}
	r.inFlight.Add(-1)
	slot := r.slot(last.Sub(r.t0))
	sh.mu.Lock()
	if sh.rec.Finished(slot, res) && r.observe != nil {
		r.observe(res)
	}
	sh.mu.Unlock()
}

// step sends one request step of arrival i (loop iteration it) due at
// due, records it, and returns its result and when it ended.
func (r *runner) step(sh *shard, t *netHTTP, c *compiled, i uint64, it int, due time.Time, jar http.CookieJar, v vars) (metrics.Result, time.Time) {
	sent := time.Now()
	sh.mu.Lock()
	sh.rec.StepIssued(r.slot(sent.Sub(r.t0)), c.series, sent.Sub(due))
	sh.mu.Unlock()
	res := metrics.Result{Request: c.series}
	var resp extract.Response
	var at instants
	if _, missing := c.missingVar(v); missing {
		// An earlier extraction failed (on_error: continue): the step is
		// never sent with an empty value; it fails here.
		res.Outcome = metrics.ExtractFailed
	} else {
		timeout := c.timeout
		if timeout == 0 {
			timeout = r.job.Limits.Timeout
		}
		seed := c.seed
		if it > 0 {
			seed = template.DeriveSeed(c.seed, "loop/"+strconv.Itoa(it))
		}
		at = t.doJourney(c, i, seed, v, jar, timeout, &res, &resp)
	}
	done := time.Now()
	times(&res, due, sent, done, at)
	var checks []metrics.Outcome
	if res.Outcome == metrics.OK {
		checks = r.evaluate(c, &resp, &res, v)
	}
	sh.mu.Lock()
	slot := r.slot(done.Sub(r.t0))
	for k, o := range checks {
		sh.rec.Count(slot, c.checkSeries+k, o, res.Response, res.Service)
	}
	sh.rec.StepFinished(slot, res)
	sh.mu.Unlock()
	return res, done
}

// evaluate runs c's checks on resp (a response with an expected status),
// then its extractions into v (when v is not nil), and sets res's outcome
// to check_failed or extract_failed at the first failure. It returns each
// check's outcome.
func (r *runner) evaluate(c *compiled, resp *extract.Response, res *metrics.Result, v vars) []metrics.Outcome {
	var outs []metrics.Outcome
	if len(c.checks) > 0 {
		outs = make([]metrics.Outcome, len(c.checks))
		for k, ck := range c.checks {
			if ck.Test(resp) != nil {
				outs[k] = metrics.CheckFailed
				if res.Outcome == metrics.OK {
					res.Outcome = metrics.CheckFailed
				}
			}
		}
	}
	if res.Outcome != metrics.OK || v == nil {
		return outs
	}
	for _, e := range c.extracts {
		val, err := e.x.Extract(resp)
		if err != nil {
			res.Outcome = metrics.ExtractFailed
			return outs
		}
		v[e.name] = val
	}
	return outs
}

// missingVar reports a variable c's templates use that v does not set.
func (c *compiled) missingVar(v vars) (string, bool) {
	for _, name := range c.vars {
		if _, ok := v[name]; !ok {
			return name, true
		}
	}
	return "", false
}

// doJourney performs one journey step's request: rendered for arrival i
// with seed and the instance's variables, its cookies from jar (and the
// ones the response sets kept there, across redirects too), and the body
// read into resp (up to the body limit) when c needs it.
func (t *netHTTP) doJourney(c *compiled, i, seed uint64, v vars, jar http.CookieJar, timeout time.Duration, res *metrics.Result, resp *extract.Response) instants {
	ctx, cancel := context.WithTimeout(t.ctx, timeout)
	defer cancel()
	var ph phases
	hreq, err := t.buildVars(ph.context(ctx), c, i, seed, v)
	if err != nil {
		res.Outcome = metrics.Other
		return instants{}
	}
	res.BytesOut = hreq.ContentLength
	client := t.client
	if jar != nil {
		cl := *t.client
		cl.Jar = jar
		client = &cl
	}
	hresp, err := client.Do(hreq)
	if err == nil {
		err = t.readInto(hresp, c.needBody(), res, resp)
		hresp.Body.Close()
		if err == nil {
			res.Outcome = c.classifyResponse(hresp.StatusCode, breakerOpen(hresp.StatusCode, hresp.Header))
			return ph.instants()
		}
	}
	res.Outcome = classifyErr(err)
	if res.Outcome == metrics.Timeout {
		res.Outcome = ph.timeoutClass()
	}
	return ph.instants()
}

// readInto reads hresp's body: kept in resp (with its status and headers)
// when keep, else discarded; at most the job's body limit either way.
func (t *netHTTP) readInto(hresp *http.Response, keep bool, res *metrics.Result, resp *extract.Response) error {
	limit := t.r.job.Limits.MaxBodyBytes
	if !keep {
		var err error
		res.BytesIn, res.Truncated, err = readBody(hresp.Body, limit)
		return err
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(hresp.Body, limit+1))
	if err != nil {
		return err
	}
	body := buf.Bytes()
	if n > limit {
		body, res.Truncated, n = body[:limit], true, limit
	}
	res.BytesIn = n
	*resp = extract.Response{Status: hresp.StatusCode, Header: hresp.Header, Body: body, Truncated: res.Truncated}
	return nil
}

// buildVars renders the request of arrival i with seed (c's own, or a
// journey step's loop iteration's) and a journey instance's variables (nil
// outside journeys).
func (t *netHTTP) buildVars(ctx context.Context, c *compiled, i, seed uint64, v vars) (*http.Request, error) {
	bodySeed := c.bodySeed
	if seed != c.seed {
		bodySeed = template.DeriveSeed(seed, "body")
	}
	data := t.r.job.Data
	u := c.staticURL
	if u == "" {
		u = string(c.url.AppendVars(nil, seed, i, data, v))
	}
	var body io.Reader
	var n int64
	switch {
	case c.body != nil:
		b := c.body.AppendVars(nil, bodySeed, i, data, v)
		body, n = bytes.NewReader(b), int64(len(b))
	case len(c.staticBody) > 0:
		body, n = bytes.NewReader(c.staticBody), int64(len(c.staticBody))
	}
	hreq, err := http.NewRequestWithContext(ctx, c.method, u, body)
	if err != nil {
		return nil, err
	}
	hreq.ContentLength = n
	for k, vs := range c.header {
		hreq.Header[k] = vs
	}
	for _, h := range c.headerTmpl {
		hs := h.seed
		if seed != c.seed {
			hs = template.DeriveSeed(seed, "header/"+h.name)
		}
		hreq.Header.Add(h.name, string(h.tmpl.AppendVars(nil, hs, i, data, v)))
	}
	if h := hreq.Header.Get("Host"); h != "" {
		hreq.Host = h
	}
	return hreq, nil
}
