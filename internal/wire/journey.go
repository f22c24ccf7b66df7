package wire

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/surgeload/surge/internal/engine"
	"github.com/surgeload/surge/internal/extract"
	surgev1 "github.com/surgeload/surge/proto/gen/surge/v1"
)

// Bounds on journeys in a message (as the scenario's).
const (
	MaxJourneys     = 16
	MaxJourneySteps = 128 // think steps included
	MaxExtracts     = 64
	MaxChecks       = 32
	MaxTextLen      = 4096 // a check's or extraction's strings
)

var errTooLong = errors.New("too long")

func requestToProto(r engine.Request) *surgev1.RequestDef {
	d := &surgev1.RequestDef{Name: r.Name, Method: r.Method, Path: r.Path, Url: r.URL, Body: r.Body,
		TimeoutNanos: int64(r.Timeout), Weight: r.Weight}
	for _, st := range r.Expect {
		d.Expect = append(d.Expect, uint32(st))
	}
	for name, vs := range r.Header {
		for _, v := range vs {
			d.Headers = append(d.Headers, &surgev1.Header{Name: name, Value: v})
		}
	}
	for _, c := range r.Checks {
		cd := &surgev1.CheckDef{Name: c.Name, BodyContains: c.BodyContains, BodyNotContains: c.BodyNotContains,
			Json: c.JSON, Header: c.Header, Matches: c.Matches}
		if c.Equals != nil {
			cd.HasEquals, cd.Equals = true, *c.Equals
		}
		d.Checks = append(d.Checks, cd)
	}
	return d
}

func requestFromProto(d *surgev1.RequestDef) (engine.Request, error) {
	r := engine.Request{Name: d.GetName(), Method: d.GetMethod(), Path: d.GetPath(), URL: d.GetUrl(),
		Timeout: time.Duration(d.GetTimeoutNanos()), Weight: d.GetWeight()}
	if len(d.GetExpect()) > 64 {
		return r, fmt.Errorf("%d expected statuses", len(d.GetExpect()))
	}
	for _, st := range d.GetExpect() {
		r.Expect = append(r.Expect, int(st))
	}
	if len(r.Name) > MaxNameLen {
		return r, fmt.Errorf("name longer than %d", MaxNameLen)
	}
	if len(d.GetBody()) > MaxBodyBytes {
		return r, fmt.Errorf("body of %d bytes, more than %d", len(d.GetBody()), MaxBodyBytes)
	}
	if len(d.GetBody()) > 0 {
		r.Body = d.GetBody()
	}
	size := 0
	for _, h := range d.GetHeaders() {
		size += len(h.GetName()) + len(h.GetValue())
		if size > MaxHeaderBytes {
			return r, fmt.Errorf("headers larger than %d bytes", MaxHeaderBytes)
		}
		if r.Header == nil {
			r.Header = http.Header{}
		}
		r.Header.Add(h.GetName(), h.GetValue())
	}
	if len(d.GetChecks()) > MaxChecks {
		return r, fmt.Errorf("%d checks, more than %d", len(d.GetChecks()), MaxChecks)
	}
	for _, cd := range d.GetChecks() {
		c := extract.CheckSpec{Name: cd.GetName(), BodyContains: cd.GetBodyContains(), BodyNotContains: cd.GetBodyNotContains(),
			JSON: cd.GetJson(), Header: cd.GetHeader(), Matches: cd.GetMatches()}
		if cd.GetHasEquals() {
			eq := cd.GetEquals()
			c.Equals = &eq
		}
		for _, f := range []string{c.Name, c.BodyContains, c.BodyNotContains, c.JSON, c.Header, c.Matches, cd.GetEquals()} {
			if len(f) > MaxTextLen {
				return r, fmt.Errorf("check: %w (more than %d bytes)", errTooLong, MaxTextLen)
			}
		}
		r.Checks = append(r.Checks, c)
	}
	return r, nil
}

var thinkDists = map[string]engine.ThinkDist{"fixed": engine.ThinkFixed, "uniform": engine.ThinkUniform, "exponential": engine.ThinkExponential}

