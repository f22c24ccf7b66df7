package scenario

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// errLines splits a joined error into its lines.
func errLines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

// valid completes a scenario fragment: the tests below vary one section
// and keep the others valid.
const (
	validStages   = "stages: [{bundled: echo}]\n"
	validRequests = "requests: [{}]\n"
	validLoad     = "load: {constant: {rate: 1, duration: 1s}}\n"
)

func TestParseGood(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want Scenario
	}{
		{
			name: "defaults",
			src:  "name: d\n" + validStages + validRequests + validLoad,
			want: Scenario{
				Name:     "d",
				Stages:   []Stage{{Name: "echo", Bundled: "echo"}},
				Requests: []Request{{Name: "GET /", Method: "GET", Path: "/"}},
				Load:     Curve{Constant: &Constant{Rate: 1, Duration: Duration(time.Second)}},
			},
		},
		{
			name: "stage names from urls",
			src: "name: u\nstages:\n" +
				"  - url: http://127.0.0.1:8080\n" +
				"  - url: http://example.com\n" +
				"  - url: https://example.com/\n" +
				"  - url: http://[::1]:9000\n" +
				"  - {name: mine, url: 'http://example.com:81'}\n" +
				validRequests + validLoad,
			want: Scenario{
				Name: "u",
				Stages: []Stage{
					{Name: "127.0.0.1:8080", URL: "http://127.0.0.1:8080"},
					{Name: "example.com:80", URL: "http://example.com"},
					{Name: "example.com:443", URL: "https://example.com/"},
					{Name: "[::1]:9000", URL: "http://[::1]:9000"},
					{Name: "mine", URL: "http://example.com:81"},
				},
				Requests: []Request{{Name: "GET /", Method: "GET", Path: "/"}},
				Load:     Curve{Constant: &Constant{Rate: 1, Duration: Duration(time.Second)}},
			},
		},
		{
			name: "requests",
			src: "name: r\n" + validStages + "requests:\n" +
				"  - {method: post, path: /items, body: '{\"n\":1}', timeout: 1.5s}\n" +
				"  - name: custom\n" +
				"    method: DELETE\n" +
				"    path: /items/1?force=true\n" +
				"    headers: {X-Test: a, Accept: '*/*', X-Num: 1, X-Empty: }\n" +
				"    body: |\n" +
				"      line one\n" +
				"      line two\n" +
				validLoad,
			want: Scenario{
				Name:   "r",
				Stages: []Stage{{Name: "echo", Bundled: "echo"}},
				Requests: []Request{
					{Name: "POST /items", Method: "POST", Path: "/items", Body: `{"n":1}`, Timeout: Duration(1500 * time.Millisecond)},
					{Name: "custom", Method: "DELETE", Path: "/items/1?force=true",
						Headers: map[string]string{"X-Test": "a", "Accept": "*/*", "X-Num": "1", "X-Empty": ""},
						Body:    "line one\nline two\n"},
				},
				Load: Curve{Constant: &Constant{Rate: 1, Duration: Duration(time.Second)}},
			},
		},
		{
			name: "rate 10k/s",
			src:  "name: x\n" + validStages + validRequests + "load: {constant: {rate: 10k/s, duration: 5s}}\n",
			want: scenarioWithLoad(10000, 5*time.Second),
		},
		{
			name: "rate 120/m",
			src:  "name: x\n" + validStages + validRequests + "load: {constant: {rate: 120/m, duration: 10m}}\n",
			want: scenarioWithLoad(2, 10*time.Minute),
		},
		{
			name: "rate 1.5k",
			src:  "name: x\n" + validStages + validRequests + "load: {constant: {rate: 1.5k, duration: 1h30m}}\n",
			want: scenarioWithLoad(1500, 90*time.Minute),
		},
		{
			name: "rate as a YAML float and the largest values",
			src: "name: x\n" + validStages + validRequests + "load: {constant: {rate: 10000000.0, duration: 168h}}\n" +
				"safety: {max_rate: 10M/s, max_duration: 168h}\n",
			want: func() Scenario {
				s := scenarioWithLoad(10_000_000, 168*time.Hour)
				s.Safety = Safety{MaxRate: MaxRate, MaxDuration: MaxDuration}
				return s
			}(),
		},
		{
			name: "rate 0.5/s",
			src:  "name: x\n" + validStages + validRequests + "load: {constant: {rate: 0.5/s, duration: 250ms}}\n",
			want: scenarioWithLoad(0.5, 250*time.Millisecond),
		},
		{
			name: "byte order mark, CRLF and an explicit document start",
			src:  "\ufeff---\r\nname: x\r\n" + validStages + validRequests + validLoad + "...\r\n",
			want: scenarioWithLoad(1, time.Second),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("x.yaml", []byte(tt.src), Options{})
			if err != nil {
				t.Fatalf("Parse(%q) error:\n%v", tt.src, err)
			}
			want := filled(tt.want)
			if plain := stripDerived(got); !reflect.DeepEqual(plain, want) {
				t.Errorf("Parse(%q) =\n%s\nwant\n%s", tt.src, jsonOf(t, &plain), jsonOf(t, &want))
			}
			if err := got.Validate(Options{}); err != nil {
				t.Errorf("Validate() after Parse = %v", err)
			}
		})
	}
}

