package targets_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/surgeload/surge/targets"
	"github.com/surgeload/surge/targets/internal/memnet"
	"github.com/surgeload/surge/targets/resource"
)

// hangGuard bounds waits that only a bug makes long; it is not a timing
// assertion.
const hangGuard = 30 * time.Second

// client is a test's HTTP client with a transport of its own, so its idle
// connections can be closed before goroutines are counted.
type client struct {
	t  *testing.T
	hc *http.Client
}

func newClient(t *testing.T) *client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &client{t: t, hc: &http.Client{Transport: tr, Timeout: hangGuard}}
}

func (c *client) do(method, url, body string, header ...string) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, url, err)
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		c.t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp, string(b)
}

func (c *client) want(method, url, body string, status int, header ...string) (*http.Response, string) {
	c.t.Helper()
	resp, b := c.do(method, url, body, header...)
	if resp.StatusCode != status {
		c.t.Fatalf("%s %s: status %d, want %d; body %q", method, url, resp.StatusCode, status, b)
	}
	return resp, b
}

func decodeItem(t *testing.T, body string) targets.ItemResponse {
	t.Helper()
	var it targets.ItemResponse
	if err := json.Unmarshal([]byte(body), &it); err != nil {
		t.Fatalf("item body %q: %v", body, err)
	}
	return it
}

// waitGoroutines waits until no more goroutines run than before.
func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wantSeries lists, per topology, series /metrics must contain.
var wantSeries = map[string][]string{
	"single-box": {`surge_target_utilisation{component="box-cpu"}`, `surge_target_utilisation{component="box-app"}`, `surge_target_queue_depth{component="box-db"}`},
	"split":      {`surge_target_utilisation{component="app"}`, `surge_target_utilisation{component="db"}`, `surge_target_queue_depth{component="db"}`, `surge_target_pool_waits_total{component="db"}`},
	"cache":      {`surge_target_utilisation{component="app"}`, `surge_target_queue_depth{component="db"}`, `surge_target_cache_hit_ratio{component="cache"}`},
	"lb":         {`surge_target_utilisation{component="lb"}`, `surge_target_utilisation{component="app-0"}`, `surge_target_utilisation{component="app-1"}`, `surge_target_backend_up{backend="app-0",component="lb"}`, `surge_target_queue_depth{component="db"}`},
	"replicas":   {`surge_target_utilisation{component="primary"}`, `surge_target_utilisation{component="replica-1"}`, `surge_target_replication_lag_seconds{component="replication"}`, `surge_target_queue_depth{component="app"}`},
	"sharding":   {`surge_target_utilisation{component="shard-2"}`, `surge_target_queue_depth{component="shard-0"}`, `surge_target_utilisation{component="app"}`},
	"queue":      {`surge_target_utilisation{component="jobs"}`, `surge_target_queue_depth{component="jobs"}`, `surge_target_utilisation{component="shard-0"}`},
	"multi-region": {`surge_target_utilisation{component="app-eu-west"}`, `surge_target_utilisation{component="db-us-east"}`, `surge_target_utilisation{component="replica-ap-south"}`,
		`surge_target_replication_lag_seconds{component="replication"}`, `surge_target_forwarded_writes_total{component="regions"}`},
	"autoscale": {`surge_target_instances{component="autoscaler"} 10`, `surge_target_instances_provisioning{component="autoscaler"}`, `surge_target_utilisation{component="app-0"}`,
		`surge_target_utilisation{component="app-25"}`, `surge_target_cache_hit_ratio{component="cache"}`, `surge_target_utilisation{component="db"}`},
	"cdn": {`surge_target_utilisation{component="edge"}`, `surge_target_cache_hits_total{component="edge-cache"}`, `surge_target_cache_misses_total{component="edge-cache"}`,
		`surge_target_cache_hit_ratio{component="edge-cache"}`, `surge_target_utilisation{component="app"}`, `surge_target_utilisation{component="db"}`},
}

