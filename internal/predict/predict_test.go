package predict

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/capacity"
	"github.com/surgeload/surge/scenario"
	"github.com/surgeload/surge/targets"
	"github.com/surgeload/surge/targets/lb"
	"github.com/surgeload/surge/targets/resource"
)

// predictScenario is the mix of examples/staircase.yaml: 90% reads of
// Zipf keys, 10% POST /items, against the given stages.
func predictScenario(stages ...scenario.Stage) *scenario.Scenario {
	return &scenario.Scenario{
		Name:   "predict",
		Stages: stages,
		Requests: []scenario.Request{
			{Name: "read", Method: "GET", Path: "/items/{{zipf 1.1 100000}}", Weight: 90},
			{Name: "write", Method: "POST", Path: "/items", Body: `{"n": {{seq}}}`, Weight: 10},
		},
	}
}

func closeTo(got, want float64) bool { return math.Abs(got-want) <= 1e-6*math.Abs(want) }

// Hand-built configs of constant costs, with the ceilings worked out by
// hand (times in ms; r, w, j = shares of reads, POST /items, POST /jobs;
// h = hit rate; a = app service; R, W = db read and write).
func TestPredictHandBuilt(t *testing.T) {
	msd := func(v float64) resource.Dist { return resource.Constant(time.Duration(v * float64(time.Millisecond))) }
	app := func(slots int) targets.AppConfig {
		return targets.AppConfig{Slots: slots, QueueLimit: 10, Service: msd(1)}
	}
	db := func(pool int) targets.DBConfig {
		return targets.DBConfig{Pool: pool, QueueLimit: 10, Read: msd(4), Write: msd(10)}
	}
	cache := targets.CacheTierConfig{Capacity: 100, TTL: targets.Duration(time.Minute)}
	noCache := targets.CacheTierConfig{}
	// r = 0.8, w = 0.2.
	reads80 := predMix{read: 0.8, write: 0.2}
	regional := reads80
	regional.regional = true
	// r = 0.8, w = 0.1, j = 0.1.
	withJobs := predMix{read: 0.8, write: 0.1, job: 0.1}
	half := predHitRate{0.5, "measured"}

	tests := []struct {
		name       string
		cfg        any
		mix        predMix
		ceiling    float64
		bottleneck string
		components []string
		hit        float64
		working    []string
	}{
		// db = 0.8×4 + 0.2×10 = 5.2; app = 1 + 5.2 = 6.2:
		// min(cpu 2 ÷ 6.2, app 10 ÷ 6.2, db 5 ÷ 5.2) = 322.6.
		{"single-box", targets.SingleBoxConfig{CPUs: 2, App: app(10), DB: db(5)}, reads80,
			2 / 6.2e-3, "box-cpu", []string{"box-cpu"}, 0,
			[]string{"mix 80% reads (GET /items/…), 20% POST /items; min(box-app 10 ÷ 6.2 ms = 1,613, box-db 5 ÷ 5.2 ms = 962, box-cpu 2 ÷ 6.2 ms = 323): limited by box-cpu (demand 1 + 0.8 × 4 + 0.2 × 10 ms)"}},
		// min(app 10 ÷ 6.2 = 1,613, db 5 ÷ 5.2 = 962).
		{"split", &targets.SplitConfig{App: app(10), DB: db(5)}, reads80,
			5 / 5.2e-3, "db", []string{"db"}, 0,
			[]string{"min(app 10 ÷ 6.2 ms = 1,613, db 5 ÷ 5.2 ms = 962): limited by db (demand 0.8 × 4 + 0.2 × 10 ms)"}},
		// db = 0.8×0.5×4 + 0.2×10 = 3.6; app = 4.6: min(10 ÷ 4.6 = 2,174, 5 ÷ 3.6 = 1,389).
		{"cache", targets.CacheConfig{App: app(10), Cache: cache, DB: db(5)}, reads80,
			5 / 3.6e-3, "db", []string{"db"}, 0.5,
			[]string{"cache hit rate 50% (measured)", "limited by db (demand 0.8 × 0.5 × 4 + 0.2 × 10 ms)"}},
		// min(3 apps × 10 ÷ 4.6 = 6,522, db 40 ÷ 3.6 = 11,111).
		{"lb", targets.LBConfig{Apps: 3, Algorithm: lb.RoundRobin, App: app(10), Cache: cache, DB: db(40)}, reads80,
			30 / 4.6e-3, "app-*", []string{"app-0", "app-1", "app-2"}, 0.5,
			[]string{"round_robin spreads the load evenly over 3 apps", "min(app-* 30 ÷ 4.6 ms = 6,522, db 40 ÷ 3.6 ms = 11,111): limited by app-*"}},
		// ip_hash from one address: one app of 10 slots, 10 ÷ 4.6 = 2,174.
		{"lb ip_hash", targets.LBConfig{Apps: 3, Algorithm: lb.IPHash, App: app(10), Cache: cache, DB: db(40)}, reads80,
			10 / 4.6e-3, "app-*", []string{"app-0", "app-1", "app-2"}, 0.5,
			[]string{"ip_hash keys on the client address", "app-* 10 ÷ 4.6 ms = 2,174"}},
		// No cache: h = 0, db 5.2, app 6.2: min(30 ÷ 6.2 = 4,839, 40 ÷ 5.2 = 7,692).
		{"lb without cache", targets.LBConfig{Apps: 3, Algorithm: lb.LeastConnections, App: app(10), Cache: noCache, DB: db(40)}, reads80,
			30 / 6.2e-3, "app-*", []string{"app-0", "app-1", "app-2"}, 0,
			[]string{"no cache (capacity 0)"}},
		{"lb of one app", targets.LBConfig{Apps: 1, Algorithm: lb.RoundRobin, App: app(10), Cache: cache, DB: db(40)}, reads80,
			10 / 4.6e-3, "app-0", []string{"app-0"}, 0.5, nil},
		// reads 0.8×0.5×4 = 1.6 on 2 replicas of 5; writes 0.2×10 = 2 on a primary of 2;
		// app 1 + 1.6 + 2 = 4.6: min(10 ÷ 4.6 = 2,174, 2 ÷ 2 = 1,000, 10 ÷ 1.6 = 6,250).
		{"replicas", targets.ReplicasConfig{App: app(10), Cache: cache, Primary: db(2), Replica: db(5), Replicas: 2, ReadYourWrites: true}, reads80,
			1000, "primary", []string{"primary"}, 0.5,
			[]string{"min(app 10 ÷ 4.6 ms = 2,174, primary 2 ÷ 2 ms = 1,000, replica-* 10 ÷ 1.6 ms = 6,250): limited by primary (demand 0.2 × 10 ms)",
				"read-your-writes reads sent to the primary are not modelled"}},
		// Reads that miss are the replicas' limit when the hit rate is 0:
		// 3.2 ms on 1 replica of 2: 625; primary 2 ÷ 2 = 1,000; app 10 ÷ 6.2 = 1,613.
		{"replicas without cache", targets.ReplicasConfig{App: app(10), Cache: noCache, Primary: db(2), Replica: db(2), Replicas: 1}, reads80,
			2 / 3.2e-3, "replica-0", []string{"replica-0"}, 0, nil},
		// min(app 10 ÷ 4.6 = 2,174, 4 shards × 5 ÷ 3.6 = 5,556).
		{"sharding", targets.ShardingConfig{App: app(10), Cache: cache, Shards: 4, Shard: db(5)}, reads80,
			10 / 4.6e-3, "app", []string{"app"}, 0.5,
			[]string{"min(app 10 ÷ 4.6 ms = 2,174, shard-* 20 ÷ 3.6 ms = 5,556): limited by app (demand 1 + 0.8 × 0.5 × 4 + 0.2 × 10 ms)"}},
		// Shards are the limit with 1 shard of 2: 2 ÷ 3.6 = 556.
		{"sharding, shard-bound", targets.ShardingConfig{App: app(10), Cache: cache, Shards: 1, Shard: db(2)}, reads80,
			2 / 3.6e-3, "shard-0", []string{"shard-0"}, 0.5, nil},
		// app 1 + 1.6 + 0.1×10 = 3.6 (a job is only submitted); shards 1.6 + 0.2×10 = 3.6
		// on 3 × 5; jobs 0.1 × 10 = 1 on 1 worker: min(2,778, 4,167, 1,000).
		{"queue", targets.QueueConfig{App: app(10), Cache: cache, Shards: 3, Shard: db(5), Workers: 1, QueueLimit: 10, MaxAttempts: 1}, withJobs,
			1000, "jobs", []string{"jobs"}, 0.5,
			[]string{"mix 80% reads (GET /items/…), 10% POST /items, 10% POST /jobs (to the workers)",
				"min(app 10 ÷ 3.6 ms = 2,778, shard-* 15 ÷ 3.6 ms = 4,167, jobs 1 ÷ 1 ms = 1,000): limited by jobs (demand 0.1 × 10 ms)"}},
		// Without POST /jobs the workers are idle and left out: app 4.6, shards 3.6:
		// min(10 ÷ 4.6 = 2,174, 15 ÷ 3.6 = 4,167).
		{"queue, writes at once", targets.QueueConfig{App: app(10), Cache: cache, Shards: 3, Shard: db(5), Workers: 1, QueueLimit: 10, MaxAttempts: 1}, reads80,
			10 / 4.6e-3, "app", []string{"app"}, 0.5,
			[]string{"no POST /jobs in the mix: the workers stay idle", "min(app 10 ÷ 4.6 ms = 2,174, shard-* 15 ÷ 3.6 ms = 4,167): limited by app"}},
		// Spread over 3 regions: primary app ⅓ × 4.6; passive apps ⅔ × (1 + 1.6 + 0.2 × (10 + 50))
		// = ⅔ × 14.6 on 2 × 10 slots = 2,055; db-a ⅓ × 1.6 + 2 on 8: 3,158; replicas ⅔ × 1.6 on 2 × 2: 3,750.
		{"multi-region spread", targets.MultiRegionConfig{Regions: []string{"a", "b", "c"}, Primary: "a", RTT: targets.Duration(50 * time.Millisecond),
			App: app(10), Cache: cache, PrimaryDB: db(8), Replica: db(2)}, regional,
			20 / (14.6e-3 * 2 / 3), "app-{b,c}", []string{"app-b", "app-c"}, 0.5,
			[]string{"load spread evenly over the 3 regions (requests set X-Region)",
				"limited by app-{b,c} (demand 0.667 × (1 + 0.8 × 0.5 × 4 + 0.2 × (10 + 50)) ms)", "replica-* 4 ÷ 1.07 ms = 3,750"}},
		// Everything in the primary region: app-a 10 ÷ 4.6 = 2,174; db-a 8 ÷ 3.6 = 2,222.
		{"multi-region, primary only", targets.MultiRegionConfig{Regions: []string{"a", "b", "c"}, Primary: "a", RTT: targets.Duration(50 * time.Millisecond),
			App: app(10), Cache: cache, PrimaryDB: db(8), Replica: db(2)}, reads80,
			10 / 4.6e-3, "app-a", []string{"app-a"}, 0.5,
			[]string{"all load in the primary region a (no request sets X-Region)", "min(app-a 10 ÷ 4.6 ms = 2,174, db-a 8 ÷ 3.6 ms = 2,222): limited by app-a"}},
		// Two regions, the passive one alone: passive app ½ × 14.6 on 10 = 1,370.
		{"multi-region of two", targets.MultiRegionConfig{Regions: []string{"a", "b"}, Primary: "a", RTT: targets.Duration(50 * time.Millisecond),
			App: app(10), Cache: cache, PrimaryDB: db(8), Replica: db(2)}, regional,
			10 / (14.6e-3 / 2), "app-b", []string{"app-b"}, 0.5, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := predictConfig(tt.cfg, tt.mix, half)
			if err != nil {
				t.Fatalf("predict = %v", err)
			}
			if !closeTo(p.CeilingRPS, tt.ceiling) || p.Bottleneck != tt.bottleneck || !slices.Equal(p.Components, tt.components) || p.HitRate != tt.hit {
				t.Errorf("predict = %v req/s, %q %q, hit %v; want %v, %q %q, hit %v\n%s",
					p.CeilingRPS, p.Bottleneck, p.Components, p.HitRate, tt.ceiling, tt.bottleneck, tt.components, tt.hit, p.Working)
			}
			for _, w := range tt.working {
				if !strings.Contains(p.Working, w) {
					t.Errorf("working lacks %q:\n%s", w, p.Working)
				}
			}
			if strings.Contains(p.Working, "\n") {
				t.Errorf("working is not one line:\n%s", p.Working)
			}
		})
	}
}

