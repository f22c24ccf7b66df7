package targets

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/surgeload/surge/targets/internal/metricdef"
	"github.com/surgeload/surge/targets/resource"
)

// ScalingConfig is the policy of an autoscaled app tier, as a cloud
// autoscaler (or Kubernetes' horizontal pod autoscaler) applies it.
type ScalingConfig struct {
	// MinInstances is how many instances always serve, at least 1.
	MinInstances int `json:"min_instances"`
	// MaxInstances is the most instances that may serve, from
	// MinInstances to maxTopologyNodes.
	MaxInstances int `json:"max_instances"`
	// TargetUtilisation is the busy fraction of the serving instances'
	// slots the autoscaler aims for, above 0 and at most 1. Every
	// evaluation it wants ceil(serving × measured ÷ target) instances,
	// within the bounds.
	TargetUtilisation float64 `json:"target_utilisation"`
	// EvaluationPeriod is how often the utilisation is measured (over the
	// period just ended) and the count decided, like "1s".
	EvaluationPeriod Duration `json:"evaluation_period"`
	// ProvisionDelay is how long a new instance takes from the decision
	// to serving its first request (boot, warm-up, registration), like
	// "3s"; it gets no traffic before.
	ProvisionDelay Duration `json:"provision_delay"`
	// CoolDown is how long after the last scale-out, and how long the
	// wanted count must have stayed below the serving count, before
	// instances are removed: the count drops to the highest one wanted
	// over the last CoolDown (Kubernetes' stabilisation window), so a
	// dip between two spikes does not remove capacity it will need again.
	CoolDown Duration `json:"cool_down"`
}

// AutoscaleConfig is an app tier that scales out on utilisation in front
// of a cache and a database: each instance is an app server of App's
// slots; requests go to the serving instance with the fewest in flight.
type AutoscaleConfig struct {
	// EdgeOptions add a gateway and db breakers (JSON "gateway", "breaker").
	EdgeOptions
	Scaling ScalingConfig `json:"scaling"`
	// App configures each instance.
	App   AppConfig       `json:"app"`
	Cache CacheTierConfig `json:"cache"`
	DB    DBConfig        `json:"db"`
	// Shop configures the shop flow (POST /login, …; see StartTopology).
	Shop ShopConfig `json:"shop"`
}

// DefaultAutoscaleConfig returns seed 002's autoscaled tier: 10 to 26
// instances of one slot each (4 ms of app work a request), aiming at 60 %
// busy, deciding every second, an instance serving 3 s after it is asked
// for and removed after a 15 s cool-down; a 1,000-entry cache and a db of
// 16 connections. With the staircase mix (cache hit rate ⅔) an instance's
// slot is held 8.5 ms a request: 10 instances carry about 1,180 req/s, 26
// about 3,060 (the ceiling, app-bound; the db's 16 ÷ 4.5 ms ≈ 3,560).
func DefaultAutoscaleConfig() AutoscaleConfig {
	return AutoscaleConfig{
		Scaling: ScalingConfig{
			MinInstances: 10, MaxInstances: 26, TargetUtilisation: 0.6,
			EvaluationPeriod: Duration(time.Second), ProvisionDelay: Duration(3 * time.Second), CoolDown: Duration(15 * time.Second),
		},
		App: defaultApp(1), Cache: defaultCache(), DB: defaultDB(16), Shop: defaultShop(),
	}
}

// Validate reports every problem, each naming its JSON field.
func (c AutoscaleConfig) Validate() error {
	var k check
	c.Scaling.check(&k, "scaling")
	k.app("app", c.App)
	k.cache("cache", c.Cache, true)
	k.db("db", c.DB)
	k.shop("shop", c.Shop)
	return k.err()
}

func (s ScalingConfig) check(k *check, field string) {
	k.need(s.MinInstances >= 1 && s.MinInstances <= maxTopologyNodes, field+".min_instances", "must be from 1 to %d (got %d)", maxTopologyNodes, s.MinInstances)
	k.need(s.MaxInstances >= s.MinInstances && s.MaxInstances <= maxTopologyNodes, field+".max_instances", "must be from min_instances (%d) to %d (got %d)", s.MinInstances, maxTopologyNodes, s.MaxInstances)
	k.need(s.TargetUtilisation > 0 && s.TargetUtilisation <= 1, field+".target_utilisation", "must be above 0 and at most 1 (got %v)", s.TargetUtilisation)
	k.need(time.Duration(s.EvaluationPeriod) >= 10*time.Millisecond && time.Duration(s.EvaluationPeriod) <= time.Hour, field+".evaluation_period", "must be from 10ms to 1h (got %v)", time.Duration(s.EvaluationPeriod))
	k.need(s.ProvisionDelay >= 0 && time.Duration(s.ProvisionDelay) <= time.Hour, field+".provision_delay", "must be from 0s to 1h (got %v)", time.Duration(s.ProvisionDelay))
	k.need(s.CoolDown >= 0 && time.Duration(s.CoolDown) <= 24*time.Hour, field+".cool_down", "must be from 0s to 24h (got %v)", time.Duration(s.CoolDown))
}

