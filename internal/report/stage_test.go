package report

import (
	"strings"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/reporters"
)

// TestStage: a stage report from merged data balances, takes its
// percentiles from the merged histogram, places lost arrivals in their
// intervals and lists every interval up to the last with data or losses.
func TestStage(t *testing.T) {
	tl := metrics.NewTimeline(metrics.DefaultGeometry(), []string{"get", "post"}, 500*time.Millisecond)
	for idx, lat := range []time.Duration{time.Millisecond, 3 * time.Millisecond} {
		iv := metrics.NewInterval(tl.Geometry, 2)
		iv.Index = uint32(idx)
		s := &iv.Series[idx] // interval 0: get; interval 1: post
		s.Intended, s.Issued, s.Succeeded, s.Failed = 50, 48, 47, 1
		s.Dropped = 2
		s.Errors[metrics.HTTP5xx] = 1
		for range 48 {
			if err := s.Response.RecordValue(int64(lat)); err != nil {
				t.Fatal(err)
			}
			if err := s.Service.RecordValue(int64(lat / 2)); err != nil {
				t.Fatal(err)
			}
		}
		iv.CPU = 400 * time.Millisecond
		if err := tl.Add(iv); err != nil {
			t.Fatal(err)
		}
	}
	st, err := Stage(tl, Played{Name: "s", Target: "http://127.0.0.1:1", Intended: 110, Duration: time.Second,
		Lost: 10, LostAt: map[uint32]uint64{3: 10}, CPUShare: 2})
	if err != nil {
		t.Fatal(err)
	}
	rep := reporters.Report{Schema: reporters.Schema, Stages: []reporters.Stage{st}}
	if err := rep.Check(); err != nil {
		t.Errorf("the stage does not balance: %v", err)
	}
	if st.Issued != 96 || st.Succeeded != 94 || st.Failed != 2 || st.Dropped != 4 || st.Errors["http_5xx"] != 2 {
		t.Errorf("counts %+v", st)
	}
	if p := st.ResponseTimeMS; p.P50 < 0.99 || p.P50 > 1.01 || p.Max < 2.99 || p.Max > 3.01 {
		t.Errorf("response time %+v; want p50 1ms, max 3ms from the merged histogram", p)
	}
	if len(st.Requests) != 2 || st.Requests[1].Name != "post" || st.Requests[1].ResponseTimeMS.P50 < 2.99 {
		t.Errorf("requests %+v", st.Requests)
	}
	var sum uint64
	for _, iv := range st.Intervals {
		sum += iv.Intended
	}
	if sum != st.Intended {
		t.Errorf("intervals' intended add up to %d; the stage's is %d", sum, st.Intended)
	}
	if len(st.Intervals) != 4 || st.Intervals[3].Lost != 10 || st.Intervals[3].Intended != 10 || st.Intervals[2].Intended != 0 || st.Intervals[1].TS != 0.5 {
		t.Errorf("intervals %+v; want 4, the losses in the last", st.Intervals)
	}
	if st.Intervals[0].CPUS != 0.2 || st.Intervals[0].Histogram == "" || st.Intervals[2].Histogram != "" {
		t.Errorf("interval 0 cpu %v (want 0.2: shared by 2 agents), histograms %q/%q", st.Intervals[0].CPUS, st.Intervals[0].Histogram[:min(8, len(st.Intervals[0].Histogram))], st.Intervals[2].Histogram)
	}
	// Interval 1 holds 48 responses of 3 ms: every percentile is the top
	// of that bucket, on the interval and on its request (post).
	if iv := st.Intervals[1]; iv.P50MS < 2.99 || iv.P75MS != iv.P50MS || iv.P95MS != iv.P50MS || iv.P99MS != iv.P50MS ||
		len(iv.Requests) != 1 || iv.Requests[0].P75MS != iv.P50MS || iv.Requests[0].P95MS != iv.P50MS {
		t.Errorf("interval 1 %+v; want p50 = p75 = p95 = p99 = 3 ms, on its request too", iv)
	}
	if iv := st.Intervals[1]; iv.MaxMS < 2.99 || iv.MaxMS > 3.01 || iv.P90MS != iv.MaxMS || iv.P999MS != iv.MaxMS || iv.Errors["http_5xx"] != 1 || st.Intervals[2].Errors != nil {
		t.Errorf("interval 1: p90 %v p99.9 %v max %v errors %v; want 3 ms each and 1 http_5xx (interval 2 none)", iv.P90MS, iv.P999MS, iv.MaxMS, iv.Errors)
	}
	h, err := metrics.DecodeHistogram([]byte(st.Histogram), metrics.DefaultGeometry())
	if err != nil || h.TotalCount() != 96 {
		t.Errorf("stage histogram: %v, %v; want 96 values", h, err)
	}
}

