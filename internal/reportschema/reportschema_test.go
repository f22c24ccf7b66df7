package reportschema_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/internal/reportschema"
	"github.com/surgeload/surge/reporters"
)

// root is the module's directory, from this package's.
const root = "../.."

// TestCheckedInReportsValidate: every report.json checked into the
// repository (golden files, test data) validates.
func TestCheckedInReportsValidate(t *testing.T) {
	var found []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || filepath.Ext(path) != ".json" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var head struct{ Schema string }
		if json.Unmarshal(data, &head) != nil || head.Schema != reporters.Schema {
			return nil // not a report
		}
		found = append(found, path)
		if err := reportschema.Validate(data); err != nil {
			t.Errorf("%s: %v", path, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(found, filepath.Join(root, "reporters", "testdata", "report.json")) {
		t.Errorf("found %q; want at least reporters/testdata/report.json", found)
	}
}

// fullReport has every field of every type set, optional sections and
// gaps included, and balances.
func fullReport() *reporters.Report {
	at, hit := 2.0, 0.875
	pct := reporters.Percentiles{P50: 0.6, P75: 0.9, P90: 1.2, P95: 2.5, P99: 12.5, P999: 250, Max: 1003.5, Mean: 1.7}
	phases := reporters.Phases{DNSMS: pct, ConnectMS: pct, TLSMS: pct, WriteMS: pct, TTFBMS: pct, ReadMS: pct, NewConns: 12}
	return &reporters.Report{
		Schema: reporters.Schema, Scenario: "full", RunID: "0123456789abcdef",
		Started: time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC),
		Stages: []reporters.Stage{{
			Name: "cache", Target: "http://127.0.0.1:8080",
			Intended: 1000, Issued: 990, Succeeded: 970, Failed: 15, Dropped: 4, Lost: 6, SentUnreported: 4, InFlightAtEnd: 5,
			DurationS: 1, IntendedRPS: 1000, AchievedRPS: 990,
			ResponseTimeMS: pct, ServiceTimeMS: pct, SendLagMS: pct, OnWireLagMS: pct, TTFBMS: pct, Phases: phases,
			Errors:    map[string]uint64{"http_5xx": 10, "timeout": 5},
			DroppedBy: map[string]uint64{"in_flight_cap": 4},
			BytesIn:   62080, BodyTruncated: 1, OverRange: 2, ConnWaits: 12,
			Requests: []reporters.Request{{Name: "get", Issued: 990, Succeeded: 970, Failed: 15, Dropped: 4,
				Errors: map[string]uint64{"http_5xx": 10, "timeout": 5}, ResponseTimeMS: pct, ServiceTimeMS: pct, TTFBMS: pct, Phases: phases},
				{Name: "shop", Kind: reporters.KindJourney, InFlightAtEnd: 1, Issued: 10, Succeeded: 8, Failed: 1,
					Errors: map[string]uint64{"check_failed": 1}, ResponseTimeMS: pct}},
			Intervals: []reporters.Interval{{TS: 1, Intended: 1000, Issued: 990, Succeeded: 970, Failed: 15, Dropped: 4,
				P50MS: 0.6, P75MS: 0.9, P95MS: 2.5, P99MS: 12.5, InFlight: 5, SendLagP99MS: 1.1, OnWireLagP99MS: 2.2, CPUS: 0.052,
				P90MS: 1.2, P999MS: 250, MaxMS: 1003.5, Errors: map[string]uint64{"http_5xx": 15},
				Histogram: "HISTFAAAAB54nJNpmSzMwMDAxQABzFCaEUzOmQVhAwAvBQIu", Lost: 6,
				Requests: []reporters.IntervalRequest{{Name: "get", Intended: 994, Issued: 990, Succeeded: 970, Failed: 15, Dropped: 4, P50MS: 0.6, P75MS: 0.9, P95MS: 2.5, P99MS: 12.5}}}},
			Histogram: "HISTFAAAAB54nJNpmSzMwMDAxQABzFCaEUzOmQVhAwAvBQIu",
			Started:   time.Date(2026, 11, 23, 4, 0, 1, 500_000_000, time.UTC),
			Gaps: []reporters.Gap{{Agent: "agent-2", Cause: "silent", LastHeardS: 0.5, DetectedS: 3.5, CutS: 4, CutIndex: 4000, Lost: 6, SentUnreported: 4, SentUnreportedMin: 1,
				TakenBy: []string{"agent-1"}}},
			Stopped: "aborted: threshold p99 < 1ms failed", AbortedBy: "p99 < 1ms",
			AgentCPUS: 0.052, CPUPerRequestUS: 52.8,
			GeneratorLimited: true, PoolLimited: true, GeneratorNotes: []string{"4 arrivals were dropped at the in-flight cap"},
			Bottleneck: "db", Components: []reporters.ComponentLoad{{Component: "db", Utilisation: 0.97, QueueDepthMean: 3.25, QueueDepthMax: 12},
				{Component: "breaker-db", Breaker: &reporters.BreakerTimeline{
					States: []reporters.BreakerState{{AtS: 0, State: reporters.BreakerClosed}, {AtS: 0.5, State: reporters.BreakerOpen},
						{AtS: 2.5, State: reporters.BreakerHalfOpen}, {AtS: 3, State: reporters.BreakerClosed}},
					Transitions: map[string]uint64{"open": 2, "half-open": 2, "closed": 1}}}},
			HitRate: &hit, Scaling: []reporters.ScalingPoint{{AtS: 0, Instances: 10, Wanted: 10}, {AtS: 3.5, Instances: 10, Provisioning: 8, Wanted: 18}},
			Ceiling: &reporters.Ceiling{MeasuredRPS: 480, Method: reporters.CeilingSearch, Reached: true,
				PredictedRPS: 500, PredictedBottleneck: "db", PredictedWorking: "db 4 ÷ 8 ms = 500", Ratio: 0.96},
			Search: &reporters.Search{Method: "binary", SLO: []string{"p99 < 250ms"}, HoldS: 1, WarmupS: 0.2,
				SustainedRPS: 480, BrokeRPS: 520, Outcome: reporters.SearchFound, Steps: []reporters.SearchStep{
					{RateRPS: 480, StartS: 0, Intended: 500, Issued: 495, Succeeded: 488, Failed: 5, Dropped: 2, Lost: 3, InFlightAtEnd: 2,
						GoodputRPS: 488, P50MS: 0.5, P99MS: 10, P999MS: 20, ErrorRate: 0.01, Pass: true, Bottleneck: "db", BottleneckUtilisation: 0.9},
					{RateRPS: 520, StartS: 1.5, Intended: 500, Issued: 495, Succeeded: 482, Failed: 10, Dropped: 2, Lost: 3, InFlightAtEnd: 3,
						GoodputRPS: 482, P50MS: 0.7, P99MS: 300, P999MS: 400, ErrorRate: 0.02, Broken: []string{"p99 = 300ms, want < 250ms"},
						GeneratorLimited: true, Bottleneck: "db", BottleneckUtilisation: 1},
				}},
			Thresholds: []reporters.ThresholdResult{
				{Expr: "p99[1s] < 1ms", Value: 12.5e6, Measured: "12.5ms", WindowAtS: &at},
				{Expr: "p99{request=rare} < 1s", NoData: true, Measured: "no responses"},
				{Expr: "error_rate < 5%", Pass: true, Value: 0.015, Measured: "1.50%"},
			},
		}},
		Agents: []reporters.Agent{
			{Name: "agent-1", Intended: 500, Issued: 495, Succeeded: 485, Failed: 8, Dropped: 2, Lost: 3, InFlightAtEnd: 2, ClockOffsetMS: 0.123, ClockErrorMS: 0.05},
			{Name: "agent-2", Intended: 500, Issued: 495, Succeeded: 485, Failed: 7, Dropped: 2, Lost: 3, InFlightAtEnd: 3, ClockOffsetMS: -0.05, ClockErrorMS: 0.04, Resumes: 1},
		},
		Warnings:   []string{"agent agent-2 lost: silent"},
		Thresholds: []reporters.ThresholdResult{{Expr: "error_rate < 5%", Pass: true, Value: 0.015, Measured: "1.50%"}},
		Verdict:    reporters.VerdictFail,
		Reasons:    []string{"stage cache: aborted"},
	}
}

// setFields records, for each struct field of v (recursively), whether
// it is non-zero anywhere.
func setFields(v reflect.Value, set map[string]bool) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			setFields(v.Elem(), set)
		}
	case reflect.Slice:
		for i := range v.Len() {
			setFields(v.Index(i), set)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			return
		}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			key := v.Type().Name() + "." + f.Name
			set[key] = set[key] || !v.Field(i).IsZero()
			setFields(v.Field(i), set)
		}
	}
}