// filled is a scenario as written in a test with the defaults of a file
// applied: the default seed and ApplyDefaults.
func filled(s Scenario) Scenario {
	if s.Seed == 0 {
		s.Seed = DefaultSeed
	}
	s.Stages = slices.Clone(s.Stages)
	s.Requests = slices.Clone(s.Requests)
	if s.Load.Constant != nil {
		k := *s.Load.Constant
		s.Load.Constant = &k
	}
	s.ApplyDefaults()
	return s
}

// stripDerived returns a copy of a parsed scenario without what Parse
// derives from the values (compiled templates, loaded data, parsed
// thresholds, positions), to compare it with a literal.
func stripDerived(s *Scenario) Scenario {
	out := *s
	out.src, out.Data = nil, nil
	out.Requests = slices.Clone(s.Requests)
	for i := range out.Requests {
		out.Requests[i].Compiled = Compiled{}
	}
	out.Thresholds = slices.Clone(s.Thresholds)
	for i := range out.Thresholds {
		out.Thresholds[i].Parsed = ThresholdExpr{}
	}
	return out
}

func scenarioWithLoad(rate Rate, d time.Duration) Scenario {
	return Scenario{
		Name:     "x",
		Stages:   []Stage{{Name: "echo", Bundled: "echo"}},
		Requests: []Request{{Name: "GET /", Method: "GET", Path: "/"}},
		Load:     Curve{Constant: &Constant{Rate: rate, Duration: Duration(d)}},
	}
}

func jsonOf(t *testing.T, s *Scenario) string {
	t.Helper()
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseTestdata(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		s, err := Load(f, Options{IsBundled: func(n string) bool { return n == "echo" }})
		if err != nil {
			t.Errorf("Load(%s): %v", f, err)
			continue
		}
		if s.Name == "" || len(s.Stages) == 0 || len(s.Requests)+len(s.Journeys) == 0 || !s.Load.isSet() {
			t.Errorf("Load(%s) = %+v: sections missing", f, s)
		}
	}
}

func TestParseAnchors(t *testing.T) {
	s, err := Load("testdata/anchors.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Accept": "application/json", "X-Trace": "on"}
	for i, r := range s.Requests {
		if !reflect.DeepEqual(r.Headers, want) {
			t.Errorf("requests[%d].Headers = %v; want %v", i, r.Headers, want)
		}
	}
	if got := s.Requests[1]; got.Name != "PUT /b?x=1" || got.Body != "{\"n\": 1}\n" {
		t.Errorf("requests[1] = %+v; want name %q and body %q", got, "PUT /b?x=1", "{\"n\": 1}\n")
	}
	if s.Name != "anchors" {
		t.Errorf("Name = %q; want %q", s.Name, "anchors")
	}
}