// scaler is the autoscaler's decisions, a pure function of the times and
// utilisations it is shown: no clock, no goroutine. Not safe for
// concurrent use; the autoscaler guards it.
type scaler struct {
	cfg     ScalingConfig
	serving int
	pending []time.Time // when each instance asked for starts serving, ascending
	lastOut time.Time   // the last scale-out decision
	wanted  []wantedAt  // the counts wanted over the last CoolDown, oldest first
	first   time.Time   // the first evaluation
	started bool
}

type wantedAt struct {
	at time.Time
	n  int
}

func newScaler(cfg ScalingConfig) *scaler {
	return &scaler{cfg: cfg, serving: cfg.MinInstances}
}

// advance puts into service the instances whose provisioning delay has
// passed by now. It returns whether the serving count changed.
func (s *scaler) advance(now time.Time) bool {
	n := 0
	for n < len(s.pending) && !now.Before(s.pending[n]) {
		n++
	}
	s.pending = s.pending[n:]
	s.serving += n
	return n > 0
}

// evaluate decides at now, with the serving instances measured util busy
// over the period just ended: it asks for more instances (serving after
// ProvisionDelay) or removes some, and returns the count it wants.
func (s *scaler) evaluate(now time.Time, util float64) int {
	s.advance(now)
	if !s.started {
		s.first, s.started = now, true
	}
	if math.IsNaN(util) || util < 0 {
		util = 0
	}
	want := int(math.Ceil(float64(s.serving) * util / s.cfg.TargetUtilisation))
	want = min(max(want, s.cfg.MinInstances), s.cfg.MaxInstances)

	cool := time.Duration(s.cfg.CoolDown)
	s.wanted = append(s.wanted, wantedAt{now, want})
	for len(s.wanted) > 0 && now.Sub(s.wanted[0].at) > cool {
		s.wanted = s.wanted[1:]
	}

	total := s.serving + len(s.pending)
	switch {
	case want > total:
		ready := now.Add(time.Duration(s.cfg.ProvisionDelay))
		for range want - total {
			s.pending = append(s.pending, ready)
		}
		s.lastOut = now
		if s.cfg.ProvisionDelay == 0 {
			s.advance(now)
		}
	case want < s.serving && len(s.pending) == 0 && now.Sub(s.first) >= cool && (s.lastOut.IsZero() || now.Sub(s.lastOut) >= cool):
		// Scale in to the most wanted over the window: every count in it
		// is below serving, or this is a no-op.
		keep := want
		for _, w := range s.wanted {
			keep = max(keep, w.n)
		}
		if keep < s.serving {
			s.serving = keep
		}
	}
	return want
}

// nextReady returns when the next pending instance starts serving.
func (s *scaler) nextReady() (time.Time, bool) {
	if len(s.pending) == 0 {
		return time.Time{}, false
	}
	return s.pending[0], true
}

