//go:build reference

package reporters

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/metrics"
)

// jsInterval is one interval as hdr-histogram-js read it (tools/hdrjs).
type jsInterval struct {
	Tag        string             `json:"tag"`
	Start, End int64              // ms since the epoch
	Count      int64              `json:"count"`
	Values     map[string]float64 `json:"values"`
}

// readWithJS reads an interval log with HdrHistogram's JavaScript port.
func readWithJS(t *testing.T, log []byte, percentiles string) []jsInterval {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is needed for the reference check: %v", err)
	}
	path := filepath.Join(t.TempDir(), "latency.hlog")
	if err := os.WriteFile(path, log, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join("..", "tools", "hdrjs", "read.js"), path, percentiles)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hdr-histogram-js (make reference-check installs it): %v\n%s", err, stderr.String())
	}
	var ivs []jsInterval
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var iv jsInterval
		if err := json.Unmarshal(sc.Bytes(), &iv); err != nil {
			t.Fatalf("%s: %v", sc.Text(), err)
		}
		ivs = append(ivs, iv)
	}
	return ivs
}

// TestHlogReadByReference: latency.hlog read by hdr-histogram-js gives
// every interval at its real instant, untagged for the whole run and then
// with its stage's tag, with the report's counts; and its
// getValueAtPercentile agrees with Surge's on every interval.
func TestHlogReadByReference(t *testing.T) {
	r := writersReport(t)
	r.Stages[0].Started = hlogStart.Add(2500 * time.Millisecond)
	// The case: 1,600 responses of 1..1,600 ms, where a half-up
	// rank reads p99.9 one value low.
	ms := make([]int64, 1600)
	for i := range ms {
		ms[i] = int64(i+1) * 1_000_000
	}
	r.Stages[1].Intervals[1].Histogram = testHist(t, ms...)
	var b bytes.Buffer
	if err := WriteHlog(&b, r, hlogStart); err != nil {
		t.Fatal(err)
	}
	got := readWithJS(t, b.Bytes(), "50,75,90,95,99,99.9,100")
	starts := []int64{hlogStart.UnixMilli() + 2500, hlogStart.UnixMilli() + 3500}
	var k int
	for si, s := range r.Stages {
		for _, iv := range s.Intervals {
			if iv.Histogram == "" {
				continue
			}
			h, err := decodeHistogram(iv.Histogram)
			if err != nil {
				t.Fatal(err)
			}
			at := starts[si] + int64(iv.TS*1000)
			for _, tag := range []string{"", hlogTag(s.Name)} {
				if k >= len(got) {
					t.Fatalf("hdr-histogram-js read %d intervals; want more", len(got))
				}
				g := got[k]
				if g.Tag != tag || g.Start != at || g.End != at+500 || g.Count != h.TotalCount() {
					t.Errorf("interval %d: %+v; want tag %q from %d to %d with %d values", k, g, tag, at, at+500, h.TotalCount())
				}
				// Surge's percentiles are HdrHistogram's own (nearest rank).
				for _, q := range []float64{50, 75, 90, 95, 99, 99.9, 100} {
					key := strconv.FormatFloat(q, 'f', -1, 64)
					if want := float64(metrics.ValueAtPercentile(h, q)); g.Values[key] != want {
						t.Errorf("interval %d: p%s = %v by hdr-histogram-js, %v by Surge", k, key, g.Values[key], want)
					}
				}
				k++
			}
		}
	}
	if k != len(got) {
		t.Errorf("hdr-histogram-js read %d intervals; want %d", len(got), k)
	}
}
