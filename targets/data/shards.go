package data

import (
	"github.com/surgeload/surge/targets/internal/metricdef"

	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// MaxShards is the most shards NewShards accepts.
const MaxShards = 4096

// Partitioning says how Shards map a key to a shard.
type Partitioning int

const (
	// HashPartitioning spreads keys evenly over the shards by a hash of
	// the key, whatever their order or popularity pattern. It is the
	// default.
	HashPartitioning Partitioning = iota
	// RangePartitioning gives each shard a contiguous range of keys,
	// split at ShardsConfig.Bounds in KeyLess order: range scans stay on
	// one shard, but sequential or skewed keys make hot shards.
	RangePartitioning
	// RegionPartitioning (geo sharding) puts every request of a region
	// on that region's shard: the region comes from the request's region
	// header (X-Region, see WithHeaders and RegionFrom), and
	// ShardsConfig.Routes places each region; a region not placed there
	// goes by a hash of its name. Data stays near its users, and a busy
	// region makes a hot shard. A request naming no region goes by the
	// hash of its key.
	RegionPartitioning
	// TenantPartitioning puts all of a tenant's data on one shard: the
	// tenant comes from the tenant header (X-Tenant, see TenantFrom),
	// placed by ShardsConfig.Routes or else by a hash of its name. One
	// large tenant makes a hot shard, and moving it is one entry of
	// Routes. A request naming no tenant goes by the hash of its key.
	TenantPartitioning
)

// String returns "hash" or "range".
func (p Partitioning) String() string {
	switch p {
	case HashPartitioning:
		return "hash"
	case RangePartitioning:
		return "range"
	case RegionPartitioning:
		return "region"
	case TenantPartitioning:
		return "tenant"
	}
	return fmt.Sprintf("Partitioning(%d)", int(p))
}

// MarshalText returns the String form, for YAML and JSON.
func (p Partitioning) MarshalText() ([]byte, error) {
	if p < HashPartitioning || p > TenantPartitioning {
		return nil, fmt.Errorf("unknown partitioning %d", int(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText parses "hash" or "range".
func (p *Partitioning) UnmarshalText(text []byte) error {
	switch string(text) {
	case "hash":
		*p = HashPartitioning
	case "range":
		*p = RangePartitioning
	case "region":
		*p = RegionPartitioning
	case "tenant":
		*p = TenantPartitioning
	default:
		return fmt.Errorf("partitioning must be hash, range, region or tenant (got %q)", text)
	}
	return nil
}

// ShardsConfig configures Shards.
type ShardsConfig struct {
	// Partitioning is HashPartitioning (the default) or
	// RangePartitioning.
	Partitioning Partitioning

	// Bounds are the split points of RangePartitioning, in strictly
	// increasing KeyLess order, one fewer than the shards: shard 0 holds
	// the keys before Bounds[0], shard i the keys from Bounds[i-1] up to
	// but not including Bounds[i], and the last shard the rest. With
	// numeric keys 0..999 over four shards, Bounds ["250", "500", "750"]
	// gives each shard 250 keys. Hash partitioning takes no bounds.
	Bounds []string

	// Routes places regions (RegionPartitioning) or tenants
	// (TenantPartitioning) on shards by index: {"us-east": 0,
	// "eu-west": 1}. A name not in it goes by a jump hash of the name.
	// Other partitionings take no routes.
	Routes map[string]int
}

// DefaultShardsConfig returns hash partitioning.
func DefaultShardsConfig() ShardsConfig { return ShardsConfig{Partitioning: HashPartitioning} }

// Validate reports every problem it can see without the shards: an
// unknown partitioning, bounds given to hash partitioning, or bounds out
// of order. NewShards also checks that range partitioning has one bound
// fewer than shards.
func (c ShardsConfig) Validate() error {
	var errs []error
	switch c.Partitioning {
	case HashPartitioning:
		if len(c.Bounds) > 0 {
			errs = append(errs, fmt.Errorf("bounds must be empty with hash partitioning (got %d)", len(c.Bounds)))
		}
	case RegionPartitioning, TenantPartitioning:
		if len(c.Bounds) > 0 {
			errs = append(errs, fmt.Errorf("bounds must be empty with %s partitioning (got %d)", c.Partitioning, len(c.Bounds)))
		}
		for name, i := range c.Routes {
			if name == "" || len(name) > MaxClientBytes || i < 0 || i >= MaxShards {
				errs = append(errs, fmt.Errorf("routes[%q] = %d: want a name of 1 to %d bytes on a shard from 0 to %d", name, i, MaxClientBytes, MaxShards-1))
			}
		}
	case RangePartitioning:
		for i := 1; i < len(c.Bounds); i++ {
			if !KeyLess(c.Bounds[i-1], c.Bounds[i]) {
				errs = append(errs, fmt.Errorf("bounds[%d] %q must come after bounds[%d] %q in key order", i, c.Bounds[i], i-1, c.Bounds[i-1]))
			}
		}
	default:
		errs = append(errs, fmt.Errorf("partitioning must be hash (%d), range (%d), region (%d) or tenant (%d) (got %d)", HashPartitioning, RangePartitioning, RegionPartitioning, TenantPartitioning, int(c.Partitioning)))
	}
	if len(c.Routes) > 0 && c.Partitioning != RegionPartitioning && c.Partitioning != TenantPartitioning {
		errs = append(errs, fmt.Errorf("routes must be empty with %s partitioning (got %d)", c.Partitioning, len(c.Routes)))
	}
	return errors.Join(errs...)
}

// Shards partitions keys over K primaries: every read and write of a key
// goes to the one shard that owns it, so each shard sees only its share
// of the load (evenly with hash partitioning, by key range with range
// partitioning). A shard is any Store: a Table, or Replicas for sharded
// and replicated data.
//
// Hash partitioning is jump consistent hashing (Lamping and Veach, 2014)
// of a 64-bit FNV-1a hash of the key: uniform over the shards, and when
// the shard count grows from K to K+1 only 1/(K+1) of the keys move.
//
// Metrics (label component=name): surge_target_requests_total
// (operations completed) and surge_target_shard_requests_total{shard}
// (operations routed to each shard, shard="0".."K-1").
//
// Shards own no goroutines; they are safe for concurrent use.
type Shards struct {
	partitioning Partitioning
	bounds       []string
	routes       map[string]int
	shards       []Store
	requests     prometheus.Counter
	perShard     []prometheus.Counter
}

var _ Store = (*Shards)(nil)

// NewShards returns Shards over shards configured by cfg, whose metrics
// carry component=name, registered on reg unless reg is nil.
func NewShards(name string, cfg ShardsConfig, shards []Store, reg prometheus.Registerer) (*Shards, error) {
	errs := []error{metricdef.CheckName(name), cfg.Validate()}
	if len(shards) < 1 || len(shards) > MaxShards {
		errs = append(errs, fmt.Errorf("shards must number from 1 to %d (got %d)", MaxShards, len(shards)))
	}
	for i, s := range shards {
		if s == nil {
			errs = append(errs, fmt.Errorf("shard %d must not be nil", i))
		}
	}
	if cfg.Partitioning == RangePartitioning && len(shards) >= 1 && len(cfg.Bounds) != len(shards)-1 {
		errs = append(errs, fmt.Errorf("range partitioning of %d shards needs %d bounds (got %d)", len(shards), len(shards)-1, len(cfg.Bounds)))
	}
	for name, i := range cfg.Routes {
		if i >= len(shards) && len(shards) >= 1 {
			errs = append(errs, fmt.Errorf("routes[%q] = %d: there are %d shards", name, i, len(shards)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	s := &Shards{
		partitioning: cfg.Partitioning,
		bounds:       append([]string(nil), cfg.Bounds...),
		routes:       maps.Clone(cfg.Routes),
		shards:       append([]Store(nil), shards...),
		requests:     prometheus.NewCounter(prometheus.CounterOpts{Name: metricRequests, Help: helpRequests}),
	}
	perShard := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricShardRequests, Help: helpShardRequests}, []string{"shard"})
	for i := range shards {
		s.perShard = append(s.perShard, perShard.WithLabelValues(strconv.Itoa(i)))
	}
	if err := metricdef.Register(reg, name, s.requests, perShard); err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	return s, nil
}

// Get reads key from its shard.
func (s *Shards) Get(ctx context.Context, key string) (Item, error) {
	i := s.shardOf(ctx, key)
	s.perShard[i].Inc()
	item, err := s.shards[i].Get(ctx, key)
	if err == nil {
		s.requests.Inc()
	}
	return item, err
}

// Put writes key on its shard.
func (s *Shards) Put(ctx context.Context, key string) (Item, error) {
	i := s.shardOf(ctx, key)
	s.perShard[i].Inc()
	item, err := s.shards[i].Put(ctx, key)
	if err == nil {
		s.requests.Inc()
	}
	return item, err
}

// shardOf is the shard of an operation on key: by the region or tenant
// ctx carries under those partitionings, else by the key.
func (s *Shards) shardOf(ctx context.Context, key string) int {
	var name string
	var ok bool
	switch s.partitioning {
	case RegionPartitioning:
		name, ok = RegionFrom(ctx)
	case TenantPartitioning:
		name, ok = TenantFrom(ctx)
	}
	if ok {
		return s.ShardForName(name)
	}
	return s.ShardFor(key)
}

// ShardForName returns the shard of a region or tenant: its entry in
// ShardsConfig.Routes, else a jump hash of the name.
func (s *Shards) ShardForName(name string) int {
	if i, ok := s.routes[name]; ok {
		return i
	}
	return jumpHash(fnv1a(name), len(s.shards))
}

// ShardFor returns the index of the shard that owns key (under region or
// tenant partitioning: of a request that names neither).
func (s *Shards) ShardFor(key string) int {
	if s.partitioning == RangePartitioning {
		// The first bound after key is the end of key's range.
		lo, hi := 0, len(s.bounds)
		for lo < hi {
			mid := int(uint(lo+hi) >> 1)
			if KeyLess(key, s.bounds[mid]) {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		return lo
	}
	return jumpHash(fnv1a(key), len(s.shards))
}

// Len returns the number of shards.
func (s *Shards) Len() int { return len(s.shards) }

// KeyLess is the key order of range partitioning. Keys that are decimal
// numbers (non-empty, ASCII digits only) come first, in numeric order of
// any length ("9" < "10"); all other keys follow in byte order. Two
// numbers of equal value ("7", "007") are ordered by their bytes, so the
// order is total.
func KeyLess(a, b string) bool {
	an, bn := isNumber(a), isNumber(b)
	switch {
	case an && bn:
		ta, tb := strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		if len(ta) != len(tb) {
			return len(ta) < len(tb)
		}
		if ta != tb {
			return ta < tb
		}
		return a < b
	case an != bn:
		return an
	}
	return a < b
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// fnv1a is the 64-bit FNV-1a hash of s.
func fnv1a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// jumpHash maps key to a bucket in [0, n) with Lamping and Veach's jump
// consistent hash: each step jumps to the next bucket the key would move
// to as buckets are added, and the last one below n is the answer.
func jumpHash(key uint64, n int) int {
	b, j := int64(-1), int64(0)
	for j < int64(n) {
		b = j
		key = key*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(int64(1)<<31) / float64((key>>33)+1)))
	}
	return int(b)
}
