package metrics

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// The sparse encoding of a histogram, the form agents send histograms in
// (protocol version 4 on). It lists the non-empty buckets by their flat
// index in HdrHistogram's counts array, so that the coordinator adds a
// snapshot into its merged histograms without building one (Sparse.AddTo).
// It is no larger than HdrHistogram's V2 compressed base64 for the
// histograms agents send (a bucket takes one byte when it is at most 14
// empty buckets after the previous one and counts at most 15;
// TestAppendSparseSizes), with no deflate to run at either end:
//
//	'S' 1                           format tag and version
//	uvarint significant figures     the geometry, which must be the
//	uvarint lowest, uvarint highest   receiver's exactly
//	uvarint n                       non-empty buckets
//	uvarint total                   the sum of their counts
//	n tokens, by ascending index, one per non-empty bucket:
//	  byte t                        gap = t>>4, count = t&15
//	  [uvarint]                     if gap == 15: gap = 15 + this
//	  [uvarint]                     if count == 0: count = 16 + this
//
// where gap is the number of empty buckets between the previous
// non-empty one (or the start, index −1) and this one. Nothing may follow
// the last token.
const (
	sparseTag     = 'S'
	sparseVersion = 1
)

// Sparse is a histogram as the sparse encoding carries it: its non-empty
// buckets, by ascending flat index, with their counts (each > 0) and
// their sum. DecodeSparse fills one; AddTo adds it into a histogram of its
// geometry. The zero value is an empty histogram of no geometry.
type Sparse struct {
	// Index holds the buckets' flat indexes in the counts array of the
	// geometry, ascending; Count their counts, > 0.
	Index []int32
	Count []int64
	// Total is the sum of Count.
	Total int64
	lay   *layout
}

// Reset empties s, keeping its memory.
func (s *Sparse) Reset() {
	s.Index, s.Count, s.Total = s.Index[:0], s.Count[:0], 0
}

// Len is the number of non-empty buckets.
func (s *Sparse) Len() int { return len(s.Index) }

// Bar returns the i-th non-empty bucket as hdrhistogram-go's Distribution
// shows it: its value range and count.
func (s *Sparse) Bar(i int) hdrhistogram.Bar {
	b, sub := s.lay.bucket(int(s.Index[i]))
	shift := uint(b) + s.lay.unit
	from := int64(sub) << shift
	return hdrhistogram.Bar{From: from, To: from + 1<<shift - 1, Count: s.Count[i]}
}

// geometryOf returns h's geometry.
func geometryOf(h *hdrhistogram.Histogram) Geometry {
	return Geometry{Lowest: h.LowestTrackableValue(), Highest: h.HighestTrackableValue(), SigFigs: int(h.SignificantFigures())}
}

// AppendSparse appends h's sparse encoding (see Sparse) to b.
func AppendSparse(b []byte, h *hdrhistogram.Histogram) ([]byte, error) {
	g := geometryOf(h)
	if _, err := layoutOf(g); err != nil {
		return b, err
	}
	start := len(b)
	counts := countsOf(h)
	n, prev, total := 0, -1, uint64(0)
	for base := 0; base < len(counts); base += 8 {
		blk := counts[base:min(base+8, len(counts))]
		// Skip empty stretches eight buckets at a time (counts are >= 0).
		if len(blk) == 8 && blk[0]|blk[1]|blk[2]|blk[3]|blk[4]|blk[5]|blk[6]|blk[7] == 0 {
			continue
		}
		for j, c := range blk {
			if c == 0 {
				continue
			}
			i := base + j
			if c < 0 {
				return b[:start], fmt.Errorf("%w: negative count %d at index %d", ErrHistogram, c, i)
			}
			gap := i - prev - 1
			t := byte(min(gap, 15)) << 4
			if c <= 15 {
				t |= byte(c)
			}
			b = append(b, t)
			if gap >= 15 {
				b = binary.AppendUvarint(b, uint64(gap-15))
			}
			if c > 15 {
				b = binary.AppendUvarint(b, uint64(c-16))
			}
			n, prev, total = n+1, i, total+uint64(c)
		}
	}
	var hdr [2 + 5*binary.MaxVarintLen64]byte
	head := append(hdr[:0], sparseTag, sparseVersion)
	head = binary.AppendUvarint(head, uint64(g.SigFigs))
	head = binary.AppendUvarint(head, uint64(g.Lowest))
	head = binary.AppendUvarint(head, uint64(g.Highest))
	head = binary.AppendUvarint(head, uint64(n))
	head = binary.AppendUvarint(head, total)
	return slices.Insert(b, start, head...), nil
}

