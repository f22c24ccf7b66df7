package data

import (
	"github.com/surgeload/surge/targets/internal/metricdef"
	"github.com/surgeload/surge/targets/resource"

	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// MaxRTT is the longest inter-region round trip a RegionsConfig allows.
const MaxRTT = 10 * time.Second

// RegionsConfig configures Regions.
type RegionsConfig struct {
	// Primary is the region that takes every write (active-passive). It
	// must be one of the regions given to NewRegions. No default.
	Primary string

	// Default is the region that serves a request whose context carries
	// no region (WithRegion, or the header of WithHeaders). Empty means
	// Primary.
	Default string

	// RTT is the round-trip time between any two distinct regions, from
	// 0 to MaxRTT, paid on a timer by each write forwarded to the
	// primary region. Default 80ms, about US east to EU west.
	RTT time.Duration

	// PairRTTs override RTT for particular pairs of regions, in both
	// directions; each pair at most once.
	PairRTTs []PairRTT
}

// PairRTT is the round trip between regions A and B.
type PairRTT struct {
	A, B string
	RTT  time.Duration
}

// DefaultRegionsConfig returns an RTT of 80ms and no primary: the caller
// names it.
func DefaultRegionsConfig() RegionsConfig { return RegionsConfig{RTT: 80 * time.Millisecond} }

// Validate reports every problem it can see without the regions: a
// missing primary, round trips out of range, malformed pairs. NewRegions
// also checks that the names it refers to are regions.
func (c RegionsConfig) Validate() error {
	var errs []error
	if c.Primary == "" {
		errs = append(errs, errors.New("primary must name the region that takes writes"))
	}
	if c.RTT < 0 || c.RTT > MaxRTT {
		errs = append(errs, fmt.Errorf("rtt must be from 0 to %v (got %v)", MaxRTT, c.RTT))
	}
	seen := make(map[[2]string]bool)
	for i, p := range c.PairRTTs {
		if p.A == "" || p.B == "" || p.A == p.B {
			errs = append(errs, fmt.Errorf("pair rtts[%d] must name two different regions (got %q and %q)", i, p.A, p.B))
			continue
		}
		if p.RTT < 0 || p.RTT > MaxRTT {
			errs = append(errs, fmt.Errorf("pair rtts[%d] (%s, %s) rtt must be from 0 to %v (got %v)", i, p.A, p.B, MaxRTT, p.RTT))
		}
		k := pairKey(p.A, p.B)
		if seen[k] {
			errs = append(errs, fmt.Errorf("pair rtts[%d] repeats the pair (%s, %s)", i, p.A, p.B))
		}
		seen[k] = true
	}
	return errors.Join(errs...)
}

func pairKey(a, b string) [2]string {
	if b < a {
		a, b = b, a
	}
	return [2]string{a, b}
}

// Regions serves each client from the region nearest it and sends every
// write to one primary region (active-passive). The client's region is
// the one its context names (WithRegion, or the header of WithHeaders);
// the scenario decides where its clients are. Reads are served by that
// region's Store, paying no inter-region latency. Writes from the
// primary region go straight to its Store; writes from any other region
// are forwarded, paying the round trip between the two regions on a
// timer (half before the primary's write, half after, as the request
// and its answer cross), so off-primary clients see write latency grow
// by the RTT.
//
// Each region's Store decides what its reads see. Giving the primary
// region a Replicas' Primary() and every other region one of its
// Replica(i) views models asynchronous cross-region replication: passive
// regions read their own copy, Lag behind. (Read-your-writes reads of
// such a view go to the primary node without paying the RTT.)
//
// Metrics (label component=name): surge_target_requests_total
// (operations completed), surge_target_region_requests_total{region}
// (by the region whose store served them) and
// surge_target_forwarded_writes_total.
//
// Regions own no goroutines; they are safe for concurrent use.
type Regions struct {
	primary   string
	fallback  string
	names     []string // sorted
	stores    map[string]Store
	rtt       time.Duration
	pairs     map[[2]string]time.Duration
	requests  prometheus.Counter
	forwarded prometheus.Counter
	perRegion map[string]prometheus.Counter
}

var _ Store = (*Regions)(nil)

// NewRegions returns Regions over regions (region name → its Store)
// configured by cfg, whose metrics carry component=name, registered on
// reg unless reg is nil.
func NewRegions(name string, cfg RegionsConfig, regions map[string]Store, reg prometheus.Registerer) (*Regions, error) {
	errs := []error{metricdef.CheckName(name), cfg.Validate()}
	if len(regions) < 1 {
		errs = append(errs, errors.New("regions must name at least one region"))
	}
	names := make([]string, 0, len(regions))
	for n, s := range regions {
		names = append(names, n)
		switch {
		case n == "" || len(n) > MaxClientBytes:
			errs = append(errs, fmt.Errorf("region name %q must be from 1 to %d bytes", n, MaxClientBytes))
		case s == nil:
			errs = append(errs, fmt.Errorf("region %q must have a store", n))
		}
	}
	slices.Sort(names)
	known := func(field, n string) {
		if _, ok := regions[n]; n != "" && !ok {
			errs = append(errs, fmt.Errorf("%s %q must be one of the regions (%s)", field, n, strings.Join(names, ", ")))
		}
	}
	known("primary", cfg.Primary)
	known("default", cfg.Default)
	for i, p := range cfg.PairRTTs {
		known(fmt.Sprintf("pair rtts[%d] region", i), p.A)
		known(fmt.Sprintf("pair rtts[%d] region", i), p.B)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("regions: %w", err)
	}
	r := &Regions{
		primary:   cfg.Primary,
		fallback:  cfg.Default,
		names:     names,
		stores:    make(map[string]Store, len(regions)),
		rtt:       cfg.RTT,
		pairs:     make(map[[2]string]time.Duration, len(cfg.PairRTTs)),
		requests:  prometheus.NewCounter(prometheus.CounterOpts{Name: metricRequests, Help: helpRequests}),
		forwarded: prometheus.NewCounter(prometheus.CounterOpts{Name: metricForwardedWrites, Help: helpForwardedWrites}),
		perRegion: make(map[string]prometheus.Counter, len(regions)),
	}
	if r.fallback == "" {
		r.fallback = r.primary
	}
	for n, s := range regions {
		r.stores[n] = s
	}
	for _, p := range cfg.PairRTTs {
		r.pairs[pairKey(p.A, p.B)] = p.RTT
	}
	perRegion := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricRegionRequests, Help: helpRegionRequests}, []string{"region"})
	for _, n := range names {
		r.perRegion[n] = perRegion.WithLabelValues(n)
	}
	if err := metricdef.Register(reg, name, r.requests, r.forwarded, perRegion); err != nil {
		return nil, fmt.Errorf("regions: %w", err)
	}
	return r, nil
}

