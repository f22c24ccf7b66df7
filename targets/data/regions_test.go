package data

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestRegionsWriteRTTOnlyOffPrimary checks a write pays the round trip
// to the primary region only when its client is elsewhere, and reads
// never do. It runs in a synctest bubble, where the round trip's timer
// and the clock that measures it are fake: a forwarded write takes
// exactly its RTT and a local operation no time at all, on any machine.
func TestRegionsWriteRTTOnlyOffPrimary(t *testing.T) {
	synctest.Test(t, testRegionsWriteRTTOnlyOffPrimary)
}

func testRegionsWriteRTTOnlyOffPrimary(t *testing.T) {
	const rtt, euAP = 150 * time.Millisecond, 250 * time.Millisecond
	reg := prometheus.NewRegistry()
	stores := map[string]Store{
		"us": newTestTable(t, "us-db", nil, nil),
		"eu": newTestTable(t, "eu-db", nil, nil),
		"ap": newTestTable(t, "ap-db", nil, nil),
	}
	cfg := RegionsConfig{Primary: "us", RTT: rtt, PairRTTs: []PairRTT{{A: "ap", B: "us", RTT: euAP}}}
	r, err := NewRegions("regions", cfg, stores, reg)
	if err != nil {
		t.Fatal(err)
	}
	// A local operation takes no fake time; half the smallest RTT is the
	// line between local and forwarded.
	const local = rtt / 2
	for _, tc := range []struct {
		region  string
		minPut  time.Duration
		maxPut  time.Duration
		forward bool
	}{
		{"us", 0, local, false},
		{"", 0, local, false}, // no region: served by the primary
		{"eu", rtt, rtt + time.Second, true},
		{"ap", euAP, euAP + time.Second, true}, // the pair's override
	} {
		ctx := context.Background()
		if tc.region != "" {
			ctx = WithRegion(ctx, tc.region)
		}
		want := tc.region + "-db"
		if tc.region == "" {
			want = "us-db"
		}
		// Three tries each: the counts below expect them, and on the
		// fake clock every try takes the same time.
		fastestPut, fastestGet := time.Hour, time.Hour
		for range 3 {
			start := time.Now()
			item, err := r.Put(ctx, "k")
			took := time.Since(start)
			if err != nil {
				t.Fatalf("Put from %q: %v", tc.region, err)
			}
			if item.Source != "us-db" {
				t.Errorf("Put from %q written by %s; want the primary us-db", tc.region, item.Source)
			}
			if took < tc.minPut {
				t.Errorf("Put from %q took %v; want at least %v", tc.region, took, tc.minPut)
			}
			fastestPut = min(fastestPut, took)
			start = time.Now()
			item, err = r.Get(ctx, "k")
			fastestGet = min(fastestGet, time.Since(start))
			if err != nil {
				t.Fatalf("Get from %q: %v", tc.region, err)
			}
			if item.Source != want {
				t.Errorf("Get from %q served by %s; want its own region's %s", tc.region, item.Source, want)
			}
		}
		t.Logf("region %q: fastest put %v, fastest get %v", tc.region, fastestPut, fastestGet)
		if fastestPut > tc.maxPut {
			t.Errorf("Put from %q took at least %v; want at most %v", tc.region, fastestPut, tc.maxPut)
		}
		if fastestGet > local {
			t.Errorf("Get from %q took at least %v; want no RTT (under %v)", tc.region, fastestGet, local)
		}
	}
	if got := metricValue(t, reg, "surge_target_forwarded_writes_total", "component", "regions"); got != 6 {
		t.Errorf("forwarded writes = %v; want 6 (3 from eu, 3 from ap)", got)
	}
	if got := metricValue(t, reg, "surge_target_region_requests_total", "component", "regions", "region", "us"); got != 18 {
		t.Errorf("region_requests_total{region=us} = %v; want 12 writes + 6 reads", got)
	}
	if got := r.RTT("eu", "ap"); got != rtt {
		t.Errorf("RTT(eu, ap) = %v; want the default %v", got, rtt)
	}
	if got := r.RTT("us", "ap"); got != euAP {
		t.Errorf("RTT(us, ap) = %v; want the override %v", got, euAP)
	}
}

// TestRegionsWithReplicas models cross-region replication: passive
// regions read their own replica, which lags the primary region. In a
// synctest bubble the reads right after the write come exactly one RTT
// (10 ms) after it, well within the lag, however busy the machine.
func TestRegionsWithReplicas(t *testing.T) { synctest.Test(t, testRegionsWithReplicas) }

func testRegionsWithReplicas(t *testing.T) {
	const lag = 300 * time.Millisecond
	rep := newTestReplicas(t, ReplicasConfig{Lag: lag, MaxKeys: 10}, 1, nil)
	r, err := NewRegions("regions", RegionsConfig{Primary: "us", RTT: 10 * time.Millisecond},
		map[string]Store{"us": rep.Primary(), "eu": rep.Replica(0)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	us := WithRegion(context.Background(), "us")
	eu := WithRegion(context.Background(), "eu")
	put, err := r.Put(eu, "k")
	if err != nil {
		t.Fatal(err)
	}
	euRead, _ := r.Get(eu, "k")
	usRead, _ := r.Get(us, "k")
	if !euRead.Stale || euRead.Version != put.Version-1 {
		t.Errorf("eu read right after the write = %+v; want version %d, stale", euRead, put.Version-1)
	}
	if usRead.Stale || usRead.Version != put.Version {
		t.Errorf("us read right after the write = %+v; want version %d, fresh", usRead, put.Version)
	}
}

func TestRegionsUnknownRegion(t *testing.T) {
	r, err := NewRegions("regions", RegionsConfig{Primary: "us"}, map[string]Store{"us": newTestTable(t, "db", nil, nil)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := WithRegion(context.Background(), "mars")
	if _, err := r.Get(ctx, "k"); !errors.Is(err, ErrUnknownRegion) {
		t.Errorf("Get from mars: %v; want ErrUnknownRegion", err)
	}
	if _, err := r.Put(ctx, "k"); !errors.Is(err, ErrUnknownRegion) {
		t.Errorf("Put from mars: %v; want ErrUnknownRegion", err)
	}
}

// TestRegionsCancelDuringRTT checks a forwarded write whose client
// leaves during the round trip ends at once and writes nothing.
func TestRegionsCancelDuringRTT(t *testing.T) {
	tb := newTestTable(t, "db", nil, nil)
	r, err := NewRegions("regions", RegionsConfig{Primary: "us", RTT: MaxRTT},
		map[string]Store{"us": tb, "eu": tb}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(WithRegion(context.Background(), "eu"), 20*time.Millisecond)
	defer cancel()
	if _, err := r.Put(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Put cancelled during the RTT: %v; want context.DeadlineExceeded", err)
	}
	if tb.Len() != 0 {
		t.Errorf("the cancelled write reached the primary")
	}
}
