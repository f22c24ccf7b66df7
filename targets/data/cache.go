package data

import (
	"github.com/surgeload/surge/targets/internal/metricdef"

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
)

// String returns "cache-aside" or "write-through".
func (p WritePolicy) String() string {
	switch p {
	case CacheAside:
		return "cache-aside"
	case WriteThrough:
		return "write-through"
	}
	return fmt.Sprintf("WritePolicy(%d)", int(p))
}

// MarshalText returns the String form, for YAML and JSON.
func (p WritePolicy) MarshalText() ([]byte, error) {
	if p != CacheAside && p != WriteThrough {
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
	default:
		return fmt.Errorf("write policy must be cache-aside or write-through (got %q)", text)
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
	// (delete it, the default) or WriteThrough (replace it).
	Policy WritePolicy
}

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
	if c.Policy != CacheAside && c.Policy != WriteThrough {
		errs = append(errs, fmt.Errorf("policy must be cache-aside (%d) or write-through (%d) (got %d)", CacheAside, WriteThrough, int(c.Policy)))
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

	mu      sync.Mutex
	entries map[string]*list.Element // of *cacheEntry
	lru     list.List                // front: most recently used

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
	if err := metricdef.Register(reg, name, c.requests, c.hits, c.misses, c.evictions, ratio, size); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
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
		c.lru.Remove(el)
		delete(c.entries, key)
		c.evictTTL.Inc()
		return Item{}, false
	}
	c.lru.MoveToFront(el)
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
		c.lru.MoveToFront(el)
		return
	}
	c.entries[item.Key] = c.lru.PushFront(&cacheEntry{item: item, expires: expires})
	for c.lru.Len() > c.cap {
		el := c.lru.Back()
		c.lru.Remove(el)
		delete(c.entries, el.Value.(*cacheEntry).item.Key)
		c.evictLRU.Inc()
	}
}

func (c *Cache) remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.lru.Remove(el)
		delete(c.entries, key)
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
