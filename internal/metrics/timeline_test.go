package metrics

import (
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
	if got := tl.Intervals[0].Totals().Intended; got != 5 {
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
	if agg.Intervals[2].Totals().Intended != 5 || agg.Intervals[6].Totals().Intended != 6 || agg.Intervals[6].Index != 6 || agg.Total.Totals().Intended != 11 {
		t.Errorf("Absorb at 2: intervals %v; want 5 at 2, 5+1 merged at 6, 11 in all", agg.Intervals)
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
