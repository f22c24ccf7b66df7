package capacity

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// launchDay is the full set of inputs of the planners' worked example.
func launchDay() Inputs {
	return Inputs{
		DailyRequests: 100e6, PeakMultiplier: 5, PerServerRPS: 300, Headroom: 1.3,
		ReadFraction: 0.9, CacheHitRate: 0.9, ReplicaReadRPS: 2000, PrimaryWriteCeiling: 5000,
		QueueWorkers: 10, QueueJobTime: 50 * time.Millisecond, SpikeMultiplier: 5, SpikeHold: 2 * time.Minute,
		RegionRTT: 70 * time.Millisecond, CallsPerPage: 5,
	}
}

// want is one expected step: its working and its value as the plan shows it.
type want struct {
	label, working, shown, unit string
}

func checkSteps(t *testing.T, in Inputs, wants []want) Plan {
	t.Helper()
	p, err := Compute(in)
	if err != nil {
		t.Fatalf("Compute(%+v) = %v", in, err)
	}
	for _, w := range wants {
		s, ok := p.Step(w.label)
		if !ok {
			t.Errorf("Compute(%+v) has no step %q; steps %+v", in, w.label, p.Steps)
			continue
		}
		if s.Working != w.working || FormatNumber(s.Value) != w.shown || s.Unit != w.unit {
			t.Errorf("Compute(%+v) step %q = %q → %s %s; want %q → %s %s",
				in, w.label, s.Working, FormatNumber(s.Value), s.Unit, w.working, w.shown, w.unit)
		}
	}
	return p
}

// The worked examples planners use: 100M req/day → 1,157 avg → 5,787 at
// 5× → 20 servers at 300 req/s, 26 with 30% headroom.
func TestWorkedExampleServers(t *testing.T) {
	in := Inputs{DailyRequests: 100e6, PeakMultiplier: 5, PerServerRPS: 300, Headroom: 1.3}
	p := checkSteps(t, in, []want{
		{LabelAverage, "100,000,000 ÷ 86,400 s", "1,157", "req/s"},
		{LabelPeak, "1,157.4 × 5", "5,787", "req/s"},
		{LabelServers, "⌈5,787 ÷ 300⌉ = ⌈19.29⌉", "20", "servers"},
		{LabelHeadroom, "⌈20 × 1.3⌉ = ⌈26⌉", "26", "servers"},
	})
	for label, v := range map[string]float64{LabelAverage: 1e8 / 86400, LabelPeak: 5e8 / 86400, LabelServers: 20, LabelHeadroom: 26} {
		if s, _ := p.Step(label); math.Abs(s.Value-v) > 1e-9 {
			t.Errorf("step %q value = %v; want %v", label, s.Value, v)
		}
	}
}

// 90% cache hits on 1,160 reads/s → 116 DB reads/s. The 1,160 is the
// average rate of 100M/day (1,157.4) with every request a read, planned
// at the average: with a multiplier of 1, and with none (a note says so).
func TestWorkedExampleCache(t *testing.T) {
	for _, peak := range []float64{1, 0} {
		in := Inputs{DailyRequests: 100e6, PeakMultiplier: peak, ReadFraction: 1, CacheHitRate: 0.9}
		p := checkSteps(t, in, []want{
			{LabelReads, "1,157.4 × 100%", "1,157", "req/s"},
			{LabelWrites, "1,157.4 − 1,157.4", "0", "req/s"},
			{LabelDBReads, "1,157.4 × (1 − 90%)", "116", "req/s"},
		})
		if s, _ := p.Step(LabelDBReads); math.Abs(s.Value-1e8/86400*0.1) > 1e-9 {
			t.Errorf("Compute(%+v) db reads = %v; want %v", in, s.Value, 1e8/86400*0.1)
		}
		hasNote := slices.ContainsFunc(p.Notes, func(n string) bool { return strings.Contains(n, "size for the average rate") })
		if hasNote != (peak == 0) {
			t.Errorf("Compute(%+v) notes %q: average-rate note present = %v; want %v", in, p.Notes, hasNote, peak == 0)
		}
	}
}

