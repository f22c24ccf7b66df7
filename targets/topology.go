package targets

import (
	"errors"
	"fmt"
	"time"

	"github.com/surgeload/surge/targets/data"
	"github.com/surgeload/surge/targets/lb"
	"github.com/surgeload/surge/targets/resource"
)

// AppConfig is an application server tier: a resource.AppServer.
type AppConfig struct {
	// Slots is the concurrency limit (worker threads). A request holds
	// its slot for its whole life, downstream calls included.
	Slots int `json:"slots"`
	// QueueLimit is how many requests may wait for a slot; more get 503
	// with Retry-After.
	QueueLimit int `json:"queue_limit"`
	// Service is the app's own work per request, like
	// "lognormal(2ms, p99=8ms)" (see resource.Dist).
	Service resource.Dist `json:"service"`
}

// DBConfig is a database node: a resource.DB.
type DBConfig struct {
	// Pool is the connection pool: queries served at once.
	Pool int `json:"pool"`
	// QueueLimit is how many queries may wait for a connection; more are
	// shed (503 with Retry-After).
	QueueLimit int `json:"queue_limit"`
	// Read and Write are the costs of one read and one write.
	Read  resource.Dist `json:"read"`
	Write resource.Dist `json:"write"`
}

// CacheTierConfig is a cache-aside LRU cache in the app (a data.Cache
// with no server cost).
type CacheTierConfig struct {
	// Capacity is how many entries the cache holds. In the topologies
	// after "cache", 0 means no cache.
	Capacity int `json:"capacity"`
	// TTL is how long an entry lives, like "1m"; "0s" never expires.
	TTL Duration `json:"ttl"`
	// Policy is what a write does to the cached entry: "cache-aside"
	// (delete it) or "write-through" (replace it). Behind replicas,
	// cache-aside lets a read that misses within the replication lag of
	// a write cache the replica's older version until the TTL; use
	// write-through to avoid that.
	Policy data.WritePolicy `json:"policy"`
	// Eviction is which entry a full cache drops: "lru" (the default)
	// or "lfu" (least frequently used; see data.LFU).
	Eviction data.Eviction `json:"eviction,omitempty"`
	// FlushInterval is how often a "write-behind" cache writes its
	// acknowledged writes to the db, like "1s"; "0s" means the default
	// (1s). The writes not yet flushed are the loss window, on /metrics
	// as surge_target_cache_unflushed_writes.
	FlushInterval Duration `json:"flush_interval,omitempty"`
}

// Duration is a time.Duration that reads and writes JSON as a string
// like "80ms".
type Duration time.Duration

// MarshalText returns the duration like "80ms".
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText parses a duration like "80ms" (time.ParseDuration).
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: want one like \"80ms\"", b)
	}
	*d = Duration(v)
	return nil
}

// SingleBoxConfig is stage 1: the app and its database on one machine,
// both charging their work to one budget of CPUs.
type SingleBoxConfig struct {
	// CPUs is the machine's shared capacity.
	CPUs int `json:"cpus"`
	// CPUQueueLimit is how many operations may wait for a CPU.
	CPUQueueLimit int       `json:"cpu_queue_limit"`
	App           AppConfig `json:"app"`
	DB            DBConfig  `json:"db"`
	// Shop configures the shop flow (POST /login, …; see StartTopology).
	Shop ShopConfig `json:"shop"`
	// EdgeOptions add a gateway and db breakers (JSON "gateway", "breaker").
	EdgeOptions
}

// SplitConfig is stage 2: the database on a machine of its own.
type SplitConfig struct {
	App AppConfig `json:"app"`
	DB  DBConfig  `json:"db"`
	// Shop configures the shop flow (POST /login, …; see StartTopology).
	Shop ShopConfig `json:"shop"`
	// EdgeOptions add a gateway and db breakers (JSON "gateway", "breaker").
	EdgeOptions
}

