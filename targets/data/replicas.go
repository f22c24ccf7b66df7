package data

import (
	"github.com/surgeload/surge/targets/internal/metricdef"

	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Limits of a ReplicasConfig and of NewReplicas.
const (
	// MaxLag is the longest replication lag or read-your-writes window.
	MaxLag = time.Hour
	// MaxReplicas is the most replicas NewReplicas accepts.
	MaxReplicas = 1024
	// maxWriters bounds the clients Replicas remember for
	// read-your-writes within two windows; beyond it new writers are not
	// remembered (their reads may then be stale).
	maxWriters = 1 << 20
)

// ReplicasConfig configures Replicas.
type ReplicasConfig struct {
	// Lag is how long after a write commits on the primary it becomes
	// visible on the replicas, from 0 to MaxLag. A replica read within
	// Lag of a write of its key returns the previous version, marked
	// Stale. Default 100ms.
	Lag time.Duration

	// ReadYourWrites sends a client's reads to the primary for
	// ReadYourWritesWindow after the client's last write, so that it
	// always sees its own writes, at the price of primary capacity. The
	// client is the ID its context carries (WithClient, or the header of
	// WithHeaders); anonymous reads always go to a replica. Default off.
	ReadYourWrites bool

	// ReadYourWritesWindow is how long after a write its client's reads
	// go to the primary, from 0 to MaxLag; 0 means Lag, the shortest
	// window that guarantees the client sees its writes. Default 0.
	ReadYourWritesWindow time.Duration

	// MaxKeys bounds the keys held, from 1 to MaxKeys, as in a Table:
	// a write of a new key beyond it fails with ErrTableFull. Default
	// 1,000,000.
	MaxKeys int
}

// DefaultReplicasConfig returns a lag of 100ms, read-your-writes off and
// a bound of one million keys.
func DefaultReplicasConfig() ReplicasConfig {
	return ReplicasConfig{Lag: 100 * time.Millisecond, MaxKeys: 1_000_000}
}

// Validate reports every field out of range.
func (c ReplicasConfig) Validate() error {
	var errs []error
	if c.Lag < 0 || c.Lag > MaxLag {
		errs = append(errs, fmt.Errorf("lag must be from 0 to %v (got %v)", MaxLag, c.Lag))
	}
	if c.ReadYourWritesWindow < 0 || c.ReadYourWritesWindow > MaxLag {
		errs = append(errs, fmt.Errorf("read-your-writes window must be from 0 (the lag) to %v (got %v)", MaxLag, c.ReadYourWritesWindow))
	}
	if c.MaxKeys < 1 || c.MaxKeys > MaxKeys {
		errs = append(errs, fmt.Errorf("max keys must be from 1 to %d (got %d)", MaxKeys, c.MaxKeys))
	}
	return errors.Join(errs...)
}

// Replicas is a primary database with read replicas. Writes go to the
// primary, which assigns versions. Reads go to the replicas in turn
// (round robin), which see a write only Lag after it committed: they
// answer the newest version committed at least Lag ago and mark the item
// Stale when the primary has a newer one. With ReadYourWrites, the reads
// of a client that wrote recently go to the primary instead.
//
// All replicas apply the primary's writes with the same lag, so one
// version history per key serves them all; it keeps only the writes of
// the last Lag. Each node's capacity is a Backend: the primary pays
// writes and primary reads, each replica its own reads.
//
// Primary and Replica return Stores that read from one chosen node, so
// that, for example, each passive region of a Regions can read its own
// replica.
//
// Metrics (label component=name): surge_target_requests_total (reads
// and writes completed), surge_target_replica_reads_total{node}
// (node="primary" or "replica-N"), surge_target_stale_reads_total,
// surge_target_read_your_writes_total and
// surge_target_replication_lag_seconds (the configured Lag). The
// Backends report their own utilisation and queues.
//
// Replicas own no goroutines; they are safe for concurrent use.
type Replicas struct {
	name     string
	lag      time.Duration
	primary  Backend
	replicas []Backend
	sources  []string // Item.Source of replica i; sources[len(replicas)] is the primary's
	maxKeys  int
	next     atomic.Uint64 // round robin over replicas

	mu   sync.Mutex
	keys map[string]*keyHistory

	ryw     bool
	writers writers

	requests  prometheus.Counter
	nodeReads []prometheus.Counter // index as sources
	stale     prometheus.Counter
	rywReads  prometheus.Counter
}

// keyHistory is what Replicas know of a key: the version the replicas
// certainly see and the commit times of the newer ones, oldest first.
// Versions are consecutive, so pending[i] is version visible+1+i.
type keyHistory struct {
	visible uint64
	pending []time.Time
}

// primaryNode is the node index of the primary in Replicas.get.
const primaryNode = -1

var _ Store = (*Replicas)(nil)

// NewReplicas returns empty Replicas configured by cfg, with primary and
// replicas as the capacities of the nodes (nil entries are free; at least
// one replica), whose metrics carry component=name, registered on reg
// unless reg is nil.
func NewReplicas(name string, cfg ReplicasConfig, primary Backend, replicas []Backend, reg prometheus.Registerer) (*Replicas, error) {
	errs := []error{metricdef.CheckName(name), cfg.Validate()}
	if len(replicas) < 1 || len(replicas) > MaxReplicas {
		errs = append(errs, fmt.Errorf("replicas must number from 1 to %d (got %d)", MaxReplicas, len(replicas)))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("replicas: %w", err)
	}
	window := cfg.ReadYourWritesWindow
	if window == 0 {
		window = cfg.Lag
	}
	r := &Replicas{
		name:     name,
		lag:      cfg.Lag,
		primary:  primary,
		replicas: append([]Backend(nil), replicas...),
		maxKeys:  cfg.MaxKeys,
		keys:     make(map[string]*keyHistory),
		ryw:      cfg.ReadYourWrites,
		writers:  writers{window: window},
		requests: prometheus.NewCounter(prometheus.CounterOpts{Name: metricRequests, Help: helpRequests}),
		stale:    prometheus.NewCounter(prometheus.CounterOpts{Name: metricStaleReads, Help: helpStaleReads}),
		rywReads: prometheus.NewCounter(prometheus.CounterOpts{Name: metricRYWReads, Help: helpRYWReads}),
	}
	reads := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricReplicaReads, Help: helpReplicaReads}, []string{"node"})
	for i := range replicas {
		node := "replica-" + strconv.Itoa(i)
		r.sources = append(r.sources, name+"/"+node)
		r.nodeReads = append(r.nodeReads, reads.WithLabelValues(node))
	}
	r.sources = append(r.sources, name+"/primary")
	r.nodeReads = append(r.nodeReads, reads.WithLabelValues("primary"))
	lag := prometheus.NewGauge(prometheus.GaugeOpts{Name: metricReplicationLag, Help: helpReplicationLag})
	lag.Set(cfg.Lag.Seconds())
	keys := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: metricKeys, Help: helpKeys},
		func() float64 { return float64(r.Len()) })
	if err := metricdef.Register(reg, name, r.requests, reads, r.stale, r.rywReads, lag, keys); err != nil {
		return nil, fmt.Errorf("replicas: %w", err)
	}
	return r, nil
}

