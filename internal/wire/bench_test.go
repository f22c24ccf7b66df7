package wire

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/surgeload/surge/internal/metrics"
)

// BenchmarkSnapshotEncode is an agent's cost per interval: encode the
// histograms of two request series and the send lag, then marshal.
func BenchmarkSnapshotEncode(b *testing.B) {
	iv := sampleInterval()
	b.ReportAllocs()
	var size int
	for b.Loop() {
		m, err := SnapshotToProto(1, 0, iv)
		if err != nil {
			b.Fatal(err)
		}
		out, err := proto.Marshal(m)
		if err != nil {
			b.Fatal(err)
		}
		size = len(out)
	}
	b.ReportMetric(float64(size), "bytes/snapshot")
}

// BenchmarkSnapshotDecode is the coordinator's cost per agent interval:
// decode a snapshot, its histograms left sparse (SparseFromProto), into
// reused memory.
func BenchmarkSnapshotDecode(b *testing.B) {
	m, err := SnapshotToProto(1, 0, sampleInterval())
	if err != nil {
		b.Fatal(err)
	}
	g := metrics.DefaultGeometry()
	var d metrics.SparseInterval
	b.ReportAllocs()
	for b.Loop() {
		if err := SparseFromProto(m, g, 2, &d); err != nil {
			b.Fatal(err)
		}
	}
}