func TestPredictInvalidConfig(t *testing.T) {
	for _, cfg := range []any{
		targets.SplitConfig{}, // no slots, no pool
		(*targets.CacheConfig)(nil),
		targets.EchoConfig{},
		42,
	} {
		if _, err := predictConfig(cfg, predMix{read: 1}, predHitRate{0.8, "assumed"}); err == nil {
			t.Errorf("predict(%#v) = nil error", cfg)
		}
	}
}

func TestPredictMix(t *testing.T) {
	reqs := []scenario.Request{
		{Method: "GET", Path: "/items/{{int 1 10}}", Weight: 5},
		{Method: "", Path: "/items/7?x=1"}, // no method: GET; weight 0 in code: 1
		{Method: "post", Path: "/items?debug=1", Weight: 2},
		{Method: "POST", Path: "/jobs", Weight: 1},
		{Method: "GET", Path: "/health", Weight: 1, Headers: map[string]string{"x-region": "{{choice a b}}"}},
	}
	m := predMixOf(reqs)
	want := predMix{read: 0.6, write: 0.2, job: 0.1, other: 0.1, regional: true}
	if !closeTo(m.read, want.read) || !closeTo(m.write, want.write) || !closeTo(m.job, want.job) || !closeTo(m.other, want.other) || !m.regional {
		t.Errorf("mix = %+v; want %+v", m, want)
	}
	if m := predMixOf(predictScenario().Requests); m.read != 0.9 || !closeTo(m.write, 0.1) || m.job != 0 || m.other != 0 || m.regional {
		t.Errorf("staircase mix = %+v", m)
	}
}

