package metrics

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMergeIsExact pins the property the reports rely on: values spread over
// several agents' histograms and merged give exactly the histogram of all
// values, so every percentile is identical.
func TestMergeIsExact(t *testing.T) {
	g := DefaultGeometry()
	rng := rand.New(rand.NewPCG(1, 2))
	all := g.New()
	agents := []*Interval{NewInterval(g, 1), NewInterval(g, 1), NewInterval(g, 1), NewInterval(g, 1)}
	for range 200_000 {
		// Lognormal-ish around 2 ms with a long tail up to seconds.
		d := time.Duration(float64(2*time.Millisecond) * rng.ExpFloat64() * rng.ExpFloat64())
		a := agents[rng.IntN(len(agents))]
		g.record(all, d)
		g.record(a.Series[0].Response, d)
	}
	merged := NewInterval(g, 1)
	for _, a := range agents {
		// Round-trip through the wire encoding, as snapshots travel.
		b, err := EncodeHistogram(a.Series[0].Response)
		if err != nil {
			t.Fatal(err)
		}
		h, err := DecodeHistogram(b, g)
		if err != nil {
			t.Fatal(err)
		}
		a.Series[0].Response = h
		if err := merged.Merge(a); err != nil {
			t.Fatal(err)
		}
	}
	m := merged.Series[0].Response
	for _, q := range []float64{0, 1, 50, 90, 99, 99.9, 99.99, 100} {
		if got, want := m.ValueAtQuantile(q), all.ValueAtQuantile(q); got != want {
			t.Errorf("merged p%v = %d; want %d", q, got, want)
		}
	}
	if !m.Equals(all) {
		t.Error("merged histogram is not equal to the histogram of all values")
	}
}

func TestRecorderAccounting(t *testing.T) {
	g := DefaultGeometry()
	r := NewRecorder(g, 2)
	r.Issued(0, 0, time.Millisecond)
	r.Issued(0, 1, 0)
	r.Issued(1, 1, 0) // belongs to interval 1, recorded before the rotation of 0
	r.Dropped(0, 0, InFlightCap)
	r.Finished(0, Result{Request: 0, Outcome: OK, Response: 3 * time.Millisecond, Service: 2 * time.Millisecond, BytesIn: 10})
	iv := r.Rotate()
	tot := iv.Totals()
	if err := tot.Check(); err != nil {
		t.Fatalf("interval 0 totals %+v: %v", tot, err)
	}
	if iv.Index != 0 || tot.Intended != 3 || tot.Issued != 2 || tot.Dropped != 1 || tot.Succeeded != 1 || iv.InFlight != 2 {
		t.Errorf("interval %d totals = %+v in flight %d; want interval 0: intended 3 issued 2 dropped 1 succeeded 1 in flight 2", iv.Index, tot, iv.InFlight)
	}
	if got := iv.SendLag.TotalCount(); got != 2 {
		t.Errorf("send lag count = %d; want 2", got)
	}
	r.Finished(0, Result{Request: 1, Outcome: HTTP5xx, Response: 2 * time.Hour}) // late: lands in the current interval
	r.Issued(7, 0, 0)                                                            // ahead: kept for interval 7
	r.Issued(1000, 0, 0)                                                         // beyond the open window: its last interval
	iv = r.Rotate()
	tot = iv.Totals()
	if iv.Index != 1 || tot.Intended != 1 || tot.Failed != 1 || tot.Errors[HTTP5xx] != 1 || tot.OverRange != 1 || iv.InFlight != 3 {
		t.Errorf("interval %d totals %+v in flight %d", iv.Index, tot, iv.InFlight)
	}
	if got := iv.Series[1].Response.Max(); got < g.Highest {
		t.Errorf("clamped value recorded as %d; want the ceiling %d", got, g.Highest)
	}
	for k := uint32(2); k < 7; k++ {
		if iv := r.Rotate(); iv.Index != k || iv.Totals().Intended != 0 {
			t.Errorf("interval %d (want %d) holds %d arrivals; want 0", iv.Index, k, iv.Totals().Intended)
		}
	}
	if iv := r.Rotate(); iv.Index != 7 || iv.Totals().Intended != 1 {
		t.Errorf("interval %d holds %d arrivals; want interval 7 with 1", iv.Index, iv.Totals().Intended)
	}
	r.Issued(9, 1, 0) // a later interval; folded into the last one by Close
	if left := r.Close(); left != 4 {
		t.Errorf("Close() = %d in flight; want 4", left)
	}
	if r.Finished(2, Result{Request: 1, Outcome: OK}) {
		t.Error("a result after Close was recorded")
	}
	iv = r.Rotate()
	if tot := iv.Totals(); iv.Index != 8 || tot.Intended != 2 || tot.Completed() != 0 {
		t.Errorf("last interval %d totals %+v; want interval 8 with the two later arrivals and no completion", iv.Index, tot)
	}
}

func TestCountersCheck(t *testing.T) {
	good := Counters{Intended: 3, Issued: 2, Dropped: 1, Failed: 1}
	good.DroppedBy[InFlightCap] = 1
	good.Errors[Timeout] = 1
	if err := good.Check(); err != nil {
		t.Errorf("Check(%+v) = %v", good, err)
	}
	bad := good
	bad.Issued = 5
	bad.Errors[Timeout] = 0
	err := bad.Check()
	if !errors.Is(err, ErrUnbalanced) || !strings.Contains(err.Error(), "intended 3 != issued 5 + dropped 1") ||
		!strings.Contains(err.Error(), "failed 1 != sum of errors 0") {
		t.Errorf("Check(%+v) = %v; want both imbalances", bad, err)
	}
}

