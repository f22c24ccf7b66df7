package targets

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/surgeload/surge/targets/resource"
)

func testScaling() ScalingConfig {
	return ScalingConfig{MinInstances: 10, MaxInstances: 26, TargetUtilisation: 0.6,
		EvaluationPeriod: Duration(time.Second), ProvisionDelay: Duration(3 * time.Second), CoolDown: Duration(15 * time.Second)}
}

// TestScalerOutThenIn walks the scaler through a spike on explicit times:
// a scale-out serves exactly ProvisionDelay after its decision, never
// before; the count never passes MaxInstances; instances are removed only
// once every count wanted over the last CoolDown is below the serving one.
func TestScalerOutThenIn(t *testing.T) {
	cfg := testScaling()
	s := newScaler(cfg)
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	delay := time.Duration(cfg.ProvisionDelay)

	// Saturated (util 1) from t0+1s: ceil(10 × 1 ÷ 0.6) = 17 wanted.
	if want := s.evaluate(at(time.Second), 1); want != 17 || s.serving != 10 || len(s.pending) != 7 {
		t.Fatalf("evaluate at 1s, util 1: want %d, serving %d, pending %d; want 17, 10, 7", want, s.serving, len(s.pending))
	}
	for _, d := range []time.Duration{2 * time.Second, 3 * time.Second} {
		s.evaluate(at(d), 1) // the same 10 serving, still saturated: nothing more asked
		if s.serving != 10 || len(s.pending) != 7 {
			t.Fatalf("evaluate at %v: serving %d, pending %d; want 10 and the same 7 provisioning", d, s.serving, len(s.pending))
		}
	}
	s.advance(at(time.Second + delay - time.Nanosecond))
	if s.serving != 10 {
		t.Fatalf("1 ns before the provisioning delay has passed: serving %d; want 10", s.serving)
	}
	s.advance(at(time.Second + delay))
	if s.serving != 17 {
		t.Fatalf("when the provisioning delay has passed: serving %d; want 17", s.serving)
	}
	// Still saturated at 17: ceil(17 ÷ 0.6) = 29, capped at 26.
	if want := s.evaluate(at(4*time.Second), 1); want != 26 || s.serving+len(s.pending) != 26 {
		t.Fatalf("evaluate at 4s on 17, util 1: want %d, serving+pending %d; want 26 (the maximum)", want, s.serving+len(s.pending))
	}
	for d := 5 * time.Second; d <= 7*time.Second; d += time.Second {
		s.evaluate(at(d), 1)
		if s.serving+len(s.pending) > cfg.MaxInstances {
			t.Fatalf("at %v: %d serving + %d provisioning > max %d", d, s.serving, len(s.pending), cfg.MaxInstances)
		}
	}
	if s.serving != 26 {
		t.Fatalf("at 7s (second scale-out at 4s + 3s): serving %d; want 26", s.serving)
	}
	// The spike ends: 10 % busy wants ceil(26 × 0.1 ÷ 0.6) = 5, raised to
	// the minimum 10. The counts wanted at 4–7 s were 26, so the window
	// of 15 s keeps 26 serving until they have all aged out: at 23 s.
	for d := 8 * time.Second; d < 23*time.Second; d += time.Second {
		if want := s.evaluate(at(d), 0.1); want != 10 || s.serving != 26 {
			t.Fatalf("evaluate at %v, util 0.1: want %d, serving %d; want 10 wanted and 26 kept through the cool-down", d, want, s.serving)
		}
	}
	s.evaluate(at(23*time.Second), 0.1)
	if s.serving != 10 {
		t.Fatalf("at 23s, 15 s after the last count of 26 was wanted: serving %d; want 10", s.serving)
	}
	for d := 24 * time.Second; d < 60*time.Second; d += time.Second {
		s.evaluate(at(d), 0)
		if s.serving != cfg.MinInstances {
			t.Fatalf("idle at %v: serving %d; want the minimum %d", d, s.serving, cfg.MinInstances)
		}
	}
}

