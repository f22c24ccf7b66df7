package coordinator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/surgeload/surge/scenario"
)

// TestAgentLossAbort: under on_agent_loss: abort, losing an agent stops
// the stage and the run: nothing is taken over, later stages are not
// played, the unplayed arrivals are lost and the report balances.
func TestAgentLossAbort(t *testing.T) {
	var hits atomic.Int64
	var f *fleet
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 100 {
			go f.agent(0).Close()
		}
	}))
	defer srv.Close()
	src := fmt.Sprintf(`name: abort
stages:
  - {name: first, url: %[1]s}
  - {name: second, url: %[1]s}
requests:
  - {name: a, method: GET, path: /a}
load:
  constant: {rate: 100, duration: 3s}
safety: {on_agent_loss: abort}
`, srv.URL)
	sc, err := scenario.Parse("abort.yaml", []byte(src), scenario.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(0)
	f = startFleet(t, &cfg, fleetAgent("fleet-0"), fleetAgent("fleet-1"))
	rep, err := Run(context.Background(), cfg, sc)
	if !errors.Is(err, ErrAgentLost) || rep == nil {
		t.Fatalf("Run = %v; want ErrAgentLost with a report", err)
	}
	if err := rep.Check(); err != nil {
		t.Fatal(err)
	}
	if len(rep.Stages) != 1 {
		t.Fatalf("%d stages played; want the run to stop after the first", len(rep.Stages))
	}
	st := rep.Stages[0]
	if !strings.Contains(st.Stopped, "on_agent_loss: abort") || len(st.Gaps) != 1 || len(st.Gaps[0].TakenBy) != 0 {
		t.Errorf("stopped %q, gaps %+v; want stopped by the abort policy, nothing taken over", st.Stopped, st.Gaps)
	}
	if st.Lost == 0 || st.Issued+st.Dropped+st.Lost != 300 || uint64(hits.Load()) != st.Issued {
		t.Errorf("issued %d lost %d target %d; want the unplayed arrivals lost and the target to match", st.Issued, st.Lost, hits.Load())
	}
}
