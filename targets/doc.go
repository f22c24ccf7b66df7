// Package targets holds the reference target servers that Surge runs its
// load against: systems with known, configurable behaviour, so that what
// the load generator measures can be checked against what the target is
// known to do. Each one is a bundled topology with a name ("echo"), used
// by `bundled:` stages of a scenario and by the target command.
//
// A target is a plain http.Handler (for example [NewEcho]) and a [Server]
// that serves one on a TCP address, in the manner of net/http/httptest:
//
//	srv, err := targets.StartEcho("127.0.0.1:0", targets.DefaultEchoConfig())
//	if err != nil {
//		return err
//	}
//	defer srv.Close()
//	resp, err := http.Get(srv.URL + "/health")
//
// # Reference topologies
//
// Besides echo, the registry holds the eight reference topologies of the
// scaling staircase (single-box, split, cache, lb, replicas, sharding,
// queue, multi-region), each assembled from the components of
// targets/resource, targets/data, targets/lb and targets/queue, each
// serving the same API (see [StartTopology]) and a Prometheus /metrics of
// its own:
//
//	cfg := targets.DefaultCacheConfig()
//	cfg.Cache.Capacity = 50_000
//	srv, err := targets.StartTopology("cache", "127.0.0.1:0", cfg)
//
// Every topology is described by a config struct (SingleBoxConfig,
// SplitConfig, …) whose Default…Config function gives the bundled
// capacities. They are sized for a 2-core machine that also runs the load
// generator: all work is modelled with timers, never by burning CPU.
//
// # The shop flow
//
// So that user journeys (login, browse, cart, checkout) run out of the
// box, every topology but echo also serves a small shop (see
// [StartTopology] for the routes and bodies): POST /login answers a fresh
// random bearer token and sets a fresh session cookie
// (session=<id>; Path=/; HttpOnly; SameSite=Lax); GET /shop/items/{id},
// POST /cart and POST /checkout need both, from the same login, and
// answer 401 with WWW-Authenticate: Bearer otherwise. Every request to
// those three routes is counted by outcome (ok, missing_token,
// unknown_token, missing_cookie, unknown_session, mismatch: a token of one
// session shown with another session's cookie, as when a journey uses a
// token it was not issued) in GET /shop/stats, in
// surge_target_auth_requests_total{component="shop",outcome} on /metrics
// and through [Server.Shop].
//
// The shop routes are served behind the app servers like the item API, and
// sessions are kept as real systems keep them, in the shared store: the
// store the item API uses, so the cache where the topology has one (a
// cache-aside cache over the db; multi-region: the client's region's) and
// else the db. Each operation is one call on that store, with the
// store's own costs and counters:
//
//	POST /login              one write of the session's row
//	authenticated request    one read of the session's row, when it shows a token and a
//	                         cookie (a request missing either is refused before any lookup)
//	GET /shop/items/{id}     then one item read, as GET /items/{id}
//	POST /cart               then one write of the session's row (the cart is in the session)
//	POST /checkout           then one write of the session's order row; 409 if the cart is empty
//
// Behind a cache-aside cache a write goes to the db and drops the cached
// row, so the first read after a login or a cart change misses and the
// next ones hit; the sessions share the cache's entries with the items, so
// a journey-heavy load lowers the items' hit rate as it would in a shared
// Redis. Rows are keyed by session slot ("session/<n>", "order/<n>"),
// never by login, and the shop holds at most ShopConfig.MaxSessions
// sessions (default 10,000), evicting the least recently used one (counted
// in sessions_evicted and surge_target_session_evictions_total): a long
// run of logins grows neither the shop's memory nor the store's keys. A
// cart holds at most 32 different items and 1,000 of one (409 beyond).
//
// # Expected ceilings of the default configs
//
// The defaults are sized so that the staircase climbs, stage by stage, on
// a 2-core machine that also runs the load generator and the coordinator:
// from about 290 to about 2,900 req/s, each stage at least 16 % above
// the one before (measured), the top one below the 3,000–5,000 req/s
// where such a machine becomes the bottleneck itself (HTTP over loopback, and the lb's
// extra proxy hop).
//
// Arithmetic: a component saturates at slots ÷ mean service time, and a
// stage at its smallest such limit. Every topology has the same costs:
// app service 4 ms a request; db read 9 ms, write 18 ms (log-normal, p99
// four times the mean). The mix assumed is 90 % reads (GET /items/{id},
// keys drawn by {{zipf 1.1 100000}}) and 10 % writes (POST /items, or
// POST /jobs, which every topology but queue also writes at once), with a
// cache hit rate h = 2/3 where there is a cache. So the database work of
// a request is 0.9 × 9 + 0.1 × 18 = 9.9 ms uncached and
// 0.9 × (1 − h) × 9 + 0.1 × 18 = 2.7 + 1.8 = 4.5 ms behind the cache. An
// app slot is held for the app's own work plus everything downstream of
// it: 13.9 ms a request uncached, 8.5 ms behind the cache (6.7 ms in the
// queue topology with POST /jobs, whose writes only enqueue).
//
// The hit rate is not assumed but arises from the load. The default cache
// holds 1,000 entries, small beside the 100,000 keys, so LRU eviction
// rather than the run's length sets its hit rate and it is reached within
// a few thousand reads; the TTL (10 minutes) outlasts a stage. Writes that
// name no id (a body like {"n": 1}) create new items and never evict a
// cached one.
//
//	topology      ceiling       bottleneck           working
//	single-box      ~290 req/s  box CPUs             4 CPUs ÷ (4 + 9.9) ms (db 8 ÷ 9.9 ms = 808; app 16 ÷ 13.9 ms = 1,151)
//	split           ~505 req/s  db pool              5 conns ÷ 9.9 ms (app 16 ÷ 13.9 ms = 1,151)
//	cache           ~890 req/s  db pool              4 ÷ 4.5 ms (app 16 ÷ 8.5 ms = 1,882)
//	lb            ~1,110 req/s  db pool              5 ÷ 4.5 ms (apps 2 × 12 ÷ 8.5 ms = 2,824)
//	replicas      ~1,390 req/s  replicas (reads)     2 × 2 ÷ (0.9 × ⅓ × 9) ms = 4 ÷ 2.7 ms = 1,480, less the app's 24 slots' waits (below)
//	                                                 (primary 4 ÷ 1.8 ms = 2,222; app 24 ÷ 8.5 ms = 2,824)
//	sharding      ~1,700 req/s  shards               4 × 2 ÷ 4.5 ms = 1,780, less the app's 64 slots' waits (below) (app 64 ÷ 8.5 ms = 7,529)
//	queue         ~2,220 req/s  shards               5 × 2 ÷ 4.5 ms, with POST /items or POST /jobs alike (app 64 ÷ 8.5 ms = 7,529,
//	                                                 or 64 ÷ 6.7 ms = 9,552 with POST /jobs; 16 workers ÷ 18 ms ÷ 10 % = 8,889)
//	multi-region  ~2,910 req/s  passive-region apps  3 × 16 ÷ (4 + 2.7 + 0.1 × (18 + 80)) ms with the load spread evenly over
//	                                                 3 regions: a forwarded write holds its app slot for the 80 ms RTT
//	                                                 (primary db 12 ÷ (1.8 + ⅓ × 2.7) ms = 4,444; each replica 4 ÷ (⅓ × 2.7) ms = 4,444)
//
// Measured (2026-11-23, on the 2-core machine that also ran the
// generator and coordinator: `coordinator run --agents 1` in embedded
// mode, one bundled stage per run, a stepped open load of 12 s steps from
// 0.7 (or 0.75) to 1.3 (or 1.2) times the ceiling above, the mix above
// with X-Region: "{{choice us-east eu-west ap-south}}" on every request; the ceiling is
// the plateau of succeeded/s, the mean over the last 9 s of the steps past
// it; the hit rate from the target's /metrics):
//
//	topology      measured      bottleneck (/metrics)     cache hit rate
//	single-box      ~290 req/s  box-cpu                   –
//	split           ~510 req/s  db                        –
//	cache           ~880 req/s  db                        0.66, steady from the first 2 s
//	lb            ~1,130 req/s  db                        0.67
//	replicas      ~1,475 req/s  replica-0, replica-1      0.66
//	sharding      ~1,710 req/s  shard-0 … shard-3         0.66
//	queue         ~2,110 req/s  shard-0 … shard-4         0.66 (POST /items; ~2,250 with POST /jobs)
//	multi-region  ~2,800 req/s  app-eu-west, app-ap-south 0.66
//
// (Multi-region was measured with one read request per region, each with
// a fixed X-Region. Before the engine drew each field of a request on its
// own seed, a {{choice}} in X-Region was a function of the path's {{zipf}}
// key, so the passive regions got the hot keys and the primary db bound
// first at ~2,870 req/s.) Where a db is the bottleneck the app has slots
// to spare (sharding's 64): an app slot waits in the db's queue, and with
// too few slots the app saturates first (30 slots measured ~1,580 req/s
// for sharding). The planning arithmetic (internal/predict) counts that
// wait: it solves the app tier and the components it calls as a closed
// network of the app's slots (exact mean value analysis) and takes that
// throughput when it is more than 5% below servers ÷ demand — replicas
// and sharding above.
//
// examples/staircase.yaml plays all eight in one run (a compressed launch
// day with 5x spikes to ~4,150 req/s); in the run recorded in the README
// the measured ceilings were 284, 503, 891, 1,155, 1,408, 1,708, 2,309
// and 2,921 req/s, each within 5% of the arithmetic at the hit rate the
// stage measured, with the bottleneck the arithmetic names.
//
// # Beside the staircase: cdn and autoscale
//
// Two more reference topologies take the seeds' other moves, with the
// same costs:
//
//	topology   ceiling       bottleneck  working
//	cdn        ~1,310 req/s  db          an edge (8 slots, 1 ms a request, 1 ms more to store a miss) holding
//	                                     10,000 responses in front of app (16) + db (4): Che's approximation
//	                                     for {{zipf 1.1 100000}} and 10,000 entries gives h ≈ 0.845, so the db
//	                                     does 0.9 × 0.155 × 9 + 0.1 × 18 = 3.06 ms a request: 4 ÷ 3.06 ms
//	                                     (app 16 ÷ 4.0 ms = 3,990; edge 8 ÷ 1.14 ms = 7,020)
//	autoscale  ~3,060 req/s  app-*       10 to 26 instances of 1 slot, scaled on measured busy time to 60 %,
//	                                     3 s to provision, 15 s cool-down; cache, db (16): 26 ÷ 8.5 ms at
//	                                     the maximum (10 instances carry 1,180; db 16 ÷ 4.5 ms = 3,560)
//
// The cdn's hit rate is the origin's multiplier: the origin's capacity
// for reads divided by 1 − h, bounded by the edge's own. The autoscaler's
// instance counts are on /metrics (surge_target_instances,
// …_instances_provisioning, …_instances_wanted, component="autoscaler"),
// so a report shows the tier growing under a spike after its provisioning
// delay (the hockey-stick of latency while it provisions) and shrinking
// after the cool-down.
//
// Options of the other stages: least_response_time balancing (lb), an
// LFU eviction and a write-behind policy for the caches (the unflushed
// writes, the loss window, as surge_target_cache_unflushed_writes), and
// region or tenant partitioning for the sharding stage (by X-Region or
// X-Tenant, with explicit routes).
//
// The package stands alone: it never imports the load-generation side of
// Surge, so a target can be run and tested without it.
//
// Concurrency: handlers serve any number of requests concurrently. A
// Server's goroutines, and those of the topology it serves (job workers,
// health checks, the lb's backend listeners), end when Close returns;
// Close may be called from any goroutine, any number of times.
package targets
