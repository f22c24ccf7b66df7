package reporters

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// testHist encodes a histogram of the given latencies (ns) in the
// report's geometry and encoding.
func testHist(t *testing.T, values ...int64) string {
	t.Helper()
	h := hdrhistogram.New(1000, 3600e9, 3)
	for _, v := range values {
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// spread is n latencies from lo ns rising by step ns, with a tail value.
func spread(n int, lo, step, tail int64) []int64 {
	v := make([]int64, 0, n+1)
	for i := range n {
		v = append(v, lo+int64(i)*step)
	}
	return append(v, tail)
}

// writersReport is sampleReport with per-interval histograms, a second
// stage with thresholds of every outcome, and awkward names to escape.
func writersReport(t *testing.T) *Report {
	t.Helper()
	r := sampleReport()
	s := &r.Stages[0]
	s.Intervals = []Interval{
		{TS: 0, Intended: 500, Issued: 498, Succeeded: 485, Failed: 8, Dropped: 2, P50MS: 0.6, P75MS: 0.85, P95MS: 1.45, P99MS: 12.5, InFlight: 5, SendLagP99MS: 1.1, OnWireLagP99MS: 3.25, CPUS: 0.026,
			P90MS: 1.2, P999MS: 12.5, MaxMS: 12.5, Errors: map[string]uint64{"http_5xx": 6, "timeout": 2},
			Histogram: testHist(t, spread(99, 500_000, 10_000, 12_500_000)...),
			Requests: []IntervalRequest{
				{Name: "read", Intended: 450, Issued: 449, Succeeded: 440, Failed: 8, Dropped: 1, P50MS: 0.55, P75MS: 0.8, P95MS: 1.4, P99MS: 12.5},
				{Name: "write", Intended: 50, Issued: 49, Succeeded: 45, Failed: 0, Dropped: 1, P50MS: 1.25, P75MS: 2.5, P95MS: 7.125, P99MS: 9.75},
			}},
		{TS: 0.5, Intended: 500, Issued: 498, Succeeded: 485, Failed: 7, Dropped: 2, P50MS: 0.625, P75MS: 1.125, P95MS: 1.525, P99MS: 1003.5, InFlight: 5, SendLagP99MS: 0.9, CPUS: 0.026,
			Histogram: testHist(t, spread(49, 600_000, 20_000, 1_003_500_000)...)},
	}
	two := Stage{
		Name: "peak, \"quoted\" <&>", Target: "http://127.0.0.1:8081",
		Intended: 200, Issued: 200, Succeeded: 200, DurationS: 2, IntendedRPS: 100, AchievedRPS: 100,
		Intervals: []Interval{
			{TS: 0, Intended: 100, Issued: 100, Succeeded: 100, P50MS: 2, P75MS: 2.25, P95MS: 2.45, P99MS: 3, SendLagP99MS: 0.05, CPUS: 0.0125,
				Histogram: testHist(t, spread(100, 2_000_000, 10_000, 3_000_000)...)},
			{TS: 0.5, Intended: 0, SendLagP99MS: 1e-7}, // no responses: no histogram, a tiny float
			{TS: 1, Intended: 100, Issued: 100, Succeeded: 100, P50MS: 2.5, P75MS: 2.75, P95MS: 2.95, P99MS: 4, CPUS: 1234567.5,
				Histogram: testHist(t, spread(100, 2_500_000, 10_000, 4_000_000)...)},
		},
		Thresholds: []ThresholdResult{
			{Expr: "p99 < 250ms", Pass: true, Value: 4e6, Measured: "4ms"},
			{Expr: "p50 < 1ms", Value: 2.5e6, Measured: "2.5ms", WindowAtS: ptr(1.0)},
			{Expr: "error_rate < 1% & \"x\"", NoData: true},
			{Expr: "rps > 200", Value: 100},
		},
	}
	r.Stages = append(r.Stages, two)
	r.Thresholds = []ThresholdResult{{Expr: "error_rate < 1%", Value: 0.0152, Measured: "1.52%"}} // over the whole run
	r.Judge()
	return r
}

func ptr(f float64) *float64 { return &f }

var hlogStart = time.Date(2026, 11, 23, 4, 0, 0, 250e6, time.UTC)

func TestWriteCSVGolden(t *testing.T) {
	var b bytes.Buffer
	r := writersReport(t)
	if err := WriteCSV(&b, r); err != nil {
		t.Fatal(err)
	}
	golden(t, "timeseries.csv", b.Bytes())

	rows, err := csv.NewReader(bytes.NewReader(b.Bytes())).ReadAll()
	if err != nil {
		t.Fatalf("timeseries.csv is not valid CSV: %v", err)
	}
	if len(rows) != 1+2+2+3 {
		t.Fatalf("%d rows, want header + 7 (2 of them per request)", len(rows))
	}
	if got := rows[6][0]; got != r.Stages[1].Name {
		t.Errorf("stage name read back as %q", got)
	}
	if rows[1][1] != CSVAllRequests || rows[2][1] != "read" || rows[3][1] != "write" || rows[3][3] != "50" || rows[3][10] != "" {
		t.Errorf("per-request rows: %q %q %q", rows[1], rows[2], rows[3])
	}
	for _, row := range rows[1:] {
		for _, f := range row[2:] {
			if strings.ContainsAny(f, "eE+") {
				t.Errorf("a number is in exponent form: %q in %q", f, row)
			}
		}
	}
}

func TestWriteJUnitGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, writersReport(t)); err != nil {
		t.Fatal(err)
	}
	golden(t, "junit.xml", b.Bytes())

	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("junit.xml does not parse: %v", err)
	}
	// Stage echo: no threshold on errors, so the default limit judges
	// them (8 of 493 failed: passes); generator and played fully fail.
	// Stage peak: 4 thresholds (1 pass, 2 failures, 1 error), generator
	// and played fully pass. The run: 1 threshold, failing.
	s := doc.Suites[0]
	if s.Tests != 3+6+1 || s.Failures != 2+2+1 || s.Errors != 1 {
		t.Errorf("tests %d failures %d errors %d, want 10 5 1", s.Tests, s.Failures, s.Errors)
	}
	if s.Name != "surge: golden" || s.Time != "3" || s.Timestamp != "2026-11-23T04:00:00" || s.Hostname != "localhost" || s.Package != "surge" {
		t.Errorf("suite %q time %s timestamp %s hostname %s package %s", s.Name, s.Time, s.Timestamp, s.Hostname, s.Package)
	}
	if c := s.Cases[0]; c.Name != "errors (default limit)" || c.Failure != nil {
		t.Errorf("default error limit case read back as %+v", c)
	}
	c := s.Cases[4]
	if c.Classname != `stage peak, "quoted" <&>` || c.Name != "p50 < 1ms" || c.Failure == nil ||
		c.Failure.Message != "measured 2.5ms, want p50 < 1ms" || c.Time != "2" {
		t.Errorf("threshold case read back as %+v", c)
	}
	if c := s.Cases[5]; c.Error == nil || c.Error.Message != `no samples to judge: error_rate < 1% & "x"` {
		t.Errorf("no-data case read back as %+v", c)
	}
	if c := s.Cases[6]; c.Failure == nil || c.Failure.Message != "measured 100, want rps > 200" {
		t.Errorf("threshold without a shown value read back as %+v", c)
	}
}

