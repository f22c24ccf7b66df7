package probe

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/surgeload/surge/reporters"
)

// The target metrics a Probe reads; every bundled component exports them
// with the label component="name" (see targets/internal/metricdef).
const (
	metricUtilisation = "surge_target_utilisation"
	metricQueueDepth  = "surge_target_queue_depth"
	metricSlots       = "surge_target_slots"
	metricBusySeconds = "surge_target_busy_seconds_total"
	metricCacheHits   = "surge_target_cache_hits_total"
	metricCacheMisses = "surge_target_cache_misses_total"
	// A circuit breaker's state (0 closed, 1 open, 2 half-open) and its
	// state changes by the state entered (label "to").
	metricBreakerState       = "surge_target_breaker_state"
	metricBreakerTransitions = "surge_target_breaker_transitions_total"
	// An autoscaled tier's instances serving, being provisioned, and
	// wanted by its scaler.
	metricInstances             = "surge_target_instances"
	metricInstancesProvisioning = "surge_target_instances_provisioning"
	metricInstancesWanted       = "surge_target_instances_wanted"
)

// breakerStates names the values of surge_target_breaker_state.
var breakerStates = []string{reporters.BreakerClosed, reporters.BreakerOpen, reporters.BreakerHalfOpen}

// maxMetricsBytes bounds one scrape of a target's /metrics.
const maxMetricsBytes = 4 << 20

// Probe samples a target's Prometheus /metrics while a stage plays, to
// find the component that limited it. Its goroutine ends at stop.
type Probe struct {
	url    string
	client *http.Client
	every  time.Duration
	from   time.Time // the stage's T0

	mu      sync.Mutex
	samples []targetSample
	err     error // the last scrape error, when no scrape succeeded

	stopOnce sync.Once
	quit     chan struct{}
	done     chan struct{}
}

// targetSample is one scrape: per component, the series a Probe reads.
type targetSample struct {
	at   time.Time
	util map[string]float64
	busy map[string]float64
	slot map[string]float64
	qlen map[string]float64
	// breaker is each breaker's state, and trans its state changes by
	// the state entered.
	breaker map[string]float64
	trans   map[string]map[string]float64
	// instances, provisioning and wanted are an autoscaled tier's counts
	// (summed over components); scaled is whether the target exports them.
	instances, provisioning, wanted float64
	scaled                          bool
	// hits and misses are summed over every cache; caches is whether the
	// target exports any.
	hits, misses float64
	caches       bool
}

// Reading is what a Probe read over a stage: the load of each
// component, the most loaded first, and the cache hit rate over the
// window (nil without a cache, or without lookups).
type Reading struct {
	// Loads are the components' loads, the most loaded first.
	Loads []reporters.ComponentLoad
	// HitRate is the caches' hit rate, 0..1; nil without one.
	HitRate *float64
	// Scaling is an autoscaled tier's instance counts over the stage: the
	// first scrape's and each change after it; nil without one.
	Scaling []reporters.ScalingPoint
}

