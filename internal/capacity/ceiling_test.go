package capacity

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCeilingLaunchDay(t *testing.T) {
	in := launchDay()
	// Hand-computed from the models in the package documentation:
	// N = 26, K = 1, S = 1, μ = 200, f = 0.9, h = 0.9, R = 2,000, W = 5,000.
	tests := []struct {
		topology string
		want     float64
		reason   string
	}{
		{"single-box", 1 / (1.0/300 + 0.9/2000 + 0.1/5000),
			"shared box 1 ÷ (1 ÷ 300 + 90% ÷ 2,000 + 10% ÷ 5,000) = 263"},
		{"split", 300,
			"min(app 1 × 300 = 300, db 1 ÷ (90% ÷ 2,000 + 10% ÷ 5,000) = 2,128): limited by app"},
		{"cache", 300,
			"min(app 1 × 300 = 300, db 1 ÷ (90% × (1 − 90%) ÷ 2,000 + 10% ÷ 5,000) = 15,385): limited by app"},
		{"lb", 7800,
			"min(app 26 × 300 = 7,800, db 1 ÷ (90% × (1 − 90%) ÷ 2,000 + 10% ÷ 5,000) = 15,385): limited by app"},
		{"replicas", 7800,
			"min(app 26 × 300 = 7,800, replicas 1 × 2,000 ÷ (90% × (1 − 90%)) = 22,222, primary 5,000 ÷ 10% = 50,000): limited by app"},
		{"sharding", 7800,
			"min(app 26 × 300 = 7,800, replicas 1 × 2,000 ÷ (90% × (1 − 90%)) = 22,222, shards 1 × 5,000 ÷ 10% = 50,000): limited by app"},
		{"queue", 2000,
			"min(app 26 × 300 = 7,800, replicas 1 × 2,000 ÷ (90% × (1 − 90%)) = 22,222, shards 1 × 5,000 ÷ 10% = 50,000, workers (10 ÷ 0.05 s) ÷ 10% = 2,000): limited by workers"},
		{"multi-region", 2000,
			"per region: min(app 26 × 300 = 7,800, replicas 1 × 2,000 ÷ (90% × (1 − 90%)) = 22,222, shards 1 × 5,000 ÷ 10% = 50,000, workers (10 ÷ 0.05 s) ÷ 10% = 2,000): limited by workers; 5 sequential calls × 70 ms = 350 ms of latency per page, not a throughput limit"},
		{"cdn", 300,
			"min(app 1 × 300 = 300, db 1 ÷ (90% × (1 − 90%) ÷ 2,000 + 10% ÷ 5,000) = 15,385): limited by app"},
		{"autoscale", 7800,
			"min(app 26 × 300 = 7,800, db 1 ÷ (90% × (1 − 90%) ÷ 2,000 + 10% ÷ 5,000) = 15,385): limited by app"},
	}
	if got := Topologies(); len(got) != len(tests) {
		t.Fatalf("Topologies() = %q; the test covers %d", got, len(tests))
	}
	for i, tt := range tests {
		if Topologies()[i] != tt.topology {
			t.Errorf("Topologies()[%d] = %q; want %q (staircase order)", i, Topologies()[i], tt.topology)
		}
		got, reason, ok := Ceiling(tt.topology, in)
		if !ok || math.Abs(got-tt.want) > 1e-9*tt.want || reason != tt.reason {
			t.Errorf("Ceiling(%q, launchDay) = %v, %q, %v;\n want %v, %q, true", tt.topology, got, reason, ok, tt.want, tt.reason)
		}
	}
}

