package coordinator

import (
	"context"
	"testing"
	"time"
)

// TestStaircaseNamesBottlenecks plays three bundled stages with writes only
// at a rate well inside every ceiling, and reads each stage's bottleneck
// from the target's /metrics: the shared CPUs of the single box, the db
// once it has a machine of its own, and the primary behind read replicas
// (writes go only there).
func TestStaircaseNamesBottlenecks(t *testing.T) {
	if testing.Short() {
		t.Skip("plays three stages")
	}
	sc := mustParse(t, `name: staircase-short
stages:
  - bundled: single-box
  - bundled: split
  - bundled: replicas
requests:
  - {name: write, method: POST, path: /items, expect: [201]}
load:
  constant: {rate: 100, duration: 2s}
`)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	rep, err := Run(ctx, testConfig(1), sc)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"box-cpu", "db", "primary"}
	for k, st := range rep.Stages {
		if st.Succeeded != 200 || st.Failed != 0 {
			t.Errorf("stage %s: succeeded %d failed %d (errors %v); want 200 and 0", st.Name, st.Succeeded, st.Failed, st.Errors)
		}
		if st.Bottleneck != want[k] || len(st.Components) < 2 {
			t.Errorf("stage %s: bottleneck %q among %+v; want %q", st.Name, st.Bottleneck, st.Components, want[k])
		}
	}
}