// TestWriteJUnitPass: a clean stage is all passes.
func TestWriteJUnitPass(t *testing.T) {
	r := &Report{Scenario: "ok", Stages: []Stage{{Name: "a", DurationS: 1.23456,
		Thresholds: []ThresholdResult{{Expr: "p99 < 1s", Pass: true}}}}}
	var b bytes.Buffer
	if err := WriteJUnit(&b, r); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if s := doc.Suites[0]; s.Tests != 4 || s.Failures != 0 || s.Errors != 0 || s.Cases[0].Time != "1.235" {
		t.Errorf("got %+v", doc)
	}
	// Every request failed: the default limit fails the stage.
	r.Stages[0].Failed, r.Stages[0].Errors = 40, map[string]uint64{"tls_error": 40}
	b.Reset()
	if err := WriteJUnit(&b, r); err != nil {
		t.Fatal(err)
	}
	doc = junitSuites{}
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if c := doc.Suites[0].Cases[1]; doc.Suites[0].Failures != 1 || c.Failure == nil || !strings.Contains(c.Failure.Message, "no request succeeded") {
		t.Errorf("all failed: %d failures, case %+v", doc.Suites[0].Failures, c)
	}
}

func TestWriteHlogGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteHlog(&b, writersReport(t), hlogStart); err != nil {
		t.Fatal(err)
	}
	golden(t, "latency.hlog", b.Bytes())
}

