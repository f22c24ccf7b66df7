package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCheckOut: --out must be creatable, writable and big enough before
// any load is sent.
func TestCheckOut(t *testing.T) {
	dir := t.TempDir()
	if err := checkOut(filepath.Join(dir, "new", "sub"), 1<<20); err != nil {
		t.Errorf("a new directory: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "new", "sub")); len(entries) != 0 {
		t.Errorf("the check left %d files behind", len(entries))
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := checkOut(filepath.Join(file, "sub"), 0); err == nil || !strings.Contains(err.Error(), "--out") {
		t.Errorf("--out under a regular file: %v; want an error naming --out", err)
	}
	if err := checkOut(dir, math.MaxInt64); err == nil || !strings.Contains(err.Error(), "free") {
		t.Errorf("more than the disk holds: %v; want a free-space error", err)
	}
	// A day of 1 s intervals at one name: about 0.5 GB (the measured
	// report.json and latency.hlog together are 478 MB).
	if got := reportSize(24*time.Hour, time.Second, 1); got < 450<<20 || got > 600<<20 {
		t.Errorf("reportSize(24h, 1s, 1 name) = %d MiB", got>>20)
	}
}

// TestRunOutUnwritable: a run whose --out cannot be written fails before
// T0, with the cannot-run code and no report.
func TestRunOutUnwritable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "run", writeFile(t, "q.yaml", quick), "--gossip-listen", "127.0.0.1:0", "--out", filepath.Join(file, "out"), "-q")
	if code != 3 || !strings.Contains(stderr, "--out") || strings.Contains(stdout, "stage echo") {
		t.Errorf("exit %d; want 3 before the run, naming --out\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

// TestRunSecondaryFormatFails: a format that cannot be written is a
// warning; report.json and the others are written and the exit code is
// the verdict's.
func TestRunSecondaryFormatFails(t *testing.T) {
	out := t.TempDir()
	if err := os.Mkdir(filepath.Join(out, "report.html"), 0o755); err != nil { // a directory where the file goes
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "report.html", "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "run", writeFile(t, "q.yaml", quick), "--gossip-listen", "127.0.0.1:0", "--out", out, "-q", "--max-send-lag", "1s")
	if code != 0 || !strings.Contains(stderr, "warning: write report.html") {
		t.Errorf("exit %d; want 0 with a warning about report.html\nstderr:\n%s", code, stderr)
	}
	for _, f := range []string{"report.json", "timeseries.csv", "junit.xml", "latency.hlog"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if strings.Contains(stdout, "report.html") {
		t.Errorf("the summary lists report.html as written:\n%s", stdout)
	}
}
