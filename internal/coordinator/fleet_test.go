package coordinator

import (
	"sync"
	"testing"

	"github.com/surgeload/surge/internal/agent"
)

// fleet is external agents for a test: started once the coordinator
// listens, each joined to it, and closed when the test ends.
type fleet struct {
	t      *testing.T
	mu     sync.Mutex
	addr   string
	agents []*agent.Agent
}

// fleetAgent is an agent's config for a loopback test fleet.
func fleetAgent(name string) agent.Config {
	ac := agent.DefaultConfig()
	ac.Name = name
	ac.FastFailureDetection = true
	return ac
}

// startFleet makes cfg wait for len(acs) external agents and starts them
// as soon as the coordinator's gossip listens.
func startFleet(t *testing.T, cfg *Config, acs ...agent.Config) *fleet {
	f := &fleet{t: t}
	cfg.Expect = len(acs)
	cfg.Listening = func(addr string) {
		f.mu.Lock()
		f.addr = addr
		f.mu.Unlock()
		for _, ac := range acs {
			f.add(ac)
		}
	}
	t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, a := range f.agents {
			a.Close()
		}
	})
	return f
}

// add starts one more agent joined to the coordinator (also mid-run).
func (f *fleet) add(ac agent.Config) *agent.Agent {
	f.mu.Lock()
	ac.Join = []string{f.addr}
	f.mu.Unlock()
	a, err := agent.Start(ac)
	if err != nil {
		f.t.Errorf("agent %s: %v", ac.Name, err)
		return nil
	}
	f.mu.Lock()
	f.agents = append(f.agents, a)
	f.mu.Unlock()
	return a
}

// agent is the k-th agent started.
func (f *fleet) agent(k int) *agent.Agent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.agents[k]
}
