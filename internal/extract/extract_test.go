package extract

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func intp(i int) *int       { return &i }
func strp(s string) *string { return &s }
func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

const shopBody = `{"token":"t-123","user":{"name":"u1","id":42,"big":12345678901234567890,"f":1.50e3},` +
	`"items":[{"id":7},{"id":8,"tags":["a","b"]}],"ok":true,"none":null,"html":"<a&b>","odd key":"x","é":"e"}`

func TestExtract(t *testing.T) {
	resp := &Response{
		Status: 200,
		Header: hdr("ETag", `"v1"`, "X-Multi", "first", "X-Multi", "second",
			"Set-Cookie", "other=1; Path=/", "Set-Cookie", "session=abc123; Path=/; HttpOnly", "Set-Cookie", "gone=; Max-Age=0"),
		Body: []byte(shopBody + "\nid=77 name=zz"),
	}
	jsonResp := &Response{Status: 200, Header: resp.Header, Body: []byte(shopBody)}
	for _, tc := range []struct {
		spec Spec
		r    *Response
		want string
	}{
		{Spec{JSON: "$.token"}, jsonResp, "t-123"},
		{Spec{JSON: "$.user.name"}, jsonResp, "u1"},
		{Spec{JSON: "$.user.id"}, jsonResp, "42"},
		{Spec{JSON: "$.user.big"}, jsonResp, "12345678901234567890"},
		{Spec{JSON: "$.user.f"}, jsonResp, "1.50e3"},
		{Spec{JSON: "$.ok"}, jsonResp, "true"},
		{Spec{JSON: "$.none"}, jsonResp, "null"},
		{Spec{JSON: "$.html"}, jsonResp, "<a&b>"},
		{Spec{JSON: "$.items[1].id"}, jsonResp, "8"},
		{Spec{JSON: "$['items'][0]"}, jsonResp, `{"id":7}`},
		{Spec{JSON: `$["items"][1]["tags"]`}, jsonResp, `["a","b"]`},
		{Spec{JSON: "$['odd key']"}, jsonResp, "x"},
		{Spec{JSON: "$.é"}, jsonResp, "e"},
		{Spec{JSON: "$"}, &Response{Body: []byte(` "s" `)}, "s"},
		{Spec{JSON: "$"}, &Response{Body: []byte(`{"b":1,"a":[1, 2]}`)}, `{"a":[1,2],"b":1}`},
		{Spec{Header: "etag"}, resp, `"v1"`},
		{Spec{Header: "X-Multi"}, resp, "first"},
		{Spec{Header: "x-raw"}, &Response{Header: http.Header{"x-raw": {"v"}}}, "v"},
		{Spec{Cookie: "session"}, resp, "abc123"},
		{Spec{Regex: `id=(\d+)`}, resp, "77"},
		{Spec{Regex: `id=(\d+) name=(\w+)`, Group: intp(2)}, resp, "zz"},
		{Spec{Regex: `id=\d+`}, resp, "id=77"},
		{Spec{Regex: `id=(\d+)`, Group: intp(0)}, resp, "id=77"},
	} {
		x, err := Compile(tc.spec)
		if err != nil {
			t.Errorf("Compile(%+v): %v", tc.spec, err)
			continue
		}
		got, err := x.Extract(tc.r)
		if err != nil || got != tc.want {
			t.Errorf("Compile(%+v).Extract = %q, %v; want %q", tc.spec, got, err, tc.want)
		}
	}
}

