package metrics

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// realisticInterval records one agent's interval of n requests at rate
// requests each through a Recorder: lognormal response times around a
// few ms with a 1% tail, send lags of tens of µs, a few failures.
func realisticInterval(rng *rand.Rand, g Geometry, n, rate int) *Interval {
	logn := func(m time.Duration, sigma float64) time.Duration {
		d := float64(m) * math.Exp(sigma*rng.NormFloat64())
		if rng.Float64() < 0.01 {
			d *= 3 + 17*rng.Float64()
		}
		return time.Duration(d)
	}
	r := NewRecorder(g, n)
	for req := range n {
		median := time.Duration(1+rng.IntN(20)) * time.Millisecond
		for range rate {
			lag := logn(40*time.Microsecond, 0.8)
			r.Issued(0, req, lag)
			ttfb := logn(median, 0.5)
			service := ttfb + logn(60*time.Microsecond, 0.5)
			res := Result{Request: req, Response: lag + service, Service: service, OnWire: lag, HasOnWire: true, TTFB: ttfb, HasTTFB: true}
			if rng.Float64() < 0.01 {
				res.Outcome, res.HasTTFB = Timeout, false
			}
			r.Finished(0, res)
		}
	}
	return r.Rotate()
}

// histograms lists every histogram of iv.
func histograms(iv *Interval) []*hdrhistogram.Histogram {
	hs := []*hdrhistogram.Histogram{iv.SendLag, iv.OnWireLag}
	for _, s := range iv.Series {
		hs = append(hs, s.Response, s.Service, s.TTFB)
	}
	return hs
}

// randomHistogram records up to n values of a random shape into a new
// histogram of geometry g: clustered, spread over the whole range, or
// with large counts in few buckets.
func randomHistogram(rng *rand.Rand, g Geometry, n int) *hdrhistogram.Histogram {
	h := g.New()
	shape := rng.IntN(3)
	for range rng.IntN(n + 1) {
		var v int64
		switch shape {
		case 0:
			v = int64(float64(g.Lowest) * 1000 * math.Exp(rng.NormFloat64()))
		case 1:
			v = rng.Int64N(g.Highest + 1)
		default:
			v = g.Lowest * int64(rng.IntN(4))
		}
		_ = h.RecordValues(min(max(v, 0), g.Highest), 1+int64(rng.IntN(3))*int64(rng.IntN(100)))
	}
	return h
}

// TestDenseView: the fast path into hdrhistogram-go's counts is available
// with the pinned version. If a new version moved its fields, the code is
// still exact (through RecordValues) but about ten times slower to merge:
// this test says so.
func TestDenseView(t *testing.T) {
	if !dense.ok {
		t.Fatal("hdrhistogram-go's counts and totalCount fields were not found: merges take the slow path")
	}
}

// TestLayout: the bucket arithmetic gives every flat index the value
// range hdrhistogram-go's Distribution shows for it, for geometries
// across the accepted range.
func TestLayout(t *testing.T) {
	for _, g := range []Geometry{DefaultGeometry(), {Lowest: 1, Highest: 1000, SigFigs: 1}, {Lowest: 3, Highest: 1e7, SigFigs: 2},
		{Lowest: 1, Highest: int64(time.Second), SigFigs: 4}, {Lowest: 1000, Highest: 2000, SigFigs: 5}, {Lowest: 1 << 20, Highest: int64(24 * time.Hour), SigFigs: 3}} {
		l, err := layoutOf(g)
		if err != nil {
			t.Fatalf("layoutOf(%+v): %v", g, err)
		}
		ones := g.New().Export()
		for i := range ones.Counts {
			ones.Counts[i] = 1
		}
		bars := hdrhistogram.Import(ones).Distribution()
		if len(bars) != l.countsLen {
			t.Fatalf("%+v: %d bars; layout has %d buckets", g, len(bars), l.countsLen)
		}
		for i, b := range bars {
			if lo, hi := l.lowest(i), l.highest(i); lo != b.From || hi != b.To {
				t.Fatalf("%+v: bucket %d is %d..%d; hdrhistogram-go says %d..%d", g, i, lo, hi, b.From, b.To)
			}
		}
	}
}

