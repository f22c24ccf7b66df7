package predict

import (
	"time"

	"github.com/surgeload/surge/targets/edge"
	"strings"
	"testing"

	"github.com/surgeload/surge/internal/capacity"
	"github.com/surgeload/surge/scenario"
	"github.com/surgeload/surge/targets"
	"github.com/surgeload/surge/targets/resource"
)

// The cdn's prediction, worked out here from its default config: the hit
// rate is Che's approximation for the reads' {{zipf 1.1 100000}} keys and
// the edge's capacity (or the measured one when given); the edge pays a
// lookup per read, a fill per miss and a purge per write; the origin's app
// and db see only the misses and the writes.
func TestPredictCDN(t *testing.T) {
	c := *must(targets.DefaultConfig("cdn")).(*targets.CDNConfig)
	ms := func(d resource.Dist) float64 { return float64(d.Mean()) / 1e6 }
	p, err := capacity.ZipfPopularity(1.1, 100000)
	if err != nil {
		t.Fatal(err)
	}
	che, _, err := capacity.CheHitRate(p, c.Edge.Capacity)
	if err != nil {
		t.Fatal(err)
	}
	sc := predictScenario(scenario.Stage{Name: "cdn", Bundled: "cdn"})
	for _, tc := range []struct {
		given, h float64
		source   string
	}{{-1, che, "Che's approximation for keys {{zipf 1.1 100000}} and 10,000 entries"}, {0.5, 0.5, "measured"}} {
		got, ok, err := Stage(sc, 0, tc.given)
		if !ok || err != nil {
			t.Fatalf("Stage(cdn, %v) = %v, %v", tc.given, ok, err)
		}
		miss := 0.9 * (1 - tc.h)
		db := miss*ms(c.DB.Read) + 0.1*ms(c.DB.Write)
		want, name := minOf(map[string]float64{
			"edge": float64(c.Edge.Slots) / (0.9*ms(c.Edge.Hit) + miss*ms(c.Edge.Fill) + 0.1*ms(c.Edge.Fill)) * 1000,
			"app":  float64(c.App.Slots) / ((miss+0.1)*ms(c.App.Service) + db) * 1000,
			"db":   float64(c.DB.Pool) / db * 1000,
		})
		if !closeTo(got.CeilingRPS, want) || got.Bottleneck != name || !closeTo(got.HitRate, tc.h) || !strings.Contains(got.Working, tc.source) {
			t.Errorf("cdn at hit rate %v = %v (%s), hit %v, %q; want %v (%s), source %q", tc.h, got.CeilingRPS, got.Bottleneck, got.HitRate, got.Working, want, name, tc.source)
		}
	}
	// An edge made small and slow binds first.
	c.Edge.Slots = 1
	got, err := predictConfig(c, predMixOf(sc.Requests), predHitRate{0.9, "measured"})
	if err != nil || got.Bottleneck != "edge" {
		t.Errorf("cdn with a 1-slot edge = %+v, %v; want limited by edge", got, err)
	}
	// Without a zipf key draw the hit rate is the scenario's or assumed.
	sc.Requests[0].Path = "/items/{{seq}}"
	if got, _, _ := Stage(sc, 0, -1); got.HitRate != predDefaultHitRate || !strings.Contains(got.Working, "(assumed)") {
		t.Errorf("cdn with no zipf keys: hit %v, %q; want the assumed %v", got.HitRate, got.Working, predDefaultHitRate)
	}
}

// The autoscale stage's ceiling is its app tier at MaxInstances, or the
// db when that binds first.
func TestPredictAutoscale(t *testing.T) {
	c := *must(targets.DefaultConfig("autoscale")).(*targets.AutoscaleConfig)
	ms := func(d resource.Dist) float64 { return float64(d.Mean()) / 1e6 }
	h := 0.6
	db := 0.9*(1-h)*ms(c.DB.Read) + 0.1*ms(c.DB.Write)
	sc := predictScenario(scenario.Stage{Name: "autoscale", Bundled: "autoscale"})
	for _, pool := range []int{c.DB.Pool, 2} {
		c.DB.Pool = pool
		got, err := predictConfig(c, predMixOf(sc.Requests), predHitRate{h, "measured"})
		if err != nil {
			t.Fatal(err)
		}
		want, name := minOf(map[string]float64{
			"app-*": float64(c.Scaling.MaxInstances*c.App.Slots) / (ms(c.App.Service) + db) * 1000,
			"db":    float64(pool) / db * 1000,
		})
		if !closeTo(got.CeilingRPS, want) || got.Bottleneck != name || !strings.Contains(got.Working, "autoscaled from 10 to 26 instances") {
			t.Errorf("autoscale, db pool %d = %v (%s) %q; want %v (%s)", pool, got.CeilingRPS, got.Bottleneck, got.Working, want, name)
		}
		if name == "app-*" && len(got.Components) != c.Scaling.MaxInstances {
			t.Errorf("autoscale components %v; want the %d instances", got.Components, c.Scaling.MaxInstances)
		}
	}
}

// A gateway caps the ceiling at its rate when its quota is global or per
// address (the load comes from one loopback address) and lower than the
// stations' ceiling; a quota per header value, and the breaker, are only
// noted.
func TestPredictGateway(t *testing.T) {
	base := *must(targets.DefaultConfig("split")).(*targets.SplitConfig)
	sc := predictScenario(scenario.Stage{Name: "split", Bundled: "split"})
	plain, err := predictConfig(base, predMixOf(sc.Requests), predHitRate{0, "measured"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		gateway *targets.GatewayConfig
		breaker bool
		want    float64
		neck    string
		note    string
	}{
		{"global below", &targets.GatewayConfig{Rate: 200}, false, 200, "gateway", "200 req/s for all clients caps"},
		{"per address below", &targets.GatewayConfig{Rate: 300, Key: edge.KeyIP()}, false, 300, "gateway", "per address"},
		{"global above", &targets.GatewayConfig{Rate: 1e6}, false, plain.CeilingRPS, plain.Bottleneck, "above the stations' ceiling"},
		{"per header", &targets.GatewayConfig{Rate: 10, Key: edge.KeyHeader("X-Client-Id")}, false, plain.CeilingRPS, plain.Bottleneck, "not modelled"},
		{"breaker", nil, true, plain.CeilingRPS, plain.Bottleneck, "breakers are not modelled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			c.Gateway = tc.gateway
			if tc.breaker {
				c.Breaker = &targets.BreakerOptions{OpenFor: targets.Duration(time.Second), HalfOpenProbes: 1}
			}
			got, err := predictConfig(c, predMixOf(sc.Requests), predHitRate{0, "measured"})
			if err != nil {
				t.Fatal(err)
			}
			if !closeTo(got.CeilingRPS, tc.want) || got.Bottleneck != tc.neck || !strings.Contains(got.Working, tc.note) {
				t.Errorf("= %v (%s) %q; want %v (%s) noting %q", got.CeilingRPS, got.Bottleneck, got.Working, tc.want, tc.neck, tc.note)
			}
		})
	}
}
