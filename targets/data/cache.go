package data

import (
	"github.com/surgeload/surge/targets/internal/metricdef"

	"container/heap"
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Limits of a CacheConfig.
const (
	// MaxCacheEntries is the largest capacity a Cache may have.
	MaxCacheEntries = 1 << 24
	// MaxTTL is the longest time to live a Cache may give its entries.
	MaxTTL = 24 * time.Hour
)

// WritePolicy says what a Cache does with its entry for a key that is
// written.
type WritePolicy int

const (
	// CacheAside writes to the origin and then deletes the cached entry,
	// so the next read misses and loads the new version. It is the
	// default, and what most applications do with Redis or memcached.
	CacheAside WritePolicy = iota
	// WriteThrough writes to the origin and then stores the new version
	// in the cache, so the next read hits.
	WriteThrough
	// WriteBehind stores the new version in the cache and answers at
	// once; a flusher writes the origin later (every
	// CacheConfig.FlushInterval), one write per dirty key however many
	// times it was written in between. The writes acknowledged but not
	// yet on the origin are the loss window: a crash of the cache loses
	// them (Cache.Unflushed, surge_target_cache_unflushed_writes).
	WriteBehind
)

// Eviction says which entry a full Cache drops to make room.
type Eviction int

const (
	// LRU drops the least recently used entry. It is the default.
	LRU Eviction = iota
	// LFU drops the least frequently used entry (fewest hits since it
	// was stored; the least recently used among equals). It keeps a
	// steady hot set through a scan of one-off keys that would flush an
	// LRU, but a key that was hot once stays until it expires.
	LFU
)

// String returns "lru" or "lfu".
func (e Eviction) String() string {
	switch e {
	case LRU:
		return "lru"
	case LFU:
		return "lfu"
	}
	return fmt.Sprintf("Eviction(%d)", int(e))
}

// MarshalText returns the String form, for YAML and JSON.
func (e Eviction) MarshalText() ([]byte, error) {
	if e != LRU && e != LFU {
		return nil, fmt.Errorf("unknown eviction %d", int(e))
	}
	return []byte(e.String()), nil
}

// UnmarshalText parses "lru" or "lfu".
func (e *Eviction) UnmarshalText(text []byte) error {
	switch string(text) {
	case "lru":
		*e = LRU
	case "lfu":
		*e = LFU
	default:
		return fmt.Errorf("eviction must be lru or lfu (got %q)", text)
	}
	return nil
}

// String returns "cache-aside" or "write-through".
func (p WritePolicy) String() string {
	switch p {
	case CacheAside:
		return "cache-aside"
	case WriteThrough:
		return "write-through"
	case WriteBehind:
		return "write-behind"
	}
	return fmt.Sprintf("WritePolicy(%d)", int(p))
}

// MarshalText returns the String form, for YAML and JSON.
func (p WritePolicy) MarshalText() ([]byte, error) {
	if p != CacheAside && p != WriteThrough && p != WriteBehind {
		return nil, fmt.Errorf("unknown write policy %d", int(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText parses "cache-aside" or "write-through".
func (p *WritePolicy) UnmarshalText(text []byte) error {
	switch string(text) {
	case "cache-aside":
		*p = CacheAside
	case "write-through":
		*p = WriteThrough
	case "write-behind":
		*p = WriteBehind
	default:
		return fmt.Errorf("write policy must be cache-aside, write-through or write-behind (got %q)", text)
	}
	return nil
}

// CacheConfig configures a Cache.
type CacheConfig struct {
	// Capacity is how many entries the cache holds, from 1 to
	// MaxCacheEntries; a new entry beyond it evicts the least recently
	// used one. With the key popularity of the load it decides the hit
	// rate (see Cache). Default 10,000.
	Capacity int

	// TTL is how long an entry lives after it is stored, from 0 to
	// MaxTTL; 0 means entries never expire. A short TTL bounds how stale
	// a hit can be and lowers the hit rate of rarely read keys. Default 1
	// minute.
	TTL time.Duration

	// Policy is what a write does to the cached entry: CacheAside
	// (delete it, the default), WriteThrough (replace it) or WriteBehind
	// (replace it and write the origin later).
	Policy WritePolicy

	// Eviction is which entry a full cache drops: LRU (the default) or
	// LFU.
	Eviction Eviction

	// FlushInterval is how often a WriteBehind cache writes its dirty
	// keys to the origin, from MinFlushInterval to MaxFlushInterval; 0
	// means DefaultFlushInterval. Longer coalesces more writes of hot
	// keys into one and widens the loss window. Other policies ignore
	// it.
	FlushInterval time.Duration

	// MaxDirty bounds the keys a WriteBehind cache holds unflushed, from
	// 1 to MaxCacheEntries; 0 means Capacity. A write of a new key
	// beyond it is written through to the origin at once (counted in
	// surge_target_cache_write_behind_total{path="through"}), so the
	// loss window stays bounded when the origin falls behind.
	MaxDirty int
}

// Limits and default of CacheConfig.FlushInterval.
const (
	MinFlushInterval     = time.Millisecond
	MaxFlushInterval     = time.Hour
	DefaultFlushInterval = time.Second
)

// DefaultCacheConfig returns 10,000 entries, a one-minute TTL and
// cache-aside writes.
func DefaultCacheConfig() CacheConfig {
	return CacheConfig{Capacity: 10_000, TTL: time.Minute, Policy: CacheAside}
}

// Validate reports every field out of range.
func (c CacheConfig) Validate() error {
	var errs []error
	if c.Capacity < 1 || c.Capacity > MaxCacheEntries {
		errs = append(errs, fmt.Errorf("capacity must be from 1 to %d entries (got %d)", MaxCacheEntries, c.Capacity))
	}
	if c.TTL < 0 || c.TTL > MaxTTL {
		errs = append(errs, fmt.Errorf("ttl must be from 0 (never expire) to %v (got %v)", MaxTTL, c.TTL))
	}
	if c.Policy != CacheAside && c.Policy != WriteThrough && c.Policy != WriteBehind {
		errs = append(errs, fmt.Errorf("policy must be cache-aside (%d), write-through (%d) or write-behind (%d) (got %d)", CacheAside, WriteThrough, WriteBehind, int(c.Policy)))
	}
	if c.Eviction != LRU && c.Eviction != LFU {
		errs = append(errs, fmt.Errorf("eviction must be lru (%d) or lfu (%d) (got %d)", LRU, LFU, int(c.Eviction)))
	}
	if c.FlushInterval != 0 && (c.FlushInterval < MinFlushInterval || c.FlushInterval > MaxFlushInterval) {
		errs = append(errs, fmt.Errorf("flush interval must be 0 (default %v) or from %v to %v (got %v)", DefaultFlushInterval, MinFlushInterval, MaxFlushInterval, c.FlushInterval))
	}
	if c.MaxDirty < 0 || c.MaxDirty > MaxCacheEntries {
		errs = append(errs, fmt.Errorf("max dirty must be 0 (the capacity) or from 1 to %d keys (got %d)", MaxCacheEntries, c.MaxDirty))
	}
	return errors.Join(errs...)
}

// Cache is an LRU cache with a TTL in front of an origin Store. Nothing
// sets its hit rate: a read hits when its key was read or written
// recently enough to still be among the Capacity most recently used
// entries and within its TTL, so the hit rate follows from the key
// popularity of the load. For independent requests with popularities
// p_i, Che's approximation predicts it: the characteristic time T solves
// Σ_i (1 − e^(−p_i·T)) = Capacity, and the hit rate is
// Σ_i p_i·(1 − e^(−p_i·T)). That holds with no TTL, or one much longer
// than T; a shorter TTL lowers the hit rate further.
//
// A read (Get) pays a read on the cache server; on a miss it then reads
// the origin and pays a write on the server to store what it got
// (cache-aside: the application fills the cache). Absent keys (Version 0)
// are cached like any other. Concurrent misses of one key all go to the
// origin, as with a real cache-aside: a popular key that expires makes a
// burst of origin reads. A write (Put) writes the origin and then, per
// Policy, deletes or replaces the entry, paying a write on the server.
// An entry is never replaced by an older version. Under cache-aside a
// read that loaded the old version before a concurrent write can still
// store it after the write deleted the entry, leaving it stale until the
// TTL: the race real cache-aside has.
//
// Metrics (label component=name): surge_target_requests_total (reads
// and writes completed), surge_target_cache_hits_total,
// surge_target_cache_misses_total, surge_target_cache_hit_ratio,
// surge_target_cache_entries and
// surge_target_cache_evictions_total{reason="capacity"|"expired"}.
//
// A Cache owns no goroutines (expired entries are removed when met or
// evicted); it is safe for concurrent use.
type Cache struct {
	name   string
	origin Store
	server Backend
	cap    int
	ttl    time.Duration
	policy WritePolicy

	mu       sync.Mutex
	entries  map[string]*list.Element // of *cacheEntry
	lru      list.List                // front: most recently used
	eviction Eviction
	lfu      lfuHeap // LFU only: every entry, least frequently used first
	tick     uint64  // LFU only: a use counter, the recency of its ties

	wb *writeBehind // WriteBehind only

	hitCount, missCount atomic.Uint64

	requests  prometheus.Counter
	hits      prometheus.Counter
	misses    prometheus.Counter
	evictions *prometheus.CounterVec
	evictLRU  prometheus.Counter // evictions{reason="capacity"}
	evictTTL  prometheus.Counter // evictions{reason="expired"}
}

type cacheEntry struct {
	item    Item
	expires time.Time // zero: never

	// LFU only: uses since stored, the tick of the last one, the index
	// in Cache.lfu and the entry's element in Cache.lru.
	freq, last uint64
	idx        int
	el         *list.Element
}

var _ Store = (*Cache)(nil)

// NewCache returns an empty Cache configured by cfg in front of origin.
// server is the capacity of the cache server itself (nil: free, as for an
// in-process cache). Its metrics carry component=name and are registered
// on reg unless reg is nil.
func NewCache(name string, cfg CacheConfig, origin Store, server Backend, reg prometheus.Registerer) (*Cache, error) {
	errs := []error{metricdef.CheckName(name), cfg.Validate()}
	if origin == nil {
		errs = append(errs, errors.New("origin must not be nil"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	c := &Cache{
		name:      name,
		origin:    origin,
		server:    server,
		cap:       cfg.Capacity,
		ttl:       cfg.TTL,
		policy:    cfg.Policy,
		entries:   make(map[string]*list.Element),
		eviction:  cfg.Eviction,
		requests:  prometheus.NewCounter(prometheus.CounterOpts{Name: metricRequests, Help: helpRequests}),
		hits:      prometheus.NewCounter(prometheus.CounterOpts{Name: metricCacheHits, Help: helpCacheHits}),
		misses:    prometheus.NewCounter(prometheus.CounterOpts{Name: metricCacheMisses, Help: helpCacheMisses}),
		evictions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricCacheEvictions, Help: helpCacheEvictions}, []string{"reason"}),
	}
	c.evictLRU = c.evictions.WithLabelValues("capacity")
	c.evictTTL = c.evictions.WithLabelValues("expired")
	ratio := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: metricCacheHitRatio, Help: helpCacheHitRatio}, c.HitRatio)
	size := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: metricCacheEntries, Help: helpCacheEntries},
		func() float64 { return float64(c.Len()) })
	collectors := []prometheus.Collector{c.requests, c.hits, c.misses, c.evictions, ratio, size}
	if cfg.Policy == WriteBehind {
		c.wb = newWriteBehind(cfg)
		collectors = append(collectors, c.wb.paths,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: metricCacheUnflushed, Help: helpCacheUnflushed},
				func() float64 { return float64(c.Unflushed()) }))
	}
	if err := metricdef.Register(reg, name, collectors...); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	if c.wb != nil {
		c.wb.start(c)
	}
	return c, nil
}

