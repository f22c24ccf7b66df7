package data_test

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/surgeload/surge/targets/data"
	"github.com/surgeload/surge/targets/resource"
)

// A cache-aside cache in front of a database: misses pay the database's
// read; hits do not. The hit rate comes from which keys are asked for.
func ExampleNewCache() {
	reg := prometheus.NewRegistry()
	db, err := resource.NewDB("db", resource.DBConfig{Pool: 4, QueueLimit: 16, Read: resource.Constant(time.Millisecond), Write: resource.Constant(2 * time.Millisecond)}, reg)
	if err != nil {
		panic(err)
	}
	items, err := data.NewTable("items", data.DefaultTableConfig(), db, reg)
	if err != nil {
		panic(err)
	}
	cache, err := data.NewCache("cache", data.CacheConfig{Capacity: 2, TTL: time.Minute}, items, nil, reg)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for _, key := range []string{"1", "2", "1", "3", "2"} {
		item, _ := cache.Get(ctx, key)
		fmt.Printf("get %s: version %d from %s\n", key, item.Version, item.Source)
	}
	put, _ := cache.Put(ctx, "3") // cache-aside: the entry is deleted
	fmt.Printf("put 3: version %d\n", put.Version)
	item, _ := cache.Get(ctx, "3")
	fmt.Printf("get 3: version %d from %s\n", item.Version, item.Source)
	fmt.Printf("hit ratio %.2f\n", cache.HitRatio())
	// Output:
	// get 1: version 0 from items
	// get 2: version 0 from items
	// get 1: version 0 from cache
	// get 3: version 0 from items
	// get 2: version 0 from items
	// put 3: version 1
	// get 3: version 1 from items
	// hit ratio 0.17
}

// Replicas with read-your-writes: the writer reads its write from the
// primary while the others read the replica, which has not seen it yet.
func ExampleNewReplicas() {
	cfg := data.DefaultReplicasConfig()
	cfg.Lag = time.Minute
	cfg.ReadYourWrites = true
	db, err := data.NewReplicas("db", cfg, nil, []data.Backend{nil, nil}, nil)
	if err != nil {
		panic(err)
	}
	alice := data.WithClient(context.Background(), "alice")
	bob := data.WithClient(context.Background(), "bob")
	if _, err := db.Put(alice, "42"); err != nil {
		panic(err)
	}
	for _, who := range []struct {
		name string
		ctx  context.Context
	}{{"alice", alice}, {"bob", bob}} {
		item, _ := db.Get(who.ctx, "42")
		fmt.Printf("%s reads version %d from %s (stale %v)\n", who.name, item.Version, item.Source, item.Stale)
	}
	// Output:
	// alice reads version 1 from db/primary (stale false)
	// bob reads version 0 from db/replica-0 (stale true)
}
