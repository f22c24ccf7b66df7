package coordinator

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/surgeload/surge/internal/agent"
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
			var agents []*agent.Agent
			var mu sync.Mutex
			var addr atomic.Value
			startAgent := func(name string) {
				ac := agent.DefaultConfig()
				ac.Name = name
				ac.Join = []string{addr.Load().(string)}
				ac.FastFailureDetection = true
				a, err := agent.Start(ac)
				if err != nil {
					t.Errorf("agent: %v", err)
					return
				}
				mu.Lock()
				agents = append(agents, a)
				mu.Unlock()
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if hits.Add(1) == 50 {
					join.Do(func() { go startAgent("late") })
				}
			}))
			defer srv.Close()
			defer func() {
				mu.Lock()
				defer mu.Unlock()
				for _, a := range agents {
					a.Close()
				}
			}()
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
			cfg.Expect = 2
			cfg.Log = newTestLog(t)
			cfg.Listening = func(a string) {
				addr.Store(a)
				startAgent("first-0")
				startAgent("first-1")
			}
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
