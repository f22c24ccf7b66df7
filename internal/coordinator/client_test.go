package coordinator

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestClientSettingsReachAgents runs two short stages on one embedded
// agent and checks, at the targets, that each stage's client settings were
// carried out: source addresses, a new connection per request and a
// followed redirect in the first; the scenario's timeout (over the
// Config's, which is not pinned) in the second.
func TestClientSettingsReachAgents(t *testing.T) {
	var mu sync.Mutex
	sources := map[string]int{}
	var conns, redirected, followed atomic.Int64
	fast := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		mu.Lock()
		sources[host]++
		mu.Unlock()
		if r.URL.Path == "/r" {
			redirected.Add(1)
			http.Redirect(w, r, "/done", http.StatusFound)
			return
		}
		followed.Add(1)
		w.Write([]byte("ok"))
	}))
	fast.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	fast.Start()
	defer fast.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()

	sc := mustParse(t, `name: clients
stages:
  - {name: fast, url: `+fast.URL+`}
  - name: slow
    url: `+slow.URL+`
    client: {connections: keep-alive, source_addresses: [], timeout: 100ms}
requests: [{path: /r, expect: [200]}]
load: {constant: {rate: 20, duration: 1s}}
client:
  connections: per-request
  source_addresses: [127.0.0.2, 127.0.0.3]
  follow_redirects: 1
`)
	cfg := testConfig(1)
	cfg.Log = newTestLog(t)
	rep, err := Run(context.Background(), cfg, sc)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := rep.Check(); err != nil {
		t.Error(err)
	}
	st := rep.Stages[0]
	mu.Lock()
	defer mu.Unlock()
	if st.Succeeded != 20 || redirected.Load() != 20 || followed.Load() != 20 {
		t.Errorf("fast stage: %d succeeded, target saw %d redirected and %d followed; want 20 each", st.Succeeded, redirected.Load(), followed.Load())
	}
	// Preflight connections come from the default address; requests only
	// from the two source addresses, in turn.
	if sources["127.0.0.2"] < 15 || sources["127.0.0.3"] < 15 || sources["127.0.0.2"]+sources["127.0.0.3"] != 40 {
		t.Errorf("fast stage: requests by source address %v; want 40 split between 127.0.0.2 and 127.0.0.3", sources)
	}
	if conns.Load() < 40 {
		t.Errorf("fast stage: %d connections for 40 requests; want a new one per request", conns.Load())
	}
	sl := rep.Stages[1]
	if sl.Failed != 20 || sl.Succeeded != 0 {
		t.Errorf("slow stage: %d failed, %d succeeded (errors %v); want all 20 timed out at the scenario's 100ms", sl.Failed, sl.Succeeded, sl.Errors)
	}
	if p := sl.ResponseTimeMS.Max; p > 1000 {
		t.Errorf("slow stage: max response time %vms; want about 100ms, the scenario's timeout, not the Config's 5s", p)
	}
}