// Get returns the cached item for key if there is a live one (Source is
// then the cache's name) and otherwise reads it from the origin and
// caches it.
func (c *Cache) Get(ctx context.Context, key string) (Item, error) {
	if err := read(ctx, c.server); err != nil {
		return Item{}, err
	}
	if item, ok := c.lookup(key, time.Now()); ok {
		c.hitCount.Add(1)
		c.hits.Inc()
		c.requests.Inc()
		item.Stale = false
		item.Source = c.name
		return item, nil
	}
	c.missCount.Add(1)
	c.misses.Inc()
	item, err := c.origin.Get(ctx, key)
	if err != nil {
		return Item{}, err
	}
	// Fill the cache. If the server sheds the write the item is still
	// good; it just is not cached.
	if write(ctx, c.server) == nil {
		c.store(item, time.Now())
	}
	c.requests.Inc()
	return item, nil
}

// Put writes key to the origin and then deletes (CacheAside) or replaces
// (WriteThrough) its cached entry.
func (c *Cache) Put(ctx context.Context, key string) (Item, error) {
	if c.wb != nil {
		return c.putBehind(ctx, key)
	}
	item, err := c.origin.Put(ctx, key)
	if err != nil {
		return Item{}, err
	}
	// The origin has the write; if the cache server sheds the delete or
	// the update, the entry is simply left as it was, as a failed DEL
	// would leave it.
	if write(ctx, c.server) == nil {
		if c.policy == WriteThrough {
			c.store(item, time.Now())
		} else {
			c.remove(key)
		}
	}
	c.requests.Inc()
	return item, nil
}

