package reporters

import (
	"strings"
	"testing"
)

// TestJudgeDefaultErrorCheck: without a threshold on errors, a stage in
// which nothing succeeded, or more than DefaultMaxErrorRate failed, fails
// the run with a reason naming the stage, the counts and the main error
// class; a threshold on errors takes the judgement over.
func TestJudgeDefaultErrorCheck(t *testing.T) {
	pass := func(expr string) ThresholdResult { return ThresholdResult{Expr: expr, Pass: true} }
	tests := []struct {
		name  string
		stage Stage
		want  string   // verdict
		parts []string // in the one reason
	}{
		{"all failed, no thresholds",
			Stage{Name: "secure", Succeeded: 0, Failed: 40, Errors: map[string]uint64{"tls_error": 40}},
			VerdictFail, []string{"stage secure", "no request succeeded", "40 of 40 failed", "mostly tls_error: 40"}},
		{"over the default rate",
			Stage{Name: "api", Succeeded: 80, Failed: 20, Errors: map[string]uint64{"http_5xx": 15, "timeout": 5}},
			VerdictFail, []string{"stage api", "20 of 100 requests failed (20.0%", "mostly http_5xx: 15", "10%"}},
		{"at the default rate",
			Stage{Name: "api", Succeeded: 90, Failed: 10, Errors: map[string]uint64{"timeout": 10}},
			VerdictPass, nil},
		{"a few errors",
			Stage{Name: "api", Succeeded: 99, Failed: 1, Errors: map[string]uint64{"timeout": 1}},
			VerdictPass, nil},
		{"nothing finished",
			Stage{Name: "api"},
			VerdictPass, nil},
		{"a latency threshold does not judge errors",
			Stage{Name: "api", Succeeded: 50, Failed: 50, Errors: map[string]uint64{"http_4xx": 50}, Thresholds: []ThresholdResult{pass("p99 < 1s")}},
			VerdictFail, []string{"50 of 100 requests failed"}},
		{"an error_rate threshold judges errors",
			Stage{Name: "api", Succeeded: 0, Failed: 100, Errors: map[string]uint64{"http_5xx": 100}, Thresholds: []ThresholdResult{pass("error_rate > 50%")}},
			VerdictPass, nil},
		{"a failed threshold with a request selector judges errors",
			Stage{Name: "api", Succeeded: 70, Failed: 30, Errors: map[string]uint64{"http_5xx": 30}, Thresholds: []ThresholdResult{pass("failed{request=write} < 100")}},
			VerdictPass, nil},
		{"a search judges its errors by its SLO",
			Stage{Name: "ceiling", Succeeded: 70, Failed: 30, Errors: map[string]uint64{"timeout": 30}, Search: &Search{}},
			VerdictPass, nil},
		{"a search with no success fails",
			Stage{Name: "ceiling", Failed: 30, Errors: map[string]uint64{"dial_error": 30}, Search: &Search{}},
			VerdictFail, []string{"stage ceiling", "no request succeeded", "dial_error"}},
	}
	for _, tt := range tests {
		r := &Report{Stages: []Stage{tt.stage}}
		r.Judge()
		if r.Verdict != tt.want {
			t.Errorf("%s: Judge() = %s %q; want %s", tt.name, r.Verdict, r.Reasons, tt.want)
			continue
		}
		if tt.want == VerdictPass {
			continue
		}
		if len(r.Reasons) != 1 {
			t.Errorf("%s: reasons %q; want one", tt.name, r.Reasons)
			continue
		}
		for _, p := range tt.parts {
			if !strings.Contains(r.Reasons[0], p) {
				t.Errorf("%s: reason %q; want it to contain %q", tt.name, r.Reasons[0], p)
			}
		}
	}
}

// TestJudgeDefaultErrorCheckKeepsInvalid: a stage that cannot be judged
// stays invalid; the default check's reason follows the invalid ones.
func TestJudgeDefaultErrorCheckKeepsInvalid(t *testing.T) {
	r := &Report{Stages: []Stage{{Name: "api", Failed: 10, Errors: map[string]uint64{"timeout": 10}, GeneratorLimited: true}}}
	r.Judge()
	if r.Verdict != VerdictInvalid || len(r.Reasons) != 2 || !strings.Contains(r.Reasons[1], "no request succeeded") {
		t.Errorf("Judge() = %s %q; want invalid, generator-limited then no success", r.Verdict, r.Reasons)
	}
}

func TestThresholdMetric(t *testing.T) {
	for expr, want := range map[string]string{
		"error_rate < 1%":            "error_rate",
		" error_rate<1%":             "error_rate",
		"error_rate{request=a} < 1%": "error_rate",
		"error_rate[30s] < 1%":       "error_rate",
		"failed == 0":                "failed",
		"p99.9 < 1s":                 "p99.9",
	} {
		if got := thresholdMetric(expr); got != want {
			t.Errorf("thresholdMetric(%q) = %q; want %q", expr, got, want)
		}
	}
}
