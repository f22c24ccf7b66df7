package coordinator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"google.golang.org/protobuf/proto"

	"github.com/surgeload/surge/internal/livemetrics"
	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/internal/wire"
	surgev1 "github.com/surgeload/surge/proto/gen/surge/v1"
)

// Realistic agent snapshots for BenchmarkMerge: 8 request names at
// 1,000 requests/s each, one 1 s interval per agent, recorded by the
// agent's own code (metrics.Recorder) and encoded as the agent sends them
// (wire.SnapshotToProto, then proto.Marshal of the SessionResponse).
const (
	benchRequests = 8
	benchRate     = 1000 // requests/s per request name
)

// benchMedians are the requests' median times to first byte: a service
// with fast reads, slower writes and one slow report.
var benchMedians = [benchRequests]time.Duration{
	1500 * time.Microsecond, 2 * time.Millisecond, 3 * time.Millisecond, 4 * time.Millisecond,
	5 * time.Millisecond, 8 * time.Millisecond, 12 * time.Millisecond, 25 * time.Millisecond,
}

func benchNames() []string {
	names := make([]string, benchRequests)
	for i := range names {
		names[i] = fmt.Sprintf("req-%d", i)
	}
	return names
}

// lognormal draws a duration of median m and log-spread sigma, with a
// tail: 1% of the draws are 3 to 20 times longer (a GC pause, a lock, a
// retransmit).
func lognormal(rng *rand.Rand, m time.Duration, sigma float64) time.Duration {
	d := float64(m) * math.Exp(sigma*rng.NormFloat64())
	if rng.Float64() < 0.01 {
		d *= 3 + 17*rng.Float64()
	}
	return time.Duration(d)
}

// recordAgent records one agent's interval into r's current interval as
// the engine does: every arrival issued with its send lag, then finished
// with its response time, service time, on-wire lag and time to first
// byte, a few failed.
func recordAgent(r *metrics.Recorder, idx uint32, rng *rand.Rand) {
	for req := range benchRequests {
		for range benchRate {
			lag := lognormal(rng, 40*time.Microsecond, 0.8)
			r.Issued(idx, req, lag)
			onWire := lag
			if rng.Float64() < 0.02 { // waited for a pooled connection
				onWire += time.Duration(rng.Int64N(int64(2 * time.Millisecond)))
			}
			ttfb := lognormal(rng, benchMedians[req], 0.5)
			service := ttfb + lognormal(rng, 60*time.Microsecond, 0.5)
			res := metrics.Result{Request: req, Outcome: metrics.OK, Response: onWire + service, Service: service,
				OnWire: onWire, HasOnWire: true, TTFB: ttfb, HasTTFB: true, BytesIn: 512 + rng.Int64N(1536)}
			switch p := rng.Float64(); {
			case p < 0.001:
				res.Outcome, res.HasTTFB = metrics.Timeout, false
			case p < 0.006:
				res.Outcome = metrics.HTTP5xx
			}
			r.Finished(idx, res)
		}
	}
}

// benchAgents are the encoded snapshots of up to benchMaxAgents agents:
// now, the agent's encoding (wire.SnapshotToProto); legacy, the
// encoding of protocol version 3 (legacySnapshotToProto).
type benchAgents struct {
	now, legacy [][]byte
}

const benchMaxAgents = 1000

var (
	benchOnce sync.Once
	benchData benchAgents
	benchErr  error
)