// TestSparseMergeIsExact: N random histograms merged through the sparse
// encoding (AppendSparse, DecodeSparse, AddTo) give exactly, count for
// count, what hdrhistogram-go's Decode and Merge of their V2 encodings
// give.
func TestSparseMergeIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, g := range []Geometry{DefaultGeometry(), {Lowest: 1, Highest: 1e6, SigFigs: 2}, {Lowest: 10, Highest: int64(time.Minute), SigFigs: 5}} {
		want, got := g.New(), g.New()
		var s Sparse
		for k := range 60 {
			h := randomHistogram(rng, g, 3000)
			if k == 0 {
				h = realisticInterval(rng, DefaultGeometry(), 1, 1000).Series[0].Response
				if g != DefaultGeometry() {
					h = g.New()
				}
			}
			v2, err := EncodeHistogram(h)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := hdrhistogram.Decode(v2)
			if err != nil {
				t.Fatal(err)
			}
			if dropped := want.Merge(ref); dropped != 0 {
				t.Fatalf("reference merge dropped %d", dropped)
			}
			b, err := AppendSparse([]byte("prefix"), h)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(b), "prefix") {
				t.Fatal("AppendSparse lost what it appended to")
			}
			if err := DecodeSparse(b[len("prefix"):], g, &s); err != nil {
				t.Fatalf("%+v: DecodeSparse: %v", g, err)
			}
			if s.Total != h.TotalCount() {
				t.Fatalf("decoded total %d; want %d", s.Total, h.TotalCount())
			}
			if err := s.AddTo(got); err != nil {
				t.Fatal(err)
			}
		}
		if !got.Equals(want) || !slices.Equal(got.Export().Counts, want.Export().Counts) {
			t.Errorf("%+v: sparse merge differs from hdrhistogram-go's Decode+Merge", g)
		}
	}
}

// TestSparseValueAtPercentile: a sparse histogram's percentiles are its
// histogram's (ValueAtPercentile), edge cases included; its bars are
// Distribution's non-empty ones.
func TestSparseValueAtPercentile(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	g := DefaultGeometry()
	for range 40 {
		h := randomHistogram(rng, g, 500)
		b, err := AppendSparse(nil, h)
		if err != nil {
			t.Fatal(err)
		}
		var s Sparse
		if err := DecodeSparse(b, g, &s); err != nil {
			t.Fatal(err)
		}
		for _, p := range []float64{0, 1e-9, 1, 25, 50, 90, 99, 99.9, 99.99, 100, 101, -1, math.NaN()} {
			if got, want := s.Percentile(p), ValueAtPercentile(h, p); got != want {
				t.Errorf("p%v of %d values: sparse %d; histogram %d", p, h.TotalCount(), got, want)
			}
		}
		bars := h.Distribution()
		k := 0
		for _, bar := range bars {
			if bar.Count == 0 {
				continue
			}
			if got := s.Bar(k); got != bar {
				t.Fatalf("bar %d = %+v; Distribution has %+v", k, got, bar)
			}
			k++
		}
		if k != s.Len() {
			t.Fatalf("%d non-empty bars; sparse has %d", k, s.Len())
		}
	}
}

// TestSparseIntervalMatchesMerge: an interval added in sparse form
// (Interval.AddSparse, Timeline.AddSparse) gives what Merge of the
// interval gives.
func TestSparseIntervalMatchesMerge(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	g := DefaultGeometry()
	names := []string{"a", "b", "c"}
	want, got := NewTimeline(g, names, time.Second), NewTimeline(g, names, time.Second)
	var d SparseInterval
	for k := range 6 {
		iv := realisticInterval(rng, g, len(names), 200)
		iv.Index, iv.InFlight, iv.CPU = uint32(k%2), uint64(k), time.Duration(k)
		if err := want.Add(iv); err != nil {
			t.Fatal(err)
		}
		d.Reset(len(names))
		d.Index, d.InFlight, d.CPU = iv.Index, iv.InFlight, iv.CPU
		hs := histograms(iv)
		ss := []*Sparse{&d.SendLag, &d.OnWireLag}
		for i := range d.Series {
			d.Series[i].Counters = iv.Series[i].Counters
			ss = append(ss, &d.Series[i].Response, &d.Series[i].Service, &d.Series[i].TTFB)
		}
		for i, h := range hs {
			b, err := AppendSparse(nil, h)
			if err != nil {
				t.Fatal(err)
			}
			if err := DecodeSparse(b, g, ss[i]); err != nil {
				t.Fatal(err)
			}
		}
		if d.Totals() != iv.Totals() {
			t.Fatalf("totals %+v; want %+v", d.Totals(), iv.Totals())
		}
		if err := got.AddSparse(&d); err != nil {
			t.Fatal(err)
		}
	}
	for _, idx := range []uint32{0, 1} {
		w, _ := want.At(idx)
		gt, _ := got.At(idx)
		equalIntervals(t, gt, w)
	}
	equalIntervals(t, got.Total, want.Total)
	if err := got.AddSparse(&SparseInterval{Series: make([]SparseSeries, 2)}); err == nil {
		t.Error("AddSparse of 2 series into 3: no error")
	}
}

