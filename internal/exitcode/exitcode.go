package exitcode

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes, documented in the README.
const (
	OK = 0
	// ThresholdsFailed: the run was carried out and a threshold failed.
	ThresholdsFailed = 1
	// Invalid: invalid input or usage; the message says what and where.
	Invalid = 2
	// CannotRun: the work could not be carried out (no agents, target
	// unreachable, listen failure, agent lost).
	CannotRun = 3
	// InvalidRun: the run was carried out but cannot be judged: a
	// threshold had no samples, the generator limited a stage, or a stage
	// was not played fully. An invalid run never reports a pass.
	InvalidRun = 4
)

// Error carries an exit code with an error.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// New wraps err with an exit code.
func New(code int, err error) error { return &Error{Code: code, Err: err} }

// Execute runs cmd with args and returns the exit code. An error that
// carries no code comes from cobra itself (unknown flag or command, wrong
// argument count) and is a usage error.
func Execute(cmd *cobra.Command, args []string, stdout, stderr io.Writer) int {
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.Execute()
	if err == nil {
		return OK
	}
	fmt.Fprintf(stderr, "error: %s\n", oneLine(err.Error()))
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return Invalid
}

// oneLine joins a multi-line message (errors.Join) into one line.
func oneLine(s string) string {
	return strings.Join(strings.Split(strings.TrimSpace(s), "\n"), "; ")
}