func TestExtractNoMatch(t *testing.T) {
	resp := &Response{
		Status: 200,
		Header: hdr("Set-Cookie", "gone=; Max-Age=0", "Set-Cookie", "bad cookie line", "Set-Cookie", "old=x; Max-Age=-1"),
		Body:   []byte(shopBody),
	}
	for _, tc := range []struct {
		spec Spec
		r    *Response
		want string // in the error
	}{
		{Spec{JSON: "$.nope"}, resp, `$ has no member "nope"`},
		{Spec{JSON: "$.items[5]"}, resp, "$.items has 2 item(s), no [5]"},
		{Spec{JSON: "$.items.id"}, resp, "$.items is an array, not an object"},
		{Spec{JSON: "$.user[0]"}, resp, "$.user is an object, not an array"},
		{Spec{JSON: "$.token.x"}, resp, "$.token is a string, not an object or array"},
		{Spec{JSON: "$.none[0]"}, resp, "$.none is null"},
		{Spec{JSON: "$.user.id.x"}, resp, "$.user.id is a number"},
		{Spec{JSON: "$.ok.x"}, resp, "$.ok is a boolean"},
		{Spec{JSON: "$.token"}, &Response{Body: []byte("<html>")}, "body is not JSON (invalid character '<'"},
		{Spec{JSON: "$.token"}, &Response{Body: []byte(`{"token": "x"`)}, "body is not JSON (it ends early)"},
		{Spec{JSON: "$.token"}, &Response{Body: []byte(`{"token": "x"} {}`)}, "data after the JSON value"},
		{Spec{JSON: "$.token"}, &Response{Body: []byte(`{"token": "x"`), Truncated: true}, "cut at 13 bytes (raise client.max_body)"},
		{Spec{JSON: "$"}, &Response{}, "body is empty, not JSON"},
		{Spec{Header: "ETag"}, resp, "no header ETag"},
		{Spec{Header: "ETag"}, &Response{}, "no header ETag"},
		{Spec{Cookie: "session"}, resp, "no Set-Cookie for cookie session"},
		{Spec{Cookie: "gone"}, resp, "the response deletes cookie gone"},
		{Spec{Cookie: "old"}, resp, "the response deletes cookie old"},
		{Spec{Regex: `id=(\d+)`}, resp, `regex "id=(\\d+)" does not match the body`},
		{Spec{Regex: `id=(\d+)`}, &Response{Body: []byte("x"), Truncated: true}, "(body cut at 1 bytes)"},
		{Spec{Regex: `(a)|(b)`, Group: intp(2)}, &Response{Body: []byte("a")}, `group 2 of regex "(a)|(b)" is not in the match`},
	} {
		x, err := Compile(tc.spec)
		if err != nil {
			t.Errorf("Compile(%+v): %v", tc.spec, err)
			continue
		}
		got, err := x.Extract(tc.r)
		if !errors.Is(err, ErrNoMatch) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Compile(%+v).Extract = %q, %v; want ErrNoMatch with %q", tc.spec, got, err, tc.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		spec  Spec
		field string
		off   int // for a *PathError
		want  string
	}{
		{Spec{}, "", -1, "an extraction needs one of json, header, regex or cookie"},
		{Spec{JSON: "$.a", Header: "X"}, "header", -1, "got json and header"},
		{Spec{Regex: "a", Cookie: "c"}, "cookie", -1, "got regex and cookie"},
		{Spec{Header: "X", Group: intp(1)}, "group", -1, "group is only for a regex extraction"},
		{Spec{Header: "Bad Name"}, "header", -1, `invalid header name "Bad Name"`},
		{Spec{Cookie: "a;b"}, "cookie", -1, `invalid cookie name "a;b"`},
		{Spec{Regex: "a("}, "regex", -1, `invalid regex "a(": missing closing )`},
		{Spec{Regex: `(?<=a)b`}, "regex", -1, "invalid regex"},
		{Spec{Regex: "a"}, "", -1, ""}, // group 0 by default: fine
		{Spec{Regex: "(a)", Group: intp(2)}, "group", -1, `regex "(a)" has 1 group(s), no group 2`},
		{Spec{Regex: "a", Group: intp(1)}, "group", -1, `has 0 group(s), no group 1`},
		{Spec{Regex: "(a)", Group: intp(-1)}, "group", -1, "group must be >= 0 (got -1)"},
		{Spec{JSON: "token"}, "json", 0, "path must start with $"},
		{Spec{JSON: "$."}, "json", 2, "expected a name after ."},
		{Spec{JSON: "$..a"}, "json", 1, "recursive descent (..) is not supported"},
		{Spec{JSON: "$.*"}, "json", 2, "wildcards are not supported"},
		{Spec{JSON: "$[*]"}, "json", 2, "wildcards are not supported"},
		{Spec{JSON: "$.a[-1]"}, "json", 4, "index must be non-negative"},
		{Spec{JSON: "$.a[01]"}, "json", 4, "leading zero"},
		{Spec{JSON: "$.a[99999999999999999999]"}, "json", 4, "too large"},
		{Spec{JSON: "$.a[1"}, "json", 5, "expected ] after the index"},
		{Spec{JSON: "$.a["}, "json", 3, "unterminated ["},
		{Spec{JSON: "$['a"}, "json", 2, "unterminated quoted name"},
		{Spec{JSON: "$['a'x"}, "json", 5, "expected ] after the quoted name"},
		{Spec{JSON: "$[a]"}, "json", 2, "expected an index or a quoted name"},
		{Spec{JSON: "$.a b"}, "json", 3, `expected . or [ (got " ")`},
		{Spec{JSON: "$.a[0:2]"}, "json", 5, "expected ] after the index"},
		{Spec{JSON: "$[?(@.a)]"}, "json", 2, "expected an index or a quoted name"},
	} {
		_, err := Compile(tc.spec)
		if tc.want == "" {
			if err != nil {
				t.Errorf("Compile(%+v) = %v; want nil", tc.spec, err)
			}
			continue
		}
		if !errors.Is(err, ErrSpec) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Compile(%+v) = %v; want ErrSpec with %q", tc.spec, err, tc.want)
			continue
		}
		var pe *PathError
		var se *SpecError
		switch {
		case errors.As(err, &pe):
			if tc.field != "json" || pe.Offset != tc.off {
				t.Errorf("Compile(%+v) = PathError at %d; want field %q offset %d", tc.spec, pe.Offset, tc.field, tc.off)
			}
		case errors.As(err, &se):
			if se.Field != tc.field {
				t.Errorf("Compile(%+v) = SpecError on %q; want %q", tc.spec, se.Field, tc.field)
			}
		default:
			t.Errorf("Compile(%+v) = %T; want *PathError or *SpecError", tc.spec, err)
		}
	}
}

