package targets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/surgeload/surge/targets/data"
	"github.com/surgeload/surge/targets/lb"
	"github.com/surgeload/surge/targets/queue"
	"github.com/surgeload/surge/targets/resource"
)

// assembly is a topology being built: its registry and what must be
// stopped when it closes.
type assembly struct {
	reg     *prometheus.Registry
	closers []func() error
	edge    edgeParts      // the gateway and breakers (gateway.go)
	clock   resource.Clock // of the apps, dbs and CPUs; nil: the system clock
}

// simClock, nil outside tests, is the Clock of the simulated components
// of every topology built: the tests set one whose timers fire late, to
// play a loaded machine on fake time (export_test.go).
var simClock resource.Clock

func newAssembly() *assembly { return &assembly{reg: prometheus.NewRegistry(), clock: simClock} }

func (a *assembly) onClose(f func() error) { a.closers = append(a.closers, f) }

// close runs the closers, last added first.
func (a *assembly) close() error {
	var errs []error
	for _, f := range slices.Backward(a.closers) {
		errs = append(errs, f())
	}
	a.closers = nil
	return errors.Join(errs...)
}

func (a *assembly) app(name string, cfg AppConfig, next http.Handler, budget *resource.Resource) (*resource.AppServer, error) {
	return resource.NewAppServer(name, resource.AppServerConfig{
		Slots: cfg.Slots, QueueLimit: cfg.QueueLimit, Service: cfg.Service, Seed: 1,
		Budget: budget, Next: next, Clock: a.clock,
	}, a.reg)
}

func (a *assembly) db(name string, cfg DBConfig, budget *resource.Resource) (*resource.DB, error) {
	return resource.NewDB(name, resource.DBConfig{
		Pool: cfg.Pool, QueueLimit: cfg.QueueLimit, Read: cfg.Read, Write: cfg.Write, Seed: 1, Budget: budget, Clock: a.clock,
	}, a.reg)
}

// table is a database: a key table charged to a db node.
func (a *assembly) table(name string, cfg DBConfig) (data.Store, error) {
	node, err := a.db(name, cfg, nil)
	if err != nil {
		return nil, err
	}
	db, err := a.guard(name, node)
	if err != nil {
		return nil, err
	}
	return data.NewTable(name+"-table", data.DefaultTableConfig(), db, a.reg)
}

// cache puts a cache-aside cache named name in front of origin, unless
// cfg.Capacity is 0.
func (a *assembly) cache(name string, cfg CacheTierConfig, origin data.Store) (data.Store, error) {
	if cfg.Capacity == 0 {
		return origin, nil
	}
	c, err := data.NewCache(name, data.CacheConfig{Capacity: cfg.Capacity, TTL: time.Duration(cfg.TTL), Policy: cfg.Policy,
		Eviction: cfg.Eviction, FlushInterval: time.Duration(cfg.FlushInterval)}, origin, nil, a.reg)
	if err != nil {
		return nil, err
	}
	a.onClose(c.Close) // stops a write-behind cache's flusher
	return c, nil
}

func (a *assembly) shards(cfg CacheTierConfig, n int, shard DBConfig) (data.Store, error) {
	return a.shardsBy(cfg, n, shard, data.DefaultShardsConfig())
}

// shardsBy is shards partitioned as sc says.
func (a *assembly) shardsBy(cfg CacheTierConfig, n int, shard DBConfig, sc data.ShardsConfig) (data.Store, error) {
	stores := make([]data.Store, n)
	for i := range stores {
		t, err := a.table("shard-"+strconv.Itoa(i), shard)
		if err != nil {
			return nil, err
		}
		stores[i] = t
	}
	s, err := data.NewShards("shards", sc, stores, a.reg)
	if err != nil {
		return nil, err
	}
	return a.cache("cache", cfg, s)
}

// topologyHandler is the outer handler of a topology built by the
// registry; it carries the topology's shop for ShopOf.
type topologyHandler struct {
	http.Handler
	shop *Shop
}

// shop makes the topology's shop over store (see newShop).
func (a *assembly) shop(cfg ShopConfig, store data.Store) (*Shop, error) {
	return newShop(cfg, store, a.reg)
}

// front is the topology's outer handler: /health, /metrics and
// /shop/stats answered at once, the API routes (the shop's among them)
// passed to serve, anything else 404 or 405.
func (a *assembly) front(serve http.Handler, shop *Shop) http.Handler {
	serve = a.gateway(serve)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /shop/stats", shop.serveStats)
	for _, route := range shopRoutes {
		mux.Handle(route, serve)
	}
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	for _, route := range []string{"GET /items/{id}", "POST /items", "POST /jobs", "GET /jobs/{id}"} {
		mux.Handle(route, serve)
	}
	return &topologyHandler{Handler: mux, shop: shop}
}

