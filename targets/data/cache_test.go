package data

import (
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func newTestTable(t *testing.T, name string, backend Backend, reg prometheus.Registerer) *Table {
	t.Helper()
	tb, err := NewTable(name, DefaultTableConfig(), backend, reg)
	if err != nil {
		t.Fatalf("NewTable: %v", err)
	}
	return tb
}

func newTestCache(t *testing.T, cfg CacheConfig, origin Store, reg prometheus.Registerer) *Cache {
	t.Helper()
	c, err := NewCache("cache", cfg, origin, nil, reg)
	if err != nil {
		t.Fatalf("NewCache: %v", err)
	}
	return c
}

// TestCacheZipfHitRateMatchesChe drives the cache with independent Zipf
// requests and checks the measured hit rate against Che's approximation
// for LRU, within 3 points. The hit rate is nowhere configured: it comes
// from the key popularity alone.
func TestCacheZipfHitRateMatchesChe(t *testing.T) {
	cases := []struct {
		s        float64
		keys     int
		capacity int
	}{
		{s: 0.8, keys: 10_000, capacity: 100},
		{s: 0.8, keys: 10_000, capacity: 1_000},
		{s: 1.0, keys: 10_000, capacity: 500},
		{s: 1.2, keys: 5_000, capacity: 50},
	}
	const warm, measured = 30_000, 100_000
	ctx := context.Background()
	for _, tc := range cases {
		name := "s=" + strconv.FormatFloat(tc.s, 'g', -1, 64) + ",N=" + strconv.Itoa(tc.keys) + ",C=" + strconv.Itoa(tc.capacity)
		t.Run(name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			origin := newTestTable(t, "db", nil, nil)
			cfg := CacheConfig{Capacity: tc.capacity, TTL: 0, Policy: CacheAside}
			c := newTestCache(t, cfg, origin, reg)
			z := newZipf(tc.s, tc.keys)
			r := rand.New(rand.NewPCG(1, uint64(tc.capacity)))
			keys := make([]string, tc.keys)
			for i := range keys {
				keys[i] = strconv.Itoa(i)
			}
			for range warm {
				if _, err := c.Get(ctx, keys[z.draw(r)]); err != nil {
					t.Fatal(err)
				}
			}
			h0 := metricValue(t, reg, "surge_target_cache_hits_total", "component", "cache")
			m0 := metricValue(t, reg, "surge_target_cache_misses_total", "component", "cache")
			for range measured {
				if _, err := c.Get(ctx, keys[z.draw(r)]); err != nil {
					t.Fatal(err)
				}
			}
			h := metricValue(t, reg, "surge_target_cache_hits_total", "component", "cache") - h0
			m := metricValue(t, reg, "surge_target_cache_misses_total", "component", "cache") - m0
			got := h / (h + m)
			che := cheHitRate(z.p, tc.capacity)
			lfu := topMass(z.p, tc.capacity)
			t.Logf("Zipf(s=%g, N=%d), capacity %d: measured hit rate %.4f, Che (LRU) %.4f, top-C mass (LFU bound) %.4f",
				tc.s, tc.keys, tc.capacity, got, che, lfu)
			if math.Abs(got-che) > 0.03 {
				t.Errorf("hit rate %.4f; want Che's approximation %.4f ± 0.03", got, che)
			}
			if got > lfu+0.01 {
				t.Errorf("hit rate %.4f above the LFU bound %.4f", got, lfu)
			}
			if n := c.Len(); n != tc.capacity {
				t.Errorf("Len() = %d after %d requests; want the capacity %d", n, warm+measured, tc.capacity)
			}
			if got := metricValue(t, reg, "surge_target_cache_entries", "component", "cache"); got != float64(tc.capacity) {
				t.Errorf("surge_target_cache_entries = %v; want %d", got, tc.capacity)
			}
			total := metricValue(t, reg, "surge_target_cache_hits_total", "component", "cache") +
				metricValue(t, reg, "surge_target_cache_misses_total", "component", "cache")
			ratio := metricValue(t, reg, "surge_target_cache_hit_ratio", "component", "cache")
			if want := metricValue(t, reg, "surge_target_cache_hits_total", "component", "cache") / total; math.Abs(ratio-want) > 1e-12 {
				t.Errorf("surge_target_cache_hit_ratio = %v; want hits/lookups %v", ratio, want)
			}
			// With no TTL and no writes, every miss adds an entry, so
			// entries = misses − capacity evictions.
			if got, want := metricValue(t, reg, "surge_target_cache_evictions_total", "component", "cache", "reason", "capacity"), m0+m-float64(tc.capacity); got != want {
				t.Errorf("capacity evictions = %v; want misses − capacity = %v", got, want)
			}
		})
	}
}

