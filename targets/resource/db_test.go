package resource

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func mustDB(t *testing.T, cfg DBConfig, name string, reg prometheus.Registerer) *DB {
	t.Helper()
	db, err := NewDB(name, cfg, reg)
	if err != nil {
		t.Fatalf("NewDB(%+v, %q): %v", cfg, name, err)
	}
	return db
}

func TestDBConfigValidate(t *testing.T) {
	if err := DefaultDBConfig().Validate(); err != nil {
		t.Errorf("DefaultDBConfig().Validate() = %v", err)
	}
	cfg := DBConfig{Pool: 0, QueueLimit: -1, Read: Exponential(0), Write: LogNormalP99(ms, ms)}
	want := "pool must be from 1 to 65536 (got 0)\n" +
		"queue limit must be from 0 to 1048576 (got -1)\n" +
		"read: exponential mean must be above 0 and at most 1h0m0s (got 0s)\n" +
		"write: log-normal p99 must be above the mean 1ms and at most 14.97 × mean = 14.968488ms (got 1ms)"
	if err := cfg.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate() = %v; want %q", err, want)
	}
	if _, err := NewDB("db", cfg, nil); err == nil || !strings.HasPrefix(err.Error(), "db db: pool must be") {
		t.Errorf("NewDB(bad) = %v", err)
	}
}

// TestDBReadWriteCosts checks that reads and writes hold a connection for
// their own costs, using the pool's busy time, on a synctest bubble's
// fake clock (see TestResourceBusyTime).
func TestDBReadWriteCosts(t *testing.T) { synctest.Test(t, testDBReadWriteCosts) }

func testDBReadWriteCosts(t *testing.T) {
	db := mustDB(t, DBConfig{Pool: 2, QueueLimit: 2, Read: Constant(10 * ms), Write: Constant(30 * ms)}, "db", nil)
	ctx := context.Background()
	for range 4 {
		if err := db.Read(ctx); err != nil {
			t.Fatal(err)
		}
	}
	reads := db.Pool().Stats().BusyTime
	for range 4 {
		if err := db.Write(ctx); err != nil {
			t.Fatal(err)
		}
	}
	writes := db.Pool().Stats().BusyTime - reads
	t.Logf("4 reads of 10ms: %v busy; 4 writes of 30ms: %v busy", reads, writes)
	if reads < 32*ms || reads > 120*ms {
		t.Errorf("4 reads: busy %v; want about 40ms", reads)
	}
	if writes < 100*ms || writes > 240*ms {
		t.Errorf("4 writes: busy %v; want about 120ms", writes)
	}
	if s := db.Pool().Stats(); s.Served != 8 {
		t.Errorf("served %d; want 8", s.Served)
	}
}

