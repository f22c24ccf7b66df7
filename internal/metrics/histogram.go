package metrics

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// ErrHistogram is wrapped by errors about histogram geometry or encoding.
var ErrHistogram = errors.New("bad histogram")

// MaxEncodedHistogram bounds the size of an encoded histogram accepted from
// the wire (sparse) or a report (V2-compressed, base64). Real ones are
// 20 B to about 12 KB.
const MaxEncodedHistogram = 1 << 20

// Geometry is the shape of an HDR histogram. Every agent of a run must use
// the same geometry, or merges would lose values.
type Geometry struct {
	// Lowest is the lowest discernible value in ns (the resolution floor).
	Lowest int64
	// Highest is the highest trackable value in ns; larger values are
	// clamped to it and counted as over range.
	Highest int64
	// SigFigs is the number of significant decimal digits kept (1..5).
	SigFigs int
}

// DefaultGeometry is 1 µs .. 1 h at 3 significant digits (~197 KB per
// histogram in memory, 60 B to ~12 KB encoded).
func DefaultGeometry() Geometry {
	return Geometry{Lowest: int64(time.Microsecond), Highest: int64(time.Hour), SigFigs: 3}
}

// Validate checks that the geometry is usable and not absurdly large.
func (g Geometry) Validate() error {
	switch {
	case g.Lowest < 1:
		return fmt.Errorf("%w: lowest value %d must be >= 1", ErrHistogram, g.Lowest)
	case g.Highest < 2*g.Lowest:
		return fmt.Errorf("%w: highest value %d must be >= 2 × lowest %d", ErrHistogram, g.Highest, g.Lowest)
	case g.Highest > int64(24*time.Hour):
		return fmt.Errorf("%w: highest value %v must be <= 24h", ErrHistogram, time.Duration(g.Highest))
	case g.SigFigs < 1 || g.SigFigs > 5:
		return fmt.Errorf("%w: significant figures %d must be in 1..5", ErrHistogram, g.SigFigs)
	}
	return nil
}

// New returns an empty histogram of this geometry.
func (g Geometry) New() *hdrhistogram.Histogram {
	return hdrhistogram.New(g.Lowest, g.Highest, g.SigFigs)
}

// Matches reports whether h has this geometry.
func (g Geometry) Matches(h *hdrhistogram.Histogram) bool {
	return h.LowestTrackableValue() == g.Lowest && h.HighestTrackableValue() == g.Highest &&
		int(h.SignificantFigures()) == g.SigFigs
}

// record adds d to h, clamping it into [0, Highest]. It reports whether the
// value was over range (and therefore clamped).
func (g Geometry) record(h *hdrhistogram.Histogram, d time.Duration) (over bool) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	if v > g.Highest {
		v, over = g.Highest, true
	}
	// Cannot fail: v is within [0, Highest].
	_ = h.RecordValue(v)
	return over
}

// EncodeHistogram encodes h in the HdrHistogram V2 compressed format, as the
// base64 text the HdrHistogram libraries exchange: the bytes
// hdrhistogram-go's Encode writes (TestEncodeHistogramIsLibrarys), about
// three times faster (encodeV2).
func EncodeHistogram(h *hdrhistogram.Histogram) ([]byte, error) {
	if b, ok := encodeV2(h); ok {
		return b, nil
	}
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return nil, fmt.Errorf("%w: encode: %v", ErrHistogram, err)
	}
	return b, nil
}

// zlibWriters are reused by encodeV2: a new one allocates about 1 MB.
var zlibWriters = sync.Pool{New: func() any {
	w, _ := zlib.NewWriterLevel(nil, zlib.BestCompression) // cannot fail: a valid level
	return w
}}

// encodeV2 is hdrhistogram-go's V2 compressed encoding of h, byte for
// byte, built from its counts array in one pass (the library walks the
// whole histogram once more for its maximum and writes every count with
// binary.Write), compressed at the library's level by a reused writer.
// ok is false when the fast path is not available (denseLayout).
//
// The format: base64 of (cookie, length, zlib(inner)); inner is a 40-byte
// header (cookie, payload length, normalizing offset 0, significant
// figures, lowest, highest, conversion ratio) and the payload, the counts
// up to the last non-empty one (index 0 of an empty histogram) in ZigZag
// LEB128, a run of more than one empty bucket as its negated length.
func encodeV2(h *hdrhistogram.Histogram) ([]byte, bool) {
	if !dense.ok || !dense.ratioOK {
		return nil, false
	}
	counts, _ := dense.view(h)
	limit := len(counts)
	for limit > 1 && counts[limit-1] == 0 {
		limit--
	}
	inner := make([]byte, 40, 40+2*limit/8+64)
	for i := 0; i < limit; {
		c := counts[i]
		i++
		if c == 0 {
			run := int64(1)
			for i < limit && counts[i] == 0 {
				run, i = run+1, i+1
			}
			if run > 1 {
				c = -run
			}
		}
		inner = appendZigZag(inner, c)
	}
	binary.BigEndian.PutUint32(inner[0:], uint32(hdrhistogram.V2EncodingCookieBase|0x10))
	binary.BigEndian.PutUint32(inner[4:], uint32(len(inner)-40))
	binary.BigEndian.PutUint32(inner[8:], 0)
	binary.BigEndian.PutUint32(inner[12:], uint32(h.SignificantFigures()))
	binary.BigEndian.PutUint64(inner[16:], uint64(h.LowestTrackableValue()))
	binary.BigEndian.PutUint64(inner[24:], uint64(h.HighestTrackableValue()))
	binary.BigEndian.PutUint64(inner[32:], math.Float64bits(dense.conversionRatio(h)))

	var z bytes.Buffer
	z.Write([]byte{0, 0, 0, 0, 0, 0, 0, 0}) // outer cookie and length
	w := zlibWriters.Get().(*zlib.Writer)
	defer zlibWriters.Put(w)
	w.Reset(&z)
	if _, err := w.Write(inner); err != nil {
		return nil, false
	}
	if err := w.Close(); err != nil {
		return nil, false
	}
	raw := z.Bytes()
	binary.BigEndian.PutUint32(raw[0:], uint32(hdrhistogram.V2CompressedEncodingCookieBase|0x10))
	binary.BigEndian.PutUint32(raw[4:], uint32(len(raw)-8))
	out := make([]byte, base64.StdEncoding.EncodedLen(len(raw)))
	base64.StdEncoding.Encode(out, raw)
	return out, true
}

