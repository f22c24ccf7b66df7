package extract

// TEMPORARY stand-in until the real implementation (branch i17-jscen)
// merges; deleted then.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

type Extractor struct {
	s  Spec
	re *regexp.Regexp
}

func Compile(s Spec) (*Extractor, error) {
	x := &Extractor{s: s}
	if s.Regex != "" {
		re, err := regexp.Compile(s.Regex)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSpec, err)
		}
		x.re = re
	}
	if s.JSON != "" && !strings.HasPrefix(s.JSON, "$") {
		return nil, fmt.Errorf("%w: json path must start with $", ErrSpec)
	}
	return x, nil
}

func (x *Extractor) Extract(r *Response) (string, error) {
	switch {
	case x.s.Header != "":
		if v := r.Header.Get(x.s.Header); v != "" {
			return v, nil
		}
	case x.s.Cookie != "":
		for _, line := range r.Header.Values("Set-Cookie") {
			if c, err := http.ParseSetCookie(line); err == nil && c.Name == x.s.Cookie {
				return c.Value, nil
			}
		}
	case x.re != nil:
		if m := x.re.FindSubmatch(r.Body); m != nil {
			g := 0
			if len(m) > 1 {
				g = 1
			}
			return string(m[g]), nil
		}
	default:
		var v any
		if err := json.Unmarshal(r.Body, &v); err != nil {
			return "", fmt.Errorf("%w: body is not JSON", ErrNoMatch)
		}
		for _, k := range strings.Split(strings.TrimPrefix(x.s.JSON, "$"), ".") {
			if k == "" {
				continue
			}
			m, ok := v.(map[string]any)
			if !ok {
				return "", ErrNoMatch
			}
			if v, ok = m[k]; !ok {
				return "", ErrNoMatch
			}
		}
		if s, ok := v.(string); ok {
			return s, nil
		}
		b, _ := json.Marshal(v)
		return string(b), nil
	}
	return "", ErrNoMatch
}

type Check struct{ s CheckSpec }

func CompileCheck(s CheckSpec) (*Check, error) { return &Check{s: s}, nil }

func (c *Check) Name() string {
	if c.s.Name != "" {
		return c.s.Name
	}
	return "check"
}

func (c *Check) Test(r *Response) error {
	switch {
	case c.s.BodyContains != "":
		if !strings.Contains(string(r.Body), c.s.BodyContains) {
			return ErrNoMatch
		}
	case c.s.BodyNotContains != "":
		if strings.Contains(string(r.Body), c.s.BodyNotContains) {
			return ErrNoMatch
		}
	case c.s.JSON != "":
		x, _ := Compile(Spec{JSON: c.s.JSON})
		v, err := x.Extract(r)
		if err != nil {
			return err
		}
		if c.s.Equals != nil && v != *c.s.Equals {
			return ErrNoMatch
		}
	}
	return nil
}
