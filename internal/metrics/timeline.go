package metrics

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"time"
	"unsafe"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
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
//
// Memory does not grow with run length at the size of a histogram per
// interval: intervals no snapshot can reach any more are packed (Pack),
// their histograms kept encoded (V2 compressed, tens of bytes to a few
// KB each instead of about 197 KB), and decoded again only when read (At,
// Range). A packed interval keeps its counters, response times (per
// request, and all merged: ResponseEncoding), send lag and on-wire lag;
// its service times, times to first byte and phases (Series.Phases) go
// only to Emit (and Total): phases are reported per stage and request,
// not per interval.
// An interval is unpacked if a late snapshot still arrives for it.
type Timeline struct {
	// Geometry is the histograms' geometry, the same on every agent.
	Geometry Geometry
	// Names are the request names, by series index.
	Names []string
	// Kinds say what each series is (nil: every one a request of the
	// mix), and Arrivals how many leading series are arrivals (the
	// requests of a mix, or the journeys of a journey stage): the stage's
	// accounting is theirs (Interval.TotalsN); the series after them
	// (steps, checks) have counts of their own.
	Kinds    []Kind
	Arrivals int
	// Step is the length of one interval; interval i covers
	// [i·Step, (i+1)·Step) from the schedule's T0.
	Step time.Duration
	// Total is every snapshot merged.
	Total *Interval

	// Emit, if set, receives each interval with all of its data (service
	// times and times to first byte included) once, in index order, as
	// it is packed, with late false; and any snapshot that arrives for an
	// interval already emitted, on its own, with late true, before it is
	// merged. It must not keep or change iv. Its error is returned by
	// Pack or Add, after the packing or merging is done.
	Emit func(iv *Interval, late bool) error

	live   map[uint32]*Interval // merged snapshots by interval index, not packed
	packed map[uint32]*packedInterval
	// emitted is the bound below which every interval was emitted: the
	// highest Pack bound so far.
	emitted uint32
}

// packedInterval is an interval with its histograms encoded (V2
// compressed); empty encodings are empty histograms. Response times are
// kept in base64, the report's form, so that a one-request interval's
// report entry shares them; the lags without it. The counters of every
// series are uvarints (packCounters): mostly zeros, a byte each. Service
// times and times to first byte are not kept (see Timeline).
type packedInterval struct {
	counters []byte
	resp     []string
	sendLag  []byte
	onWire   []byte
	inFlight uint64
	cpu      time.Duration
}

// size is about how many bytes p holds: its own fields, the counters
// and the encoded histograms (the maps it is kept in are not counted).
func (p *packedInterval) size() int {
	n := int(unsafe.Sizeof(*p)) + len(p.counters) + len(p.sendLag) + len(p.onWire)
	for i := range p.resp {
		n += len(p.resp[i]) + int(unsafe.Sizeof(p.resp[i]))
	}
	return n
}

// counterWords views c as the uint64 words it is made of (every field of
// Counters is a uint64 or an array of them; TestCounterWords checks).
func counterWords(c *Counters) []uint64 {
	return unsafe.Slice((*uint64)(unsafe.Pointer(c)), unsafe.Sizeof(*c)/8)
}

// packCounters appends the counters of every series of iv as uvarints.
func packCounters(b []byte, iv *Interval) []byte {
	for i := range iv.Series {
		for _, w := range counterWords(&iv.Series[i].Counters) {
			b = binary.AppendUvarint(b, w)
		}
	}
	return b
}

// unpackCounters reads what packCounters wrote into iv's series.
func unpackCounters(b []byte, iv *Interval) error {
	for i := range iv.Series {
		ws := counterWords(&iv.Series[i].Counters)
		for k := range ws {
			v, n := binary.Uvarint(b)
			if n <= 0 {
				return fmt.Errorf("%w: packed counters cut short", ErrHistogram)
			}
			ws[k], b = v, b[n:]
		}
	}
	return nil
}

// NewTimeline returns an empty timeline of len(names) series.
func NewTimeline(g Geometry, names []string, step time.Duration) *Timeline {
	return &Timeline{Geometry: g, Names: names, Step: step, Total: NewInterval(g, len(names)),
		live: map[uint32]*Interval{}, packed: map[uint32]*packedInterval{}}
}

