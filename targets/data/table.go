package data

import (
	"github.com/surgeload/surge/targets/internal/metricdef"

	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// MaxKeys is the largest key bound of a Table or Replicas: at a few
// dozen bytes a key it keeps a store under about a gigabyte.
const MaxKeys = 1 << 24

// TableConfig configures a Table.
type TableConfig struct {
	// MaxKeys bounds the keys the table holds, from 1 to MaxKeys, so that
	// load writing ever-new keys cannot exhaust memory: a Put of a new key
	// into a full table fails with ErrTableFull (after paying its write
	// cost, as a full disk would). Default 1,000,000.
	MaxKeys int
}

// DefaultTableConfig returns a bound of one million keys.
func DefaultTableConfig() TableConfig { return TableConfig{MaxKeys: 1_000_000} }

// Validate reports every field out of range.
func (c TableConfig) Validate() error {
	if c.MaxKeys < 1 || c.MaxKeys > MaxKeys {
		return fmt.Errorf("max keys must be from 1 to %d (got %d)", MaxKeys, c.MaxKeys)
	}
	return nil
}

// Table is a primary database: the authoritative versions of its keys,
// with every read and write charged to a Backend for its service time. It
// is the leaf Store that Cache, Shards and Regions wrap; Replicas is the
// leaf Store of a primary with read copies.
//
// Metrics (label component=name): surge_target_requests_total
// (operations completed) and surge_target_keys. The Backend reports its
// own utilisation and queue.
//
// A Table owns no goroutines; it is safe for concurrent use.
type Table struct {
	name     string
	backend  Backend
	maxKeys  int
	mu       sync.Mutex
	versions map[string]uint64
	requests prometheus.Counter
}

var _ Store = (*Table)(nil)

// NewTable returns an empty Table configured by cfg that charges backend
// (nil: free) for its operations and whose metrics carry component=name,
// registered on reg unless reg is nil.
func NewTable(name string, cfg TableConfig, backend Backend, reg prometheus.Registerer) (*Table, error) {
	if err := errors.Join(metricdef.CheckName(name), cfg.Validate()); err != nil {
		return nil, fmt.Errorf("table: %w", err)
	}
	t := &Table{
		name:     name,
		backend:  backend,
		maxKeys:  cfg.MaxKeys,
		versions: make(map[string]uint64),
		requests: prometheus.NewCounter(prometheus.CounterOpts{Name: metricRequests, Help: helpRequests}),
	}
	keys := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: metricKeys, Help: helpKeys},
		func() float64 { return float64(t.Len()) })
	if err := metricdef.Register(reg, name, t.requests, keys); err != nil {
		return nil, fmt.Errorf("table: %w", err)
	}
	return t, nil
}

// Get pays a read and returns the current version of key.
func (t *Table) Get(ctx context.Context, key string) (Item, error) {
	if err := read(ctx, t.backend); err != nil {
		return Item{}, err
	}
	t.mu.Lock()
	v := t.versions[key]
	t.mu.Unlock()
	t.requests.Inc()
	return Item{Key: key, Version: v, Source: t.name}, nil
}

// Put pays a write and commits the next version of key.
func (t *Table) Put(ctx context.Context, key string) (Item, error) {
	if err := write(ctx, t.backend); err != nil {
		return Item{}, err
	}
	t.mu.Lock()
	v, ok := t.versions[key]
	if !ok && len(t.versions) >= t.maxKeys {
		t.mu.Unlock()
		return Item{}, fmt.Errorf("put %q into %s: %w (%d keys)", key, t.name, ErrTableFull, t.maxKeys)
	}
	v++
	t.versions[key] = v
	t.mu.Unlock()
	t.requests.Inc()
	return Item{Key: key, Version: v, Source: t.name}, nil
}

// Len returns how many keys the table holds.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.versions)
}
