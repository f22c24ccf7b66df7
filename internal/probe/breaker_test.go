package probe

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/surgeload/surge/reporters"
	"github.com/surgeload/surge/targets"
)

// breakerPage is a /metrics page with a breaker in state, having entered
// each state the given number of times, and an app.
func breakerPage(state, opened, halfOpened, closed int) string {
	return fmt.Sprintf(`# TYPE surge_target_breaker_state gauge
surge_target_breaker_state{component="breaker-db"} %d
# TYPE surge_target_breaker_transitions_total counter
surge_target_breaker_transitions_total{component="breaker-db",to="closed"} %d
surge_target_breaker_transitions_total{component="breaker-db",to="half-open"} %d
surge_target_breaker_transitions_total{component="breaker-db",to="open"} %d
# TYPE surge_target_utilisation gauge
surge_target_utilisation{component="app"} 0.5
`, state, closed, halfOpened, opened)
}

func TestBreakerTimelines(t *testing.T) {
	from := time.Unix(1000, 0)
	var samples []targetSample
	// One sample a second: closed, open, open, half-open (with an open
	// and a half-open between the scrapes: 2 more transitions that the
	// states miss), closed.
	for i, p := range []string{
		breakerPage(0, 1, 1, 1), // transitions before the stage do not count
		breakerPage(1, 2, 1, 1),
		breakerPage(1, 2, 1, 1),
		breakerPage(2, 3, 3, 1),
		breakerPage(0, 3, 3, 2),
	} {
		s, err := parseTargetMetrics(strings.NewReader(p))
		if err != nil {
			t.Fatal(err)
		}
		s.at = from.Add(time.Duration(i)*time.Second + 500*time.Millisecond)
		samples = append(samples, s)
	}
	loads := componentLoads(samples)
	breakerTimelines(loads, samples, from)
	var got *reporters.BreakerTimeline
	for _, l := range loads {
		switch {
		case l.Component == "breaker-db":
			got = l.Breaker
		case l.Breaker != nil:
			t.Errorf("%s has a breaker timeline %+v; want none (not a breaker)", l.Component, l.Breaker)
		}
	}
	want := &reporters.BreakerTimeline{
		States:      []reporters.BreakerState{{AtS: 0.5, State: "closed"}, {AtS: 1.5, State: "open"}, {AtS: 3.5, State: "half-open"}, {AtS: 4.5, State: "closed"}},
		Transitions: map[string]uint64{"open": 2, "half-open": 2, "closed": 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("breaker-db timeline %+v; want %+v", got, want)
	}

	// One sample: its state, and every transition since the breaker began.
	breakerTimelines(loads, samples[1:2], from)
	for _, l := range loads {
		if l.Component != "breaker-db" {
			continue
		}
		want := &reporters.BreakerTimeline{States: []reporters.BreakerState{{AtS: 1.5, State: "open"}},
			Transitions: map[string]uint64{"open": 2, "half-open": 1, "closed": 1}}
		if !reflect.DeepEqual(l.Breaker, want) {
			t.Errorf("one sample: timeline %+v; want %+v", l.Breaker, want)
		}
	}

	// A value that is no state is left out.
	s, err := parseTargetMetrics(strings.NewReader(breakerPage(7, 0, 0, 0)))
	if err != nil {
		t.Fatal(err)
	}
	loads = componentLoads([]targetSample{s})
	breakerTimelines(loads, []targetSample{s}, from)
	for _, l := range loads {
		if l.Breaker != nil {
			t.Errorf("state 7: %s timeline %+v; want none", l.Component, l.Breaker)
		}
	}
}

// TestProbeBreaker probes a split topology whose breaker opens while the
// probe runs (its db is slower than the breaker's timeout, and it opens
// for an hour, so it stays open whatever the machine's load): the reading
// has the breaker's component with closed, then open, and one transition.
func TestProbeBreaker(t *testing.T) {
	cfg, err := targets.DecodeConfig("split", strings.NewReader(`{"db": {"read": "1s", "write": "1s"},
		"breaker": {"failures": 2, "open_for": "1h", "timeout": "10ms"}}`))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := targets.StartTopology("split", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	from := time.Now()
	p := Start(srv.URL, from, 10*time.Millisecond)
	scraped := func() int {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.samples)
	}
	for deadline := time.Now().Add(30 * time.Second); scraped() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no scrape in 30 s")
		}
	}
	client := &http.Client{Timeout: 30 * time.Second}
	for i := range 3 {
		resp, err := client.Get(srv.URL + "/items/1")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := i == 2; (resp.Header.Get("X-Surge-Breaker") == "open") != want {
			t.Fatalf("request %d: status %d, X-Surge-Breaker %q; want open only on the third", i, resp.StatusCode, resp.Header.Get("X-Surge-Breaker"))
		}
	}
	got, err := p.Stop() // takes a last scrape
	if err != nil {
		t.Fatal(err)
	}
	var tl *reporters.BreakerTimeline
	for _, l := range got.Loads {
		if l.Component == "breaker-db" {
			tl = l.Breaker
		}
	}
	if tl == nil || len(tl.States) != 2 || tl.States[0].State != "closed" || tl.States[1].State != "open" ||
		tl.States[0].AtS < 0 || tl.States[1].AtS < tl.States[0].AtS || !reflect.DeepEqual(tl.Transitions, map[string]uint64{"open": 1}) {
		t.Errorf("breaker-db timeline %+v; want closed then open, and one transition to open", tl)
	}
}
