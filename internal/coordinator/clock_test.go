package coordinator

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/agent"
)

// skewed is a fleet of agents whose wall clocks are off by skews.
func skewed(t *testing.T, cfg *Config, skews ...time.Duration) {
	var acs []agent.Config
	for k, skew := range skews {
		ac := fleetAgent(fmt.Sprintf("skewed-%d", k))
		ac.ClockSkew = skew
		acs = append(acs, ac)
	}
	startFleet(t, cfg, acs...)
}

// TestClockOffset: each agent's offset is estimated over the stream and
// reported with its error bound; T0 is mapped into each agent's clock, so
// agents 400 ms apart still play every arrival in its own interval; an
// agent beyond the tolerance is refused, naming its offset.
func TestClockOffset(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()

	cfg := testConfig(0)
	cfg.Log = newTestLog(t)
	skewed(t, &cfg, 400*time.Millisecond, -250*time.Millisecond)
	rep, err := Run(context.Background(), cfg, mustScenario(t, srv.URL, "200", "2s"))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := map[string]float64{"skewed-0": 400, "skewed-1": -250}
	for _, a := range rep.Agents {
		w := want[a.Name]
		// The estimate is within its own error bound of the truth
		// (plus a little for the scheduling noise of a busy machine).
		if a.ClockErrorMS <= 0 || math.Abs(a.ClockOffsetMS-w) > a.ClockErrorMS+5 {
			t.Errorf("agent %s: offset %.3f ± %.3f ms; want %v ms within the bound", a.Name, a.ClockOffsetMS, a.ClockErrorMS, w)
		}
	}
	st := rep.Stages[0]
	if st.Issued != 400 || st.Lost != 0 || uint64(hits.Load()) != st.Issued {
		t.Errorf("issued %d lost %d target %d; want all 400 played", st.Issued, st.Lost, hits.Load())
	}
	// Every interval holds the arrivals the schedule puts there: no agent
	// fired 400 ms early or 250 ms late. The schedule's 2 s are 8
	// intervals; later ones (the drain, long on a busy machine) hold none.
	if len(st.Intervals) < 8 {
		t.Fatalf("%d intervals; want the schedule's 8 at least", len(st.Intervals))
	}
	for k, iv := range st.Intervals {
		want := uint64(50)
		if k >= 8 {
			want = 0
		}
		if iv.Intended != want {
			t.Errorf("interval %d holds %d arrivals; want %d", k, iv.Intended, want)
		}
	}

	cfg = testConfig(0)
	cfg.Log = newTestLog(t)
	cfg.Wait = 5 * time.Second
	skewed(t, &cfg, 3*time.Second)
	_, err = Run(context.Background(), cfg, mustScenario(t, srv.URL, "10", "1s"))
	if !errors.Is(err, ErrNoAgents) || !strings.Contains(err.Error(), "skewed-0: its clock is off by") || !strings.Contains(err.Error(), "--max-clock-offset") {
		t.Errorf("Run with a 3s-off agent = %v; want it refused for its clock", err)
	}
}