// Add merges one snapshot into its interval and the total. An index
// beyond MaxIntervalIndex is refused before any memory is spent on it; a
// snapshot of another shape fails to merge.
func (t *Timeline) Add(iv *Interval) error {
	if iv.Index > MaxIntervalIndex {
		return fmt.Errorf("interval index %d out of range", iv.Index)
	}
	var emitErr error
	if t.Emit != nil && iv.Index < t.emitted {
		emitErr = t.Emit(iv, true)
	}
	dst, err := t.unpack(iv.Index)
	if err != nil {
		return err
	}
	if dst == nil {
		dst = NewInterval(t.Geometry, len(t.Names))
		dst.Index = iv.Index
		t.live[iv.Index] = dst
	}
	if err := dst.Merge(iv); err != nil {
		return err
	}
	if err := t.Total.Merge(iv); err != nil {
		return err
	}
	return emitErr
}

// AddSparse is Add of a snapshot in sparse form (an agent's, off the
// wire): it merges d into its interval and the total without building its
// histograms, with the same result as Add of d's Interval. Emit, for a
// late snapshot, receives d's Interval.
func (t *Timeline) AddSparse(d *SparseInterval) error {
	if d.Index > MaxIntervalIndex {
		return fmt.Errorf("interval index %d out of range", d.Index)
	}
	if len(d.Series) != len(t.Names) {
		return fmt.Errorf("%w: %d series merged into %d", ErrHistogram, len(d.Series), len(t.Names))
	}
	var emitErr error
	if t.Emit != nil && d.Index < t.emitted {
		iv, err := d.Interval(t.Geometry)
		if err != nil {
			return err
		}
		emitErr = t.Emit(iv, true)
	}
	dst, err := t.unpack(d.Index)
	if err != nil {
		return err
	}
	if dst == nil {
		dst = NewInterval(t.Geometry, len(t.Names))
		dst.Index = d.Index
		t.live[d.Index] = dst
	}
	if err := addSparse(d, dst, t.Total); err != nil {
		return err
	}
	return emitErr
}

// Len is the number of intervals with data.
func (t *Timeline) Len() int { return len(t.live) + len(t.packed) }

// Last returns the highest interval index with data; ok is false when
// there is none.
func (t *Timeline) Last() (last uint32, ok bool) {
	for idx := range t.live {
		last, ok = max(last, idx), true
	}
	for idx := range t.packed {
		last, ok = max(last, idx), true
	}
	return last, ok
}

// At returns interval idx's merged data, decoded if it was packed (a new
// copy each call then); ok is false when it holds no data. The caller
// must not change it.
func (t *Timeline) At(idx uint32) (*Interval, bool) {
	if iv, ok := t.live[idx]; ok {
		return iv, true
	}
	p, ok := t.packed[idx]
	if !ok {
		return nil, false
	}
	iv, err := t.decode(idx, p)
	if err != nil { // cannot happen: it was encoded from a histogram of this geometry
		panic(fmt.Sprintf("metrics: packed interval %d: %v", idx, err))
	}
	return iv, true
}

