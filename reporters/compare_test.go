package reporters

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// compareReports are a base and a head that differ in every way the
// comparison shows: regressions and changes within the tolerances, a
// stage removed and one added.
func compareReports() (base, head *Report) {
	base, head = sampleReport(), sampleReport()
	base.Stages[0].Ceiling = &Ceiling{MeasuredRPS: 990, Method: CeilingGoodput, Reached: true}
	steady := base.Stages[0]
	steady.Name, steady.GeneratorLimited, steady.Stopped, steady.Lost, steady.Intended = "steady", false, "", 0, 994
	steady.Ceiling = nil
	gone := steady
	gone.Name = "gone"
	base.Stages = append(base.Stages, steady, gone)

	h := &head.Stages[0]
	h.AchievedRPS = 930             // −6.1%: regression
	h.ResponseTimeMS.P50 = 0.65     // +6.2%: within
	h.ResponseTimeMS.P99 = 15       // +20% but +2.5ms: within the noise floor
	h.ResponseTimeMS.P999 = 300     // +20% and +50ms: regression
	h.ResponseTimeMS.Max = 900      // better
	h.Succeeded, h.Failed = 960, 25 // 1.52% → 2.54%: regression
	h.Errors = map[string]uint64{"http_5xx": 20, "timeout": 5}
	h.Ceiling = &Ceiling{MeasuredRPS: 900, Method: CeilingGoodput, Reached: true} // −9.1%: regression
	hs := steady
	hs.ResponseTimeMS.P99 = 13.75 // +10%: at the tolerance
	hs.AchievedRPS = 940.5        // −5%: at the tolerance
	added := steady
	added.Name = "new"
	head.Stages = append(head.Stages, hs, added)
	return base, head
}

func TestCompareGolden(t *testing.T) {
	base, head := compareReports()
	for _, r := range []*Report{base, head} {
		if err := r.Check(); err != nil {
			t.Fatal(err)
		}
	}
	c := Compare(base, head)
	var b bytes.Buffer
	if err := WriteCompare(&b, c); err != nil {
		t.Fatal(err)
	}
	golden(t, "compare.txt", b.Bytes())
	if len(c.Regressions) != 4 || len(c.Added) != 1 || len(c.Removed) != 1 {
		t.Errorf("regressions %q, added %q, removed %q; want 4, [new], [gone]", c.Regressions, c.Added, c.Removed)
	}
	if r := c.Stages[0].Rows[2]; r.Metric != "p99" || !r.WithinFloor || r.Regression {
		t.Errorf("p99 12.5 → 15 ms: %+v; want within the noise floor", r)
	}
	if self := Compare(base, base); len(self.Regressions) != 0 || len(self.Added)+len(self.Removed) != 0 {
		t.Errorf("a report compared with itself: %+v", self)
	}
}