// A dip inside the cool-down removes nothing: the count falls to the
// highest one wanted over the window, not to the last.
func TestScalerCoolDownKeepsTheWindowMax(t *testing.T) {
	cfg := testScaling()
	cfg.ProvisionDelay = 0
	s := newScaler(cfg)
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	s.evaluate(t0, 1) // 17 at once (no delay)
	if s.serving != 17 {
		t.Fatalf("no provisioning delay: serving %d right after the decision; want 17", s.serving)
	}
	// Wanted: 12 (util 0.42 of 17 → ceil(11.9)) for 20 s, one reading of
	// 16 at 10 s.
	for d := time.Second; d <= 40*time.Second; d += time.Second {
		u := 0.42
		if d == 10*time.Second {
			u = 16 * 0.6 / 17
		}
		s.evaluate(t0.Add(d), u)
		switch {
		case d < 15*time.Second && s.serving != 17:
			t.Fatalf("at %v, within the cool-down after the scale-out: serving %d; want 17", d, s.serving)
		case d >= 15*time.Second && d < 25*time.Second && s.serving != 17 && s.serving != 16:
			t.Fatalf("at %v, 16 wanted at 10s is in the window: serving %d; want 16 or 17", d, s.serving)
		}
	}
	if s.serving > 16 || s.serving < cfg.MinInstances {
		t.Errorf("after 40 s wanting about 12: serving %d; want it scaled in within [%d, 16]", s.serving, cfg.MinInstances)
	}
}

func TestScalingValidate(t *testing.T) {
	for _, mut := range []func(*ScalingConfig){
		func(c *ScalingConfig) { c.MinInstances = 0 },
		func(c *ScalingConfig) { c.MaxInstances = 5 },
		func(c *ScalingConfig) { c.MaxInstances = maxTopologyNodes + 1 },
		func(c *ScalingConfig) { c.TargetUtilisation = 0 },
		func(c *ScalingConfig) { c.TargetUtilisation = 1.5 },
		func(c *ScalingConfig) { c.EvaluationPeriod = 0 },
		func(c *ScalingConfig) { c.ProvisionDelay = -1 },
		func(c *ScalingConfig) { c.CoolDown = -1 },
	} {
		cfg := DefaultAutoscaleConfig()
		mut(&cfg.Scaling)
		if err := cfg.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil; want an error", cfg.Scaling)
		}
		if _, err := StartTopology("autoscale", "127.0.0.1:0", cfg); err == nil {
			t.Errorf("StartTopology with %+v = nil error", cfg.Scaling)
		}
	}
}

// newTestAutoscaler is an autoscaler over max instances of one slot that
// take service each, on reg.
func newTestAutoscaler(t *testing.T, cfg ScalingConfig, service time.Duration, reg *prometheus.Registry) *autoscaler {
	instances := make([]*resource.AppServer, cfg.MaxInstances)
	for i := range instances {
		app, err := resource.NewAppServer("app-"+strconv.Itoa(i), resource.AppServerConfig{
			Slots: 1, QueueLimit: 1000, Service: resource.Constant(service), Seed: 1,
		}, reg)
		if err != nil {
			t.Fatal(err)
		}
		instances[i] = app
	}
	as, err := newAutoscaler(cfg, instances, reg)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// TestAutoscalerLoopOnFakeClock runs the evaluation loop in a synctest
// bubble with the utilisation fed in: the new instances take traffic at
// exactly the first evaluation + ProvisionDelay, and the gauges say so.
func TestAutoscalerLoopOnFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewRegistry()
		cfg := testScaling()
		as := newTestAutoscaler(t, cfg, time.Millisecond, reg)
		var mu sync.Mutex
		util := 1.0
		as.measure = func(time.Time) float64 { mu.Lock(); defer mu.Unlock(); return util }
		as.start()
		defer as.Close()
		instances := func() float64 {
			return gaugeValue(t, reg, metricInstances)
		}
		// Evaluation at 1 s asks for 7; they serve at 4 s.
		time.Sleep(4*time.Second - time.Nanosecond)
		synctest.Wait()
		if n := as.serving.Load(); n != 10 || instances() != 10 {
			t.Fatalf("just before 4s: serving %d (gauge %v); want 10", n, instances())
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if n := as.serving.Load(); n != 17 || instances() != 17 {
			t.Fatalf("at 4s: serving %d (gauge %v); want 17", n, instances())
		}
		mu.Lock()
		util = 0
		mu.Unlock()
		// The last scale-out was decided at 4 s (17 → 26, serving at 7 s),
		// and 26 was wanted until the utilisation dropped: removed 15 s
		// after the last such evaluation.
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if n := as.serving.Load(); n != 10 {
			t.Fatalf("30 s idle after the spike: serving %d; want back to 10", n)
		}
	})
}

