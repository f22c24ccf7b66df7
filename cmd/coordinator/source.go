package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/surgeload/surge/internal/exitcode"
	"github.com/surgeload/surge/scenario"
	"github.com/surgeload/surge/targets"
)

// stdinArg is the scenario argument that reads the scenario from standard
// input; stdinName names it in messages (<stdin>:LINE:COL: …).
const (
	stdinArg  = "-"
	stdinName = "<stdin>"
)

// displayName is how messages name the scenario at path.
func displayName(path string) string {
	if path == stdinArg {
		return stdinName
	}
	return path
}

// scenarioOptions are the checks of a scenario for this build: bundled
// topologies it ships, warnings to stderr.
func scenarioOptions(stderr io.Writer) scenario.Options {
	return scenario.Options{
		IsBundled: func(name string) bool {
			_, ok := targets.Describe(name)
			return ok
		},
		Warn: func(e *scenario.Error) { fmt.Fprintf(stderr, "warning: %v\n", e) },
	}
}

// loadScenario loads the scenario file at path, or with path "-" the
// scenario on stdin: read up to scenario.MaxFileSize (a larger input is
// refused, as a larger file is), with the data files and client TLS files
// it names taken relative to the working directory.
func loadScenario(path string, stdin io.Reader, stderr io.Writer) (*scenario.Scenario, error) {
	opts := scenarioOptions(stderr)
	var sc *scenario.Scenario
	var err error
	if path == stdinArg {
		src, rerr := io.ReadAll(io.LimitReader(stdin, scenario.MaxFileSize+1))
		if rerr != nil {
			return nil, fail(exitcode.Invalid, fmt.Errorf("read scenario from stdin: %w", rerr))
		}
		opts.ReadFile = readWorkingDir
		sc, err = scenario.Parse(stdinName, src, opts)
	} else {
		sc, err = scenario.Load(path, opts)
	}
	if err != nil {
		if errors.Is(err, scenario.ErrInvalid) {
			return nil, invalidScenario(displayName(path), err, stderr)
		}
		return nil, fail(exitcode.Invalid, err)
	}
	return sc, nil
}

// readWorkingDir reads a data file of a scenario from stdin: relative to
// the working directory and only inside it (as a file's data files are
// read inside its directory), at most one byte past the bound.
func readWorkingDir(name string) ([]byte, error) {
	f, err := os.OpenInRoot(".", name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, scenario.MaxDataFileSize+1))
}

// source is where the scenario of a command comes from: a file, stdin
// ("-"), or the ad-hoc flags.
type source struct {
	// path is the scenario argument: a file, or "-" for stdin.
	path  string
	stdin io.Reader
	// adhoc, when active, makes the scenario from flags; timeout is then
	// written as its client.timeout (when not empty).
	adhoc   *adhocFlags
	timeout string
}

// isAdhoc reports whether the scenario comes from the ad-hoc flags.
func (s source) isAdhoc() bool { return s.adhoc != nil && s.adhoc.active() }

// name is how messages name the scenario.
func (s source) name() string {
	if s.isAdhoc() {
		return adhocName
	}
	return displayName(s.path)
}

// load reads and checks the scenario; problems are printed one per line
// and the error carries exit code 2.
func (s source) load(stderr io.Writer) (*scenario.Scenario, error) {
	if s.isAdhoc() {
		return s.adhoc.load(s.timeout, stderr)
	}
	return loadScenario(s.path, s.stdin, stderr)
}

// invalid reports err, problems of the loaded scenario found later (its
// schedules, its compilation): in terms of the flags for an ad-hoc
// scenario, else one per line with its position.
func (s source) invalid(err error, stderr io.Writer) error {
	if s.isAdhoc() {
		return adhocInvalid(err, stderr)
	}
	return invalidScenario(s.name(), err, stderr)
}