// withHeaders puts the client and region headers into the context.
func withHeaders(h http.Handler) http.Handler {
	out, err := data.WithHeaders(data.DefaultHeaderConfig(), h)
	if err != nil { // cannot happen: the default headers are valid and h is not nil
		panic(err)
	}
	return out
}

func buildSingleBox(c SingleBoxConfig, a *assembly) (http.Handler, error) {
	cpu, err := resource.NewResource("box-cpu", resource.ResourceConfig{Slots: c.CPUs, QueueLimit: c.CPUQueueLimit, Clock: a.clock}, a.reg)
	if err != nil {
		return nil, err
	}
	node, err := a.db("box-db", c.DB, cpu)
	if err != nil {
		return nil, err
	}
	db, err := a.guard("box-db", node)
	if err != nil {
		return nil, err
	}
	table, err := data.NewTable("box-table", data.DefaultTableConfig(), db, a.reg)
	if err != nil {
		return nil, err
	}
	shop, err := a.shop(c.Shop, table)
	if err != nil {
		return nil, err
	}
	app, err := a.app("box-app", c.App, newItemAPI(table, nil, shop), cpu)
	if err != nil {
		return nil, err
	}
	return a.front(app, shop), nil
}

func buildSplit(c SplitConfig, a *assembly) (http.Handler, error) {
	table, err := a.table("db", c.DB)
	if err != nil {
		return nil, err
	}
	shop, err := a.shop(c.Shop, table)
	if err != nil {
		return nil, err
	}
	app, err := a.app("app", c.App, newItemAPI(table, nil, shop), nil)
	if err != nil {
		return nil, err
	}
	return a.front(app, shop), nil
}

func buildCache(c CacheConfig, a *assembly) (http.Handler, error) {
	table, err := a.table("db", c.DB)
	if err != nil {
		return nil, err
	}
	store, err := a.cache("cache", c.Cache, table)
	if err != nil {
		return nil, err
	}
	shop, err := a.shop(c.Shop, store)
	if err != nil {
		return nil, err
	}
	app, err := a.app("app", c.App, newItemAPI(store, nil, shop), nil)
	if err != nil {
		return nil, err
	}
	return a.front(app, shop), nil
}

func buildLB(c LBConfig, a *assembly) (http.Handler, error) {
	table, err := a.table("db", c.DB)
	if err != nil {
		return nil, err
	}
	store, err := a.cache("cache", c.Cache, table)
	if err != nil {
		return nil, err
	}
	shop, err := a.shop(c.Shop, store)
	if err != nil {
		return nil, err
	}
	api := newItemAPI(store, nil, shop)
	cfg := lb.DefaultBalancerConfig()
	cfg.Algorithm = c.Algorithm
	cfg.BackendHeader = "X-Backend"
	cfg.HealthCheck.Interval = time.Duration(c.HealthInterval)
	if cfg.HealthCheck.Timeout > cfg.HealthCheck.Interval && cfg.HealthCheck.Interval > 0 {
		cfg.HealthCheck.Timeout = cfg.HealthCheck.Interval
	}
	for i := range c.Apps {
		name := "app-" + strconv.Itoa(i)
		app, err := a.app(name, c.App, api, nil)
		if err != nil {
			return nil, err
		}
		srv, err := NewServer("127.0.0.1:0", app)
		if err != nil {
			return nil, err
		}
		a.onClose(srv.Close)
		cfg.Backends = append(cfg.Backends, lb.Backend{URL: srv.URL, Name: name})
	}
	bal, err := lb.NewBalancer("lb", cfg, a.reg)
	if err != nil {
		return nil, err
	}
	a.onClose(bal.Close)
	return a.front(bal, shop), nil
}

func buildReplicas(c ReplicasConfig, a *assembly) (http.Handler, error) {
	node, err := a.db("primary", c.Primary, nil)
	if err != nil {
		return nil, err
	}
	primary, err := a.guard("primary", node)
	if err != nil {
		return nil, err
	}
	reps := make([]data.Backend, c.Replicas)
	for i := range reps {
		name := "replica-" + strconv.Itoa(i)
		if node, err = a.db(name, c.Replica, nil); err != nil {
			return nil, err
		}
		if reps[i], err = a.guard(name, node); err != nil {
			return nil, err
		}
	}
	rep, err := data.NewReplicas("replication", data.ReplicasConfig{
		Lag: time.Duration(c.Lag), ReadYourWrites: c.ReadYourWrites, MaxKeys: data.DefaultReplicasConfig().MaxKeys,
	}, primary, reps, a.reg)
	if err != nil {
		return nil, err
	}
	store, err := a.cache("cache", c.Cache, rep)
	if err != nil {
		return nil, err
	}
	shop, err := a.shop(c.Shop, store)
	if err != nil {
		return nil, err
	}
	app, err := a.app("app", c.App, newItemAPI(store, nil, shop), nil)
	if err != nil {
		return nil, err
	}
	return a.front(app, shop), nil
}

