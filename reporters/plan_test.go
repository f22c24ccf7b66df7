package reporters

import (
	"bytes"
	"errors"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/surgeload/surge/internal/capacity"
)

// launchDayInputs are the planners' worked example, with a queue that can
// drain its spike backlog.
func launchDayInputs() capacity.Inputs {
	return capacity.Inputs{
		DailyRequests: 100e6, PeakMultiplier: 5, PerServerRPS: 300, Headroom: 1.3,
		ReadFraction: 0.9, CacheHitRate: 0.9, ReplicaReadRPS: 2000, PrimaryWriteCeiling: 5000,
		QueueWorkers: 50, QueueJobTime: 20 * time.Millisecond, SpikeMultiplier: 5, SpikeHold: 2 * time.Minute,
		RegionRTT: 70 * time.Millisecond, CallsPerPage: 5,
	}
}

// planOf is the Plan of a plan of Surge's planner, as the coordinator
// prints it.
func planOf(p capacity.Plan) Plan {
	v := Plan{Notes: p.Notes}
	for _, s := range p.Steps {
		v.Steps = append(v.Steps, PlanStep{Label: s.Label, Working: s.Working, Value: s.Value, Unit: s.Unit})
	}
	return v
}

func TestWritePlanGolden(t *testing.T) {
	p, err := capacity.Compute(launchDayInputs())
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WritePlan(&b, planOf(p)); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan_launch_day.golden", b.Bytes())
	for _, want := range []string{"1,157 req/s", "5,787 req/s", "20 servers", "26 servers", "⌈20 × 1.3⌉ = ⌈26⌉"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("WritePlan(launch day) lacks %q:\n%s", want, b.String())
		}
	}

	// The ceilings: long workings wrap, the value column stays put.
	b.Reset()
	if err := WritePlan(&b, planOf(capacity.Ceilings(launchDayInputs()))); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan_ceilings.golden", b.Bytes())
	valueEnd := -1
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		if i := strings.Index(line, " req/s"); i >= 0 && !strings.Contains(line, "note:") {
			if end := utf8.RuneCountInString(line[:i]); valueEnd < 0 {
				valueEnd = end
			} else if end != valueEnd {
				t.Errorf("value column ends at %d in %q; want %d like the first row", end, line, valueEnd)
			}
		}
		if !strings.Contains(line, "note:") && utf8.RuneCountInString(line) > 2+len("multi-region")+2+planWorkingWidth+2+len("7,800 req/s") {
			t.Errorf("line %q is wider than the table", line)
		}
	}
}

func TestWritePlanNotesOnly(t *testing.T) {
	var b bytes.Buffer
	if err := WritePlan(&b, Plan{Notes: []string{"daily_requests not given"}}); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "  note: daily_requests not given\n"; got != want {
		t.Errorf("WritePlan(notes only) = %q; want %q", got, want)
	}
}

func TestWrap(t *testing.T) {
	tests := []struct {
		s     string
		width int
		want  []string
	}{
		{"short", 10, []string{"short"}},
		{"min(a 1 = 1, b 2 = 2, c 3 = 3)", 16, []string{"min(a 1 = 1,", "b 2 = 2,", "c 3 = 3)"}},
		{"a, bcd efg hij klm", 12, []string{"a, bcd efg", "hij klm"}}, // ", " too early: the last space
		{"abcdefgh, ijk lmnop", 16, []string{"abcdefgh,", "ijk lmnop"}},
		{"abcde; fgh ijk lmnop", 16, []string{"abcde;", "fgh ijk lmnop"}},
		{"aaaa bbbbbbb cc", 10, []string{"aaaa", "bbbbbbb", "cc"}}, // continuation lines leave room for the indent
		{"one two three", 8, []string{"one two", "three"}},
		{"unbreakable-word tail", 5, []string{"unbreakable-word", "tail"}},
		{"unbreakable-word", 5, []string{"unbreakable-word"}},
		{"⌈⌈⌈⌈ ⌉⌉⌉⌉", 6, []string{"⌈⌈⌈⌈", "⌉⌉⌉⌉"}},
	}
	for _, tt := range tests {
		if got := wrap(tt.s, tt.width); !slices.Equal(got, tt.want) {
			t.Errorf("wrap(%q, %d) = %q; want %q", tt.s, tt.width, got, tt.want)
		}
	}
}

