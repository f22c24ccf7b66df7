package targets_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/surgeload/surge/internal/capacity"
	"github.com/surgeload/surge/internal/predict"
	"github.com/surgeload/surge/scenario"
	"github.com/surgeload/surge/targets"
)

// saturate drives the handler of the named topology (default config)
// closed-loop with workers in a synctest bubble: 90 % GET /items/{zipf
// 1.1 over 100,000 keys}, 10 % POST /items, from seeded generators. It
// counts the 2xx answers and the reads the edge or cache answered, in
// the window [from, to) of fake time, and returns the rate and the share
// of reads served by source. Fake time: the machine's load cannot change
// the result, only how long it takes to compute.
func saturate(t *testing.T, name string, workers int, from, to time.Duration, hitSource string) (rps, hitRate float64) {
	t.Helper()
	return saturateConfig(t, name, nil, workers, from, to, hitSource)
}

// saturateConfig is saturate for the topology configured by cfg (nil:
// the defaults).
func saturateConfig(t *testing.T, name string, cfg any, workers int, from, to time.Duration, hitSource string) (rps, hitRate float64) {
	t.Helper()
	h, stop, err := targets.BuildTopology(name, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("stop %s: %v", name, err)
		}
	}()
	p, err := capacity.ZipfPopularity(1.1, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	cdf := make([]float64, len(p))
	acc := 0.0
	for i, v := range p {
		acc += v
		cdf[i] = acc
	}
	draw := func(r *rand.Rand) int {
		u := r.Float64()
		lo, hi := 0, len(cdf)-1
		for lo < hi {
			mid := (lo + hi) / 2
			if cdf[mid] < u {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		return lo
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ok, reads, hits atomic.Int64
	start := time.Now()
	end := start.Add(to)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w)+1, 18))
			for time.Now().Before(end) {
				var req *http.Request
				read := r.IntN(10) < 9
				if read {
					req = httptest.NewRequestWithContext(ctx, http.MethodGet, "/items/"+strconv.Itoa(draw(r)), nil)
				} else {
					req = httptest.NewRequestWithContext(ctx, http.MethodPost, "/items", nil)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if since := time.Since(start); since >= from && since < to && rec.Code/100 == 2 {
					ok.Add(1)
					if read {
						reads.Add(1)
						if strings.Contains(rec.Body.String(), `"source":"`+hitSource+`"`) {
							hits.Add(1)
						}
					}
				}
			}
		})
	}
	wg.Wait()
	return float64(ok.Load()) / (to - from).Seconds(), float64(hits.Load()) / float64(max(reads.Load(), 1))
}

// predicted is the planning arithmetic's ceiling of the named topology
// for the mix saturate plays, at the hit rate measured.
func predicted(t *testing.T, name string, hit float64) predict.Prediction {
	t.Helper()
	return predictedWith(t, name, "", hit)
}

// predictedWith is predicted for the topology with options (JSON; ""
// for none) merged over its defaults.
func predictedWith(t *testing.T, name, options string, hit float64) predict.Prediction {
	t.Helper()
	sc := &scenario.Scenario{
		Name:   "saturate",
		Stages: []scenario.Stage{{Name: name, Bundled: name, Options: scenario.TopologyOptions(options)}},
		Requests: []scenario.Request{
			{Name: "read", Method: "GET", Path: "/items/{{zipf 1.1 100000}}", Weight: 90},
			{Name: "write", Method: "POST", Path: "/items", Weight: 10},
		},
	}
	p, ok, err := predict.Stage(sc, 0, hit)
	if !ok || err != nil {
		t.Fatalf("predict %s: %v, %v", name, ok, err)
	}
	return p
}

// TestCDNSaturatesAtPrediction: driven closed-loop past its ceiling, the
// cdn serves within 10 % of the predicted ceiling at the hit rate its
// edge reached (the origin's db ÷ (1 − h) with the writes).
func TestCDNSaturatesAtPrediction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rps, hit := saturate(t, "cdn", 64, 2*time.Second, 8*time.Second, "edge-cache")
		p := predicted(t, "cdn", hit)
		t.Logf("cdn closed loop: %.0f req/s at edge hit rate %.3f; predicted %.0f (%s)", rps, hit, p.CeilingRPS, p.Bottleneck)
		if r := rps / p.CeilingRPS; r < 0.9 || r > 1.1 {
			t.Errorf("cdn served %.0f req/s; predicted %.0f (%s) at hit rate %.3f: ratio %.2f, want 0.9–1.1", rps, p.CeilingRPS, p.Bottleneck, hit, r)
		}
	})
}
