package coordinator

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/surgeload/surge/reporters"
	"github.com/surgeload/surge/scenario"
	"github.com/surgeload/surge/targets/resource"
)

// playSearch drives a searcher against a target that holds every rate up
// to ceiling, and returns the rates tried and the outcome.
func playSearch(cfg scenario.Search, ceiling float64) ([]float64, string, float64, float64) {
	s := &searcher{cfg: cfg}
	var rates []float64
	for range 200 {
		rate, outcome, ok := s.next()
		if !ok {
			return rates, outcome, s.lo, s.hi
		}
		rates = append(rates, rate)
		s.record(rate, rate <= ceiling)
	}
	panic("search did not end")
}

func TestSearcher(t *testing.T) {
	binary := scenario.Search{Method: scenario.SearchBinary, Start: 100, Max: 10_000, Resolution: 0.05, MaxSteps: 20}
	step := scenario.Search{Method: scenario.SearchStep, Start: 100, Step: 100, Max: 1000, MaxSteps: 20}
	tight := binary
	tight.MaxSteps = 4
	tests := []struct {
		name     string
		cfg      scenario.Search
		ceiling  float64
		rates    []float64
		outcome  string
		lo, hi   float64
		loWithin float64 // lo must be within this fraction below the ceiling
	}{
		{name: "binary brackets then bisects", cfg: binary, ceiling: 730,
			rates:   []float64{100, 200, 400, 800, 600, 700, 750, 725},
			outcome: reporters.SearchFound, lo: 725, hi: 750},
		{name: "binary below start", cfg: binary, ceiling: 50,
			rates: []float64{100}, outcome: reporters.SearchBelowStart, lo: 0, hi: 100},
		{name: "binary not reached stops at max", cfg: binary, ceiling: 1e9,
			rates:   []float64{100, 200, 400, 800, 1600, 3200, 6400, 10_000},
			outcome: reporters.SearchNotReached, lo: 10_000},
		{name: "binary step budget", cfg: tight, ceiling: 730,
			rates: []float64{100, 200, 400, 800}, outcome: reporters.SearchMaxSteps, lo: 400, hi: 800},
		{name: "step climbs to the first break", cfg: step, ceiling: 730,
			rates:   []float64{100, 200, 300, 400, 500, 600, 700, 800},
			outcome: reporters.SearchFound, lo: 700, hi: 800},
		{name: "step clamps to max", cfg: scenario.Search{Method: scenario.SearchStep, Start: 100, Step: 300, Max: 500, MaxSteps: 20}, ceiling: 1e9,
			rates: []float64{100, 400, 500}, outcome: reporters.SearchNotReached, lo: 500},
		{name: "exact ceiling holds", cfg: binary, ceiling: 400,
			rates:   []float64{100, 200, 400, 800, 600, 500, 450, 425, 413},
			outcome: reporters.SearchFound, lo: 400, hi: 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rates, outcome, lo, hi := playSearch(tt.cfg, tt.ceiling)
			if !slices.Equal(rates, tt.rates) || outcome != tt.outcome || lo != tt.lo || hi != tt.hi {
				t.Errorf("rates %v outcome %s lo %g hi %g; want %v %s %g %g", rates, outcome, lo, hi, tt.rates, tt.outcome, tt.lo, tt.hi)
			}
			if outcome == reporters.SearchFound && tt.cfg.Method == scenario.SearchBinary && (hi-lo) > float64(tt.cfg.Resolution)*lo {
				t.Errorf("bracket [%g, %g] wider than the resolution %g", lo, hi, tt.cfg.Resolution)
			}
		})
	}
}