// Wrapped lines fit (unless one word is longer), and joined with single
// spaces they give back the text.
func TestWrapFits(t *testing.T) {
	words := []string{"min(app", "26", "×", "300", "=", "7,800,", "replicas", "⌈520.8", "÷", "2,000⌉;", "a", "limited"}
	for width := 8; width <= 40; width++ {
		var parts []string
		for i := range 60 {
			parts = append(parts, words[(i*7+width)%len(words)])
		}
		text := strings.Join(parts, " ")
		lines := wrap(text, width)
		for i, l := range lines {
			limit := width
			if i > 0 {
				limit -= 2
			}
			if n := utf8.RuneCountInString(l); n > limit && strings.Contains(l, " ") {
				t.Errorf("wrap(…, %d) line %d %q has %d runes; want ≤ %d", width, i, l, n, limit)
			}
		}
		if got := strings.Join(lines, " "); got != text {
			t.Errorf("wrap(…, %d) joined = %q; want %q", width, got, text)
		}
	}
}

// launchDayCurve is a diurnal day (trough at 04:00, peak 5× the average
// of 1,157 req/s at 20:00) played in 10 minutes, one sample a second,
// with two 5× spikes at 40% and 75% (30 s ramps, 60 s hold).
func launchDayCurve() ([]float64, time.Duration) {
	const n = 600
	avg := 100e6 / 86400.0
	samples := make([]float64, n)
	for i := range samples {
		hour := 24 * (float64(i) + 0.5) / n
		g := (1 + math.Cos(2*math.Pi*(hour-20)/24)) / 2 // 1 at 20:00, 0 at 08:00
		rate := avg * (0.2 + 4.8*math.Pow(g, 6))
		for _, at := range []float64{0.40, 0.75} {
			start := at * n
			x := float64(i) - start
			switch {
			case x >= 0 && x < 30:
				rate *= 1 + 4*x/30
			case x >= 30 && x < 90:
				rate *= 5
			case x >= 90 && x < 120:
				rate *= 1 + 4*(120-x)/30
			}
		}
		samples[i] = rate
	}
	return samples, 10 * time.Minute
}

func TestWriteCurveGolden(t *testing.T) {
	samples, d := launchDayCurve()
	tests := []struct {
		name          string
		samples       []float64
		duration      time.Duration
		width, height int
	}{
		{"curve_launch_day.golden", samples, d, 72, 12},
		{"curve_constant.golden", []float64{2000, 2000, 2000}, 5 * time.Second, 40, 4},
		{"curve_steps.golden", []float64{100, 100, 500, 500, 1000, 1000, 0, 1}, 4 * time.Minute, 32, 8},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := WriteCurve(&b, tt.samples, tt.duration, tt.width, tt.height); err != nil {
			t.Fatalf("WriteCurve(%s) = %v", tt.name, err)
		}
		golden(t, tt.name, b.Bytes())
		lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
		if len(lines) != tt.height+3 {
			t.Errorf("WriteCurve(%s) wrote %d lines; want header + %d rows + axis + labels", tt.name, len(lines), tt.height)
		}
	}
}

// The peak reaches the top row, every positive sample shows, and a zero
// rate leaves its column empty.
func TestWriteCurveShape(t *testing.T) {
	samples := []float64{0, 1, 0, 0, 0, 0, 0, 1200, 0, 0}
	var b bytes.Buffer
	if err := WriteCurve(&b, samples, 10*time.Second, 10, 3); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"req/s (peak 1,200)\n" +
		"1,200 ┤       █\n" +
		"  800 ┤       █\n" +
		"  400 ┤ ▁     █\n" +
		"    0 └──────────\n" +
		"       0   5s 10s\n"
	if b.String() != want {
		t.Errorf("WriteCurve = \n%s\nwant\n%s", b.String(), want)
	}
}