// TestFullReportValidates: a report with every optional section (gaps,
// search, ceiling, thresholds with a window, hit rate, verdict) validates,
// so the schema of each is exercised; the test fails when a field is
// added to the Go types and not set here.
func TestFullReportValidates(t *testing.T) {
	r := fullReport()
	set := map[string]bool{}
	setFields(reflect.ValueOf(r), set)
	for key, ok := range set {
		if !ok {
			t.Errorf("fullReport leaves %s zero: set it, so that its schema is checked", key)
		}
	}
	if err := r.Check(); err != nil {
		t.Errorf("fullReport does not balance: %v", err)
	}
	var b bytes.Buffer
	if err := reporters.WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	if err := reportschema.Validate(b.Bytes()); err != nil {
		t.Errorf("full report: %v\n%s", err, b.Bytes())
	}

	// Nil slices and maps are written as null, and left-out optional
	// sections are absent: both are valid.
	r.Stages[0].Errors, r.Stages[0].Requests, r.Stages[0].Intervals, r.Stages[0].Search.Steps, r.Agents = nil, nil, nil, nil, nil
	r.Stages[0].Started, r.Stages[0].Gaps, r.Stages[0].Ceiling, r.Warnings = time.Time{}, nil, nil, nil
	b.Reset()
	if err := reporters.WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	if err := reportschema.Validate(b.Bytes()); err != nil {
		t.Errorf("report with nulls and left-out sections: %v\n%s", err, b.Bytes())
	}
}