// TestCompareRegressions checks each rule at its tolerance (no regression)
// and just past it.
func TestCompareRegressions(t *testing.T) {
	stage := func(f func(s *Stage)) *Report {
		s := Stage{Name: "s", Intended: 1000, Issued: 1000, Succeeded: 990, Failed: 10, Errors: map[string]uint64{"x": 10},
			AchievedRPS: 1000, ResponseTimeMS: Percentiles{P50: 10, P99: 100, P999: 200, Max: 400},
			Ceiling: &Ceiling{MeasuredRPS: 2000, Method: CeilingSearch, Reached: true}}
		if f != nil {
			f(&s)
		}
		return &Report{Schema: Schema, Stages: []Stage{s}}
	}
	// relOnly are the default tolerances without noise floors, to test
	// the relative rules alone.
	relOnly := DefaultCompareOptions()
	relOnly.MinLatencyDelta, relOnly.MinThroughputDelta = 0, 0
	tests := []struct {
		name   string
		opts   CompareOptions
		change func(s *Stage)
		want   string // the regression's start after "stage s: ", or "" for none
	}{
		{"unchanged", DefaultCompareOptions(), nil, ""},
		{"p50 at +10%", relOnly, func(s *Stage) { s.ResponseTimeMS.P50 = 11 }, ""},
		{"p50 past +10%", relOnly, func(s *Stage) { s.ResponseTimeMS.P50 = 11.01 }, "p50 10.0ms → 11.0ms (+10.1%, tolerance +10%)"},
		{"p50 past +10% within the 5ms floor", DefaultCompareOptions(), func(s *Stage) { s.ResponseTimeMS.P50 = 14.9 }, ""},
		{"p50 past +10% at the 5ms floor", DefaultCompareOptions(), func(s *Stage) { s.ResponseTimeMS.P50 = 15 }, ""},
		{"p50 past +10% and the 5ms floor", DefaultCompareOptions(), func(s *Stage) { s.ResponseTimeMS.P50 = 15.01 }, "p50 10.0ms → 15.0ms (+50.1%, tolerance +10% and +5ms)"},
		{"p99 at +10%", DefaultCompareOptions(), func(s *Stage) { s.ResponseTimeMS.P99 = 110 }, ""},
		{"p99 past +10%", DefaultCompareOptions(), func(s *Stage) { s.ResponseTimeMS.P99 = 110.5 }, "p99 100ms → 110ms (+10.5%"},
		{"p99.9 at +10%", DefaultCompareOptions(), func(s *Stage) { s.ResponseTimeMS.P999 = 220 }, ""},
		{"p99.9 past +10%", DefaultCompareOptions(), func(s *Stage) { s.ResponseTimeMS.P999 = 221 }, "p99.9 200ms → 221ms (+10.5%"},
		{"max at +10%", DefaultCompareOptions(), func(s *Stage) { s.ResponseTimeMS.Max = 440 }, ""},
		{"max doubled is shown, not judged", DefaultCompareOptions(), func(s *Stage) { s.ResponseTimeMS.Max = 800 }, ""},
		{"latency down", DefaultCompareOptions(), func(s *Stage) { s.ResponseTimeMS.P99 = 50 }, ""},
		{"latency from zero", DefaultCompareOptions(), func(s *Stage) {}, ""},
		{"throughput at −5%", DefaultCompareOptions(), func(s *Stage) { s.AchievedRPS = 950 }, ""},
		{"throughput past −5%", DefaultCompareOptions(), func(s *Stage) { s.AchievedRPS = 949 }, "achieved/s 1000.0 → 949.0 (−5.1%, tolerance −5% and −1/s)"},
		{"throughput up", DefaultCompareOptions(), func(s *Stage) { s.AchievedRPS = 2000 }, ""},
		{"ceiling at −5%", DefaultCompareOptions(), func(s *Stage) { s.Ceiling.MeasuredRPS = 1900 }, ""},
		{"ceiling past −5%", DefaultCompareOptions(), func(s *Stage) { s.Ceiling.MeasuredRPS = 1899 }, "ceiling/s 2000.0 → 1899.0 (−5.1%"},
		{"ceiling lower bound", DefaultCompareOptions(), func(s *Stage) { s.Ceiling.MeasuredRPS, s.Ceiling.Reached = 1000, false }, ""},
		{"no head ceiling", DefaultCompareOptions(), func(s *Stage) { s.Ceiling = nil }, ""},
		{"errors at +0.1pp", DefaultCompareOptions(), func(s *Stage) { s.Succeeded, s.Failed, s.Errors["x"] = 989, 11, 11 }, ""},
		{"errors past +0.1pp", DefaultCompareOptions(), func(s *Stage) { s.Succeeded, s.Failed, s.Errors["x"] = 988, 12, 12 },
			"error rate 1.00% → 1.20% (+0.20pp, tolerance +0.1pp)"},
		{"errors down", DefaultCompareOptions(), func(s *Stage) { s.Succeeded, s.Failed, s.Errors["x"] = 1000, 0, 0 }, ""},
		{"no finished requests", DefaultCompareOptions(), func(s *Stage) { s.Succeeded, s.Failed, s.InFlightAtEnd, s.Errors = 0, 0, 1000, nil }, ""},
		{"dropped is not judged", DefaultCompareOptions(), func(s *Stage) { s.Issued, s.Dropped, s.Succeeded, s.Failed, s.Errors = 10, 990, 10, 0, nil }, ""},
		{"looser latency", CompareOptions{Latency: 0.5, Throughput: 0.05, ErrorRate: 0.001}, func(s *Stage) { s.ResponseTimeMS.P99 = 150 }, ""},
		{"tighter latency", CompareOptions{Latency: 0.01, Throughput: 0.05, ErrorRate: 0.001}, func(s *Stage) { s.ResponseTimeMS.P99 = 102 }, "p99 100ms → 102ms (+2.0%, tolerance +1%)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, head := stage(nil), stage(tt.change)
			if tt.name == "latency from zero" {
				base.Stages[0].ResponseTimeMS = Percentiles{}
			}
			if err := head.Check(); err != nil {
				t.Fatalf("test report does not balance: %v", err)
			}
			c := tt.opts.Compare(base, head)
			switch {
			case tt.want == "" && len(c.Regressions) > 0:
				t.Errorf("regressions %q; want none", c.Regressions)
			case tt.want != "" && (len(c.Regressions) != 1 || !strings.HasPrefix(c.Regressions[0], "stage s: "+tt.want)):
				t.Errorf("regressions %q; want one starting %q", c.Regressions, "stage s: "+tt.want)
			}
		})
	}
}

