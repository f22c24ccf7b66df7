package har

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/goccy/go-yaml"

	"github.com/surgeload/surge/internal/template"
)

// FuzzDecode: no input makes Decode or Convert panic; an error is a
// positioned *Error wrapping ErrInvalid; an archive Decode accepts either
// converts to output that reads back to what was meant, or is refused with
// a reason.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.har"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"log": {"version": "1.2", "entries": [{"startedDateTime": "2024-05-01T10:00:00Z", "time": 1e300,
		"request": {"method": "GET", "url": "http://[::1]:9/a/{{b}}?c=%zz"}, "response": {"status": 999,
		"headers": [{"name": "X-T", "value": "abcd1234"}], "content": {"text": "[[[[\"abcd1234\"]]]]"}}}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := DecodeBytes(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Decode error %v does not wrap ErrInvalid", err)
			}
			var e *Error
			if !errors.As(err, &e) || e.Msg == "" {
				t.Fatalf("Decode error %v is not an *Error with a message", err)
			}
			if lines := strings.Count(string(data), "\n") + 1; e.Line > lines {
				t.Fatalf("Decode error at line %d of %d: %v", e.Line, lines, err)
			}
			return
		}
		for _, keep := range []bool{false, true} {
			out, sum, steps, err := convert(h, Options{KeepAssets: keep})
			if err != nil {
				if !strings.HasPrefix(err.Error(), "no request to play") {
					t.Fatalf("Convert = %v", err)
				}
				continue
			}
			if err := checkOutput(out, sum, steps); err != nil {
				t.Fatalf("Convert(keep assets %v): %v\n%s", keep, err, out)
			}
		}
	})
}

// FuzzYAMLString: every string yamlString writes reads back as itself.
func FuzzYAMLString(f *testing.F) {
	for _, s := range []string{"", "a", "/login", "1/s", "true", "1e5", "0x1F", "- a", "a: b", "#x", "x #y",
		"'", `"`, "\\", "\n", " a ", "\t", "\x00", "\x7f", "\u0085", "\u2028", "\ufeff", "é", "2024-05-01",
		"{{", "[a]", "{a: b}", "&a", "*a", "!t", "|", ">", "%x", "@x", "`x", "~", "null", "- ", "? x", "\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return // scenario files are UTF-8, and so are HAR strings
		}
		doc := "k: " + yamlString(s) + "\n"
		var m map[string]string
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("yamlString(%q) = %s: %v", s, doc, err)
		}
		if m["k"] != s {
			t.Fatalf("yamlString(%q) = %s reads back as %q", s, doc, m["k"])
		}
	})
}

// FuzzTemplateField: a recorded text with variables in it, written as a
// template, compiles and renders the recorded text.
func FuzzTemplateField(f *testing.F) {
	f.Add("Bearer abcdefgh", 7, 15)
	f.Add("{{{x}}}{", 1, 3)
	f.Add(`{"a":"{{"}`, 6, 8)
	f.Fuzz(func(t *testing.T, raw string, start, end int) {
		fl := field{raw: raw}
		if start >= 0 && end <= len(raw) && start < end {
			fl.add(start, end, &source{name: "v", value: raw[start:end]})
		}
		tpl, err := template.Parse(fl.template())
		if err != nil {
			t.Fatalf("template of %q [%d:%d] = %q: %v", raw, start, end, fl.template(), err)
		}
		val := ""
		if len(fl.spans) > 0 {
			val = raw[start:end]
		}
		if got := tpl.RenderVars(1, 0, nil, vars{"v": val}); got != raw {
			t.Fatalf("template of %q [%d:%d] = %q renders %q", raw, start, end, fl.template(), got)
		}
	})
}

// FuzzConvert: recorded text of any kind (URLs, headers, bodies, response
// bodies that hand out tokens) converts to output that reads back to what
// was meant: no recorded text can break the YAML or the templates.
func FuzzConvert(f *testing.F) {
	f.Add("https://a.example/x/tok12345678?q=tok12345678", "Authorization", "Bearer tok12345678", `{"t":"tok12345678"}`, `{"token":"tok12345678"}`, "application/json")
	f.Add("http://b.example:8080/{{x}}?a=b c#f", "X-K", "{{'a'}} \t", "{{", `["tok12345678"]`, "text/plain")
	f.Add("https://a.example/", "x-token", "abc-123-def", "t=abc-123-def&u=1", `{"a b":{"c'd":"abc-123-def"}}`, "application/x-www-form-urlencoded")
	f.Fuzz(func(t *testing.T, u2, hname, hval, body, respBody, mt string) {
		t0, _ := parseTime("2024-05-01T10:00:00Z")
		h := &HAR{Log: &Log{Version: "1.2", Entries: []Entry{
			{Started: t0, Time: 10,
				Request: &Request{Method: "POST", URL: "https://a.example/login"},
				Response: &Response{Status: 200, Headers: []NameValue{{hname, hval}},
					Content: Content{MimeType: "application/json", Text: respBody}}},
			{Started: t0.Add(1500e6), Time: 10,
				Request: &Request{Method: "PUT", URL: u2, Headers: []NameValue{{hname, hval}, {"Content-Type", mt}},
					PostData: &PostData{MimeType: mt, Text: body}},
				Response: &Response{Status: 404}},
		}}}
		out, sum, steps, err := convert(h, Options{})
		if err != nil {
			t.Fatalf("Convert = %v", err)
		}
		if err := checkOutput(out, sum, steps); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	})
}