// TestWriteHlogRoundTrip reads latency.hlog back with hdrhistogram-go's
// log reader: each interval with a histogram comes back, in order, twice
// (untagged for the whole run, then with its stage's tag), at its real
// instant (the stage's T0 plus t_s; a stage without one laid after the
// previous), with the same count and p99 as the report's histogram.
func TestWriteHlogRoundTrip(t *testing.T) {
	r := writersReport(t)
	r.Stages[0].Started = hlogStart.Add(2500 * time.Millisecond) // its T0; stage two has none
	var b bytes.Buffer
	if err := WriteHlog(&b, r, hlogStart); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "#[StartTime: 1795406400.250 (seconds since epoch)") || !strings.Contains(b.String(), "#[BaseTime: 1795406400.250 (seconds since epoch)]") {
		t.Errorf("header does not carry the start to the millisecond:\n%s", b.String()[:min(400, b.Len())])
	}
	type want struct {
		tag        string
		startMS    int64
		count, p99 int64
	}
	starts := []int64{hlogStart.UnixMilli() + 2500, hlogStart.UnixMilli() + 2500 + 1000} // stage echo ends 1 s after its T0
	var wants []want
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
			wants = append(wants, want{"", at, h.TotalCount(), h.ValueAtQuantile(99)}, want{hlogTag(s.Name), at, h.TotalCount(), h.ValueAtQuantile(99)})
		}
	}
	if len(wants) != 8 {
		t.Fatalf("%d lines expected, want 8", len(wants))
	}
	rd := hdrhistogram.NewHistogramLogReader(bytes.NewReader(b.Bytes()))
	for i, w := range wants {
		h, err := rd.NextIntervalHistogram()
		if err != nil || h == nil {
			t.Fatalf("line %d: no histogram (%v)", i, err)
		}
		if h.Tag() != w.tag {
			t.Errorf("line %d: tag %q, want %q", i, h.Tag(), w.tag)
		}
		// The reader rebuilds ms from float seconds: allow 1 ms.
		if d := h.StartTimeMs() - w.startMS; d < -1 || d > 1 {
			t.Errorf("line %d: starts at %d ms, want %d", i, h.StartTimeMs(), w.startMS)
		}
		if d := h.EndTimeMs() - h.StartTimeMs(); d < 499 || d > 501 {
			t.Errorf("line %d: %d ms long, want 500", i, d)
		}
		if h.TotalCount() != w.count || h.ValueAtQuantile(99) != w.p99 {
			t.Errorf("line %d: count %d p99 %d, want %d %d", i, h.TotalCount(), h.ValueAtQuantile(99), w.count, w.p99)
		}
	}
	if h, err := rd.NextIntervalHistogram(); h != nil || err != nil {
		t.Errorf("extra line after the last (count %d, err %v)", func() int64 {
			if h == nil {
				return 0
			}
			return h.TotalCount()
		}(), err)
	}
}