// uvarint reads a uvarint at b[p:], returning it and the position after it.
func uvarint(b []byte, p int, what string) (uint64, int, error) {
	v, k := binary.Uvarint(b[p:])
	if k <= 0 {
		return 0, p, fmt.Errorf("%w: sparse: bad or missing %s at byte %d", ErrHistogram, what, p)
	}
	return v, p + k, nil
}

// DecodeSparse decodes b, a sparse encoding (AppendSparse) from an
// untrusted source, into s, replacing its contents and reusing its
// memory. The encoding must have geometry g exactly; every error wraps
// ErrHistogram, and s is then empty.
//
// It never panics and bounds what it allocates: b is at most
// MaxEncodedHistogram bytes, and s holds at most one bucket per byte of b
// (12 bytes each) and per bucket of the geometry.
func DecodeSparse(b []byte, g Geometry, s *Sparse) error {
	s.Reset()
	if err := decodeSparse(b, g, s); err != nil {
		s.Reset()
		return err
	}
	return nil
}

func decodeSparse(b []byte, g Geometry, s *Sparse) error {
	if len(b) > MaxEncodedHistogram {
		return fmt.Errorf("%w: %d bytes encoded, more than %d", ErrHistogram, len(b), MaxEncodedHistogram)
	}
	if len(b) < 2 || b[0] != sparseTag || b[1] != sparseVersion {
		return fmt.Errorf("%w: not a sparse histogram (version %d)", ErrHistogram, sparseVersion)
	}
	var hdr [5]uint64
	p := 2
	for k, what := range []string{"significant figures", "lowest value", "highest value", "bucket count", "total count"} {
		var err error
		if hdr[k], p, err = uvarint(b, p, what); err != nil {
			return err
		}
	}
	if hdr[0] != uint64(g.SigFigs) || hdr[1] != uint64(g.Lowest) || hdr[2] != uint64(g.Highest) {
		return fmt.Errorf("%w: geometry %d..%d/%d, want %d..%d/%d", ErrHistogram, hdr[1], hdr[2], hdr[0], g.Lowest, g.Highest, g.SigFigs)
	}
	lay, err := layoutOf(g)
	if err != nil {
		return err
	}
	n, total := hdr[3], hdr[4]
	if n > uint64(lay.countsLen) || n > uint64(len(b)-p) {
		return fmt.Errorf("%w: sparse: %d buckets in %d bytes", ErrHistogram, n, len(b)-p)
	}
	if total > math.MaxInt64 {
		return fmt.Errorf("%w: sparse: total count %d out of range", ErrHistogram, total)
	}
	if cap(s.Index) < int(n) {
		s.Index, s.Count = make([]int32, n), make([]int64, n)
	}
	index, count := s.Index[:n], s.Count[:n]
	count = count[:len(index)]
	// Indexes only grow: the last one is checked after the loop, which
	// cannot overflow (at most n ≤ countsLen tokens, each at most
	// countsLen + 16 further). The sum is checked after each escaped
	// count: between two, it grows by at most 15 per token.
	idx := -1
	var sum uint64
	for k := range index {
		if p >= len(b) {
			return fmt.Errorf("%w: sparse: %d buckets, the header announced %d", ErrHistogram, k, n)
		}
		t := b[p]
		p++
		gap, c := int(t>>4), uint64(t&15)
		if gap == 15 {
			var v uint64
			if p < len(b) && b[p] < 0x80 { // one byte: most are
				v, p = uint64(b[p]), p+1
			} else if v, p, err = uvarint(b, p, "gap"); err != nil {
				return err
			}
			if v > uint64(lay.countsLen) {
				return fmt.Errorf("%w: sparse: gap %d past the last bucket", ErrHistogram, v)
			}
			gap += int(v)
		}
		if c == 0 {
			if p < len(b) && b[p] < 0x80 {
				c, p = uint64(b[p]), p+1
			} else if c, p, err = uvarint(b, p, "count"); err != nil {
				return err
			}
			if c > math.MaxInt64-16 {
				return fmt.Errorf("%w: sparse: count out of range", ErrHistogram)
			}
			if c += 16; sum+c > math.MaxInt64 {
				return fmt.Errorf("%w: sparse: counts sum past the largest total", ErrHistogram)
			}
		}
		idx += 1 + gap
		index[k], count[k] = int32(idx), int64(c)
		sum += c
	}
	if p != len(b) {
		return fmt.Errorf("%w: sparse: more than the %d buckets announced", ErrHistogram, n)
	}
	if idx >= lay.countsLen {
		return fmt.Errorf("%w: sparse: bucket %d past the last (%d)", ErrHistogram, idx, lay.countsLen-1)
	}
	if sum != total {
		return fmt.Errorf("%w: sparse: %d values, the header announced %d", ErrHistogram, sum, total)
	}
	s.Index, s.Count, s.Total, s.lay = index, count, int64(sum), lay
	return nil
}