// Start scrapes base+"/metrics" at from (the stage's T0, so that
// the window is the stage's) and every interval after it until stop.
func Start(base string, from time.Time, every time.Duration) *Probe {
	p := &Probe{
		url:    base + "/metrics",
		client: &http.Client{Timeout: 2 * time.Second},
		every:  every,
		from:   from,
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go func() { // exits at stop
		defer close(p.done)
		wait := time.NewTimer(time.Until(from))
		defer wait.Stop()
		select {
		case <-wait.C:
		case <-p.quit:
			return
		}
		t := time.NewTicker(every)
		defer t.Stop()
		p.scrape()
		for {
			select {
			case <-t.C:
				p.scrape()
			case <-p.quit:
				return
			}
		}
	}()
	return p
}

// stop takes a last sample, ends the goroutine and returns what the
// samples tell.
func (p *Probe) Stop() (Reading, error) {
	p.stopOnce.Do(func() {
		close(p.quit)
		<-p.done
		p.scrape()
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.samples) == 0 {
		return Reading{}, p.err
	}
	loads := componentLoads(p.samples)
	breakerTimelines(loads, p.samples, p.from)
	return Reading{Loads: loads, HitRate: hitRate(p.samples), Scaling: scaling(p.samples, p.from)}, nil
}

// scaling is the autoscaled tier's counts at the first sample and at
// every sample where one of them changed, at seconds since from.
func scaling(samples []targetSample, from time.Time) []reporters.ScalingPoint {
	var out []reporters.ScalingPoint
	for _, s := range samples {
		if !s.scaled {
			continue
		}
		pt := reporters.ScalingPoint{AtS: s.at.Sub(from).Seconds(), Instances: int(s.instances), Provisioning: int(s.provisioning), Wanted: int(s.wanted)}
		if k := len(out); k > 0 && out[k-1].Instances == pt.Instances && out[k-1].Provisioning == pt.Provisioning && out[k-1].Wanted == pt.Wanted {
			continue
		}
		out = append(out, pt)
	}
	return out
}

// breakerTimelines sets the Breaker of each breaker component of loads:
// the state of the first sample and each change after it, at seconds
// since from, and the state changes between the first and last sample by
// the breaker's counter (all of them since the breaker started, when
// there is one sample).
func breakerTimelines(loads []reporters.ComponentLoad, samples []targetSample, from time.Time) {
	first, last := samples[0], samples[len(samples)-1]
	if len(samples) == 1 {
		first = targetSample{}
	}
	for i := range loads {
		n := loads[i].Component
		var tl *reporters.BreakerTimeline
		for _, s := range samples {
			v, ok := s.breaker[n]
			if !ok || v != float64(int(v)) || v < 0 || int(v) >= len(breakerStates) {
				continue
			}
			if tl == nil {
				tl = &reporters.BreakerTimeline{}
			}
			state := breakerStates[int(v)]
			if k := len(tl.States); k == 0 || tl.States[k-1].State != state {
				tl.States = append(tl.States, reporters.BreakerState{AtS: s.at.Sub(from).Seconds(), State: state})
			}
		}
		if tl == nil {
			continue
		}
		for to, v := range last.trans[n] {
			if d := v - first.trans[n][to]; d >= 1 {
				if tl.Transitions == nil {
					tl.Transitions = map[string]uint64{}
				}
				tl.Transitions[to] = uint64(d)
			}
		}
		loads[i].Breaker = tl
	}
}

// hitRate is the hit rate of the target's caches between the first and
// the last sample: Δhits ÷ Δ(hits + misses).
func hitRate(samples []targetSample) *float64 {
	first, last := samples[0], samples[len(samples)-1]
	if !last.caches {
		return nil
	}
	if len(samples) == 1 { // one scrape: since the cache started
		first = targetSample{}
	}
	dh, dm := last.hits-first.hits, last.misses-first.misses
	if dh < 0 || dm < 0 || dh+dm <= 0 {
		return nil
	}
	v := dh / (dh + dm)
	return &v
}

func (p *Probe) scrape() {
	s, err := p.fetch()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.err = err
		return
	}
	p.samples = append(p.samples, s)
}

func (p *Probe) fetch() (targetSample, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return targetSample{}, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return targetSample{}, fmt.Errorf("scrape %s: %w", p.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return targetSample{}, fmt.Errorf("scrape %s: status %d", p.url, resp.StatusCode)
	}
	return parseTargetMetrics(io.LimitReader(resp.Body, maxMetricsBytes))
}

// parseTargetMetrics reads the series a Probe needs from Prometheus text.
func parseTargetMetrics(r io.Reader) (targetSample, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return targetSample{}, fmt.Errorf("target metrics: %w", err)
	}
	s := targetSample{at: time.Now()}
	s.util = byComponent(fams[metricUtilisation])
	s.busy = byComponent(fams[metricBusySeconds])
	s.slot = byComponent(fams[metricSlots])
	s.qlen = byComponent(fams[metricQueueDepth])
	s.breaker = byComponent(fams[metricBreakerState])
	s.trans = byComponentLabel(fams[metricBreakerTransitions], "to")
	if fam := fams[metricInstances]; fam != nil {
		s.scaled = true
		for name, dst := range map[string]*float64{metricInstances: &s.instances, metricInstancesProvisioning: &s.provisioning, metricInstancesWanted: &s.wanted} {
			for _, v := range byComponent(fams[name]) {
				if v >= 0 && v <= 1e6 {
					*dst += v
				}
			}
		}
	}
	for _, f := range []struct {
		name string
		dst  *float64
	}{{metricCacheHits, &s.hits}, {metricCacheMisses, &s.misses}} {
		if fam := fams[f.name]; fam != nil {
			s.caches = true
			for _, v := range byComponent(fam) {
				*f.dst += v
			}
		}
	}
	return s, nil
}

