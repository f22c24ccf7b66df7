package data

import (
	"context"
	"math"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func newTestShards(t *testing.T, cfg ShardsConfig, k int, reg prometheus.Registerer) (*Shards, []*Table) {
	t.Helper()
	var tables []*Table
	var stores []Store
	for i := range k {
		tb := newTestTable(t, "shard"+strconv.Itoa(i), nil, nil)
		tables = append(tables, tb)
		stores = append(stores, tb)
	}
	s, err := NewShards("shards", cfg, stores, reg)
	if err != nil {
		t.Fatalf("NewShards: %v", err)
	}
	return s, tables
}

// TestShardsHashUniform writes 80,000 keys over 8 hash shards and checks
// each shard got its eighth within 3% and that reads find the same shard.
func TestShardsHashUniform(t *testing.T) {
	const k, keys = 8, 80_000
	reg := prometheus.NewRegistry()
	s, tables := newTestShards(t, DefaultShardsConfig(), k, reg)
	ctx := context.Background()
	for i := range keys {
		if _, err := s.Put(ctx, strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	want := float64(keys) / k
	var chi2 float64
	for i, tb := range tables {
		n := float64(tb.Len())
		chi2 += (n - want) * (n - want) / want
		if math.Abs(n-want) > 0.03*want {
			t.Errorf("shard %d holds %v keys; want %v ± 3%%", i, n, want)
		}
		if got := metricValue(t, reg, "surge_target_shard_requests_total", "component", "shards", "shard", strconv.Itoa(i)); got != n {
			t.Errorf("shard_requests_total{shard=%d} = %v; want its %v writes", i, got, n)
		}
	}
	// 7 degrees of freedom: P(χ² > 24.3) = 0.001.
	t.Logf("hash shard sizes: χ² = %.2f over 7 degrees of freedom", chi2)
	if chi2 > 24.3 {
		t.Errorf("χ² = %.2f; want ≤ 24.3 (uniform at p = 0.001)", chi2)
	}
	for _, key := range []string{"0", "17", "79999", "user:42"} {
		item, err := s.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if want := "shard" + strconv.Itoa(s.ShardFor(key)); item.Source != want {
			t.Errorf("Get(%q) served by %s; want its shard %s", key, item.Source, want)
		}
	}
}

// TestShardsHashConsistent checks jump hashing moves only 1/(K+1) of the
// keys, all to the new shard, when a ninth shard is added to eight.
func TestShardsHashConsistent(t *testing.T) {
	const keys = 20_000
	moved := 0
	for i := range keys {
		h := fnv1a(strconv.Itoa(i))
		a, b := jumpHash(h, 8), jumpHash(h, 9)
		if a != b {
			moved++
			if b != 8 {
				t.Fatalf("key %d moved from shard %d to %d; want only moves to the new shard 8", i, a, b)
			}
		}
	}
	if got, want := float64(moved)/keys, 1.0/9; math.Abs(got-want) > 0.01 {
		t.Errorf("%.4f of keys moved; want 1/9 = %.4f ± 0.01", got, want)
	}
}

// TestShardsRangeExact checks range partitioning puts every key exactly
// where its bounds say.
func TestShardsRangeExact(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, tables := newTestShards(t, ShardsConfig{Partitioning: RangePartitioning, Bounds: []string{"250", "500", "750"}}, 4, reg)
	ctx := context.Background()
	for i := range 1000 {
		if _, err := s.Put(ctx, strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	for i, tb := range tables {
		if tb.Len() != 250 {
			t.Errorf("shard %d holds %d keys; want exactly 250", i, tb.Len())
		}
	}
	for _, tc := range []struct {
		key  string
		want int
	}{
		{"0", 0}, {"9", 0}, {"249", 0}, {"250", 1}, {"499", 1}, {"500", 2},
		{"749", 2}, {"750", 3}, {"999", 3}, {"1000", 3}, {"123456789012345678901234567890", 3},
		{"0249", 0}, {"0250", 0}, // equal value to "250" but before it in byte order
		{"abc", 3}, {"", 3}, {"-1", 3},
	} {
		if got := s.ShardFor(tc.key); got != tc.want {
			t.Errorf("ShardFor(%q) = %d; want %d", tc.key, got, tc.want)
		}
	}
	if got := metricValue(t, reg, "surge_target_requests_total", "component", "shards"); got != 1000 {
		t.Errorf("requests = %v; want 1000", got)
	}
}

func TestKeyLess(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"9", "10", true},
		{"10", "9", false},
		{"007", "7", true},
		{"7", "007", false},
		{"7", "7", false},
		{"99999999999999999999", "100000000000000000000", true},
		{"5", "a", true}, // numbers before the rest
		{"a", "5", false},
		{"a", "b", true},
		{"user:10", "user:9", true}, // non-numbers in byte order
		{"", "a", true},
		{"0", "", true},
	} {
		if got := KeyLess(tc.a, tc.b); got != tc.want {
			t.Errorf("KeyLess(%q, %q) = %v; want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestPartitioningText(t *testing.T) {
	for _, p := range []Partitioning{HashPartitioning, RangePartitioning} {
		text, err := p.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Partitioning
		if err := back.UnmarshalText(text); err != nil || back != p {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", text, back, err, p)
		}
	}
	var p Partitioning
	if err := p.UnmarshalText([]byte("list")); err == nil {
		t.Error("UnmarshalText(list) succeeded; want an error")
	}
}
