package metrics

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// forgeHistogram encodes a V2 compressed histogram whose header claims
// the given geometry and whose payload is empty, without building the
// histogram: a header can claim any geometry, however large.
func forgeHistogram(sig int32, lowest, highest int64) []byte {
	inner := make([]byte, 40)
	binary.BigEndian.PutUint32(inner[0:], uint32(hdrhistogram.V2EncodingCookieBase|0x10))
	binary.BigEndian.PutUint32(inner[12:], uint32(sig))
	binary.BigEndian.PutUint64(inner[16:], uint64(lowest))
	binary.BigEndian.PutUint64(inner[24:], uint64(highest))
	binary.BigEndian.PutUint64(inner[32:], math.Float64bits(1))
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(inner)
	zw.Close()
	full := binary.BigEndian.AppendUint32(nil, uint32(hdrhistogram.V2CompressedEncodingCookieBase|0x10))
	full = binary.BigEndian.AppendUint32(full, uint32(z.Len()))
	full = append(full, z.Bytes()...)
	return []byte(base64.StdEncoding.EncodeToString(full))
}

// TestDecodeHistogramAnyGeometry: with the zero Geometry (how reports are
// read) any geometry Validate accepts decodes, and a header claiming one
// it refuses is an error before the counts array is allocated.
func TestDecodeHistogramAnyGeometry(t *testing.T) {
	for _, g := range []Geometry{DefaultGeometry(), {Lowest: 3, Highest: 1e6, SigFigs: 2}, {Lowest: 1, Highest: int64(24 * time.Hour), SigFigs: 1}} {
		h := g.New()
		_ = h.RecordValue(g.Lowest * 5)
		b, err := EncodeHistogram(h)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeHistogram(b, Geometry{})
		if err != nil || !g.Matches(got) || got.TotalCount() != 1 {
			t.Errorf("DecodeHistogram(%+v, any) = %v, %v; want it back", g, got, err)
		}
	}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"no lowest", forgeHistogram(3, 0, 1e9), "lowest value 0 must be >= 1"},
		{"beyond a day", forgeHistogram(3, 1, int64(25*time.Hour)), "must be <= 24h"},
		{"widest", forgeHistogram(5, 1, math.MaxInt64), "must be <= 24h"},
		{"six digits", forgeHistogram(6, 1, 1e9), "significant figures 6"},
		{"negative digits", forgeHistogram(-1, 1, 1e9), "significant figures -1"},
		{"inverted", forgeHistogram(3, 1e9, 10), "highest value 10"},
	}
	for _, tt := range tests {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := DecodeHistogram(tt.in, Geometry{})
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrHistogram) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("DecodeHistogram(%s) = %v; want an error containing %q", tt.name, err, tt.want)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
			t.Errorf("DecodeHistogram(%s) allocated %d bytes before refusing it", tt.name, n)
		}
	}
	// The widest geometry accepted: its counts array is the bound the
	// documentation of DecodeHistogram states.
	if n := (Geometry{Lowest: 1, Highest: int64(24 * time.Hour), SigFigs: 5}).New().ByteSize(); n > 33e6 {
		t.Errorf("widest accepted geometry takes %d bytes; DecodeHistogram says at most 33 MB", n)
	}
}
