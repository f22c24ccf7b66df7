package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/surgeload/surge/internal/reportschema"
	"github.com/surgeload/surge/reporters"
)

// schemaRun is a short run that fills as many of report.json's optional
// sections as is cheap: a bundled topology (component loads, bottleneck,
// cache hit rate, a predicted ceiling), a capacity search of two steps,
// stage thresholds (one with a window), run-wide thresholds (two stages)
// and a failed threshold (verdict reasons). Gaps are covered by a
// hand-built report in internal/reportschema.
const schemaRun = `name: schema
stages:
  - {name: cache, bundled: cache}
  - name: search
    bundled: echo
    mode: capacity
    search: {method: step, start: 50/s, step: 50/s, max: 100/s, hold: 500ms, warmup: 100ms, cooldown: 100ms, slo: ["p99 < 5s"]}
requests:
  - {name: get, path: /items/1}
load:
  constant: {rate: 100, duration: 1s}
thresholds: ["p99 < 5s", "p99[1s] < 5s", "max < 1ns"]
`

// TestReportMatchesSchema: the report.json of a real run, end to end
// (embedded agents, bundled targets, loopback), is valid against
// reporters.JSONSchema.
func TestReportMatchesSchema(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "run", writeFile(t, "s.yaml", schemaRun), "--gossip-listen", "127.0.0.1:0", "--out", out,
		"-q", "--max-send-lag", "1s", "--format", "json")
	if code != 1 { // the "max < 1ns" threshold fails
		t.Fatalf("exit %d; want 1 (a threshold failed)\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	data, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := reportschema.Validate(data); err != nil {
		t.Errorf("report.json of a real run: %v", err)
	}

	// The run did fill the sections it was meant to, so the schema of
	// each was checked above.
	var rep reporters.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Stages) != 2 || rep.Verdict != reporters.VerdictFail || len(rep.Reasons) == 0 || len(rep.Thresholds) == 0 {
		t.Fatalf("report: %d stages, verdict %q, %d reasons, %d run thresholds; want 2 stages, fail with reasons, run thresholds",
			len(rep.Stages), rep.Verdict, len(rep.Reasons), len(rep.Thresholds))
	}
	cache, search := rep.Stages[0], rep.Stages[1]
	windowed := false
	for _, th := range cache.Thresholds {
		windowed = windowed || th.WindowAtS != nil
	}
	if !windowed || len(cache.Components) == 0 || cache.HitRate == nil || cache.Ceiling == nil || cache.Ceiling.PredictedRPS == 0 {
		t.Errorf("stage cache: thresholds %+v, components %v, hit rate %v, ceiling %+v; want a windowed threshold, component loads, a hit rate and a predicted ceiling",
			cache.Thresholds, cache.Components, cache.HitRate, cache.Ceiling)
	}
	if search.Search == nil || len(search.Search.Steps) == 0 || search.Ceiling == nil || search.Ceiling.Method != reporters.CeilingSearch {
		t.Errorf("stage search: search %+v, ceiling %+v; want a search with its steps and its ceiling", search.Search, search.Ceiling)
	}
}
