package exitcode

import (
	"bytes"
	"errors"
	"testing"

	"github.com/spf13/cobra"
)

func TestExecute(t *testing.T) {
	tests := []struct {
		name string
		err  error
		args []string
		code int
		want string
	}{
		{"ok", nil, nil, OK, ""},
		{"coded", New(CannotRun, errors.New("no agents")), nil, CannotRun, "error: no agents\n"},
		{"joined", New(Invalid, errors.Join(errors.New("a"), errors.New("b"))), nil, Invalid, "error: a; b\n"},
		{"cobra usage", nil, []string{"--nope"}, Invalid, "error: unknown flag: --nope\n"},
	}
	for _, tt := range tests {
		cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return tt.err }}
		var out, errb bytes.Buffer
		if code := Execute(cmd, tt.args, &out, &errb); code != tt.code || errb.String() != tt.want {
			t.Errorf("%s: exit %d, stderr %q; want %d, %q", tt.name, code, errb.String(), tt.code, tt.want)
		}
	}
}