func TestComputeLaunchDay(t *testing.T) {
	p := checkSteps(t, launchDay(), []want{
		{LabelAverage, "100,000,000 ÷ 86,400 s", "1,157", "req/s"},
		{LabelPeak, "1,157.4 × 5", "5,787", "req/s"},
		{LabelServers, "⌈5,787 ÷ 300⌉ = ⌈19.29⌉", "20", "servers"},
		{LabelHeadroom, "⌈20 × 1.3⌉ = ⌈26⌉", "26", "servers"},
		{LabelReads, "5,787 × 90%", "5,208", "req/s"},
		{LabelWrites, "5,787 − 5,208.3", "579", "req/s"},
		{LabelDBReads, "5,208.3 × (1 − 90%)", "521", "req/s"},
		{LabelReplicas, "⌈520.8 ÷ 2,000⌉ = ⌈0.26⌉", "1", "replica"},
		{LabelShards, "⌈578.7 ÷ 5,000⌉ = ⌈0.116⌉", "1", "shard"},
		{LabelQueue, "10 ÷ 0.05 s", "200", "jobs/s"},
		{LabelWorkersNeeded, "⌈578.7 × 0.05 s⌉ = ⌈28.94⌉", "29", "workers"},
		{LabelSpikeJobs, "578.7 × 5", "2,894", "jobs/s"},
		{LabelBacklog, "max(0, (2,893.5 − 200) × 120 s)", "323,222", "jobs"},
		{LabelPageLatency, "5 × 70 ms", "350", "ms"},
	})
	if _, ok := p.Step(LabelDrain); ok {
		t.Errorf("200 jobs/s of workers against 579 writes/s: got a drain time; want none")
	}
	for _, frag := range []string{"never drains", "at least 29 workers", "11.6% of its ceiling", "one round trip (70 ms)"} {
		if !slices.ContainsFunc(p.Notes, func(n string) bool { return strings.Contains(n, frag) }) {
			t.Errorf("notes %q; want one containing %q", p.Notes, frag)
		}
	}
	labels := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		labels[i] = s.Label
	}
	order := []string{LabelAverage, LabelPeak, LabelServers, LabelHeadroom, LabelReads, LabelWrites, LabelDBReads,
		LabelReplicas, LabelShards, LabelQueue, LabelWorkersNeeded, LabelSpikeJobs, LabelBacklog, LabelPageLatency}
	if !slices.Equal(labels, order) {
		t.Errorf("step order = %q; want %q", labels, order)
	}
}

// The queue: μ = W/J, backlog = (spike − μ)·hold, drained at μ − writes.
func TestComputeQueueDrain(t *testing.T) {
	in := launchDay()
	in.QueueWorkers, in.QueueJobTime = 50, 20*time.Millisecond // μ = 2,500 jobs/s
	writes := 5e8 / 86400 * 0.1
	backlog := (writes*5 - 2500) * 120
	p := checkSteps(t, in, []want{
		{LabelQueue, "50 ÷ 0.02 s", "2,500", "jobs/s"},
		{LabelWorkersNeeded, "⌈578.7 × 0.02 s⌉ = ⌈11.57⌉", "12", "workers"},
		{LabelBacklog, "max(0, (2,893.5 − 2,500) × 120 s)", "47,222", "jobs"},
		{LabelDrain, "47,222.2 ÷ (2,500 − 578.7)", "24.6", "s"},
	})
	if s, _ := p.Step(LabelDrain); math.Abs(s.Value-backlog/(2500-writes)) > 1e-9 {
		t.Errorf("drain = %v; want %v", s.Value, backlog/(2500-writes))
	}

	// A long drain also reads as a clock time.
	in.QueueWorkers, in.QueueJobTime = 7, 10*time.Millisecond // μ = 700
	checkSteps(t, in, []want{{LabelDrain, "263,222.2 ÷ (700 − 578.7) ≈ 36m10s", "2,170", "s"}})

	// Enough workers for the spike: no backlog, no drain.
	in.QueueWorkers = 40 // μ = 4,000 > 2,893.5
	p = checkSteps(t, in, []want{{LabelBacklog, "max(0, (2,893.5 − 4,000) × 120 s)", "0", "jobs"}})
	if _, ok := p.Step(LabelDrain); ok {
		t.Errorf("no backlog: got a drain step")
	}
}

