package extract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// ErrCheckFailed is wrapped by Check.Test errors: the response does not
// pass the check.
var ErrCheckFailed = errors.New("check failed")

// SpecError is a Compile or CompileCheck error: what is wrong with the
// field Field (a YAML field name: "json", "regex", "group", "header",
// "cookie", "matches", "equals"; "" for the spec as a whole). A JSON path
// syntax error is a *PathError instead. Both wrap ErrSpec.
type SpecError struct {
	Field string
	Msg   string
}

func (e *SpecError) Error() string { return ErrSpec.Error() + ": " + e.Msg }

// Unwrap makes a SpecError match ErrSpec.
func (e *SpecError) Unwrap() error { return ErrSpec }

func specErr(field, format string, args ...any) error {
	return &SpecError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// source is where an Extractor reads its value.
type source int

const (
	fromJSON source = iota
	fromHeader
	fromRegex
	fromCookie
)

// Extractor is a compiled Spec. It is immutable and safe for concurrent
// use.
type Extractor struct {
	src    source
	path   []step // fromJSON
	text   string // the path, header name, regex or cookie name as written
	header string // fromHeader: canonical header name
	re     *regexp.Regexp
	group  int
}

// String describes where the value comes from: "$.token", "header ETag",
// "cookie session", "regex \"id=(\\d+)\" group 1".
func (x *Extractor) String() string {
	switch x.src {
	case fromJSON:
		return x.text
	case fromHeader:
		return "header " + x.text
	case fromCookie:
		return "cookie " + x.text
	}
	return fmt.Sprintf("regex %q group %d", x.text, x.group)
}

// Compile checks s and compiles it. Exactly one source must be set; a JSON
// path must follow the grammar of Spec.JSON (a *PathError tells where it
// does not); a regex must compile (RE2 syntax) and have the group asked
// for; a header must be a valid header name and a cookie a valid cookie
// name. Errors wrap ErrSpec.
func Compile(s Spec) (*Extractor, error) {
	var set []string
	for _, f := range []struct {
		name, v string
	}{{"json", s.JSON}, {"header", s.Header}, {"regex", s.Regex}, {"cookie", s.Cookie}} {
		if f.v != "" {
			set = append(set, f.name)
		}
	}
	switch len(set) {
	case 0:
		return nil, specErr("", "an extraction needs one of json, header, regex or cookie")
	case 1:
	default:
		return nil, specErr(set[1], "an extraction takes one of json, header, regex or cookie (got %s)", strings.Join(set, " and "))
	}
	if s.Group != nil && s.Regex == "" {
		return nil, specErr("group", "group is only for a regex extraction")
	}
	switch {
	case s.JSON != "":
		steps, err := parsePath(s.JSON)
		if err != nil {
			return nil, err
		}
		return &Extractor{src: fromJSON, path: steps, text: s.JSON}, nil
	case s.Header != "":
		if !httpguts.ValidHeaderFieldName(s.Header) {
			return nil, specErr("header", "invalid header name %q", s.Header)
		}
		return &Extractor{src: fromHeader, text: s.Header, header: http.CanonicalHeaderKey(s.Header)}, nil
	case s.Cookie != "":
		if !httpguts.ValidHeaderFieldName(s.Cookie) { // cookie-name is an HTTP token (RFC 6265 §4.1.1)
			return nil, specErr("cookie", "invalid cookie name %q", s.Cookie)
		}
		return &Extractor{src: fromCookie, text: s.Cookie}, nil
	}
	re, err := compileRegex("regex", s.Regex)
	if err != nil {
		return nil, err
	}
	g := 0
	if re.NumSubexp() > 0 {
		g = 1
	}
	if s.Group != nil {
		g = *s.Group
		switch n := re.NumSubexp(); {
		case g < 0:
			return nil, specErr("group", "group must be >= 0 (got %d)", g)
		case g > n:
			return nil, specErr("group", "regex %q has %d group(s), no group %d", s.Regex, n, g)
		}
	}
	return &Extractor{src: fromRegex, text: s.Regex, re: re, group: g}, nil
}

// compileRegex compiles an RE2 expression with a one-line message.
func compileRegex(field, expr string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "error parsing regexp: ")
		return nil, specErr(field, "invalid regex %q: %s", expr, msg)
	}
	return re, nil
}

// doc is one response as extractions read it: its body parsed as JSON at
// most once, however many JSON paths read it.
type doc struct {
	r      *Response
	parsed bool
	value  any
	err    error // why the body is not JSON
}

func (d *doc) json() (any, error) {
	if !d.parsed {
		d.parsed = true
		d.value, d.err = parseJSON(d.r)
	}
	return d.value, d.err
}

