// Package reporters holds the report model of a finished run and the
// renderers that turn it into bytes: report.json (schema surge.report/v1)
// and the terminal summary.
//
// Renderers only render. They never import the load-generation side; the
// coordinator builds a Report from merged histograms and balanced counts,
// and a saved report.json can be read back and rendered again.
package reporters