func TestComputeSkipsWithNotes(t *testing.T) {
	tests := []struct {
		in     Inputs
		labels []string
		notes  []string
	}{
		{Inputs{}, nil, []string{"daily_requests not given", "queue_workers and queue_job_time not both given", "calls_per_page and region_rtt not both given"}},
		{Inputs{PeakMultiplier: 5, QueueWorkers: 4, QueueJobTime: time.Second},
			[]string{LabelQueue}, []string{"peak_multiplier needs daily_requests"}},
		{Inputs{DailyRequests: 86400, ReadFraction: 0.5},
			[]string{LabelAverage, LabelReads, LabelWrites},
			[]string{"peak_multiplier not given", "per_server_rps not given", "cache_hit_rate not given", "replica_read_rps not given", "primary_write_ceiling not given"}},
		{Inputs{DailyRequests: 86400, PerServerRPS: 1, QueueWorkers: 1, QueueJobTime: time.Second, SpikeMultiplier: 2},
			[]string{LabelAverage, LabelServers, LabelReads, LabelWrites, LabelQueue, LabelWorkersNeeded},
			[]string{"headroom not given", "spike multiplier and hold not both given"}},
		{Inputs{RegionRTT: 70 * time.Millisecond, CallsPerPage: 1}, []string{LabelPageLatency}, nil},
	}
	for _, tt := range tests {
		p, err := Compute(tt.in)
		if err != nil {
			t.Fatalf("Compute(%+v) = %v", tt.in, err)
		}
		var labels []string
		for _, s := range p.Steps {
			labels = append(labels, s.Label)
		}
		if !slices.Equal(labels, tt.labels) {
			t.Errorf("Compute(%+v) steps = %q; want %q", tt.in, labels, tt.labels)
		}
		for _, frag := range tt.notes {
			if !slices.ContainsFunc(p.Notes, func(n string) bool { return strings.Contains(n, frag) }) {
				t.Errorf("Compute(%+v) notes = %q; want one containing %q", tt.in, p.Notes, frag)
			}
		}
	}
}

func TestComputeShardsAboveOne(t *testing.T) {
	in := Inputs{DailyRequests: 86400 * 12000, ReadFraction: 0.25, PrimaryWriteCeiling: 3000} // 9,000 writes/s
	checkSteps(t, in, []want{{LabelShards, "⌈9,000 ÷ 3,000⌉ = ⌈3⌉", "3", "shards"}})
	in.ReadFraction = 1 // no writes: still one primary
	checkSteps(t, in, []want{{LabelShards, "max(1, ⌈0 ÷ 3,000⌉ = ⌈0⌉)", "1", "shard"}})
}

func TestValidate(t *testing.T) {
	if err := launchDay().Validate(); err != nil {
		t.Fatalf("launchDay().Validate() = %v", err)
	}
	if err := DefaultInputs().Validate(); err != nil {
		t.Fatalf("DefaultInputs().Validate() = %v", err)
	}
	tests := []struct {
		mut  func(*Inputs)
		want string
	}{
		{func(in *Inputs) { in.DailyRequests = -1 }, "daily_requests is -1"},
		{func(in *Inputs) { in.PerServerRPS = math.NaN() }, "per_server_rps is NaN"},
		{func(in *Inputs) { in.ReplicaReadRPS = math.Inf(1) }, "replica_read_rps is +Inf"},
		{func(in *Inputs) { in.PrimaryWriteCeiling = math.Inf(-1) }, "primary_write_ceiling is -Inf"},
		{func(in *Inputs) { in.PeakMultiplier = 0.5 }, "peak_multiplier is 0.5, want 0 (not given) or ≥ 1"},
		{func(in *Inputs) { in.Headroom = 0.9 }, "headroom is 0.9"},
		{func(in *Inputs) { in.SpikeMultiplier = -5 }, "spike_multiplier is -5"},
		{func(in *Inputs) { in.ReadFraction = 1.1 }, "read_fraction is 1.1, want a fraction between 0 and 1"},
		{func(in *Inputs) { in.CacheHitRate = 90 }, "cache_hit_rate is 90"},
		{func(in *Inputs) { in.QueueJobTime = -time.Millisecond }, "queue_job_time is -1ms"},
		{func(in *Inputs) { in.SpikeHold = -time.Second }, "spike_hold is -1s"},
		{func(in *Inputs) { in.RegionRTT = -time.Second }, "region_rtt is -1s"},
		{func(in *Inputs) { in.QueueWorkers = -1 }, "queue_workers is -1"},
		{func(in *Inputs) { in.CallsPerPage = -3 }, "calls_per_page is -3"},
	}
	all := launchDay()
	for _, tt := range tests {
		in := launchDay()
		tt.mut(&in)
		tt.mut(&all)
		_, err := Compute(in)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Compute with %s = %v; want ErrInvalid containing %q", tt.want, err, tt.want)
		}
	}
	// Every problem at once.
	err := all.Validate()
	for _, tt := range tests {
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate with every problem = %v; want it to contain %q", err, tt.want)
		}
	}
}

