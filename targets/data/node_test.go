package data

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestNodeSaturationThroughput drives a node closed-loop with more
// clients than slots and checks it completes slots ÷ service time
// operations per second, ±15%.
func TestNodeSaturationThroughput(t *testing.T) {
	const slots, cost, clients, run = 8, 25 * time.Millisecond, 24, 1500 * time.Millisecond
	reg := prometheus.NewRegistry()
	n, err := NewNode("db", NodeConfig{Slots: slots, QueueLimit: clients, ReadCost: cost}, reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), run)
	defer cancel()
	var done atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for n.Read(ctx) == nil {
				done.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	rate := float64(done.Load()) / elapsed
	want := slots / cost.Seconds()
	busy := metricValue(t, reg, "surge_target_busy_seconds_total", "component", "db") /
		(metricValue(t, reg, "surge_target_slots", "component", "db") * elapsed)
	t.Logf("saturation throughput %.0f/s; slots ÷ service time = %.0f/s; mean utilisation %.3f", rate, want, busy)
	if math.Abs(rate-want) > 0.15*want {
		t.Errorf("throughput %.0f/s; want %.0f/s ± 15%%", rate, want)
	}
	if busy < 0.9 || busy > 1.0001 {
		t.Errorf("busy seconds ÷ (slots × run) = %.3f; want about 1 at saturation", busy)
	}
}

// TestNodeQueueBound fills the slot and the queue and checks the next
// operation is shed at once, with the gauges and counters to match.
func TestNodeQueueBound(t *testing.T) {
	reg := prometheus.NewRegistry()
	n, err := NewNode("db", NodeConfig{Slots: 1, QueueLimit: 1, WriteCost: MaxCost}, reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	go func() { errs <- n.Write(ctx) }()
	waitFor(t, "the first write to take the slot", func() bool { return n.Busy() == 1 })
	go func() { errs <- n.Write(ctx) }()
	waitFor(t, "the second write to queue", func() bool { return n.Waiting() == 1 })

	start := time.Now()
	if err := n.Write(context.Background()); !errors.Is(err, ErrQueueFull) {
		t.Errorf("third write: %v; want ErrQueueFull", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("the shed write took %v; want at once", took)
	}
	for _, m := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"surge_target_utilisation", nil, 1},
		{"surge_target_queue_depth", nil, 1},
		{"surge_target_pool_waits_total", nil, 1},
		{"surge_target_rejected_total", []string{"reason", "queue_full"}, 1},
		{"surge_target_requests_total", nil, 0},
	} {
		if got := metricValue(t, reg, m.name, append([]string{"component", "db"}, m.labels...)...); got != m.want {
			t.Errorf("%s = %v; want %v", m.name, got, m.want)
		}
	}

	cancel() // both blocked writes give up
	for range 2 {
		if err := <-errs; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled write: %v; want context.Canceled", err)
		}
	}
	if n.Busy() != 0 || n.Waiting() != 0 {
		t.Errorf("after cancelling: %d busy, %d waiting; want 0, 0", n.Busy(), n.Waiting())
	}
	if err := n.Read(context.Background()); err != nil {
		t.Errorf("a read after the cancellations: %v; want the freed slot", err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
