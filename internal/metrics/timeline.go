package metrics

import (
	"fmt"
	"time"
)

// MaxIntervalIndex bounds the interval index a Timeline accepts from an
// agent: about 12 days of 1 s intervals. A larger index is a damaged or
// hostile snapshot, refused before any memory is spent on it.
const MaxIntervalIndex = 1 << 20

// Timeline is the merged data of one played schedule (a stage, a step of
// a capacity search, or a whole search): the running total and each
// interval's data, every agent's snapshots merged into them. Judging and
// the report builder read it; the coordinator fills it. Not safe for
// concurrent use.
type Timeline struct {
	// Geometry is the histograms' geometry, the same on every agent.
	Geometry Geometry
	// Names are the request names, by series index.
	Names []string
	// Step is the length of one interval; interval i covers
	// [i·Step, (i+1)·Step) from the schedule's T0.
	Step time.Duration
	// Total is every snapshot merged.
	Total *Interval
	// Intervals are the snapshots merged by interval index.
	Intervals map[uint32]*Interval
}

// NewTimeline returns an empty timeline of len(names) series.
func NewTimeline(g Geometry, names []string, step time.Duration) *Timeline {
	return &Timeline{Geometry: g, Names: names, Step: step, Total: NewInterval(g, len(names)), Intervals: map[uint32]*Interval{}}
}

// Add merges one snapshot into its interval and the total. An index
// beyond MaxIntervalIndex is refused before any memory is spent on it; a
// snapshot of another shape fails to merge.
func (t *Timeline) Add(iv *Interval) error {
	if iv.Index > MaxIntervalIndex {
		return fmt.Errorf("interval index %d out of range", iv.Index)
	}
	dst := t.Intervals[iv.Index]
	if dst == nil {
		dst = NewInterval(t.Geometry, len(t.Names))
		dst.Index = iv.Index
		t.Intervals[iv.Index] = dst
	}
	if err := dst.Merge(iv); err != nil {
		return err
	}
	return t.Total.Merge(iv)
}

// Last returns the highest interval index with data; ok is false when
// there is none.
func (t *Timeline) Last() (last uint32, ok bool) {
	for idx := range t.Intervals {
		last, ok = max(last, idx), true
	}
	return last, ok
}

// Range returns the intervals with indexes in [from, end) merged into
// one. They have the timeline's geometry (each was merged into Total
// already), so merging cannot fail.
func (t *Timeline) Range(from, end uint32) *Interval {
	out := NewInterval(t.Geometry, len(t.Names))
	for idx, iv := range t.Intervals {
		if idx >= from && idx < end {
			_ = out.Merge(iv)
		}
	}
	return out
}

// Absorb adds o into t, o's interval i placed at base+i. Where an
// interval is already there (a drain overlapping the next step's start)
// the two are merged; otherwise o's interval is moved into t, re-indexed,
// so o must not be used after.
func (t *Timeline) Absorb(o *Timeline, base uint32) error {
	if err := t.Total.Merge(o.Total); err != nil {
		return err
	}
	for idx, iv := range o.Intervals {
		at := base + idx
		if dst := t.Intervals[at]; dst != nil {
			if err := dst.Merge(iv); err != nil {
				return err
			}
			continue
		}
		iv.Index = at
		t.Intervals[at] = iv
	}
	return nil
}

// Select returns the series a selector picks out of iv: request i, or
// every request merged when i < 0.
func (iv *Interval) Select(i int) Series {
	if i >= 0 {
		return iv.Series[i]
	}
	out := NewSeries(DefaultGeometry())
	for _, s := range iv.Series {
		_ = out.Merge(s)
	}
	return out
}
