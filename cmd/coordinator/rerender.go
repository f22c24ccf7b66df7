package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/surgeload/surge"
	"github.com/surgeload/surge/internal/exitcode"
	"github.com/surgeload/surge/reporters"
)

// newReport is `coordinator report`: any format rendered again from a
// saved report.json.
func newReport(stdout, stderr io.Writer) *cobra.Command {
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
--format into that directory, exactly as run would have.

The verdict is judged again from the report's data with this version's
rules (a note on stderr says so when it differs from the saved one), and
the exit code is the verdict's, as for run: 0 pass, 1 fail, 4 invalid.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := checkFormats(formats); err != nil {
				return fail(exitcode.Invalid, err)
			}
			rep, err := loadReport(args[0])
			if err != nil {
				return err
			}
			rejudge(rep, stderr)
			if out == "" {
				if err := reporters.WriteText(stdout, rep); err != nil {
					return fail(exitcode.CannotRun, err)
				}
			} else {
				formats = keepRunHlog(out, formats, stderr)
				paths, err := writeReports(out, rep, formats, nil, stderr)
				if err != nil {
					return fail(exitcode.CannotRun, err)
				}
				fmt.Fprintf(stdout, "report: %s\n", strings.Join(paths, ", "))
			}
			if code, err := surge.Outcome(rep, nil); code != surge.ExitPass {
				return fail(code, err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "directory to write the formats into (default: print the summary)")
	f.StringSliceVar(&formats, "format", defaultFormats, "formats written into --out: json, csv, junit, hlog, html, text")
	return cmd
}

// keepRunHlog leaves hlog out of formats when out already holds a
// latency.hlog: the run's own has lines report.json cannot give again
// (per request name, service time, send lag, on-wire lag).
func keepRunHlog(out string, formats []string, stderr io.Writer) []string {
	name := reportFormats["hlog"].file
	if !slices.Contains(formats, "hlog") {
		return formats
	}
	if _, err := os.Stat(filepath.Join(out, name)); err != nil {
		return formats
	}
	fmt.Fprintf(stderr, "note: %s kept as the run wrote it (it has more than report.json can render again)\n", filepath.Join(out, name))
	return slices.DeleteFunc(slices.Clone(formats), func(f string) bool { return f == "hlog" })
}

// rejudge sets rep's verdict from its data. A report saved by an older
// version may carry another verdict (or none, from before verdicts): the
// note says which one the run had.
func rejudge(rep *reporters.Report, stderr io.Writer) {
	saved := rep.Verdict
	rep.Judge()
	if saved != "" && saved != rep.Verdict {
		fmt.Fprintf(stderr, "note: the run's saved verdict was %s; judged again from its data it is %s\n", saved, rep.Verdict)
	}
}
