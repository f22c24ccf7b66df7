package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/surgeload/surge/internal/exitcode"
)

// realReport is the report.json of a real two-second run of the bundled
// echo target (two agents, two requests, two intervals).
func realReport(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// damageHistogram replaces the n-th histogram of a report.json with s.
func damageHistogram(t testing.TB, report []byte, n int, s string) []byte {
	t.Helper()
	const key = `"histogram": "`
	at := 0
	for range n + 1 {
		i := bytes.Index(report[at:], []byte(key))
		if i < 0 {
			t.Fatalf("report has fewer than %d histograms", n+1)
		}
		at += i + len(key)
	}
	end := at + bytes.IndexByte(report[at:], '"')
	return append(append(append([]byte(nil), report[:at]...), s...), report[end:]...)
}

// wideHistogram is a valid histogram of a geometry no report may carry
// (up to 48 h).
func wideHistogram(t testing.TB) string {
	t.Helper()
	b, err := hdrhistogram.New(1, int64(48*time.Hour), 3).Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// reportCommand runs `coordinator report DIR --out OUT` in-process on a
// report.json holding in.
func reportCommand(t *testing.T, in []byte) (code int, stderr, out string) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "report.json"), in, 0o644); err != nil {
		t.Fatal(err)
	}
	out = filepath.Join(dir, "out")
	var stdout, errb bytes.Buffer
	code = run(context.Background(), []string{"report", dir, "--out", out}, &stdout, &errb)
	return code, errb.String(), out
}

// TestReportDamagedHistogram: a report.json whose histogram does not
// decode is refused when it is read, with exit code 2 and an error naming
// the file, the stage and the interval; nothing is written.
func TestReportDamagedHistogram(t *testing.T) {
	real := realReport(t)
	if code, stderr, _ := reportCommand(t, real); code != exitcode.OK {
		t.Fatalf("the real report: exit %d\n%s", code, stderr)
	}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"interval", damageHistogram(t, real, 0, "HISTFAAAAMB42izIMUrzYACA4S9PmpYQQ"),
			"read report: stage echo interval 0 (t_s 0): histogram: bad histogram: decode:"},
		{"stage", damageHistogram(t, real, 2, "not base64!"),
			"read report: stage echo: histogram: bad histogram: decode: illegal base64 data"},
		{"geometry", damageHistogram(t, real, 2, wideHistogram(t)),
			"read report: stage echo: histogram: bad histogram: highest value 48h0m0s must be <= 24h"},
	}
	for _, tt := range tests {
		code, stderr, out := reportCommand(t, tt.in)
		if line := lastLine(stderr); code != exitcode.Invalid || !strings.Contains(line, "report.json: "+tt.want) {
			t.Errorf("%s: exit %d, %q; want %d and an error containing %q", tt.name, code, line, exitcode.Invalid, tt.want)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%s: --out directory exists (%v); want nothing written", tt.name, err)
		}
	}
}

// FuzzReport: `coordinator report DIR --out OUT` on any report.json never
// panics and ends with exit code 0, 1 or 4 (rendered; the verdict's code)
// or 2 (refused as invalid input), never 3: whatever ReadReport accepts,
// every format renders.
func FuzzReport(f *testing.F) {
	real := realReport(f)
	f.Add(real)
	f.Add(damageHistogram(f, real, 0, "HISTFAAAAMB42izIMUrzYACA4S9PmpYQQ"))
	f.Add(damageHistogram(f, real, 2, wideHistogram(f)))
	f.Add(damageHistogram(f, real, 1, ""))
	f.Add([]byte(`{"schema":"surge.report/v1","stages":[{"name":"a","intended":1,"issued":1,"failed":1,"errors":{"x":1},"intervals":[{"t_s":1e300,"histogram":"HISTFAAA"}]}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, in []byte) {
		code, stderr, _ := reportCommand(t, in)
		switch code {
		case exitcode.OK, exitcode.ThresholdsFailed, exitcode.InvalidRun, exitcode.Invalid:
		default:
			t.Fatalf("exit %d; want 0, 1, 4 or 2\n%s", code, stderr)
		}
	})
}
