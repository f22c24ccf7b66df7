//go:build reference

package reporters

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
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
// with its stage's tag, with the report's counts.
func TestHlogReadByReference(t *testing.T) {
	r := writersReport(t)
	r.Stages[0].Started = hlogStart.Add(2500 * time.Millisecond)
	var b bytes.Buffer
	if err := WriteHlog(&b, r, hlogStart); err != nil {
		t.Fatal(err)
	}
	got := readWithJS(t, b.Bytes(), "50,99")
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
				k++
			}
		}
	}
	if k != len(got) {
		t.Errorf("hdr-histogram-js read %d intervals; want %d", len(got), k)
	}
}