// lookup returns the live entry for key and marks it most recently
// used; it removes an expired one.
func (c *Cache) lookup(key string, now time.Time) (Item, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return Item{}, false
	}
	e := el.Value.(*cacheEntry)
	if !e.expires.IsZero() && !now.Before(e.expires) {
		c.dropLocked(el)
		c.evictTTL.Inc()
		return Item{}, false
	}
	c.touchLocked(el, true)
	return e.item, true
}

// store caches item as the most recently used entry, unless the cache
// already holds a newer version, and evicts the least recently used
// entry if the cache is over capacity.
func (c *Cache) store(item Item, now time.Time) {
	var expires time.Time
	if c.ttl > 0 {
		expires = now.Add(c.ttl)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[item.Key]; ok {
		e := el.Value.(*cacheEntry)
		if e.item.Version > item.Version {
			return
		}
		e.item, e.expires = item, expires
		c.touchLocked(el, false)
		return
	}
	// Make room first, so that under LFU the new entry (used once) is
	// not its own victim.
	for c.lru.Len() >= c.cap {
		c.dropLocked(c.victimLocked())
		c.evictLRU.Inc()
	}
	e := &cacheEntry{item: item, expires: expires}
	e.el = c.lru.PushFront(e)
	c.entries[item.Key] = e.el
	if c.eviction == LFU {
		c.tick++
		e.freq, e.last = 1, c.tick
		heap.Push(&c.lfu, e)
	}
}

// victimLocked is the entry a full cache drops: the least recently used
// (LRU), or the least frequently used, the least recently used of those
// (LFU).
func (c *Cache) victimLocked() *list.Element {
	if c.eviction == LFU {
		return c.lfu[0].el
	}
	return c.lru.Back()
}

// touchLocked marks el most recently used; a hit (use) also counts a
// use for LFU.
func (c *Cache) touchLocked(el *list.Element, use bool) {
	c.lru.MoveToFront(el)
	if c.eviction == LFU {
		e := el.Value.(*cacheEntry)
		c.tick++
		e.last = c.tick
		if use {
			e.freq++
		}
		heap.Fix(&c.lfu, e.idx)
	}
}

// dropLocked removes el's entry.
func (c *Cache) dropLocked(el *list.Element) {
	e := el.Value.(*cacheEntry)
	c.lru.Remove(el)
	delete(c.entries, e.item.Key)
	if c.eviction == LFU {
		heap.Remove(&c.lfu, e.idx)
	}
}

// lfuHeap orders entries by uses, then by the tick of the last use.
type lfuHeap []*cacheEntry

func (h lfuHeap) Len() int { return len(h) }
func (h lfuHeap) Less(i, j int) bool {
	if h[i].freq != h[j].freq {
		return h[i].freq < h[j].freq
	}
	return h[i].last < h[j].last
}
func (h lfuHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *lfuHeap) Push(x any) {
	e := x.(*cacheEntry)
	e.idx = len(*h)
	*h = append(*h, e)
}
func (h *lfuHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}

func (c *Cache) remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.dropLocked(el)
	}
}

// Len returns how many entries the cache holds, including expired ones
// not yet removed.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// HitRatio returns hits ÷ lookups since the cache was made, or 0 before
// the first lookup.
func (c *Cache) HitRatio() float64 {
	h, m := c.hitCount.Load(), c.missCount.Load()
	if h+m == 0 {
		return 0
	}
	return float64(h) / float64(h+m)
}

// Stats returns the hits and misses since the cache was made.
func (c *Cache) Stats() (hits, misses uint64) {
	return c.hitCount.Load(), c.missCount.Load()
}