func TestWriteCurveRejects(t *testing.T) {
	tests := []struct {
		samples       []float64
		duration      time.Duration
		width, height int
		want          string
	}{
		{nil, time.Second, 10, 4, "no samples"},
		{[]float64{1, math.NaN()}, time.Second, 10, 4, "sample 1 is NaN"},
		{[]float64{-1}, time.Second, 10, 4, "sample 0 is -1"},
		{[]float64{math.Inf(1)}, time.Second, 10, 4, "sample 0 is +Inf"},
		{[]float64{1}, 0, 10, 4, "duration 0s"},
		{[]float64{1}, time.Second, 7, 4, "width 7"},
		{[]float64{1}, time.Second, 1001, 4, "width 1001"},
		{[]float64{1}, time.Second, 10, 1, "height 1"},
		{[]float64{1}, time.Second, 10, 201, "height 201"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		err := WriteCurve(&b, tt.samples, tt.duration, tt.width, tt.height)
		if !errors.Is(err, ErrPreview) || !strings.Contains(err.Error(), tt.want) || b.Len() != 0 {
			t.Errorf("WriteCurve(%v, %v, %d, %d) = %v, wrote %d bytes; want ErrPreview containing %q and nothing written",
				tt.samples, tt.duration, tt.width, tt.height, err, b.Len(), tt.want)
		}
	}
}

func TestResample(t *testing.T) {
	tests := []struct {
		samples []float64
		width   int
		want    []float64
	}{
		{[]float64{1, 5, 2, 2, 0, 9, 3, 3}, 4, []float64{5, 2, 9, 3}}, // the max of each pair
		{[]float64{1, 2}, 4, []float64{1, 1, 2, 2}},                   // the sample under each column's middle
		{[]float64{1, 2, 3}, 3, []float64{1, 2, 3}},
		{[]float64{7}, 5, []float64{7, 7, 7, 7, 7}},
	}
	for _, tt := range tests {
		if got := resample(tt.samples, tt.width); !slices.Equal(got, tt.want) {
			t.Errorf("resample(%v, %d) = %v; want %v", tt.samples, tt.width, got, tt.want)
		}
	}
}

func TestChartScales(t *testing.T) {
	for _, tt := range []struct{ x, want float64 }{
		{0, 1}, {1, 1}, {1.1, 1.2}, {5787.04, 6000}, {28935.2, 30000}, {2000, 2000}, {2001, 2500}, {0.07, 0.08}, {9.1, 10},
	} {
		if got := niceCeil(tt.x); math.Abs(got-tt.want) > 1e-9*tt.want {
			t.Errorf("niceCeil(%v) = %v; want %v", tt.x, got, tt.want)
		}
	}
	for _, tt := range []struct{ height, want int }{{2, 1}, {3, 1}, {4, 1}, {8, 2}, {10, 2}, {12, 3}, {16, 4}, {7, 2}, {20, 4}} {
		if got := labelStep(tt.height); got != tt.want {
			t.Errorf("labelStep(%d) = %d; want %d", tt.height, got, tt.want)
		}
	}
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0"}, {250 * time.Millisecond, "250ms"}, {2500 * time.Millisecond, "2.5s"}, {150 * time.Second, "2m30s"},
		{10 * time.Minute, "10m"}, {6 * time.Hour, "6h"}, {90 * time.Minute, "1h30m"}, {1750 * time.Microsecond, "2ms"},
	} {
		if got := shortDuration(tt.d); got != tt.want {
			t.Errorf("shortDuration(%v) = %q; want %q", tt.d, got, tt.want)
		}
	}
}

