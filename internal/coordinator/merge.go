package coordinator

import (
	"fmt"
	"sync"

	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/internal/wire"
	surgev1 "github.com/surgeload/surge/proto/gen/surge/v1"
)

// sparsePool holds decoded snapshots between uses: one is decoded into
// and merged (mergeSnapshot), then nothing keeps it, so its memory (a few
// hundred KB at most for a busy agent) is reused by the next snapshot.
var sparsePool = sync.Pool{New: func() any { return new(metrics.SparseInterval) }}

// mergeSnapshot decodes one agent snapshot, its histograms left sparse
// (wire.SparseFromProto), and merges it into the stage and the live
// metrics (run.merge): each histogram's non-empty buckets are added where
// they belong, with no histogram built per snapshot. It returns the
// snapshot's counters (its arrivals': see metrics.Interval.TotalsN).
func (r *run) mergeSnapshot(sr *stageRun, s *surgev1.Snapshot) (metrics.Counters, error) {
	d := sparsePool.Get().(*metrics.SparseInterval)
	defer sparsePool.Put(d)
	if err := wire.SparseFromProto(s, sr.tl.Geometry, len(sr.tl.Names), d); err != nil {
		return metrics.Counters{}, fmt.Errorf("bad snapshot: %w", err)
	}
	if err := r.merge(sr, d); err != nil {
		return metrics.Counters{}, err
	}
	return d.TotalsN(sr.tl.Arrivals), nil
}
