package coordinator

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/surgeload/surge/internal/livemetrics"
	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/internal/wire"
	surgev1 "github.com/surgeload/surge/proto/gen/surge/v1"
)

// randomAgentInterval records one agent's interval of random shape:
// per request, a random rate (none at all, a few, or thousands), a
// random latency spread (tight, wide, clamped at the ceiling), random
// failures, drops and lags.
func randomAgentInterval(rng *rand.Rand, r *metrics.Recorder, idx uint32, n int) {
	for req := range n {
		rate := []int{0, 3, 200, 3000}[rng.IntN(4)]
		median := time.Duration(1+rng.IntN(50)) * time.Millisecond
		sigma := []float64{0.05, 0.5, 2}[rng.IntN(3)]
		for range rate {
			if rng.IntN(50) == 0 {
				r.Dropped(idx, req, metrics.InFlightCap)
				continue
			}
			lag := time.Duration(rng.Int64N(int64(time.Millisecond)))
			r.Issued(idx, req, lag)
			ttfb := lognormal(rng, median, sigma)
			if rng.IntN(1000) == 0 {
				ttfb = 2 * time.Hour // over range: clamped
			}
			res := metrics.Result{Request: req, Outcome: metrics.OK, Response: lag + ttfb + time.Microsecond, Service: ttfb + time.Microsecond,
				OnWire: lag, HasOnWire: rng.IntN(10) > 0, TTFB: ttfb, HasTTFB: rng.IntN(10) > 0}
			if rng.IntN(20) == 0 {
				res.Outcome = metrics.Outcome(1 + rng.IntN(int(metrics.NumOutcomes)-1))
			}
			r.Finished(idx, res)
		}
	}
}

// TestMergeMatchesLegacy: random snapshots of several agents and
// intervals, some arriving after their interval was packed, merged
// through the coordinator's path (wire.SnapshotToProto, the bytes,
// run.mergeSnapshot) give exactly, count for count, the timeline and live
// metrics of protocol version 3's path (every histogram V2 compressed,
// decoded by hdrhistogram-go, merged with Interval.Merge and observed
// with Exporter.Observe): every interval, the total, and what Emit saw.
// Only the live response-time sum may differ, in its last bits.
func TestMergeMatchesLegacy(t *testing.T) {
	const nReq, agents, intervals = 3, 12, 6
	names := []string{"a", "b", "c"}
	g := metrics.DefaultGeometry()
	rng := rand.New(rand.NewPCG(11, 12))

	type side struct {
		r       *run
		sr      *stageRun
		emitted []*metrics.Interval
	}
	newSide := func() *side {
		s := &side{r: &run{metrics: livemetrics.New()}, sr: &stageRun{name: "st", stage: "st", tl: metrics.NewTimeline(g, names, time.Second)}}
		s.sr.tl.Emit = func(iv *metrics.Interval, late bool) error {
			// Emit must not keep iv: keep a copy.
			c := metrics.NewInterval(g, len(iv.Series))
			c.Index = iv.Index
			s.emitted = append(s.emitted, c)
			return c.Merge(iv)
		}
		return s
	}
	now, legacy := newSide(), newSide()

	rec := metrics.NewRecorder(g, nReq)
	for k := range agents * intervals {
		idx := uint32(k / agents)
		if k%agents == agents-1 && idx >= 2 {
			idx -= 2 // late: after its interval was packed
		}
		randomAgentInterval(rng, rec, uint32(k), nReq) // the recorder's current interval
		iv := rec.Rotate()
		iv.Index = idx
		iv.CPU = time.Duration(rng.IntN(1000))

		m, err := wire.SnapshotToProto(1, 0, iv)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var s surgev1.Snapshot
		if err := proto.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		if _, err := now.r.mergeSnapshot(now.sr, &s); err != nil {
			t.Fatalf("snapshot %d: %v", k, err)
		}

		lm, err := legacySnapshotToProto(1, 0, iv)
		if err != nil {
			t.Fatal(err)
		}
		if err := legacyMerge(legacy.r, legacy.sr, lm); err != nil {
			t.Fatalf("legacy snapshot %d: %v", k, err)
		}
		if k%agents == agents-1 && idx >= 1 {
			for _, s := range []*side{now, legacy} {
				if err := s.sr.tl.Pack(idx); err != nil {
					t.Fatal(err)
				}
			}
		}
	}

	if len(now.emitted) != len(legacy.emitted) || len(now.emitted) == 0 {
		t.Fatalf("emitted %d intervals; legacy %d", len(now.emitted), len(legacy.emitted))
	}
	for i := range now.emitted {
		equalIntervals(t, now.emitted[i], legacy.emitted[i])
	}
	for idx := range uint32(intervals) {
		a, okA := now.sr.tl.At(idx)
		b, okB := legacy.sr.tl.At(idx)
		if !okA || !okB {
			t.Fatalf("interval %d: held %v; legacy %v", idx, okA, okB)
		}
		equalIntervals(t, a, b)
	}
	equalIntervals(t, now.sr.tl.Total, legacy.sr.tl.Total)
	equalExports(t, now.r.metrics, legacy.r.metrics)
}

