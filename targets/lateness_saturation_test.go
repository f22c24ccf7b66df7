package targets_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/surgeload/surge/targets"
)

// lateClock is a resource.Clock for synctest bubbles whose timers fire a
// fixed amount late, as a loaded machine's do: a topology's apps, dbs and
// CPUs then run as they would on a busy host, deterministically.
type lateClock struct {
	mu   sync.Mutex
	late time.Duration
}

func (c *lateClock) Now() time.Time { return time.Now() }

func (c *lateClock) Timer(d time.Duration) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	d += c.late
	c.mu.Unlock()
	t := time.NewTimer(d)
	return t.C, t.Stop
}

// TestChainCeilingUnderLateness saturates topologies whose app slots are
// held through db calls — eight-weeks' week 4 (cache, app-bound), week 7
// (sharding, app-bound: its slots fill with requests waiting at the
// shards), week 8's queue (shards-bound; here POST /items, so writes
// hold app slots too) and a sharding stage whose shards bind —
// with every timer of their simulated components firing on time or late
// by 1 ms and 3 ms (a busy host: a third of the app's 4 ms cost and
// more), and checks that each still serves within 10 % of the predicted
// ceiling. Before requests carried virtual time from the app to the db,
// each app slot was held for the db's late real completion, and
// lateness cut the app-bound ceilings by a quarter and more.
func TestChainCeilingUnderLateness(t *testing.T) {
	for _, tc := range []struct {
		name, topology, options string
		workers                 int
	}{
		{"week 4", "cache", `{"app": {"slots": 6}, "db": {"pool": 4}}`, 60},
		{"week 7", "sharding", `{"app": {"slots": 14}, "shards": 4, "shard": {"pool": 2}}`, 120},
		{"week 8", "queue", `{"app": {"slots": 48}, "shards": 4, "shard": {"pool": 2}, "workers": 16}`, 160},
		{"shards bind", "sharding", `{"app": {"slots": 40}, "shards": 2, "shard": {"pool": 2}}`, 120},
	} {
		for _, late := range []time.Duration{0, time.Millisecond, 3 * time.Millisecond} {
			t.Run(fmt.Sprintf("%s late %v", tc.name, late), func(t *testing.T) {
				cfg, err := targets.DecodeConfig(tc.topology, strings.NewReader(tc.options))
				if err != nil {
					t.Fatal(err)
				}
				restore := targets.SetSimClock(&lateClock{late: late})
				defer restore()
				synctest.Test(t, func(t *testing.T) {
					rps, hit := saturateConfig(t, tc.topology, cfg, tc.workers, 2*time.Second, 6*time.Second, "cache")
					p := predictedWith(t, tc.topology, tc.options, hit)
					r := rps / p.CeilingRPS
					t.Logf("%s, timers %v late: %.0f req/s at hit rate %.3f; predicted %.0f (%s): %.2f", tc.name, late, rps, hit, p.CeilingRPS, p.Bottleneck, r)
					if r < 0.9 || r > 1.1 {
						t.Errorf("%s with timers %v late served %.0f req/s; predicted %.0f (%s): ratio %.2f, want 0.9–1.1", tc.name, late, rps, p.CeilingRPS, p.Bottleneck, r)
					}
				})
			})
		}
	}
}