// TestCacheOriginSeesOnlyMisses checks that the cache absorbs hits: the
// origin's backend is charged once per miss and never for a hit.
func TestCacheOriginSeesOnlyMisses(t *testing.T) {
	reg := prometheus.NewRegistry()
	node, err := testDB("db", 4, reg)
	if err != nil {
		t.Fatal(err)
	}
	c := newTestCache(t, CacheConfig{Capacity: 3}, newTestTable(t, "items", node, reg), reg)
	ctx := context.Background()
	for _, k := range []string{"a", "b", "a", "c", "a", "b", "d", "b", "c"} {
		if _, err := c.Get(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	// LRU order after each get (front first): a; b a; a b; c a b; a c b;
	// b a c; d b a (c evicted); b d a; c b d (a evicted).
	hits, misses := c.Stats()
	if hits != 4 || misses != 5 {
		t.Errorf("Stats() = %d hits, %d misses; want 4, 5", hits, misses)
	}
	if got := metricValue(t, reg, "surge_target_requests_total", "component", "db"); got != 5 {
		t.Errorf("origin node served %v reads; want one per miss, 5", got)
	}
	if got := metricValue(t, reg, "surge_target_cache_evictions_total", "component", "cache", "reason", "capacity"); got != 2 {
		t.Errorf("capacity evictions = %v; want 2", got)
	}
}

// TestCacheTTL checks that an entry is served within its TTL and
// refetched after it. It runs in a synctest bubble, so the read within
// the TTL happens no fake time after the first, and the sleep past the
// TTL is exact, however busy the machine.
func TestCacheTTL(t *testing.T) { synctest.Test(t, testCacheTTL) }

func testCacheTTL(t *testing.T) {
	reg := prometheus.NewRegistry()
	const ttl = 50 * time.Millisecond
	c := newTestCache(t, CacheConfig{Capacity: 10, TTL: ttl}, newTestTable(t, "db", nil, nil), reg)
	ctx := context.Background()
	if item, _ := c.Get(ctx, "k"); item.Source != "db" {
		t.Fatalf("first Get served by %q; want the origin db", item.Source)
	}
	item, _ := c.Get(ctx, "k") // no fake time has passed
	if item.Source != "cache" {
		t.Errorf("second Get within the TTL served by %q; want cache", item.Source)
	}
	time.Sleep(ttl + 30*time.Millisecond)
	if item, _ := c.Get(ctx, "k"); item.Source != "db" {
		t.Errorf("Get after the TTL served by %q; want the origin db", item.Source)
	}
	if got := metricValue(t, reg, "surge_target_cache_evictions_total", "component", "cache", "reason", "expired"); got != 1 {
		t.Errorf("expired evictions = %v; want 1", got)
	}
}

func TestCacheWritePolicies(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		policy         WritePolicy
		sourceAfterPut string
	}{
		{CacheAside, "db"},      // the write deleted the entry: the next read misses
		{WriteThrough, "cache"}, // the write stored the new version
	} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			c := newTestCache(t, CacheConfig{Capacity: 10, Policy: tc.policy}, newTestTable(t, "db", nil, nil), nil)
			if item, _ := c.Get(ctx, "k"); item.Version != 0 {
				t.Fatalf("Get of a new key = version %d; want 0", item.Version)
			}
			if item, _ := c.Get(ctx, "k"); item.Source != "cache" || item.Version != 0 {
				t.Fatalf("second Get = %+v; want version 0 from the cache (absent keys are cached)", item)
			}
			put, err := c.Put(ctx, "k")
			if err != nil || put.Version != 1 {
				t.Fatalf("Put = %+v, %v; want version 1", put, err)
			}
			item, _ := c.Get(ctx, "k")
			if item.Version != 1 || item.Source != tc.sourceAfterPut {
				t.Errorf("Get after Put = version %d from %q; want version 1 from %q", item.Version, item.Source, tc.sourceAfterPut)
			}
			if item, _ := c.Get(ctx, "k"); item.Version != 1 || item.Source != "cache" {
				t.Errorf("next Get = version %d from %q; want version 1 from the cache", item.Version, item.Source)
			}
		})
	}
}

func TestCacheNeverStoresOlderVersion(t *testing.T) {
	c := newTestCache(t, CacheConfig{Capacity: 10}, newTestTable(t, "db", nil, nil), nil)
	now := time.Now()
	c.store(Item{Key: "k", Version: 5}, now)
	c.store(Item{Key: "k", Version: 3}, now)
	if item, ok := c.lookup("k", now); !ok || item.Version != 5 {
		t.Errorf("after storing 5 then 3: lookup = %+v, %v; want version 5", item, ok)
	}
}

// TestCacheConcurrent hammers one cache from many goroutines (for the
// race detector) and checks the counts add up.
func TestCacheConcurrent(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := newTestCache(t, CacheConfig{Capacity: 64, TTL: time.Millisecond}, newTestTable(t, "db", nil, nil), reg)
	const workers, ops = 8, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range ops {
				k := strconv.Itoa(r.IntN(200))
				if i%10 == 0 {
					_, _ = c.Put(context.Background(), k)
				} else {
					_, _ = c.Get(context.Background(), k)
				}
			}
		})
	}
	wg.Wait()
	hits, misses := c.Stats()
	if hits+misses != workers*ops*9/10 {
		t.Errorf("hits %d + misses %d = %d; want one per Get, %d", hits, misses, hits+misses, workers*ops*9/10)
	}
	if got := metricValue(t, reg, "surge_target_requests_total", "component", "cache"); got != workers*ops {
		t.Errorf("requests = %v; want %d", got, workers*ops)
	}
	if n := c.Len(); n > 64 {
		t.Errorf("Len() = %d; want at most the capacity 64", n)
	}
}

func TestWritePolicyText(t *testing.T) {
	for _, p := range []WritePolicy{CacheAside, WriteThrough} {
		text, err := p.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back WritePolicy
		if err := back.UnmarshalText(text); err != nil || back != p {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", text, back, err, p)
		}
	}
	var p WritePolicy
	if err := p.UnmarshalText([]byte("write-back")); err == nil {
		t.Error("UnmarshalText(write-back) succeeded; want an error")
	}
}