func journeysToProto(js []engine.Journey) []*surgev1.JourneyDef {
	var out []*surgev1.JourneyDef
	for _, j := range js {
		jd := &surgev1.JourneyDef{Name: j.Name, Weight: j.Weight, NoCookies: j.NoCookies, ContinueOnError: j.ContinueOnError}
		for _, st := range j.Steps {
			sd := &surgev1.StepDef{Loop: uint32(max(st.Loop, 0))}
			if st.Think != nil {
				t := st.Think
				sd.Think = &surgev1.ThinkDef{FixedNanos: int64(t.Fixed), MinNanos: int64(t.Min), MaxNanos: int64(t.Max), MeanNanos: int64(t.Mean)}
				for name, d := range thinkDists {
					if d == t.Dist {
						sd.Think.Dist = name
					}
				}
			} else {
				sd.Request = requestToProto(st.Request)
			}
			for _, e := range st.Extract {
				ed := &surgev1.ExtractDef{Var: e.Var, Json: e.Spec.JSON, Header: e.Spec.Header, Regex: e.Spec.Regex, Cookie: e.Spec.Cookie}
				if e.Spec.Group != nil {
					ed.HasGroup, ed.Group = true, int32(*e.Spec.Group)
				}
				sd.Extract = append(sd.Extract, ed)
			}
			jd.Steps = append(jd.Steps, sd)
		}
		out = append(out, jd)
	}
	return out
}

// journeysFromProto decodes an assignment's journeys; the engine's
// Job.Validate checks what they mean.
func journeysFromProto(jds []*surgev1.JourneyDef) ([]engine.Journey, error) {
	if len(jds) > MaxJourneys {
		return nil, fmt.Errorf("%w: %d journeys, more than %d", ErrMalformed, len(jds), MaxJourneys)
	}
	var out []engine.Journey
	steps := 0
	for x, jd := range jds {
		j := engine.Journey{Name: jd.GetName(), Weight: jd.GetWeight(), NoCookies: jd.GetNoCookies(), ContinueOnError: jd.GetContinueOnError()}
		if len(j.Name) > MaxNameLen {
			return nil, fmt.Errorf("%w: journey %d: name longer than %d", ErrMalformed, x, MaxNameLen)
		}
		steps += len(jd.GetSteps())
		if steps > MaxJourneySteps {
			return nil, fmt.Errorf("%w: more than %d journey steps", ErrMalformed, MaxJourneySteps)
		}
		for k, sd := range jd.GetSteps() {
			bad := func(err error) error {
				return fmt.Errorf("%w: journey %q step %d: %w", ErrMalformed, j.Name, k+1, err)
			}
			st := engine.Step{Loop: int(min(sd.GetLoop(), engine.MaxLoop+1))}
			switch {
			case sd.GetThink() != nil && sd.GetRequest() != nil:
				return nil, bad(errors.New("both a think time and a request"))
			case sd.GetThink() != nil:
				t := sd.GetThink()
				d, ok := thinkDists[t.GetDist()]
				if !ok {
					return nil, bad(fmt.Errorf("unknown think distribution %q", t.GetDist()))
				}
				st.Think = &engine.Think{Dist: d, Fixed: time.Duration(t.GetFixedNanos()), Min: time.Duration(t.GetMinNanos()),
					Max: time.Duration(t.GetMaxNanos()), Mean: time.Duration(t.GetMeanNanos())}
			case sd.GetRequest() != nil:
				r, err := requestFromProto(sd.GetRequest())
				if err != nil {
					return nil, bad(err)
				}
				st.Request = r
			default:
				return nil, bad(errors.New("neither a think time nor a request"))
			}
			if len(sd.GetExtract()) > MaxExtracts {
				return nil, bad(fmt.Errorf("%d extractions, more than %d", len(sd.GetExtract()), MaxExtracts))
			}
			for _, ed := range sd.GetExtract() {
				e := engine.Extraction{Var: ed.GetVar(), Spec: extract.Spec{JSON: ed.GetJson(), Header: ed.GetHeader(), Regex: ed.GetRegex(), Cookie: ed.GetCookie()}}
				if ed.GetHasGroup() {
					g := int(ed.GetGroup())
					e.Spec.Group = &g
				}
				for _, f := range []string{e.Var, e.Spec.JSON, e.Spec.Header, e.Spec.Regex, e.Spec.Cookie} {
					if len(f) > MaxTextLen {
						return nil, bad(fmt.Errorf("extraction: %w (more than %d bytes)", errTooLong, MaxTextLen))
					}
				}
				st.Extract = append(st.Extract, e)
			}
			j.Steps = append(j.Steps, st)
		}
		out = append(out, j)
	}
	return out, nil
}
