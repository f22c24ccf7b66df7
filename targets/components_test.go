package targets_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/surgeload/surge/targets/data"
	"github.com/surgeload/surge/targets/edge"
	"github.com/surgeload/surge/targets/lb"
	"github.com/surgeload/surge/targets/queue"
	"github.com/surgeload/surge/targets/resource"
)

// TestComponentsShareOneRegistry: a topology serves one /metrics for all
// its components, so every component must register on one registry —
// Prometheus refuses a metric name registered with two help texts — and
// the shared series (utilisation, queue depth, …) must lint clean.
func TestComponentsShareOneRegistry(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	app, err := resource.NewAppServer("app", resource.DefaultAppServerConfig(), reg)
	must("app server", err)
	_ = app
	db, err := resource.NewDB("db", resource.DefaultDBConfig(), reg)
	must("db", err)
	table, err := data.NewTable("table", data.DefaultTableConfig(), db, reg)
	must("table", err)
	_, err = data.NewCache("cache", data.DefaultCacheConfig(), table, nil, reg)
	must("cache", err)
	_, err = edge.NewRateLimiter("limiter", edge.DefaultRateLimiterConfig(), reg)
	must("rate limiter", err)
	_, err = edge.NewBreaker("breaker", edge.DefaultBreakerConfig(), reg)
	must("breaker", err)
	q, err := queue.New("queue", queue.DefaultConfig(), reg)
	must("queue", err)
	defer q.Close()
	cfg := lb.DefaultBalancerConfig()
	cfg.Backends = []lb.Backend{{URL: "http://127.0.0.1:1"}}
	cfg.HealthCheck.Interval = 0 // no checks: nothing listens there
	b, err := lb.NewBalancer("lb", cfg, reg)
	must("balancer", err)
	defer b.Close()

	problems, err := testutil.GatherAndLint(reg)
	must("gather", err)
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	n, err := testutil.GatherAndCount(reg, "surge_target_utilisation")
	must("count", err)
	if n < 5 {
		t.Errorf("%d surge_target_utilisation series; want one per capacity component (app, db, limiter, queue, lb)", n)
	}
}
