package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/surgeload/surge/internal/exitcode"
	"github.com/surgeload/surge/reporters"
)

// newReport is `coordinator report`: any format rendered again from a
// saved report.json.
func newReport(stdout, _ io.Writer) *cobra.Command {
	var (
		out     string
		formats []string
	)
	cmd := &cobra.Command{
		Use:   "report DIR|report.json",
		Short: "Render a saved report again: the summary, or any format into --out",
		Long: `Report reads a report.json (or the --out directory of a run holding one),
checks it (schema, balanced counts) and renders it again. Without --out it
prints the terminal summary, verdict included; with --out it writes each
--format into that directory, exactly as run would have.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := checkFormats(formats); err != nil {
				return fail(exitcode.Invalid, err)
			}
			rep, err := loadReport(args[0])
			if err != nil {
				return err
			}
			if rep.Verdict == "" {
				rep.Judge() // a report from before verdicts
			}
			if out == "" {
				if err := reporters.WriteText(stdout, rep); err != nil {
					return fail(exitcode.CannotRun, err)
				}
				return nil
			}
			paths, err := writeReports(out, rep, formats)
			if err != nil {
				return fail(exitcode.CannotRun, err)
			}
			fmt.Fprintf(stdout, "report: %s\n", strings.Join(paths, ", "))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "directory to write the formats into (default: print the summary)")
	f.StringSliceVar(&formats, "format", defaultFormats, "formats written into --out: json, csv, junit, hlog, html, text")
	return cmd
}
