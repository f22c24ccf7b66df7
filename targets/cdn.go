package targets

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/surgeload/surge/targets/data"
	"github.com/surgeload/surge/targets/resource"
)

// EdgeConfig is a CDN edge server: a cache of item responses in front of
// the origin, with a capacity of its own.
type EdgeConfig struct {
	// Slots is how many requests the edge works on at once.
	Slots int `json:"slots"`
	// QueueLimit is how many requests may wait for a slot; more get 503
	// with Retry-After.
	QueueLimit int `json:"queue_limit"`
	// Hit is the edge's work per request: the lookup and sending the
	// answer, paid by every request that reaches the edge.
	Hit resource.Dist `json:"hit"`
	// Fill is the extra work of storing a miss's answer (and of purging
	// an entry on a write).
	Fill resource.Dist `json:"fill"`
	// Capacity is how many item responses the edge holds; a new one
	// beyond it evicts per Eviction.
	Capacity int `json:"capacity"`
	// TTL is how long a response stays servable after it was fetched,
	// like "10m"; "0s" never expires. A short TTL lowers the hit rate of
	// rarely read items and bounds how stale a hit can be.
	TTL Duration `json:"ttl"`
	// Eviction is "lru" (the default) or "lfu".
	Eviction data.Eviction `json:"eviction,omitempty"`
}

// CDNConfig is a CDN edge in front of the origin stack: an app server
// and its database. GET /items/{id} is answered by the edge when it holds
// a live copy and otherwise fetched from the origin (through the origin
// app) and kept; writes pass through the edge to the origin and purge the
// edge's copy. The shop routes go to the origin, uncached. The hit rate is
// not configured anywhere: it comes from the key popularity of the load.
type CDNConfig struct {
	// EdgeOptions add a gateway and db breakers (JSON "gateway", "breaker").
	EdgeOptions
	Edge EdgeConfig `json:"edge"`
	// App is the origin's app server.
	App AppConfig `json:"app"`
	// DB is the origin's database.
	DB DBConfig `json:"db"`
	// Shop configures the shop flow (POST /login, …; see StartTopology).
	Shop ShopConfig `json:"shop"`
}

// DefaultCDNConfig returns an edge of 8 slots (1 ms a request, 1 ms more
// to store a miss) holding 10,000 responses for 10 minutes, in front of
// the cache stage's origin without its cache: an app of 16 slots and a db
// of 4 connections. Keys drawn by {{zipf 1.1 100000}} hit the edge about
// 84 % of the time (Che's approximation for LRU); with 90 % reads and 10 %
// writes the db then binds at about 4 ÷ (0.9 × 0.16 × 9 + 0.1 × 18) ms ≈
// 1,310 req/s, the app at 16 ÷ 4 ms ≈ 3,990 and the edge at
// 8 ÷ (0.9 × 1 + 0.9 × 0.16 × 1 + 0.1 × 1) ms ≈ 7,020.
func DefaultCDNConfig() CDNConfig {
	return CDNConfig{
		Edge: EdgeConfig{
			Slots: 8, QueueLimit: 1024,
			Hit:      resource.LogNormalP99(time.Millisecond, 4*time.Millisecond),
			Fill:     resource.LogNormalP99(time.Millisecond, 4*time.Millisecond),
			Capacity: 10_000, TTL: Duration(10 * time.Minute),
		},
		App: defaultApp(16), DB: defaultDB(4), Shop: defaultShop(),
	}
}

// Validate reports every problem, each naming its JSON field.
func (c CDNConfig) Validate() error {
	var k check
	k.need(c.Edge.Slots >= 1 && c.Edge.Slots <= resource.MaxSlots, "edge.slots", "must be from 1 to %d (got %d)", resource.MaxSlots, c.Edge.Slots)
	k.need(c.Edge.QueueLimit >= 0 && c.Edge.QueueLimit <= resource.MaxQueueLimit, "edge.queue_limit", "must be from 0 to %d (got %d)", resource.MaxQueueLimit, c.Edge.QueueLimit)
	k.dist("edge.hit", c.Edge.Hit)
	k.dist("edge.fill", c.Edge.Fill)
	k.cache("edge", CacheTierConfig{Capacity: c.Edge.Capacity, TTL: c.Edge.TTL, Eviction: c.Edge.Eviction}, false)
	k.app("app", c.App)
	k.db("db", c.DB)
	k.shop("shop", c.Shop)
	return k.err()
}

