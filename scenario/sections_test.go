package scenario

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPosition(t *testing.T) {
	s, err := Load("testdata/full.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path      string
		line, col int
	}{
		{"name", 2, 7},
		{"seed", 3, 7},
		{"stages[1].load", 10, 7},
		{"stages[1].load.ramp.to", 10, 29},
		{"stages[2].load.steps[1].rate", 16, 18},
		{"requests[0].path", 21, 11},
		{`requests[1].headers["X-User"]`, 28, 15},
		{"requests[1].body", 29, 11},
		{"requests[1].expect[1]", 32, 19},
		{"load.diurnal.peak_hour", 39, 88},
		{"load.spikes[0].at", 41, 12},
		{"load.spikes[1].multiplier", 42, 28},
		{"load.compress", 43, 13},
		{"thresholds[3].expr", 48, 12},
		{"thresholds[6].expr", 51, 5},
		{"safety.max_rate", 52, 20},
		{"capacity.region_rtt", 63, 15},
	}
	for _, tt := range tests {
		if l, c, ok := s.Position(tt.path); !ok || l != tt.line || c != tt.col {
			t.Errorf("Position(%q) = %d:%d, %v; want %d:%d", tt.path, l, c, ok, tt.line, tt.col)
		}
	}
	for _, path := range []string{"load.constant", "requests[0].timeout", "nope", "safety.max_rate.x"} {
		if l, c, ok := s.Position(path); ok {
			t.Errorf("Position(%q) = %d:%d, true; want not written", path, l, c)
		}
	}
	if _, _, ok := (&Scenario{}).Position("name"); ok {
		t.Errorf("Position on a Scenario built in code = ok; want false")
	}

	// Errorf points at the value, or at the nearest written value above a
	// default.
	for _, tt := range []struct{ path, want string }{
		{"load.spikes[0].multiplier", "testdata/full.yaml:41:29: exact peak 30k/s is over 20k/s"},
		{"stages[0].load", "testdata/full.yaml:5:5: exact peak 30k/s is over 20k/s"},
		{"requests[0].timeout", "testdata/full.yaml:19:5: exact peak 30k/s is over 20k/s"},
	} {
		e := s.Errorf(tt.path, "exact peak %s is over %s", Rate(30000), Rate(20000))
		if e.Error() != tt.want || e.Path != tt.path || !errors.Is(e, ErrInvalid) {
			t.Errorf("Errorf(%q) = %q (path %q); want %q", tt.path, e.Error(), e.Path, tt.want)
		}
	}
	code := &Scenario{}
	if e := code.Errorf("load", "bad"); e.Error() != "load: bad" {
		t.Errorf("Errorf on a Scenario built in code = %q; want %q", e.Error(), "load: bad")
	}
}

func TestSafetyAndCapacity(t *testing.T) {
	s, err := Load("testdata/full.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Safety{MaxRate: 50000, MaxDuration: Duration(time.Hour), OnAgentLoss: OnAgentLossAbort}); s.Safety != want {
		t.Errorf("Safety = %+v; want %+v", s.Safety, want)
	}
	want := Capacity{DailyRequests: 100e6, PeakMultiplier: 5, PerServerRPS: 300, Headroom: 1.3, ReadFraction: 0.9,
		CacheHitRate: 0.9, ReplicaReadRPS: 2000, PrimaryWriteCeiling: 5000, QueueWorkers: 10,
		QueueJobTime: Duration(50 * time.Millisecond), RegionRTT: Duration(70 * time.Millisecond), CallsPerPage: 5}
	if s.Capacity == nil || *s.Capacity != want {
		t.Errorf("Capacity = %+v; want %+v", s.Capacity, want)
	}
	if s.Seed != 42 {
		t.Errorf("Seed = %d; want 42", s.Seed)
	}

	m, err := Parse("x.yaml", []byte("name: a\n"+validStages+validRequests+validLoad+"seed: 0\n"), Options{})
	if err != nil || m.Seed != 0 || m.Safety != (Safety{MaxRate: DefaultMaxRate, MaxDuration: DefaultMaxDuration, OnAgentLoss: "degrade"}) || m.Capacity != nil {
		t.Errorf("Parse(seed 0, no safety) = %+v, %v; want seed 0, the default safety, no capacity", m, err)
	}

	head := "name: a\n" + validStages + validRequests + validLoad // capacity on line 5
	tests := []struct{ src, want string }{
		{"capacity: {daily_requests: 0, peak_multiplier: 0.5x, per_server_rps: -1, headroom: 0.9}\n",
			"x.yaml:5:28: daily_requests must be > 0 (got 0)\n" +
				"x.yaml:5:48: peak_multiplier must be at least 1 (got 0.5x)\n" +
				"x.yaml:5:70: per_server_rps must be > 0 (got -1)\n" +
				"x.yaml:5:84: headroom must be at least 1 (got 0.9)"},
		{"capacity: {read_fraction: 0.9, cache_hit_rate: 120%, queue_workers: 0, queue_job_time: 0s, calls_per_page: 1.5}\n",
			"x.yaml:5:27: invalid percentage \"0.9\": missing % (want e.g. 90% or 0.5%)\n" +
				"x.yaml:5:48: invalid percentage \"120%\": must be at most 100%\n" +
				"x.yaml:5:69: queue_workers must be > 0 (got 0)\n" +
				"x.yaml:5:88: queue_job_time must be > 0 (got 0s)\n" +
				"x.yaml:5:108: calls_per_page must be an integer (got number)"},
		{"seed: -1\n", "x.yaml:5:7: seed is out of range (got -1)"},
		{"seed: 18446744073709551616\n", "x.yaml:5:7: seed is out of range (got 18446744073709551616)"},
	}
	for _, tt := range tests {
		_, err := Parse("x.yaml", []byte(head+tt.src), Options{})
		if err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%q) error:\n%v\nwant:\n%s", tt.src, err, tt.want)
		}
	}
	if s, err := Parse("x.yaml", []byte(head+"seed: 18446744073709551615\ncapacity: {}\n"), Options{}); err != nil || s.Seed != 1<<64-1 || s.Capacity == nil || s.Capacity.Headroom != DefaultHeadroom {
		t.Errorf("Parse(largest seed, empty capacity) = %+v, %v", s, err)
	}
}

