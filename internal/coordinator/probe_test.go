package coordinator

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestComponentLoads(t *testing.T) {
	at := time.Unix(1000, 0)
	parse := func(at time.Time, text string) targetSample {
		t.Helper()
		s, err := parseTargetMetrics(strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		s.at = at
		return s
	}
	// db: 4 slots busy 3.2 slot-seconds over 1 s = 0.8 (the gauge, which
	// reads 1.0 at both scrapes, is not used when busy-seconds exist).
	// app: only a gauge: mean of 0.5 and 0.7. cache: a queue, no load.
	first := parse(at, `# TYPE surge_target_utilisation gauge
surge_target_utilisation{component="db"} 1
surge_target_utilisation{component="app"} 0.5
# TYPE surge_target_busy_seconds_total counter
surge_target_busy_seconds_total{component="db"} 10
# TYPE surge_target_slots gauge
surge_target_slots{component="db"} 4
# TYPE surge_target_queue_depth gauge
surge_target_queue_depth{component="db"} 2
surge_target_queue_depth{component="cache"} 1
`)
	last := parse(at.Add(time.Second), `# TYPE surge_target_utilisation gauge
surge_target_utilisation{component="db"} 1
surge_target_utilisation{component="app"} 0.7
# TYPE surge_target_busy_seconds_total counter
surge_target_busy_seconds_total{component="db"} 13.2
# TYPE surge_target_slots gauge
surge_target_slots{component="db"} 4
# TYPE surge_target_queue_depth gauge
surge_target_queue_depth{component="db"} 6
`)
	loads := componentLoads([]targetSample{first, last})
	if len(loads) != 3 {
		t.Fatalf("loads %+v; want db, app, cache", loads)
	}
	db, app, cache := loads[0], loads[1], loads[2]
	if db.Component != "db" || abs(db.Utilisation-0.8) > 1e-9 || db.QueueDepthMean != 4 || db.QueueDepthMax != 6 {
		t.Errorf("db = %+v; want utilisation 0.8 from busy-seconds, queue mean 4, max 6", db)
	}
	if app.Component != "app" || abs(app.Utilisation-0.6) > 1e-9 {
		t.Errorf("app = %+v; want utilisation 0.6 (mean of the gauge)", app)
	}
	if cache.Component != "cache" || cache.Utilisation != 0 || cache.QueueDepthMean != 1 {
		t.Errorf("cache = %+v; want no utilisation, queue mean 1", cache)
	}
}

func abs(x float64) float64 { return max(x, -x) }

func TestParseTargetMetricsRefusesGarbage(t *testing.T) {
	if _, err := parseTargetMetrics(strings.NewReader("surge_target_utilisation{component=\"db\" 1\n")); err == nil {
		t.Error("a malformed exposition was accepted")
	}
}

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

// FuzzParseTargetMetrics: whatever a target serves as /metrics, reading it
// returns a sample or an error, never a panic.
func FuzzParseTargetMetrics(f *testing.F) {
	f.Add("# TYPE surge_target_utilisation gauge\nsurge_target_utilisation{component=\"db\"} 0.5\n")
	f.Add("surge_target_slots{component=\"a\"} 4\nsurge_target_busy_seconds_total{component=\"a\"} 1e308\n")
	f.Add("# TYPE x histogram\nx_bucket{le=\"+Inf\"} 1\n")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := parseTargetMetrics(strings.NewReader(text))
		if err == nil {
			_ = componentLoads([]targetSample{s, s})
		}
	})
}