// edgeCache returns the edge's cache of item responses, named
// "edge-cache", over origin; server is the edge's capacity (nil: free).
// The tests drive it directly with a key stream.
func edgeCache(cfg EdgeConfig, origin data.Store, server data.Backend, a *assembly) (*data.Cache, error) {
	return data.NewCache("edge-cache", data.CacheConfig{
		Capacity: cfg.Capacity, TTL: time.Duration(cfg.TTL), Policy: data.CacheAside, Eviction: cfg.Eviction,
	}, origin, server, a.reg)
}

func buildCDN(c CDNConfig, a *assembly) (http.Handler, error) {
	table, err := a.table("db", c.DB)
	if err != nil {
		return nil, err
	}
	shop, err := a.shop(c.Shop, table)
	if err != nil {
		return nil, err
	}
	origin, err := a.app("app", c.App, newItemAPI(table, nil, shop), nil)
	if err != nil {
		return nil, err
	}
	// The edge's capacity is a pool of slots charged Hit per lookup and
	// Fill per store: a resource.DB's reads and writes.
	server, err := a.db("edge", DBConfig{Pool: c.Edge.Slots, QueueLimit: c.Edge.QueueLimit, Read: c.Edge.Hit, Write: c.Edge.Fill}, nil)
	if err != nil {
		return nil, err
	}
	edge, err := edgeCache(c.Edge, originStore{origin}, server, a)
	if err != nil {
		return nil, err
	}
	items := newItemAPI(edge, nil, nil)
	mux := http.NewServeMux()
	for _, route := range []string{"GET /items/{id}", "POST /items", "POST /jobs", "GET /jobs/{id}"} {
		mux.Handle(route, items)
	}
	for _, route := range shopRoutes {
		mux.Handle(route, origin)
	}
	return a.front(mux, shop), nil
}

// originStore is the origin seen from the edge: each operation is a
// request to the origin's app server, served in-process (the edge and
// the origin share this process; the app server's slots and the db's
// pool are what cost time).
type originStore struct{ h http.Handler }

var _ data.Store = originStore{}

func (o originStore) Get(ctx context.Context, key string) (data.Item, error) {
	return o.do(ctx, http.MethodGet, "/items/"+url.PathEscape(key), nil, key)
}

func (o originStore) Put(ctx context.Context, key string) (data.Item, error) {
	body, _ := json.Marshal(map[string]string{"id": key}) // cannot fail
	return o.do(ctx, http.MethodPost, "/items", body, key)
}

func (o originStore) do(ctx context.Context, method, path string, body []byte, key string) (data.Item, error) {
	req, err := http.NewRequestWithContext(ctx, method, path, bytes.NewReader(body))
	if err != nil {
		return data.Item{}, fmt.Errorf("origin: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := &bufferedResponse{header: http.Header{}}
	o.h.ServeHTTP(rec, req)
	switch {
	case rec.status == http.StatusOK || rec.status == http.StatusCreated:
		var r ItemResponse
		if err := json.Unmarshal(rec.body.Bytes(), &r); err != nil {
			return data.Item{}, fmt.Errorf("origin: %s %s: %w", method, path, err)
		}
		return data.Item{Key: key, Version: r.Version, Source: r.Source, Stale: r.Stale}, nil
	case rec.status == http.StatusServiceUnavailable && rec.header.Get("Retry-After") != "":
		// The origin shed it: the edge answers 503 + Retry-After too.
		return data.Item{}, fmt.Errorf("origin: %w", resource.ErrQueueFull)
	case ctx.Err() != nil:
		return data.Item{}, ctx.Err()
	}
	return data.Item{}, fmt.Errorf("origin: %s %s answered %d: %s", method, path, rec.status, bytes.TrimSpace(rec.body.Bytes()))
}

// bufferedResponse is the http.ResponseWriter of an in-process request
// to the origin.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	if b.body.Len()+len(p) > maxItemBodyBytes {
		return 0, fmt.Errorf("origin response larger than %s bytes", strconv.Itoa(maxItemBodyBytes))
	}
	return b.body.Write(p)
}
