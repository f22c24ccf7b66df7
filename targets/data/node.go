package data

import (
	"github.com/surgeload/surge/targets/internal/metricdef"

	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Limits of a NodeConfig.
const (
	// MaxSlots is the most slots a Node may have.
	MaxSlots = 100_000
	// MaxQueueLimit is the largest queue bound a Node may have.
	MaxQueueLimit = 1 << 20
	// MaxCost is the longest service time a Node operation may have.
	MaxCost = time.Minute
)

// NodeConfig configures a Node: a data node with a fixed number of
// connections and fixed read and write service times.
type NodeConfig struct {
	// Slots is how many operations the node serves at once, its
	// connection pool: from 1 to MaxSlots. Saturation throughput is
	// Slots ÷ service time. Default 8.
	Slots int

	// QueueLimit is how many operations may wait for a slot, in arrival
	// order; one more is shed at once with ErrQueueFull. From 0 (never
	// wait) to MaxQueueLimit. A long queue turns overload into latency, a
	// short one into errors. Default 256.
	QueueLimit int

	// ReadCost is how long a read holds its slot, from 0 to MaxCost. The
	// node waits on a timer and burns no CPU. Default 1ms.
	ReadCost time.Duration

	// WriteCost is how long a write holds its slot, from 0 to MaxCost.
	// Default 4ms.
	WriteCost time.Duration
}

// DefaultNodeConfig returns 8 slots, a queue of 256, 1ms reads and 4ms
// writes: a node that saturates at 8,000 reads/s or 2,000 writes/s.
func DefaultNodeConfig() NodeConfig {
	return NodeConfig{Slots: 8, QueueLimit: 256, ReadCost: time.Millisecond, WriteCost: 4 * time.Millisecond}
}

// Validate reports every field out of range.
func (c NodeConfig) Validate() error {
	var errs []error
	if c.Slots < 1 || c.Slots > MaxSlots {
		errs = append(errs, fmt.Errorf("slots must be from 1 to %d (got %d)", MaxSlots, c.Slots))
	}
	if c.QueueLimit < 0 || c.QueueLimit > MaxQueueLimit {
		errs = append(errs, fmt.Errorf("queue limit must be from 0 to %d (got %d)", MaxQueueLimit, c.QueueLimit))
	}
	if c.ReadCost < 0 || c.ReadCost > MaxCost {
		errs = append(errs, fmt.Errorf("read cost must be from 0 to %v (got %v)", MaxCost, c.ReadCost))
	}
	if c.WriteCost < 0 || c.WriteCost > MaxCost {
		errs = append(errs, fmt.Errorf("write cost must be from 0 to %v (got %v)", MaxCost, c.WriteCost))
	}
	return errors.Join(errs...)
}

// Node is a [Backend] with Slots connections, a bounded FIFO queue and
// constant service times: the simplest capacity that saturates where the
// arithmetic says. It holds a slot with a timer while an operation is
// served, so it costs no CPU. Components that need richer service-time
// distributions take a targets/resource DB instead.
//
// Metrics (label component=name): surge_target_utilisation (busy slots ÷
// slots, now), surge_target_queue_depth, surge_target_pool_waits_total,
// surge_target_rejected_total{reason="queue_full"},
// surge_target_requests_total (operations completed), surge_target_slots
// and surge_target_busy_seconds_total (whose rate ÷ slots is the mean
// utilisation between two scrapes), as targets/resource exposes them.
//
// A Node owns no goroutines; it is safe for concurrent use.
type Node struct {
	readCost, writeCost time.Duration
	queueLimit          int64
	sem                 chan struct{} // a token per busy slot
	busy                atomic.Int64
	waiting             atomic.Int64

	requests  prometheus.Counter
	poolWaits prometheus.Counter
	rejected  *prometheus.CounterVec
	shed      prometheus.Counter // rejected{reason="queue_full"}
	busySecs  prometheus.Counter
}

var _ Backend = (*Node)(nil)

// NewNode returns a Node configured by cfg whose metrics carry
// component=name, registered on reg unless reg is nil.
func NewNode(name string, cfg NodeConfig, reg prometheus.Registerer) (*Node, error) {
	if err := errors.Join(metricdef.CheckName(name), cfg.Validate()); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	n := &Node{
		readCost:   cfg.ReadCost,
		writeCost:  cfg.WriteCost,
		queueLimit: int64(cfg.QueueLimit),
		sem:        make(chan struct{}, cfg.Slots),
		requests:   prometheus.NewCounter(prometheus.CounterOpts{Name: metricRequests, Help: helpRequests}),
		poolWaits:  prometheus.NewCounter(prometheus.CounterOpts{Name: metricPoolWaits, Help: helpPoolWaits}),
		rejected:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricRejected, Help: helpRejected}, []string{"reason"}),
		busySecs:   prometheus.NewCounter(prometheus.CounterOpts{Name: metricBusySeconds, Help: helpBusySeconds}),
	}
	n.shed = n.rejected.WithLabelValues(ReasonQueueFull)
	slotsGauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: metricSlots, Help: helpSlots})
	slotsGauge.Set(float64(cfg.Slots))
	slots := float64(cfg.Slots)
	utilisation := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: metricUtilisation, Help: helpUtilisation},
		func() float64 { return float64(n.busy.Load()) / slots })
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: metricQueueDepth, Help: helpQueueDepth},
		func() float64 { return float64(n.waiting.Load()) })
	if err := metricdef.Register(reg, name, n.requests, n.poolWaits, n.rejected, utilisation, depth, slotsGauge, n.busySecs); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	return n, nil
}

// Read holds a slot for the read cost.
func (n *Node) Read(ctx context.Context) error { return n.serve(ctx, n.readCost) }

// Write holds a slot for the write cost.
func (n *Node) Write(ctx context.Context) error { return n.serve(ctx, n.writeCost) }

// Busy returns how many slots are serving an operation now.
func (n *Node) Busy() int { return int(n.busy.Load()) }

// Waiting returns how many operations are queued for a slot now.
func (n *Node) Waiting() int { return int(n.waiting.Load()) }

// serve takes a slot, waiting in the queue if none is free, and holds it
// for cost. If ctx ends first it gives up its place or its slot.
func (n *Node) serve(ctx context.Context, cost time.Duration) error {
	if err := n.acquire(ctx); err != nil {
		return err
	}
	n.busy.Add(1)
	start := time.Now()
	err := sleep(ctx, cost)
	n.busySecs.Add(time.Since(start).Seconds())
	n.busy.Add(-1)
	<-n.sem
	if err != nil {
		return err
	}
	n.requests.Inc()
	return nil
}

func (n *Node) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case n.sem <- struct{}{}:
		return nil
	default:
	}
	// Every slot is busy: queue, if there is room. Blocked channel senders
	// are woken in the order they blocked, which makes the queue FIFO.
	if n.waiting.Add(1) > n.queueLimit {
		n.waiting.Add(-1)
		n.shed.Inc()
		return ErrQueueFull
	}
	n.poolWaits.Inc()
	defer n.waiting.Add(-1)
	select {
	case n.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sleep waits d on a timer, or less if ctx ends first, and returns
// ctx.Err() in that case.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
