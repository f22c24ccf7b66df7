package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/surgeload/surge/internal/exitcode"
	"github.com/surgeload/surge/scenario"
)

// adhocName names the scenario the ad-hoc flags make, in messages that
// have no flag to name.
const adhocName = "<flags>"

// Defaults of the ad-hoc flags: a light load that ends by itself.
const (
	defaultAdhocRate     = "50/s"
	defaultAdhocDuration = "10s"
)

// adhocFlags are the flags that describe a one-request scenario on the
// command line, the way hey or vegeta are used: --url, and optionally the
// rate, duration, method, headers, body and thresholds. They make a
// scenario through the same YAML decoder and checks as a file (see yaml),
// so everything a file may not do, they may not do either.
type adhocFlags struct {
	url, rate, duration, method, body, timeout string
	headers, thresholds                        []string
	// flags says which of them were given (Changed), by name.
	flags *pflag.FlagSet
}

// adhocFlagNames are the ad-hoc flags but --url (and --timeout, which run
// shares with scenario files).
var adhocFlagNames = []string{"rate", "duration", "method", "header", "body", "threshold"}

// register adds the ad-hoc flags to f. withTimeout adds --timeout
// (validate; run has its own --timeout, which the ad-hoc scenario uses).
func (a *adhocFlags) register(f *pflag.FlagSet, withTimeout bool) {
	a.flags = f
	f.StringVar(&a.url, "url", "", "ad-hoc mode, without a scenario file: the URL to load (http or https, with path and query)")
	f.StringVar(&a.rate, "rate", defaultAdhocRate, "ad-hoc mode: arrivals per second, constant (like 500/s or 2k/s)")
	f.StringVar(&a.duration, "duration", defaultAdhocDuration, "ad-hoc mode: how long the load plays")
	f.StringVar(&a.method, "method", "GET", "ad-hoc mode: the HTTP method")
	f.StringArrayVar(&a.headers, "header", nil, `ad-hoc mode: a request header, "Name: value" (repeatable)`)
	f.StringVar(&a.body, "body", "", "ad-hoc mode: the request body, or @FILE for a file's contents (a template, as in a scenario)")
	f.StringArrayVar(&a.thresholds, "threshold", nil, `ad-hoc mode: a threshold the run must meet, like "p99 < 250ms" (repeatable)`)
	if withTimeout {
		f.StringVar(&a.timeout, "timeout", "", "ad-hoc mode: the per-request timeout (client.timeout)")
	}
}

// active reports whether --url was given.
func (a *adhocFlags) active() bool { return a.flags.Changed("url") }

// check refuses a mix of a scenario argument and ad-hoc flags, and
// ad-hoc flags without --url.
func (a *adhocFlags) check(args []string) error {
	if a.active() {
		if len(args) > 0 {
			return fmt.Errorf("--url makes a scenario from flags: give --url or a scenario file (%s), not both", args[0])
		}
		return nil
	}
	var stray []string
	for _, n := range adhocFlagNames {
		if a.flags.Changed(n) {
			stray = append(stray, "--"+n)
		}
	}
	if len(stray) > 0 {
		return fmt.Errorf("%s: only with --url (ad-hoc mode); a scenario file sets these itself", strings.Join(stray, ", "))
	}
	if len(args) == 0 {
		return errors.New("give a scenario file, - to read it from stdin, or --url for an ad-hoc run")
	}
	return nil
}

// maxAdhocBody bounds --body @FILE: the scenario it goes into is bounded
// by scenario.MaxFileSize.
const maxAdhocBody = scenario.MaxFileSize

