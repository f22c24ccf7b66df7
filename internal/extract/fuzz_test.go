package extract

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParsePath checks the JSON path parser: it never panics; an error is
// a *PathError wrapping ErrSpec at an offset inside the path; a path that
// parses is written back by formatPath to a path that parses to the same
// steps.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"$", "$.a", "$.items[0].id", `$['a b']["c\"d"][12]`, "$..a", "$[*]", "$.a[-1]",
		"$['", `$["\\`, "$.é", "$[01]", "$[2147483648]", "x", "", "$.a.", "$[0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		steps, err := parsePath(p)
		if err != nil {
			var pe *PathError
			if !errors.As(err, &pe) || !errors.Is(err, ErrSpec) {
				t.Fatalf("parsePath(%q) = %T %v; want a *PathError wrapping ErrSpec", p, err, err)
			}
			if pe.Offset < 0 || pe.Offset > len(p) || pe.Msg == "" {
				t.Fatalf("parsePath(%q): error at offset %d of %d: %q", p, pe.Offset, len(p), pe.Msg)
			}
			return
		}
		back := formatPath(steps)
		again, err := parsePath(back)
		if err != nil {
			t.Fatalf("parsePath(%q) ok but its form %q does not parse: %v", p, back, err)
		}
		if len(again) != len(steps) {
			t.Fatalf("parsePath(%q) = %d steps; its form %q has %d", p, len(steps), back, len(again))
		}
		for i := range steps {
			if steps[i] != again[i] {
				t.Fatalf("parsePath(%q) step %d = %+v; its form %q gives %+v", p, i, steps[i], back, again[i])
			}
		}
	})
}

// FuzzExtract runs JSON, regex, header and cookie extractions on arbitrary
// bodies and headers: nothing panics, a failure wraps ErrNoMatch, and $ of
// a body that is one JSON value always extracts (a string as its text,
// anything else as valid JSON).
func FuzzExtract(f *testing.F) {
	f.Add([]byte(shopBody), "session=abc; Path=/")
	f.Add([]byte(`[1, 2.50, -0, 1e400, "x\u00e9", {"a": [null]}]`), "")
	f.Add([]byte(`{"a":`), "a=b")
	f.Add([]byte("\xff\xfe"), "=;;")
	f.Add([]byte(`"\ud800"`), "x")
	var xs []*Extractor
	for _, s := range []Spec{{JSON: "$"}, {JSON: "$.token"}, {JSON: "$.items[1].id"}, {JSON: "$[0]"}, {JSON: "$['a'][0]"},
		{Regex: `id=(\d+)`}, {Regex: `(a)|(b)`, Group: intp(2)}, {Header: "X-Id"}, {Cookie: "session"}} {
		x, err := Compile(s)
		if err != nil {
			f.Fatal(err)
		}
		xs = append(xs, x)
	}
	f.Fuzz(func(t *testing.T, body []byte, setCookie string) {
		r := &Response{Status: 200, Header: hdr("Set-Cookie", setCookie, "X-Id", setCookie), Body: body}
		for _, x := range xs {
			v, err := x.Extract(r)
			if err != nil && !errors.Is(err, ErrNoMatch) {
				t.Fatalf("%s of %q: error %v does not wrap ErrNoMatch", x, body, err)
			}
			if err != nil && strings.ContainsAny(err.Error(), "\n") {
				t.Fatalf("%s of %q: error on more than one line: %q", x, body, err)
			}
			_ = v
		}
		root, err := xs[0].Extract(r)
		valid := json.Valid(body)
		switch {
		case valid && err != nil:
			t.Fatalf("$ of valid JSON %q: %v", body, err)
		case !valid && err == nil:
			t.Fatalf("$ of invalid JSON %q = %q", body, root)
		case err == nil:
			if isString := strings.HasPrefix(strings.TrimLeft(string(body), " \t\r\n"), `"`); !isString && !json.Valid([]byte(root)) {
				t.Fatalf("$ of %q = %q, not JSON", body, root)
			}
			if !utf8.ValidString(root) && utf8.Valid(body) {
				t.Fatalf("$ of UTF-8 %q = %q, not UTF-8", body, root)
			}
		}
		vals, err := ExtractAll(r, xs, nil)
		if err == nil && len(vals) != len(xs) || err != nil && len(vals) >= len(xs) {
			t.Fatalf("ExtractAll = %d values, %v for %d extractions", len(vals), err, len(xs))
		}
	})
}
