// Package data holds the data-tier components of Surge's reference
// topologies: a [Cache] (LRU + TTL, cache-aside or write-through),
// [Replicas] (a primary with read replicas, replication lag and
// read-your-writes), [Shards] (hash or range partitioning over several
// primaries) and [Regions] (nearest-region reads, writes forwarded to one
// primary region across an inter-region round trip). Each is a [Store],
// and most wrap other Stores, so the scaling staircase is built by
// nesting them:
//
//	db, _ := resource.NewDB("db", resource.DefaultDBConfig(), reg)
//	table, _ := data.NewTable("items", data.DefaultTableConfig(), db, reg)
//	cache, _ := data.NewCache("cache", data.DefaultCacheConfig(), table, nil, reg)
//	item, err := cache.Get(ctx, "42") // a miss pays db's read cost; a hit does not
//
// The components keep keys and versions, not values: a version is enough
// to show a stale read, and memory per key stays small and bounded. Time
// is spent only on timers: the capacity of every node is a [Backend]
// (service time and concurrency), such as the DB of targets/resource, and
// a nil Backend is free. No component burns CPU to
// model work, so a target shares a machine with its load generator.
//
// Nothing sets a hit rate or a stale-read rate: they arise from the keys,
// the timing and the mix of the load, so what Surge measures can be
// checked against what the planning arithmetic predicts (Che's
// approximation for the cache's hit rate, Slots ÷ service time for a
// node's saturation throughput).
//
// Requests identify their client and region by headers the scenario
// sets; [WithHeaders] copies them into the request context, where
// Replicas and Regions read them ([ClientFrom], [RegionFrom]).
//
// Metrics: every constructor takes an instance name and a
// prometheus.Registerer (nil: do not register) and exposes its series
// with the label component=name, under the names shared by all target
// components (surge_target_requests_total, surge_target_utilisation,
// surge_target_queue_depth, surge_target_pool_waits_total,
// surge_target_rejected_total) and its own (surge_target_cache_hits_total,
// surge_target_cache_misses_total, surge_target_cache_hit_ratio,
// surge_target_replication_lag_seconds, …); each type's documentation
// lists them.
//
// Concurrency: every exported type is safe for concurrent use after its
// constructor returns. No component starts a goroutine, so none needs
// closing; an operation blocks its caller for its service time and ends
// early, with ctx.Err(), when its context ends.
package data