// AddTo adds s into h, exactly as hdrhistogram-go's h.Merge of the
// histogram s encodes would: h must have the geometry s was decoded with.
// A count that would overflow h's total is an error (Merge would drop it),
// and h is then unchanged.
func (s *Sparse) AddTo(h *hdrhistogram.Histogram) error {
	return s.addTo(h, nil)
}

// addTo adds s into h and, unless nil, into h2 (the same geometry), in
// one pass over s: an agent's snapshot goes into its interval and into
// the total. Both are checked before either changes.
func (s *Sparse) addTo(h, h2 *hdrhistogram.Histogram) error {
	if len(s.Index) == 0 {
		return nil
	}
	last := int(s.Index[len(s.Index)-1])
	for _, d := range [2]*hdrhistogram.Histogram{h, h2} {
		if d == nil {
			continue
		}
		if !s.lay.geom.Matches(d) {
			return fmt.Errorf("%w: sparse histogram of geometry %+v added into one of %+v", ErrHistogram, s.lay.geom, geometryOf(d))
		}
		if s.Total > math.MaxInt64-d.TotalCount() {
			return fmt.Errorf("%w: merge would overflow the total count", ErrHistogram)
		}
		if dense.ok {
			if c, _ := dense.view(d); last >= len(c) {
				return fmt.Errorf("%w: bucket %d past the histogram's %d", ErrHistogram, last, len(c))
			}
		}
	}
	if !dense.ok {
		for _, d := range [2]*hdrhistogram.Histogram{h, h2} {
			for i, idx := range s.Index {
				if d == nil {
					break
				}
				if err := d.RecordValues(s.lay.lowest(int(idx)), s.Count[i]); err != nil {
					return fmt.Errorf("%w: %v", ErrHistogram, err)
				}
			}
		}
		return nil
	}
	counts, total := dense.view(h)
	cs := s.Count[:len(s.Index)]
	if h2 == nil {
		for i, idx := range s.Index {
			counts[idx] += cs[i]
		}
		*total += s.Total
		return nil
	}
	counts2, total2 := dense.view(h2)
	counts, counts2 = counts[:last+1], counts2[:last+1]
	for i, idx := range s.Index {
		c := cs[i]
		counts[idx] += c
		counts2[idx] += c
	}
	*total += s.Total
	*total2 += s.Total
	return nil
}