// CacheConfig is stage 3: a cache-aside cache in front of the database.
type CacheConfig struct {
	App   AppConfig       `json:"app"`
	Cache CacheTierConfig `json:"cache"`
	DB    DBConfig        `json:"db"`
	// Shop configures the shop flow (POST /login, …; see StartTopology).
	Shop ShopConfig `json:"shop"`
	// EdgeOptions add a gateway and db breakers (JSON "gateway", "breaker").
	EdgeOptions
}

// LBConfig is stage 4: a load balancer (a real reverse proxy over
// loopback) in front of Apps app servers that share one cache and one
// database.
type LBConfig struct {
	// Apps is how many app servers, each on its own loopback listener.
	Apps int `json:"apps"`
	// Algorithm is the balancer's: round_robin, weighted_round_robin,
	// least_connections, ip_hash, random or least_response_time.
	Algorithm lb.Algorithm `json:"algorithm"`
	// HealthInterval is the balancer's health-check period; "0s" turns
	// checks off.
	HealthInterval Duration        `json:"health_interval"`
	App            AppConfig       `json:"app"`
	Cache          CacheTierConfig `json:"cache"`
	DB             DBConfig        `json:"db"`
	// Shop configures the shop flow (POST /login, …; see StartTopology).
	Shop ShopConfig `json:"shop"`
	// EdgeOptions add a gateway and db breakers (JSON "gateway", "breaker").
	EdgeOptions
}

// ReplicasConfig is stage 5: reads to Replicas read replicas (round
// robin), writes to the primary, replicas Lag behind it.
type ReplicasConfig struct {
	App      AppConfig       `json:"app"`
	Cache    CacheTierConfig `json:"cache"`
	Primary  DBConfig        `json:"primary"`
	Replica  DBConfig        `json:"replica"`
	Replicas int             `json:"replicas"`
	Lag      Duration        `json:"lag"`
	// ReadYourWrites sends a client's reads (X-Client-ID) to the primary
	// for a lag after its writes.
	ReadYourWrites bool `json:"read_your_writes"`
	// Shop configures the shop flow (POST /login, …; see StartTopology).
	Shop ShopConfig `json:"shop"`
	// EdgeOptions add a gateway and db breakers (JSON "gateway", "breaker").
	EdgeOptions
}

// ShardingConfig is stage 6: Shards primaries, each item on one of them
// by hash of its id.
type ShardingConfig struct {
	App    AppConfig       `json:"app"`
	Cache  CacheTierConfig `json:"cache"`
	Shards int             `json:"shards"`
	// Shard configures every shard's database.
	Shard DBConfig `json:"shard"`
	// Partitioning is how an item finds its shard: "hash" of its id (the
	// default), "region" (geo sharding: by the X-Region header) or
	// "tenant" (by the X-Tenant header); a request without the header
	// goes by the hash of its id. ("range" needs bounds, which this
	// stage does not take.)
	Partitioning data.Partitioning `json:"partitioning,omitempty"`
	// Routes places regions or tenants on shards by index, like
	// {"us-east": 0, "eu-west": 1}; others go by a hash of their name.
	Routes map[string]int `json:"routes,omitempty"`
	// Shop configures the shop flow (POST /login, …; see StartTopology).
	Shop ShopConfig `json:"shop"`
	// EdgeOptions add a gateway and db breakers (JSON "gateway", "breaker").
	EdgeOptions
}

// QueueConfig is stage 7: the sharded store of stage 6 with writes made
// asynchronous: POST /jobs answers 202 at once and Workers write to the
// store later.
type QueueConfig struct {
	App    AppConfig       `json:"app"`
	Cache  CacheTierConfig `json:"cache"`
	Shards int             `json:"shards"`
	Shard  DBConfig        `json:"shard"`
	// Workers is how many jobs are written at once.
	Workers int `json:"workers"`
	// QueueLimit is how many jobs may wait; more get 503.
	QueueLimit int `json:"queue_limit"`
	// MaxAttempts is how many times a failed write is tried.
	MaxAttempts int `json:"max_attempts"`
	// Shop configures the shop flow (POST /login, …; see StartTopology).
	Shop ShopConfig `json:"shop"`
	// EdgeOptions add a gateway and db breakers (JSON "gateway", "breaker").
	EdgeOptions
}