// TestSearcherAlwaysEnds: whatever the ceiling, a search ends within its
// step budget and never reports a sustained rate that broke.
func TestSearcherAlwaysEnds(t *testing.T) {
	for _, method := range []string{scenario.SearchBinary, scenario.SearchStep} {
		for _, c := range []float64{0.5, 1, 3, 9.99, 10, 77, 1234.5, 9999, 1e6} {
			cfg := scenario.Search{Method: method, Start: 1, Step: 7, Max: 10_000, Resolution: 0.01, MaxSteps: 30}
			rates, _, lo, hi := playSearch(cfg, c)
			if len(rates) > cfg.MaxSteps {
				t.Errorf("%s ceiling %g: %d steps, budget %d", method, c, len(rates), cfg.MaxSteps)
			}
			if lo > c || (hi != 0 && hi <= c) {
				t.Errorf("%s ceiling %g: lo %g hi %g", method, c, lo, hi)
			}
		}
	}
}

// TestCapacitySearchFindsTheCeiling: a binary search against an app of 2
// slots × 10 ms (200 req/s, 503 beyond a short queue) finds a sustained
// rate near 200/s, names the app as the bottleneck, and its report
// balances step by step and in all.
func TestCapacitySearchFindsTheCeiling(t *testing.T) {
	if testing.Short() {
		t.Skip("plays a capacity search")
	}
	reg := prometheus.NewRegistry()
	app := searchApp(t, reg)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", app)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	sc := mustParse(t, `name: search
stages:
  - {name: app, bundled: echo, mode: capacity}
search: {method: binary, start: 100/s, max: 800/s, hold: 2s, cooldown: 300ms, resolution: 10%, slo: ["error_rate < 1%", "p99 < 200ms"]}
requests: [{name: get, path: /x}]
`)
	cfg := searchConfig(t, 1)
	cfg.StartTarget = func(string) (string, func() error, error) { return srv.URL, func() error { return nil }, nil }
	rep := runSearch(t, cfg, sc)
	st := rep.Stages[0]
	s := st.Search
	if s == nil || st.Ceiling == nil {
		t.Fatalf("stage has no search or ceiling: %+v", st)
	}
	t.Logf("outcome %s sustained %g broke %g; steps:", s.Outcome, s.SustainedRPS, s.BrokeRPS)
	for _, row := range s.Steps {
		t.Logf("  %g/s pass %v goodput %.1f p99 %.1fms errors %.2f%% %v %s %.2f", row.RateRPS, row.Pass, row.GoodputRPS, row.P99MS, 100*row.ErrorRate, row.Broken, row.Bottleneck, row.BottleneckUtilisation)
	}
	if s.Outcome != reporters.SearchFound || s.SustainedRPS < 120 || s.SustainedRPS > 230 || s.BrokeRPS <= s.SustainedRPS {
		t.Errorf("outcome %s, sustained %g, broke %g; want found, sustained in [120, 230] (capacity 200/s)", s.Outcome, s.SustainedRPS, s.BrokeRPS)
	}
	if st.Ceiling.MeasuredRPS != s.SustainedRPS || !st.Ceiling.Reached || st.Ceiling.Method != reporters.CeilingSearch {
		t.Errorf("ceiling %+v does not carry the search's result", st.Ceiling)
	}
	if st.Bottleneck != "app" {
		t.Errorf("bottleneck %q; want app", st.Bottleneck)
	}
	var intended uint64
	for i, row := range s.Steps {
		intended += row.Intended
		if want := uint64(math.Round(row.RateRPS * 2)); row.Intended != want {
			t.Errorf("step %d at %g/s intended %d; want %d", i, row.RateRPS, row.Intended, want)
		}
		if i > 0 && row.StartS <= s.Steps[i-1].StartS+2 {
			t.Errorf("step %d starts at %.2fs, before the previous one (%.2fs) ended", i, row.StartS, s.Steps[i-1].StartS)
		}
	}
	if intended != st.Intended || len(st.Intervals) == 0 {
		t.Errorf("stage intended %d, steps %d; %d intervals", st.Intended, intended, len(st.Intervals))
	}
}

// TestCapacitySearchAnyURL: a step search against a plain URL stage (no
// bundled target, no /metrics) climbs until the SLO breaks and stops
// there; the same app of 200 req/s holds 100/s and breaks at 300/s.
func TestCapacitySearchAnyURL(t *testing.T) {
	if testing.Short() {
		t.Skip("plays a capacity search")
	}
	srv := httptest.NewServer(searchApp(t, prometheus.NewRegistry()))
	defer srv.Close()
	// The SLO is the app's errors (503 beyond its queue: 300/s is 1.5× its
	// 200/s), which a busy machine's latency cannot move.
	sc := mustParse(t, `name: search-url
stages:
  - url: `+srv.URL+`
    mode: capacity
    search: {method: step, start: 100/s, step: 200/s, max: 900/s, hold: 2s, cooldown: 300ms, slo: ["error_rate < 1%"]}
requests: [{name: get, path: /x}]
`)
	cfg := searchConfig(t, 2)
	rep := runSearch(t, cfg, sc)
	s := rep.Stages[0].Search
	var rates []float64
	for _, row := range s.Steps {
		rates = append(rates, row.RateRPS)
	}
	if !slices.Equal(rates, []float64{100, 300}) || s.Outcome != reporters.SearchFound || s.SustainedRPS != 100 || s.BrokeRPS != 300 ||
		!s.Steps[0].Pass || s.Steps[1].Pass || len(s.Steps[1].Broken) == 0 {
		t.Errorf("search %+v; want 100/s held and 300/s broke", s)
	}
	if rep.Stages[0].Bottleneck != "" || rep.Stages[0].Ceiling.PredictedRPS != 0 {
		t.Errorf("a URL stage has no bottleneck or prediction: %+v", rep.Stages[0])
	}

	// A generator that cannot keep time (here: any send lag is too much)
	// judges nothing: the search stops at its first step and claims no
	// sustained rate.
	cfg.MaxSendLag = time.Nanosecond
	rep = runSearch(t, cfg, sc)
	s = rep.Stages[0].Search
	if len(s.Steps) != 1 || s.Outcome != reporters.SearchGeneratorLimited || s.SustainedRPS != 0 || s.Steps[0].Pass ||
		!s.Steps[0].GeneratorLimited || rep.Stages[0].Ceiling.Reached {
		t.Errorf("generator-limited search %+v, ceiling %+v; want one step, outcome generator_limited, nothing sustained", s, rep.Stages[0].Ceiling)
	}
}

// searchApp is an app of 2 slots × 10 ms (200 req/s) that sheds with 503
// beyond a queue of 20.
func searchApp(t *testing.T, reg *prometheus.Registry) http.Handler {
	t.Helper()
	app, err := resource.NewAppServer("app", resource.AppServerConfig{
		Slots: 2, QueueLimit: 20, Service: resource.Constant(10 * time.Millisecond), Seed: 1,
		Next: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }),
	}, reg)
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// searchConfig is an embedded run whose searches judge the target, not
// how busy the test machine is: send lag up to 1 s is accepted.
func searchConfig(t *testing.T, agents int) Config {
	cfg := testConfig(agents)
	cfg.Log = newTestLog(t)
	cfg.MaxSendLag = time.Second
	return cfg
}

// runSearch runs sc (bounded to 2 minutes) and checks its report balances.
func runSearch(t *testing.T, cfg Config, sc *scenario.Scenario) *reporters.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg, sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Check(); err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestAgentOwnLimits: an agent refuses an assignment over its own
// --max-rate or --max-duration, whatever the coordinator asks, and the
// run fails before T0 saying why.
func TestAgentOwnLimits(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	for _, tt := range []struct {
		name string
		set  func(*Config)
		want string
	}{
		{"rate", func(c *Config) { c.Agent.MaxRate = 60 }, "share peaks at 100.0 req/s, over its --max-rate 60 req/s"},
		{"duration", func(c *Config) { c.Agent.MaxDuration = time.Second }, "the schedule lasts 2s, over this agent's --max-duration 1s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(1)
			tt.set(&cfg)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := Run(ctx, cfg, mustScenario(t, srv.URL, "100", "2s"))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run error %v; want one saying %q", err, tt.want)
			}
		})
	}
}
