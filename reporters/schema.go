package reporters

import _ "embed" // JSONSchema

// JSONSchema is the JSON Schema (draft 2020-12) of report.json, the
// format Schema that WriteJSON writes: every field with its type, unit and
// meaning, which ones are always written ("required") and which are left
// out when zero or empty, and the closed sets of strings (verdicts, search
// outcomes, ceiling methods, gap causes, error classes). Every object is
// closed (additionalProperties: false), so a report with a field this
// schema does not know fails validation: it pins this version of Surge's
// output exactly.
//
// The same file is in the repository as reporters/schema/report-v1.schema.json,
// for tools that validate a report.json without Go. A test walks the
// Report type and fails when the two disagree. Treat the slice as
// read-only.
//
//go:embed schema/report-v1.schema.json
var JSONSchema []byte