func TestPredictStageNotBundled(t *testing.T) {
	sc := predictScenario(scenario.Stage{Name: "mine", URL: "http://127.0.0.1:8080"}, scenario.Stage{Name: "echo", Bundled: "echo"})
	for k := range sc.Stages {
		p, ok, err := Stage(sc, k, -1)
		if ok || err != nil || p.CeilingRPS != 0 || p.Bottleneck != "" {
			t.Errorf("stage %d: Stage = %+v, %v, %v; want ok false, no error", k, p, ok, err)
		}
	}
	if _, _, err := Stage(sc, 2, -1); err == nil {
		t.Errorf("stage out of range: no error")
	}
	sc = predictScenario(scenario.Stage{Name: "split", Bundled: "split"})
	for _, h := range []float64{math.NaN(), 1.5} {
		if _, _, err := Stage(sc, 0, h); !errors.Is(err, capacity.ErrInvalid) {
			t.Errorf("hit rate %v: err %v; want ErrInvalid", h, err)
		}
	}
	sc = predictScenario(scenario.Stage{Name: "nope", Bundled: "no-such-topology"})
	if _, _, err := Stage(sc, 0, -1); !errors.Is(err, targets.ErrUnknownTopology) {
		t.Errorf("unknown topology: err %v", err)
	}
}

