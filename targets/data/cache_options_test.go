package data

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestCacheLFUEvictsLeastFrequentlyUsed fills a cache of 3, uses the keys
// so that LRU and LFU disagree on the victim, and checks each picks its
// own.
func TestCacheLFUEvictsLeastFrequentlyUsed(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		eviction Eviction
		evicted  string
	}{
		{LRU, "a"}, // a was used longest ago
		{LFU, "b"}, // b and c were used twice, a three times; b before c
	} {
		t.Run(tc.eviction.String(), func(t *testing.T) {
			c := newTestCache(t, CacheConfig{Capacity: 3, Eviction: tc.eviction}, newTestTable(t, "db", nil, nil), nil)
			for _, k := range []string{"a", "b", "c", "a", "a", "b", "c"} {
				if _, err := c.Get(ctx, k); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := c.Get(ctx, "d"); err != nil { // a miss: stores d, evicting one
				t.Fatal(err)
			}
			for _, k := range []string{"a", "b", "c", "d"} {
				_, cached := c.peek(k)
				if cached == (k == tc.evicted) {
					t.Errorf("%s after reads a b c a a b c d: %q cached = %v; want the victim %q gone and the rest kept", tc.eviction, k, cached, tc.evicted)
				}
			}
		})
	}
}

// A scan of one-off keys flushes a hot key out of an LRU cache, not out
// of an LFU one.
func TestCacheLFUResistsScans(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		eviction Eviction
		hotKept  bool
	}{{LRU, false}, {LFU, true}} {
		c := newTestCache(t, CacheConfig{Capacity: 10, Eviction: tc.eviction}, newTestTable(t, "db", nil, nil), nil)
		for range 5 {
			_, _ = c.Get(ctx, "hot")
		}
		for i := range 50 {
			_, _ = c.Get(ctx, "scan-"+string(rune('A'+i)))
		}
		if _, kept := c.peek("hot"); kept != tc.hotKept {
			t.Errorf("%s: hot key (5 reads) cached after a scan of 50 one-off keys = %v; want %v", tc.eviction, kept, tc.hotKept)
		}
		if n := c.Len(); n != 10 {
			t.Errorf("%s: Len = %d; want the capacity 10", tc.eviction, n)
		}
	}
}

func TestEvictionText(t *testing.T) {
	for _, e := range []Eviction{LRU, LFU} {
		b, err := e.MarshalText()
		var back Eviction
		if err != nil || back.UnmarshalText(b) != nil || back != e {
			t.Errorf("%v: MarshalText = %q, %v; round trip %v", e, b, err, back)
		}
	}
	var e Eviction
	if err := e.UnmarshalText([]byte("arc")); err == nil {
		t.Error(`UnmarshalText("arc") = nil; want an error`)
	}
	if err := (CacheConfig{Capacity: 1, Eviction: 9}).Validate(); err == nil {
		t.Error("Validate with eviction 9 = nil; want an error")
	}
	p := WriteBehind
	b, _ := p.MarshalText()
	var back WritePolicy
	if string(b) != "write-behind" || back.UnmarshalText(b) != nil || back != WriteBehind {
		t.Errorf("write-behind text %q round trips to %v", b, back)
	}
}