// autoscaler runs a scaler over a tier of app servers: it routes each
// request to the serving instance with the fewest in flight, measures
// the serving instances' utilisation every EvaluationPeriod from their
// busy time, and exposes the counts on /metrics. Its one goroutine ends
// at Close.
type autoscaler struct {
	instances []*resource.AppServer
	inFlight  []atomic.Int64
	serving   atomic.Int64 // instances[:serving] get traffic
	rotate    atomic.Uint64

	mu       sync.Mutex
	s        *scaler
	lastBusy time.Duration // busy time of every instance at the last evaluation
	lastEval time.Time
	wanted   int
	onUtil   func(float64) // records the last utilisation for /metrics
	// measure, when not nil, replaces the busy-time measurement: tests
	// feed the utilisation they want the scaler to see.
	measure func(now time.Time) float64

	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// Metric names of the autoscaler (component="autoscaler").
const (
	metricInstances            = "surge_target_instances"
	helpInstances              = "App instances serving traffic now."
	metricInstancesPending     = "surge_target_instances_provisioning"
	helpInstancesPending       = "App instances asked for and not serving yet (within their provisioning delay)."
	metricInstancesWanted      = "surge_target_instances_wanted"
	helpInstancesWanted        = "App instances the autoscaler wanted at its last evaluation, within its bounds."
	metricAutoscaleUtilisation = "surge_target_autoscale_utilisation"
	helpAutoscaleUtilisation   = "Busy fraction of the serving instances' slots over the last evaluation period, as the autoscaler measured it."
)

func newAutoscaler(cfg ScalingConfig, instances []*resource.AppServer, reg prometheus.Registerer) (*autoscaler, error) {
	a := &autoscaler{instances: instances, inFlight: make([]atomic.Int64, len(instances)), s: newScaler(cfg), wanted: cfg.MinInstances}
	a.serving.Store(int64(cfg.MinInstances))
	var lastUtil atomic.Uint64
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	if err := metricdef.Register(reg, "autoscaler",
		gauge(metricInstances, helpInstances, func() float64 { return float64(a.serving.Load()) }),
		gauge(metricInstancesPending, helpInstancesPending, func() float64 { a.mu.Lock(); defer a.mu.Unlock(); return float64(len(a.s.pending)) }),
		gauge(metricInstancesWanted, helpInstancesWanted, func() float64 { a.mu.Lock(); defer a.mu.Unlock(); return float64(a.wanted) }),
		gauge(metricAutoscaleUtilisation, helpAutoscaleUtilisation, func() float64 { return math.Float64frombits(lastUtil.Load()) }),
	); err != nil {
		return nil, err
	}
	a.onUtil = func(u float64) { lastUtil.Store(math.Float64bits(u)) }
	return a, nil
}

// start runs the evaluation loop until Close.
func (a *autoscaler) start() {
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel, a.done = cancel, make(chan struct{})
	a.mu.Lock()
	a.lastEval = time.Now()
	a.lastBusy = a.busy()
	a.mu.Unlock()
	go a.run(ctx)
}

func (a *autoscaler) run(ctx context.Context) {
	defer close(a.done)
	period := time.Duration(a.s.cfg.EvaluationPeriod)
	next := time.Now().Add(period)
	t := time.NewTimer(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		a.mu.Lock()
		a.s.advance(now)
		if !now.Before(next) {
			a.evaluateLocked(now)
			next = next.Add(period)
		}
		wake := next
		if r, ok := a.s.nextReady(); ok && r.Before(wake) {
			wake = r
		}
		a.serving.Store(int64(a.s.serving))
		a.mu.Unlock()
		t.Reset(max(wake.Sub(time.Now()), 0))
	}
}

// evaluateLocked measures the serving instances' utilisation since the
// last evaluation and lets the scaler decide.
func (a *autoscaler) evaluateLocked(now time.Time) {
	busy := a.busy()
	elapsed := now.Sub(a.lastEval)
	slots := 0
	for _, in := range a.instances[:a.s.serving] {
		slots += in.Resource().Slots()
	}
	util := 0.0
	if elapsed > 0 && slots > 0 {
		util = min(float64(busy-a.lastBusy)/(float64(elapsed)*float64(slots)), 1)
	}
	a.lastBusy, a.lastEval = busy, now
	if a.measure != nil {
		util = a.measure(now)
	}
	a.onUtil(util)
	a.wanted = a.s.evaluate(now, util)
}

// busy is the busy time of every instance, serving or not (one being
// removed finishes its requests, and that work counts).
func (a *autoscaler) busy() time.Duration {
	var d time.Duration
	for _, in := range a.instances {
		d += in.Resource().Stats().BusyTime
	}
	return d
}

// ServeHTTP sends r to the serving instance with the fewest requests in
// flight; ties rotate.
func (a *autoscaler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(a.serving.Load())
	start := int(a.rotate.Add(1) % uint64(n))
	best := start
	for i := range n {
		j := (start + i) % n
		if a.inFlight[j].Load() < a.inFlight[best].Load() {
			best = j
		}
	}
	a.inFlight[best].Add(1)
	defer a.inFlight[best].Add(-1)
	a.instances[best].ServeHTTP(w, r)
}

// Close stops the evaluation loop and waits for it. Idempotent.
func (a *autoscaler) Close() error {
	if a.cancel == nil {
		return nil
	}
	a.once.Do(func() {
		a.cancel()
		<-a.done
	})
	return nil
}

func buildAutoscale(c AutoscaleConfig, a *assembly) (http.Handler, error) {
	table, err := a.table("db", c.DB)
	if err != nil {
		return nil, err
	}
	store, err := a.cache("cache", c.Cache, table)
	if err != nil {
		return nil, err
	}
	shop, err := a.shop(c.Shop, store)
	if err != nil {
		return nil, err
	}
	api := newItemAPI(store, nil, shop)
	instances := make([]*resource.AppServer, c.Scaling.MaxInstances)
	for i := range instances {
		if instances[i], err = a.app("app-"+strconv.Itoa(i), c.App, api, nil); err != nil {
			return nil, err
		}
	}
	as, err := newAutoscaler(c.Scaling, instances, a.reg)
	if err != nil {
		return nil, fmt.Errorf("autoscaler: %w", err)
	}
	as.start()
	a.onClose(as.Close)
	return a.front(as, shop), nil
}
