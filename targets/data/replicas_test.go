package data

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func newTestReplicas(t *testing.T, cfg ReplicasConfig, n int, reg prometheus.Registerer) *Replicas {
	t.Helper()
	r, err := NewReplicas("db", cfg, nil, make([]Backend, n), reg)
	if err != nil {
		t.Fatalf("NewReplicas: %v", err)
	}
	return r
}

// TestReplicasLag shows the replication lag: a replica read within the
// lag of a write returns the previous version, marked stale; after the
// lag it returns the new one. It runs in a synctest bubble: no fake time
// passes between the write and the read, and the sleep past the lag is
// exact, so a busy machine can neither push the read past the lag nor
// make the test skip its check.
func TestReplicasLag(t *testing.T) { synctest.Test(t, testReplicasLag) }

func testReplicasLag(t *testing.T) {
	const lag = 300 * time.Millisecond
	reg := prometheus.NewRegistry()
	r := newTestReplicas(t, ReplicasConfig{Lag: lag, MaxKeys: 100}, 2, reg)
	ctx := context.Background()
	start := time.Now()
	put, err := r.Put(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	want := put.Version
	got, err := r.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != want-1 || !got.Stale || !strings.HasPrefix(got.Source, "db/replica-") {
		t.Errorf("replica Get %v after Put of version %d = %+v; want version %d, stale, from a replica",
			time.Since(start), want, got, want-1)
	}
	// The primary has the write at once.
	if got, _ := r.Primary().Get(ctx, "k"); got.Version != want || got.Stale || got.Source != "db/primary" {
		t.Errorf("primary Get = %+v; want version %d, fresh, from db/primary", got, want)
	}
	time.Sleep(lag + 20*time.Millisecond)
	for i := range 2 { // both replicas, round robin
		if got, _ := r.Get(ctx, "k"); got.Version != want || got.Stale {
			t.Errorf("replica Get %d after the lag = %+v; want version %d, fresh", i, got, want)
		}
	}
	if got := metricValue(t, reg, "surge_target_replication_lag_seconds", "component", "db"); got != lag.Seconds() {
		t.Errorf("surge_target_replication_lag_seconds = %v; want %v", got, lag.Seconds())
	}
	if got := metricValue(t, reg, "surge_target_stale_reads_total", "component", "db"); got < 1 {
		t.Errorf("surge_target_stale_reads_total = %v; want at least 1", got)
	}
}

// TestReplicasLagHistory checks versions become visible one by one, each
// a lag after its own commit.
func TestReplicasLagHistory(t *testing.T) {
	h := &keyHistory{}
	t0 := time.Unix(1000, 0)
	lag := 100 * time.Millisecond
	for i := range 3 { // versions 1, 2, 3 committed at t0, t0+30ms, t0+60ms
		now := t0.Add(time.Duration(i) * 30 * time.Millisecond)
		h.advance(now, lag)
		h.pending = append(h.pending, now)
	}
	for _, tc := range []struct {
		at          time.Duration
		wantVisible uint64
	}{
		{99 * time.Millisecond, 0},
		{100 * time.Millisecond, 1},
		{129 * time.Millisecond, 1},
		{130 * time.Millisecond, 2},
		{160 * time.Millisecond, 3},
		{time.Hour, 3},
	} {
		h.advance(t0.Add(tc.at), lag)
		if h.visible != tc.wantVisible || h.latest() != 3 {
			t.Errorf("at t0+%v: visible %d, latest %d; want %d, 3", tc.at, h.visible, h.latest(), tc.wantVisible)
		}
	}
	if len(h.pending) != 0 {
		t.Errorf("%d pending writes left after all became visible", len(h.pending))
	}
}

func TestReplicasRoundRobinAndCapacity(t *testing.T) {
	reg := prometheus.NewRegistry()
	var backends []Backend
	for _, name := range []string{"replica0", "replica1", "replica2"} {
		n, err := testDB(name, 2, reg)
		if err != nil {
			t.Fatal(err)
		}
		backends = append(backends, n)
	}
	primary, err := testDB("primary", 2, reg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReplicas("db", DefaultReplicasConfig(), primary, backends, reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 9 {
		if _, err := r.Get(ctx, "k"); err != nil {
			t.Fatal(err)
		}
	}
	for range 4 {
		if _, err := r.Put(ctx, "k"); err != nil {
			t.Fatal(err)
		}
	}
	for i, name := range []string{"replica0", "replica1", "replica2"} {
		if got := metricValue(t, reg, "surge_target_requests_total", "component", name); got != 3 {
			t.Errorf("%s served %v operations; want 3 of the 9 reads", name, got)
		}
		node := "replica-" + string(rune('0'+i))
		if got := metricValue(t, reg, "surge_target_replica_reads_total", "component", "db", "node", node); got != 3 {
			t.Errorf("replica_reads_total{node=%s} = %v; want 3", node, got)
		}
	}
	if got := metricValue(t, reg, "surge_target_requests_total", "component", "primary"); got != 4 {
		t.Errorf("primary served %v operations; want the 4 writes only", got)
	}
	if got := metricValue(t, reg, "surge_target_requests_total", "component", "db"); got != 13 {
		t.Errorf("replicas served %v operations; want 13", got)
	}
}

// TestReplicasReadYourWrites checks that a client that wrote reads from
// the primary for the window after, and everyone else from replicas. Like
// TestReplicasLag it runs in a synctest bubble, so the reads right after
// the write all fall within the lag.
func TestReplicasReadYourWrites(t *testing.T) { synctest.Test(t, testReplicasReadYourWrites) }

func testReplicasReadYourWrites(t *testing.T) {
	const lag = 300 * time.Millisecond
	reg := prometheus.NewRegistry()
	r := newTestReplicas(t, ReplicasConfig{Lag: lag, ReadYourWrites: true, MaxKeys: 100}, 2, reg)
	alice := WithClient(context.Background(), "alice")
	bob := WithClient(context.Background(), "bob")
	anonymous := context.Background()
	put, err := r.Put(alice, "k")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := r.Get(alice, "k")
	b, _ := r.Get(bob, "k")
	anon, _ := r.Get(anonymous, "k")
	view, _ := r.Replica(1).Get(alice, "k")
	if a.Version != put.Version || a.Stale || a.Source != "db/primary" {
		t.Errorf("the writer's read = %+v; want its version %d from db/primary", a, put.Version)
	}
	if view.Source != "db/primary" || view.Version != put.Version {
		t.Errorf("the writer's read through Replica(1) = %+v; want version %d from db/primary", view, put.Version)
	}
	if b.Version != put.Version-1 || !b.Stale || !strings.HasPrefix(b.Source, "db/replica-") {
		t.Errorf("another client's read = %+v; want the stale version %d from a replica", b, put.Version-1)
	}
	if !strings.HasPrefix(anon.Source, "db/replica-") {
		t.Errorf("an anonymous read came from %q; want a replica", anon.Source)
	}
	time.Sleep(lag + 20*time.Millisecond)
	if a, _ := r.Get(alice, "k"); !strings.HasPrefix(a.Source, "db/replica-") || a.Stale {
		t.Errorf("the writer's read after the window = %+v; want a fresh read from a replica", a)
	}
	if got := metricValue(t, reg, "surge_target_read_your_writes_total", "component", "db"); got < 2 {
		t.Errorf("surge_target_read_your_writes_total = %v; want at least 2", got)
	}
}

// TestWritersWindow checks the two-generation memory of writers against
// synthetic times: a write is remembered for exactly one window, across
// generation changes.
func TestWritersWindow(t *testing.T) {
	const w = 100 * time.Millisecond
	t0 := time.Unix(2000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ws := writers{window: w}
	ws.wrote("a", at(0))
	ws.wrote("b", at(90))  // same generation as a
	ws.wrote("c", at(150)) // rotates: a and b move to prev
	for _, tc := range []struct {
		id   string
		ms   int
		want bool
	}{
		{"a", 99, true},
		{"a", 100, false},
		{"b", 189, true}, // in prev, still within its window
		{"c", 249, true},
		{"b", 251, false}, // rotated out at 250
		{"c", 250, false},
		{"nobody", 10, false},
	} {
		if got := ws.recent(tc.id, at(tc.ms)); got != tc.want {
			t.Errorf("recent(%q, t0+%dms) = %v; want %v", tc.id, tc.ms, got, tc.want)
		}
	}
	ws.wrote("d", at(10_000)) // long after: both generations dropped
	if ws.prev != nil || len(ws.cur) != 1 {
		t.Errorf("after a long pause: prev %v, cur %v; want nil and just d", ws.prev, ws.cur)
	}
}
