package scenario

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// parseCurve parses a load section in a valid scenario.
func parseCurve(t *testing.T, load string) *Curve {
	t.Helper()
	s, err := Parse("x.yaml", []byte("name: c\n"+validStages+validRequests+"safety: {max_rate: 10M/s, max_duration: 168h}\nload:\n"+load), Options{})
	if err != nil {
		t.Fatalf("Parse(load %q): %v", load, err)
	}
	return &s.Load
}

func TestCurveDurationAndPeak(t *testing.T) {
	day := 100e6 / 86400.0
	tests := []struct {
		name   string
		load   string
		dur    time.Duration
		peak   float64
		spikes []int
	}{
		{"constant", "  constant: {rate: 2000, duration: 5s}\n", 5 * time.Second, 2000, nil},
		{"ramp up", "  ramp: {from: 100, to: 2k/s, duration: 2m}\n", 2 * time.Minute, 2000, nil},
		{"ramp down from", "  ramp: {from: 500, duration: 1m}\n", time.Minute, 500, nil},
		{"steps", "  steps: [{rate: 100, duration: 30s}, {rate: 500, duration: 30s}, {rate: 0, duration: 1s}]\n", 61 * time.Second, 500, nil},
		{"diurnal 100M at 5x", "  diurnal: {daily_requests: 100M, peak_multiplier: 5x, peak_hour: 20}\n", 24 * time.Hour, 5 * day, nil},
		{"diurnal two days", "  diurnal: {daily_requests: 100M, peak_multiplier: 2x, duration: 48h}\n", 48 * time.Hour, 2 * day, nil},
		{"hourly weights", "  diurnal:\n    daily_requests: 48k\n    hourly_weights: [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,25,1,1,1,1,1]\n",
			24 * time.Hour, 48e3 * 25 / 48 / 3600, nil},
		{"launch day", "  diurnal: {daily_requests: 100M, peak_multiplier: 5x}\n  spikes: [{at: 40%, multiplier: 5x, ramp: 30s, hold: 2m}]\n  compress: 24h in 10m\n",
			10 * time.Minute, 25 * day, []int{0}},
		{"spike on the low step", "  steps: [{rate: 100, duration: 1m}, {rate: 1000, duration: 1m}]\n  spikes: [{at: 10s, multiplier: 3x, ramp: 5s, hold: 10s}]\n",
			2 * time.Minute, 1000, nil},
		{"spike on the high step", "  steps: [{rate: 100, duration: 1m}, {rate: 1000, duration: 1m}]\n  spikes: [{at: 1m30s, multiplier: 3x, ramp: 5s, hold: 10s}]\n",
			2 * time.Minute, 3000, []int{0}},
		{"spike across the step", "  steps: [{rate: 100, duration: 1m}, {rate: 1000, duration: 1m}]\n  spikes: [{at: 50s, multiplier: 3x, ramp: 5s, hold: 10s}]\n",
			2 * time.Minute, 3000, []int{0}},
		{"overlapping spikes multiply", "  constant: {rate: 100, duration: 5m}\n  spikes:\n    - {at: 0s, multiplier: 2x, hold: 1m}\n    - {at: 30s, multiplier: 3x, ramp: 10s, hold: 10s}\n    - {at: 4m, multiplier: 5x, hold: 10s}\n",
			5 * time.Minute, 600, []int{0, 1}},
		{"a dip", "  constant: {rate: 100, duration: 5m}\n  spikes: [{at: 1m, multiplier: 0.5x, hold: 1m}]\n", 5 * time.Minute, 100, nil},
		{"spike early on a ramp", "  ramp: {to: 1000, duration: 100s}\n  spikes: [{at: 10s, multiplier: 2x, hold: 10s}]\n", 100 * time.Second, 1000, nil},
		{"spike late on a ramp", "  ramp: {to: 1000, duration: 100s}\n  spikes: [{at: 80%, multiplier: 2x, hold: 10s}]\n", 100 * time.Second, 1800, []int{0}},
		{"spike cut at the end", "  constant: {rate: 10, duration: 1m}\n  spikes: [{at: 50s, multiplier: 4x, ramp: 1m, hold: 1h}]\n", time.Minute, 40, []int{0}},
		{"hourly weights compressed with a spike", "  diurnal:\n    daily_requests: 33k\n    hourly_weights: [10,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]\n  spikes: [{at: 12m, multiplier: 2x, hold: 30s}]\n  compress: 24h in 24m\n",
			24 * time.Minute, 33e3 * 10 / 33 / 3600, nil},
		{"compress a constant", "  constant: {rate: 10, duration: 1h}\n  compress: 1h in 1m\n", time.Minute, 10, nil},
		{"a year in an hour", "  diurnal: {daily_requests: 1M, peak_multiplier: 3x, duration: 8760h}\n  compress: 8760h in 1h\n", time.Hour, 3e6 / 86400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseCurve(t, tt.load)
			if got := c.Duration(); got != tt.dur {
				t.Errorf("Duration() = %v; want %v", got, tt.dur)
			}
			peak, spikes := c.peakBound()
			if math.Abs(peak-tt.peak) > 1e-9*tt.peak || float64(c.PeakBound()) != peak {
				t.Errorf("PeakBound() = %v; want %v", peak, tt.peak)
			}
			if !slices.Equal(spikes, tt.spikes) {
				t.Errorf("peakBound() spikes = %v; want %v", spikes, tt.spikes)
			}
		})
	}
	// The planners' numbers.
	c := parseCurve(t, "  diurnal: {daily_requests: 100M, peak_multiplier: 5x}\n")
	if got := float64(c.PeakBound()); math.Round(got*1000)/1000 != 5787.037 {
		t.Errorf("100M/day at 5x: peak %v; want 5787.037", got)
	}
	if got := float64(c.Diurnal.DailyRequests) / 86400; math.Round(got*1000)/1000 != 1157.407 {
		t.Errorf("100M/day: average %v; want 1157.407", got)
	}
}

