package probe

import (
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