func TestTopologiesServeTheAPI(t *testing.T) {
	if n := len(targets.Names()); n != len(wantSeries)+1 {
		t.Fatalf("%d topologies registered, want %d (echo and the stages of wantSeries): %v", n, len(wantSeries)+1, targets.Names())
	}
	for _, name := range targets.Names() {
		if name == "echo" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			if _, ok := wantSeries[name]; !ok {
				t.Fatalf("no expected series listed for %s", name)
			}
			before := runtime.NumGoroutine()
			srv, err := targets.Start(name, "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			c := newClient(t)
			testAPI(t, c, name, srv.URL)
			c.hc.Transport.(*http.Transport).CloseIdleConnections()
			if err := srv.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			waitGoroutines(t, before)
		})
	}
}

func testAPI(t *testing.T, c *client, name, url string) {
	resp, body := c.want("POST", url+"/items", `{"id":"42"}`, http.StatusCreated)
	if got := resp.Header.Get("Location"); got != "/items/42" {
		t.Errorf("POST /items Location %q, want /items/42", got)
	}
	if it := decodeItem(t, body); it.ID != "42" || it.Version != 1 || it.Source == "" {
		t.Errorf("POST /items answered %+v, want id 42, version 1 and a source", it)
	}
	_, body = c.want("POST", url+"/items", "", http.StatusCreated)
	if it := decodeItem(t, body); it.ID == "" || it.Version != 1 {
		t.Errorf("POST /items with no body answered %+v, want an id picked by the server", it)
	}
	c.want("POST", url+"/items", `{"id":7}`, http.StatusCreated)
	c.want("POST", url+"/items", `not json`, http.StatusBadRequest)
	c.want("POST", url+"/items", `{"id":true}`, http.StatusBadRequest)

	_, body = c.want("GET", url+"/items/42", "", http.StatusOK)
	if it := decodeItem(t, body); it.ID != "42" || it.Source == "" || it.Version > 1 {
		t.Errorf("GET /items/42 answered %+v", it)
	}
	_, body = c.want("GET", url+"/items/never-written", "", http.StatusOK)
	if it := decodeItem(t, body); it.Version != 0 {
		t.Errorf("GET of an item never written answered version %d, want 0", it.Version)
	}

	if name == "queue" {
		resp, body = c.want("POST", url+"/jobs", `{"id":"43"}`, http.StatusAccepted)
		var job targets.JobResponse
		if err := json.Unmarshal([]byte(body), &job); err != nil || job.ID == "" || job.Item != "43" {
			t.Fatalf("POST /jobs answered %q (%v)", body, err)
		}
		loc := resp.Header.Get("Location")
		if loc != "/jobs/"+job.ID {
			t.Fatalf("POST /jobs Location %q, want /jobs/%s", loc, job.ID)
		}
		deadline := time.Now().Add(hangGuard)
		for {
			_, body = c.want("GET", url+loc, "", http.StatusOK)
			if strings.Contains(body, `"status":"done"`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("job never done: %s", body)
			}
			time.Sleep(5 * time.Millisecond)
		}
		_, body = c.want("GET", url+"/items/43", "", http.StatusOK)
		if it := decodeItem(t, body); it.Version != 1 {
			t.Errorf("item 43 after its job is done: %+v, want version 1", it)
		}
		c.want("GET", url+"/jobs/999999", "", http.StatusNotFound)
	} else {
		_, body = c.want("POST", url+"/jobs", `{"id":"43"}`, http.StatusCreated)
		if it := decodeItem(t, body); it.ID != "43" || it.Version != 1 {
			t.Errorf("POST /jobs (synchronous) answered %+v", it)
		}
		_, body = c.want("GET", url+"/jobs/1", "", http.StatusNotFound)
		if !strings.Contains(body, "no job queue") {
			t.Errorf("GET /jobs/1 body %q does not say the topology has no job queue", body)
		}
	}

	c.want("GET", url+"/health", "", http.StatusOK)
	c.want("DELETE", url+"/items/42", "", http.StatusMethodNotAllowed)
	c.want("GET", url+"/nowhere", "", http.StatusNotFound)

	_, metrics := c.want("GET", url+"/metrics", "", http.StatusOK)
	for _, s := range wantSeries[name] {
		if !strings.Contains(metrics, s) {
			t.Errorf("/metrics lacks %s", s)
		}
	}
}

