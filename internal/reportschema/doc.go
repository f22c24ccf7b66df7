// Package reportschema validates a report.json against its JSON Schema,
// reporters.JSONSchema (surge.report/v1), with a full draft 2020-12
// validator: every object closed, types, formats (date-time), minimums
// and enums checked.
//
//	data, _ := os.ReadFile("surge-results/report.json")
//	if err := reportschema.Validate(data); err != nil {
//		log.Fatal(err) // report does not match the schema surge.report/v1: at '/stages/0/intended': ...
//	}
//
// It is for tests and tools: the schema is compiled once, on first use,
// and Validate is safe for concurrent use. It checks the shape of a
// report, not its arithmetic: reporters.Report.Check verifies that the
// counts balance.
package reportschema