func TestWriteSharesGolden(t *testing.T) {
	var b bytes.Buffer
	shares := []ShareRow{
		{Agent: "agent-1", Fraction: "1/2", Arrivals: 289_352},
		{Agent: "agent-2", Fraction: "1/3", Arrivals: 192_901},
		{Agent: "agent-three", Fraction: "1/6", Arrivals: 96_451},
	}
	if err := WriteShares(&b, shares); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan_shares.golden", b.Bytes())
	if !strings.Contains(b.String(), "total") || !strings.Contains(b.String(), "578,704") {
		t.Errorf("WriteShares lacks the total 578,704:\n%s", b.String())
	}

	for _, bad := range [][]ShareRow{nil, {{Arrivals: math.MaxUint64}, {Arrivals: 1}}} {
		b.Reset()
		if err := WriteShares(&b, bad); !errors.Is(err, ErrPreview) || b.Len() != 0 {
			t.Errorf("WriteShares(%v) = %v, wrote %q; want ErrPreview and nothing", bad, err, b.String())
		}
	}
}

func TestGroupDigits(t *testing.T) {
	for _, tt := range []struct {
		n    uint64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {578704, "578,704"}, {math.MaxUint64, "18,446,744,073,709,551,615"}} {
		if got := groupDigits(tt.n); got != tt.want {
			t.Errorf("groupDigits(%d) = %q; want %q", tt.n, got, tt.want)
		}
	}
}

// The worked example of the planners, as `coordinator plan` shows it.
func ExampleWritePlan() {
	avg := 100e6 / 86400.0
	p := Plan{Steps: []PlanStep{
		{"average", "100,000,000 ÷ 86,400 s", avg, "req/s"},
		{"peak", "1,157.4 × 5", avg * 5, "req/s"},
		{"app servers", "⌈5,787 ÷ 300⌉ = ⌈19.29⌉", 20, "servers"},
		{"with headroom", "⌈20 × 1.3⌉ = ⌈26⌉", 26, "servers"},
		{"reads", "5,787 × 100%", avg * 5, "req/s"},
		{"writes", "5,787 − 5,787", 0, "req/s"},
		{"db reads after cache", "5,787 × (1 − 90%)", avg * 5 * (1 - 0.9), "req/s"},
	}}
	if err := WritePlan(os.Stdout, p); err != nil {
		panic(err)
	}
	// Output:
	//   step                  working                  value
	//   average               100,000,000 ÷ 86,400 s   1,157 req/s
	//   peak                  1,157.4 × 5              5,787 req/s
	//   app servers           ⌈5,787 ÷ 300⌉ = ⌈19.29⌉     20 servers
	//   with headroom         ⌈20 × 1.3⌉ = ⌈26⌉           26 servers
	//   reads                 5,787 × 100%             5,787 req/s
	//   writes                5,787 − 5,787                0 req/s
	//   db reads after cache  5,787 × (1 − 90%)          579 req/s
}

// A 1,000 req/s step up to 3,000 req/s halfway through a minute.
func ExampleWriteCurve() {
	if err := WriteCurve(os.Stdout, []float64{1000, 3000}, time.Minute, 20, 4); err != nil {
		panic(err)
	}
	// Output:
	// req/s (peak 3,000)
	// 3,000 ┤          ██████████
	// 2,250 ┤          ██████████
	// 1,500 ┤▃▃▃▃▃▃▃▃▃▃██████████
	//   750 ┤████████████████████
	//     0 └────────────────────
	//        0   15s  30s  45s 1m
}

func ExampleWriteShares() {
	err := WriteShares(os.Stdout, []ShareRow{
		{Agent: "agent-1", Fraction: "1/3", Arrivals: 3334},
		{Agent: "agent-2", Fraction: "1/3", Arrivals: 3333},
		{Agent: "agent-3", Fraction: "1/3", Arrivals: 3333},
	})
	if err != nil {
		panic(err)
	}
	// Output:
	//   agent    share  arrivals
	//   agent-1  1/3       3,334
	//   agent-2  1/3       3,333
	//   agent-3  1/3       3,333
	//   total             10,000
}