func TestMultiRegionRoutesByHeader(t *testing.T) {
	srv, err := targets.Start("multi-region", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := newClient(t)
	_, body := c.want("GET", srv.URL+"/items/1", "", http.StatusOK, "X-Region", "eu-west")
	if it := decodeItem(t, body); !strings.Contains(it.Source, "replica") {
		t.Errorf("a read from eu-west was served by %q, want its replica", it.Source)
	}
	_, body = c.want("GET", srv.URL+"/items/1", "", http.StatusOK)
	if it := decodeItem(t, body); !strings.Contains(it.Source, "primary") {
		t.Errorf("a read with no region was served by %q, want the primary region", it.Source)
	}
	_, body = c.want("POST", srv.URL+"/items", `{"id":"1"}`, http.StatusCreated, "X-Region", "ap-south")
	if it := decodeItem(t, body); !strings.Contains(it.Source, "primary") {
		t.Errorf("a write from ap-south was served by %q, want the primary", it.Source)
	}
	_, body = c.want("GET", srv.URL+"/items/1", "", http.StatusBadRequest, "X-Region", "mars")
	if !strings.Contains(body, "mars") {
		t.Errorf("unknown region answer %q does not name it", body)
	}
	_, metrics := c.want("GET", srv.URL+"/metrics", "", http.StatusOK)
	if !strings.Contains(metrics, `surge_target_forwarded_writes_total{component="regions"} 1`) {
		t.Errorf("the write from ap-south was not counted as forwarded")
	}
}

// TestShedsWith503: a saturated app with no queue answers 503 with
// Retry-After.
func TestShedsWith503(t *testing.T) {
	cfg := targets.DefaultSplitConfig()
	cfg.App.Slots, cfg.App.QueueLimit = 1, 0
	cfg.App.Service = resource.Constant(time.Hour)
	srv, err := targets.StartTopology("split", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := newClient(t)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/items/1", nil)
		if resp, err := c.hc.Do(req); err == nil {
			_ = resp.Body.Close()
		}
	}()
	deadline := time.Now().Add(hangGuard)
	for {
		_, m := c.want("GET", srv.URL+"/metrics", "", http.StatusOK)
		if strings.Contains(m, `surge_target_utilisation{component="app"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first request never took the app's slot")
		}
		time.Sleep(5 * time.Millisecond)
	}
	resp, _ := c.want("GET", srv.URL+"/items/2", "", http.StatusServiceUnavailable)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	c.want("GET", srv.URL+"/health", "", http.StatusOK) // health takes no slot
	cancel()
	<-done
}

func TestStartTopologyConfig(t *testing.T) {
	if _, err := targets.StartTopology("nope", "127.0.0.1:0", nil); !errors.Is(err, targets.ErrUnknownTopology) {
		t.Errorf("unknown name: %v, want ErrUnknownTopology", err)
	}
	if _, err := targets.StartTopology("split", "127.0.0.1:0", targets.DefaultCacheConfig()); !errors.Is(err, targets.ErrInvalidConfig) {
		t.Errorf("config of the wrong type: %v, want ErrInvalidConfig", err)
	}
	bad := targets.DefaultLBConfig()
	bad.Apps = 0
	_, err := targets.StartTopology("lb", "127.0.0.1:0", &bad)
	if !errors.Is(err, targets.ErrInvalidConfig) || !strings.Contains(err.Error(), "apps") {
		t.Errorf("lb with 0 apps: %v, want ErrInvalidConfig naming apps", err)
	}
	for name, cfg := range map[string]string{
		"split":        `{"db":{"pool":0}}`,
		"cache":        `{"app":{"service":"bogus"}}`,
		"replicas":     `{"lag":"soon"}`,
		"queue":        `{"workerz":3}`,
		"sharding":     `{"shards":"three"}`,
		"multi-region": `{"primary":"mars"}`,
	} {
		field := map[string]string{"split": "db.pool", "cache": "app.service", "replicas": "lag", "queue": "workerz", "sharding": "shards", "multi-region": "primary"}[name]
		_, err := targets.DecodeConfig(name, strings.NewReader(cfg))
		if !errors.Is(err, targets.ErrInvalidConfig) || !strings.Contains(err.Error(), field) {
			t.Errorf("%s %s: %v, want ErrInvalidConfig naming %s", name, cfg, err, field)
		}
	}
	cfg, err := targets.DecodeConfig("replicas", strings.NewReader(`{"replicas":3,"lag":"250ms","primary":{"pool":6}}`))
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.(*targets.ReplicasConfig)
	if got.Replicas != 3 || time.Duration(got.Lag) != 250*time.Millisecond || got.Primary.Pool != 6 || got.Replica.Pool != targets.DefaultReplicasConfig().Replica.Pool {
		t.Errorf("decoded %+v: want the overrides on top of the defaults", got)
	}
	for _, name := range targets.Names() {
		def, err := targets.DefaultConfig(name)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(def)
		if err != nil {
			t.Fatalf("%s: marshal default: %v", name, err)
		}
		if _, err := targets.DecodeConfig(name, strings.NewReader(string(b))); err != nil {
			t.Errorf("%s: the default config does not read back: %v\n%s", name, err, b)
		}
	}
}

// closedLoop runs workers that each send GET /items/{k} back to back
// through hc for d and returns how many got 200.
func closedLoop(t *testing.T, hc *http.Client, url string, workers int, d time.Duration) int64 {
	t.Helper()
	var ok atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	for w := range workers {
		wg.Go(func() {
			for i := 0; time.Now().Before(stop); i++ {
				resp, err := hc.Get(url + "/items/" + string(rune('a'+w)) + "-" + string(rune('a'+i%26)))
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return ok.Load()
}

// TestSplitOutrunsSingleBox drives single-box and split closed-loop with
// costs ten times the defaults: predicted 2 CPUs ÷ 65 ms ≈ 31 reads/s for
// the box against 4 conns ÷ 45 ms ≈ 89 for split. Only the ratio is
// checked, generously.
//
// Each topology is served over HTTP on an in-memory network (memnet)
// inside a synctest bubble, so the clients, the components' service
// times and the 1.5 s the loop runs for are all fake time: a busy machine
// can neither slow the clients nor add HTTP overhead to either side, and
// the check takes a fraction of a second instead of being skipped in
// short mode.
func TestSplitOutrunsSingleBox(t *testing.T) { synctest.Test(t, testSplitOutrunsSingleBox) }

func testSplitOutrunsSingleBox(t *testing.T) {
	app := targets.AppConfig{Slots: 8, QueueLimit: 256, Service: resource.Constant(20 * time.Millisecond)}
	db := targets.DBConfig{Pool: 4, QueueLimit: 256, Read: resource.Constant(45 * time.Millisecond), Write: resource.Constant(90 * time.Millisecond)}
	box := targets.DefaultSingleBoxConfig()
	box.CPUs, box.App, box.DB = 2, app, db
	split := targets.SplitConfig{App: app, DB: db}

	run := func(name string, cfg any) int64 {
		h, stop, err := targets.BuildTopology(name, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := stop(); err != nil {
				t.Errorf("stop %s: %v", name, err)
			}
		}()
		network := memnet.New()
		srv, err := network.NewServer(name, h)
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		hc := &http.Client{Transport: network.Transport(), Timeout: hangGuard}
		defer hc.CloseIdleConnections()
		return closedLoop(t, hc, srv.URL, 16, 1500*time.Millisecond)
	}
	nBox, nSplit := run("single-box", box), run("split", split)
	t.Logf("closed loop, 16 workers, 1.5 s: single-box %d reads, split %d", nBox, nSplit)
	if nBox == 0 || float64(nSplit) < 1.5*float64(nBox) {
		t.Errorf("split served %d reads, single-box %d: want split well ahead (predicted ≈ 2.9×)", nSplit, nBox)
	}
}
