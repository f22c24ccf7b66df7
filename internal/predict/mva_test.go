package predict

import (
	"math"
	"strings"
	"testing"

	"github.com/surgeload/surge/scenario"
	"github.com/surgeload/surge/targets"
)

// mvaThroughput against closed networks solved by hand.
func TestMVAThroughput(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		z    float64
		st   []mvaStation
		want float64 // req/s
	}{
		{"one customer", 1, 4, []mvaStation{{demand: 6, servers: 1, copies: 1}}, 1000.0 / 10},
		{"servers for all: no queueing", 5, 4, []mvaStation{{demand: 6, servers: 5, copies: 1}}, 5 * 1000.0 / 10},
		{"one station always busy", 2, 0, []mvaStation{{demand: 5, servers: 1, copies: 1}}, 1000.0 / 5},
		// Two single servers, two customers, no delay: the states (2,0),
		// (1,1), (0,2) are equally likely, so each server is busy 2/3.
		{"two stations, two customers", 2, 0, []mvaStation{{demand: 3, servers: 1, copies: 2}}, 2.0 / 3 * 1000 / 3},
		{"many customers: the bound", 400, 4, []mvaStation{{demand: 10, servers: 4, copies: 1}}, 4 * 1000.0 / 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mvaThroughput(tc.n, tc.z, tc.st); math.Abs(got-tc.want) > 1e-6*tc.want+(map[bool]float64{true: 0.5}[tc.n > 100]) {
				t.Errorf("mvaThroughput(%d, %v, %+v) = %v; want %v", tc.n, tc.z, tc.st, got, tc.want)
			}
		})
	}
	if got := mvaThroughput(0, 1, []mvaStation{{demand: 1, servers: 1, copies: 1}}); got != 0 {
		t.Errorf("no customers: %v; want 0", got)
	}
}

// Where an app's few slots wait on loaded shards (eight weeks' week 7),
// the closed loop's throughput replaces the bound and names the app;
// with more slots (week 8's 48; this mix's writes hold them too) the
// shards, over 85% busy, are named; a db at its bound stays the
// bottleneck, the bound standing (split).
func TestPredictHeldSlots(t *testing.T) {
	mix := predMixOf(predictScenario(scenario.Stage{Name: "x", Bundled: "split"}).Requests)
	h := predHitRate{0.66, "measured"}
	for _, tc := range []struct {
		name, topology, options string
		neck                    string
		mva                     bool
	}{
		{"week 7", "sharding", `{"app": {"slots": 14}, "shards": 4, "shard": {"pool": 2}}`, "app", true},
		{"week 8", "queue", `{"app": {"slots": 48}, "shards": 4, "shard": {"pool": 2}, "workers": 16}`, "shard-*", true},
		{"split", "split", `{}`, "db", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := targets.DecodeConfig(tc.topology, strings.NewReader(tc.options))
			if err != nil {
				t.Fatal(err)
			}
			got, err := predictConfig(cfg, mix, h)
			if err != nil {
				t.Fatal(err)
			}
			if got.Bottleneck != tc.neck || strings.Contains(got.Working, "exact MVA") != tc.mva {
				t.Errorf("= %v (%s) %q; want limited by %s, MVA used %v", got.CeilingRPS, got.Bottleneck, got.Working, tc.neck, tc.mva)
			}
			if tc.topology == "sharding" {
				c := cfg.(*targets.ShardingConfig)
				db := predDB(mix, 0.66, predMean(c.Shard.Read), predMean(c.Shard.Write), false)
				want := mvaThroughput(c.App.Slots, predMean(c.App.Service), []mvaStation{{demand: db.ms / 4, servers: 2, copies: 4}})
				if math.Abs(got.CeilingRPS-want) > 1e-6*want {
					t.Errorf("week 7 ceiling %v; want the closed loop's %v", got.CeilingRPS, want)
				}
			}
		})
	}
}