func TestOutcomeNames(t *testing.T) {
	for o := range NumOutcomes {
		got, ok := ParseOutcome(o.String())
		if !ok || got != o {
			t.Errorf("ParseOutcome(%q) = %v, %v", o.String(), got, ok)
		}
	}
	for c := range NumDropCauses {
		got, ok := ParseDropCause(c.String())
		if !ok || got != c {
			t.Errorf("ParseDropCause(%q) = %v, %v", c.String(), got, ok)
		}
	}
	if _, ok := ParseOutcome("teapot"); ok {
		t.Error("ParseOutcome accepted an unknown class")
	}
}

func TestDecodeHistogramRejects(t *testing.T) {
	g := DefaultGeometry()
	other := Geometry{Lowest: 1, Highest: int64(time.Minute), SigFigs: 2}
	foreign, _ := EncodeHistogram(other.New())
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"garbage", []byte("garbage!"), "decode"},
		{"geometry", foreign, "geometry 1..60000000000/2"},
		{"huge", make([]byte, MaxEncodedHistogram+1), "more than"},
	}
	for _, tt := range tests {
		_, err := DecodeHistogram(tt.in, g)
		if !errors.Is(err, ErrHistogram) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("DecodeHistogram(%s) = %v; want error containing %q", tt.name, err, tt.want)
		}
	}
}

func TestGeometryValidate(t *testing.T) {
	if err := DefaultGeometry().Validate(); err != nil {
		t.Fatalf("default geometry: %v", err)
	}
	for _, g := range []Geometry{{0, 10, 3}, {10, 15, 3}, {1, int64(25 * time.Hour), 3}, {1, 1000, 0}, {1, 1000, 6}} {
		if err := g.Validate(); !errors.Is(err, ErrHistogram) {
			t.Errorf("%+v.Validate() = %v; want ErrHistogram", g, err)
		}
	}
}

func FuzzDecodeHistogram(f *testing.F) {
	g := DefaultGeometry()
	h := g.New()
	for _, v := range []int64{1000, 5000, 1e6, 3e9} {
		_ = h.RecordValue(v)
	}
	b, _ := EncodeHistogram(h)
	f.Add(b)
	e, _ := EncodeHistogram(g.New())
	f.Add(e)
	f.Add([]byte("HISTFAAAAB54nJNpmSzMwMDAxQABzFCaEUzOmQVhAwAvBQIu"))
	f.Add(forgeHistogram(5, 1, math.MaxInt64))       // asks for gigabytes
	f.Add(forgeHistogram(3, 1000, int64(time.Hour))) // DefaultGeometry, no payload
	f.Add(forgeHistogram(2, 3, 1e6))                 // another valid geometry
	f.Fuzz(func(t *testing.T, in []byte) {
		// Exactly g, as from the wire; or any valid geometry, as from a report.
		for _, want := range []Geometry{g, {}} {
			h, err := DecodeHistogram(in, want)
			if err != nil {
				if !errors.Is(err, ErrHistogram) {
					t.Fatalf("error %v does not wrap ErrHistogram", err)
				}
				continue
			}
			// A decoded histogram must be usable: merge and re-encode.
			hg := Geometry{Lowest: h.LowestTrackableValue(), Highest: h.HighestTrackableValue(), SigFigs: int(h.SignificantFigures())}
			if err := hg.Validate(); err != nil || (want != Geometry{} && hg != want) {
				t.Fatalf("accepted geometry %+v (want %+v): %v", hg, want, err)
			}
			if err := Merge(hg.New(), h); err != nil {
				t.Fatalf("merge of an accepted histogram: %v", err)
			}
			if _, err := EncodeHistogram(h); err != nil {
				t.Fatalf("re-encode: %v", err)
			}
		}
	})
}

func ExampleMerge() {
	g := DefaultGeometry()
	a, b := g.New(), g.New()
	for i := 1; i <= 50; i++ {
		_ = a.RecordValue(int64(i) * int64(time.Millisecond))
		_ = b.RecordValue(int64(50+i) * int64(time.Millisecond))
	}
	total := g.New()
	_ = Merge(total, a)
	_ = Merge(total, b)
	fmt.Println(total.TotalCount(), time.Duration(ValueAtPercentile(total, 99)).Round(time.Millisecond))
	// Output: 100 99ms
}

func BenchmarkRecorder(b *testing.B) {
	r := NewRecorder(DefaultGeometry(), 1)
	b.ReportAllocs()
	for b.Loop() {
		r.Issued(0, 0, 30*time.Microsecond)
		r.Finished(0, Result{Outcome: OK, Response: 1200 * time.Microsecond, Service: time.Millisecond, BytesIn: 64})
	}
}

// TestRecorderPending: events recorded ahead of a lagging rotation are
// pending, and rotating them out one by one keeps each in its interval.
func TestRecorderPending(t *testing.T) {
	r := NewRecorder(DefaultGeometry(), 1)
	if r.Pending() {
		t.Error("a new recorder has pending intervals")
	}
	r.Issued(0, 0, 0)
	if r.Pending() {
		t.Error("an event of the current interval is pending")
	}
	r.Issued(2, 0, 0)
	r.Issued(3, 0, 0)
	r.Issued(3, 0, 0)
	var got []uint64
	for r.Pending() {
		got = append(got, r.Rotate().Totals().Intended)
	}
	r.Close()
	got = append(got, r.Rotate().Totals().Intended)
	if want := []uint64{1, 0, 1, 2}; !slices.Equal(got, want) {
		t.Errorf("intervals rotated out %v; want %v", got, want)
	}
}