// TestGeneratorHealth: send lag over the bound and drops flag the stage,
// with advice; waiting for connections is warned about but is the user's
// setting, not generator-limited.
func TestGeneratorHealth(t *testing.T) {
	total := metrics.NewInterval(metrics.DefaultGeometry(), 1)
	for range 100 {
		_ = total.SendLag.RecordValue(int64(20 * time.Millisecond))
	}
	total.CPU = time.Second
	st := reporters.Stage{Name: "s", Issued: 100, Succeeded: 100, Dropped: 3, ConnWaits: 5}
	warns := GeneratorHealth(&st, total, Generator{MaxSendLag: 5 * time.Millisecond, MaxInFlight: 7, MaxConns: 4, CPUShare: 2})
	if !st.GeneratorLimited || len(st.GeneratorNotes) != 2 || len(warns) != 3 {
		t.Fatalf("limited %v notes %q warnings %q", st.GeneratorLimited, st.GeneratorNotes, warns)
	}
	if st.AgentCPUS != 0.5 || st.CPUPerRequestUS != 5000 {
		t.Errorf("cpu %v s, %v µs/request; want 0.5, 5000", st.AgentCPUS, st.CPUPerRequestUS)
	}
	fds := reporters.Stage{Name: "fds", Issued: 100, Succeeded: 90, Failed: 10, Errors: map[string]uint64{"local_resource": 10}}
	if w := GeneratorHealth(&fds, metrics.NewInterval(metrics.DefaultGeometry(), 1), Generator{MaxSendLag: time.Second}); !fds.GeneratorLimited || len(w) != 1 ||
		!strings.Contains(w[0], "file descriptors") {
		t.Errorf("local_resource failures: warnings %q limited %v; want generator-limited with advice", w, fds.GeneratorLimited)
	}
	calm := reporters.Stage{Name: "calm", Issued: 1000, Succeeded: 1000, ConnWaits: 9}
	if w := GeneratorHealth(&calm, metrics.NewInterval(metrics.DefaultGeometry(), 1), Generator{MaxSendLag: time.Millisecond}); len(w) != 0 || calm.GeneratorLimited {
		t.Errorf("a calm stage: warnings %q limited %v", w, calm.GeneratorLimited)
	}
}

// TestPercentiles: every summary percentile is by nearest rank (rank
// ⌈p·N/100⌉, the top of that value's bucket): of 1,600 values of
// 1..1,600 ms, p50 is the 800th, p75 the 1,200th, p90 the 1,440th, p95 the
// 1,520th, p99 the 1,584th and p99.9 the 1,599th (⌈1598.4⌉).
func TestPercentiles(t *testing.T) {
	g := metrics.DefaultGeometry()
	h := g.New()
	for i := int64(1); i <= 1600; i++ {
		if err := h.RecordValue(i * int64(time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	// top is the top of the bucket of the rank-th value, in ms.
	top := func(rank int64) float64 {
		one := g.New()
		_ = one.RecordValue(rank * int64(time.Millisecond))
		return float64(one.Max()) / 1e6
	}
	got := Percentiles(h)
	want := reporters.Percentiles{P50: top(800), P75: top(1200), P90: top(1440), P95: top(1520), P99: top(1584), P999: top(1599),
		Max: top(1600), Mean: h.Mean() / 1e6}
	if got != want {
		t.Errorf("Percentiles(1..1600 ms) = %+v; want %+v", got, want)
	}
	if got := Percentiles(g.New()); got != (reporters.Percentiles{}) {
		t.Errorf("Percentiles(empty) = %+v; want zeros", got)
	}
}

// TestOnWireLag: a stage whose requests were dispatched on time (send lag
// under the bound) but went out late (on-wire lag p99 over it) is
// generator-limited, and pool-limited with the max_conns advice when 1%
// or more waited for a pooled connection; send lag over the bound says
// so once (its own note); an on-wire lag under the bound says nothing.
func TestOnWireLag(t *testing.T) {
	g := metrics.DefaultGeometry()
	total := func(send, wire time.Duration) *metrics.Interval {
		iv := metrics.NewInterval(g, 1)
		for range 100 {
			_ = iv.SendLag.RecordValue(int64(send))
			_ = iv.OnWireLag.RecordValue(int64(wire))
		}
		return iv
	}
	gen := Generator{MaxSendLag: 5 * time.Millisecond, MaxConns: 8}
	for _, tc := range []struct {
		name             string
		send, wire       time.Duration
		waits            uint64
		limited, pool    bool
		notes            int
		noteHas, warnHas string
	}{
		{name: "pool", send: time.Millisecond, wire: 900 * time.Millisecond, waits: 8, limited: true, pool: true, notes: 1,
			noteHas: "pool-limited: 8 of 100 requests (8.0%) waited for a pooled connection at the bound of 8 per agent. Raise client.max_conns"},
		{name: "slow connections", send: time.Millisecond, wire: 40 * time.Millisecond, limited: true, notes: 1, noteHas: "connections came late"},
		{name: "message", send: time.Millisecond, wire: 40 * time.Millisecond, limited: true, notes: 1, noteHas: "on-wire lag p99 40.01ms is over 5ms (send lag p99 1ms): requests were dispatched on time but went out on the wire late"},
		{name: "send lag says it", send: 20 * time.Millisecond, wire: 40 * time.Millisecond, limited: true, notes: 1, noteHas: "send lag p99 20ms is over 5ms"},
		{name: "on time", send: time.Millisecond, wire: 4 * time.Millisecond, waits: 3, notes: 0, warnHas: "waited for a pooled connection"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := reporters.Stage{Name: "s", Issued: 100, Succeeded: 100, ConnWaits: tc.waits}
			warns := GeneratorHealth(&st, total(tc.send, tc.wire), gen)
			if st.GeneratorLimited != tc.limited || st.PoolLimited != tc.pool || len(st.GeneratorNotes) != tc.notes {
				t.Fatalf("limited %v pool %v notes %q; want %v %v %d", st.GeneratorLimited, st.PoolLimited, st.GeneratorNotes, tc.limited, tc.pool, tc.notes)
			}
			if tc.noteHas != "" && !strings.Contains(st.GeneratorNotes[0], tc.noteHas) {
				t.Errorf("note %q lacks %q", st.GeneratorNotes[0], tc.noteHas)
			}
			if tc.warnHas != "" && (len(warns) != 1 || !strings.Contains(warns[0], tc.warnHas)) {
				t.Errorf("warnings %q; want one with %q", warns, tc.warnHas)
			}
		})
	}
}