// equalIntervals fails t unless got and want hold the same counters and
// histograms, count for count.
func equalIntervals(t *testing.T, got, want *Interval) {
	t.Helper()
	if got.Index != want.Index || got.InFlight != want.InFlight || got.CPU != want.CPU || got.Totals() != want.Totals() {
		t.Fatalf("interval %d: got index %d, in flight %d, cpu %v, %+v; want %d, %d, %v, %+v", want.Index, got.Index, got.InFlight, got.CPU, got.Totals(),
			want.Index, want.InFlight, want.CPU, want.Totals())
	}
	gh, wh := histograms(got), histograms(want)
	for i := range gh {
		if !gh[i].Equals(wh[i]) {
			t.Fatalf("interval %d: histogram %d differs", want.Index, i)
		}
	}
	for i := range got.Series {
		if got.Series[i].Counters != want.Series[i].Counters {
			t.Fatalf("interval %d series %d: %+v; want %+v", want.Index, i, got.Series[i].Counters, want.Series[i].Counters)
		}
	}
}

// sparseBytes builds a sparse encoding by hand: a header and raw tokens.
func sparseBytes(g Geometry, n, total uint64, tokens ...byte) []byte {
	b := []byte{sparseTag, sparseVersion}
	for _, v := range []uint64{uint64(g.SigFigs), uint64(g.Lowest), uint64(g.Highest), n, total} {
		b = binary.AppendUvarint(b, v)
	}
	return append(b, tokens...)
}

func TestDecodeSparseRejects(t *testing.T) {
	g := DefaultGeometry()
	l, _ := layoutOf(g)
	past := binary.AppendUvarint([]byte{0xf1}, uint64(l.countsLen)) // a gap past the end
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "not a sparse histogram"},
		{"V2 compressed", []byte("HISTFAAAAB54nJNpmSzMwMDAxQABzFCaEUzOmQVhAwAvBQIu"), "not a sparse histogram"},
		{"other version", []byte{sparseTag, 2, 3}, "not a sparse histogram"},
		{"header cut", []byte{sparseTag, sparseVersion, 3, 0xe8}, "lowest value"},
		{"other geometry", sparseBytes(Geometry{Lowest: 1, Highest: 1000, SigFigs: 3}, 0, 0), "geometry"},
		{"more buckets than bytes", sparseBytes(g, 3, 3, 0x01, 0x01), "3 buckets in 2 bytes"},
		{"more buckets than the geometry", sparseBytes(g, uint64(l.countsLen)+1, 1), "buckets in"},
		{"total out of range", sparseBytes(g, 0, 1<<63), "total count"},
		{"fewer buckets", sparseBytes(g, 2, 2, 0x01, 0x00), "count at byte"},
		{"missing bucket", sparseBytes(g, 2, 21, 0x00, 0x05), "1 buckets, the header announced 2"},
		{"extra bucket", sparseBytes(g, 1, 2, 0x01, 0x01), "more than the 1 buckets"},
		{"wrong total", sparseBytes(g, 1, 2, 0x01), "1 values, the header announced 2"},
		{"gap past the end", sparseBytes(g, 1, 1, past...), "past the last"},
		{"bucket past the end", sparseBytes(g, 2, 2, append(binary.AppendUvarint([]byte{0xf1}, uint64(l.countsLen-16)), 0x01)...), "past the last"},
		{"count too large", sparseBytes(g, 1, 1, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), "count out of range"},
		{"counts overflow", sparseBytes(g, 2, 1, 0x00, 0xef, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x00), "sum past"},
		{"bad uvarint", sparseBytes(g, 1, 1, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), "bad or missing count"},
		{"too long", append(sparseBytes(g, 0, 0), make([]byte, MaxEncodedHistogram)...), "more than"},
	}
	for _, tt := range tests {
		s := Sparse{Index: []int32{1}, Count: []int64{1}, Total: 1}
		err := DecodeSparse(tt.in, g, &s)
		if err == nil || !errors.Is(err, ErrHistogram) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("DecodeSparse(%s) = %v; want ErrHistogram containing %q", tt.name, err, tt.want)
		}
		if s.Len() != 0 || s.Total != 0 {
			t.Errorf("DecodeSparse(%s) left %d buckets of %d values", tt.name, s.Len(), s.Total)
		}
	}
}