// TestCompareNoiseFloor: the example — a p99 of 4.0 ms that
// becomes 5.8 ms (+45%, +1.8 ms) is within the default 5 ms floor and
// shown as such; 40 → 58 ms (+45%, +18 ms) is a regression. Each floor
// is a strict bound and 0 turns it off; the error rate keeps its
// absolute rule.
func TestCompareNoiseFloor(t *testing.T) {
	report := func(p99, rps float64, failed uint64) *Report {
		return &Report{Schema: Schema, Stages: []Stage{{Name: "s", Intended: 1000, Issued: 1000, Succeeded: 1000 - failed, Failed: failed,
			Errors: map[string]uint64{"x": failed}, AchievedRPS: rps, ResponseTimeMS: Percentiles{P50: 1, P99: p99, P999: 100, Max: 200}}}}
	}
	noFloor := DefaultCompareOptions()
	noFloor.MinLatencyDelta, noFloor.MinThroughputDelta = 0, 0
	wide := DefaultCompareOptions()
	wide.MinLatencyDelta, wide.MinThroughputDelta = 20*time.Millisecond, 100
	tests := []struct {
		name              string
		opts              CompareOptions
		base, head        *Report
		metric            string
		regression, noise bool
	}{
		{"p99 4.0 → 5.8 ms, default floor", DefaultCompareOptions(), report(4, 1000, 0), report(5.8, 1000, 0), "p99", false, true},
		{"p99 40 → 58 ms, default floor", DefaultCompareOptions(), report(40, 1000, 0), report(58, 1000, 0), "p99", true, false},
		{"p99 40 → 58 ms, 20ms floor", wide, report(40, 1000, 0), report(58, 1000, 0), "p99", false, true},
		{"p99 4.0 → 5.8 ms, no floor", noFloor, report(4, 1000, 0), report(5.8, 1000, 0), "p99", true, false},
		{"p99 4.0 → 4.3 ms: within +10%, not noise", DefaultCompareOptions(), report(4, 1000, 0), report(4.3, 1000, 0), "p99", false, false},
		{"p99 4 → 9 ms: exactly the floor", DefaultCompareOptions(), report(4, 1000, 0), report(9, 1000, 0), "p99", false, true},
		{"p99 4 → 9.1 ms: past the floor", DefaultCompareOptions(), report(4, 1000, 0), report(9.1, 1000, 0), "p99", true, false},
		{"10 → 9.4 req/s, default floor", DefaultCompareOptions(), report(4, 10, 0), report(4, 9.4, 0), "achieved/s", false, true},
		{"10 → 8.9 req/s, default floor", DefaultCompareOptions(), report(4, 10, 0), report(4, 8.9, 0), "achieved/s", true, false},
		{"1000 → 940 req/s, 100/s floor", wide, report(4, 1000, 0), report(4, 940, 0), "achieved/s", false, true},
		{"1000 → 940 req/s, default floor", DefaultCompareOptions(), report(4, 1000, 0), report(4, 940, 0), "achieved/s", true, false},
		{"errors 0 → 0.2%: absolute rule only", wide, report(4, 1000, 0), report(4, 1000, 2), "error rate", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.opts.Compare(tt.base, tt.head)
			var row *CompareRow
			for i := range c.Stages[0].Rows {
				if r := &c.Stages[0].Rows[i]; r.Metric == tt.metric {
					row = r
				}
			}
			if row == nil {
				t.Fatalf("no row %q", tt.metric)
			}
			if row.Regression != tt.regression || row.WithinFloor != tt.noise {
				t.Errorf("%s %v → %v: regression %v, within floor %v; want %v, %v", tt.metric, row.Base, row.Head, row.Regression, row.WithinFloor, tt.regression, tt.noise)
			}
			if n := len(c.Regressions); (n == 1) != tt.regression || n > 1 {
				t.Errorf("regressions %q", c.Regressions)
			}
			var b bytes.Buffer
			if err := WriteCompare(&b, c); err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(b.String(), "within noise floor"); got != tt.noise {
				t.Errorf("output says within noise floor: %v; want %v\n%s", got, tt.noise, b.String())
			}
		})
	}
}