// Range returns the intervals with indexes in [from, end) merged into
// one. They have the timeline's geometry (each was merged into Total
// already), so merging cannot fail.
func (t *Timeline) Range(from, end uint32) *Interval {
	out := NewInterval(t.Geometry, len(t.Names))
	for idx, iv := range t.live {
		if idx >= from && idx < end {
			_ = out.Merge(iv)
		}
	}
	for idx := range t.packed {
		if idx >= from && idx < end {
			iv, _ := t.At(idx)
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
	for _, idx := range o.indexes() {
		iv, _ := o.At(idx)
		at := base + idx
		dst, err := t.unpack(at)
		if err != nil {
			return err
		}
		if dst != nil {
			if err := dst.Merge(iv); err != nil {
				return err
			}
			continue
		}
		iv.Index = at
		t.live[at] = iv
	}
	return nil
}

// Pack encodes the intervals before index before, which no snapshot is
// expected to reach any more, emitting (Emit) those not emitted yet, in
// index order.
func (t *Timeline) Pack(before uint32) error {
	var idxs []uint32
	for idx := range t.live {
		if idx < before {
			idxs = append(idxs, idx)
		}
	}
	slices.Sort(idxs)
	var emitErr error
	for _, idx := range idxs {
		iv := t.live[idx]
		if t.Emit != nil && idx >= t.emitted {
			if err := t.Emit(iv, false); err != nil && emitErr == nil {
				emitErr = err
			}
		}
		p, err := t.pack(iv)
		if err != nil {
			return fmt.Errorf("pack interval %d: %w", idx, err)
		}
		t.packed[idx] = p
		delete(t.live, idx)
	}
	t.emitted = max(t.emitted, before)
	return emitErr
}

func (t *Timeline) pack(iv *Interval) (*packedInterval, error) {
	p := &packedInterval{counters: packCounters(nil, iv), resp: make([]string, len(iv.Series)), inFlight: iv.InFlight, cpu: iv.CPU}
	var err error
	for i, s := range iv.Series {
		if p.resp[i], err = encodeBase64(s.Response); err != nil {
			return nil, err
		}
	}
	if p.sendLag, err = encodeNonEmpty(iv.SendLag); err != nil {
		return nil, err
	}
	if p.onWire, err = encodeNonEmpty(iv.OnWireLag); err != nil {
		return nil, err
	}
	return p, nil
}

// ResponseEncoding returns interval idx's response times, every request
// merged, HdrHistogram V2 compressed and base64 (as EncodeHistogram), or
// "" when it has none. A packed interval of one request returns the
// encoding it keeps (shared, not copied).
func (t *Timeline) ResponseEncoding(idx uint32) (string, error) {
	if p, ok := t.packed[idx]; ok && len(p.resp) == 1 {
		return p.resp[0], nil
	}
	iv, ok := t.At(idx)
	if !ok {
		return "", nil
	}
	return encodeBase64(iv.Select(-1).Response)
}

// unpack returns interval idx as a live interval, decoding it if it was
// packed; nil when it holds no data.
func (t *Timeline) unpack(idx uint32) (*Interval, error) {
	if iv, ok := t.live[idx]; ok {
		return iv, nil
	}
	p, ok := t.packed[idx]
	if !ok {
		return nil, nil
	}
	iv, err := t.decode(idx, p)
	if err != nil {
		return nil, err
	}
	delete(t.packed, idx)
	t.live[idx] = iv
	return iv, nil
}

// indexes lists every interval index with data.
func (t *Timeline) indexes() []uint32 {
	out := make([]uint32, 0, t.Len())
	for idx := range t.live {
		out = append(out, idx)
	}
	for idx := range t.packed {
		out = append(out, idx)
	}
	return out
}

func (t *Timeline) decode(idx uint32, p *packedInterval) (*Interval, error) {
	iv := &Interval{Index: idx, Series: make([]Series, len(p.resp)), InFlight: p.inFlight, CPU: p.cpu}
	if err := unpackCounters(p.counters, iv); err != nil {
		return nil, err
	}
	var err error
	for i := range p.resp {
		if p.resp[i] == "" {
			iv.Series[i].Response = t.Geometry.New()
		} else if iv.Series[i].Response, err = DecodeHistogram([]byte(p.resp[i]), t.Geometry); err != nil {
			return nil, err
		}
		iv.Series[i].Service, iv.Series[i].TTFB = t.Geometry.New(), t.Geometry.New()
	}
	if iv.SendLag, err = t.decodeOrNew(p.sendLag); err != nil {
		return nil, err
	}
	if iv.OnWireLag, err = t.decodeOrNew(p.onWire); err != nil {
		return nil, err
	}
	return iv, nil
}

// decodeOrNew decodes b (from encodeNonEmpty), or returns an empty
// histogram for nil.
func (t *Timeline) decodeOrNew(b []byte) (*hdrhistogram.Histogram, error) {
	if b == nil {
		return t.Geometry.New(), nil
	}
	return DecodeHistogram([]byte(base64.StdEncoding.EncodeToString(b)), t.Geometry)
}

// encodeBase64 encodes h (EncodeHistogram), or returns "" for an empty
// histogram.
func encodeBase64(h *hdrhistogram.Histogram) (string, error) {
	if h.TotalCount() == 0 {
		return "", nil
	}
	b, err := EncodeHistogram(h)
	return string(b), err
}

// encodeNonEmpty encodes h without base64, or returns nil for an empty
// histogram.
func encodeNonEmpty(h *hdrhistogram.Histogram) ([]byte, error) {
	if h.TotalCount() == 0 {
		return nil, nil
	}
	b64, err := EncodeHistogram(h)
	if err != nil {
		return nil, err
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(b64)))
	n, err := base64.StdEncoding.Decode(out, b64)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHistogram, err)
	}
	return out[:n:n], nil
}