// Coarsen adds s's counts into coarser buckets: counts[k] gets those of
// the buckets whose highest value is at most limits[k] and above
// limits[k-1], counts[len(limits)] those above the last limit (limits
// ascend; len(counts) > len(limits)). It returns the sum, over s's
// buckets, of count × (lowest + highest value), in float64: twice the sum
// of the values taken at their buckets' middles.
func (s *Sparse) Coarsen(limits []int64, counts []uint64) (sum2 float64) {
	if len(s.Index) == 0 {
		return 0
	}
	mids := s.lay.midsOf()
	cuts := s.lay.cutsOf(limits) // the last coarse bucket ends with the geometry
	k, cut := 0, cuts[0]
	var c0 uint64 // counts of coarse bucket k so far
	var sumA, sumB float64
	cs := s.Count[:len(s.Index)]
	for i, idx := range s.Index {
		for int(idx) >= cut {
			counts[k] += c0
			c0 = 0
			k++
			cut = cuts[k]
		}
		c := cs[i]
		c0 += uint64(c)
		// Two sums, alternately, so that each addition need not wait for
		// the one before.
		if i&1 == 0 {
			sumA += float64(c) * mids[idx]
		} else {
			sumB += float64(c) * mids[idx]
		}
	}
	counts[k] += c0
	return sumA + sumB
}

// Set makes s hold h's buckets, reusing its memory.
func (s *Sparse) Set(h *hdrhistogram.Histogram) error {
	s.Reset()
	lay, err := layoutOf(geometryOf(h))
	if err != nil {
		return err
	}
	s.lay = lay
	for i, c := range countsOf(h) {
		if c > 0 {
			s.Index = append(s.Index, int32(i))
			s.Count = append(s.Count, c)
			s.Total += c
		}
	}
	return nil
}

// Percentile is the value at percentile p of the histogram s encodes, by
// the one rule of ValueAtPercentile (nearest rank, the top of its bucket;
// the bottom for p == 0).
func (s *Sparse) Percentile(p float64) int64 {
	if s.Total == 0 {
		return 0
	}
	if p == 0 {
		return s.lay.lowest(int(s.Index[0]))
	}
	r := nearestRank(p, s.Total)
	var cum int64
	for i, c := range s.Count {
		if cum += c; cum >= r {
			return s.lay.highest(int(s.Index[i]))
		}
	}
	return s.lay.highest(int(s.Index[len(s.Index)-1]))
}

// Histogram returns the histogram s encodes, of geometry g (s's, or any
// when s is empty and was never decoded).
func (s *Sparse) Histogram(g Geometry) (*hdrhistogram.Histogram, error) {
	h := g.New()
	if err := s.AddTo(h); err != nil {
		return nil, err
	}
	return h, nil
}

// SparseSeries is a Series whose histograms are sparse.
type SparseSeries struct {
	Counters
	Response, Service, TTFB Sparse
	// Phases are the phase histograms (Series.Phases); an empty one was
	// never sent or held nothing.
	Phases [NumPhases]Sparse
}

// SparseInterval is an Interval whose histograms are sparse: one agent's
// snapshot as it came off the wire, to be added into merged intervals
// (Interval.AddSparse, Timeline.AddSparse) without building its
// histograms. Decoders fill one and reuse its memory.
type SparseInterval struct {
	Index     uint32
	Series    []SparseSeries
	SendLag   Sparse
	OnWireLag Sparse
	InFlight  uint64
	CPU       time.Duration
}

// Reset empties d and gives it n series, keeping its memory.
func (d *SparseInterval) Reset(n int) {
	if cap(d.Series) < n {
		d.Series = append(d.Series[:cap(d.Series)], make([]SparseSeries, n-cap(d.Series))...)
	}
	d.Series = d.Series[:n]
	for i := range d.Series {
		s := &d.Series[i]
		s.Counters = Counters{}
		s.Response.Reset()
		s.Service.Reset()
		s.TTFB.Reset()
		for p := range s.Phases {
			s.Phases[p].Reset()
		}
	}
	d.SendLag.Reset()
	d.OnWireLag.Reset()
	d.Index, d.InFlight, d.CPU = 0, 0, 0
}

// Set makes d hold iv's data, reusing its memory.
func (d *SparseInterval) Set(iv *Interval) error {
	d.Reset(len(iv.Series))
	d.Index, d.InFlight, d.CPU = iv.Index, iv.InFlight, iv.CPU
	if err := d.SendLag.Set(iv.SendLag); err != nil {
		return err
	}
	if err := d.OnWireLag.Set(iv.OnWireLag); err != nil {
		return err
	}
	for i := range iv.Series {
		s, o := &d.Series[i], &iv.Series[i]
		s.Counters = o.Counters
		for _, p := range [...]struct {
			dst *Sparse
			src *hdrhistogram.Histogram
		}{{&s.Response, o.Response}, {&s.Service, o.Service}, {&s.TTFB, o.TTFB}} {
			if err := p.dst.Set(p.src); err != nil {
				return err
			}
		}
		for p, h := range o.Phases {
			if h == nil {
				continue
			}
			if err := s.Phases[p].Set(h); err != nil {
				return err
			}
		}
	}
	return nil
}