func benchSnapshots(b *testing.B) benchAgents {
	benchOnce.Do(func() {
		g := metrics.DefaultGeometry()
		r := metrics.NewRecorder(g, benchRequests)
		for a := range benchMaxAgents {
			rng := rand.New(rand.NewPCG(uint64(a), 16))
			recordAgent(r, uint32(a), rng)
			iv := r.Rotate()
			for _, enc := range []struct {
				to  func(uint64, uint32, *metrics.Interval) (*surgev1.Snapshot, error)
				out *[][]byte
			}{{wire.SnapshotToProto, &benchData.now}, {legacySnapshotToProto, &benchData.legacy}} {
				m, err := enc.to(1, 0, iv)
				if err != nil {
					benchErr = err
					return
				}
				raw, err := proto.Marshal(&surgev1.SessionResponse{Seq: uint64(a + 1), Msg: &surgev1.SessionResponse_Snapshot{Snapshot: m}})
				if err != nil {
					benchErr = err
					return
				}
				*enc.out = append(*enc.out, raw)
			}
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchData
}

// cpuTime is the CPU time (user + system) this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMerge is the coordinator's cost of one 1 s interval of n
// agents: each agent's snapshot unmarshalled from its bytes (as gRPC
// does), decoded and merged into the stage's timeline and the live
// metrics (run.merge), then the interval packLag behind packed, as the
// stage loop does once per interval. ms/interval is the process's CPU
// time per interval (GC included); the target is < 100 ms for 1,000
// agents. path=legacy is protocol version 3's path (base64 V2-compressed
// histograms, each decoded by hdrhistogram-go and merged), kept here as
// the "before" of the same invocation (its per-interval pack is the
// timeline's of today, a little faster than then); path=now is the
// coordinator's.
// path=floor is a yardstick for this machine, whatever else runs on it:
// each snapshot unmarshalled and every byte of its histograms read once,
// the least any merge does (path=now's bytes).
func BenchmarkMerge(b *testing.B) {
	for _, path := range []string{"legacy", "now", "floor"} {
		for _, n := range []int{10, 100, 1000} {
			b.Run(fmt.Sprintf("path=%s/agents=%d", path, n), func(b *testing.B) {
				data := benchSnapshots(b)
				msgs := data.now[:n]
				if path == "legacy" {
					msgs = data.legacy[:n]
				}
				benchMergeIntervals(b, path, msgs)
			})
		}
	}
}

func benchMergeIntervals(b *testing.B, path string, msgs [][]byte) {
	names := benchNames()
	g := metrics.DefaultGeometry()
	r := &run{metrics: livemetrics.New()}
	sr := &stageRun{name: "bench", stage: "bench", tl: metrics.NewTimeline(g, names, time.Second)}
	var bytes int
	for _, m := range msgs {
		bytes += len(m)
	}
	b.ReportAllocs()
	b.SetBytes(int64(bytes))
	var interval uint32
	cpu0 := cpuTime()
	for b.Loop() {
		for _, raw := range msgs {
			var m surgev1.SessionResponse
			if err := proto.Unmarshal(raw, &m); err != nil {
				b.Fatal(err)
			}
			s := m.GetSnapshot()
			s.Interval = interval
			var err error
			switch path {
			case "legacy":
				err = legacyMerge(r, sr, s)
			case "now":
				err = benchMerge(r, sr, s)
			default:
				floorSink += readBytes(s)
				continue
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if interval >= packLag {
			if err := sr.tl.Pack(interval - packLag); err != nil {
				b.Fatal(err)
			}
		}
		interval++
	}
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(interval), "ms/interval")
	b.ReportMetric(float64(bytes)/float64(len(msgs)), "bytes/snapshot")
	if want := uint64(len(msgs) * benchRequests * benchRate * int(interval)); path != "floor" && sr.tl.Total.Totals().Issued != want {
		b.Fatalf("merged %d issued; want %d", sr.tl.Total.Totals().Issued, want)
	}
}

var floorSink uint64

// readBytes reads every byte of s's histograms once.
func readBytes(s *surgev1.Snapshot) uint64 {
	var sum uint64
	add := func(b []byte) {
		for _, c := range b {
			sum += uint64(c)
		}
	}
	add(s.GetSendLag())
	add(s.GetOnWireLag())
	for _, ps := range s.GetSeries() {
		add(ps.GetResponseTime())
		add(ps.GetServiceTime())
		add(ps.GetTtfb())
	}
	return sum
}

// benchMerge is the coordinator's path for one snapshot (the Snapshot
// case of run.handle).
func benchMerge(r *run, sr *stageRun, s *surgev1.Snapshot) error {
	_, err := r.mergeSnapshot(sr, s)
	return err
}

// legacyMerge is protocol version 3's path for one snapshot: every
// histogram decoded by hdrhistogram-go into a new histogram, merged into
// the timeline, and observed by the live metrics.
func legacyMerge(r *run, sr *stageRun, s *surgev1.Snapshot) error {
	iv, err := legacySnapshotFromProto(s, sr.tl.Geometry, len(sr.tl.Names))
	if err != nil {
		return err
	}
	if err := sr.tl.Add(iv); err != nil {
		return err
	}
	r.metrics.Observe(sr.stage, sr.tl.Names, iv)
	return nil
}

// legacyEncode is protocol version 3's encoding of a histogram:
// hdrhistogram-go's V2 compressed base64 (metrics.EncodeHistogram writes
// the same bytes, faster, since).
func legacyEncode(h *hdrhistogram.Histogram) ([]byte, error) {
	return h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
}

// legacySnapshotToProto is protocol version 3's SnapshotToProto: every
// histogram HdrHistogram V2 compressed, base64, by hdrhistogram-go.
func legacySnapshotToProto(epoch uint64, stage uint32, iv *metrics.Interval) (*surgev1.Snapshot, error) {
	m := &surgev1.Snapshot{Epoch: epoch, StageIndex: stage, Interval: iv.Index, InFlight: iv.InFlight, CpuNanos: int64(iv.CPU)}
	var err error
	if m.SendLag, err = legacyEncode(iv.SendLag); err != nil {
		return nil, err
	}
	if m.OnWireLag, err = legacyEncode(iv.OnWireLag); err != nil {
		return nil, err
	}
	for k, s := range iv.Series {
		ps := &surgev1.Series{RequestIndex: uint32(k), Counters: wire.CountersToProto(s.Counters)}
		if ps.ResponseTime, err = legacyEncode(s.Response); err != nil {
			return nil, err
		}
		if ps.ServiceTime, err = legacyEncode(s.Service); err != nil {
			return nil, err
		}
		if ps.Ttfb, err = legacyEncode(s.TTFB); err != nil {
			return nil, err
		}
		m.Series = append(m.Series, ps)
	}
	return m, nil
}

// legacySnapshotFromProto is protocol version 3's SnapshotFromProto,
// its checks included.
func legacySnapshotFromProto(m *surgev1.Snapshot, g metrics.Geometry, nRequests int) (*metrics.Interval, error) {
	if len(m.GetSeries()) != nRequests {
		return nil, fmt.Errorf("snapshot has %d series, want %d", len(m.GetSeries()), nRequests)
	}
	iv := &metrics.Interval{Index: m.GetInterval(), InFlight: m.GetInFlight(), CPU: time.Duration(m.GetCpuNanos()),
		Series: make([]metrics.Series, nRequests)}
	var err error
	if iv.SendLag, err = metrics.DecodeHistogram(m.GetSendLag(), g); err != nil {
		return nil, err
	}
	if iv.OnWireLag, err = metrics.DecodeHistogram(m.GetOnWireLag(), g); err != nil {
		return nil, err
	}
	seen := make([]bool, nRequests)
	for _, ps := range m.GetSeries() {
		k := int(ps.GetRequestIndex())
		if k >= nRequests || seen[k] {
			return nil, fmt.Errorf("series for request %d is out of range or repeated", k)
		}
		seen[k] = true
		s := &iv.Series[k]
		if s.Counters, err = wire.CountersFromProto(ps.GetCounters()); err != nil {
			return nil, err
		}
		if s.Response, err = metrics.DecodeHistogram(ps.GetResponseTime(), g); err != nil {
			return nil, err
		}
		if s.Service, err = metrics.DecodeHistogram(ps.GetServiceTime(), g); err != nil {
			return nil, err
		}
		if s.TTFB, err = metrics.DecodeHistogram(ps.GetTtfb(), g); err != nil {
			return nil, err
		}
		if n := uint64(s.Response.TotalCount()); n != s.Completed() {
			return nil, fmt.Errorf("request %d: %d response times for %d completions", k, n, s.Completed())
		}
	}
	return iv, nil
}

// BenchmarkAgentEncode is an agent's cost per interval of what
// BenchmarkMerge decodes: one realistic interval (8 requests at 1,000/s)
// encoded and marshalled, in protocol version 3's encoding (legacy) and
// the agent's (now).
func BenchmarkAgentEncode(b *testing.B) {
	r := metrics.NewRecorder(metrics.DefaultGeometry(), benchRequests)
	recordAgent(r, 0, rand.New(rand.NewPCG(1, 16)))
	iv := r.Rotate()
	for _, path := range []string{"legacy", "now"} {
		enc := wire.SnapshotToProto
		if path == "legacy" {
			enc = legacySnapshotToProto
		}
		b.Run("path="+path, func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				m, err := enc(1, 0, iv)
				if err != nil {
					b.Fatal(err)
				}
				raw, err := proto.Marshal(m)
				if err != nil {
					b.Fatal(err)
				}
				size = len(raw)
			}
			b.ReportMetric(float64(size), "bytes/snapshot")
		})
	}
}