// MultiRegionConfig is stage 8: Regions, each with its own app servers
// and cache, reading its own replica; writes go to the Primary region's
// database (active-passive), crossing RTT from the other regions.
// Requests name their region with the X-Region header (none: Primary).
type MultiRegionConfig struct {
	Regions []string `json:"regions"`
	Primary string   `json:"primary"`
	RTT     Duration `json:"rtt"`
	Lag     Duration `json:"lag"`
	// App configures each region's app server.
	App AppConfig `json:"app"`
	// Cache configures each region's cache.
	Cache CacheTierConfig `json:"cache"`
	// PrimaryDB is the primary region's database.
	PrimaryDB DBConfig `json:"primary_db"`
	// Replica configures each other region's replica.
	Replica DBConfig `json:"replica"`
	// Shop configures the shop flow (POST /login, …; see StartTopology).
	Shop ShopConfig `json:"shop"`
	// EdgeOptions add a gateway and db breakers (JSON "gateway", "breaker").
	EdgeOptions
}

// The bundled costs, the same in every topology so that only the
// architecture changes from one stage to the next: the app's own work
// 4 ms a request, a db read 9 ms and a db write 18 ms, each log-normal
// with a p99 of four times its mean. They are long beside the cost of
// HTTP over loopback, so that the timers, not the machine, set the
// ceilings (see the package doc).
func defaultApp(slots int) AppConfig {
	return AppConfig{Slots: slots, QueueLimit: 256, Service: resource.LogNormalP99(4*time.Millisecond, 16*time.Millisecond)}
}

func defaultDB(pool int) DBConfig {
	return DBConfig{
		Pool:       pool,
		QueueLimit: 256,
		Read:       resource.LogNormalP99(9*time.Millisecond, 36*time.Millisecond),
		Write:      resource.LogNormalP99(18*time.Millisecond, 72*time.Millisecond),
	}
}

// defaultCache holds 1,000 entries for 10 minutes. Against Zipf keys it
// is small beside the key space, so LRU eviction, not the run's length,
// sets its hit rate, and it reaches that rate within a few thousand
// reads: about 67 % for keys drawn by {{zipf 1.1 100000}}. The TTL is
// longer than a stage, so no burst of expiries lands inside one.
func defaultCache() CacheTierConfig {
	return CacheTierConfig{Capacity: 1_000, TTL: Duration(10 * time.Minute), Policy: data.CacheAside}
}

// DefaultSingleBoxConfig returns 4 CPUs shared by an app of 16 slots and
// a db of 8 connections: about 290 req/s, limited by the CPUs.
func DefaultSingleBoxConfig() SingleBoxConfig {
	return SingleBoxConfig{CPUs: 4, CPUQueueLimit: 1024, App: defaultApp(16), DB: defaultDB(8), Shop: defaultShop()}
}

// DefaultSplitConfig returns the single box's app (16 slots) and a db of
// 5 connections on a machine of its own: about 505 req/s, limited by the
// db.
func DefaultSplitConfig() SplitConfig {
	return SplitConfig{App: defaultApp(16), DB: defaultDB(5), Shop: defaultShop()}
}

// DefaultCacheConfig returns an app of 16 slots, a 1,000-entry cache (TTL
// 10 minutes) and a db of 4 connections: about 890 req/s, limited by the
// db.
func DefaultCacheConfig() CacheConfig {
	return CacheConfig{App: defaultApp(16), Cache: defaultCache(), DB: defaultDB(4), Shop: defaultShop()}
}

