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

// TestHlogStreamReadByReference: the latency.hlog a run writes as it plays
// (HlogWriter), read by hdr-histogram-js: per interval the untagged and
// stage lines, a line per request name (Tag=STAGE/REQUEST), and the
// stage's service time, send lag and on-wire lag (Tag=STAGE:KIND), each
// with the counts and nearest-rank percentiles Surge has for them.
func TestHlogStreamReadByReference(t *testing.T) {
	g := metrics.DefaultGeometry()
	names := []string{"get", "post /x"}
	iv := metrics.NewInterval(g, 2)
	iv.Index = 3
	for i := int64(1); i <= 400; i++ {
		s := &iv.Series[i%2]
		_ = s.Response.RecordValue(i * 1_000_000)
		_ = s.Service.RecordValue(i * 700_000)
		_ = iv.SendLag.RecordValue(i * 1_000)
		_ = iv.OnWireLag.RecordValue(i * 3_000)
		// Phases: ttfb and read for every request, connect for one in
		// ten of request 0's (its new connections); no dns, tls, write.
		_ = s.TTFB.RecordValue(i * 400_000)
		if s.Phases[metrics.PhaseRead] == nil {
			s.Phases[metrics.PhaseRead] = g.New()
		}
		_ = s.Phases[metrics.PhaseRead].RecordValue(i * 250_000)
		if i%20 == 0 {
			if s.Phases[metrics.PhaseConnect] == nil {
				s.Phases[metrics.PhaseConnect] = g.New()
			}
			_ = s.Phases[metrics.PhaseConnect].RecordValue(i * 10_000)
		}
	}
	started := hlogStart.Add(1500 * time.Millisecond)
	var b bytes.Buffer
	w := NewHlogWriter(&b, "r1", "stream", hlogStart)
	if err := w.Interval("stage a", started, 500*time.Millisecond, names, iv); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	all := iv.Select(-1)
	want := []struct {
		tag string
		h   interface {
			TotalCount() int64
		}
		q func(float64) int64
	}{
		{"", all.Response, func(p float64) int64 { return metrics.ValueAtPercentile(all.Response, p) }},
		{"stage_a", all.Response, func(p float64) int64 { return metrics.ValueAtPercentile(all.Response, p) }},
		{"stage_a/get", iv.Series[0].Response, func(p float64) int64 { return metrics.ValueAtPercentile(iv.Series[0].Response, p) }},
		{"stage_a/post_/x", iv.Series[1].Response, func(p float64) int64 { return metrics.ValueAtPercentile(iv.Series[1].Response, p) }},
		{"stage_a:service_time", all.Service, func(p float64) int64 { return metrics.ValueAtPercentile(all.Service, p) }},
		{"stage_a:send_lag", iv.SendLag, func(p float64) int64 { return metrics.ValueAtPercentile(iv.SendLag, p) }},
		{"stage_a:on_wire_lag", iv.OnWireLag, func(p float64) int64 { return metrics.ValueAtPercentile(iv.OnWireLag, p) }},
	}
	// Then the phases with values, all requests, then each.
	for _, ph := range []struct {
		tag string
		s   *metrics.Series
	}{{"stage_a", &all}, {"stage_a/get", &iv.Series[0]}, {"stage_a/post_/x", &iv.Series[1]}} {
		for _, name := range PhaseNames {
			h := ph.s.TTFB
			if p, ok := metrics.ParsePhase(name); ok {
				h = ph.s.Phases[p]
			}
			if h == nil || h.TotalCount() == 0 {
				continue
			}
			want = append(want, struct {
				tag string
				h   interface {
					TotalCount() int64
				}
				q func(float64) int64
			}{ph.tag + "#" + name, h, func(p float64) int64 { return metrics.ValueAtPercentile(h, p) }})
		}
	}
	if n := len(want); n != 7+3+3+2 {
		t.Fatalf("%d lines expected; the test's data should give 15", n)
	}
	got := readWithJS(t, b.Bytes(), "50,99,99.9,100")
	if len(got) != len(want) {
		t.Fatalf("hdr-histogram-js read %d intervals; want %d: %+v", len(got), len(want), got)
	}
	at := started.Add(3 * 500 * time.Millisecond).UnixMilli()
	for k, w := range want {
		gk := got[k]
		if gk.Tag != w.tag || gk.Start != at || gk.End != at+500 || gk.Count != w.h.TotalCount() {
			t.Errorf("line %d: %+v; want tag %q from %d to %d with %d values", k, gk, w.tag, at, at+500, w.h.TotalCount())
		}
		for _, q := range []float64{50, 99, 99.9, 100} {
			key := strconv.FormatFloat(q, 'f', -1, 64)
			if gk.Values[key] != float64(w.q(q)) {
				t.Errorf("line %d (%s): p%s = %v by hdr-histogram-js, %v by Surge", k, w.tag, key, gk.Values[key], w.q(q))
			}
		}
	}
}