func TestReadReport(t *testing.T) {
	var good bytes.Buffer
	if err := WriteJSON(&good, sampleReport()); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadReport(bytes.NewReader(good.Bytes())); err != nil {
		t.Fatalf("sample report: %v", err)
	}
	unbalanced := sampleReport()
	unbalanced.Stages[0].Succeeded++
	var ub bytes.Buffer
	if err := WriteJSON(&ub, unbalanced); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "invalid JSON at byte 0"},
		{"not JSON", "hello", "invalid JSON at byte 1 (line 1, column 1)"},
		{"truncated", good.String()[:100], "invalid JSON at byte 100"},
		{"trailing data", good.String() + "{}", "invalid JSON at byte"},
		{"wrong type", "{\n  \"schema\": \"surge.report/v1\",\n  \"stages\": 3\n}", "at byte 46 (line 3, column 13)"},
		{"negative count", `{"schema":"surge.report/v1","stages":[{"name":"a","intended":-1}]}`, "Stage.stages.intended"},
		{"array", "[]", "cannot unmarshal array"},
		{"null", "null", `schema "", want "surge.report/v1"`},
		{"other schema", `{"schema":"surge.report/v2"}`, `schema "surge.report/v2"`},
		{"unbalanced", ub.String(), "report does not balance: stage echo: issued 990 != succeeded 971"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ReadReport(strings.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ReadReport = %v, %v; want an error containing %q", r, err, tt.want)
			}
			if tt.name == "unbalanced" && !errors.Is(err, ErrUnbalanced) {
				t.Errorf("%v does not wrap ErrUnbalanced", err)
			}
		})
	}
	if _, err := readReport(bytes.NewReader(good.Bytes()), int64(good.Len())); err != nil {
		t.Errorf("a report exactly at the limit: %v", err)
	}
	if _, err := readReport(bytes.NewReader(good.Bytes()), int64(good.Len()-1)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a report over the limit: %v", err)
	}
}

// FuzzReadReport: ReadReport never panics, and whatever it accepts
// compares with itself without a regression and renders.
func FuzzReadReport(f *testing.F) {
	good, err := os.ReadFile(filepath.Join("testdata", "report.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"schema":"surge.report/v1","stages":[{"name":"a","intended":1,"issued":1,"failed":1,"errors":{"x":1},"ceiling":{"measured_rps":5}}]}`))
	f.Add([]byte(`{"schema":"surge.report/v1","stages":[{"search":{"steps":[{}]}}],"agents":[{}]}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"schema":1}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := ReadReport(bytes.NewReader(in))
		if err != nil {
			if r != nil {
				t.Fatalf("a report and an error: %v", err)
			}
			return
		}
		c := Compare(r, r)
		if len(c.Regressions) > 0 || len(c.Added) > 0 || len(c.Removed) > 0 {
			t.Fatalf("a report compared with itself: %+v", c)
		}
		if err := WriteCompare(&bytes.Buffer{}, c); err != nil {
			t.Fatal(err)
		}
		_ = fmt.Sprint(r.Check())
	})
}