// byComponent maps the component label to the series' value (summed when a
// component has several series).
func byComponent(f *dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	if f == nil {
		return out
	}
	for _, m := range f.GetMetric() {
		var name string
		for _, l := range m.GetLabel() {
			if l.GetName() == "component" {
				name = l.GetValue()
			}
		}
		if name == "" {
			continue
		}
		switch {
		case m.GetGauge() != nil:
			out[name] += m.GetGauge().GetValue()
		case m.GetCounter() != nil:
			out[name] += m.GetCounter().GetValue()
		case m.GetUntyped() != nil:
			out[name] += m.GetUntyped().GetValue()
		}
	}
	return out
}

// byComponentLabel maps the component label, then the value of label, to
// the series' value.
func byComponentLabel(f *dto.MetricFamily, label string) map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	if f == nil {
		return out
	}
	for _, m := range f.GetMetric() {
		var name, value string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "component":
				name = l.GetValue()
			case label:
				value = l.GetValue()
			}
		}
		if name == "" || m.GetCounter() == nil {
			continue
		}
		if out[name] == nil {
			out[name] = map[string]float64{}
		}
		out[name][value] += m.GetCounter().GetValue()
	}
	return out
}

// componentLoads summarises samples per component: mean utilisation — from
// busy-seconds ÷ (slots × elapsed) between the first and last sample when
// the component exports them (exact over the window), else the mean of
// the sampled utilisation gauge — and mean and peak queue depth. The
// result is sorted by utilisation, then by mean queue depth.
func componentLoads(samples []targetSample) []reporters.ComponentLoad {
	first, last := samples[0], samples[len(samples)-1]
	names := map[string]bool{}
	for _, s := range samples {
		for n := range s.util {
			names[n] = true
		}
		for n := range s.qlen {
			names[n] = true
		}
		for n := range s.breaker {
			names[n] = true
		}
	}
	var out []reporters.ComponentLoad
	for n := range names {
		c := reporters.ComponentLoad{Component: n}
		var uSum, qSum float64
		var uN, qN int
		for _, s := range samples {
			if v, ok := s.util[n]; ok {
				uSum += v
				uN++
			}
			if v, ok := s.qlen[n]; ok {
				qSum += v
				qN++
				c.QueueDepthMax = max(c.QueueDepthMax, v)
			}
		}
		if uN > 0 {
			c.Utilisation = uSum / float64(uN)
		}
		if qN > 0 {
			c.QueueDepthMean = qSum / float64(qN)
		}
		b0, ok0 := first.busy[n]
		b1, ok1 := last.busy[n]
		slots := last.slot[n]
		if dt := last.at.Sub(first.at).Seconds(); ok0 && ok1 && slots > 0 && dt > 0 {
			c.Utilisation = min(max((b1-b0)/(slots*dt), 0), 1)
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b reporters.ComponentLoad) int {
		return cmp.Or(cmp.Compare(b.Utilisation, a.Utilisation), cmp.Compare(b.QueueDepthMean, a.QueueDepthMean),
			cmp.Compare(a.Component, b.Component))
	})
	return out
}
