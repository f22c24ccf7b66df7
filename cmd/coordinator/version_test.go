package main

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"
)

// TestVersion: --version prints one line naming the program and the Go
// toolchain, and exits 0 before any other flag is checked.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		out := stdout.String()
		if code != 0 || !strings.HasPrefix(out, "coordinator ") || !strings.Contains(out, runtime.Version()) || strings.Count(out, "\n") != 1 {
			t.Errorf("run(%q) = %d, stdout %q, stderr %q; want 0 and one line \"coordinator VERSION … %s …\"", args, code, out, stderr.String(), runtime.Version())
		}
	}
}
