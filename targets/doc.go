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
// # Expected ceilings of the default configs
//
// Arithmetic, not measurement: a component saturates at slots ÷ mean
// service time, and a stage at its smallest such limit. The mix assumed is
// 90 % reads (GET /items/{id}) and 10 % writes (POST /items or POST /jobs),
// with a cache hit rate of 80 % where there is a cache (the real hit rate
// arises from the key popularity of the load: Zipf keys over a few tens of
// thousands of items give about that with 10,000 entries). Default costs:
// app service 2 ms a request; db read 4.5 ms, write 9 ms; so the database
// work of a request is 0.9 × 4.5 + 0.1 × 9 = 4.95 ms uncached and
// 0.9 × 0.2 × 4.5 + 0.1 × 9 = 1.71 ms behind the cache. An app slot is held
// for the app's own work plus everything downstream of it.
//
//	topology      ceiling       bottleneck           working
//	single-box      ~290 req/s  box CPUs             2 CPUs ÷ (2 + 4.95) ms
//	split           ~810 req/s  db pool              4 conns ÷ 4.95 ms (app: 8 ÷ 6.95 ms = 1,150)
//	cache         ~2,160 req/s  app slots            8 ÷ (2 + 1.71) ms (db: 4 ÷ 1.71 ms = 2,340)
//	lb            ~4,310 req/s  app slots (2 apps)   2 × 8 ÷ 3.71 ms (db: 8 ÷ 1.71 ms = 4,680)
//	replicas      ~4,440 req/s  primary (writes)     4 ÷ 9 ms ÷ 10 % (app 24 ÷ 3.71 ms = 6,470; 2 replicas 8 ÷ 4.5 ms ÷ 18 % = 9,880)
//	sharding      ~6,470 req/s  app slots            24 ÷ 3.71 ms (3 shards × 4 ÷ 1.71 ms = 7,020)
//	queue         ~6,780 req/s  app slots            24 ÷ (0.9 × 3.71 + 0.1 × 2) ms (shards 7,020; 8 workers ÷ 9 ms ÷ 10 % = 8,890)
//	multi-region  ~6,150 req/s  passive-region apps  3 × 24 ÷ (2 + 0.81 + 0.1 × (9 + 80)) ms with the load spread evenly over
//	                                                 3 regions: a forwarded write holds its app slot for the 80 ms RTT
//	                                                 (primary db: 8 ÷ (0.1 × 9 + ⅓ × 0.18 × 4.5) ms = 6,840)
//
// Past about 3,000–5,000 req/s a 2-core machine running the generator too
// becomes the bottleneck itself (HTTP over loopback, and the lb's extra
// proxy hop), so measurements of the last steps are bounded by the
// machine rather than by the modelled components: give the target a
// machine of its own to see them.
//
// The package stands alone: it never imports the load-generation side of
// Surge, so a target can be run and tested without it.
//
// Concurrency: handlers serve any number of requests concurrently. A
// Server's goroutines, and those of the topology it serves (job workers,
// health checks, the lb's backend listeners), end when Close returns;
// Close may be called from any goroutine, any number of times.
package targets
