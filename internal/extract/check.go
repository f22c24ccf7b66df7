package extract

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// checkKind is what a Check asserts.
type checkKind int

const (
	bodyContains checkKind = iota
	bodyNotContains
	valueCheck // a JSON path or a header: present, equal or matching
)

// Check is a compiled CheckSpec. It is immutable and safe for concurrent
// use.
type Check struct {
	name    string
	kind    checkKind
	needle  []byte     // body_contains, body_not_contains
	value   *Extractor // json, header
	equals  *string
	matches *regexp.Regexp
}

// CompileCheck checks s and compiles it. Exactly one of BodyContains,
// BodyNotContains, JSON and Header must be set; Equals and Matches go
// with JSON or Header only, and not together; Matches must compile (RE2).
// Errors wrap ErrSpec (a *SpecError or, for the JSON path, a *PathError).
func CompileCheck(s CheckSpec) (*Check, error) {
	var set []string
	for _, f := range []struct {
		name, v string
	}{{"body_contains", s.BodyContains}, {"body_not_contains", s.BodyNotContains}, {"json", s.JSON}, {"header", s.Header}} {
		if f.v != "" {
			set = append(set, f.name)
		}
	}
	switch len(set) {
	case 0:
		return nil, specErr("", "a check needs one of body_contains, body_not_contains, json or header")
	case 1:
	default:
		return nil, specErr(set[1], "a check takes one of body_contains, body_not_contains, json or header (got %s)", strings.Join(set, " and "))
	}
	c := &Check{name: s.Name}
	if s.BodyContains != "" || s.BodyNotContains != "" {
		switch {
		case s.Equals != nil:
			return nil, specErr("equals", "equals goes with json or header, not %s", set[0])
		case s.Matches != "":
			return nil, specErr("matches", "matches goes with json or header, not %s", set[0])
		}
		c.kind, c.needle = bodyContains, []byte(s.BodyContains)
		if s.BodyNotContains != "" {
			c.kind, c.needle = bodyNotContains, []byte(s.BodyNotContains)
		}
		return c, nil
	}
	if s.Equals != nil && s.Matches != "" {
		return nil, specErr("matches", "a check takes equals or matches, not both")
	}
	x, err := Compile(Spec{JSON: s.JSON, Header: s.Header})
	if err != nil {
		return nil, err
	}
	c.kind, c.value, c.equals = valueCheck, x, s.Equals
	if s.Matches != "" {
		if c.matches, err = compileRegex("matches", s.Matches); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Name returns the check's name, or a description of it when it has none:
// `body contains "x"`, `body does not contain "x"`, `$.status == "ok"`,
// `$.id matches "^[0-9]+$"`, `$.token present`, `header X-Id present`.
func (c *Check) Name() string {
	if c.name != "" {
		return c.name
	}
	switch c.kind {
	case bodyContains:
		return "body contains " + strconv.Quote(string(c.needle))
	case bodyNotContains:
		return "body does not contain " + strconv.Quote(string(c.needle))
	}
	subject := c.value.String()
	switch {
	case c.equals != nil:
		return subject + " == " + strconv.Quote(*c.equals)
	case c.matches != nil:
		return subject + " matches " + strconv.Quote(c.matches.String())
	}
	return subject + " present"
}

// Test checks r: nil when it passes, else an error wrapping ErrCheckFailed
// that says why, shortly.
func (c *Check) Test(r *Response) error {
	return c.test(&doc{r: r})
}

// TestAll runs checks on r in order, parsing the body as JSON at most
// once, and returns the index of the first that fails and its error, or
// -1 and nil.
func TestAll(r *Response, checks []*Check) (int, error) {
	d := &doc{r: r}
	for i, c := range checks {
		if err := c.test(d); err != nil {
			return i, err
		}
	}
	return -1, nil
}

// maxShown bounds a value quoted in a check's error.
const maxShown = 64

func (c *Check) test(d *doc) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrCheckFailed, c.Name(), fmt.Sprintf(format, args...))
	}
	r := d.r
	switch c.kind {
	case bodyContains:
		if !bytes.Contains(r.Body, c.needle) {
			return fail("not in the body%s", cut(r))
		}
		return nil
	case bodyNotContains:
		if bytes.Contains(r.Body, c.needle) {
			return fail("found in the body")
		}
		return nil
	}
	v, err := c.value.extract(d)
	if err != nil {
		return fail("%s", strings.TrimPrefix(err.Error(), ErrNoMatch.Error()+": "))
	}
	switch {
	case c.equals != nil && v != *c.equals:
		return fail("got %s", shorten(v))
	case c.matches != nil && !c.matches.MatchString(v):
		return fail("got %s", shorten(v))
	}
	return nil
}

// shorten quotes v for a message, cut to maxShown bytes.
func shorten(v string) string {
	if len(v) <= maxShown {
		return strconv.Quote(v)
	}
	cut := maxShown
	for cut > 0 && v[cut]&0xC0 == 0x80 { // not in the middle of a character
		cut--
	}
	return strconv.Quote(v[:cut]) + "…"
}