// DefaultLBConfig returns 2 apps of 12 slots behind a round-robin
// balancer checking health every second, one cache and a db of 5
// connections: about 1,110 req/s, limited by the db.
func DefaultLBConfig() LBConfig {
	return LBConfig{
		Apps: 2, Algorithm: lb.RoundRobin, HealthInterval: Duration(time.Second),
		App: defaultApp(12), Cache: defaultCache(), DB: defaultDB(5), Shop: defaultShop(),
	}
}

// DefaultReplicasConfig returns an app of 24 slots, a cache, a primary of
// 4 connections and 2 replicas of 2, 100 ms behind: about 1,480 req/s,
// limited by the replicas' reads.
func DefaultReplicasConfig() ReplicasConfig {
	return ReplicasConfig{
		App: defaultApp(24), Cache: defaultCache(), Primary: defaultDB(4), Replica: defaultDB(2),
		Replicas: 2, Lag: Duration(100 * time.Millisecond), Shop: defaultShop(),
	}
}

// DefaultShardingConfig returns an app of 64 slots, a cache and 4 shards
// of 2 connections: about 1,780 req/s, limited by the shards. The app has
// slots to spare so that it keeps every shard's queue fed.
func DefaultShardingConfig() ShardingConfig {
	return ShardingConfig{App: defaultApp(64), Cache: defaultCache(), Shards: 4, Shard: defaultDB(2), Shop: defaultShop()}
}

// DefaultQueueConfig returns an app of 64 slots, a cache, 5 shards of 2
// connections, 16 workers, a job queue of 1,000 and 5 attempts: about
// 2,220 req/s, limited by the shards, whether writes come as POST /items
// (written at once) or POST /jobs (queued).
func DefaultQueueConfig() QueueConfig {
	return QueueConfig{
		App: defaultApp(64), Cache: defaultCache(), Shards: 5, Shard: defaultDB(2),
		Workers: 16, QueueLimit: 1000, MaxAttempts: 5, Shop: defaultShop(),
	}
}

// DefaultMultiRegionConfig returns regions us-east (primary), eu-west and
// ap-south, 80 ms apart, replicas 100 ms behind, an app of 16 slots and a
// cache in each, a primary db of 12 connections and replicas of 4: about
// 2,910 req/s with load spread evenly, limited by the passive regions'
// apps, whose slots wait out the RTT of forwarded writes.
func DefaultMultiRegionConfig() MultiRegionConfig {
	return MultiRegionConfig{
		Regions: []string{"us-east", "eu-west", "ap-south"}, Primary: "us-east",
		RTT: Duration(80 * time.Millisecond), Lag: Duration(100 * time.Millisecond),
		App: defaultApp(16), Cache: defaultCache(), PrimaryDB: defaultDB(12), Replica: defaultDB(4),
		Shop: defaultShop(),
	}
}

// check collects validation errors, each naming its JSON field.
type check struct{ errs []error }