func TestParseBad(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // every line of the error, in order
	}{
		{"empty file", "", []string{"x.yaml:1:1: file is empty"}},
		{"only comments", "# nothing\n---\n", []string{"x.yaml:1:1: file is empty"}},
		{"syntax error", "name: 'open\n", []string{
			"x.yaml:1:7: syntax error: could not find end character of single-quoted text"}},
		{"bad indentation", "name: a\n  stages: b\n c: d\n", []string{
			"x.yaml:1:7: syntax error: mapping value is not allowed in this context"}},
		{"tab", "name: tabs\nstages:\n\t- bundled: echo\n", []string{
			"x.yaml:3:1: syntax error: tab character; YAML must be indented with spaces"}},
		{"two documents", "name: a\n---\nname: b\n", []string{
			"x.yaml:3:1: only one YAML document is allowed (remove the second ---)"}},
		{"not UTF-8", "name: \xff\n", []string{"x.yaml:1:7: file is not valid UTF-8"}},
		{"not a map", "- a\n- b\n", []string{"x.yaml:1:1: scenario must be a map (got list)"}},
		{"duplicate keys", "name: a\n" + validStages + validRequests + validLoad + "name: b\nstages: []\n", []string{
			"x.yaml:5:1: duplicate key \"name\" (first at 1:1)",
			"x.yaml:6:1: duplicate key \"stages\" (first at 2:1)"}},
		{"unknown field with a typo", "nmae: a\n" + validStages + validRequests + validLoad, []string{
			"x.yaml:1:1: unknown field \"nmae\" (did you mean \"name\"?)",
			"x.yaml:1:1: name is required"}},
		{"unknown field", "name: a\nretries: 1\n" + validStages + validRequests + validLoad, []string{
			"x.yaml:2:1: unknown field \"retries\" (known fields: name, seed, stages, requests, journeys, load, client, thresholds, safety, capacity, search)"}},
		{"wrong types", "name: [a]\nstages: x\nrequests: {a: 1}\nload: 5\n", []string{
			"x.yaml:1:7: name must be a string (got list)",
			"x.yaml:2:9: stages must be a list (got string)",
			"x.yaml:3:11: requests must be a list (got map)",
			"x.yaml:4:7: load must be a map (got number)"}},
		{"wrong nested types", "name: a\nstages: [echo]\nrequests: [{headers: [a], timeout: {}}]\nload: {constant: [1]}\n", []string{
			"x.yaml:2:10: stages[0] must be a map (got string)",
			"x.yaml:3:22: headers must be a map (got list)",
			"x.yaml:3:36: duration must be a string like 30s (got map)",
			"x.yaml:4:18: constant must be a map (got list)"}},
		{"header value not a string", "name: a\n" + validStages + "requests: [{headers: {A: {b: 1}}}]\n" + validLoad, []string{
			"x.yaml:3:26: headers[\"A\"] must be a string (got map)"}},
		{"missing name", validStages + validRequests + validLoad, []string{"x.yaml:1:1: name is required"}},
		{"empty name", "name: ''\n" + validStages + validRequests + validLoad, []string{"x.yaml:1:7: name must not be empty"}},
		{"control character in name", "name: \"a\\u0007\"\n" + validStages + validRequests + validLoad, []string{
			"x.yaml:1:7: name must not contain control characters (got \"a\\a\")"}},
		{"no stages", "name: a\nstages: []\n" + validRequests + validLoad, []string{
			"x.yaml:2:9: at least one stage is required"}},
		{"stages missing", "name: a\n" + validRequests + validLoad, []string{
			"x.yaml:1:1: at least one stage is required"}},
		{"stage with both", "name: a\nstages:\n  - {url: 'http://h:1', bundled: echo}\n" + validRequests + validLoad, []string{
			"x.yaml:3:5: stage must set one of url or bundled, not both"}},
		{"stage with neither", "name: a\nstages:\n  - name: x\n" + validRequests + validLoad, []string{
			"x.yaml:3:5: stage must set url or bundled"}},
		{"bad urls", "name: a\nstages:\n" +
			"  - url: ftp://h\n" +
			"  - url: 'http://'\n" +
			"  - url: 'http://[::1'\n" +
			"  - url: 'http://h:0'\n" +
			"  - url: 'http://h/api'\n" +
			"  - url: 'http://h2?x=1'\n" +
			"  - url: h:80\n" +
			validRequests + validLoad, []string{
			"x.yaml:3:10: url must start with http:// or https:// (got \"ftp://h\")",
			"x.yaml:4:10: url must have a host (got \"http://\")",
			"x.yaml:5:10: invalid url \"http://[::1\": missing ']' in host",
			"x.yaml:6:10: url has an invalid port \"0\" (want 1 to 65535)",
			"x.yaml:7:10: url must not have a path; put paths on requests (got \"http://h/api\")",
			"x.yaml:8:10: url must not have a query or fragment (got \"http://h2?x=1\")",
			"x.yaml:9:10: url must start with http:// or https:// (got \"h:80\")"}},
		{"bad bundled name", "name: a\nstages: [{bundled: Echo}]\n" + validRequests + validLoad, []string{
			"x.yaml:2:20: unknown bundled topology \"Echo\" (did you mean \"echo\"?)"}},
		{"unknown bundled name", "name: a\nstages: [{bundled: nope}]\n" + validRequests + validLoad, []string{
			"x.yaml:2:20: unknown bundled topology \"nope\" (known: single-box, split, cache, lb, replicas, sharding, queue, multi-region, echo)"}},
		{"duplicate stage names", "name: a\nstages:\n  - bundled: echo\n  - {name: echo, url: 'http://h:1'}\n  - url: http://h:1\n  - url: http://h:1\n" + validRequests + validLoad, []string{
			"x.yaml:4:12: duplicate stage name \"echo\" (first at 3:5)",
			"x.yaml:6:5: duplicate stage name \"h:1\" (first at 5:5)"}},
		{"no requests", "name: a\n" + validStages + "requests: []\n" + validLoad, []string{
			"x.yaml:3:11: at least one request (or journey) is required"}},
		{"bad method", "name: a\n" + validStages + "requests: [{method: 'GE T'}, {method: GÉT}]\n" + validLoad, []string{
			"x.yaml:3:21: invalid method \"GE T\" (want an HTTP method like GET or POST)",
			"x.yaml:3:39: invalid method \"GÉT\" (want an HTTP method like GET or POST)"}},
		{"bad paths", "name: a\n" + validStages + "requests:\n  - path: items\n  - path: /a b\n  - path: '/a#b'\n  - path: /%zz\n" + validLoad, []string{
			"x.yaml:4:11: path must start with \"/\" (got \"items\")",
			"x.yaml:5:11: path must not contain spaces or control characters (got \"/a b\")",
			"x.yaml:6:11: path must not contain a fragment (got \"/a#b\")",
			"x.yaml:7:11: invalid path \"/%zz\": invalid URL escape \"%zz\""}},
		{"bad headers", "name: a\n" + validStages + "requests:\n  - headers:\n      X Test: a\n      x-id: b\n      X-Id: c\n      Ok: \"a\\nb\"\n" + validLoad, []string{
			"x.yaml:5:7: invalid header name \"X Test\"",
			"x.yaml:7:7: duplicate header \"X-Id\" (same as \"x-id\" at 6:7)",
			"x.yaml:8:11: header \"Ok\" has a control character in its value"}},
		{"zero and negative timeouts", "name: a\n" + validStages + "requests: [{path: /a, timeout: 0s}, {path: /b, timeout: -1s}]\n" + validLoad, []string{
			"x.yaml:3:32: timeout must be > 0 (got 0s)",
			"x.yaml:3:57: invalid duration \"-1s\": must not be negative"}},
		{"duplicate request names", "name: a\n" + validStages + "requests:\n  - path: /a\n  - {method: post, path: /a}\n  - {method: get, path: /a}\n" + validLoad, []string{
			"x.yaml:6:5: duplicate request name \"GET /a\" (first at 4:5)"}},
		{"missing load", "name: a\n" + validStages + validRequests, []string{"x.yaml:1:1: load is required"}},
		{"null load", "name: a\n" + validStages + validRequests + "load:\n", []string{"x.yaml:4:1: load is required"}},
		{"missing curve", "name: a\n" + validStages + validRequests + "load: {}\n", []string{
			"x.yaml:4:7: load must set a base curve (one of: constant, ramp, steps, diurnal)"}},
		{"missing rate and duration", "name: a\n" + validStages + validRequests + "load:\n  constant: {}\n", []string{
			"x.yaml:5:13: rate is required",
			"x.yaml:5:13: duration is required"}},
		{"rate zero", "name: a\n" + validStages + validRequests + "load:\n  constant:\n    duration: 1s\n    rate: 0\n", []string{
			"x.yaml:7:11: rate must be > 0 (got 0)"}},
		{"rate and duration too large", "name: a\n" + validStages + validRequests + "load: {constant: {rate: 10000001, duration: 8785h}}\n", []string{
			"x.yaml:4:25: rate must be at most 10M/s (got 10000001/s)",
			"x.yaml:4:45: duration must be at most 8784h (got 8785h)"}},
		{"over the safety caps", "name: a\n" + validStages + validRequests + "load: {constant: {rate: 100001, duration: 24h0m1s}}\n", []string{
			"x.yaml:4:25: peak rate 100001/s is over safety.max_rate 100k/s",
			"x.yaml:4:43: the curve plays for 24h0m1s, over safety.max_duration 24h"}},
		{"duration zero", "name: a\n" + validStages + validRequests + "load: {constant: {rate: 1, duration: 0s}}\n", []string{
			"x.yaml:4:38: duration must be > 0 (got 0s)"}},
		{"unparseable rate and duration", "name: a\n" + validStages + validRequests + "load: {constant: {rate: fast, duration: 30}}\n", []string{
			"x.yaml:4:25: invalid rate \"fast\" (want e.g. 2000, 2000/s, 1.5k, 10k/s or 120/m)",
			"x.yaml:4:41: invalid duration \"30\": missing unit (want e.g. 30s or 30ms)"}},
		{"anchors", "name: a\nstages: [&s {bundled: echo}, *s, *nope]\n" + validRequests + validLoad, []string{
			"x.yaml:2:30: duplicate stage name \"echo\" (first at 2:10)",
			"x.yaml:2:34: unknown anchor \"nope\""}},
		{"merge keys and tags", "name: !secret a\n" + validStages + "requests: [{<<: {path: /a}}]\n" + validLoad, []string{
			"x.yaml:1:7: unsupported tag \"!secret\"",
			"x.yaml:3:13: merge keys (<<) are not supported"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("x.yaml", []byte(tt.src), Options{})
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, nil; want an error", tt.src, s)
			}
			if s != nil {
				t.Errorf("Parse(%q) returned a scenario with an error", tt.src)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Parse(%q) error does not match ErrInvalid: %v", tt.src, err)
			}
			if got := errLines(err); !slices.Equal(got, tt.want) {
				t.Errorf("Parse(%q) error:\n%s\nwant:\n%s", tt.src, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestParseReportsEveryProblem checks that problems of every kind, all over
// the file, come back together, in file order, each with its position.
func TestParseReportsEveryProblem(t *testing.T) {
	_, err := Load("testdata/bad/many.yaml", Options{})
	want := []string{
		"testdata/bad/many.yaml:3:5: stage must set one of url or bundled, not both",
		"testdata/bad/many.yaml:5:10: url must start with http:// or https:// (got \"ftp://example.com\")",
		"testdata/bad/many.yaml:6:5: duplicate stage name \"echo\" (first at 3:5)",
		"testdata/bad/many.yaml:8:13: invalid method \"GE T\" (want an HTTP method like GET or POST)",
		"testdata/bad/many.yaml:9:11: path must start with \"/\" (got \"items/1\")",
		"testdata/bad/many.yaml:10:15: invalid header name \"X Test\"",
		"testdata/bad/many.yaml:11:14: timeout must be > 0 (got 0s)",
		"testdata/bad/many.yaml:12:5: unknown field \"retries\" (known fields: name, method, path, url, headers, body, timeout, weight, expect, checks)",
		"testdata/bad/many.yaml:15:11: rate must be > 0 (got 0)",
		"testdata/bad/many.yaml:16:15: the curve plays for 25h, over safety.max_duration 24h",
	}
	if got := errLines(err); !slices.Equal(got, want) {
		t.Errorf("Load(many.yaml) error:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var e *Error
	if !errors.As(err, &e) || e.Line != 3 || e.Column != 5 || e.Path != "stages[0]" {
		t.Errorf("errors.As(*Error) = %+v; want the first problem at 3:5, path stages[0]", e)
	}
}

func TestParseStopsAfterManyProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: a\n" + validRequests + validLoad + "stages:\n")
	for range 100 {
		b.WriteString("  - nope: 1\n")
	}
	_, err := Parse("x.yaml", []byte(b.String()), Options{})
	lines := errLines(err)
	if len(lines) != maxProblems+1 || lines[len(lines)-1] != "x.yaml: too many problems; fix these and try again" {
		t.Errorf("Parse(100 bad stages) gave %d lines ending %q; want %d ending with the too-many note",
			len(lines), lines[len(lines)-1], maxProblems+1)
	}
}

// TestParseAliasBomb checks that alias expansion is bounded: a thousand
// requests that each alias one map of two thousand headers would be two
// million values from a 50 KiB file.
func TestParseAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: bomb\n" + validStages + validLoad + "requests:\n  - headers: &h {")
	for i := range 2000 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("H" + strconv.Itoa(i) + ": v")
	}
	b.WriteString("}\n")
	for i := range 1000 {
		b.WriteString("  - {path: /" + strconv.Itoa(i) + ", headers: *h}\n")
	}
	_, err := Parse("x.yaml", []byte(b.String()), Options{})
	if err == nil || !strings.Contains(err.Error(), ": document is too large: more than 1000000 values after expanding aliases") {
		t.Errorf("Parse(alias bomb) error = %v; want the too-large error", err)
	}
}

// TestParseDeepNesting checks that deeply nested input is rejected before
// it reaches the YAML parser, whose cost grows with the square of the
// depth: without the check these inputs take minutes and gigabytes.
func TestParseDeepNesting(t *testing.T) {
	tests := []struct{ src, want string }{
		{"name: " + strings.Repeat("[", 500_000) + strings.Repeat("]", 500_000),
			"x.yaml:1:38: nesting is too deep (more than 32 levels)"},
		{"stages:\n" + strings.Repeat("- ", 500_000) + "x\n",
			"x.yaml:2:63: nesting is too deep (more than 32 levels)"},
		{"a: " + strings.Repeat("{b: ", 100_000) + "c" + strings.Repeat("}", 100_000),
			"x.yaml:1:128: nesting is too deep (more than 32 levels)"},
	}
	for _, tt := range tests {
		_, err := Parse("x.yaml", []byte(tt.src), Options{})
		if err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%.40q…) = %v; want %q", tt.src, err, tt.want)
		}
	}
	// Nesting up to the limit is fine, in flow and in block style.
	ok := "name: x\n" + validStages + validLoad + "requests: [{headers: {A: b}}]\n" +
		"# " + strings.Repeat("[", 100) + "\n"
	if _, err := Parse("x.yaml", []byte(ok), Options{}); err != nil {
		t.Errorf("Parse(normal nesting, brackets in a comment) = %v", err)
	}
	block := "name: x\n" + validLoad +
		"stages:\n- bundled: echo\nrequests:\n- path: /a\n  headers:\n    A: b\n- path: /b\n"
	if _, err := Parse("x.yaml", []byte(block), Options{}); err != nil {
		t.Errorf("Parse(block style with unindented lists) = %v", err)
	}
}

func TestLoad(t *testing.T) {
	t.Run("missing file", func(t *testing.T) {
		_, err := Load("testdata/nope.yaml", Options{})
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Load(missing) = %v; want fs.ErrNotExist", err)
		}
		if errors.Is(err, ErrInvalid) {
			t.Errorf("Load(missing) = %v matches ErrInvalid; an I/O error is not an invalid scenario", err)
		}
		if want := "open testdata/nope.yaml: no such file or directory"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load(missing) = %v; want it to contain %q", err, want)
		}
	})
	t.Run("too large", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "big.yaml")
		if err := os.WriteFile(path, []byte(strings.Repeat("#", MaxFileSize+1)), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path, Options{})
		if !errors.Is(err, ErrInvalid) || err.Error() != path+": file is larger than the 1 MiB limit" {
			t.Errorf("Load(big) = %v; want %q matching ErrInvalid", err, path+": file is larger than the 1 MiB limit")
		}
	})
	t.Run("exactly at the limit", func(t *testing.T) {
		src := "name: a\n" + validStages + validRequests + validLoad
		src += strings.Repeat("#", MaxFileSize-len(src))
		path := filepath.Join(t.TempDir(), "limit.yaml")
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(path, Options{}); err != nil {
			t.Errorf("Load(file of MaxFileSize bytes) = %v", err)
		}
	})
	t.Run("bundled registry", func(t *testing.T) {
		var warns []string
		s, err := Load("testdata/quickstart.yaml", Options{
			IsBundled: func(string) bool { return false },
			Warn:      func(e *Error) { warns = append(warns, e.Error()) },
		})
		if err != nil || s == nil {
			t.Fatalf("Load with an empty registry = %v; want a scenario and a warning", err)
		}
		want := []string{"testdata/quickstart.yaml:5:14: bundled topology \"echo\" is not available in this build yet"}
		if !slices.Equal(warns, want) {
			t.Errorf("Load with an empty registry warned %q; want %q", warns, want)
		}
	})
}