func TestCeilCount(t *testing.T) {
	servers, headroom := 50.0, 1.1 // variables: Go constant arithmetic would be exact
	if servers*headroom == 55 {
		t.Fatalf("50 × 1.1 = 55 exactly in float64; the noise case needs another product")
	}
	tests := []struct{ x, want float64 }{
		{0, 0}, {0.26, 1}, {1, 1}, {19.29, 20}, {servers * headroom, 55}, {26.000000000000004, 26}, {20 * 1.3, 26},
		{26.001, 27}, {26 + 1e-9, 27}, {1e12 + 0.5, 1e12 + 1}, {1e9, 1e9}, {-0.5, 0}, {3 * 1.1, 4}, {0.1 + 0.2, 1},
	}
	for _, tt := range tests {
		if got := ceilCount(tt.x); got != tt.want {
			t.Errorf("ceilCount(%v) = %v; want %v", tt.x, got, tt.want)
		}
	}
}

func TestFormatNumber(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{0, "0"}, {1e8 / 86400, "1,157"}, {5e8 / 86400, "5,787"}, {115.74, "116"}, {100_000_000, "100,000,000"},
		{99.96, "100"}, {26, "26"}, {24.58, "24.6"}, {10, "10"}, {1.3, "1.3"}, {1.005, "1"}, {19.294, "19.3"},
		{0.26, "0.26"}, {0.1157, "0.116"}, {0.0001234, "0.000123"}, {-1234.5, "-1,234"}, {-0.0001, "-0.0001"},
		{999.5, "1,000"}, {1e15, "1,000,000,000,000,000"},
		{math.Inf(1), "∞"}, {math.Inf(-1), "-∞"}, {math.NaN(), "NaN"},
	}
	for _, tt := range tests {
		if got := FormatNumber(tt.v); got != tt.want {
			t.Errorf("FormatNumber(%v) = %q; want %q", tt.v, got, tt.want)
		}
	}
}

func TestWorkNumberAndUnits(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{workNumber(1e8 / 86400), "1,157.4"}, {workNumber(5e8 / 86400), "5,787"}, {workNumber(19.2901), "19.29"},
		{workNumber(0.26042), "0.26"}, {workNumber(86400), "86,400"},
		{percent(0.9), "90%"}, {percent(0.005), "0.5%"}, {percent(1), "100%"}, {percent(0.07), "7%"},
		{seconds(50 * time.Millisecond), "0.05 s"}, {seconds(2 * time.Minute), "120 s"},
		{millis(70 * time.Millisecond), "70 ms"}, {millis(1500 * time.Microsecond), "1.5 ms"},
		{clock(168), "2m48s"}, {clock(3600), "1h"}, {clock(5400), "1h30m"}, {clock(120), "2m"}, {clock(math.Inf(1)), "∞ s"},
		{plural(1, "shard"), "shard"}, {plural(2, "shard"), "shards"}, {plural(0, "replica"), "replicas"},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("case %d = %q; want %q", i, tt.got, tt.want)
		}
	}
}