// TestWriteBehindAcknowledgesBeforeTheOrigin: writes are answered from
// the cache, the origin sees none of them until a flush, and the loss
// window (Unflushed, the gauge) counts them until then.
func TestWriteBehindAcknowledgesBeforeTheOrigin(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	db := newTestTable(t, "db", nil, nil)
	c := newTestCache(t, CacheConfig{Capacity: 100, Policy: WriteBehind, FlushInterval: time.Hour}, db, reg)
	t.Cleanup(func() { _ = c.Close() })
	for i := range 3 {
		item, err := c.Put(ctx, "k")
		if err != nil || item.Version != uint64(i+1) || item.Source != "cache" {
			t.Fatalf("Put %d = %+v, %v; want version %d from the cache", i+1, item, err, i+1)
		}
	}
	if _, err := c.Put(ctx, "j"); err != nil {
		t.Fatal(err)
	}
	if item, _ := db.Get(ctx, "k"); item.Version != 0 {
		t.Errorf("origin has k at version %d before any flush; want 0", item.Version)
	}
	if n := c.Unflushed(); n != 4 {
		t.Errorf("Unflushed = %d; want the 4 writes acknowledged", n)
	}
	if g := metricValue(t, reg, "surge_target_cache_unflushed_writes", "component", "cache"); g != 4 {
		t.Errorf("unflushed gauge = %v; want 4", g)
	}
	if item, _ := c.Get(ctx, "k"); item.Version != 3 || item.Source != "cache" {
		t.Errorf("Get k before the flush = %+v; want version 3 from the cache (read your own write)", item)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("Flush = %v", err)
	}
	if item, _ := db.Get(ctx, "k"); item.Version != 3 {
		t.Errorf("origin has k at version %d after the flush; want 3 (one origin write per acknowledged write)", item.Version)
	}
	if n := c.Unflushed(); n != 0 {
		t.Errorf("Unflushed after the flush = %d; want 0", n)
	}
	if f := metricValue(t, reg, "surge_target_cache_write_behind_total", "component", "cache", "path", "flushed"); f != 4 {
		t.Errorf("flushed writes = %v; want 4", f)
	}
}

// With MaxDirty keys dirty, a write of another key goes to the origin at
// once; writes of keys already dirty still wait.
func TestWriteBehindBoundsTheLossWindow(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	db := newTestTable(t, "db", nil, nil)
	c := newTestCache(t, CacheConfig{Capacity: 100, Policy: WriteBehind, FlushInterval: time.Hour, MaxDirty: 2}, db, reg)
	t.Cleanup(func() { _ = c.Close() })
	for _, k := range []string{"a", "b", "a", "c"} {
		if _, err := c.Put(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if item, _ := db.Get(ctx, "c"); item.Version != 1 {
		t.Errorf("origin has c (third dirty key, MaxDirty 2) at version %d; want 1, written through", item.Version)
	}
	if item, _ := db.Get(ctx, "a"); item.Version != 0 {
		t.Errorf("origin has a at version %d; want 0, still dirty", item.Version)
	}
	if n := c.Unflushed(); n != 3 {
		t.Errorf("Unflushed = %d; want 3 (a twice, b)", n)
	}
	if v := metricValue(t, reg, "surge_target_cache_write_behind_total", "component", "cache", "path", "through"); v != 1 {
		t.Errorf("written through = %v; want 1", v)
	}
}

// failingStore refuses the first n Puts.
type failingStore struct {
	Store
	refuse atomic.Int64
}

var errRefused = errors.New("refused")

func (f *failingStore) Put(ctx context.Context, key string) (Item, error) {
	if f.refuse.Add(-1) >= 0 {
		return Item{}, errRefused
	}
	return f.Store.Put(ctx, key)
}

// TestWriteBehindFlusher runs on a fake clock: the flusher writes the
// origin one FlushInterval after the write, not before, and a write the
// origin refuses stays in the loss window until a later flush succeeds.
func TestWriteBehindFlusher(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		db := newTestTable(t, "db", nil, nil)
		origin := &failingStore{Store: db}
		c := newTestCache(t, CacheConfig{Capacity: 100, Policy: WriteBehind, FlushInterval: 100 * time.Millisecond}, origin, nil)
		defer c.Close()
		if _, err := c.Put(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(99 * time.Millisecond)
		synctest.Wait()
		if n := c.Unflushed(); n != 1 {
			t.Fatalf("Unflushed 99ms after the write (interval 100ms) = %d; want 1", n)
		}
		origin.refuse.Store(1)
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if n := c.Unflushed(); n != 1 {
			t.Fatalf("Unflushed after a refused flush = %d; want 1 (kept for the next)", n)
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if n := c.Unflushed(); n != 0 {
			t.Errorf("Unflushed after the next flush = %d; want 0", n)
		}
		if item, _ := db.Get(ctx, "k"); item.Version != 1 {
			t.Errorf("origin has k at version %d; want 1", item.Version)
		}
	})
}