// yaml is the scenario the flags stand for, as a scenario file: what
// `validate --url … --print-scenario` prints. timeout, when not empty,
// is written as client.timeout. Problems that the YAML cannot carry (a
// URL that does not parse, a header without a colon, an unreadable body
// file) are returned, each naming its flag.
func (a *adhocFlags) yaml(timeout string) ([]byte, error) {
	var errs []error
	u, err := url.Parse(a.url)
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("--url %q: %w", a.url, err))
	case u.Scheme != "http" && u.Scheme != "https":
		errs = append(errs, fmt.Errorf("--url %q: want an http:// or https:// URL", a.url))
	case u.Host == "":
		errs = append(errs, fmt.Errorf("--url %q: no host", a.url))
	case u.User != nil:
		errs = append(errs, fmt.Errorf("--url %q: credentials in the URL are not supported; send them with --header", a.url))
	}
	headers := map[string]string{}
	var order []string
	for _, h := range a.headers {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			errs = append(errs, fmt.Errorf("--header %q: want \"Name: value\"", h))
			continue
		}
		if _, dup := headers[name]; !dup {
			order = append(order, name)
		}
		headers[name] = strings.TrimSpace(value)
	}
	body := a.body
	if rest, ok := strings.CutPrefix(body, "@"); ok {
		b, err := readBounded(rest, maxAdhocBody)
		if err != nil {
			errs = append(errs, fmt.Errorf("--body @%s: %w", rest, err))
		}
		body = string(b)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	var b bytes.Buffer
	q := func(s string) string { return quoteYAML(s) }
	b.WriteString("# The scenario of an ad-hoc run (coordinator run --url …): save it, edit it,\n# and run it with `coordinator run FILE`.\n")
	fmt.Fprintf(&b, "name: %s\n", q("ad-hoc "+strings.ToUpper(a.method)+" "+a.url))
	fmt.Fprintf(&b, "stages:\n  - url: %s\n", q(u.Scheme+"://"+u.Host))
	target := u.EscapedPath()
	if target == "" {
		target = "/"
	}
	if u.RawQuery != "" {
		target += "?" + u.RawQuery
	}
	fmt.Fprintf(&b, "requests:\n  - method: %s\n    path: %s\n", q(a.method), q(target))
	if len(order) > 0 {
		b.WriteString("    headers:\n")
		for _, n := range order {
			fmt.Fprintf(&b, "      %s: %s\n", q(n), q(headers[n]))
		}
	}
	if body != "" {
		fmt.Fprintf(&b, "    body: %s\n", q(body))
	}
	fmt.Fprintf(&b, "load:\n  constant: {rate: %s, duration: %s}\n", q(a.rate), q(a.duration))
	if timeout != "" {
		fmt.Fprintf(&b, "client:\n  timeout: %s\n", q(timeout))
	}
	if len(a.thresholds) > 0 {
		b.WriteString("thresholds:\n")
		for _, t := range a.thresholds {
			fmt.Fprintf(&b, "  - %s\n", q(t))
		}
	}
	return b.Bytes(), nil
}

// quoteYAML writes s as a YAML double-quoted scalar (JSON's string syntax,
// which YAML's double-quoted style includes), so no value of a flag can
// change the structure of the file.
func quoteYAML(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// readBounded reads the file at path, refusing one larger than limit.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than the %d MiB limit", limit>>20)
	}
	return b, nil
}

// adhocFlagOf names the flag that wrote the value at a scenario path of
// the ad-hoc scenario, or "" when no flag did.
func adhocFlagOf(path string) string {
	for _, m := range []struct{ prefix, flag string }{
		{"stages", "--url"},
		{"requests[0].method", "--method"},
		{"requests[0].path", "--url"},
		{"requests[0].url", "--url"},
		{"requests[0].headers", "--header"},
		{"requests[0].body", "--body"},
		{"requests", "--url"},
		{"load.constant.rate", "--rate"},
		{"load.constant.duration", "--duration"},
		{"client.timeout", "--timeout"},
		{"thresholds", "--threshold"},
		{"safety.max_rate", "--rate"},
		{"safety.max_duration", "--duration"},
	} {
		if strings.HasPrefix(path, m.prefix) {
			return m.flag
		}
	}
	return ""
}

// adhocProblem says one problem of the ad-hoc scenario in terms of the
// flag that caused it ("--rate: rate must be > 0"), else with its place
// in the scenario that --print-scenario shows.
func adhocProblem(e *scenario.Error) string {
	if f := adhocFlagOf(e.Path); f != "" {
		return f + ": " + e.Message
	}
	if e.Path != "" {
		return adhocName + ": " + e.Path + ": " + e.Message
	}
	return adhocName + ": " + e.Message
}

// load parses the ad-hoc scenario; problems are printed to stderr one per
// line, each naming its flag, and the error (exit code 2) counts them.
func (a *adhocFlags) load(timeout string, stderr io.Writer) (*scenario.Scenario, error) {
	src, err := a.yaml(timeout)
	if err != nil {
		return nil, adhocInvalid(err, stderr)
	}
	return parseAdhoc(src, stderr)
}

// parseAdhoc parses the YAML of the ad-hoc flags, problems and warnings
// in terms of the flags.
func parseAdhoc(src []byte, stderr io.Writer) (*scenario.Scenario, error) {
	opts := scenarioOptions(stderr)
	opts.Warn = func(e *scenario.Error) { fmt.Fprintf(stderr, "warning: %s\n", adhocProblem(e)) }
	sc, err := scenario.Parse(adhocName, src, opts)
	if err != nil {
		return nil, adhocInvalid(err, stderr)
	}
	return sc, nil
}

// adhocInvalid prints every problem of err, one per line, in terms of the
// flags, and returns the summary (exit code 2).
func adhocInvalid(err error, stderr io.Writer) error {
	var lines []string
	var walk func(error)
	walk = func(err error) {
		if e, ok := err.(*scenario.Error); ok {
			lines = append(lines, adhocProblem(e))
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		lines = append(lines, err.Error())
	}
	walk(err)
	for _, l := range lines {
		fmt.Fprintln(stderr, l)
	}
	return fail(exitcode.Invalid, fmt.Errorf("%d problem(s) with the ad-hoc flags", len(lines)))
}