// TestWarnings checks that warnings come in file order and do not stop a
// valid scenario, and that a Validate of a scenario built in code gives
// them by path.
func TestWarnings(t *testing.T) {
	src := "name: w\nstages:\n  - bundled: queue\n  - bundled: echo\n  - bundled: cache\n" + validRequests + validLoad +
		"thresholds: [{expr: 'p99 < 1s', grace: 10s}]\n"
	var got []string
	opts := Options{
		IsBundled: func(n string) bool { return n == "echo" },
		Warn:      func(e *Error) { got = append(got, e.Error()) },
	}
	s, err := Parse("x.yaml", []byte(src), opts)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"x.yaml:3:14: bundled topology \"queue\" is not available in this build yet",
		"x.yaml:5:14: bundled topology \"cache\" is not available in this build yet",
		"x.yaml:8:40: grace has no effect without abort: true",
	}
	if !slices.Equal(got, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	got = nil
	if err := s.Validate(opts); err != nil {
		t.Fatal(err)
	}
	want = []string{
		"stages[0].bundled: bundled topology \"queue\" is not available in this build yet",
		"stages[2].bundled: bundled topology \"cache\" is not available in this build yet",
		"thresholds[0].grace: grace has no effect without abort: true",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Validate warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Warnings come with errors too.
	got = nil
	_, err = Parse("x.yaml", []byte(src+"safety: {on_agent_loss: never}\n"), opts)
	if err == nil || len(got) != 3 {
		t.Errorf("Parse(warnings and an error) = %v, %d warnings; want an error and 3 warnings", err, len(got))
	}
}

// TestValidateNewSections checks Validate on scenarios built in code: a
// zero weight means 1, and problems come by path.
func TestValidateNewSections(t *testing.T) {
	s := &Scenario{
		Name:     "v",
		Stages:   []Stage{{Bundled: "echo"}},
		Requests: []Request{{Path: "/{{seq}}"}, {URL: "http://h/{{int 1 3}}", Weight: 2}},
		Load: Curve{
			Diurnal:  &Diurnal{DailyRequests: 100e6, PeakMultiplier: 5},
			Spikes:   []Spike{{At: SpikeAt{Fraction: 0.5}, Multiplier: 2, Hold: Duration(time.Minute)}},
			Compress: &Compress{From: Duration(24 * time.Hour), To: Duration(10 * time.Minute)},
		},
		Thresholds: []Threshold{{Expr: `p99{request="GET /{{seq}}"} < 1s`}},
	}
	if err := s.Validate(Options{}); err != nil {
		t.Fatalf("Validate(valid) = %v", err)
	}
	s.Requests[0].Weight = -1
	s.Load.Spikes[0].At = SpikeAt{Fraction: 1}
	s.Load.Compress = &Compress{From: Duration(time.Minute), To: Duration(time.Hour)}
	s.Thresholds = append(s.Thresholds, Threshold{Expr: "p99{stage=nope} < 1s"}, Threshold{Expr: "p99 <"}, Threshold{})
	s.Safety.OnAgentLoss = "panic"
	err := s.Validate(Options{})
	want := []string{
		"requests[0].weight: weight must be > 0 (got -1)",
		"safety.on_agent_loss: unknown on_agent_loss \"panic\" (want degrade or abort)",
		"load.compress: compress must not slow the curve down (got 1m in 1h)",
		"load.spikes[0].at: at must be a share of the played duration from 0% to below 100% (got 100%)",
		"thresholds[1].expr: unknown stage \"nope\" in threshold (stages: \"echo\") (at byte 10 of the value)",
		"thresholds[2].expr: invalid threshold: missing value after < (at byte 5 of the value)",
		"thresholds[3].expr: threshold must not be empty (want e.g. p99 < 250ms)",
	}
	if got := errLines(err); !slices.Equal(got, want) {
		t.Errorf("Validate() error:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var e *Error
	if !errors.As(err, &e) || e.Line != 0 || e.Path != "requests[0].weight" {
		t.Errorf("errors.As(*Error) = %+v; want the first problem by path", e)
	}
	if !reflect.DeepEqual(s.Requests[1].Compiled, Compiled{}) {
		t.Errorf("Validate compiled templates into the scenario: %+v", s.Requests[1].Compiled)
	}
}
