package reporters

import (
	"bytes"
	"encoding/xml"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// junitSchemas are the two XSDs junit.xml must satisfy: the Jenkins
// (Surefire) one most CI systems read, and Apache Ant's strict one
// (copied from ../shared/vendor/junit; testdata/junit/SOURCES).
var junitSchemas = []string{"testdata/junit/jenkins-junit-10.xsd", "testdata/junit/ant-JUnit.xsd"}

// validateJUnitXSD checks doc against both schemas with xmllint (Debian's
// libxml2-utils; make test installs it with scripts/install-xmllint.sh).
// Without xmllint it fails: a schema test that skips proves nothing.
func validateJUnitXSD(t *testing.T, doc []byte) {
	t.Helper()
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Fatal("xmllint is not installed: run scripts/install-xmllint.sh (make test does)")
	}
	f := filepath.Join(t.TempDir(), "junit.xml")
	if err := os.WriteFile(f, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, xsd := range junitSchemas {
		out, err := exec.Command(xmllint, "--noout", "--nonet", "--schema", xsd, f).CombinedOutput()
		if err != nil {
			t.Errorf("junit.xml is not valid under %s: %v\n%s\ndocument:\n%s", filepath.Base(xsd), err, out, doc)
		}
	}
}

// TestJUnitSchemaCatchesInvalid: the validator is not a yes-machine — the
// previous form (attributes on testsuites, no hostname, id, package,
// system-out or system-err) and a testcase with a system-out fail Ant's
// schema.
func TestJUnitSchemaCatchesInvalid(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Fatal("xmllint is not installed: run scripts/install-xmllint.sh (make test does)")
	}
	for name, doc := range map[string]string{
		"attributes on testsuites": `<testsuites name="surge"><testsuite name="x" package="surge" id="0" hostname="h" tests="0" failures="0" errors="0" time="1" timestamp="2026-01-02T03:04:05"><properties/><system-out/><system-err/></testsuite></testsuites>`,
		"no hostname":              `<testsuites><testsuite name="x" package="surge" id="0" tests="0" failures="0" errors="0" time="1" timestamp="2026-01-02T03:04:05"><properties/><system-out/><system-err/></testsuite></testsuites>`,
		"no system-err":            `<testsuites><testsuite name="x" package="surge" id="0" hostname="h" tests="0" failures="0" errors="0" time="1" timestamp="2026-01-02T03:04:05"><properties/><system-out/></testsuite></testsuites>`,
		"system-out in a testcase": `<testsuites><testsuite name="x" package="surge" id="0" hostname="h" tests="1" failures="0" errors="0" time="1" timestamp="2026-01-02T03:04:05"><properties/><testcase classname="c" name="n" time="1"><system-out>x</system-out></testcase><system-out/><system-err/></testsuite></testsuites>`,
		"timestamp with a zone":    `<testsuites><testsuite name="x" package="surge" id="0" hostname="h" tests="0" failures="0" errors="0" time="1" timestamp="2026-01-02T03:04:05Z"><properties/><system-out/><system-err/></testsuite></testsuites>`,
	} {
		f := filepath.Join(t.TempDir(), "junit.xml")
		if err := os.WriteFile(f, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(xmllint, "--noout", "--nonet", "--schema", "testdata/junit/ant-JUnit.xsd", f).CombinedOutput(); err == nil {
			t.Errorf("%s: Ant's schema accepted it (%s)", name, out)
		}
	}
}

// TestJUnitValidAgainstSchemas: junit.xml of runs of every kind —
// passing, failing thresholds, a threshold without data, journeys with
// steps, a capacity search, an aborted run, an interrupted one, run-wide
// thresholds, no stages at all, and hostile names (]]>, <, &, quotes,
// control characters, invalid UTF-8, blank names, no start time) — is
// valid under both the Jenkins and the Ant schema, and its counts add up.
func TestJUnitValidAgainstSchemas(t *testing.T) {
	hostile := "a]]>b <c> & \"d\" 'e' \x00\x01\x08\x0b\x1b\x7f \xff\xfe\xc3 \ufffe \U0001F600 \t\n  "
	window := 1.5
	started := time.Date(2026, 12, 6, 17, 30, 0, 123456789, time.FixedZone("X", 3600))
	stage := func(name string) Stage {
		return Stage{Name: name, Target: "http://127.0.0.1:8080", Intended: 100, Issued: 100, Succeeded: 99, Failed: 1,
			DurationS: 2, IntendedRPS: 50, AchievedRPS: 50, Errors: map[string]uint64{"http_5xx": 1},
			ResponseTimeMS: Percentiles{P50: 1.2, P90: 2, P95: 3, P99: 4, P999: 5, Max: 6}}
	}
	fromFile := func(path string) *Report {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		r, err := ReadReport(f)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return r
	}
	cases := []struct {
		name string
		r    *Report
	}{
		{"golden", writersReport(t)},
		{"testdata report.json", fromFile("testdata/report.json")},
		{"a real run's report.json", fromFile("../cmd/coordinator/testdata/report.json")},
		{"pass", &Report{Scenario: "ok", RunID: "r1", Started: started, Verdict: VerdictPass, Stages: []Stage{
			func() Stage {
				s := stage("a")
				s.Thresholds = []ThresholdResult{{Expr: "p99 < 1s", Pass: true, Measured: "4ms"}}
				return s
			}()}}},
		{"failing thresholds", &Report{Scenario: "gate", Started: started, Verdict: VerdictFail,
			Reasons: []string{"stage a: threshold \"p99 < 1ms\" failed: 4ms"},
			Stages: []Stage{func() Stage {
				s := stage("a")
				s.Thresholds = []ThresholdResult{{Expr: "p99 < 1ms", Measured: "4ms"}, {Expr: "error_rate < 0.1%", Value: 0.01, WindowAtS: &window}, {Expr: "p50 < 1s", NoData: true}}
				return s
			}()},
			Thresholds: []ThresholdResult{{Expr: "p99 < 1ms", Measured: "4ms"}, {Expr: "rps > 1", NoData: true}}}},
		{"journeys with steps", &Report{Scenario: "shop", Started: started, Verdict: VerdictPass, Stages: []Stage{func() Stage {
			s := stage("shop")
			s.Requests = []Request{
				{Name: "buy", Kind: KindJourney, Issued: 10, Succeeded: 9, Failed: 1, Errors: map[string]uint64{"check_failed": 1}, ResponseTimeMS: Percentiles{P50: 1500}},
				{Name: "buy/login", Kind: KindStep, Issued: 10, Succeeded: 10},
				{Name: "buy/" + hostile, Kind: KindStep, Issued: 9, Succeeded: 9},
				{Name: "buy/login #ok", Kind: KindCheck, Issued: 10, Succeeded: 10},
			}
			return s
		}()}}},
		{"capacity search", &Report{Scenario: "capacity", Started: started, Verdict: VerdictPass, Stages: []Stage{func() Stage {
			s := stage("cache")
			s.Search = &Search{Method: "binary", SLO: []string{"p99 < 50ms"}, HoldS: 5, SustainedRPS: 873.25, BrokeRPS: 900, Outcome: SearchFound,
				Steps: []SearchStep{{RateRPS: 800, Pass: true}, {RateRPS: 900}}}
			return s
		}()}}},
		{"aborted", &Report{Scenario: "abort", Started: started, Verdict: VerdictInvalid, Warnings: []string{"aborted"}, Stages: []Stage{func() Stage {
			s := stage("a")
			s.AbortedBy, s.Lost, s.Stopped = "error_rate > 50%", 40, "aborted: error_rate > 50%"
			s.Thresholds = []ThresholdResult{{Expr: "error_rate > 50%", Measured: "60%"}}
			return s
		}(), stage("never played")}}},
		{"generator limited, NaN duration", &Report{Scenario: "gen", Stages: []Stage{func() Stage {
			s := stage("a")
			s.GeneratorLimited, s.DurationS, s.AchievedRPS = true, math.NaN(), math.Inf(1)
			return s
		}(), func() Stage { s := stage("huge"); s.DurationS = math.MaxFloat64; return s }()}}},
		{"no stages", &Report{}},
		{"hostile names", &Report{Scenario: hostile, RunID: hostile, Verdict: hostile, Started: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
			Warnings: []string{hostile}, Reasons: []string{hostile},
			Stages: []Stage{func() Stage {
				s := stage(hostile)
				s.Errors = map[string]uint64{hostile: 1}
				s.GeneratorLimited, s.GeneratorNotes = true, []string{hostile}
				s.AbortedBy, s.Stopped = hostile, hostile
				s.Thresholds = []ThresholdResult{{Expr: hostile, Measured: hostile}, {Expr: "", NoData: true}, {Expr: " ", Pass: true}}
				return s
			}(), stage("")},
			Thresholds: []ThresholdResult{{Expr: hostile}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteJUnit(&b, tc.r); err != nil {
				t.Fatal(err)
			}
			validateJUnitXSD(t, b.Bytes())
			var doc junitSuites
			if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
				t.Fatalf("junit.xml does not parse: %v", err)
			}
			if len(doc.Suites) != 1 {
				t.Fatalf("%d testsuites; want 1", len(doc.Suites))
			}
			s := doc.Suites[0]
			var failures, errs int
			for _, c := range s.Cases {
				if c.Failure != nil {
					failures++
				}
				if c.Error != nil {
					errs++
				}
			}
			if s.Tests != len(s.Cases) || s.Failures != failures || s.Errors != errs {
				t.Errorf("suite says tests %d failures %d errors %d; its testcases %d/%d/%d", s.Tests, s.Failures, s.Errors, len(s.Cases), failures, errs)
			}
			if want := junitTimestamp(tc.r.Started); s.Timestamp != want {
				t.Errorf("timestamp %q; want %q", s.Timestamp, want)
			}
			if n := strings.Count(s.SystemOut, "\n"); n < len(tc.r.Stages) {
				t.Errorf("system-out has %d lines for %d stages:\n%s", n, len(tc.r.Stages), s.SystemOut)
			}
		})
	}
}

// TestJUnitTimestamp: UTC, no zone, no fraction; the epoch when unknown
// or outside xs:dateTime's four-digit years.
func TestJUnitTimestamp(t *testing.T) {
	for _, tc := range []struct {
		in   time.Time
		want string
	}{
		{time.Time{}, junitNoTimestamp},
		{time.Date(2026, 12, 6, 18, 30, 1, 999999999, time.FixedZone("X", 3600)), "2026-12-06T17:30:01"},
		{time.Date(0, 6, 1, 0, 0, 0, 0, time.UTC), junitNoTimestamp},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), junitNoTimestamp},
	} {
		if got := junitTimestamp(tc.in); got != tc.want {
			t.Errorf("junitTimestamp(%v) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzJUnitNames: whatever the names, messages and warnings (control
// characters, invalid UTF-8, "]]>", markup), WriteJUnit writes well-formed
// XML with one testsuite whose counts match its testcases, and none of its
// text holds a character XML 1.0 cannot carry. (Validation against the
// XSDs runs in TestJUnitValidAgainstSchemas: xmllint per input is too
// slow for a fuzzer.)
func FuzzJUnitNames(f *testing.F) {
	f.Add("shop", "stage", "p99 < 1s", "warn", false)
	f.Add("a]]>b", "<c>&\"d\"", "\x00\x01\xff\xfe", "\ufffe\U0001F600\r\n\t", true)
	f.Fuzz(func(t *testing.T, scenarioName, stageName, expr, warning string, pass bool) {
		r := &Report{Scenario: scenarioName, RunID: warning, Verdict: expr, Warnings: []string{warning}, Reasons: []string{expr},
			Stages: []Stage{{Name: stageName, AbortedBy: expr, Stopped: warning, GeneratorLimited: !pass, GeneratorNotes: []string{warning},
				Errors:     map[string]uint64{warning: 0},
				Thresholds: []ThresholdResult{{Expr: expr, Pass: pass, Measured: warning}, {Expr: expr, NoData: true}},
				Requests:   []Request{{Name: stageName, Kind: KindJourney}, {Name: expr, Kind: KindStep}}}},
			Thresholds: []ThresholdResult{{Expr: expr, Pass: pass}}}
		var b bytes.Buffer
		if err := WriteJUnit(&b, r); err != nil {
			t.Fatal(err)
		}
		var doc junitSuites
		if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
			t.Fatalf("junit.xml does not parse: %v\n%s", err, b.Bytes())
		}
		if len(doc.Suites) != 1 {
			t.Fatalf("%d testsuites", len(doc.Suites))
		}
		s := doc.Suites[0]
		failures, errs := 0, 0
		texts := []string{s.Name, s.SystemOut, s.SystemErr}
		for _, c := range s.Cases {
			texts = append(texts, c.Name, c.Classname)
			if c.Failure != nil {
				failures++
				texts = append(texts, c.Failure.Message, c.Failure.Text)
			}
			if c.Error != nil {
				errs++
				texts = append(texts, c.Error.Message, c.Error.Text)
			}
		}
		if s.Tests != len(s.Cases) || s.Failures != failures || s.Errors != errs {
			t.Errorf("suite says %d/%d/%d; testcases %d/%d/%d", s.Tests, s.Failures, s.Errors, len(s.Cases), failures, errs)
		}
		for _, text := range texts {
			for _, r := range text {
				if !(r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF) {
					t.Fatalf("a character XML 1.0 cannot carry: %U in %q", r, text)
				}
			}
		}
	})
}

// TestJUnitTime: a plain decimal of at most 3 places and 13 digits,
// whatever the input.
func TestJUnitTime(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{1.23456, "1.235"}, {0, "0"}, {-1, "0"}, {math.NaN(), "0"}, {math.Inf(1), "0"},
		{123456789012.3456, "123456789012.346"}, {99999999999.9996, "100000000000"}, {99999999999.1234, "99999999999.123"},
		{1e20, "1000000000000"}, {math.MaxFloat64, "1000000000000"},
	} {
		if got := junitTime(tc.in); got != tc.want {
			t.Errorf("junitTime(%v) = %q; want %q", tc.in, got, tc.want)
		}
	}
}