func buildSharding(c ShardingConfig, a *assembly) (http.Handler, error) {
	store, err := a.shardsBy(c.Cache, c.Shards, c.Shard, data.ShardsConfig{Partitioning: c.Partitioning, Routes: c.Routes})
	if err != nil {
		return nil, err
	}
	shop, err := a.shop(c.Shop, store)
	if err != nil {
		return nil, err
	}
	app, err := a.app("app", c.App, newItemAPI(store, nil, shop), nil)
	if err != nil {
		return nil, err
	}
	return a.front(app, shop), nil
}

func buildQueue(c QueueConfig, a *assembly) (http.Handler, error) {
	store, err := a.shards(c.Cache, c.Shards, c.Shard)
	if err != nil {
		return nil, err
	}
	qc := queue.DefaultConfig()
	qc.Workers = c.Workers
	qc.QueueLimit = c.QueueLimit
	qc.MaxAttempts = c.MaxAttempts
	qc.PoisonField = ""
	qc.Process = func(ctx context.Context, job queue.Job) error {
		var body jobBody
		if err := json.Unmarshal(job.Body, &body); err != nil || body.Item == "" {
			return fmt.Errorf("job %s: malformed body", job.ID)
		}
		_, err := store.Put(ctx, body.Item)
		return err
	}
	q, err := queue.New("jobs", qc, a.reg)
	if err != nil {
		return nil, err
	}
	a.onClose(q.Close)
	shop, err := a.shop(c.Shop, store)
	if err != nil {
		return nil, err
	}
	app, err := a.app("app", c.App, newItemAPI(store, q, shop), nil)
	if err != nil {
		return nil, err
	}
	return a.front(app, shop), nil
}

func buildMultiRegion(c MultiRegionConfig, a *assembly) (http.Handler, error) {
	node, err := a.db("db-"+c.Primary, c.PrimaryDB, nil)
	if err != nil {
		return nil, err
	}
	primary, err := a.guard("db-"+c.Primary, node)
	if err != nil {
		return nil, err
	}
	var passive []string
	var reps []data.Backend
	for _, r := range c.Regions {
		if r == c.Primary {
			continue
		}
		node, err := a.db("replica-"+r, c.Replica, nil)
		if err != nil {
			return nil, err
		}
		db, err := a.guard("replica-"+r, node)
		if err != nil {
			return nil, err
		}
		passive = append(passive, r)
		reps = append(reps, db)
	}
	rep, err := data.NewReplicas("replication", data.ReplicasConfig{Lag: time.Duration(c.Lag), MaxKeys: data.DefaultReplicasConfig().MaxKeys}, primary, reps, a.reg)
	if err != nil {
		return nil, err
	}
	stores := map[string]data.Store{}
	if stores[c.Primary], err = a.cache("cache-"+c.Primary, c.Cache, rep.Primary()); err != nil {
		return nil, err
	}
	for i, r := range passive {
		if stores[r], err = a.cache("cache-"+r, c.Cache, rep.Replica(i)); err != nil {
			return nil, err
		}
	}
	regions, err := data.NewRegions("regions", data.RegionsConfig{Primary: c.Primary, RTT: time.Duration(c.RTT)}, stores, a.reg)
	if err != nil {
		return nil, err
	}
	shop, err := a.shop(c.Shop, regions)
	if err != nil {
		return nil, err
	}
	api := newItemAPI(regions, nil, shop)
	apps := map[string]http.Handler{}
	for _, r := range c.Regions {
		if apps[r], err = a.app("app-"+r, c.App, api, nil); err != nil {
			return nil, err
		}
	}
	header := http.CanonicalHeaderKey(data.DefaultHeaderConfig().Region)
	known := slices.Sorted(func(yield func(string) bool) {
		for r := range apps {
			if !yield(r) {
				return
			}
		}
	})
	route := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		region := r.Header.Get(header)
		if region == "" {
			region = c.Primary
		}
		app, ok := apps[region]
		if !ok {
			http.Error(w, fmt.Sprintf("unknown region %q in %s (known: %v)", region, header, known), http.StatusBadRequest)
			return
		}
		app.ServeHTTP(w, r)
	})
	return a.front(route, shop), nil
}
