// Package judge decides whether merged measurements meet a scenario's
// rules: thresholds over a whole stage or over sliding windows, abort
// thresholds on what a stage has played so far, and the SLO a capacity
// search holds each rate to. Every function is pure: it reads merged data
// (a metrics.Timeline or a merged metrics.Interval) and the expressions
// the scenario package parsed, and returns results; nothing here merges,
// clocks or logs. A percentile is judged on the value the report shows:
// metrics.ValueAtPercentile, by nearest rank.
package judge