// Get reads key from the next replica, or from the primary if
// read-your-writes applies to the client in ctx.
func (r *Replicas) Get(ctx context.Context, key string) (Item, error) {
	if r.ryw && r.wroteRecently(ctx) {
		r.rywReads.Inc()
		return r.get(ctx, key, primaryNode)
	}
	i := int((r.next.Add(1) - 1) % uint64(len(r.replicas)))
	return r.get(ctx, key, i)
}

// Put writes key on the primary and commits its next version.
func (r *Replicas) Put(ctx context.Context, key string) (Item, error) {
	if err := write(ctx, r.primary); err != nil {
		return Item{}, err
	}
	now := time.Now()
	r.mu.Lock()
	h, ok := r.keys[key]
	if !ok {
		if len(r.keys) >= r.maxKeys {
			r.mu.Unlock()
			return Item{}, fmt.Errorf("put %q into %s: %w (%d keys)", key, r.name, ErrTableFull, r.maxKeys)
		}
		h = &keyHistory{}
		r.keys[key] = h
	}
	h.advance(now, r.lag)
	h.pending = append(h.pending, now)
	v := h.latest()
	r.mu.Unlock()
	if id, ok := ClientFrom(ctx); ok && r.ryw {
		r.writers.wrote(id, now)
	}
	r.requests.Inc()
	return Item{Key: key, Version: v, Source: r.sources[len(r.replicas)]}, nil
}

