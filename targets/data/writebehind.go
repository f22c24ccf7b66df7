package data

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// writeBehind is the dirty set and the flusher of a WriteBehind Cache.
//
// Every acknowledged write is one origin write later, in order per key:
// a version counts the writes of a key on its primary, so coalescing N
// writes into one would make the origin's version fall behind the one
// the client was answered. What write-behind buys is the write's latency
// (it waits for the cache server, not the origin) and smoothing (a burst
// of writes reaches the origin at the flusher's pace), at the price of
// the loss window: the writes not flushed yet.
type writeBehind struct {
	every    time.Duration
	maxDirty int
	workers  int

	mu        sync.Mutex
	dirty     map[string]*pendingWrites
	unflushed int

	paths                             *prometheus.CounterVec
	cached, flushed, through, retried prometheus.Counter

	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// pendingWrites are a key's writes acknowledged but not on the origin:
// how many, and the version the last one was answered with.
type pendingWrites struct {
	writes  int
	version uint64
}

// flushWorkers is how many keys a flush writes at once.
const flushWorkers = 8

func newWriteBehind(cfg CacheConfig) *writeBehind {
	w := &writeBehind{
		every:    cfg.FlushInterval,
		maxDirty: cfg.MaxDirty,
		workers:  flushWorkers,
		dirty:    map[string]*pendingWrites{},
		paths:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricCacheWriteBehind, Help: helpCacheWriteBehind}, []string{"path"}),
	}
	if w.every == 0 {
		w.every = DefaultFlushInterval
	}
	if w.maxDirty == 0 {
		w.maxDirty = cfg.Capacity
	}
	w.cached = w.paths.WithLabelValues("cached")
	w.flushed = w.paths.WithLabelValues("flushed")
	w.through = w.paths.WithLabelValues("through")
	w.retried = w.paths.WithLabelValues("retried")
	return w
}

// start runs the flusher of c: a Flush every interval until Close.
func (w *writeBehind) start(c *Cache) {
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel, w.done = cancel, make(chan struct{})
	go func() {
		defer close(w.done)
		t := time.NewTicker(w.every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_ = c.Flush(ctx) // what failed stays dirty for the next tick
			}
		}
	}()
}

// putBehind is Put under WriteBehind: pay the cache server's write, store
// the next version, remember the write as dirty and answer. When MaxDirty
// keys are dirty already, a write of another key goes to the origin at
// once, as WriteThrough.
func (c *Cache) putBehind(ctx context.Context, key string) (Item, error) {
	if err := write(ctx, c.server); err != nil {
		return Item{}, err
	}
	w := c.wb
	w.mu.Lock()
	p, dirty := w.dirty[key]
	if !dirty && len(w.dirty) >= w.maxDirty {
		w.mu.Unlock()
		w.through.Inc()
		item, err := c.origin.Put(ctx, key)
		if err != nil {
			return Item{}, err
		}
		c.store(item, time.Now())
		c.requests.Inc()
		return item, nil
	}
	// The next version is one past the newest this cache knows of: its
	// entry's, or the last unflushed write's if the entry was evicted.
	// A key the cache has never seen is taken as new (version 0 before);
	// the origin's version is the truth and replaces the guess when the
	// write is flushed, unless the cache holds a newer one.
	var version uint64
	if cached, ok := c.peek(key); ok {
		version = cached.Version
	}
	if !dirty {
		p = &pendingWrites{}
		w.dirty[key] = p
	}
	version = max(version, p.version) + 1
	p.writes++
	p.version = version
	w.unflushed++
	item := Item{Key: key, Version: version, Source: c.name}
	c.store(item, time.Now())
	w.mu.Unlock()
	w.cached.Inc()
	c.requests.Inc()
	return item, nil
}

// peek returns the entry for key, live or not, without using it.
func (c *Cache) peek(key string) (Item, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return Item{}, false
	}
	return el.Value.(*cacheEntry).item, true
}

// Flush writes every dirty key of a WriteBehind cache to the origin, one
// origin write per acknowledged write, up to 8 keys at once. Writes the
// origin refuses (shed, or ctx ended) stay dirty for the next flush, and
// the error says how many. The flusher calls it every FlushInterval;
// tests may call it to flush at a moment of their choosing. Other
// policies have nothing to flush.
func (c *Cache) Flush(ctx context.Context) error {
	w := c.wb
	if w == nil {
		return nil
	}
	w.mu.Lock()
	batch := w.dirty
	w.dirty = map[string]*pendingWrites{}
	w.mu.Unlock()

	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed int
		sem    = make(chan struct{}, w.workers)
	)
	for key, p := range batch {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			done := 0
			for ; done < p.writes; done++ {
				item, err := c.origin.Put(ctx, key)
				if err != nil {
					break
				}
				c.store(item, time.Now())
				w.flushed.Inc()
			}
			w.mu.Lock()
			w.unflushed -= done
			if left := p.writes - done; left > 0 {
				// Back into the dirty set, ahead of writes made since.
				if q, ok := w.dirty[key]; ok {
					q.writes += left
				} else {
					w.dirty[key] = &pendingWrites{writes: left, version: p.version}
				}
				w.retried.Add(float64(left))
				mu.Lock()
				failed += left
				mu.Unlock()
			}
			w.mu.Unlock()
		}()
	}
	wg.Wait()
	if failed > 0 {
		return fmt.Errorf("write-behind flush: %d writes refused by the origin, kept for the next flush", failed)
	}
	return nil
}

// Unflushed returns the writes a WriteBehind cache acknowledged that are
// not on the origin yet: the loss window. 0 for other policies.
func (c *Cache) Unflushed() int {
	if c.wb == nil {
		return 0
	}
	c.wb.mu.Lock()
	defer c.wb.mu.Unlock()
	return c.wb.unflushed
}

// Close stops the flusher of a WriteBehind cache and waits for it; the
// writes still unflushed are lost, as when a cache server fails. It is
// idempotent, and does nothing for other policies.
func (c *Cache) Close() error {
	if c.wb == nil || c.wb.cancel == nil {
		return nil
	}
	c.wb.once.Do(func() {
		c.wb.cancel()
		<-c.wb.done
	})
	return nil
}