// TestValidateRejects: what does not match the schema fails with
// ErrInvalid and a message that says where and why.
func TestValidateRejects(t *testing.T) {
	var b bytes.Buffer
	if err := reporters.WriteJSON(&b, fullReport()); err != nil {
		t.Fatal(err)
	}
	good := b.Bytes()
	tests := []struct {
		name   string
		change func(r map[string]any)
		want   []string
	}{
		{"unknown top-level field", func(r map[string]any) { r["bogus"] = 1 }, []string{"at '': additional properties 'bogus' not allowed"}},
		{"unknown stage field", func(r map[string]any) { stage(r)["latency"] = 1 }, []string{"at '/stages/0': additional properties 'latency' not allowed"}},
		{"negative count", func(r map[string]any) { stage(r)["intended"] = -1 }, []string{"at '/stages/0/intended': minimum: got -1, want 0"}},
		{"fractional count", func(r map[string]any) { stage(r)["issued"] = 1.5 }, []string{"at '/stages/0/issued': got number, want integer"}},
		{"count as a string", func(r map[string]any) { r["agents"].([]any)[1].(map[string]any)["lost"] = "3" }, []string{"at '/agents/1/lost': got string, want integer"}},
		{"negative percentile", func(r map[string]any) { stage(r)["response_time_ms"].(map[string]any)["p99"] = -0.5 }, []string{"at '/stages/0/response_time_ms/p99': minimum: got -0.5, want 0"}},
		{"unknown phase", func(r map[string]any) { stage(r)["phases"].(map[string]any)["waiting_ms"] = map[string]any{} }, []string{"at '/stages/0/phases': additional properties 'waiting_ms' not allowed"}},
		{"phases without new_conns", func(r map[string]any) {
			delete(stage(r)["requests"].([]any)[0].(map[string]any)["phases"].(map[string]any), "new_conns")
		}, []string{"at '/stages/0/requests/0/phases': missing property 'new_conns'"}},
		{"missing required field", func(r map[string]any) { delete(stage(r), "histogram") }, []string{"at '/stages/0': missing property 'histogram'"}},
		{"other schema", func(r map[string]any) { r["schema"] = "surge.report/v2" }, []string{"at '/schema': value must be 'surge.report/v1'"}},
		{"bad time", func(r map[string]any) { r["started"] = "yesterday" }, []string{"at '/started': 'yesterday' is not valid date-time"}},
		{"unknown verdict", func(r map[string]any) { r["verdict"] = "ok" }, []string{"at '/verdict': value must be one of 'pass', 'fail', 'invalid'"}},
		{"unknown gap cause", func(r map[string]any) { stage(r)["gaps"].([]any)[0].(map[string]any)["cause"] = "crashed" }, []string{"at '/stages/0/gaps/0/cause': value must be one of"}},
		{"unknown search outcome", func(r map[string]any) { stage(r)["search"].(map[string]any)["outcome"] = "done" }, []string{"at '/stages/0/search/outcome': value must be one of"}},
		{"unknown error class", func(r map[string]any) { stage(r)["errors"].(map[string]any)["http_418"] = 1 }, []string{"at '/stages/0/errors': additional properties 'http_418' not allowed"}},
		{"rate_limited and breaker_open are classes", func(r map[string]any) {
			stage(r)["errors"].(map[string]any)["rate_limited"] = 1
			stage(r)["errors"].(map[string]any)["breaker_open"] = "2"
		}, []string{"at '/stages/0/errors/breaker_open': got string, want integer"}},
		{"unknown breaker state", func(r map[string]any) { breaker(r)["states"].([]any)[1].(map[string]any)["state"] = "tripped" }, []string{
			"at '/stages/0/components/1/breaker/states/1/state': value must be one of 'closed', 'open', 'half-open'"}},
		{"breaker state without a time", func(r map[string]any) { delete(breaker(r)["states"].([]any)[0].(map[string]any), "at_s") }, []string{
			"at '/stages/0/components/1/breaker/states/0': missing property 'at_s'"}},
		{"unknown breaker transition", func(r map[string]any) { breaker(r)["transitions"].(map[string]any)["tripped"] = 1 }, []string{
			"at '/stages/0/components/1/breaker/transitions': additional properties 'tripped' not allowed"}},
		{"several problems", func(r map[string]any) { r["bogus"] = 1; stage(r)["lost"] = -6 }, []string{
			"at '': additional properties 'bogus' not allowed; at '/stages/0/lost': minimum: got -6, want 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r map[string]any
			if err := json.Unmarshal(good, &r); err != nil {
				t.Fatal(err)
			}
			tt.change(r)
			data, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			err = reportschema.Validate(data)
			if !errors.Is(err, reportschema.ErrInvalid) {
				t.Fatalf("Validate = %v; want an error wrapping ErrInvalid", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %q\nwant it to contain %q", err, w)
				}
			}
		})
	}
	for _, data := range []string{"", "{", `{"schema": "surge.report/v1"} {}`} {
		if err := reportschema.Validate([]byte(data)); !errors.Is(err, reportschema.ErrInvalid) || !strings.Contains(err.Error(), "not JSON") {
			t.Errorf("Validate(%q) = %v; want ErrInvalid: not JSON", data, err)
		}
	}
}