func TestExtractAll(t *testing.T) {
	r := &Response{Header: hdr("X-Id", "9"), Body: []byte(shopBody)}
	var xs []*Extractor
	for _, s := range []Spec{{JSON: "$.token"}, {Header: "X-Id"}, {JSON: "$.user.id"}, {JSON: "$.missing"}, {JSON: "$.ok"}} {
		x, err := Compile(s)
		if err != nil {
			t.Fatal(err)
		}
		xs = append(xs, x)
	}
	got, err := ExtractAll(r, xs[:3], nil)
	if err != nil || strings.Join(got, ",") != "t-123,9,42" {
		t.Errorf("ExtractAll = %q, %v; want [t-123 9 42]", got, err)
	}
	got, err = ExtractAll(r, xs, got[:0])
	if !errors.Is(err, ErrNoMatch) || len(got) != 3 || !strings.Contains(err.Error(), `"missing"`) {
		t.Errorf("ExtractAll with a missing member = %q, %v; want the 3 before it and ErrNoMatch", got, err)
	}
}

func TestChecks(t *testing.T) {
	r := &Response{
		Status: 200,
		Header: hdr("Content-Type", "application/json; charset=utf-8", "X-Id", "17"),
		Body:   []byte(`{"status":"ok","id":"12345","user":"u1","n":3,"long":"` + strings.Repeat("z", 100) + `"}`),
	}
	for _, tc := range []struct {
		spec CheckSpec
		name string
		fail string // "" passes
	}{
		{CheckSpec{BodyContains: "status"}, `body contains "status"`, ""},
		{CheckSpec{BodyContains: "error"}, `body contains "error"`, `check failed: body contains "error": not in the body`},
		{CheckSpec{BodyNotContains: "error"}, `body does not contain "error"`, ""},
		{CheckSpec{BodyNotContains: "ok"}, `body does not contain "ok"`, "found in the body"},
		{CheckSpec{JSON: "$.status", Equals: strp("ok")}, `$.status == "ok"`, ""},
		{CheckSpec{JSON: "$.status", Equals: strp("OK")}, `$.status == "OK"`, `check failed: $.status == "OK": got "ok"`},
		{CheckSpec{JSON: "$.n", Equals: strp("3")}, `$.n == "3"`, ""},
		{CheckSpec{JSON: "$.user", Equals: strp("")}, `$.user == ""`, `got "u1"`},
		{CheckSpec{JSON: "$.id", Matches: "^[0-9]+$"}, `$.id matches "^[0-9]+$"`, ""},
		{CheckSpec{JSON: "$.user", Matches: "^[0-9]+$"}, `$.user matches "^[0-9]+$"`, `got "u1"`},
		{CheckSpec{JSON: "$.long", Equals: strp("z")}, `$.long == "z"`, `got "` + strings.Repeat("z", maxShown) + `"…`},
		{CheckSpec{JSON: "$.token"}, "$.token present", `$ has no member "token"`},
		{CheckSpec{Name: "got-token", JSON: "$.status"}, "got-token", ""},
		{CheckSpec{Header: "X-Id"}, "header X-Id present", ""},
		{CheckSpec{Header: "X-Other"}, "header X-Other present", "no header X-Other"},
		{CheckSpec{Header: "Content-Type", Matches: "json"}, `header Content-Type matches "json"`, ""},
		{CheckSpec{Header: "Content-Type", Matches: "^text/"}, `header Content-Type matches "^text/"`, `got "application/json; charset=utf-8"`},
		{CheckSpec{Header: "x-id", Equals: strp("17")}, `header x-id == "17"`, ""},
	} {
		c, err := CompileCheck(tc.spec)
		if err != nil {
			t.Errorf("CompileCheck(%+v): %v", tc.spec, err)
			continue
		}
		if c.Name() != tc.name {
			t.Errorf("CompileCheck(%+v).Name() = %q; want %q", tc.spec, c.Name(), tc.name)
		}
		err = c.Test(r)
		switch {
		case tc.fail == "" && err != nil:
			t.Errorf("check %s: Test = %v; want pass", tc.name, err)
		case tc.fail != "" && (!errors.Is(err, ErrCheckFailed) || !strings.Contains(err.Error(), tc.fail)):
			t.Errorf("check %s: Test = %v; want ErrCheckFailed with %q", tc.name, err, tc.fail)
		}
	}
	// A check on a JSON path of a body that is not JSON fails, saying so.
	c, _ := CompileCheck(CheckSpec{JSON: "$.a"})
	if err := c.Test(&Response{Body: []byte("<html>")}); err == nil || !strings.Contains(err.Error(), "body is not JSON") {
		t.Errorf("JSON check of HTML = %v; want body is not JSON", err)
	}
	c, _ = CompileCheck(CheckSpec{BodyContains: "z"})
	if err := c.Test(&Response{Body: []byte("abc"), Truncated: true}); err == nil || !strings.Contains(err.Error(), "body cut at 3 bytes") {
		t.Errorf("contains check of a truncated body = %v; want the cut noted", err)
	}
}