func (c *check) need(ok bool, field, format string, args ...any) {
	if !ok {
		c.errs = append(c.errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
}

func (c *check) dist(field string, d resource.Dist) {
	if err := d.Validate(); err != nil {
		c.errs = append(c.errs, fmt.Errorf("%s: %w", field, err))
	}
}

func (c *check) err() error { return errors.Join(c.errs...) }

func (c *check) app(field string, a AppConfig) {
	c.need(a.Slots >= 1 && a.Slots <= resource.MaxSlots, field+".slots", "must be from 1 to %d (got %d)", resource.MaxSlots, a.Slots)
	c.need(a.QueueLimit >= 0 && a.QueueLimit <= resource.MaxQueueLimit, field+".queue_limit", "must be from 0 to %d (got %d)", resource.MaxQueueLimit, a.QueueLimit)
	c.dist(field+".service", a.Service)
}

func (c *check) db(field string, d DBConfig) {
	c.need(d.Pool >= 1 && d.Pool <= resource.MaxSlots, field+".pool", "must be from 1 to %d (got %d)", resource.MaxSlots, d.Pool)
	c.need(d.QueueLimit >= 0 && d.QueueLimit <= resource.MaxQueueLimit, field+".queue_limit", "must be from 0 to %d (got %d)", resource.MaxQueueLimit, d.QueueLimit)
	c.dist(field+".read", d.Read)
	c.dist(field+".write", d.Write)
}

func (c *check) cache(field string, t CacheTierConfig, optional bool) {
	lo := 1
	if optional {
		lo = 0
	}
	c.need(t.Capacity >= lo && t.Capacity <= data.MaxCacheEntries, field+".capacity", "must be from %d to %d (got %d)", lo, data.MaxCacheEntries, t.Capacity)
	c.need(t.TTL >= 0 && time.Duration(t.TTL) <= data.MaxTTL, field+".ttl", "must be from 0s (never expire) to %v (got %v)", data.MaxTTL, time.Duration(t.TTL))
	c.need(t.Policy == data.CacheAside || t.Policy == data.WriteThrough || t.Policy == data.WriteBehind, field+".policy", "must be cache-aside, write-through or write-behind (got %d)", int(t.Policy))
	c.need(t.Eviction == data.LRU || t.Eviction == data.LFU, field+".eviction", "must be lru or lfu (got %d)", int(t.Eviction))
	c.need(t.FlushInterval == 0 || (time.Duration(t.FlushInterval) >= data.MinFlushInterval && time.Duration(t.FlushInterval) <= data.MaxFlushInterval),
		field+".flush_interval", "must be 0s (default) or from %v to %v (got %v)", data.MinFlushInterval, data.MaxFlushInterval, time.Duration(t.FlushInterval))
}

func (c *check) count(field string, n, hi int) {
	c.need(n >= 1 && n <= hi, field, "must be from 1 to %d (got %d)", hi, n)
}

// maxTopologyNodes bounds the app servers, replicas, shards and regions of
// a topology.
const maxTopologyNodes = 64

// Validate reports every problem, each naming its JSON field.
func (c SingleBoxConfig) Validate() error {
	var k check
	k.need(c.CPUs >= 1 && c.CPUs <= resource.MaxSlots, "cpus", "must be from 1 to %d (got %d)", resource.MaxSlots, c.CPUs)
	k.need(c.CPUQueueLimit >= 0 && c.CPUQueueLimit <= resource.MaxQueueLimit, "cpu_queue_limit", "must be from 0 to %d (got %d)", resource.MaxQueueLimit, c.CPUQueueLimit)
	k.app("app", c.App)
	k.db("db", c.DB)
	k.shop("shop", c.Shop)
	return k.err()
}

// Validate reports every problem, each naming its JSON field.
func (c SplitConfig) Validate() error {
	var k check
	k.app("app", c.App)
	k.db("db", c.DB)
	k.shop("shop", c.Shop)
	return k.err()
}

// Validate reports every problem, each naming its JSON field.
func (c CacheConfig) Validate() error {
	var k check
	k.app("app", c.App)
	k.cache("cache", c.Cache, false)
	k.db("db", c.DB)
	k.shop("shop", c.Shop)
	return k.err()
}

// Validate reports every problem, each naming its JSON field.
func (c LBConfig) Validate() error {
	var k check
	k.count("apps", c.Apps, maxTopologyNodes)
	k.need(c.Algorithm.Valid(), "algorithm", "must be one of round_robin, weighted_round_robin, least_connections, ip_hash, random, least_response_time (got %q)", c.Algorithm)
	k.need(c.HealthInterval == 0 || (time.Duration(c.HealthInterval) >= 10*time.Millisecond && time.Duration(c.HealthInterval) <= lb.MaxHealthInterval),
		"health_interval", "must be 0s (off) or from 10ms to %v (got %v)", lb.MaxHealthInterval, time.Duration(c.HealthInterval))
	k.app("app", c.App)
	k.cache("cache", c.Cache, true)
	k.db("db", c.DB)
	k.shop("shop", c.Shop)
	return k.err()
}

// Validate reports every problem, each naming its JSON field.
func (c ReplicasConfig) Validate() error {
	var k check
	k.app("app", c.App)
	k.cache("cache", c.Cache, true)
	k.db("primary", c.Primary)
	k.db("replica", c.Replica)
	k.count("replicas", c.Replicas, maxTopologyNodes)
	k.need(c.Lag >= 0 && time.Duration(c.Lag) <= data.MaxLag, "lag", "must be from 0s to %v (got %v)", data.MaxLag, time.Duration(c.Lag))
	k.shop("shop", c.Shop)
	return k.err()
}

// Validate reports every problem, each naming its JSON field.
func (c ShardingConfig) Validate() error {
	var k check
	k.app("app", c.App)
	k.cache("cache", c.Cache, true)
	k.count("shards", c.Shards, maxTopologyNodes)
	k.db("shard", c.Shard)
	k.need(c.Partitioning == data.HashPartitioning || c.Partitioning == data.RegionPartitioning || c.Partitioning == data.TenantPartitioning,
		"partitioning", "must be hash, region or tenant (got %v)", c.Partitioning)
	k.need(len(c.Routes) == 0 || c.Partitioning != data.HashPartitioning, "routes", "must be empty with hash partitioning (got %d)", len(c.Routes))
	for name, i := range c.Routes {
		k.need(name != "" && len(name) <= data.MaxClientBytes && i >= 0 && i < c.Shards, fmt.Sprintf("routes[%q]", name), "must place a name of 1 to %d bytes on a shard from 0 to %d (got %d)", data.MaxClientBytes, c.Shards-1, i)
	}
	k.shop("shop", c.Shop)
	return k.err()
}

// Validate reports every problem, each naming its JSON field.
func (c QueueConfig) Validate() error {
	var k check
	k.app("app", c.App)
	k.cache("cache", c.Cache, true)
	k.count("shards", c.Shards, maxTopologyNodes)
	k.db("shard", c.Shard)
	k.count("workers", c.Workers, 10_000)
	k.count("queue_limit", c.QueueLimit, 1_000_000)
	k.count("max_attempts", c.MaxAttempts, 100)
	k.shop("shop", c.Shop)
	return k.err()
}

// Validate reports every problem, each naming its JSON field.
func (c MultiRegionConfig) Validate() error {
	var k check
	k.need(len(c.Regions) >= 2 && len(c.Regions) <= maxTopologyNodes, "regions", "must name from 2 to %d regions (got %d)", maxTopologyNodes, len(c.Regions))
	seen := map[string]bool{}
	for i, r := range c.Regions {
		k.need(r != "" && len(r) <= data.MaxClientBytes, fmt.Sprintf("regions[%d]", i), "must be a name of 1 to %d bytes (got %q)", data.MaxClientBytes, r)
		k.need(!seen[r], fmt.Sprintf("regions[%d]", i), "repeats %q", r)
		seen[r] = true
	}
	k.need(seen[c.Primary], "primary", "must be one of regions (got %q)", c.Primary)
	k.need(c.RTT >= 0 && time.Duration(c.RTT) <= data.MaxRTT, "rtt", "must be from 0s to %v (got %v)", data.MaxRTT, time.Duration(c.RTT))
	k.need(c.Lag >= 0 && time.Duration(c.Lag) <= data.MaxLag, "lag", "must be from 0s to %v (got %v)", data.MaxLag, time.Duration(c.Lag))
	k.app("app", c.App)
	k.cache("cache", c.Cache, true)
	k.db("primary_db", c.PrimaryDB)
	k.db("replica", c.Replica)
	k.shop("shop", c.Shop)
	return k.err()
}
