package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/surgeload/surge/reporters"
)

// reportJSON is a small balanced report with one stage.
func reportJSON(t *testing.T, change func(s *reporters.Stage)) string {
	t.Helper()
	s := reporters.Stage{Name: "echo", Intended: 1000, Issued: 1000, Succeeded: 990, Failed: 10, Errors: map[string]uint64{"timeout": 10},
		DurationS: 1, IntendedRPS: 1000, AchievedRPS: 1000, ResponseTimeMS: reporters.Percentiles{P50: 1, P99: 10, P999: 20, Max: 40}}
	if change != nil {
		change(&s)
	}
	var b bytes.Buffer
	if err := reporters.WriteJSON(&b, &reporters.Report{Schema: reporters.Schema, Scenario: "cli", RunID: "r1", Stages: []reporters.Stage{s}}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestCompare(t *testing.T) {
	base := writeFile(t, "report.json", reportJSON(t, nil))
	same := writeFile(t, "same.json", reportJSON(t, nil))
	slower := writeFile(t, "slower.json", reportJSON(t, func(s *reporters.Stage) { s.ResponseTimeMS.P99 = 12 }))
	p99 := func(ms float64) string {
		return writeFile(t, fmt.Sprintf("p99-%g.json", ms), reportJSON(t, func(s *reporters.Stage) { s.ResponseTimeMS.P99 = ms }))
	}
	dir := filepath.Dir(base)
	empty := t.TempDir()
	unbalanced := writeFile(t, "u.json", strings.Replace(reportJSON(t, nil), `"succeeded": 990`, `"succeeded": 991`, 1))
	tests := []struct {
		name string
		args []string
		code int
		want string // in the last line of stderr, or in stdout for exit 0
	}{
		{"same", []string{"compare", base, same}, 0, "no regressions beyond the tolerances"},
		{"directory", []string{"compare", dir, same}, 0, "no regressions beyond the tolerances"},
		{"within the noise floor", []string{"compare", base, slower}, 0, "within noise floor (+5ms)"},
		{"regression without a floor", []string{"compare", base, slower, "--min-latency-delta", "0"}, 1, "1 regression(s) beyond the tolerances: stage echo: p99 10.0ms → 12.0ms (+20.0%, tolerance +10%)"},
		{"regression past a 1ms floor", []string{"compare", base, slower, "--min-latency-delta", "1ms"}, 1, "stage echo: p99 10.0ms → 12.0ms (+20.0%, tolerance +10% and +1ms)"},
		{"issue: 4.0 → 5.8 ms", []string{"compare", p99(4), p99(5.8)}, 0, "within noise floor"},
		{"issue: 40 → 58 ms", []string{"compare", p99(40), p99(58)}, 1, "stage echo: p99 40.0ms → 58.0ms (+45.0%, tolerance +10% and +5ms)"},
		{"looser tolerance", []string{"compare", base, slower, "--max-regression-latency", "25%", "--min-latency-delta", "0"}, 0, "p99 ms"},
		{"bad latency floor", []string{"compare", base, same, "--min-latency-delta", "5"}, 2, `invalid argument "5" for "--min-latency-delta"`},
		{"negative latency floor", []string{"compare", base, same, "--min-latency-delta", "-1ms"}, 2, "--min-latency-delta -1ms must be >= 0"},
		{"negative throughput floor", []string{"compare", base, same, "--min-throughput-delta", "-1"}, 2, "--min-throughput-delta -1 must be a rate >= 0"},
		{"improvement", []string{"compare", slower, base}, 0, "−16.7%"},
		{"missing file", []string{"compare", "/nonexistent/report.json", base}, 2, "open /nonexistent/report.json: no such file or directory"},
		{"directory without a report", []string{"compare", base, empty}, 2, filepath.Join(empty, "report.json") + ": no such file or directory"},
		{"not JSON", []string{"compare", base, writeFile(t, "x.json", "name: yaml\n")}, 2, "x.json: read report: invalid JSON at byte 2 (line 1, column 2): invalid character 'a' in literal null"},
		{"wrong schema", []string{"compare", writeFile(t, "s.json", `{"schema":"other"}`), base}, 2, `s.json: read report: schema "other"`},
		{"unbalanced", []string{"compare", base, unbalanced}, 2, "u.json: read report: report does not balance: stage echo: issued 1000 != succeeded 991"},
		{"bad tolerance", []string{"compare", base, same, "--max-regression-errors", "lots"}, 2, `--max-regression-errors "lots" must be a percentage >= 0`},
		{"negative tolerance", []string{"compare", base, same, "--max-regression-throughput", "-5%"}, 2, `--max-regression-throughput "-5%"`},
		{"one arg", []string{"compare", base}, 2, "accepts 2 arg(s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout, stderr)
			}
			if tt.code == 0 {
				if stderr != "" || !strings.Contains(stdout, tt.want) {
					t.Errorf("stdout does not contain %q (stderr %q):\n%s", tt.want, stderr, stdout)
				}
				return
			}
			last := lastLine(stderr)
			if !strings.HasPrefix(last, "error: ") || !strings.Contains(last, tt.want) {
				t.Errorf("last line %q; want a one-line error containing %q\nstderr:\n%s", last, tt.want, stderr)
			}
			if tt.code == 1 && !strings.Contains(stdout, "REGRESSION (+10%") {
				t.Errorf("the table does not mark the regression:\n%s", stdout)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "report.json")); err != nil {
		t.Fatal(err)
	}
}