// appendZigZag appends v in HdrHistogram's ZigZag LEB128-64b9B: 7 bits a
// byte, the ninth byte (if any) holding the last 8.
func appendZigZag(b []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	for range 8 {
		if u < 0x80 {
			return append(b, byte(u))
		}
		b = append(b, byte(u)|0x80)
		u >>= 7
	}
	return append(b, byte(u))
}

// DecodeHistogram is the one decoder of encoded histograms (HdrHistogram
// V2 compressed, base64) from untrusted sources: snapshots off the wire,
// report.json files, reports built by other programs. It checks that the
// histogram has geometry g or, when g is the zero Geometry, any geometry
// that Geometry.Validate accepts (a saved report does not record its
// geometry; Surge writes DefaultGeometry).
//
// It never panics and bounds what it allocates: input longer than
// MaxEncodedHistogram is refused unread, and the geometry in the header
// is checked before hdrhistogram-go sizes its counts array from it, so the
// array is at most 33 MB (1 ns to 24 h at 5 digits, the widest geometry
// Validate accepts; DefaultGeometry's is 197 KB). A panic inside
// hdrhistogram-go becomes an error. Every error wraps ErrHistogram.
func DecodeHistogram(b []byte, g Geometry) (h *hdrhistogram.Histogram, err error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrHistogram)
	}
	if len(b) > MaxEncodedHistogram {
		return nil, fmt.Errorf("%w: %d bytes encoded, more than %d", ErrHistogram, len(b), MaxEncodedHistogram)
	}
	defer func() {
		// The decoder sizes arrays from header fields; a hostile header must
		// become an error, not a crash of the coordinator.
		if r := recover(); r != nil {
			h, err = nil, fmt.Errorf("%w: decode: %v", ErrHistogram, r)
		}
	}()
	// Check the geometry in the header before decoding: the decoder sizes
	// its counts array from it, so a hostile header could ask for gigabytes.
	hg, err := peekGeometry(b)
	if err != nil {
		return nil, err
	}
	if g == (Geometry{}) {
		if err := hg.Validate(); err != nil {
			return nil, err
		}
	} else if hg != g {
		return nil, fmt.Errorf("%w: geometry %d..%d/%d, want %d..%d/%d", ErrHistogram, hg.Lowest, hg.Highest, hg.SigFigs, g.Lowest, g.Highest, g.SigFigs)
	}
	h, err = hdrhistogram.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%w: decode: %v", ErrHistogram, err)
	}
	if !hg.Matches(h) {
		return nil, fmt.Errorf("%w: geometry %d..%d/%d decoded from a header of %d..%d/%d", ErrHistogram,
			h.LowestTrackableValue(), h.HighestTrackableValue(), h.SignificantFigures(), hg.Lowest, hg.Highest, hg.SigFigs)
	}
	if h.TotalCount() < 0 {
		return nil, fmt.Errorf("%w: negative total count", ErrHistogram)
	}
	return h, nil
}

// Merge adds src into dst. Both must have the same geometry; a value that
// would not fit is reported as an error rather than dropped silently.
func Merge(dst, src *hdrhistogram.Histogram) error {
	if dropped := dst.Merge(src); dropped != 0 {
		return fmt.Errorf("%w: merge dropped %d values (geometry mismatch)", ErrHistogram, dropped)
	}
	return nil
}

// peekGeometry reads the geometry from the header of a V2-compressed
// histogram (base64 of: cookie, length, zlib(cookie, payload length,
// normalizing offset, significant digits, lowest, highest, ratio, …)),
// inflating only the 40-byte inner header.
func peekGeometry(b []byte) (Geometry, error) {
	full, err := base64.StdEncoding.DecodeString(string(b))
	if err != nil {
		return Geometry{}, fmt.Errorf("%w: decode: %v", ErrHistogram, err)
	}
	if len(full) < 8 {
		return Geometry{}, fmt.Errorf("%w: decode: %d bytes is too short", ErrHistogram, len(full))
	}
	if cookie := int32(binary.BigEndian.Uint32(full[0:4])) &^ 0xf0; cookie != hdrhistogram.V2CompressedEncodingCookieBase {
		return Geometry{}, fmt.Errorf("%w: decode: not a V2 compressed histogram (cookie %#x)", ErrHistogram, cookie)
	}
	z, err := zlib.NewReader(bytes.NewReader(full[8:]))
	if err != nil {
		return Geometry{}, fmt.Errorf("%w: decode: %v", ErrHistogram, err)
	}
	inner := make([]byte, 40)
	if _, err := io.ReadFull(z, inner); err != nil {
		return Geometry{}, fmt.Errorf("%w: decode: header: %v", ErrHistogram, err)
	}
	return Geometry{
		SigFigs: int(int32(binary.BigEndian.Uint32(inner[12:16]))),
		Lowest:  int64(binary.BigEndian.Uint64(inner[16:24])),
		Highest: int64(binary.BigEndian.Uint64(inner[24:32])),
	}, nil
}