func TestValidate(t *testing.T) {
	valid := func() *Scenario {
		return &Scenario{
			Name:     "v",
			Stages:   []Stage{{URL: "http://127.0.0.1:8080"}},
			Requests: []Request{{Path: "/a"}, {Method: "post", Path: "/a"}},
			Load:     Curve{Constant: &Constant{Rate: 100, Duration: Duration(time.Minute)}},
		}
	}
	if err := valid().Validate(Options{}); err != nil {
		t.Fatalf("Validate(valid) = %v", err)
	}
	s := valid()
	before := jsonOf(t, s)
	_ = s.Validate(Options{})
	if after := jsonOf(t, s); after != before {
		t.Errorf("Validate changed the scenario:\n%s\nwant\n%s", after, before)
	}

	tests := []struct {
		name   string
		change func(*Scenario)
		want   []string
	}{
		{"empty", func(s *Scenario) { *s = Scenario{} }, []string{
			"name is required", "at least one stage is required", "at least one request (or journey) is required", "load is required"}},
		{"stage", func(s *Scenario) { s.Stages = append(s.Stages, Stage{URL: "http://x", Bundled: "echo"}, Stage{}) }, []string{
			"stages[1]: stage must set one of url or bundled, not both", "stages[2]: stage must set url or bundled"}},
		{"duplicate names", func(s *Scenario) { s.Requests = append(s.Requests, Request{Method: "GET", Path: "/a"}) }, []string{
			"requests[2]: duplicate request name \"GET /a\" (first at requests[0])"}},
		{"headers", func(s *Scenario) { s.Requests[0].Headers = map[string]string{"b": "x", "B": "y", "a b": "z\r"} }, []string{
			"requests[0].headers[\"a b\"]: invalid header name \"a b\"",
			"requests[0].headers[\"b\"]: duplicate header \"b\" (same as \"B\" at requests[0].headers[\"B\"])",
			"requests[0].headers[\"a b\"]: header \"a b\" has a control character in its value"}},
		{"timeout", func(s *Scenario) { s.Requests[0].Timeout = Duration(-time.Second) }, []string{
			"requests[0].timeout: timeout must be > 0 (got -1s)"}},
		{"rate and duration", func(s *Scenario) { s.Load.Constant = &Constant{} }, []string{
			"load.constant.rate: rate must be > 0 (got 0)", "load.constant.duration: duration must be > 0 (got 0s)"}},
		{"bundled registry", func(s *Scenario) { s.Stages[0] = Stage{Bundled: "nope"} }, []string{
			"stages[0].bundled: unknown bundled topology \"nope\" (known: single-box, split, cache, lb, replicas, sharding, queue, multi-region, echo)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := valid()
			tt.change(s)
			err := s.Validate(Options{IsBundled: func(n string) bool { return n == "echo" }})
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Validate() = %v; want an error matching ErrInvalid", err)
			}
			if got := errLines(err); !slices.Equal(got, tt.want) {
				t.Errorf("Validate() error:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "f.yaml", Line: 3, Column: 7, Path: "name", Message: "m"}, "f.yaml:3:7: m"},
		{Error{Line: 3, Column: 7, Message: "m"}, "3:7: m"},
		{Error{File: "f.yaml", Message: "m"}, "f.yaml: m"},
		{Error{File: "f.yaml", Path: "load", Message: "m"}, "f.yaml: load: m"},
		{Error{Path: "load.constant.rate", Message: "m"}, "load.constant.rate: m"},
		{Error{Message: "m"}, "m"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%+v.Error() = %q; want %q", tt.e, got, tt.want)
		}
		if !errors.Is(&tt.e, ErrInvalid) {
			t.Errorf("%+v does not match ErrInvalid", tt.e)
		}
	}
}

// TestErrorLinesFormat checks the shape of every line of every error of
// the bad-input table: one position-prefixed line, no source snippet.
func TestErrorLinesFormat(t *testing.T) {
	line := regexp.MustCompile(`^x\.yaml:[1-9][0-9]*:[1-9][0-9]*: [a-z][^\n]*$`)
	for _, src := range []string{
		"a: b: c\n", "a: [\n", "a: {\n", "\"a\n", "a: 'b\n", "- a\n b\n", "a:\n\t- b\n", "&a a: *b\n", "? [a]\n: 1\n",
	} {
		_, err := Parse("x.yaml", []byte(src), Options{})
		for _, l := range errLines(err) {
			if !line.MatchString(l) {
				t.Errorf("Parse(%q): error line %q is not FILE:LINE:COL: message", src, l)
			}
		}
		if err == nil {
			t.Errorf("Parse(%q) = nil error", src)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	s, err := Load("testdata/quickstart.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"rate":"2000/s"`, `"duration":"5s"`, `"timeout":"5s"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("json.Marshal(quickstart) = %s; want it to contain %s", b, want)
		}
	}
	var back Scenario
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if plain := stripDerived(s); !reflect.DeepEqual(back, plain) {
		t.Errorf("JSON round trip =\n%+v\nwant\n%+v", back, *s)
	}
}

func TestTooManyRequests(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: x\nstages: [{bundled: echo}]\nload: {constant: {rate: 1, duration: 1s}}\nrequests:\n")
	for i := range MaxRequests + 1 {
		fmt.Fprintf(&b, "  - {name: r%d, path: /}\n", i)
	}
	_, err := Parse("x.yaml", []byte(b.String()), Options{})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "x.yaml:5:3: at most 64 requests are allowed (got 65)") {
		t.Errorf("Parse(65 requests) = %v", err)
	}
}