// TestDBPoolFull checks that queries beyond the pool and its queue are
// refused with ErrQueueFull, and that the handler turns that into 503.
func TestDBPoolFull(t *testing.T) {
	reg := prometheus.NewRegistry()
	db := mustDB(t, DBConfig{Pool: 1, QueueLimit: 1, Read: Constant(time.Hour), Write: Constant(time.Hour)}, "db", reg)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = db.Read(ctx) })
	wg.Go(func() { _ = db.Write(ctx) })
	waitFor(t, "pool in use and 1 queued", func() bool { s := db.Pool().Stats(); return s.Busy == 1 && s.Queued == 1 })

	if err := db.Read(context.Background()); !errors.Is(err, ErrQueueFull) {
		t.Errorf("Read with the pool and queue full = %v; want ErrQueueFull", err)
	}
	rec := httptest.NewRecorder()
	db.Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/items", nil))
	// Retry-After: (1 queued + 1 in use) ÷ 1 × 1h.
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "7200" {
		t.Errorf("POST through the handler = %d, Retry-After %q; want 503, 7200", rec.Code, rec.Header().Get("Retry-After"))
	}
	want := `
# HELP surge_target_pool_waits_total Acquisitions that had to wait for a free slot, connection or worker.
# TYPE surge_target_pool_waits_total counter
surge_target_pool_waits_total{component="db"} 1
# HELP surge_target_rejected_total Requests or jobs the component shed, by reason.
# TYPE surge_target_rejected_total counter
surge_target_rejected_total{component="db",reason="queue_full"} 2
# HELP surge_target_utilisation Busy fraction of the component's capacity, from 0 to 1.
# TYPE surge_target_utilisation gauge
surge_target_utilisation{component="db"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "surge_target_pool_waits_total", "surge_target_rejected_total", "surge_target_utilisation"); err != nil {
		t.Error(err)
	}
	cancel()
	wg.Wait()
}

// TestDBHandler serves every method through the DB's handler, on a
// synctest bubble's fake clock so that the busy time is exact.
func TestDBHandler(t *testing.T) { synctest.Test(t, testDBHandler) }

func testDBHandler(t *testing.T) {
	db := mustDB(t, DBConfig{Pool: 1, Read: Constant(ms), Write: Constant(2 * ms)}, "db", nil)
	for _, method := range []string{"GET", "HEAD", "POST", "PUT", "DELETE"} {
		rec := httptest.NewRecorder()
		db.Handler().ServeHTTP(rec, httptest.NewRequest(method, "/items/1", nil))
		if rec.Code != 200 {
			t.Errorf("%s = %d; want 200", method, rec.Code)
		}
	}
	// The busy time tells reads (1ms) from writes (2ms): 2×1 + 3×2 = 8ms.
	if bt := db.Pool().Stats().BusyTime; bt < 6*ms || bt > 40*ms {
		t.Errorf("busy time %v; want about 8ms", bt)
	}
}

// TestDBSaturation drives reads closed-loop and checks the DB completes
// Pool ÷ mean read cost reads per second, on a synctest bubble's fake
// clock (see TestResourceSaturation).
func TestDBSaturation(t *testing.T) { synctest.Test(t, testDBSaturation) }

func testDBSaturation(t *testing.T) {
	const pool = 4
	read := LogNormalP99(5*ms, 20*ms)
	db := mustDB(t, DBConfig{Pool: pool, QueueLimit: 1000, Read: read, Write: Constant(time.Second), Seed: 5}, "db", nil)
	got := closedLoop(t, 32, 1500*ms, db.Read)
	want := pool / read.Mean().Seconds()
	t.Logf("db reads: %.0f/s; pool ÷ mean read = %.0f/s (%.3f×)", got, want, got/want)
	if math.Abs(got/want-1) > 0.15 {
		t.Errorf("read saturation %.0f/s; want %.0f/s ± 15%%", got, want)
	}
}

func TestSharedBoxConfigValidate(t *testing.T) {
	if err := DefaultSharedBoxConfig().Validate(); err != nil {
		t.Errorf("DefaultSharedBoxConfig().Validate() = %v", err)
	}
	cfg := DefaultSharedBoxConfig()
	cfg.CPUs = 0
	cfg.CPUQueueLimit = -1
	cfg.App.Slots = 0
	cfg.App.Next = http.NotFoundHandler()
	cfg.App.Budget = &Resource{}
	cfg.DB.Pool = 0
	cfg.DB.Budget = &Resource{}
	want := "cpus must be from 1 to 65536 (got 0)\n" +
		"cpu queue limit must be from 0 to 1048576 (got -1)\n" +
		"app: slots must be from 1 to 65536 (got 0)\n" +
		"app: budget must be nil (the box sets it to the shared CPUs)\n" +
		"app: next must be nil (the box sends requests to its DB)\n" +
		"db: pool must be from 1 to 65536 (got 0)\n" +
		"db: budget must be nil (the box sets it to the shared CPUs)"
	if err := cfg.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate() = %v; want %q", err, want)
	}
}

// TestNewSharedBoxRegistration checks the box's three components are
// named after it, and that a box that cannot register leaves the
// registry as it was.
func TestNewSharedBoxRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := NewSharedBox("box", DefaultSharedBoxConfig(), reg); err != nil {
		t.Fatal(err)
	}
	// A component named box-app already exists: the second box fails at
	// its app and must unregister its cpu and db.
	if _, err := NewAppServer("other-app", DefaultAppServerConfig(), reg); err != nil {
		t.Fatal(err)
	}
	if _, err := NewSharedBox("other", DefaultSharedBoxConfig(), reg); err == nil {
		t.Fatal("NewSharedBox with a clashing app name succeeded")
	}
	if n, err := testutil.GatherAndCount(reg, "surge_target_slots"); err != nil || n != 4 {
		t.Errorf("%d slots series, %v; want 4 (box-cpu, box-app, box-db, other-app)", n, err)
	}
	if _, err := NewSharedBox("other2", DefaultSharedBoxConfig(), reg); err != nil {
		t.Errorf("a box after the failed one: %v", err)
	}
}

// TestSharedBoxSaturation drives GETs through a shared box closed-loop
// and checks it saturates where the planning arithmetic for one machine
// says: CPUs ÷ (mean app service + mean read), with the CPUs, not the
// app's slots or the pool, the busy resource. Requests go straight to the
// box's handler inside a synctest bubble, so the clients, the components'
// timers and the clock of the throughput and utilisation share one fake
// clock that the machine's load cannot stretch. It runs again with the
// components' timers firing late, as on a loaded host, by up to a
// quarter of the app's mean service time or by a fixed 2 ms: the
// deadlines of simulated time keep the ceiling where the arithmetic puts
// it.
func TestSharedBoxSaturation(t *testing.T) {
	for _, tt := range []struct {
		name  string
		clock Clock
	}{
		{"on time", nil},
		{"jitter to 1ms", jittery(ms, 5)},
		{"late 2ms", late(2 * ms)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { testSharedBoxSaturation(t, tt.clock) })
		})
	}
}

func testSharedBoxSaturation(t *testing.T, clock Clock) {
	cfg := SharedBoxConfig{
		Clock:         clock,
		CPUs:          4,
		CPUQueueLimit: 1024,
		App:           AppServerConfig{Slots: 32, QueueLimit: 256, Service: Exponential(4 * ms), Seed: 1},
		DB:            DBConfig{Pool: 16, QueueLimit: 256, Read: Exponential(6 * ms), Write: Exponential(20 * ms), Seed: 2},
	}
	box, err := NewSharedBox("box", cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	cpu0, app0, db0 := box.CPU.Stats(), box.App.Resource().Stats(), box.DB.Pool().Stats()
	start := time.Now()
	// 16 clients keep the 4 CPUs' queue busy while using at most half the
	// app's slots and, in their database phase, part of the pool.
	got := closedLoop(t, 16, 1500*ms, func(ctx context.Context) error {
		rec := httptest.NewRecorder()
		box.ServeHTTP(rec, httptest.NewRequest("GET", "/items/1", nil).WithContext(ctx))
		if rec.Code != 200 {
			return fmt.Errorf("status %d", rec.Code)
		}
		return nil
	})
	elapsed := time.Since(start).Seconds()
	util := func(before, after Stats) float64 {
		return (after.BusyTime - before.BusyTime).Seconds() / elapsed / float64(after.Slots)
	}
	cpuU, appU, dbU := util(cpu0, box.CPU.Stats()), util(app0, box.App.Resource().Stats()), util(db0, box.DB.Pool().Stats())
	want := float64(cfg.CPUs) / (cfg.App.Service.Mean() + cfg.DB.Read.Mean()).Seconds()
	t.Logf("shared box: %.0f GETs/s; CPUs ÷ (app + read) = %.0f/s (%.3f×); mean utilisation cpu %.2f, app %.2f, db %.2f",
		got, want, got/want, cpuU, appU, dbU)
	if math.Abs(got/want-1) > 0.15 {
		t.Errorf("shared box saturation %.0f/s; want %.0f/s ± 15%%", got, want)
	}
	if cpuU < 0.9 || appU > 0.85 || dbU > 0.85 {
		t.Errorf("mean utilisation cpu %.2f, app %.2f, db %.2f; want the CPUs above 0.9 and the others below 0.85", cpuU, appU, dbU)
	}
}
