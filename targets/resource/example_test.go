package resource_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/surgeload/surge/targets/resource"
)

// A database connection pool of 2 with room for 1 query to wait: the
// arithmetic says it saturates at 2 ÷ 10 ms = 200 queries per second.
func ExampleNewResource() {
	reg := prometheus.NewRegistry() // or nil: no metrics
	cfg := resource.ResourceConfig{
		Slots:      2,
		QueueLimit: 1,
		Costs:      map[resource.Op]resource.Dist{resource.OpDefault: resource.Exponential(10 * time.Millisecond)},
		Seed:       1,
	}
	pool, err := resource.NewResource("db", cfg, reg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("saturation at %.0f/s\n", float64(cfg.Slots)/cfg.Costs[resource.OpDefault].Mean().Seconds())

	ctx := context.Background()
	for range 3 {
		if err := pool.Serve(ctx, resource.OpDefault); err != nil {
			fmt.Println(err)
		}
	}
	s := pool.Stats()
	fmt.Printf("served %d, busy %d, queued %d\n", s.Served, s.Busy, s.Queued)
	// Output:
	// saturation at 200/s
	// served 3, busy 0, queued 0
}

// Stage 1 of the scaling staircase: the app and its database on one
// 2-CPU machine. A GET costs 10 ms of app work and a 2 ms read, both on
// the shared CPUs, so the box saturates near 2 ÷ 12 ms ≈ 167 GETs per
// second.
func ExampleNewSharedBox() {
	cfg := resource.DefaultSharedBoxConfig()
	box, err := resource.NewSharedBox("box", cfg, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := httptest.NewServer(box)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/items/1")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))

	perGET := cfg.App.Service.Mean() + cfg.DB.Read.Mean()
	fmt.Printf("saturation near %.0f GETs/s\n", float64(cfg.CPUs)/perGET.Seconds())
	fmt.Println("app served", box.App.Resource().Stats().Served, "db served", box.DB.Pool().Stats().Served, "cpu served", box.CPU.Stats().Served)
	// Output:
	// 200 ok
	// saturation near 167 GETs/s
	// app served 1 db served 1 cpu served 2
}

// Service times as a scenario would write them.
func ExampleDist_UnmarshalText() {
	var d resource.Dist
	if err := d.UnmarshalText([]byte("lognormal(10ms, p99=40ms)")); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d, "mean", d.Mean(), "median", d.Quantile(0.5).Round(time.Microsecond), "p99", d.Quantile(0.99).Round(time.Microsecond))
	fmt.Printf("sigma %.3f\n", d.Sigma())
	// Output:
	// lognormal(10ms, p99=40ms) mean 10ms median 7.817ms p99 40ms
	// sigma 0.702
}