func TestTestAll(t *testing.T) {
	r := &Response{Body: []byte(`{"a":"x","b":"y"}`)}
	var cs []*Check
	for _, s := range []CheckSpec{{JSON: "$.a", Equals: strp("x")}, {JSON: "$.b"}, {JSON: "$.b", Equals: strp("z")}, {JSON: "$.a"}} {
		c, err := CompileCheck(s)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	if i, err := TestAll(r, cs[:2]); i != -1 || err != nil {
		t.Errorf("TestAll(passing) = %d, %v; want -1, nil", i, err)
	}
	if i, err := TestAll(r, cs); i != 2 || !errors.Is(err, ErrCheckFailed) {
		t.Errorf("TestAll = %d, %v; want 2 and ErrCheckFailed", i, err)
	}
}

func TestCompileCheckErrors(t *testing.T) {
	for _, tc := range []struct {
		spec  CheckSpec
		field string
		want  string
	}{
		{CheckSpec{}, "", "a check needs one of body_contains, body_not_contains, json or header"},
		{CheckSpec{Name: "x"}, "", "a check needs one of"},
		{CheckSpec{BodyContains: "a", JSON: "$.a"}, "json", "got body_contains and json"},
		{CheckSpec{JSON: "$.a", Header: "X"}, "header", "got json and header"},
		{CheckSpec{BodyContains: "a", Equals: strp("b")}, "equals", "equals goes with json or header, not body_contains"},
		{CheckSpec{BodyNotContains: "a", Matches: "b"}, "matches", "matches goes with json or header, not body_not_contains"},
		{CheckSpec{JSON: "$.a", Equals: strp("b"), Matches: "c"}, "matches", "equals or matches, not both"},
		{CheckSpec{JSON: "$.a", Matches: "c("}, "matches", `invalid regex "c("`},
		{CheckSpec{JSON: "a"}, "json", "path must start with $"},
		{CheckSpec{Header: "A B"}, "header", "invalid header name"},
	} {
		_, err := CompileCheck(tc.spec)
		if !errors.Is(err, ErrSpec) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CompileCheck(%+v) = %v; want ErrSpec with %q", tc.spec, err, tc.want)
			continue
		}
		field := "json"
		var se *SpecError
		if errors.As(err, &se) {
			field = se.Field
		}
		if field != tc.field {
			t.Errorf("CompileCheck(%+v) error on field %q; want %q", tc.spec, field, tc.field)
		}
	}
}
