// Package metrics holds what an agent records and what a coordinator merges:
// exact counters, outcome classes and HDR histograms of response time,
// service time and send lag, grouped per reporting interval and request name.
//
// It is pure: no goroutines, no clocks, no sockets, and no type here is safe
// for concurrent use; callers serialise access (the engine guards its
// Recorder with a mutex).
//
// Histograms record nanoseconds with the geometry of DefaultGeometry (1 µs
// floor, 1 h ceiling, 3 significant digits) on every agent, so merging them
// is exact: the merged histogram equals one histogram fed every value.
// Values above the ceiling are clamped to it and counted in OverRange,
// never dropped silently.
//
// Agents send their histograms in the sparse encoding (AppendSparse): the
// non-empty buckets by index in HdrHistogram's counts array. The
// coordinator decodes a snapshot once into reused memory (DecodeSparse,
// SparseInterval) and adds its buckets straight into the merged
// histograms (Timeline.AddSparse), with exactly the result of decoding
// and merging each histogram, without building one per snapshot. Reports
// keep HdrHistogram's V2 compressed base64 (EncodeHistogram,
// DecodeHistogram).
//
// Percentiles are read from a histogram only with ValueAtPercentile: by
// nearest rank, rank ⌈p·N/100⌉, as Java HdrHistogram computes them (not
// with hdrhistogram-go's ValueAtQuantile, which rounds the rank half up).
package metrics