// TestAppendSparseSizes: the encoding of a realistic snapshot's
// histograms is no larger than their V2 compressed base64 (the encoding
// of protocol version 3), and each bucket of a histogram of counts ≤ 15
// takes one byte when close to the previous one.
func TestAppendSparseSizes(t *testing.T) {
	iv := realisticInterval(rand.New(rand.NewPCG(1, 1)), DefaultGeometry(), 8, 1000)
	var sparse, v2 int
	for _, h := range histograms(iv) {
		b, err := AppendSparse(nil, h)
		if err != nil {
			t.Fatal(err)
		}
		e, err := EncodeHistogram(h)
		if err != nil {
			t.Fatal(err)
		}
		sparse, v2 = sparse+len(b), v2+len(e)
	}
	if sparse > v2 {
		t.Errorf("sparse encoding of a realistic snapshot: %d bytes; V2 compressed base64 %d", sparse, v2)
	}
	h := DefaultGeometry().New()
	_ = h.RecordValues(1000, 3)
	_ = h.RecordValues(1600, 15)
	b, _ := AppendSparse(nil, h)
	// 1000 ns is at index 1 (gap 1, count 3), 1600 ns at index 3 (gap 1, count 15).
	if want := sparseBytes(DefaultGeometry(), 2, 18, 0x13, 0x1f); !slices.Equal(b, want) {
		t.Errorf("AppendSparse = %x; want %x", b, want)
	}
}

func FuzzDecodeSparse(f *testing.F) {
	g := DefaultGeometry()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, h := range histograms(realisticInterval(rng, g, 1, 100)) {
		b, _ := AppendSparse(nil, h)
		f.Add(b)
	}
	b, _ := AppendSparse(nil, randomHistogram(rng, g, 100))
	f.Add(b)
	f.Add(sparseBytes(g, 1, 1, 0xf1, 0xff, 0xff, 0x03))
	f.Add(sparseBytes(g, 2, 40, 0x00, 0x05, 0xf0, 0x01, 0x07))
	f.Add([]byte{sparseTag, sparseVersion})
	f.Fuzz(func(t *testing.T, in []byte) {
		var s Sparse
		if err := DecodeSparse(in, g, &s); err != nil {
			if !errors.Is(err, ErrHistogram) {
				t.Fatalf("error %v does not wrap ErrHistogram", err)
			}
			if s.Len() != 0 || s.Total != 0 {
				t.Fatalf("a refused input left %d buckets", s.Len())
			}
			return
		}
		// Bounded: at most one bucket per input byte.
		if cap(s.Index) > len(in) || cap(s.Count) > len(in) {
			t.Fatalf("%d bytes decoded into %d buckets of capacity", len(in), cap(s.Index))
		}
		// Accepted: ascending buckets of positive counts, summing to Total,
		// that add into a histogram and encode back to the same buckets.
		var sum int64
		for i, idx := range s.Index {
			if s.Count[i] <= 0 || (i > 0 && idx <= s.Index[i-1]) {
				t.Fatalf("bucket %d: index %d count %d", i, idx, s.Count[i])
			}
			sum += s.Count[i]
		}
		if sum != s.Total {
			t.Fatalf("counts sum to %d; Total %d", sum, s.Total)
		}
		h, err := s.Histogram(g)
		if err != nil {
			t.Fatalf("an accepted histogram does not add: %v", err)
		}
		if h.TotalCount() != s.Total {
			t.Fatalf("added %d values; Total %d", h.TotalCount(), s.Total)
		}
		again, err := AppendSparse(nil, h)
		if err != nil {
			t.Fatal(err)
		}
		var s2 Sparse
		if err := DecodeSparse(again, g, &s2); err != nil || !slices.Equal(s.Index, s2.Index) || !slices.Equal(s.Count, s2.Count) {
			t.Fatalf("re-encoded histogram decodes differently: %v", err)
		}
	})
}