// Each limit of the models, made the smallest in turn.
func TestCeilingLimits(t *testing.T) {
	// 1,000 req/s at the average, no headroom.
	base := Inputs{DailyRequests: 1000 * SecondsPerDay, PerServerRPS: 300, ReadFraction: 1, ReplicaReadRPS: 1000}
	tests := []struct {
		name     string
		topology string
		mut      func(*Inputs)
		want     float64
		limit    string
	}{
		{"split db", "split", func(in *Inputs) { in.PerServerRPS = 3000 }, 1000, "limited by db"},
		{"cache halves db reads", "cache", func(in *Inputs) { in.PerServerRPS = 3000; in.CacheHitRate = 0.5 }, 2000, "limited by db"},
		{"cache answers every read", "cache", func(in *Inputs) { in.CacheHitRate = 1 }, 300, "app 1 × 300 = 300"},
		// N = ⌈1,000 ÷ 300⌉ = 4 servers = 1,200 req/s; K = 1 replica = 1,000 reads/s.
		{"replicas", "replicas", nil, 1000, "limited by replicas"},
		{"lb app", "lb", func(in *Inputs) { in.ReplicaReadRPS = 5000 }, 1200, "limited by app"},
		// Half writes: 500 writes/s on a 400 writes/s primary → 800 req/s; two shards → 1,600.
		{"primary", "replicas", func(in *Inputs) { in.ReadFraction = 0.5; in.PrimaryWriteCeiling = 400 }, 800, "limited by primary"},
		{"shards", "sharding", func(in *Inputs) { in.ReadFraction = 0.5; in.PrimaryWriteCeiling = 400; in.PerServerRPS = 2000 }, 1600, "shards 2 × 400 ÷ 50% = 1,600"},
		{"single box all writes", "single-box", func(in *Inputs) { in.ReadFraction = 0; in.PrimaryWriteCeiling = 300 }, 150, "1 ÷ (1 ÷ 300 + 100% ÷ 300)"},
		{"queue without writes", "queue", nil, 1000, "limited by replicas"},
	}
	for _, tt := range tests {
		in := base
		if tt.mut != nil {
			tt.mut(&in)
		}
		got, reason, ok := Ceiling(tt.topology, in)
		if !ok || math.Abs(got-tt.want) > 1e-9*tt.want || !strings.Contains(reason, tt.limit) {
			t.Errorf("%s: Ceiling(%q, %+v) = %v, %q, %v; want %v and a reason containing %q", tt.name, tt.topology, in, got, reason, ok, tt.want, tt.limit)
		}
	}
}

func TestCeilingCannotPredict(t *testing.T) {
	tests := []struct {
		topology string
		in       Inputs
		want     string
	}{
		{"dinosaur", launchDay(), `no ceiling model for topology "dinosaur"`},
		{"echo", launchDay(), `no ceiling model for topology "echo"`},
		{"split", Inputs{PerServerRPS: -1}, "invalid capacity input: per_server_rps is -1"},
		{"single-box", DefaultInputs(), "needs per_server_rps, replica_read_rps, primary_write_ceiling"},
		{"split", Inputs{PerServerRPS: 300, ReadFraction: 1}, "needs replica_read_rps"},
		{"cache", Inputs{PerServerRPS: 300, ReadFraction: 0.9, CacheHitRate: 1}, "needs primary_write_ceiling"},
		{"lb", Inputs{PerServerRPS: 300, ReadFraction: 1, CacheHitRate: 1}, "needs daily_requests (to size the app servers)"},
		{"replicas", Inputs{DailyRequests: 1e6, ReadFraction: 1, ReplicaReadRPS: 10}, "needs per_server_rps"},
		{"sharding", Inputs{DailyRequests: 1e6, PerServerRPS: 300, ReadFraction: 0.5, ReplicaReadRPS: 10}, "needs primary_write_ceiling"},
		{"queue", Inputs{DailyRequests: 1e6, PerServerRPS: 300, ReadFraction: 0, PrimaryWriteCeiling: 10}, "needs queue_workers and queue_job_time"},
	}
	for _, tt := range tests {
		got, reason, ok := Ceiling(tt.topology, tt.in)
		if ok || got != 0 || !strings.Contains(reason, tt.want) || strings.Contains(reason, "\n") {
			t.Errorf("Ceiling(%q, %+v) = %v, %q, %v; want 0, a one-line reason containing %q, false", tt.topology, tt.in, got, reason, ok, tt.want)
		}
	}
}

