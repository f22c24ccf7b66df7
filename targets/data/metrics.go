package data

import (
	"github.com/surgeload/surge/targets/internal/metricdef"
)

// Names and help texts of the metrics. The first group is shared by every
// target component, from metricdef: Prometheus allows one help text per
// metric name in a registry.
const (
	metricRequests    = metricdef.Requests
	helpRequests      = metricdef.HelpRequests
	metricRejected    = metricdef.Rejected
	helpRejected      = metricdef.HelpRejected
	metricUtilisation = metricdef.Utilisation
	helpUtilisation   = metricdef.HelpUtilisation
	metricQueueDepth  = metricdef.QueueDepth
	helpQueueDepth    = metricdef.HelpQueueDepth
	metricPoolWaits   = metricdef.PoolWaits
	helpPoolWaits     = metricdef.HelpPoolWaits
	metricSlots       = metricdef.Slots
	helpSlots         = metricdef.HelpSlots
	metricBusySeconds = metricdef.BusySeconds
	helpBusySeconds   = metricdef.HelpBusySeconds

	metricCacheHits      = "surge_target_cache_hits_total"
	helpCacheHits        = "Cache lookups that found a live entry."
	metricCacheMisses    = "surge_target_cache_misses_total"
	helpCacheMisses      = "Cache lookups that found no live entry and went to the origin."
	metricCacheHitRatio  = "surge_target_cache_hit_ratio"
	helpCacheHitRatio    = "Hits divided by lookups since the cache started, from 0 to 1 (0 before the first lookup)."
	metricCacheEntries   = "surge_target_cache_entries"
	helpCacheEntries     = "Entries the cache holds, live or expired but not yet removed."
	metricCacheEvictions = "surge_target_cache_evictions_total"
	helpCacheEvictions   = "Entries the cache removed, by reason: capacity (least recently used) or expired (TTL)."

	metricCacheUnflushed   = "surge_target_cache_unflushed_writes"
	helpCacheUnflushed     = "Writes a write-behind cache acknowledged that are not yet on the origin: the writes lost if the cache fails now."
	metricCacheWriteBehind = "surge_target_cache_write_behind_total"
	helpCacheWriteBehind   = "Writes of a write-behind cache, by path: cached (acknowledged before the origin), flushed (written to the origin later), through (written to the origin at once because too many keys were dirty) and retried (a flush the origin refused, kept for the next)."

	metricReplicationLag = "surge_target_replication_lag_seconds"
	helpReplicationLag   = "Delay after which a write committed on the primary becomes visible on the replicas."
	metricReplicaReads   = "surge_target_replica_reads_total"
	helpReplicaReads     = "Reads served, by the node that served them: primary or replica-N."
	metricStaleReads     = "surge_target_stale_reads_total"
	helpStaleReads       = "Reads that returned an older version of the key than the primary held."
	metricRYWReads       = "surge_target_read_your_writes_total"
	helpRYWReads         = "Reads sent to the primary because their client wrote within the read-your-writes window."

	metricKeys = "surge_target_keys"
	helpKeys   = "Keys the store holds."

	metricShardRequests = "surge_target_shard_requests_total"
	helpShardRequests   = "Operations routed to each shard."

	metricRegionRequests  = "surge_target_region_requests_total"
	helpRegionRequests    = "Operations served, by the region whose store served them."
	metricForwardedWrites = "surge_target_forwarded_writes_total"
	helpForwardedWrites   = "Writes forwarded from a client's region to the primary region, paying the inter-region round trip."
)
