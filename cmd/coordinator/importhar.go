package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/surgeload/surge/internal/exitcode"
	"github.com/surgeload/surge/internal/har"
)

// newImport is `coordinator import`: scenarios made from recordings.
func newImport(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Make a scenario from a recording (import har)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newImportHAR(stdout, stderr))
	return cmd
}

// newImportHAR is `coordinator import har FILE.har`.
func newImportHAR(stdout, stderr io.Writer) *cobra.Command {
	var (
		opts har.Options
		out  string
	)
	cmd := &cobra.Command{
		Use:   "har FILE.har",
		Short: "Turn a browser recording (HAR 1.2) into a journey scenario",
		Long: `Import har reads a browser recording (an HTTP Archive, HAR 1.2: the
browser's developer tools, Network tab, "Save all as HAR"; "-" reads standard
input) and writes a journey scenario that plays it: one step per request in
the order they started, think times from the recorded pauses, and tokens an
earlier response returned (a JSON field, a response header) extracted and
reused as {{var NAME}} where later requests sent them.

Static assets (CSS, JavaScript, images, fonts, media, source maps) are
dropped unless --keep-assets; so are CORS preflights, requests that got no
response, and the headers the client, the cookie jar or the browser set
(Cookie, User-Agent, Sec-*, Accept-Encoding, …). The scenario's header
comment and stderr say what was dropped and which values became variables.

The load is --rate journeys per second for --duration, low by default: read
the scenario, then run it (agents dial only loopback targets unless
--allow-target allows the recorded hosts).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return importHAR(args[0], out, opts, cmd.InOrStdin(), stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.KeepAssets, "keep-assets", false, "keep static assets (CSS, JavaScript, images, fonts, media, source maps) as steps")
	f.StringVarP(&out, "output", "o", "-", `write the scenario to this file ("-": standard output)`)
	f.StringVar(&opts.Rate, "rate", har.DefaultRate, "journeys started per second, like 1/s or 30/m")
	f.StringVar(&opts.Duration, "duration", har.DefaultDuration, "how long the load lasts, like 1m")
	f.StringVar(&opts.Name, "name", har.DefaultName, "the scenario's name")
	return cmd
}

// importHAR reads the archive at path ("-": stdin), converts it and writes
// the scenario to out ("-": stdout); the summary goes to stderr.
func importHAR(path, out string, opts har.Options, stdin io.Reader, stdout, stderr io.Writer) error {
	name := path
	var r io.Reader = stdin
	if path == "-" {
		name = "standard input"
		opts.Source = name
	} else {
		f, err := os.Open(path)
		if err != nil {
			return fail(exitcode.Invalid, err)
		}
		defer f.Close()
		r = f
		opts.Source = filepath.Base(path)
	}
	h, err := har.Decode(r)
	if err != nil {
		if !errors.Is(err, har.ErrInvalid) {
			return fail(exitcode.Invalid, fmt.Errorf("read %s: %w", name, err))
		}
		// Each problem with the file's name before its position
		// (FILE:LINE:COL: …); several are listed one per line, then
		// counted in the one-line error.
		lines := strings.Split(err.Error(), "\n")
		for i, l := range lines {
			if l != "" && l[0] >= '0' && l[0] <= '9' {
				lines[i] = name + ":" + l
			} else {
				lines[i] = name + ": " + l
			}
		}
		if len(lines) == 1 {
			return fail(exitcode.Invalid, errors.New(lines[0]))
		}
		fmt.Fprintln(stderr, strings.Join(lines, "\n"))
		return fail(exitcode.Invalid, fmt.Errorf("%s: %d problems in the HAR file", name, len(lines)))
	}
	yaml, sum, err := har.Convert(h, opts)
	if err != nil {
		return fail(exitcode.Invalid, fmt.Errorf("%s: %w", name, err))
	}
	for _, l := range sum.Lines() {
		fmt.Fprintf(stderr, "import: %s\n", l)
	}
	if out == "-" {
		if _, err := stdout.Write(yaml); err != nil {
			return fail(exitcode.CannotRun, err)
		}
		return nil
	}
	written, err := writeFileAtomic(filepath.Dir(out), filepath.Base(out), func(w io.Writer) error {
		_, err := w.Write(yaml)
		return err
	})
	if err != nil {
		return fail(exitcode.CannotRun, err)
	}
	fmt.Fprintf(stderr, "import: wrote %s; check it with `coordinator validate %s`\n", written, written)
	return nil
}