// From sharding on, a ceiling never falls below the rate the plan sizes
// for: the plan's counts of servers, replicas and shards are chosen to
// carry it (given enough queue workers). Before sharding a single primary
// may not carry the writes — that is what the staircase shows.
func TestCeilingCarriesThePlannedRate(t *testing.T) {
	for _, daily := range []float64{1e6, 1e7, 1e8, 1e9} {
		for _, f := range []float64{0, 0.5, 0.9, 1} {
			in := launchDay()
			in.DailyRequests, in.ReadFraction = daily, f
			in.QueueWorkers, in.QueueJobTime = 1000, time.Millisecond // μ = 1e6 jobs/s
			peak := daily / SecondsPerDay * in.PeakMultiplier
			for _, top := range []string{"sharding", "queue", "multi-region"} {
				got, reason, ok := Ceiling(top, in)
				if !ok || got < peak*(1-1e-12) {
					t.Errorf("Ceiling(%q) at %v/day, read fraction %v = %v (%s), %v; want ≥ the peak %v", top, daily, f, got, reason, ok, peak)
				}
			}
		}
	}
}

func TestCeilings(t *testing.T) {
	in := DefaultInputs()
	in.PerServerRPS, in.ReplicaReadRPS, in.PrimaryWriteCeiling = 300, 2000, 5000
	p := Ceilings(in)
	var labels []string
	for _, s := range p.Steps {
		labels = append(labels, s.Label)
		if s.Unit != "req/s" {
			t.Errorf("Ceilings step %q unit = %q; want req/s", s.Label, s.Unit)
		}
		if v, reason, _ := Ceiling(s.Label, in); v != s.Value || reason != s.Working {
			t.Errorf("Ceilings step %+v differs from Ceiling = %v, %q", s, v, reason)
		}
	}
	if want := []string{"single-box", "split", "cache", "cdn"}; !slices.Equal(labels, want) {
		t.Errorf("Ceilings(no daily volume) steps = %q; want %q", labels, want)
	}
	if len(p.Notes) != 7 || !strings.HasPrefix(p.Notes[0], "lb: needs daily_requests") || !strings.HasPrefix(p.Notes[5], "autoscale: needs daily_requests") || !strings.Contains(p.Notes[6], "check them by measurement") {
		t.Errorf("Ceilings notes = %q; want 6 stages that need daily_requests and the reminder", p.Notes)
	}
	p = Ceilings(in, "split", "echo")
	if len(p.Steps) != 1 || p.Steps[0].Label != "split" || len(p.Notes) != 2 || !strings.HasPrefix(p.Notes[0], "echo: no ceiling model") {
		t.Errorf("Ceilings(split, echo) = %+v", p)
	}
}

// The cdn's edge and the autoscaler's maximum, when given, are limits of
// their own.
func TestCeilingEdgeAndAutoscale(t *testing.T) {
	in := Inputs{PerServerRPS: 300, ReadFraction: 0.9, CacheHitRate: 0.8, ReplicaReadRPS: 400, PrimaryWriteCeiling: 200}
	// db: 1 ÷ (0.9 × 0.2 ÷ 400 + 0.1 ÷ 200) = 1,052.6; app 300.
	in.PerServerRPS = 5000
	in.EdgeRPS = 900
	got, reason, ok := Ceiling("cdn", in)
	if !ok || got != 900 || !strings.HasSuffix(reason, "limited by edge") {
		t.Errorf("Ceiling(cdn, edge 900) = %v, %q, %v; want 900 limited by edge", got, reason, ok)
	}
	in.EdgeRPS = 0
	got, reason, ok = Ceiling("cdn", in)
	if want := 1 / (0.9*0.2/400 + 0.1/200); !ok || math.Abs(got-want) > 1e-9 || !strings.HasSuffix(reason, "limited by db") {
		t.Errorf("Ceiling(cdn, no edge) = %v, %q, %v; want %v limited by db (the origin ÷ (1 − h))", got, reason, ok, want)
	}
	in.PerServerRPS, in.MaxInstances = 30, 26
	got, reason, ok = Ceiling("autoscale", in)
	if !ok || got != 780 || !strings.Contains(reason, "26 × 30 (max instances)") {
		t.Errorf("Ceiling(autoscale, 26 × 30) = %v, %q, %v; want 780 at the maximum instances", got, reason, ok)
	}
	if err := (Inputs{EdgeRPS: -1, MaxInstances: -1}).Validate(); err == nil || !strings.Contains(err.Error(), "edge_rps") || !strings.Contains(err.Error(), "max_instances") {
		t.Errorf("Validate(negative edge_rps, max_instances) = %v", err)
	}
}
