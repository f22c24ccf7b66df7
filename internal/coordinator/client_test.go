package coordinator

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/engine"
)

// TestStageClientPrecedence pins where each stage's client options and
// limits come from: a pinned (explicitly set) limit of the Config, else
// the stage's block over the scenario's, else the Config's limits and the
// engine's defaults.
func TestStageClientPrecedence(t *testing.T) {
	sc := mustParse(t, `name: p
stages:
  - {name: inherits, bundled: echo}
  - name: own
    bundled: echo
    client: {connections: keep-alive, max_conns: 0, timeout: 2s, source_addresses: [], timing: default, max_body: 1}
  - {name: h2, bundled: echo, client: {protocol: h2, connections: keep-alive, implementation: net/http}}
  - {name: bare, bundled: echo, client: {}}
requests: [{path: /}]
load: {constant: {rate: 1, duration: 1s}}
client:
  connections: per-request
  max_conns: 64
  timing: precise
  insecure_skip_verify: true
  source_addresses: [127.0.0.2, 127.0.1.0/30]
  follow_redirects: 5
  timeout: 10s
  connect_timeout: 1s
  first_byte_timeout: 3s
  max_in_flight: 77
  max_body: 64KiB
`)
	cfg := DefaultConfig()
	cfg.Limits = engine.Limits{MaxInFlight: 500, Timeout: 30 * time.Second, MaxBodyBytes: 1 << 20, Drain: 31 * time.Second, MaxConns: 8}
	addrs := []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.1.1"), netip.MustParseAddr("127.0.1.2")}
	top := engine.ClientOptions{Mode: engine.PerRequest, Timing: engine.TimingPrecise, InsecureSkipVerify: true, SourceAddrs: addrs,
		FollowRedirects: 5, ConnectTimeout: time.Second, FirstByteTimeout: 3 * time.Second}
	topLimits := engine.Limits{MaxInFlight: 77, Timeout: 10 * time.Second, MaxBodyBytes: 64 << 10, Drain: 11 * time.Second, MaxConns: 64}

	own := top
	own.Mode, own.Timing, own.SourceAddrs = engine.KeepAlive, engine.TimingDefault, nil
	ownLimits := engine.Limits{MaxInFlight: 77, Timeout: 2 * time.Second, MaxBodyBytes: 1, Drain: 3 * time.Second, MaxConns: 0}

	h2 := top
	h2.Mode, h2.Protocol, h2.Impl = engine.KeepAlive, engine.HTTP2, engine.ImplNetHTTP

	tests := []struct {
		name   string
		pinned PinnedLimits
		k      int
		client engine.ClientOptions
		limits engine.Limits
	}{
		{"top-level block", PinnedLimits{}, 0, top, topLimits},
		{"stage block, explicit zeros and an empty list win", PinnedLimits{}, 1, own, ownLimits},
		{"stage block over the top-level one", PinnedLimits{}, 2, h2, topLimits},
		{"empty stage block", PinnedLimits{}, 3, top, topLimits},
		{"pinned limits win over every block", PinnedLimits{MaxInFlight: true, Timeout: true, MaxBodyBytes: true, MaxConns: true}, 1, own, cfg.Limits},
		{"one pinned limit", PinnedLimits{Timeout: true}, 1, own,
			engine.Limits{MaxInFlight: 77, Timeout: 30 * time.Second, MaxBodyBytes: 1, Drain: 31 * time.Second, MaxConns: 0}},
	}
	for _, tt := range tests {
		c := cfg
		c.Pinned = tt.pinned
		client, limits, err := stageClient(c, sc, tt.k)
		if err != nil {
			t.Errorf("%s: stageClient(%d) error %v", tt.name, tt.k, err)
			continue
		}
		if !reflect.DeepEqual(client, tt.client) {
			t.Errorf("%s: stageClient(%d) client = %+v; want %+v", tt.name, tt.k, client, tt.client)
		}
		if limits != tt.limits {
			t.Errorf("%s: stageClient(%d) limits = %+v; want %+v", tt.name, tt.k, limits, tt.limits)
		}
	}

	// Without client blocks: the Config's limits as they are, the engine's
	// default options.
	plain := mustScenario(t, "http://127.0.0.1:1", "1", "1s")
	client, limits, err := stageClient(cfg, plain, 0)
	if err != nil || !reflect.DeepEqual(client, engine.ClientOptions{}) || limits != cfg.Limits {
		t.Errorf("stageClient(no client block) = %+v, %+v, %v; want the defaults and %+v", client, limits, err, cfg.Limits)
	}
}

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
