package scenario

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/bad")

// TestGoldenProblems loads each testdata/bad/*.yaml and compares every
// error and warning, as validate prints them, with the file's .golden
// companion. Run with -update to rewrite the golden files after a
// deliberate change of the messages, and review the diff.
func TestGoldenProblems(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/bad files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			var b strings.Builder
			_, err := Load(f, Options{
				IsBundled: func(name string) bool { return name == "echo" },
				Warn:      func(e *Error) { b.WriteString("warning: " + e.Error() + "\n") },
			})
			if err == nil {
				t.Fatalf("Load(%s) = nil; want problems", f)
			}
			got := err.Error() + "\n" + b.String()
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("Load(%s) problems:\n%s\nwant (%s):\n%s", f, got, golden, want)
			}
		})
	}
}
