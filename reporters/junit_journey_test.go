package reporters

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
)

// TestJUnitJourneys: a stage of journeys gets a passing testcase per
// journey and per step, their counts and percentiles in the suite's
// system-out (a line each, named by the testcase), and the summary says
// journeys.
func TestJUnitJourneys(t *testing.T) {
	r := &Report{Scenario: "shop", Verdict: "pass", Stages: []Stage{{Name: "s", Intended: 10, Issued: 10, Succeeded: 9, Failed: 1,
		Errors: map[string]uint64{"check_failed": 1}, DurationS: 1,
		Requests: []Request{
			{Name: "shop", Kind: KindJourney, Issued: 10, Succeeded: 9, Failed: 1, Errors: map[string]uint64{"check_failed": 1}, ResponseTimeMS: Percentiles{P50: 1500, P99: 2500}},
			{Name: "shop/login", Kind: KindStep, Issued: 10, Succeeded: 9, Failed: 1, Errors: map[string]uint64{"check_failed": 1}, ResponseTimeMS: Percentiles{P50: 12}},
			{Name: "shop/login #ok", Kind: KindCheck, Issued: 10, Succeeded: 9, Failed: 1},
		}}}}
	var b bytes.Buffer
	if err := WriteJUnit(&b, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Suites []struct {
			Failures int `xml:"failures,attr"`
			Cases    []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
			SystemOut string `xml:"system-out"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range doc.Suites[0].Cases {
		if c.Failure != nil && strings.HasPrefix(c.Name, "journey") {
			t.Errorf("%s failed", c.Name)
		}
		got[c.Name] = ""
	}
	for _, line := range strings.Split(doc.Suites[0].SystemOut, "\n") {
		if name, figures, ok := strings.Cut(strings.TrimPrefix(line, "stage s: "), ": "); ok {
			if _, isCase := got[name]; isCase {
				got[name] = figures
			}
		}
	}
	if out := got["journey shop"]; !strings.Contains(out, "issued 10, succeeded 9, failed 1") || !strings.Contains(out, "check_failed=1") || !strings.Contains(out, "duration ms p50 1500") {
		t.Errorf("journey testcase: %q", out)
	}
	if out := got["step shop/login"]; !strings.Contains(out, "response time ms p50 12") {
		t.Errorf("step testcase: %q", out)
	}
	if _, ok := got["check shop/login #ok"]; ok {
		t.Error("a check has a testcase")
	}
	var text bytes.Buffer
	if err := WriteText(&text, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "journeys  intended 10") || !strings.Contains(text.String(), "journey shop (duration)") {
		t.Errorf("summary:\n%s", text.String())
	}
}
