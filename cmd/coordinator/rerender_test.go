package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/surgeload/surge/internal/exitcode"
)

// editReport is the real report.json with edit applied to its first
// stage (decoded as JSON objects).
func editReport(t *testing.T, edit func(stage map[string]any)) []byte {
	t.Helper()
	var r map[string]any
	if err := json.Unmarshal(realReport(t), &r); err != nil {
		t.Fatal(err)
	}
	edit(r["stages"].([]any)[0].(map[string]any))
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReportExitsWithTheVerdict: `coordinator report` exits as run does —
// 0 pass, 1 fail, 4 invalid — with the verdict judged again from the data,
// and a note when it differs from the saved one.
func TestReportExitsWithTheVerdict(t *testing.T) {
	tests := []struct {
		name      string
		edit      func(stage map[string]any)
		code      int
		err, note string
	}{
		{"pass", func(map[string]any) {}, exitcode.OK, "", ""},
		{"failed threshold", func(s map[string]any) {
			s["thresholds"] = []any{map[string]any{"expr": "p99 < 1ms", "pass": false, "value": 3.753983e6, "measured": "3.754ms"}}
		}, exitcode.ThresholdsFailed, `thresholds failed: stage echo: threshold "p99 < 1ms" failed: 3.754ms`,
			"note: the run's saved verdict was pass; judged again from its data it is fail"},
		{"generator-limited", func(s map[string]any) {
			s["generator_limited"] = true
		}, exitcode.InvalidRun, "the run is invalid: stage echo was generator-limited", "saved verdict was pass; judged again from its data it is invalid"},
	}
	for _, tt := range tests {
		code, stderr, _ := reportCommand(t, editReport(t, tt.edit))
		if code != tt.code || !strings.Contains(lastLine(stderr), tt.err) {
			t.Errorf("%s: report exit %d, %q; want %d and %q", tt.name, code, lastLine(stderr), tt.code, tt.err)
		}
		if !strings.Contains(stderr, tt.note) || (tt.note == "" && strings.Contains(stderr, "note:")) {
			t.Errorf("%s: stderr %q; want the note %q", tt.name, stderr, tt.note)
		}
		// Without --out too: the summary, then the same code.
		path := writeFile(t, "report.json", string(editReport(t, tt.edit)))
		if code, stdout, stderr := runCLI(t, "report", path); code != tt.code || !strings.Contains(stdout, "verdict:") {
			t.Errorf("%s: report without --out: exit %d; want %d and a summary\n%s%s", tt.name, code, tt.code, stdout, stderr)
		}
	}
}
