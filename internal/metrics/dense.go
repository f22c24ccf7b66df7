package metrics

import (
	"fmt"
	"math"
	"math/bits"
	"reflect"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"unsafe"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// The coordinator adds every agent's histograms, every interval, into its
// merged ones. Through hdrhistogram-go's API that means decoding each into
// a new histogram (a 197 KB counts array) and merging it (a walk of every
// bucket): about 10 ms per snapshot of 8 requests, 10 s per interval for
// 1,000 agents. The sparse encoding (sparse.go) carries only the non-empty
// buckets, by their index in the counts array, so a snapshot is added by
// adding its counts at those indexes. The library has no API for that;
// denseView reaches its counts array and total directly.

// denseLayout is where hdrhistogram.Histogram keeps its counts array and
// total count. ok is false when the fields are not found as expected (a
// release of hdrhistogram-go that changed them): then the callers use the
// library's API, exact but slower. TestDenseView fails in that case, so a
// version bump that loses the fast path does not go unnoticed.
type denseLayout struct {
	ok            bool
	counts, total uintptr // offsets of counts ([]int64) and totalCount (int64)
	// ratioOK says ratio is the offset of conversionRatio (float64): the
	// V2 metadata EncodeHistogram writes, 0 meaning 1.
	ratioOK bool
	ratio   uintptr
}

var dense = findDenseLayout()

func findDenseLayout() denseLayout {
	t := reflect.TypeFor[hdrhistogram.Histogram]()
	c, ok1 := t.FieldByName("counts")
	n, ok2 := t.FieldByName("totalCount")
	if !ok1 || !ok2 || len(c.Index) != 1 || len(n.Index) != 1 ||
		c.Type != reflect.TypeFor[[]int64]() || n.Type != reflect.TypeFor[int64]() {
		return denseLayout{}
	}
	l := denseLayout{ok: true, counts: c.Offset, total: n.Offset}
	// The fields must also mean what their names say: the counts by flat
	// index and their sum, as Export shows them.
	h := hdrhistogram.New(1, 1<<20, 2)
	_ = h.RecordValues(3, 2)
	_ = h.RecordValues(70_000, 5)
	counts, total := l.view(h)
	if *total != 7 || !slices.Equal(counts, h.Export().Counts) {
		return denseLayout{}
	}
	if r, ok := t.FieldByName("conversionRatio"); ok && len(r.Index) == 1 && r.Type == reflect.TypeFor[float64]() {
		l.ratioOK, l.ratio = true, r.Offset
		if l.conversionRatio(h) != 1 {
			l.ratioOK = false
		}
	}
	return l
}

// conversionRatio is h's V2 integer-to-double conversion ratio (1 when
// unset). Only when l.ratioOK.
func (l denseLayout) conversionRatio(h *hdrhistogram.Histogram) float64 {
	if r := *(*float64)(unsafe.Add(unsafe.Pointer(h), l.ratio)); r != 0 {
		return r
	}
	return 1
}

// view returns h's counts array and a pointer to its total count. The
// caller keeps them consistent: the total is the sum of the counts.
func (l denseLayout) view(h *hdrhistogram.Histogram) (counts []int64, total *int64) {
	p := unsafe.Pointer(h)
	return *(*[]int64)(unsafe.Add(p, l.counts)), (*int64)(unsafe.Add(p, l.total))
}

// countsOf returns h's counts by flat index: its own array (not to be
// changed) when the fast path is available, else a copy.
func countsOf(h *hdrhistogram.Histogram) []int64 {
	if dense.ok {
		c, _ := dense.view(h)
		return c
	}
	return h.Export().Counts
}

// layout is the bucket arithmetic of a geometry, as HdrHistogram defines
// it: bucket 0 holds 2·half sub-buckets of width 2^unit, and bucket b > 0
// holds half sub-buckets of width 2^(unit+b) (its lower half overlaps
// bucket b−1). A value's flat index in the counts array is what the
// sparse encoding carries.
type layout struct {
	geom Geometry
	// unit is log2 of the value width of bucket 0's sub-buckets; halfMag
	// is log2 of half the number of sub-buckets per bucket.
	unit, halfMag uint
	countsLen     int

	// mids holds each bucket's lowest + highest value, by flat index, as
	// float64 (exact below 2^53), for Sparse.Coarsen; built on first use.
	midsOnce sync.Once
	mids     []float64
	// cuts are the firstAbove indexes of the last limits Coarsen was
	// given (callers pass the same limits every time).
	cuts atomic.Pointer[layoutCuts]
}

var layouts sync.Map // Geometry → *layout, or error

// layoutOf returns g's layout, checked against hdrhistogram-go's own
// mapping of values to indexes (once per geometry).
func layoutOf(g Geometry) (*layout, error) {
	if v, ok := layouts.Load(g); ok {
		if err, bad := v.(error); bad {
			return nil, err
		}
		return v.(*layout), nil
	}
	l, err := newLayout(g)
	if err != nil {
		layouts.Store(g, err)
		return nil, err
	}
	layouts.Store(g, l)
	return l, nil
}

func newLayout(g Geometry) (*layout, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	// Single-unit resolution up to 2·10^digits needs 2^subMag sub-buckets.
	subMag := uint(bits.Len64(uint64(2*math.Pow10(g.SigFigs)) - 1))
	l := &layout{geom: g, unit: uint(bits.Len64(uint64(g.Lowest))) - 1, halfMag: subMag - 1}
	buckets := 1
	for untrackable := int64(1) << (subMag + l.unit); untrackable <= g.Highest; untrackable <<= 1 {
		buckets++
	}
	l.countsLen = (buckets + 1) << l.halfMag
	// Check the arithmetic against the library's: the length of its counts
	// array, and the index it records each bucket's lowest and highest
	// value at, for a spread of buckets.
	h := g.New()
	if n := len(h.Export().Counts); n != l.countsLen {
		return nil, fmt.Errorf("%w: geometry %+v has %d buckets, hdrhistogram-go %d", ErrHistogram, g, l.countsLen, n)
	}
	half := 1 << l.halfMag
	for _, idx := range []int{0, 1, half - 1, half, 2*half - 1, 2 * half, 3*half - 1, 3 * half, l.countsLen/2 + 1, l.countsLen - 1} {
		for _, v := range []int64{l.lowest(idx), l.highest(idx)} {
			if v > g.Highest {
				continue
			}
			h.Reset()
			_ = h.RecordValue(v)
			if c := countsOf(h); c[idx] != 1 {
				return nil, fmt.Errorf("%w: geometry %+v: value %d is not at index %d", ErrHistogram, g, v, idx)
			}
		}
	}
	return l, nil
}

// layoutCuts are the firstAbove indexes of limits, the array at &limits[0],
// and countsLen after them.
type layoutCuts struct {
	limits *int64
	n      int
	cuts   []int
}

// cutsOf returns firstAbove of each of limits, then countsLen.
func (l *layout) cutsOf(limits []int64) []int {
	if len(limits) == 0 {
		return []int{l.countsLen}
	}
	if c := l.cuts.Load(); c != nil && c.limits == &limits[0] && c.n == len(limits) {
		return c.cuts
	}
	c := &layoutCuts{limits: &limits[0], n: len(limits), cuts: make([]int, len(limits)+1)}
	for k, v := range limits {
		c.cuts[k] = l.firstAbove(v)
	}
	c.cuts[len(limits)] = l.countsLen
	l.cuts.Store(c)
	return c.cuts
}

// midsOf returns l.mids, built on first use.
func (l *layout) midsOf() []float64 {
	l.midsOnce.Do(func() {
		l.mids = make([]float64, l.countsLen)
		for i := range l.mids {
			l.mids[i] = float64(l.lowest(i) + l.highest(i))
		}
	})
	return l.mids
}

// firstAbove returns the first flat index whose bucket's highest value is
// above v (countsLen when none is).
func (l *layout) firstAbove(v int64) int {
	return sort.Search(l.countsLen, func(i int) bool { return l.highest(i) > v })
}

// bucket returns the bucket and sub-bucket of flat index idx: indexes
// [0, 2·half) are bucket 0's sub-buckets, and each further half of them
// the upper half of the next bucket's.
func (l *layout) bucket(idx int) (bucket, sub int) {
	bucket = max(idx>>l.halfMag, 1) - 1
	return bucket, idx - bucket<<l.halfMag
}

// lowest is the lowest value of the bucket at flat index idx.
func (l *layout) lowest(idx int) int64 {
	b, s := l.bucket(idx)
	return int64(s) << (uint(b) + l.unit)
}

// highest is the highest value of the bucket at flat index idx (the
// value hdrhistogram-go reports for a percentile in it).
func (l *layout) highest(idx int) int64 {
	b, s := l.bucket(idx)
	return int64(s)<<(uint(b)+l.unit) + 1<<(uint(b)+l.unit) - 1
}
