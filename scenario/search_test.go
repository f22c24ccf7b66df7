package scenario

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSearchParse(t *testing.T) {
	src := `name: s
stages:
  - {url: "http://127.0.0.1:1", mode: capacity}
  - url: http://127.0.0.1:2
    mode: capacity
    search: {method: step, start: 50/s, step: 25/s, max: 400/s, hold: 10s, warmup: 2s, slo: ["p99{request=a} < 100ms"]}
  - url: http://127.0.0.1:3
requests: [{name: a}]
load: {constant: {rate: 1, duration: 1s}}
search: {start: 10/s, resolution: 2%}
safety: {max_rate: 1k/s}
`
	s, err := Parse("x.yaml", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.StageMode(0) != ModeCapacity || s.StageMode(2) != ModeRun {
		t.Errorf("modes %q %q", s.StageMode(0), s.StageMode(2))
	}
	top := s.StageSearch(0)
	if top.Method != SearchBinary || top.Start != 10 || top.Max != 1000 || top.Step != 10 || top.Resolution != 0.02 ||
		top.Hold.Std() != DefaultSearchHold || top.Cooldown.Std() != DefaultSearchCooldown || top.MaxSteps != DefaultSearchMaxSteps ||
		!slices.Equal(top.SLO, DefaultSLO) || len(top.Parsed) != 2 || top.Parsed[0].Metric != "p99" || top.Arrival != ArrivalUniform {
		t.Errorf("top-level search with defaults = %+v", top)
	}
	own := s.StageSearch(1)
	if own.Method != SearchStep || own.Start != 50 || own.Step != 25 || own.Max != 400 || own.Hold.Std() != 10*time.Second ||
		own.Warmup.Std() != 2*time.Second || len(own.Parsed) != 1 || own.Parsed[0].Selectors["request"] != "a" {
		t.Errorf("stage search = %+v", own)
	}
}

func TestSearchParseBad(t *testing.T) {
	head := "name: s\nrequests: [{name: a}]\nload: {constant: {rate: 1, duration: 1s}}\nsafety: {max_rate: 1k/s, max_duration: 10m}\n"
	tests := []struct {
		name, stages string
		want         []string
	}{
		{"unknown mode", "stages: [{url: \"http://127.0.0.1:1\", mode: soak}]\n",
			[]string{`x.yaml:5:44: unknown mode "soak" (want run or capacity)`}},
		{"capacity without search", "stages: [{url: \"http://127.0.0.1:1\", mode: capacity}]\n",
			[]string{"x.yaml:5:44: a capacity stage needs a search block with at least start (here or at the top of the scenario)"}},
		{"search without start", "stages:\n  - {url: \"http://127.0.0.1:1\", mode: capacity, search: {max: 10/s}}\n",
			[]string{"x.yaml:6:57: start is required"}},
		{"bad values", "stages:\n  - url: http://127.0.0.1:1\n    mode: capacity\n    search: {method: linear, start: 100/s, max: 50/s, hold: 0s, warmup: -1s, resolution: 100%, max_steps: 1000, arrival: bursty}\n", []string{
			`x.yaml:8:22: unknown method "linear" (want binary or step)`,
			"x.yaml:8:49: max 50/s must be above start 100/s",
			"x.yaml:8:61: hold must be > 0",
			`x.yaml:8:73: invalid duration "-1s": must not be negative`,
			"x.yaml:8:90: resolution must be above 0% and below 100% (got 100%)",
			"x.yaml:8:107: max_steps must be from 1 to 100 (got 1000)",
			`x.yaml:8:122: unknown arrival "bursty" (want uniform or poisson)`}},
		{"over the safety caps", "stages:\n  - url: http://127.0.0.1:1\n    mode: capacity\n    search: {start: 10/s, max: 5k/s, hold: 1m}\n", []string{
			"x.yaml:8:32: max 5000/s is over safety.max_rate 1000/s",
			"x.yaml:8:44: the search may play for 12m (12 steps × hold 1m), over safety.max_duration 10m"}},
		{"warmup not shorter than hold", "stages:\n  - url: http://127.0.0.1:1\n    mode: capacity\n    search: {start: 10/s, hold: 5s, warmup: 5s}\n",
			[]string{"x.yaml:8:45: warmup 5s must be shorter than hold 5s: nothing would be judged"}},
		{"bad SLO", "stages:\n  - url: http://127.0.0.1:1\n    mode: capacity\n    search: {start: 10/s, slo: [\"p99 <\", \"p99[5s] < 1s\", \"lost == 0\", \"p99{stage=x} < 1s\", \"p99{request=zz} < 1s\", \"\"]}\n", []string{
			"x.yaml:8:39: invalid SLO expression: missing value after <",
			"x.yaml:8:42: an SLO expression takes no window: each step is judged as a whole (after warmup)",
			"x.yaml:8:58: lost cannot be judged per step (a lost agent fails the run)",
			"x.yaml:8:82: an SLO expression takes no stage selector: it is the search's own stage",
			`x.yaml:8:105: unknown request "zz" in SLO expression (requests: "a")`,
			"x.yaml:8:116: SLO expression must not be empty (want e.g. p99 < 250ms)"}},
		{"phase SLO", "stages:\n  - url: http://127.0.0.1:1\n    mode: capacity\n    search: {start: 10/s, slo: [\"ttfb p99 < 1s\"]}\n", []string{
			"x.yaml:8:33: ttfb.p99 cannot be judged per step: phases are kept for a whole stage, not per interval"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(head+tt.stages), Options{})
			if err == nil {
				t.Fatal("no error")
			}
			got := strings.Split(err.Error(), "\n")
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", err, strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestSearchWarnings: a search block that nothing uses, and a load a
// capacity stage does not play, are warnings.
func TestSearchWarnings(t *testing.T) {
	src := `name: s
stages:
  - url: http://127.0.0.1:1
    search: {start: 1/s}
  - {url: "http://127.0.0.1:2", mode: capacity, load: {constant: {rate: 1, duration: 1s}}}
requests: [{name: a}]
load: {constant: {rate: 1, duration: 1s}}
search: {start: 5/s}
`
	var warns []string
	if _, err := Parse("x.yaml", []byte(src), Options{Warn: func(e *Error) { warns = append(warns, e.Error()) }}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"x.yaml:4:13: search has no effect without mode: capacity",
		"x.yaml:5:55: load is not used by a capacity stage: the search sets the rates",
	}
	if !slices.Equal(warns, want) {
		t.Errorf("warnings\n%s\nwant\n%s", strings.Join(warns, "\n"), strings.Join(want, "\n"))
	}
}
