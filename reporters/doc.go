// Package reporters holds the report model of a finished run and the
// renderers that turn it into bytes: report.json (schema surge.report/v1)
// and the terminal summary.
//
// Renderers only render. They never import the load-generation side; the
// coordinator builds a Report from merged histograms and balanced counts,
// and a saved report.json can be read back and rendered again.
//
// JSONSchema is the JSON Schema (draft 2020-12) of report.json, also in
// the repository as reporters/schema/report-v1.schema.json; a test keeps
// it in step with the Report type.
package reporters