// Get reads key from the client's region.
func (r *Regions) Get(ctx context.Context, key string) (Item, error) {
	region, err := r.clientRegion(ctx)
	if err != nil {
		return Item{}, err
	}
	item, err := r.stores[region].Get(ctx, key)
	if err != nil {
		return Item{}, err
	}
	r.perRegion[region].Inc()
	r.requests.Inc()
	return item, nil
}

// Put writes key in the primary region, forwarding the write there and
// paying the round trip if the client is in another region.
func (r *Regions) Put(ctx context.Context, key string) (Item, error) {
	region, err := r.clientRegion(ctx)
	if err != nil {
		return Item{}, err
	}
	var rtt time.Duration
	if region != r.primary {
		r.forwarded.Inc()
		rtt = r.RTT(region, r.primary)
	}
	there := rtt / 2
	if err := sleep(ctx, there); err != nil {
		return Item{}, err
	}
	item, err := r.stores[r.primary].Put(ctx, key)
	if err != nil {
		return Item{}, err
	}
	if err := sleep(ctx, rtt-there); err != nil {
		return Item{}, err
	}
	r.perRegion[r.primary].Inc()
	r.requests.Inc()
	return item, nil
}

// RTT returns the round trip between regions a and b: 0 within a region,
// the pair's override if it has one, and the configured RTT otherwise.
func (r *Regions) RTT(a, b string) time.Duration {
	if a == b {
		return 0
	}
	if d, ok := r.pairs[pairKey(a, b)]; ok {
		return d
	}
	return r.rtt
}

// Names returns the region names, sorted.
func (r *Regions) Names() []string { return slices.Clone(r.names) }

// Primary returns the name of the primary region.
func (r *Regions) Primary() string { return r.primary }

// clientRegion returns the region serving ctx's client.
func (r *Regions) clientRegion(ctx context.Context) (string, error) {
	region, ok := RegionFrom(ctx)
	if !ok {
		return r.fallback, nil
	}
	if _, ok := r.stores[region]; !ok {
		return "", fmt.Errorf("region %q: %w (known: %s)", region, ErrUnknownRegion, strings.Join(r.names, ", "))
	}
	return region, nil
}

// sleep waits d, or less if ctx ends first, and returns ctx.Err() in
// that case. The request's virtual time moves d on (see Virtual time
// across components on resource.Resource): the simulated components after
// the hop start their work d after those before it ended, however late
// this goroutine wakes up.
func sleep(ctx context.Context, d time.Duration) error {
	return resource.Delay(ctx, nil, d)
}