// Totals sums the counters of every series.
func (d *SparseInterval) Totals() Counters {
	var c Counters
	for i := range d.Series {
		c.Add(d.Series[i].Counters)
	}
	return c
}

// TotalsN sums the counters of d's first n series (see
// Interval.TotalsN); n <= 0 or past the end means every series.
func (d *SparseInterval) TotalsN(n int) Counters {
	if n <= 0 || n > len(d.Series) {
		return d.Totals()
	}
	var c Counters
	for i := range d.Series[:n] {
		c.Add(d.Series[i].Counters)
	}
	return c
}

// Interval returns d as an Interval of geometry g.
func (d *SparseInterval) Interval(g Geometry) (*Interval, error) {
	iv := NewInterval(g, len(d.Series))
	iv.Index = d.Index
	if err := iv.AddSparse(d); err != nil {
		return nil, err
	}
	return iv, nil
}

// AddSparse adds d (same number of series) into iv, as iv.Merge of d's
// Interval would.
func (iv *Interval) AddSparse(d *SparseInterval) error {
	return addSparse(d, iv, nil)
}

// addSparse adds d into iv and, unless nil, into iv2, in one pass over
// each of d's histograms.
func addSparse(d *SparseInterval, iv, iv2 *Interval) error {
	for _, dst := range [2]*Interval{iv, iv2} {
		if dst != nil && len(d.Series) != len(dst.Series) {
			return fmt.Errorf("%w: %d series merged into %d", ErrHistogram, len(d.Series), len(dst.Series))
		}
	}
	// both returns a histogram of iv and the same one of iv2 (nil without).
	both := func(of func(*Interval) *hdrhistogram.Histogram) (h, h2 *hdrhistogram.Histogram) {
		if iv2 != nil {
			h2 = of(iv2)
		}
		return of(iv), h2
	}
	for i := range d.Series {
		o := &d.Series[i]
		if err := o.Response.addTo(both(func(v *Interval) *hdrhistogram.Histogram { return v.Series[i].Response })); err != nil {
			return fmt.Errorf("response time: %w", err)
		}
		if err := o.Service.addTo(both(func(v *Interval) *hdrhistogram.Histogram { return v.Series[i].Service })); err != nil {
			return fmt.Errorf("service time: %w", err)
		}
		if err := o.TTFB.addTo(both(func(v *Interval) *hdrhistogram.Histogram { return v.Series[i].TTFB })); err != nil {
			return fmt.Errorf("time to first byte: %w", err)
		}
		for p := range o.Phases {
			sp := &o.Phases[p]
			if sp.Total == 0 {
				continue
			}
			// Allocated only now: most series of most intervals have no
			// value of the rarer phases.
			if err := sp.addTo(both(func(v *Interval) *hdrhistogram.Histogram {
				return v.Series[i].Phases.ensure(sp.lay.geom, Phase(p))
			})); err != nil {
				return fmt.Errorf("%s phase: %w", Phase(p), err)
			}
		}
	}
	if err := d.SendLag.addTo(both(func(v *Interval) *hdrhistogram.Histogram { return v.SendLag })); err != nil {
		return fmt.Errorf("send lag: %w", err)
	}
	if err := d.OnWireLag.addTo(both(func(v *Interval) *hdrhistogram.Histogram { return v.OnWireLag })); err != nil {
		return fmt.Errorf("on-wire lag: %w", err)
	}
	for _, dst := range [2]*Interval{iv, iv2} {
		if dst == nil {
			continue
		}
		for i := range d.Series {
			dst.Series[i].Counters.Add(d.Series[i].Counters)
		}
		dst.InFlight += d.InFlight
		dst.CPU += d.CPU
	}
	return nil
}
