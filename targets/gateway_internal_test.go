package targets

import (
	"context"
	"errors"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/surgeload/surge/targets/edge"
)

// countingDB is a db node that counts its calls and fails while failing
// is set.
type countingDB struct {
	calls   atomic.Int64
	failing atomic.Bool
}

var errDown = errors.New("db down")

func (d *countingDB) Read(ctx context.Context) error  { return d.call() }
func (d *countingDB) Write(ctx context.Context) error { return d.call() }
func (d *countingDB) call() error {
	d.calls.Add(1)
	if d.failing.Load() {
		return errDown
	}
	return nil
}

// TestGuardedDB checks the breaker between the app and a db node: an open
// breaker answers without calling the node, with an error that the API
// turns into 503 + X-Surge-Breaker: open + the cool-down as Retry-After.
func TestGuardedDB(t *testing.T) {
	a := newAssembly()
	failures := 2
	if err := a.useEdge(SplitConfig{EdgeOptions: EdgeOptions{Breaker: &BreakerOptions{Failures: &failures, OpenFor: Duration(time.Hour)}}}); err != nil {
		t.Fatal(err)
	}
	db := &countingDB{}
	g, err := a.guard("db", db)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := g.Read(ctx); err != nil {
		t.Fatalf("healthy read: %v", err)
	}
	db.failing.Store(true)
	for i := range failures {
		if err := g.Write(ctx); !errors.Is(err, errDown) {
			t.Fatalf("failing write %d: %v; want the db's error", i, err)
		}
	}
	before := db.calls.Load()
	err = g.Read(ctx)
	if !errors.Is(err, edge.ErrOpen) {
		t.Fatalf("read after %d failures: %v; want edge.ErrOpen", failures, err)
	}
	if db.calls.Load() != before {
		t.Errorf("the open breaker called the db")
	}
	rec := httptest.NewRecorder()
	writeStoreError(rec, err)
	ra, _ := strconv.Atoi(rec.Header().Get("Retry-After"))
	if rec.Code != 503 || rec.Header().Get("X-Surge-Breaker") != "open" || ra < 3590 || ra > 3600 {
		t.Errorf("answer: %d, X-Surge-Breaker %q, Retry-After %q; want 503, open, about 3600",
			rec.Code, rec.Header().Get("X-Surge-Breaker"), rec.Header().Get("Retry-After"))
	}

	// Without breaker options the node is used as it is.
	plain := newAssembly()
	if got, err := plain.guard("db", db); err != nil || got != any(db) {
		t.Errorf("guard without a breaker = %v, %v; want the node itself", got, err)
	}
}

// TestGuardedDBTimeout: a call slower than the timeout fails and is
// abandoned; the API answers it 503 (without the breaker header).
func TestGuardedDBTimeout(t *testing.T) {
	a := newAssembly()
	if err := a.useEdge(SplitConfig{EdgeOptions: EdgeOptions{Breaker: &BreakerOptions{Timeout: Duration(time.Millisecond)}}}); err != nil {
		t.Fatal(err)
	}
	slow := backendFunc(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	g, err := a.guard("db", slow)
	if err != nil {
		t.Fatal(err)
	}
	err = g.Read(context.Background())
	if !errors.Is(err, errSlowDB) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow read: %v; want errSlowDB", err)
	}
	rec := httptest.NewRecorder()
	writeStoreError(rec, err)
	if rec.Code != 503 || rec.Header().Get("X-Surge-Breaker") != "" {
		t.Errorf("slow read answered %d, X-Surge-Breaker %q; want 503 without it", rec.Code, rec.Header().Get("X-Surge-Breaker"))
	}
}

type backendFunc func(ctx context.Context) error

func (f backendFunc) Read(ctx context.Context) error  { return f(ctx) }
func (f backendFunc) Write(ctx context.Context) error { return f(ctx) }
