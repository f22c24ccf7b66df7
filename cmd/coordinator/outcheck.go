package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Bytes a run's reports take, per interval: about 2 KB of report.json and
// 4 KB of latency.hlog for the first request name and 2 KB for each
// other, measured on a day of 1 s intervals (bench/SOAK.md: 159 MB of
// report.json and 319 MB of latency.hlog for 86,400 intervals of one
// name); plus a fixed allowance for the rest.
const (
	reportBytesPerInterval = 6 << 10
	reportBytesPerName     = 2 << 10
	reportBytesFixed       = 1 << 20
)

// reportSize estimates the bytes the reports of a run of length d at
// intervals of step, with names request names, take in --out.
func reportSize(d, step time.Duration, names int) int64 {
	if step <= 0 {
		step = time.Second
	}
	intervals := int64(d/step) + 1
	return intervals*(reportBytesPerInterval+int64(max(names-1, 0))*reportBytesPerName) + reportBytesFixed
}

// checkOut makes sure the reports can be written into dir before any load
// is sent: it creates dir, writes and removes a file there, and checks the
// file system has room for need bytes (where it can tell). An hour of
// load must not end with nowhere to put its report.
func checkOut(dir string, need int64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	probe := filepath.Join(dir, ".surge-write-check")
	if err := os.WriteFile(probe, []byte("surge\n"), 0o644); err != nil {
		return fmt.Errorf("--out %s is not writable: %w", dir, err)
	}
	if err := os.Remove(probe); err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	free, err := freeBytes(dir)
	if errors.Is(err, errNoStatfs) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("--out %s: free space: %w", dir, err)
	}
	if free < need {
		return fmt.Errorf("--out %s has %s free, and this run's reports take about %s: free some space, choose another --out, or write fewer --format",
			dir, mib(free), mib(need))
	}
	return nil
}

var errNoStatfs = errors.New("free space unknown on this system")

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
