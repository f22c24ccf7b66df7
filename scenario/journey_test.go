package scenario

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/extract"
)

// jhead is a scenario without requests: three lines, so journeys: is on
// line 4 and its first item on line 5.
const jhead = "name: j\n" + validStages + validLoad

// jsrc is a scenario whose journeys section is body (from line 5).
func jsrc(body string) string { return jhead + "journeys:\n" + body }

// manySteps is n journeys of k request steps each.
func manySteps(n, k int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "  - name: j%d\n    steps:\n", i)
		for s := range k {
			fmt.Fprintf(&b, "      - path: /s%d\n", s)
		}
	}
	return b.String()
}

// TestJourneyProblems has one case per problem the journeys section can
// have, each with every line of the error: position and message.
func TestJourneyProblems(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"requests and journeys", jhead + "requests: [{path: /}]\njourneys: [{name: a, steps: [{path: /}]}]\n", []string{
			"x.yaml:5:1: a scenario has requests or journeys, not both (requests at 4:1)"}},
		{"neither", jhead, []string{
			"x.yaml:1:1: at least one request (or journey) is required"}},
		{"empty journeys", jsrc("  []\n"), []string{
			"x.yaml:5:3: journeys must list at least one journey"}},
		{"too many journeys", jsrc(manySteps(MaxJourneys+1, 1)), []string{
			"x.yaml:53:5: at most 16 journeys are allowed (got 17)"}},
		{"too many steps", jsrc(manySteps(5, 13)), []string{
			"x.yaml:79:9: at most 64 request steps are allowed in all journeys together: each keeps its own histograms on every agent"}},
		{"journey names", jsrc("  - steps: [{path: /}]\n  - {name: '', steps: [{path: /}]}\n  - {name: a/b, steps: [{path: /}]}\n" +
			"  - {name: a, steps: [{path: /}]}\n  - {name: a, steps: [{path: /}]}\n  - {name: \"c\\td\", steps: [{path: /}]}\n"), []string{
			"x.yaml:5:5: name is required",
			"x.yaml:6:12: name must not be empty",
			"x.yaml:7:12: journey name must not contain \"/\" (got \"a/b\"): steps are reported as JOURNEY/STEP",
			"x.yaml:9:12: duplicate journey name \"a\" (first at 8:12)",
			"x.yaml:10:12: name must not contain control characters (got \"c\\td\")"}},
		{"duplicate step names", jsrc("  - name: a\n    steps:\n      - path: /x\n      - think: 1s\n      - {method: get, path: /x}\n      - {name: x, path: /y}\n      - {name: x, path: /z}\n"), []string{
			"x.yaml:9:9: duplicate step name \"GET /x\" (first at 7:9)",
			"x.yaml:11:16: duplicate step name \"x\" (first at 10:16)"}},
		{"no steps", jsrc("  - {name: a, steps: []}\n  - {name: b}\n"), []string{
			"x.yaml:5:22: journey \"a\" has no steps (want at least one request step)",
			"x.yaml:6:5: journey \"b\" has no steps (want at least one request step)"}},
		{"think only", jsrc("  - name: a\n    steps: [{think: 1s}, {think: 2s}]\n"), []string{
			"x.yaml:6:12: journey \"a\" has only think steps (want at least one request step)"}},
		{"think with request fields", jsrc("  - name: a\n    steps:\n      - {path: /}\n      - {think: 1s, path: /x, loop: 2}\n      - {name: t, think: 1s}\n"), []string{
			"x.yaml:8:21: a step is a request or a think, not both: think cannot go with path, loop",
			"x.yaml:9:10: a step is a request or a think, not both: think cannot go with name"}},
		{"loop", jsrc("  - name: a\n    steps:\n      - {name: a, loop: 0}\n      - {name: b, loop: 1001}\n      - {name: c, loop: -1}\n      - {name: d, loop: 1000}\n"), []string{
			"x.yaml:7:25: loop must be from 1 to 1000 (got 0)",
			"x.yaml:8:25: loop must be from 1 to 1000 (got 1001)",
			"x.yaml:9:25: loop must be from 1 to 1000 (got -1)"}},
		{"on_error", jsrc("  - {name: a, on_error: stop, steps: [{}]}\n  - {name: b, on_error: '', steps: [{}]}\n"), []string{
			"x.yaml:5:25: unknown on_error \"stop\" (want abort or continue)",
			"x.yaml:6:25: unknown on_error \"\" (want abort or continue)"}},
		{"weights", jsrc("  - {name: a, weight: 0, steps: [{}]}\n  - {name: b, weight: -1, steps: [{weight: 2}]}\n"), []string{
			"x.yaml:5:23: weight must be > 0 (got 0)",
			"x.yaml:6:23: weight must be > 0 (got -1)",
			"x.yaml:6:36: weight is not allowed in a step (steps run in order; set the journey's weight)"}},
		{"think values", jsrc("  - name: a\n    steps:\n      - {}\n" +
			"      - think: -1s\n" +
			"      - think: 2h\n" +
			"      - think: {uniform: [2s, 1s]}\n" +
			"      - think: {uniform: [1s]}\n" +
			"      - think: {uniform: [0s, 61m]}\n" +
			"      - think: {exponential: 0s}\n" +
			"      - think: {gauss: 1s}\n" +
			"      - think: {uniform: [1s, 2s], exponential: 1s}\n" +
			"      - think: [1s]\n" +
			"      - think:\n" +
			"      - think: {}\n" +
			"      - think: soon\n"), []string{
			"x.yaml:8:16: invalid duration \"-1s\": must not be negative",
			"x.yaml:9:16: think time must be at most 1h (got 2h)",
			"x.yaml:10:26: uniform think time must be [MIN, MAX] with MIN <= MAX (got [2s, 1s])",
			"x.yaml:11:26: uniform must be a list of two durations [MIN, MAX] (got 1 values)",
			"x.yaml:12:31: think time must be at most 1h (got 1h1m)",
			"x.yaml:13:30: think time must be > 0 (got 0s)",
			"x.yaml:14:17: unknown field \"gauss\" (known fields: uniform, exponential)",
			"x.yaml:15:36: think takes one of uniform or exponential (got uniform and exponential)",
			"x.yaml:16:16: think must be a duration (500ms), {uniform: [MIN, MAX]} or {exponential: MEAN} (got list)",
			"x.yaml:17:9: think must be a duration (500ms), {uniform: [MIN, MAX]} or {exponential: MEAN}",
			"x.yaml:18:16: think must be a duration (500ms), {uniform: [MIN, MAX]} or {exponential: MEAN} (got an empty map)",
			"x.yaml:19:16: invalid duration \"soon\" (want e.g. 250ms, 1.5s, 10m or 1h30m)"}},
		{"unknown variable", jsrc("  - name: a\n    steps:\n      - {path: /login, extract: {token: {json: $.token}}}\n" +
			"      - {path: '/x/{{var tokn}}', headers: {A: 'Bearer {{ var tokn }}'}}\n"), []string{
			"x.yaml:8:26: unknown variable \"tokn\": no step of journey \"a\" extracts it",
			"x.yaml:8:63: unknown variable \"tokn\": no step of journey \"a\" extracts it"}},
		{"variable of another journey", jsrc("  - name: a\n    steps: [{path: /login, extract: {token: {json: $.token}}}]\n" +
			"  - name: b\n    steps: [{path: '/x/{{var token}}'}]\n"), []string{
			"x.yaml:8:30: unknown variable \"token\": no step of journey \"b\" extracts it"}},
		{"variable used too early", jsrc("  - name: a\n    steps:\n      - {name: first, path: '/a/{{var id}}'}\n" +
			"      - {name: login, path: /login, body: 'x={{var token}}', extract: {token: {json: $.token}}}\n" +
			"      - {name: item, path: /i, extract: {id: {json: $.id}}}\n      - {path: '/b/{{var id}}/{{var token}}'}\n"), []string{
			"x.yaml:7:39: variable \"id\" is used before the step that extracts it (step \"item\", at 9:42)",
			"x.yaml:8:52: variable \"token\" is used before the step that extracts it: this very step, whose values come from its response"}},
		{"variable in a request", "name: r\n" + validStages + validLoad + "requests: [{path: '/{{var x}}'}]\n", []string{
			"x.yaml:4:21: {{var x}} is only for journey steps (a request of the mix has no variables)"}},
		{"extractions that cannot match", jsrc("  - name: a\n    steps:\n      - path: /\n        extract:\n" +
			"          a: {json: '$.items[*].id'}\n" +
			"          b: {regex: 'id=(\\d+'}\n" +
			"          c: {regex: 'id=(\\d+)', group: 2}\n" +
			"          d: {header: 'X Y'}\n" +
			"          e: {cookie: 'a;b'}\n" +
			"          f: {json: $.a, header: X}\n" +
			"          g: {}\n" +
			"          h: {json: ''}\n" +
			"          1x: {json: $.a}\n" +
			"          i: {json: $.a, groupp: 1}\n" +
			"          i: {json: $.b}\n"), []string{
			"x.yaml:9:30: invalid JSON path: wildcards are not supported",
			"x.yaml:10:22: invalid extraction: invalid regex \"id=(\\\\d+\": missing closing ): `id=(\\d+`",
			"x.yaml:11:41: invalid extraction: regex \"id=(\\\\d+)\" has 1 group(s), no group 2",
			"x.yaml:12:23: invalid extraction: invalid header name \"X Y\"",
			"x.yaml:13:23: invalid extraction: invalid cookie name \"a;b\"",
			"x.yaml:14:34: invalid extraction: an extraction takes one of json, header, regex or cookie (got json and header)",
			"x.yaml:15:14: invalid extraction: an extraction needs one of json, header, regex or cookie",
			"x.yaml:16:21: json must not be empty",
			"x.yaml:17:11: invalid variable name \"1x\" (want a letter or _, then letters, digits or _)",
			"x.yaml:18:26: unknown field \"groupp\" (did you mean \"group\"?)",
			"x.yaml:19:11: duplicate key \"i\" (first at 18:11)"}},
		{"checks that cannot pass", jsrc("  - name: a\n    steps:\n      - path: /\n        checks:\n" +
			"          - {json: $.id, matches: '[0-9'}\n" +
			"          - {body_contains: ''}\n" +
			"          - {name: nothing}\n" +
			"          - {json: $..x}\n" +
			"          - {body_contains: a, equals: b}\n" +
			"          - {header: X, equals: a, matches: b}\n"), []string{
			"x.yaml:9:35: invalid check: invalid regex \"[0-9\": missing closing ]: `[0-9`",
			"x.yaml:10:29: body_contains must not be empty",
			"x.yaml:11:13: invalid check: a check needs one of body_contains, body_not_contains, json or header",
			"x.yaml:12:21: invalid JSON path: recursive descent (..) is not supported",
			"x.yaml:13:40: invalid check: equals goes with json or header, not body_contains",
			"x.yaml:14:45: invalid check: a check takes equals or matches, not both"}},
		{"duplicate check names", "name: r\n" + validStages + validLoad + "requests:\n  - checks:\n      - {json: $.a}\n      - {json: $.a}\n" +
			"      - {name: x, body_contains: a}\n      - {name: x, body_contains: b}\n", []string{
			"x.yaml:7:9: duplicate check name \"$.a present\" (first at 6:9)",
			"x.yaml:9:16: duplicate check name \"x\" (first at 8:16)"}},
		{"checks of a request", "name: r\n" + validStages + validLoad + "requests: [{path: /, checks: [{json: 'items'}]}]\n", []string{
			"x.yaml:4:39: invalid JSON path: path must start with $ (want e.g. $.token)"}},
		{"step templates and data files", jsrc("  - name: a\n    steps:\n      - {path: '/u/{{csv users.csv id}}'}\n      - {path: '/v/{{nope}}'}\n"), []string{
			"x.yaml:7:26: data file \"users.csv\" cannot be read: data files need Load (or Options.ReadFile)",
			"x.yaml:8:22: invalid template: unknown function \"nope\" (known: seq, int, zipf, choice, uuid, csv, jsonl, var)"}},
		{"step request fields", jsrc("  - name: a\n    steps:\n      - {method: 'G T', path: x, timeout: 0s, expect: [99], retries: 1}\n"), []string{
			"x.yaml:7:18: invalid method \"G T\" (want an HTTP method like GET or POST)",
			"x.yaml:7:31: path must start with \"/\" (got \"x\")",
			"x.yaml:7:43: timeout must be > 0 (got 0s)",
			"x.yaml:7:56: expect[0] must be an HTTP status from 100 to 599 (got 99)",
			"x.yaml:7:61: unknown field \"retries\" (known fields: name, method, path, url, headers, body, timeout, weight, expect, checks, think, loop, extract)"}},
		{"journey thresholds", jsrc("  - name: shop\n    steps: [{name: login, path: /l}, {name: home, path: /h}]\n"+
			"  - name: admin\n    steps: [{name: home, path: /a}]\n") +
			"thresholds:\n" +
			"  - 'p99{journey=shopp} < 1s'\n" +
			"  - 'p99{step=nope} < 1s'\n" +
			"  - 'p99{step=home} < 1s'\n" +
			"  - 'p99{journey=shop, step=admin/home} < 1s'\n" +
			"  - 'journey_duration.p99{step=login} < 1s'\n" +
			"  - 'p99{request=login} < 1s'\n" +
			"  - 'journey_duration < 1s'\n" +
			"  - 'journey_error_rate{stage=echo} < 1'\n" +
			"  - 'p99{journey=step, step=x} < 1s'\n", []string{
			"x.yaml:10:18: unknown journey \"shopp\" in threshold (journeys: \"shop\", \"admin\")",
			"x.yaml:11:15: unknown step \"nope\" in threshold (steps: \"shop/login\", \"shop/home\", \"admin/home\")",
			"x.yaml:12:15: step \"home\" is in several journeys (\"shop/home\", \"admin/home\"): write JOURNEY/STEP",
			"x.yaml:13:29: unknown step \"admin/home\" of journey \"shop\" in threshold (steps: \"shop/login\", \"shop/home\")",
			"x.yaml:14:32: journey_duration.p99 is measured per journey: select it with {journey=…}, not {step=…}",
			"x.yaml:15:18: unknown request \"login\" in threshold (a scenario of journeys has no requests: select a step with {step=…})",
			"x.yaml:16:22: invalid threshold: journey_duration needs a statistic: journey_duration.p99 (any pN), journey_duration.max or journey_duration.mean",
			"x.yaml:17:39: invalid threshold: journey_error_rate is compared with a percentage like 1% (got \"1\")",
			"x.yaml:18:18: unknown journey \"step\" in threshold (journeys: \"shop\", \"admin\")"}},
		{"journey thresholds without journeys", "name: r\n" + validStages + validLoad + validRequests +
			"thresholds: ['journey_error_rate < 1%', 'p99{journey=a} < 1s', 'p99{step=a} < 1s']\n", []string{
			"x.yaml:5:15: journey_error_rate is a journey metric, and the scenario has no journeys",
			"x.yaml:5:54: unknown journey \"a\" in threshold (journeys: none: the scenario has requests)",
			"x.yaml:5:74: unknown step \"a\" in threshold (steps: none: the scenario has requests)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("x.yaml", []byte(tt.src), Options{})
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, nil; want an error", tt.src, s)
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

// TestJourneysRoundTrip parses testdata/journeys.yaml and compares every
// journey with the structure it stands for, defaults applied; the
// compiled templates, checks and extractions are checked by use.
func TestJourneysRoundTrip(t *testing.T) {
	s, err := Load("testdata/journeys.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Requests) != 0 {
		t.Errorf("Requests = %+v; want none", s.Requests)
	}
	yes, no, one := true, false, 1
	u1 := "u1"
	want := []Journey{{
		Name: "shop", Weight: 2, Cookies: &yes, OnError: OnErrorAbort,
		Steps: []JourneyStep{
			{Request: Request{Name: "login", Method: "POST", Path: "/login",
				Headers: map[string]string{"Content-Type": "application/json"},
				Body:    `{"user":"u{{seq}}"}`, Expect: []int{200}, Timeout: Duration(2 * time.Second),
				Checks: []Check{{Name: "got-token", JSON: "$.token"}, {BodyContains: "token"}, {BodyNotContains: "error"},
					{JSON: "$.user", Equals: &u1}, {JSON: "$.id", Matches: "^[0-9]+$"}, {Header: "Content-Type", Matches: "json"}}},
				Loop: 1,
				Extract: []Extraction{{Var: "token", Spec: extract.Spec{JSON: "$.token"}}, {Var: "sid", Spec: extract.Spec{Cookie: "session"}},
					{Var: "etag", Spec: extract.Spec{Header: "ETag"}}, {Var: "id", Spec: extract.Spec{Regex: `id=(\d+)`, Group: &one}}}},
			{Think: &Think{Dist: ThinkFixed, Fixed: Duration(500 * time.Millisecond)}},
			{Think: &Think{Dist: ThinkUniform, Min: Duration(200 * time.Millisecond), Max: Duration(2 * time.Second)}},
			{Think: &Think{Dist: ThinkExponential, Mean: Duration(time.Second)}},
			{Request: Request{Name: "browse", Method: "GET", Path: "/shop/items/{{zipf 1.1 1000}}",
				Headers: map[string]string{"Authorization": "Bearer {{var token}}"}}, Loop: 3},
			{Request: Request{Name: "GET /items/{{var id}}", Method: "GET", Path: "/items/{{var id}}"}, Loop: 1,
				Extract: []Extraction{{Var: "token", Spec: extract.Spec{JSON: "$['next']['token']"}}}},
		},
	}, {
		Name: "visit", Weight: 1, Cookies: &no, OnError: OnErrorContinue,
		Steps: []JourneyStep{{Request: Request{Name: "GET /", Method: "GET", Path: "/"}, Loop: 1}},
	}}
	got := make([]Journey, len(s.Journeys))
	for i, j := range s.Journeys {
		got[i] = j
		got[i].Steps = make([]JourneyStep, len(j.Steps))
		for k, st := range j.Steps {
			got[i].Steps[k] = st
			got[i].Steps[k].Compiled = Compiled{}
		}
	}
	if !reflect.DeepEqual(got, want) {
		gb, _ := json.MarshalIndent(got, "", "  ")
		wb, _ := json.MarshalIndent(want, "", "  ")
		t.Fatalf("journeys:\n%s\nwant:\n%s", gb, wb)
	}
	if !s.Journeys[0].CookiesOn() || s.Journeys[1].CookiesOn() {
		t.Errorf("CookiesOn() = %v, %v; want true, false", s.Journeys[0].CookiesOn(), s.Journeys[1].CookiesOn())
	}

	// The compiled parts work: the login step's checks and extractions,
	// and the browse step's header with the variable.
	login := s.Journeys[0].Steps[0].Compiled
	if len(login.Checks) != 6 || len(login.Extract) != 4 || login.Body == nil || login.Path == nil {
		t.Fatalf("login compiled = %+v; want 6 checks, 4 extractions, a body and a path", login)
	}
	resp := &extract.Response{Status: 200,
		Header: http.Header{"Content-Type": {"application/json"}, "Etag": {`"e1"`}, "Set-Cookie": {"session=s1; Path=/"}},
		Body:   []byte(`{"token":"t1","user":"u1","id":"7","note":"id=9"}`)}
	vals, err := extract.ExtractAll(resp, login.Extract, nil)
	if err != nil || strings.Join(vals, ",") != `t1,s1,"e1",9` {
		t.Errorf("login extractions = %q, %v; want [t1 s1 \"e1\" 9]", vals, err)
	}
	if i, err := extract.TestAll(resp, login.Checks); i != -1 {
		t.Errorf("login check %d failed: %v", i, err)
	}
	if name := login.Checks[3].Name(); name != `$.user == "u1"` {
		t.Errorf("check 3 name = %q", name)
	}
	auth := s.Journeys[0].Steps[4].Compiled.Headers["Authorization"]
	if got := auth.RenderVars(s.Seed, 0, nil, vars{"token": "t1"}); got != "Bearer t1" {
		t.Errorf("browse Authorization = %q; want Bearer t1", got)
	}
	for i, st := range s.Journeys[0].Steps {
		if st.IsThink() != (i >= 1 && i <= 3) {
			t.Errorf("step %d IsThink() = %v", i, st.IsThink())
		}
	}

	// Step selectors are stored in full.
	sel := []map[string]string{{"step": "shop/browse"}, {"journey": "shop", "step": "shop/GET /items/{{var id}}"}, {"journey": "shop"}, {"journey": "visit"}}
	for i, th := range s.Thresholds {
		if !reflect.DeepEqual(th.Parsed.Selectors, sel[i]) {
			t.Errorf("threshold %d selectors = %v; want %v", i, th.Parsed.Selectors, sel[i])
		}
	}

	// A parsed scenario validates, and ApplyDefaults leaves it as it is.
	if err := s.Validate(Options{}); err != nil {
		t.Errorf("Validate of a parsed journey scenario: %v", err)
	}
	again := *s
	again.Journeys = slices.Clone(s.Journeys)
	for i := range again.Journeys {
		again.Journeys[i].Steps = slices.Clone(s.Journeys[i].Steps)
	}
	again.ApplyDefaults()
	if !reflect.DeepEqual(again.Journeys, s.Journeys) {
		t.Errorf("ApplyDefaults changed a parsed journey scenario")
	}
	if line, col, ok := s.Position(`journeys[0].steps[0].extract["sid"].cookie`); !ok || line != 22 || col != 25 {
		t.Errorf("Position of the sid cookie = %d:%d, %v; want 22:25", line, col, ok)
	}
}

type vars map[string]string

func (v vars) Var(name string) (string, bool) { s, ok := v[name]; return s, ok }

// TestValidateJourneys checks a scenario of journeys built in code: the
// same checks as Parse, with paths instead of positions.
func TestValidateJourneys(t *testing.T) {
	s := &Scenario{Name: "code", Stages: []Stage{{Bundled: "echo"}},
		Load: Curve{Constant: &Constant{Rate: 1, Duration: Duration(time.Second)}},
		Journeys: []Journey{{Name: "a", Steps: []JourneyStep{
			{Request: Request{Path: "/{{var t}}"}},
			{Think: &Think{Dist: ThinkUniform, Min: 2, Max: 1}},
			{Request: Request{Path: "/x", Weight: 2}, Loop: MaxLoop + 1, Extract: []Extraction{{Var: "t", Spec: extract.Spec{JSON: "$.t"}}}},
			{Think: &Think{Dist: "gauss"}, Loop: 2},
		}}}}
	err := s.Validate(Options{})
	want := []string{
		// Without a file, a value that may be a default is reported at its
		// parent, as for requests.
		`journeys[0].steps[0]: variable "t" is used before the step that extracts it (step "GET /x", at journeys[0].steps[2].extract["t"]) (at byte 7 of the value)`,
		"journeys[0].steps[1].think.uniform: uniform think time must be [MIN, MAX] with MIN <= MAX (got [2ns, 1ns])",
		"journeys[0].steps[2]: weight is not allowed in a step (steps run in order; set the journey's weight)",
		"journeys[0].steps[2].loop: loop must be from 1 to 1000 (got 1001)",
		"journeys[0].steps[3]: a step is a request or a think, not both: think cannot go with loop",
		`journeys[0].steps[3].think: unknown think distribution "gauss" (want fixed, uniform or exponential)`,
	}
	if got := errLines(err); !slices.Equal(got, want) {
		t.Errorf("Validate() error:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestExamples loads every example scenario (as the command line's
// validate does in cmd/coordinator), and checks the shape of the journey
// example: login, a think, three items, a think, the cart, a think and
// the checkout, all authenticated with the login's token.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		if _, err := Load(f, Options{}); err != nil {
			t.Errorf("Load(%s): %v", f, err)
		}
	}
	s, err := Load("../examples/shop-journey.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Journeys) != 1 || s.Stages[0].Bundled != "single-box" {
		t.Fatalf("shop-journey: %d journeys on %q; want 1 on single-box", len(s.Journeys), s.Stages[0].Bundled)
	}
	var shape []string
	for _, st := range s.Journeys[0].Steps {
		if st.IsThink() {
			shape = append(shape, "think "+st.Think.Dist)
			continue
		}
		shape = append(shape, fmt.Sprintf("%s %s x%d", st.Name, st.Path, st.Loop))
		if st.Name != "login" && st.Headers["Authorization"] != "Bearer {{var token}}" {
			t.Errorf("step %s is not authenticated with the login's token: %v", st.Name, st.Headers)
		}
	}
	want := []string{"login /login x1", "think uniform", "browse-item /shop/items/{{zipf 1.1 1000}} x3", "think uniform",
		"add-to-cart /cart x1", "think exponential", "checkout /checkout x1"}
	if !slices.Equal(shape, want) {
		t.Errorf("shop-journey steps = %q; want %q", shape, want)
	}
}

// TestRequestChecks: checks on a request of the mix are compiled in order.
func TestRequestChecks(t *testing.T) {
	s, err := Parse("x.yaml", []byte("name: r\n"+validStages+validLoad+
		"requests:\n  - checks: [{body_contains: ok}, {header: X-Id}, {json: $.n, equals: '3'}]\n  - path: /b\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range s.Requests[0].Compiled.Checks {
		names = append(names, c.Name())
	}
	if want := []string{`body contains "ok"`, "header X-Id present", `$.n == "3"`}; !slices.Equal(names, want) {
		t.Errorf("checks = %q; want %q", names, want)
	}
	if s.Requests[1].Compiled.Checks != nil {
		t.Errorf("a request without checks has %d compiled", len(s.Requests[1].Compiled.Checks))
	}
	r := &extract.Response{Status: 200, Header: http.Header{"X-Id": {"1"}}, Body: []byte(`{"ok": 1, "n": 3}`)}
	if i, err := extract.TestAll(r, s.Requests[0].Compiled.Checks); i != -1 {
		t.Errorf("check %d failed: %v", i, err)
	}
}
