// Package report builds the report model (package reporters) from merged
// data: a stage's counts, percentiles, error classes and time series from
// its metrics.Timeline, its measured ceiling, and the notes on the
// generator's own health. Percentiles only ever come from merged
// histograms, never from averaging.
//
// It is pure: no goroutines, no clocks, no sockets; it returns warnings
// instead of printing them.
package report