// Primary returns a Store that reads from the primary (always fresh) and
// writes like r.
func (r *Replicas) Primary() Store { return nodeView{r, primaryNode} }

// Replica returns a Store that reads from replica i (from 0) and writes
// like r. Read-your-writes applies to its reads as to r's. It panics if i
// is out of range, like an index.
func (r *Replicas) Replica(i int) Store {
	if i < 0 || i >= len(r.replicas) {
		panic(fmt.Sprintf("data: replica %d out of range [0, %d)", i, len(r.replicas)))
	}
	return nodeView{r, i}
}

// Lag returns the configured replication lag.
func (r *Replicas) Lag() time.Duration { return r.lag }

// Len returns how many keys have been written.
func (r *Replicas) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.keys)
}

// nodeView is the Store of Primary and Replica.
type nodeView struct {
	r    *Replicas
	node int // primaryNode or a replica index
}

func (v nodeView) Get(ctx context.Context, key string) (Item, error) {
	if v.node != primaryNode && v.r.ryw && v.r.wroteRecently(ctx) {
		v.r.rywReads.Inc()
		return v.r.get(ctx, key, primaryNode)
	}
	return v.r.get(ctx, key, v.node)
}

func (v nodeView) Put(ctx context.Context, key string) (Item, error) { return v.r.Put(ctx, key) }

// get pays a read on node and returns the version of key that node sees
// when the read completes.
func (r *Replicas) get(ctx context.Context, key string, node int) (Item, error) {
	b, src := r.primary, len(r.replicas)
	if node != primaryNode {
		b, src = r.replicas[node], node
	}
	if err := read(ctx, b); err != nil {
		return Item{}, err
	}
	now := time.Now()
	var v, latest uint64
	r.mu.Lock()
	if h, ok := r.keys[key]; ok {
		h.advance(now, r.lag)
		latest = h.latest()
		v = latest
		if node != primaryNode {
			v = h.visible
		}
	}
	r.mu.Unlock()
	stale := v < latest
	if stale {
		r.stale.Inc()
	}
	r.nodeReads[src].Inc()
	r.requests.Inc()
	return Item{Key: key, Version: v, Stale: stale, Source: r.sources[src]}, nil
}

func (r *Replicas) wroteRecently(ctx context.Context) bool {
	id, ok := ClientFrom(ctx)
	return ok && r.writers.recent(id, time.Now())
}

// advance makes visible every pending write committed at least lag
// before now.
func (h *keyHistory) advance(now time.Time, lag time.Duration) {
	n := 0
	for n < len(h.pending) && now.Sub(h.pending[n]) >= lag {
		n++
	}
	if n == 0 {
		return
	}
	h.visible += uint64(n)
	if n == len(h.pending) {
		h.pending = h.pending[:0] // keep the array for the next writes
	} else {
		h.pending = append(h.pending[:0], h.pending[n:]...)
	}
}

// latest returns the newest committed version.
func (h *keyHistory) latest() uint64 { return h.visible + uint64(len(h.pending)) }

// writers remembers when clients last wrote, for read-your-writes, in
// two generations of one window each: every write of the last window is
// in cur or prev, and memory holds at most two windows of writers.
type writers struct {
	window time.Duration

	mu      sync.Mutex
	cur     map[string]time.Time
	prev    map[string]time.Time
	rotated time.Time // when cur was started
}

// rotate starts a new generation when cur is a window old. Callers hold
// w.mu.
func (w *writers) rotate(now time.Time) {
	age := now.Sub(w.rotated)
	if w.cur != nil && age < w.window {
		return
	}
	if w.cur != nil && age < 2*w.window {
		w.prev = w.cur
	} else {
		w.prev = nil // everything in cur is older than a window
	}
	w.cur = make(map[string]time.Time)
	w.rotated = now
}

func (w *writers) wrote(id string, now time.Time) {
	if w.window <= 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rotate(now)
	if len(w.cur) < maxWriters {
		w.cur[id] = now
	}
}

func (w *writers) recent(id string, now time.Time) bool {
	if w.window <= 0 {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rotate(now)
	t, ok := w.cur[id]
	if !ok {
		t, ok = w.prev[id]
	}
	return ok && now.Sub(t) < w.window
}