// BenchmarkSparse is the coordinator's cost per realistic agent snapshot
// (8 requests at 1,000/s) of each step: decode its 26 histograms, add
// them into two merged intervals (the stage's interval and its total);
// and the agent's cost to encode them.
func BenchmarkSparse(b *testing.B) {
	g := DefaultGeometry()
	iv := realisticInterval(rand.New(rand.NewPCG(1, 1)), g, 8, 1000)
	hs := histograms(iv)
	enc := make([][]byte, len(hs))
	for i, h := range hs {
		enc[i], _ = AppendSparse(nil, h)
	}
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf = buf[:0]
			for _, h := range hs {
				buf, _ = AppendSparse(buf, h)
			}
		}
		b.ReportMetric(float64(len(buf)), "bytes/snapshot")
	})
	ss := make([]Sparse, len(hs))
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for i := range enc {
				if err := DecodeSparse(enc[i], g, &ss[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	live, total := histograms(NewInterval(g, 8)), histograms(NewInterval(g, 8))
	b.Run("add", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for i := range ss {
				if err := ss[i].AddTo(live[i]); err != nil {
					b.Fatal(err)
				}
				if err := ss[i].AddTo(total[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// TestEncodeHistogramIsLibrarys: EncodeHistogram writes exactly the bytes
// of hdrhistogram-go's Encode, for empty histograms, every shape, counts
// needing all nine bytes of a ZigZag LEB128, and other geometries.
func TestEncodeHistogramIsLibrarys(t *testing.T) {
	if !dense.ok || !dense.ratioOK {
		t.Fatal("the fast V2 encoder is not available")
	}
	rng := rand.New(rand.NewPCG(9, 10))
	var hs []*hdrhistogram.Histogram
	for _, g := range []Geometry{DefaultGeometry(), {Lowest: 1, Highest: 1000, SigFigs: 1}, {Lowest: 7, Highest: 1e9, SigFigs: 4}} {
		hs = append(hs, g.New())
		for range 20 {
			hs = append(hs, randomHistogram(rng, g, 2000))
		}
		one := g.New()
		_ = one.RecordValue(g.Highest)
		huge := g.New()
		_ = huge.RecordValues(g.Lowest, 1<<61)
		_ = huge.RecordValues(g.Highest/2, 1<<56)
		hs = append(hs, one, huge)
	}
	hs = append(hs, histograms(realisticInterval(rng, DefaultGeometry(), 2, 1000))...)
	for i, h := range hs {
		want, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			t.Fatal(err)
		}
		got, err := EncodeHistogram(h)
		if err != nil || string(got) != string(want) {
			t.Fatalf("histogram %d (%d values): EncodeHistogram = %.40s…, %v; hdrhistogram-go %.40s…", i, h.TotalCount(), got, err, want)
		}
	}
}

// TestCoarsen: counts by coarse limits and the sum of bucket middles are
// what a walk of the histogram's Distribution gives.
func TestCoarsen(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	g := DefaultGeometry()
	for k, limits := range [][]int64{nil, {5e5, 1e6, 2.5e6, 1e7, 1e9}, {0}, {int64(time.Hour)}, {1, 2, 3, 1e12}} {
		for range 10 {
			h := randomHistogram(rng, g, 3000)
			var s Sparse
			if err := s.Set(h); err != nil {
				t.Fatal(err)
			}
			got, want := make([]uint64, len(limits)+1), make([]uint64, len(limits)+1)
			sum := s.Coarsen(limits, got)
			var wantSum float64
			for _, bar := range h.Distribution() {
				b := 0
				for b < len(limits) && bar.To > limits[b] {
					b++
				}
				want[b] += uint64(bar.Count)
				wantSum += float64(bar.Count) * float64(bar.From+bar.To)
			}
			if !slices.Equal(got, want) || math.Abs(sum-wantSum) > 1e-12*wantSum {
				t.Fatalf("limits %d: Coarsen = %v, %v; want %v, %v", k, got, sum, want, wantSum)
			}
		}
	}
}
