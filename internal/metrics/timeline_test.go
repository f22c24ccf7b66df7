package metrics

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

func snapshot(t *testing.T, index uint32, intended uint64, lat time.Duration) *Interval {
	t.Helper()
	iv := NewInterval(DefaultGeometry(), 2)
	iv.Index = index
	s := &iv.Series[0]
	s.Intended, s.Issued, s.Succeeded = intended, intended, intended
	for range intended {
		if err := s.Response.RecordValue(int64(lat)); err != nil {
			t.Fatal(err)
		}
	}
	return iv
}

// TestTimeline: snapshots of several agents merge by interval and into
// the total; ranges merge intervals; absorbing places intervals at an
// offset; a hostile index or a snapshot of another shape is refused.
func TestTimeline(t *testing.T) {
	tl := NewTimeline(DefaultGeometry(), []string{"a", "b"}, time.Second)
	if _, ok := tl.Last(); ok {
		t.Error("an empty timeline has a last interval")
	}
	for _, iv := range []*Interval{snapshot(t, 0, 3, time.Millisecond), snapshot(t, 0, 2, time.Millisecond), snapshot(t, 4, 5, time.Second)} {
		if err := tl.Add(iv); err != nil {
			t.Fatal(err)
		}
	}
	if got := tl.Total.Totals().Intended; got != 10 {
		t.Errorf("total intended %d; want 10", got)
	}
	if got := mustAt(t, tl, 0).Totals().Intended; got != 5 {
		t.Errorf("interval 0 intended %d; want 5 (two agents)", got)
	}
	if last, ok := tl.Last(); !ok || last != 4 {
		t.Errorf("Last = %d, %v; want 4", last, ok)
	}
	if r := tl.Range(1, 5); r.Totals().Intended != 5 || r.Series[0].Response.Min() < int64(time.Second)*99/100 {
		t.Errorf("Range(1, 5) = %+v; want interval 4 only", r.Totals())
	}
	if r := tl.Range(0, 4); r.Totals().Intended != 5 {
		t.Errorf("Range(0, 4) intended %d; want 5", r.Totals().Intended)
	}
	if s := tl.Total.Select(-1); s.Intended != 10 || s.Response.TotalCount() != 10 {
		t.Errorf("Select(-1) = %d arrivals, %d responses; want 10, 10", s.Intended, s.Response.TotalCount())
	}
	if s := tl.Total.Select(1); s.Intended != 0 {
		t.Errorf("Select(1) = %d; want 0", s.Intended)
	}

	agg := NewTimeline(DefaultGeometry(), []string{"a", "b"}, time.Second)
	if err := agg.Add(snapshot(t, 6, 1, time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := agg.Absorb(tl, 2); err != nil {
		t.Fatal(err)
	}
	if mustAt(t, agg, 2).Totals().Intended != 5 || mustAt(t, agg, 6).Totals().Intended != 6 || mustAt(t, agg, 6).Index != 6 || agg.Total.Totals().Intended != 11 {
		t.Errorf("Absorb at 2: %d intervals; want 5 at 2, 5+1 merged at 6, 11 in all", agg.Len())
	}

	if err := tl.Add(snapshot(t, MaxIntervalIndex+1, 1, time.Millisecond)); err == nil {
		t.Error("an interval index beyond MaxIntervalIndex was accepted")
	}
	if err := tl.Add(NewInterval(DefaultGeometry(), 3)); err == nil {
		t.Error("a snapshot of 3 series was merged into 2")
	}
	if got := tl.Total.Totals().Intended; got != 10 {
		t.Errorf("refused snapshots changed the total: %d", got)
	}
}

func mustAt(t *testing.T, tl *Timeline, idx uint32) *Interval {
	t.Helper()
	iv, ok := tl.At(idx)
	if !ok {
		t.Fatalf("no interval %d", idx)
	}
	return iv
}

// TestTimelinePack: packed intervals read back the same (counts, response
// times, send lag, in flight, CPU; service times stay in the total only),
// in ranges too; a late snapshot unpacks its
// interval; absorbing moves packed intervals; and a packed interval holds
// a small fraction of a live one's memory.
func TestTimelinePack(t *testing.T) {
	tl := NewTimeline(DefaultGeometry(), []string{"a", "b"}, time.Second)
	for idx := range uint32(6) {
		iv := snapshot(t, idx, 10+uint64(idx), time.Duration(idx+1)*time.Millisecond)
		iv.InFlight, iv.CPU = uint64(idx), time.Duration(idx)*time.Millisecond
		_ = iv.SendLag.RecordValue(int64(time.Duration(idx+1) * time.Microsecond * 10))
		_ = iv.OnWireLag.RecordValue(int64(time.Duration(idx+1) * time.Microsecond * 30))
		_ = iv.Series[0].Service.RecordValue(int64(time.Duration(idx+1) * time.Microsecond * 500))
		if err := tl.Add(iv); err != nil {
			t.Fatal(err)
		}
	}
	before := map[uint32]*Interval{}
	for idx := range uint32(6) {
		iv := mustAt(t, tl, idx)
		cp := NewInterval(tl.Geometry, 2)
		_ = cp.Merge(iv)
		cp.Index = idx
		before[idx] = cp
	}
	whole := tl.Range(0, 6)
	if err := tl.Pack(4); err != nil {
		t.Fatal(err)
	}
	if len(tl.live) != 2 || len(tl.packed) != 4 || tl.Len() != 6 {
		t.Fatalf("after Pack(4): %d live, %d packed; want 2 and 4", len(tl.live), len(tl.packed))
	}
	for idx, want := range before {
		got := mustAt(t, tl, idx)
		if got.Index != idx || got.Totals() != want.Totals() || got.InFlight != want.InFlight || got.CPU != want.CPU ||
			!got.Series[0].Response.Equals(want.Series[0].Response) || !got.SendLag.Equals(want.SendLag) || !got.OnWireLag.Equals(want.OnWireLag) ||
			got.OnWireLag.TotalCount() != 1 || got.Series[1].Response.TotalCount() != 0 {
			t.Errorf("interval %d read back differs after packing", idx)
		}
		// Service times go to Emit and Total only once packed.
		if packed := idx < 4; packed != (got.Series[0].Service.TotalCount() == 0) {
			t.Errorf("interval %d (packed %v) has %d service times", idx, packed, got.Series[0].Service.TotalCount())
		}
		// The response encoding is the merged response times of every
		// request, packed or not.
		enc, err := tl.ResponseEncoding(idx)
		if err != nil {
			t.Fatal(err)
		}
		h, err := DecodeHistogram([]byte(enc), tl.Geometry)
		if err != nil || !h.Equals(want.Select(-1).Response) {
			t.Errorf("interval %d: ResponseEncoding differs from the merged response times (%v)", idx, err)
		}
	}
	if r := tl.Range(0, 6); r.Totals() != whole.Totals() || !r.Series[0].Response.Equals(whole.Series[0].Response) {
		t.Error("Range over packed intervals differs")
	}
	if last, ok := tl.Last(); !ok || last != 5 {
		t.Errorf("Last = %d, %v; want 5", last, ok)
	}
	// A late snapshot of a packed interval unpacks it and merges.
	if err := tl.Add(snapshot(t, 1, 5, time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if got := mustAt(t, tl, 1).Totals().Intended; got != 16 || len(tl.packed) != 3 {
		t.Errorf("late snapshot: interval 1 intended %d (want 16), %d packed (want 3)", got, len(tl.packed))
	}
	// Absorbing a timeline with packed intervals.
	agg := NewTimeline(DefaultGeometry(), []string{"a", "b"}, time.Second)
	if err := agg.Absorb(tl, 10); err != nil {
		t.Fatal(err)
	}
	if agg.Len() != 6 || mustAt(t, agg, 13).Totals() != before[3].Totals() || mustAt(t, agg, 13).Index != 13 {
		t.Errorf("Absorb of packed intervals: %d intervals", agg.Len())
	}
	// Memory: the encoded form of a busy interval is a small fraction of
	// its histograms' ~197 KB each.
	var size int
	for _, p := range tl.packed {
		size += p.size()
	}
	if per := size / len(tl.packed); per > 4096 {
		t.Errorf("a packed interval holds %d bytes of histograms; want a few hundred", per)
	}
}

// BenchmarkTimelinePack packs one-second intervals of a realistic shape
// (1 request name at 1k req/s, log-normal response times around 1 ms,
// send lag around 50 µs) and reports what a packed interval keeps, in
// bytes: what a long run's coordinator holds per interval per name.
func BenchmarkTimelinePack(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	tl := NewTimeline(DefaultGeometry(), []string{"get"}, time.Second)
	b.ReportAllocs()
	for i := range b.N {
		iv := NewInterval(tl.Geometry, 1)
		iv.Index = uint32(i)
		s := &iv.Series[0]
		for range 1000 {
			s.Intended++
			s.Issued++
			s.Succeeded++
			_ = s.Response.RecordValue(int64(float64(time.Millisecond) * math.Exp(rng.NormFloat64()*0.5)))
			_ = s.Service.RecordValue(int64(float64(500*time.Microsecond) * math.Exp(rng.NormFloat64()*0.5)))
			_ = iv.SendLag.RecordValue(int64(float64(50*time.Microsecond) * math.Exp(rng.NormFloat64()*0.7)))
			_ = iv.OnWireLag.RecordValue(int64(float64(80*time.Microsecond) * math.Exp(rng.NormFloat64()*0.7)))
		}
		if err := tl.Add(iv); err != nil {
			b.Fatal(err)
		}
		if err := tl.Pack(uint32(i + 1)); err != nil {
			b.Fatal(err)
		}
	}
	var size int
	for _, p := range tl.packed {
		size += p.size()
	}
	b.ReportMetric(float64(size)/float64(len(tl.packed)), "B/interval")
}

// TestTimelineEmit: Emit sees each interval once, in index order, with
// all its data (service times too) as it is packed; a snapshot of an
// interval already emitted is passed on its own as late, and merged; the
// interval is not emitted again when it is packed once more.
func TestTimelineEmit(t *testing.T) {
	tl := NewTimeline(DefaultGeometry(), []string{"a", "b"}, time.Second)
	type emitted struct {
		idx      uint32
		late     bool
		intended uint64
		service  int64
	}
	var got []emitted
	tl.Emit = func(iv *Interval, late bool) error {
		got = append(got, emitted{iv.Index, late, iv.Totals().Intended, iv.Select(-1).Service.TotalCount()})
		return nil
	}
	for _, idx := range []uint32{5, 0, 3, 1} { // out of order; 2 and 4 have no data
		iv := snapshot(t, idx, 10, time.Millisecond)
		_ = iv.Series[0].Service.RecordValue(int64(time.Millisecond))
		if err := tl.Add(iv); err != nil {
			t.Fatal(err)
		}
	}
	if err := tl.Pack(4); err != nil {
		t.Fatal(err)
	}
	late := snapshot(t, 1, 7, time.Millisecond)
	if err := tl.Add(late); err != nil {
		t.Fatal(err)
	}
	if err := tl.Pack(6); err != nil {
		t.Fatal(err)
	}
	want := []emitted{{0, false, 10, 1}, {1, false, 10, 1}, {3, false, 10, 1}, {1, true, 7, 0}, {5, false, 10, 1}}
	if !slices.Equal(got, want) {
		t.Errorf("emitted %+v; want %+v", got, want)
	}
	if n := mustAt(t, tl, 1).Totals().Intended; n != 17 {
		t.Errorf("interval 1 after the late snapshot: intended %d; want 17", n)
	}
	// An Emit error is returned once the packing is done.
	tl.Emit = func(*Interval, bool) error { return errors.New("disk full") }
	if err := tl.Add(snapshot(t, 9, 1, time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := tl.Pack(10); err == nil || tl.Len() != 5 || len(tl.live) != 0 {
		t.Errorf("Pack with a failing Emit: %v, %d intervals, %d live; want the error, 5 packed", err, tl.Len(), len(tl.live))
	}
}

// TestCounterWords: Counters is made of uint64 words only (packCounters
// relies on it), and packing round-trips every word.
func TestCounterWords(t *testing.T) {
	var check func(rt reflect.Type)
	check = func(rt reflect.Type) {
		switch rt.Kind() {
		case reflect.Uint64:
		case reflect.Array:
			check(rt.Elem())
		case reflect.Struct:
			for f := range rt.Fields() {
				check(f.Type)
			}
		default:
			t.Fatalf("Counters holds a %v: packCounters reads it as uint64 words", rt)
		}
	}
	check(reflect.TypeFor[Counters]())
	iv := NewInterval(DefaultGeometry(), 2)
	for i := range iv.Series {
		ws := counterWords(&iv.Series[i].Counters)
		for k := range ws {
			ws[k] = uint64(k*1000+i) << (k % 50)
		}
	}
	back := NewInterval(DefaultGeometry(), 2)
	if err := unpackCounters(packCounters(nil, iv), back); err != nil {
		t.Fatal(err)
	}
	for i := range iv.Series {
		if back.Series[i].Counters != iv.Series[i].Counters {
			t.Errorf("series %d: %+v read back as %+v", i, iv.Series[i].Counters, back.Series[i].Counters)
		}
	}
	if err := unpackCounters(packCounters(nil, iv)[:10], back); err == nil {
		t.Error("cut-short counters read without an error")
	}
}