// parseJSON parses a whole body into a generic value, numbers kept as
// written (json.Number).
func parseJSON(r *Response) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	if err == nil {
		if _, err2 := dec.Token(); err2 != io.EOF {
			err = errors.New("data after the JSON value")
		}
	}
	if err == nil {
		return v, nil
	}
	msg := "body is not JSON"
	switch {
	case len(r.Body) == 0:
		msg = "body is empty, not JSON"
	case r.Truncated:
		msg = fmt.Sprintf("body is not JSON: it was cut at %d bytes (raise client.max_body)", len(r.Body))
	default:
		var se *json.SyntaxError
		if errors.As(err, &se) {
			msg = fmt.Sprintf("body is not JSON (%s at byte %d)", se.Error(), se.Offset)
		} else if err == io.ErrUnexpectedEOF {
			msg = "body is not JSON (it ends early)"
		} else {
			msg = "body is not JSON (" + err.Error() + ")"
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrNoMatch, msg)
}

// Extract returns the value of x in r. An error wraps ErrNoMatch and says
// what was missing. A JSON value renders as a string's text, a number,
// true, false or null as written, and an object or array as compact JSON.
func (x *Extractor) Extract(r *Response) (string, error) {
	return x.extract(&doc{r: r})
}

// ExtractAll appends the values of xs in r to dst, in order, parsing the
// body as JSON at most once. At the first extraction that fails it stops:
// the slice returned holds the values before it (so its length is the
// index of the failed one) and the error says which failed and why.
func ExtractAll(r *Response, xs []*Extractor, dst []string) ([]string, error) {
	d := &doc{r: r}
	for _, x := range xs {
		v, err := x.extract(d)
		if err != nil {
			return dst, err
		}
		dst = append(dst, v)
	}
	return dst, nil
}

func (x *Extractor) extract(d *doc) (string, error) {
	r := d.r
	switch x.src {
	case fromJSON:
		v, err := d.json()
		if err != nil {
			return "", err
		}
		v, err = walk(v, x.path)
		if err != nil {
			return "", err
		}
		return render(v), nil
	case fromHeader:
		vs := r.Header[x.header]
		if len(vs) == 0 {
			for k, v := range r.Header { // a map built by hand, keys not canonical
				if strings.EqualFold(k, x.header) && len(v) > 0 {
					vs = v
					break
				}
			}
		}
		if len(vs) == 0 {
			return "", fmt.Errorf("%w: no header %s", ErrNoMatch, x.text)
		}
		return vs[0], nil
	case fromCookie:
		for _, line := range r.Header.Values("Set-Cookie") {
			c, err := http.ParseSetCookie(line)
			if err != nil || c.Name != x.text {
				continue
			}
			if c.MaxAge < 0 || c.Value == "" {
				return "", fmt.Errorf("%w: the response deletes cookie %s", ErrNoMatch, x.text)
			}
			return c.Value, nil
		}
		return "", fmt.Errorf("%w: no Set-Cookie for cookie %s", ErrNoMatch, x.text)
	}
	m := x.re.FindSubmatchIndex(r.Body)
	switch {
	case m == nil:
		return "", fmt.Errorf("%w: regex %q does not match the body%s", ErrNoMatch, x.text, cut(r))
	case m[2*x.group] < 0:
		return "", fmt.Errorf("%w: group %d of regex %q is not in the match", ErrNoMatch, x.group, x.text)
	}
	return string(r.Body[m[2*x.group]:m[2*x.group+1]]), nil
}

// cut notes that a body was truncated, for messages about what it lacks.
func cut(r *Response) string {
	if r.Truncated {
		return fmt.Sprintf(" (body cut at %d bytes)", len(r.Body))
	}
	return ""
}

// walk follows path in v.
func walk(v any, path []step) (any, error) {
	for i, s := range path {
		switch t := v.(type) {
		case map[string]any:
			if !s.isKey {
				return nil, fmt.Errorf("%w: %s is an object, not an array", ErrNoMatch, formatPath(path[:i]))
			}
			var ok bool
			if v, ok = t[s.name]; !ok {
				return nil, fmt.Errorf("%w: %s has no member %q", ErrNoMatch, formatPath(path[:i]), s.name)
			}
		case []any:
			if s.isKey {
				return nil, fmt.Errorf("%w: %s is an array, not an object", ErrNoMatch, formatPath(path[:i]))
			}
			if s.index >= len(t) {
				return nil, fmt.Errorf("%w: %s has %d item(s), no [%d]", ErrNoMatch, formatPath(path[:i]), len(t), s.index)
			}
			v = t[s.index]
		default:
			return nil, fmt.Errorf("%w: %s is %s, not an object or array", ErrNoMatch, formatPath(path[:i]), kind(v))
		}
	}
	return v, nil
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	}
	return "a value"
}

// render turns a JSON value into the text a template inserts.
func render(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case json.Number:
		return string(t)
	case bool:
		return strconv.FormatBool(t)
	case nil:
		return "null"
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Unreachable: v came from the decoder, so it encodes.
		return ""
	}
	return strings.TrimSuffix(b.String(), "\n")
}