// gaugeValue is the value of the one series of the gauge name on g.
func gaugeValue(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no single series %s", name)
	return 0
}

// TestAutoscalerHockeyStick measures, on a fake clock, what the
// autoscaler does under a 5× spike of real requests: the busy time of
// the instances drives it. 10 instances of one slot at 10 ms a request
// carry 1,000 req/s; the load steps from 300 req/s to 1,500 (5×) for
// 20 s and back. The queue builds while the new instances provision
// (the hockey-stick), the tier scales out, the queue drains, and after
// the spike the count returns to the minimum.
func TestAutoscalerHockeyStick(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewRegistry()
		cfg := testScaling()
		as := newTestAutoscaler(t, cfg, 10*time.Millisecond, reg)
		as.start()
		defer as.Close()
		queued := func() int {
			n := 0
			for _, in := range as.instances {
				n += in.Resource().Stats().Queued
			}
			return n
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		// An open load: one request every 1/rate, each on its own goroutine.
		play := func(rate int, d time.Duration) {
			gap := time.Second / time.Duration(rate)
			end := time.Now().Add(d)
			for time.Now().Before(end) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/items/1", nil)
					as.ServeHTTP(httptest.NewRecorder(), r)
				}()
				time.Sleep(gap)
			}
		}
		play(300, 10*time.Second)
		if n := as.serving.Load(); n != 10 {
			t.Fatalf("at 300 req/s (30 %% of 10 instances): serving %d; want the minimum 10", n)
		}
		var peakQueue, peakServing int
		spikeStart := time.Now()
		var served time.Duration = -1
		for range 20 {
			play(1500, time.Second)
			peakQueue = max(peakQueue, queued())
			n := int(as.serving.Load())
			if n > 10 && served < 0 {
				served = time.Since(spikeStart)
			}
			peakServing = max(peakServing, n)
		}
		endQueue := queued()
		t.Logf("spike: first extra instance serving %v after it began; peak queue %d; peak serving %d; queue at the end of the spike %d", served, peakQueue, peakServing, endQueue)
		period, delay := time.Duration(cfg.EvaluationPeriod), time.Duration(cfg.ProvisionDelay)
		if served < delay || served > period+delay+time.Second {
			t.Errorf("first extra instance serving %v after the spike began; want between the provisioning delay %v and one evaluation period + delay + the 1 s sampling (%v)", served, delay, period+delay+time.Second)
		}
		if peakServing < 25 {
			t.Errorf("peak serving %d under 1,500 req/s of 10 ms work; want ≥ 25 (1,500 × 0.01 ÷ 0.6)", peakServing)
		}
		if peakQueue < 100 || endQueue > peakQueue/10 {
			t.Errorf("queue peaked at %d and ended the spike at %d; want a hockey-stick (≥ 100 queued while provisioning) that drains (≤ a tenth of the peak)", peakQueue, endQueue)
		}
		play(300, 40*time.Second)
		if n := as.serving.Load(); n != 10 {
			t.Errorf("40 s after the spike: serving %d; want back to 10", n)
		}
		cancel()
		wg.Wait()
	})
}
