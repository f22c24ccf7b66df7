package targets_test

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/surgeload/surge/targets"
	"github.com/surgeload/surge/targets/data"
	"github.com/surgeload/surge/targets/lb"
)

// metricOf reads one series' value from a /metrics body.
func metricOf(t *testing.T, body, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("/metrics has no %s", series)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The cdn's edge answers a repeated read itself, counts it on /metrics,
// and a write through it purges its copy.
func TestCDNServesFromTheEdge(t *testing.T) {
	srv, err := targets.Start("cdn", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := newClient(t)
	_, body := c.want("GET", srv.URL+"/items/9", "", http.StatusOK)
	if it := decodeItem(t, body); it.Source == "edge-cache" {
		t.Errorf("first read of 9 served by %q; want the origin", it.Source)
	}
	_, body = c.want("GET", srv.URL+"/items/9", "", http.StatusOK)
	if it := decodeItem(t, body); it.Source != "edge-cache" {
		t.Errorf("second read of 9 served by %q; want edge-cache", it.Source)
	}
	c.want("POST", srv.URL+"/items", `{"id":"9"}`, http.StatusCreated)
	_, body = c.want("GET", srv.URL+"/items/9", "", http.StatusOK)
	if it := decodeItem(t, body); it.Source == "edge-cache" || it.Version != 1 {
		t.Errorf("read after a write: %+v; want version 1 from the origin (the write purged the edge)", it)
	}
	_, m := c.want("GET", srv.URL+"/metrics", "", http.StatusOK)
	if h, miss := metricOf(t, m, `surge_target_cache_hits_total{component="edge-cache"}`), metricOf(t, m, `surge_target_cache_misses_total{component="edge-cache"}`); h != 1 || miss != 2 {
		t.Errorf("edge hits %v, misses %v; want 1 and 2", h, miss)
	}
}

// The sharding stage routes by X-Tenant when asked: every write of a
// tenant lands on its shard.
func TestShardingByTenant(t *testing.T) {
	cfg := targets.DefaultShardingConfig()
	cfg.Partitioning = data.TenantPartitioning
	cfg.Routes = map[string]int{"acme": 2}
	srv, err := targets.StartTopology("sharding", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := newClient(t)
	for i := range 8 {
		c.want("POST", srv.URL+"/items", `{"id":"`+strconv.Itoa(i)+`"}`, http.StatusCreated, "X-Tenant", "acme")
	}
	_, m := c.want("GET", srv.URL+"/metrics", "", http.StatusOK)
	for shard := range cfg.Shards {
		got := metricOf(t, m, `surge_target_shard_requests_total{component="shards",shard="`+strconv.Itoa(shard)+`"}`)
		if want := map[bool]float64{true: 8, false: 0}[shard == 2]; got != want {
			t.Errorf("shard %d served %v of tenant acme's 8 writes; want %v (routes put acme on 2)", shard, got, want)
		}
	}
	bad := cfg
	bad.Routes = map[string]int{"acme": 9}
	if _, err := targets.StartTopology("sharding", "127.0.0.1:0", bad); err == nil || !strings.Contains(err.Error(), `routes["acme"]`) {
		t.Errorf("routes to shard 9 of 4: %v; want an error naming routes[\"acme\"]", err)
	}
}

// The cache stage with a write-behind LFU cache: a write is answered from
// the cache and the loss window shows on /metrics until the flush.
func TestCacheStageWriteBehind(t *testing.T) {
	cfg := targets.DefaultCacheConfig()
	cfg.Cache.Policy = data.WriteBehind
	cfg.Cache.Eviction = data.LFU
	cfg.Cache.FlushInterval = targets.Duration(time.Hour)
	srv, err := targets.StartTopology("cache", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := newClient(t)
	_, body := c.want("POST", srv.URL+"/items", `{"id":"5"}`, http.StatusCreated)
	if it := decodeItem(t, body); it.Source != "cache" || it.Version != 1 {
		t.Errorf("write-behind POST answered %+v; want version 1 from the cache", it)
	}
	_, m := c.want("GET", srv.URL+"/metrics", "", http.StatusOK)
	if v := metricOf(t, m, `surge_target_cache_unflushed_writes{component="cache"}`); v != 1 {
		t.Errorf("unflushed writes %v; want 1 (flush every hour)", v)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	raw, err := targets.DecodeConfig("cache", strings.NewReader(`{"cache":{"capacity":10,"ttl":"1m","policy":"write-behind","eviction":"lfu","flush_interval":"250ms"}}`))
	if err != nil {
		t.Fatalf("DecodeConfig with write-behind, lfu: %v", err)
	}
	if got := raw.(*targets.CacheConfig).Cache; got.Policy != data.WriteBehind || got.Eviction != data.LFU || got.FlushInterval != targets.Duration(250*time.Millisecond) {
		t.Errorf("decoded cache tier %+v", got)
	}
}

// The lb stage accepts least_response_time.
func TestLBLeastResponseTime(t *testing.T) {
	cfg := targets.DefaultLBConfig()
	cfg.Algorithm = lb.LeastResponseTime
	srv, err := targets.StartTopology("lb", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := newClient(t)
	for range 20 {
		c.want("GET", srv.URL+"/items/1", "", http.StatusOK)
	}
	_, m := c.want("GET", srv.URL+"/metrics", "", http.StatusOK)
	a0 := metricOf(t, m, `surge_target_backend_requests_total{backend="app-0",component="lb"}`)
	a1 := metricOf(t, m, `surge_target_backend_requests_total{backend="app-1",component="lb"}`)
	if a0+a1 < 20 || a0 == 0 || a1 == 0 {
		t.Errorf("least_response_time sent %v to app-0 and %v to app-1; want both tried and all 20 served", a0, a1)
	}
}