// TestStageLoad checks the per-stage override of the load section.
func TestStageLoad(t *testing.T) {
	src := "name: s\n" + validRequests + validLoad +
		"stages:\n  - bundled: echo\n  - name: fast\n    bundled: cache\n    load: {arrival: poisson, ramp: {to: 100, duration: 10s}}\n"
	s, err := Parse("x.yaml", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.StageLoad(0); got != &s.Load || got.Constant == nil || got.Arrival != ArrivalUniform {
		t.Errorf("StageLoad(0) = %+v; want the scenario's load, uniform", got)
	}
	if got := s.StageLoad(1); got != s.Stages[1].Load || got.Ramp == nil || got.Arrival != ArrivalPoisson || got.Duration() != 10*time.Second {
		t.Errorf("StageLoad(1) = %+v; want the stage's ramp, poisson", got)
	}
	if l, c, ok := s.Position("stages[1].load"); !ok || l != 8 || c != 11 {
		t.Errorf(`Position("stages[1].load") = %d:%d, %v; want 8:11`, l, c, ok)
	}

	// Every stage with its own load: the scenario's may be left out, and
	// is useless (a warning) when given.
	own := "name: s\n" + validRequests + "stages:\n  - {bundled: echo, load: {constant: {rate: 1, duration: 1s}}}\n"
	if _, err := Parse("x.yaml", []byte(own), Options{}); err != nil {
		t.Errorf("Parse(every stage with a load, no load) = %v", err)
	}
	var warns []string
	_, err = Parse("x.yaml", []byte(own+validLoad), Options{Warn: func(e *Error) { warns = append(warns, e.Error()) }})
	if want := []string{"x.yaml:5:7: load is not used: every stage sets its own load or searches its capacity"}; err != nil || !slices.Equal(warns, want) {
		t.Errorf("Parse(unused load) = %v, warnings %q; want none, %q", err, warns, want)
	}
	// One stage without: the load is required.
	_, err = Parse("x.yaml", []byte(own+"  - bundled: cache\n"), Options{})
	if want := "x.yaml:1:1: load is required"; err == nil || err.Error() != want {
		t.Errorf("Parse(a stage without a load, no load) = %v; want %q", err, want)
	}
}

func TestParseBadLoad(t *testing.T) {
	head := "name: a\n" + validStages + validRequests // the load starts on line 4
	tests := []struct {
		name string
		load string
		want []string
	}{
		{"no base", "load: {spikes: [{at: 1s, multiplier: 2x, hold: 1s}]}\n", []string{
			"x.yaml:4:7: load must set a base curve (one of: constant, ramp, steps, diurnal)"}},
		{"two bases", "load: {constant: {rate: 1, duration: 1s}, ramp: {to: 1, duration: 1s}}\n", []string{
			"x.yaml:4:7: load must set exactly one base curve (got constant and ramp)"}},
		{"arrival", "load: {arrival: Poisson, constant: {rate: 1, duration: 1s}}\n", []string{
			"x.yaml:4:17: unknown arrival process \"Poisson\" (want uniform or poisson)"}},
		{"ramp", "load:\n  ramp: {duration: 0s}\n", []string{
			"x.yaml:5:9: to is required",
			"x.yaml:5:20: duration must be > 0 (got 0s)"}},
		{"ramp at zero", "load:\n  ramp: {from: 0, to: 0, duration: 1s}\n", []string{
			"x.yaml:5:9: ramp must reach a rate > 0 (from and to are both 0)"}},
		{"steps", "load:\n  steps: []\n", []string{
			"x.yaml:5:10: steps must list at least one step"}},
		{"step fields", "load:\n  steps: [{duration: 1s}, {rate: 0}, {rate: -1/s, duration: 1s}]\n", []string{
			"x.yaml:5:11: rate is required",
			"x.yaml:5:27: duration is required",
			"x.yaml:5:45: invalid rate \"-1/s\": must not be negative"}},
		{"steps too long", "load:\n  steps: [{rate: 1, duration: 4800h}, {rate: 1, duration: 4800h}]\n", []string{
			"x.yaml:5:10: steps last 9600h in all, more than 8784h"}},
		{"spike too long", "load:\n  constant: {rate: 1, duration: 1m}\n  spikes: [{at: 1s, multiplier: 2x, ramp: 4000h, hold: 1000h}]\n", []string{
			"x.yaml:6:12: spike lasts 9000h in all, more than 8784h"}},
		{"steps all zero", "load:\n  steps: [{rate: 0, duration: 1s}]\n", []string{
			"x.yaml:5:10: at least one step must have a rate > 0"}},
		{"diurnal missing", "load:\n  diurnal: {peak_hour: 25}\n", []string{
			"x.yaml:5:12: daily_requests is required",
			"x.yaml:5:12: peak_multiplier is required",
			"x.yaml:5:24: peak_hour must be from 0 to 24 (got 25)"}},
		{"diurnal below 1x", "load:\n  diurnal: {daily_requests: 1M, peak_multiplier: 0.5x, peak_to_trough: 0.5x}\n", []string{
			"x.yaml:5:50: peak_multiplier must be at least 1x: the peak is the highest rate of the day (got 0.5x)",
			"x.yaml:5:72: peak_to_trough must be at least 1x: the trough is the lowest rate of the day (got 0.5x)"}},
		{"diurnal impossible trough", "load:\n  diurnal: {daily_requests: 1M, peak_multiplier: 5x, peak_to_trough: 4x}\n", []string{
			"x.yaml:5:70: peak_to_trough (4x) must be greater than peak_multiplier (5x): a trough of peak/4 is not below the average, so the day cannot average daily_requests/24h"}},
		{"diurnal flat with a trough", "load:\n  diurnal: {daily_requests: 1M, peak_multiplier: 1x, peak_to_trough: 2x}\n", []string{
			"x.yaml:5:70: peak_to_trough must be 1x or left out when peak_multiplier is 1x (a flat day); got 2x"}},
		{"hourly weights", "load:\n  diurnal: {daily_requests: 0, peak_hour: 3, hourly_weights: [1, 2]}\n", []string{
			"x.yaml:5:29: daily_requests must be > 0 (got 0)",
			"x.yaml:5:62: hourly_weights cannot be combined with peak_multiplier, peak_to_trough or peak_hour",
			"x.yaml:5:62: hourly_weights must have 24 numbers, one per hour from 00:00 (got 2)"}},
		{"hourly weights negative", "load:\n  diurnal: {daily_requests: 1M, hourly_weights: [0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,-1,0]}\n", []string{
			"x.yaml:5:94: hourly_weights[22] must be a number >= 0 (got -1)"}},
		{"hourly weights zero", "load:\n  diurnal: {daily_requests: 1M, hourly_weights: [0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}\n", []string{
			"x.yaml:5:49: hourly_weights must not all be 0"}},
		{"spikes", "load:\n  constant: {rate: 1, duration: 1m}\n  spikes:\n    - {ramp: 1s}\n    - {at: 100%, multiplier: 2x, hold: 1s}\n    - {at: 2m, multiplier: 2x}\n", []string{
			"x.yaml:7:7: at is required",
			"x.yaml:7:7: multiplier is required",
			"x.yaml:8:12: at must be a share of the played duration from 0% to below 100% (got 100%)",
			"x.yaml:9:7: spike must last: ramp, hold and ramp_down are all 0"}},
		{"spike after the end", "load:\n  constant: {rate: 1, duration: 1m}\n  spikes: [{at: 1m, multiplier: 2x, hold: 1s}]\n", []string{
			"x.yaml:6:17: at must be before the end of the curve, which plays for 1m (got 1m)"}},
		{"bad units", "load:\n  constant: {rate: 1, duration: 1m}\n  spikes: [{at: soon, multiplier: 5, hold: 1s}, {at: 1s, multiplier: 0x, hold: 1s}]\n  compress: 24h into 10m\n", []string{
			"x.yaml:6:17: invalid spike start \"soon\" (want a duration like 3m or a percentage like 40%)",
			"x.yaml:6:70: invalid multiplier \"0x\": must be > 0",
			"x.yaml:7:13: invalid compress \"24h into 10m\" (want FROM in TO, e.g. 24h in 10m)"}},
		{"compress slower", "load:\n  constant: {rate: 1, duration: 1m}\n  compress: 10m in 24h\n", []string{
			"x.yaml:6:13: compress must not slow the curve down (got 10m in 24h)"}},
		{"compress to zero", "load:\n  constant: {rate: 1, duration: 1m}\n  compress: 10m in 0s\n", []string{
			"x.yaml:6:13: compress must play the curve in a time > 0 (got 10m in 0s)"}},
		{"compress to nothing", "load:\n  constant: {rate: 1, duration: 1ns}\n  compress: 10m in 1s\n", []string{
			"x.yaml:6:13: compress leaves no time to play the curve (got 10m in 1s)"}},
		{"over the rate cap", "safety: {max_rate: 1k/s}\nload:\n  steps: [{rate: 10, duration: 1s}, {rate: 1001, duration: 1s}]\n", []string{
			"x.yaml:6:44: peak rate 1001/s is over safety.max_rate 1000/s"}},
		{"over the rate cap by spikes", "safety: {max_rate: 20k/s}\nload:\n" +
			"  diurnal: {daily_requests: 100M, peak_multiplier: 5x, peak_hour: 20}\n" +
			"  spikes: [{at: 40%, multiplier: 5x, ramp: 30s, hold: 2m}]\n  compress: 24h in 10m\n", []string{
			"x.yaml:7:34: peak rate up to 28935.19/s (5787.04/s × 5x from spikes[0]) is over safety.max_rate 20k/s"}},
		{"over the rate cap by overlapping spikes", "safety: {max_rate: 500}\nload:\n  constant: {rate: 100, duration: 1m}\n" +
			"  spikes: [{at: 0s, multiplier: 2x, hold: 30s}, {at: 10s, multiplier: 3x, hold: 1s}]\n", []string{
			"x.yaml:7:71: peak rate up to 600/s (100/s × 2x × 3x from spikes[0] and spikes[1]) is over safety.max_rate 500/s"}},
		{"over the rate cap by the diurnal peak", "safety: {max_rate: 5k/s}\nload:\n  diurnal: {daily_requests: 100M, peak_multiplier: 5x}\n", []string{
			"x.yaml:6:52: peak rate 5787.04/s is over safety.max_rate 5000/s"}},
		{"over the duration cap compressed", "safety: {max_duration: 5m}\nload:\n  diurnal: {daily_requests: 1M, peak_multiplier: 2x}\n  compress: 24h in 10m\n", []string{
			"x.yaml:7:13: the curve plays for 10m (24h compressed 144x), over safety.max_duration 5m"}},
		{"over the duration cap with a bad rate", "safety: {max_duration: 5m}\nload:\n  steps: [{rate: -1, duration: 3m}, {rate: 1, duration: 3m}]\n", []string{
			"x.yaml:6:10: the curve plays for 6m, over safety.max_duration 5m",
			"x.yaml:6:18: invalid rate \"-1\": must not be negative"}},
		{"bad safety", "safety: {max_rate: 0, max_duration: 169h, on_agent_loss: retry}\nload: {constant: {rate: 1M, duration: 1h}}\n", []string{
			"x.yaml:4:20: max_rate must be > 0 (got 0)",
			"x.yaml:4:37: max_duration must be at most 168h (got 169h)",
			"x.yaml:4:58: unknown on_agent_loss \"retry\" (want degrade or abort)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := head + tt.load
			_, err := Parse("x.yaml", []byte(src), Options{})
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q) = %v; want an error matching ErrInvalid", src, err)
			}
			if got := errLines(err); !slices.Equal(got, tt.want) {
				t.Errorf("Parse(%q) error:\n%s\nwant:\n%s", src, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
