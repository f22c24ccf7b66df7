package coordinator

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/surgeload/surge/scenario"
)

// TestJoinMidRun: an agent that joins while the first stage plays takes a
// share from the next stage on when safety.rebalance_on_join is set, and
// stays idle otherwise. Every stage is played exactly either way.
func TestJoinMidRun(t *testing.T) {
	for _, rebalance := range []bool{true, false} {
		t.Run(fmt.Sprintf("rebalance_on_join=%v", rebalance), func(t *testing.T) {
			var hits atomic.Int64
			var join sync.Once
			var f *fleet
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if hits.Add(1) == 50 {
					join.Do(func() { go f.add(fleetAgent("late")) })
				}
			}))
			defer srv.Close()
			src := fmt.Sprintf(`name: join
stages:
  - {name: first, url: %[1]s}
  - {name: second, url: %[1]s}
requests:
  - {name: a, method: GET, path: /a}
load:
  constant: {rate: 100, duration: 2s}
safety: {rebalance_on_join: %[2]v}
`, srv.URL, rebalance)
			sc, err := scenario.Parse("join.yaml", []byte(src), scenario.Options{})
			if err != nil {
				t.Fatal(err)
			}
			cfg := testConfig(0)
			f = startFleet(t, &cfg, fleetAgent("first-0"), fleetAgent("first-1"))
			rep, err := Run(context.Background(), cfg, sc)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if err := rep.Check(); err != nil {
				t.Fatal(err)
			}
			for _, st := range rep.Stages {
				if st.Issued != 200 || st.Lost != 0 {
					t.Errorf("stage %s: issued %d lost %d; want 200 and 0", st.Name, st.Issued, st.Lost)
				}
			}
			var late *uint64
			for _, a := range rep.Agents {
				if a.Name == "late" {
					late = &a.Intended
				}
			}
			switch {
			case rebalance && (late == nil || *late == 0):
				t.Errorf("agents %+v; want the late agent to play part of the second stage", rep.Agents)
			case !rebalance && late != nil:
				t.Errorf("agents %+v; want the late agent left idle", rep.Agents)
			}
			if int64(len(rep.Stages))*200 != hits.Load() {
				t.Errorf("target saw %d requests; want %d", hits.Load(), len(rep.Stages)*200)
			}
		})
	}
}