// The hit rate: given (measured), else the scenario's capacity section,
// else 66% assumed.
func TestPredictStageHitRate(t *testing.T) {
	sc := predictScenario(scenario.Stage{Name: "cache", Bundled: "cache"})
	check := func(given, want float64, source string) {
		t.Helper()
		p, ok, err := Stage(sc, 0, given)
		if !ok || err != nil || p.HitRate != want || !strings.Contains(p.Working, "cache hit rate "+predPct(want)+" ("+source+")") {
			t.Errorf("hit rate %v: %+v, %v, %v; want %v (%s)", given, p, ok, err, want, source)
		}
	}
	check(-1, 0.66, "assumed")
	check(0.63, 0.63, "measured")
	check(0, 0, "measured")
	sc.Capacity = &scenario.Capacity{CacheHitRate: 0.9}
	check(-1, 0.9, "capacity.cache_hit_rate")
	check(0.5, 0.5, "measured")

	// No cache in split: the hit rate is 0 and not mentioned.
	sc.Stages[0] = scenario.Stage{Name: "split", Bundled: "split"}
	p, _, _ := Stage(sc, 0, 0.7)
	if p.HitRate != 0 || strings.Contains(p.Working, "hit rate") {
		t.Errorf("split: %+v", p)
	}
}

// With the current default configs, single-box and split predict what
// the arithmetic of targets/doc.go gives, worked out here from the config
// values (the defaults may be retuned), and every topology predicts.
func TestPredictStageDefaults(t *testing.T) {
	var stages []scenario.Stage
	for _, name := range capacity.Topologies() {
		stages = append(stages, scenario.Stage{Name: name, Bundled: name})
	}
	sc := predictScenario(stages...)
	got := map[string]Prediction{}
	for k, st := range sc.Stages {
		p, ok, err := Stage(sc, k, -1)
		if !ok || err != nil || !(p.CeilingRPS > 0) || math.IsInf(p.CeilingRPS, 0) || p.Bottleneck == "" || len(p.Components) == 0 {
			t.Fatalf("%s: Stage = %+v, %v, %v", st.Name, p, ok, err)
		}
		if !strings.HasPrefix(p.Working, "mix 90% reads (GET /items/…), 10% POST /items") {
			t.Errorf("%s: working %q", st.Name, p.Working)
		}
		got[st.Name] = p
		t.Logf("%-12s %8.0f req/s  %-22s %s", st.Name, p.CeilingRPS, p.Bottleneck, p.Working)
	}
	ms := func(d resource.Dist) float64 { return float64(d.Mean()) / 1e6 }

	// single-box: app and db share the CPUs; the db's work per request is
	// f·R + (1−f)·W, the app slot holds a + that.
	sb := must(targets.DefaultConfig("single-box")).(*targets.SingleBoxConfig)
	dbWork := 0.9*ms(sb.DB.Read) + 0.1*ms(sb.DB.Write)
	appWork := ms(sb.App.Service) + dbWork
	want, name := minOf(map[string]float64{
		"box-cpu": float64(sb.CPUs) / appWork * 1000,
		"box-app": float64(sb.App.Slots) / appWork * 1000,
		"box-db":  float64(sb.DB.Pool) / dbWork * 1000,
	})
	if p := got["single-box"]; !closeTo(p.CeilingRPS, want) || p.Bottleneck != name {
		t.Errorf("single-box = %v (%s); want %v (%s)", p.CeilingRPS, p.Bottleneck, want, name)
	}

	sp := must(targets.DefaultConfig("split")).(*targets.SplitConfig)
	dbWork = 0.9*ms(sp.DB.Read) + 0.1*ms(sp.DB.Write)
	appWork = ms(sp.App.Service) + dbWork
	want, name = minOf(map[string]float64{
		"app": float64(sp.App.Slots) / appWork * 1000,
		"db":  float64(sp.DB.Pool) / dbWork * 1000,
	})
	if p := got["split"]; !closeTo(p.CeilingRPS, want) || p.Bottleneck != name {
		t.Errorf("split = %v (%s); want %v (%s)", p.CeilingRPS, p.Bottleneck, want, name)
	}

	// multi-region with the load spread over the regions by X-Region, as
	// targets/doc.go assumes: a passive region's app slot waits out the
	// round trip of its forwarded writes.
	mr := must(targets.DefaultConfig("multi-region")).(*targets.MultiRegionConfig)
	sc = predictScenario(scenario.Stage{Name: "multi-region", Bundled: "multi-region"})
	sc.Requests[0].Headers = map[string]string{"X-Region": "{{choice us-east eu-west ap-south}}"}
	p, ok, err := Stage(sc, 0, -1)
	if !ok || err != nil {
		t.Fatalf("multi-region spread: %v, %v", ok, err)
	}
	t.Logf("%-12s %8.0f req/s  %-22s %s", "spread", p.CeilingRPS, p.Bottleneck, p.Working)
	n := float64(len(mr.Regions))
	h := predDefaultHitRate
	missR := 0.9 * (1 - h)
	primaryApp := ms(mr.App.Service) + missR*ms(mr.PrimaryDB.Read) + 0.1*ms(mr.PrimaryDB.Write)
	passiveApp := ms(mr.App.Service) + missR*ms(mr.Replica.Read) + 0.1*(ms(mr.PrimaryDB.Write)+float64(mr.RTT)/1e6)
	primaryDB := missR*ms(mr.PrimaryDB.Read)/n + 0.1*ms(mr.PrimaryDB.Write)
	replica := missR * ms(mr.Replica.Read) / n
	want, _ = minOf(map[string]float64{
		"app-" + mr.Primary: float64(mr.App.Slots) / (primaryApp / n) * 1000,
		"passive apps":      float64(mr.App.Slots) / (passiveApp / n) * 1000,
		"db-" + mr.Primary:  float64(mr.PrimaryDB.Pool) / primaryDB * 1000,
		"replicas":          float64(mr.Replica.Pool) / replica * 1000,
	})
	if !closeTo(p.CeilingRPS, want) {
		t.Errorf("multi-region spread = %v; want %v", p.CeilingRPS, want)
	}

	// The queue stage with this mix does its writes at once (POST /items):
	// its workers are idle, so it predicts what sharding of the same
	// app and shards would.
	if p := got["queue"]; !strings.Contains(p.Working, "the workers stay idle") {
		t.Errorf("queue: %q", p.Working)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// minOf is the smallest value and its key (the first key in order on a tie).
func minOf(m map[string]float64) (float64, string) {
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
	best := keys[0]
	for _, k := range keys {
		if m[k] < m[best] {
			best = k
		}
	}
	return m[best], best
}

// A bundled stage's options change its prediction as they change the
// target: split's db with one connection instead of five saturates at a
// fifth of the rate, and the working says so.
func TestPredictStageOptions(t *testing.T) {
	plain, ok, err := Stage(predictScenario(scenario.Stage{Name: "split", Bundled: "split"}), 0, 0.5)
	if err != nil || !ok {
		t.Fatalf("split: ok %v, %v", ok, err)
	}
	one, ok, err := Stage(predictScenario(scenario.Stage{Name: "one", Bundled: "split",
		Options: scenario.TopologyOptions(`{"db": {"pool": 1}}`)}), 0, 0.5)
	if err != nil || !ok {
		t.Fatalf("split pool 1: ok %v, %v", ok, err)
	}
	if !closeTo(one.CeilingRPS*5, plain.CeilingRPS) || one.Bottleneck != "db" {
		t.Errorf("pool 1: ceiling %v (%s), want a fifth of pool 5's %v (db)", one.CeilingRPS, one.Bottleneck, plain.CeilingRPS)
	}
	if !strings.Contains(one.Working, "db 1 ÷") {
		t.Errorf("working does not use the option:\n%s", one.Working)
	}
	_, _, err = Stage(predictScenario(scenario.Stage{Name: "bad", Bundled: "split",
		Options: scenario.TopologyOptions(`{"db": {"pools": 1}}`)}), 0, 0.5)
	if !errors.Is(err, targets.ErrInvalidConfig) {
		t.Errorf("unknown option: err %v, want ErrInvalidConfig", err)
	}
}