// equalIntervals fails t unless a and b hold the same counters and
// histograms, count for count.
func equalIntervals(t *testing.T, a, b *metrics.Interval) {
	t.Helper()
	if a.Index != b.Index || a.InFlight != b.InFlight || a.CPU != b.CPU || len(a.Series) != len(b.Series) {
		t.Fatalf("interval %d: index %d, in flight %d, cpu %v; want %d, %d, %v", b.Index, a.Index, a.InFlight, a.CPU, b.Index, b.InFlight, b.CPU)
	}
	type named struct {
		name   string
		ha, hb *hdrhistogram.Histogram
	}
	hs := []named{{"send lag", a.SendLag, b.SendLag}, {"on-wire lag", a.OnWireLag, b.OnWireLag}}
	for i := range a.Series {
		if a.Series[i].Counters != b.Series[i].Counters {
			t.Fatalf("interval %d request %d: %+v; want %+v", b.Index, i, a.Series[i].Counters, b.Series[i].Counters)
		}
		sa, sb := a.Series[i], b.Series[i]
		hs = append(hs, named{"response", sa.Response, sb.Response}, named{"service", sa.Service, sb.Service}, named{"ttfb", sa.TTFB, sb.TTFB})
	}
	for _, h := range hs {
		ca, cb := h.ha.Export().Counts, h.hb.Export().Counts
		if h.ha.TotalCount() != h.hb.TotalCount() || !slices.Equal(ca, cb) {
			t.Fatalf("interval %d: %s histograms differ (%d and %d values)", b.Index, h.name, h.ha.TotalCount(), h.hb.TotalCount())
		}
	}
}

// equalExports fails t unless a and b export the same metrics: every
// value equal, but a histogram's sum within a relative 1e-12.
func equalExports(t *testing.T, a, b *livemetrics.Exporter) {
	t.Helper()
	gather := func(e *livemetrics.Exporter) []*dto.MetricFamily {
		reg := prometheus.NewRegistry()
		reg.MustRegister(e)
		fams, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		return fams
	}
	fa, fb := gather(a), gather(b)
	if len(fa) != len(fb) {
		t.Fatalf("%d metric families; want %d", len(fa), len(fb))
	}
	for i := range fa {
		ma, mb := fa[i].GetMetric(), fb[i].GetMetric()
		if len(ma) != len(mb) {
			t.Fatalf("%s: %d metrics; want %d", fa[i].GetName(), len(ma), len(mb))
		}
		for k := range ma {
			if ha, hb := ma[k].GetHistogram(), mb[k].GetHistogram(); ha != nil && hb != nil {
				if sa, sb := ha.GetSampleSum(), hb.GetSampleSum(); math.Abs(sa-sb) > 1e-12*math.Abs(sb) {
					t.Errorf("%s: sum %v; want %v", fa[i].GetName(), sa, sb)
				}
				ha.SampleSum, hb.SampleSum = nil, nil
			}
			if !proto.Equal(ma[k], mb[k]) {
				t.Errorf("%s: %v; want %v", fa[i].GetName(), ma[k], mb[k])
			}
		}
	}
}