// TestWriteHlogDefaults: a single interval per stage gets the 1 s default
// length, untagged-looking names get a tag, and an empty report is just
// the header.
func TestWriteHlogDefaults(t *testing.T) {
	r := &Report{Stages: []Stage{
		{Name: "", DurationS: 3, Intervals: []Interval{{TS: 2, Histogram: testHist(t, 1e6)}}},
		{Name: "b c", DurationS: 1, Intervals: []Interval{{TS: 0, Histogram: testHist(t, 2e6)}}},
	}}
	var b bytes.Buffer
	if err := WriteHlog(&b, r, time.Unix(1000, 0)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"\nTag=_,2.000000,1.000000,1.000447,", "\nTag=b_c,3.000000,1.000000,2.000895,"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	b.Reset()
	if err := WriteHlog(&b, &Report{}, time.Unix(1000, 0)); err != nil {
		t.Fatal(err)
	}
	if strings.Count(b.String(), "\n") != 5 {
		t.Errorf("empty report:\n%s", b.String())
	}
}

// TestWritersBadHistogram: a corrupt interval histogram makes WriteHlog
// fail naming the stage and interval, without writing anything or
// panicking; CSV and JUnit do not read histograms and are unaffected.
func TestWritersBadHistogram(t *testing.T) {
	valid := testHist(t, 1e6, 2e6)
	for _, bad := range []string{"garbage!", "HISTFAAA", valid[:len(valid)/2], "HISTFAAAAB54nJNpmSzMwMDAxQABzFCaEUzOmQVhAwAvBQIv", strings.Repeat("A", 400)} {
		r := writersReport(t)
		r.Stages[1].Intervals[2].Histogram = bad
		var b bytes.Buffer
		err := WriteHlog(&b, r, hlogStart)
		if err == nil {
			// Some corruptions still decode; that is fine as long as
			// nothing panicked and the output reads back.
			t.Logf("%q decoded", bad)
			if _, rerr := hdrhistogram.NewHistogramLogReader(bytes.NewReader(b.Bytes())).NextIntervalHistogram(); rerr != nil {
				t.Errorf("%q: written but unreadable: %v", bad, rerr)
			}
			continue
		}
		if !strings.Contains(err.Error(), `stage peak, "quoted" <&> interval 2 (t_s 1)`) {
			t.Errorf("%q: error does not name the stage and interval: %v", bad, err)
		}
		if b.Len() != 0 {
			t.Errorf("%q: wrote %d bytes before failing", bad, b.Len())
		}
		if err := WriteCSV(&b, r); err != nil {
			t.Errorf("CSV: %v", err)
		}
		if err := WriteJUnit(&b, r); err != nil {
			t.Errorf("JUnit: %v", err)
		}
	}
	r := writersReport(t)
	r.Stages[0].Intervals[0].Histogram = "garbage!"
	if err := WriteHlog(&bytes.Buffer{}, r, hlogStart); err == nil || !strings.Contains(err.Error(), "stage echo interval 0 (t_s 0)") {
		t.Errorf("first interval corrupt: %v", err)
	}
}

// TestWriteCSVTimeline: timestamp is the interval's absolute start (the
// stage's T0 plus t_s) on every row; lost, the extra percentiles and the
// failures by class are the interval's, and empty on per-request rows.
func TestWriteCSVTimeline(t *testing.T) {
	r := writersReport(t)
	r.Stages[0].Started = hlogStart.Add(2500 * time.Millisecond)
	r.Stages[0].Intervals[1].Lost = 3
	var b bytes.Buffer
	if err := WriteCSV(&b, r); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, c := range []string{"timestamp", "lost", "p90_ms", "p99.9_ms", "max_ms", "errors_http_5xx", "errors_timeout"} {
		if _, ok := col[c]; !ok {
			t.Fatalf("no column %s in %q", c, rows[0])
		}
	}
	get := func(row int, c string) string { return rows[row][col[c]] }
	if get(1, "timestamp") != "2026-11-23T04:00:02.750Z" || get(2, "timestamp") != "2026-11-23T04:00:02.750Z" || get(4, "timestamp") != "2026-11-23T04:00:03.250Z" {
		t.Errorf("timestamps %q %q %q", get(1, "timestamp"), get(2, "timestamp"), get(4, "timestamp"))
	}
	if get(1, "errors_http_5xx") != "6" || get(1, "errors_timeout") != "2" || get(1, "p90_ms") != "1.2" || get(4, "lost") != "3" || get(2, "lost") != "" {
		t.Errorf("interval columns: row 1 %q, row 4 %q", rows[1], rows[4])
	}
	if get(6, "timestamp") != "" {
		t.Errorf("a stage without a T0 has timestamp %q", get(6, "timestamp"))
	}
}