func stage(r map[string]any) map[string]any { return r["stages"].([]any)[0].(map[string]any) }

// breaker is the breaker timeline of fullReport's second component.
func breaker(r map[string]any) map[string]any {
	return stage(r)["components"].([]any)[1].(map[string]any)["breaker"].(map[string]any)
}

// TestEnumsMatchConstants: each enum of the schema is exactly the set of
// constants the Go code writes there, read from the const block that
// names the field, wherever it is; every enum of the schema is checked.
// So are the keys of the error and drop maps (error classes and drop
// causes of internal/metrics).
func TestEnumsMatchConstants(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(reporters.JSONSchema, &doc); err != nil {
		t.Fatal(err)
	}
	var classes, causes []string
	for o := metrics.OK + 1; o < metrics.NumOutcomes; o++ { // ok is never an error class
		classes = append(classes, o.String())
	}
	for c := range metrics.NumDropCauses {
		causes = append(causes, c.String())
	}
	want := map[string][]string{
		"/properties/verdict":                  constStrings(t, "reporters/report.go", "(Report.Verdict)"),
		"/$defs/Search/properties/outcome":     constStrings(t, "reporters/report.go", "(Search.Outcome)"),
		"/$defs/Ceiling/properties/method":     constStrings(t, "reporters/report.go", "(Ceiling.Method)"),
		"/$defs/Search/properties/method":      constStrings(t, "scenario/search.go", "Search methods (Search.Method)"),
		"/$defs/Gap/properties/cause":          constStrings(t, "reporters/report.go", "(Gap.Cause)"),
		"/$defs/Request/properties/kind":       constStrings(t, "reporters/report.go", "(Request.Kind)"),
		"/$defs/BreakerState/properties/state": constStrings(t, "reporters/report.go", "(BreakerState.State)"),
	}
	got := map[string][]string{}
	enums("", doc, got)
	for at, w := range want {
		slices.Sort(w)
		g := got[at]
		slices.Sort(g)
		if !slices.Equal(g, w) {
			t.Errorf("enum at %s = %q; the Go code writes %q", at, g, w)
		}
	}
	for at := range got {
		if _, ok := want[at]; !ok {
			t.Errorf("enum at %s is not checked against Go constants: add it to this test", at)
		}
	}

	// The keys of the error, drop and breaker transition maps are closed
	// sets too.
	defs := doc["$defs"].(map[string]any)
	for def, w := range map[string][]string{"ErrorCounts": classes, "DropCounts": causes,
		"BreakerTransitions": constStrings(t, "reporters/report.go", "(BreakerState.State)")} {
		var keys []string
		for k := range defs[def].(map[string]any)["properties"].(map[string]any) {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		slices.Sort(w)
		if !slices.Equal(keys, w) {
			t.Errorf("$defs/%s has the keys %q; the Go code writes %q", def, keys, w)
		}
	}
}

// enums collects every enum of the schema by its JSON pointer.
func enums(at string, node any, out map[string][]string) {
	switch n := node.(type) {
	case map[string]any:
		for k, v := range n {
			if k == "enum" {
				for _, s := range v.([]any) {
					out[at] = append(out[at], fmt.Sprint(s))
				}
				continue
			}
			enums(at+"/"+k, v, out)
		}
	case []any:
		for i, v := range n {
			enums(fmt.Sprintf("%s/%d", at, i), v, out)
		}
	}
}

// constStrings returns the string constants of the const block in file
// (from the module's root) whose doc comment contains marker.
func constStrings(t *testing.T, file, marker string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, file), nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	found := false
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST || g.Doc == nil || !strings.Contains(g.Doc.Text(), marker) {
			continue
		}
		found = true
		for _, s := range g.Specs {
			for _, v := range s.(*ast.ValueSpec).Values {
				if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					s, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					out = append(out, s)
				}
			}
		}
	}
	if !found || len(out) == 0 {
		t.Fatalf("%s: no const block documented with %q: did it move? Update this test", file, marker)
	}
	return out
}
