package stages

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/engine"
	"github.com/surgeload/surge/scenario"
)

func mustParse(t *testing.T, src string) *scenario.Scenario {
	t.Helper()
	sc, err := scenario.Parse("s.yaml", []byte(src), scenario.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

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
	var cfg Overrides
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
		client, limits, err := Client(c, sc, tt.k)
		if err != nil {
			t.Errorf("%s: Client(%d) error %v", tt.name, tt.k, err)
			continue
		}
		if !reflect.DeepEqual(client, tt.client) {
			t.Errorf("%s: Client(%d) client = %+v; want %+v", tt.name, tt.k, client, tt.client)
		}
		if limits != tt.limits {
			t.Errorf("%s: Client(%d) limits = %+v; want %+v", tt.name, tt.k, limits, tt.limits)
		}
	}

	// Without client blocks: the Config's limits as they are, the engine's
	// default options.
	plain := mustParse(t, `name: plain
stages: [{name: target, url: "http://127.0.0.1:1"}]
requests: [{name: a, method: GET, path: /a}, {name: b, method: POST, path: /b, body: "xyz"}]
load: {constant: {rate: 1, duration: 1s}}
`)
	client, limits, err := Client(cfg, plain, 0)
	if err != nil || !reflect.DeepEqual(client, engine.ClientOptions{}) || limits != cfg.Limits {
		t.Errorf("Client(no client block) = %+v, %+v, %v; want the defaults and %+v", client, limits, err, cfg.Limits)
	}
}
