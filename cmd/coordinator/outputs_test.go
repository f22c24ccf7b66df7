package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/net/html"

	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/reporters"
)

// outputsScenario plays two stages against the same loopback server, with
// two request names: ok (answered 200) and boom (answered 500, so it
// fails as http_5xx). Only the second stage has a threshold on errors, so
// the first one is judged by the default error check (25% of its requests
// fail, over DefaultMaxErrorRate): the verdict is fail (or invalid if a
// starved machine limited the generator), never pass.
const outputsScenario = `name: outputs
seed: 3
stages:
  - {name: first, url: %[1]s}
  - {name: second, url: %[1]s}
requests:
  - {name: ok, path: /ok, weight: 3}
  - {name: boom, path: /boom, weight: 1}
load:
  constant: {rate: 150, duration: 2s}
thresholds:
  - "error_rate{stage=second} < 50%%"
  - "p99 < 30s"
`

// syncBuffer is a writer the CLI may write to while the test reads it; it
// closes seen once the text written contains marker.
type syncBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	marker string
	seen   chan struct{}
	once   sync.Once
}

func newSyncBuffer(marker string) *syncBuffer {
	return &syncBuffer{marker: marker, seen: make(chan struct{})}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	if s.marker != "" && strings.Contains(s.b.String(), s.marker) {
		s.once.Do(func() { close(s.seen) })
	}
	return n, err
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestOutputsAgainstReport runs a real two-stage run through the CLI (two
// embedded agents, a loopback target) with every output format and the
// live metrics endpoint, then reads every output back with a real consumer
// (hdrhistogram-go's log reader, encoding/csv, Prometheus' text parser,
// encoding/xml, x/net/html) and checks it against report.json, read with
// reporters.ReadReport. Every check is an exact equality of counts (or of
// values derived from the same histograms); nothing depends on the
// machine's speed.
func TestOutputsAgainstReport(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/boom" {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer target.Close()

	out := t.TempDir()
	scen := writeFile(t, "outputs.yaml", fmt.Sprintf(outputsScenario, target.URL))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout syncBuffer
	stderr := newSyncBuffer("live metrics stay up for")
	type result struct{ code int }
	done := make(chan result, 1)
	go func() {
		code := run(ctx, []string{"run", scen, "--agents", "2", "--gossip-listen", "127.0.0.1:0", "--out", out, "-q",
			"--max-send-lag", "1s", "--interval", "500ms", "--format", "json,csv,junit,hlog,html,text",
			"--metrics-listen", "127.0.0.1:0", "--metrics-linger", "2m"}, &stdout, stderr)
		done <- result{code}
	}()

	// The run has returned and written every report once the CLI says the
	// metrics linger; scrape them then, once, and end the linger.
	var scrape string
	select {
	case <-stderr.seen:
		m := regexp.MustCompile(`live metrics: (http://\S+/metrics)`).FindStringSubmatch(stderr.String())
		if m == nil {
			t.Fatalf("no metrics address on stderr:\n%s", stderr.String())
		}
		resp, err := http.Get(m[1])
		if err != nil {
			t.Fatalf("the metrics endpoint is down after the run: %v", err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		scrape = string(b)
		cancel()
	case r := <-done:
		t.Fatalf("run ended (exit %d) before the metrics lingered; stderr:\n%s", r.code, stderr.String())
	case <-time.After(2 * time.Minute): // a hang guard only
		t.Fatalf("no linger after 2m; stderr:\n%s", stderr.String())
	}
	var code int
	select {
	case r := <-done:
		code = r.code
	case <-time.After(time.Minute): // a hang guard only
		t.Fatal("run did not end after its context was cancelled")
	}

	f, err := os.Open(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := reporters.ReadReport(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("run %s: verdict %s, exit %d", rep.RunID, rep.Verdict, code)
	for _, s := range rep.Stages {
		t.Logf("stage %s: intended %d issued %d succeeded %d failed %d dropped %d lost %d in flight %d, errors %v, %d intervals",
			s.Name, s.Intended, s.Issued, s.Succeeded, s.Failed, s.Dropped, s.Lost, s.InFlightAtEnd, s.Errors, len(s.Intervals))
	}

	// The run itself: what the scenario asks for, so the outputs have
	// something to show.
	wantCode := map[string]int{reporters.VerdictPass: 0, reporters.VerdictFail: 1, reporters.VerdictInvalid: 4}[rep.Verdict]
	if code != wantCode || rep.Verdict == reporters.VerdictPass || rep.Verdict == "" {
		t.Errorf("exit %d, verdict %q (%v); want fail (1) or invalid (4), the exit code matching the verdict\nstderr:\n%s", code, rep.Verdict, rep.Reasons, stderr.String())
	}
	if len(rep.Stages) != 2 || rep.Stages[0].Name != "first" || rep.Stages[1].Name != "second" {
		t.Fatalf("stages %+v; want first and second", rep.Stages)
	}
	for _, s := range rep.Stages {
		if s.Started.IsZero() || s.Intended != 300 || s.Errors["http_5xx"] == 0 || s.Succeeded == 0 || len(s.Intervals) < 2 {
			t.Fatalf("stage %s: started %v, intended %d, errors %v, succeeded %d, %d intervals; want a start, 300 arrivals, http_5xx errors, successes and several intervals",
				s.Name, s.Started, s.Intended, s.Errors, s.Succeeded, len(s.Intervals))
		}
	}
	if !rep.Stages[1].Started.After(rep.Stages[0].Started) || rep.Started.After(rep.Stages[0].Started) {
		t.Fatalf("run started %v, stages %v and %v: want them in order", rep.Started, rep.Stages[0].Started, rep.Stages[1].Started)
	}

	t.Run("hlog", func(t *testing.T) { checkHlog(t, out, rep) })
	t.Run("csv", func(t *testing.T) { checkCSV(t, out, rep) })
	t.Run("prometheus", func(t *testing.T) { checkScrape(t, scrape, rep) })
	t.Run("junit", func(t *testing.T) { checkJUnit(t, out, rep) })
	t.Run("html", func(t *testing.T) { checkHTML(t, out, rep) })
	t.Run("summary", func(t *testing.T) { checkSummary(t, out, stdout.String(), rep) })
}

// intervalSeconds is the report's interval length: the step between a
// stage's consecutive t_s.
func intervalSeconds(t *testing.T, rep *reporters.Report) float64 {
	ivs := rep.Stages[0].Intervals
	step := ivs[1].TS - ivs[0].TS
	if step != 0.5 {
		t.Fatalf("interval step %g s; the run asked for 0.5 s", step)
	}
	return step
}

func checkHlog(t *testing.T, out string, rep *reporters.Report) {
	b, err := os.ReadFile(filepath.Join(out, "latency.hlog"))
	if err != nil {
		t.Fatal(err)
	}
	step := intervalSeconds(t, rep)
	runStartMS := rep.Started.UnixMilli()

	// The reader does not expose the StartTime and BaseTime it parsed;
	// read the two header lines with its own patterns.
	for _, name := range []string{"StartTime", "BaseTime"} {
		m := regexp.MustCompile(`(?m)^#\[` + name + `: ([\d\.]*)`).FindSubmatch(b)
		if m == nil {
			t.Errorf("latency.hlog has no #[%s: ...] line", name)
			continue
		}
		v, err := strconv.ParseFloat(string(m[1]), 64)
		if err != nil || int64(math.Round(v*1000)) != runStartMS {
			t.Errorf("latency.hlog %s %s; want the run's start %d ms (%v)", name, m[1], runStartMS, rep.Started)
		}
	}

	type line struct {
		h     *hdrhistogram.Histogram
		start int64 // ms since the epoch, as the reader computes it
	}
	// coalesce merges the lines of one start into one, in start order.
	coalesce := func(ls []line) []line {
		var out []line
		at := map[int64]int{}
		for _, l := range ls {
			if k, ok := at[l.start]; ok {
				out[k].h.Merge(l.h)
				continue
			}
			at[l.start] = len(out)
			out = append(out, l)
		}
		slices.SortStableFunc(out, func(a, b line) int { return cmp.Compare(a.start, b.start) })
		return out
	}
	var untagged []line
	tagged := map[string][]line{}
	lr := hdrhistogram.NewHistogramLogReader(bytes.NewReader(b))
	for {
		h, err := lr.NextIntervalHistogram()
		if err != nil {
			t.Fatalf("latency.hlog: %v", err)
		}
		if h == nil {
			break
		}
		l := line{h, h.StartTimeMs()}
		if h.Tag() == "" {
			untagged = append(untagged, l)
		} else {
			tagged[h.Tag()] = append(tagged[h.Tag()], l)
		}
	}

	// A snapshot that reached the coordinator after its interval was
	// written is written on its own line at that interval's instant (a
	// busy machine does that): merge the lines of one instant, in time
	// order, before comparing intervals.
	untagged = coalesce(untagged)
	for tag, ls := range tagged {
		tagged[tag] = coalesce(ls)
	}

	// The reader computes a line's start as int64(seconds × 1000) of a
	// float sum, which can land 1 ms below the written millisecond; the
	// writer rounds the stage's start down to its millisecond.
	const slackMS = 1
	startOf := func(s reporters.Stage, ts float64) int64 {
		return s.Started.UnixMilli() + int64(math.Round(ts*1000))
	}
	next := 0 // the untagged lines are in time order, stage after stage
	var runTotal, untaggedTotal uint64
	for _, s := range rep.Stages {
		lo := s.Started.UnixMilli() - slackMS
		// To the end of its last interval: the schedule's, or a drain
		// interval's when responses came after it (a busy machine).
		end := s.DurationS
		if n := len(s.Intervals); n > 0 {
			end = max(end, s.Intervals[n-1].TS)
		}
		hi := s.Started.Add(time.Duration((end+step)*1e9)).UnixMilli() + slackMS
		completed := s.Succeeded + s.Failed // every finished request has a response time
		runTotal += completed
		merged := metrics.DefaultGeometry().New()
		var tagTotal uint64
		for _, l := range tagged[s.Name] {
			tagTotal += uint64(l.h.TotalCount())
			if l.start < lo || l.start > hi {
				t.Errorf("stage %s: tagged line at %d ms outside the stage's [%d, %d] ms", s.Name, l.start, lo, hi)
			}
		}
		if tagTotal != completed {
			t.Errorf("stage %s: tagged lines hold %d responses; report.json has succeeded %d + failed %d = %d", s.Name, tagTotal, s.Succeeded, s.Failed, completed)
		}
		var withHist []reporters.Interval
		for _, iv := range s.Intervals {
			if iv.Histogram != "" {
				withHist = append(withHist, iv)
			}
		}
		if len(tagged[s.Name]) != len(withHist) {
			t.Errorf("stage %s: %d tagged lines; report.json has %d intervals with a histogram", s.Name, len(tagged[s.Name]), len(withHist))
		}
		for i, iv := range withHist {
			if next >= len(untagged) {
				t.Errorf("stage %s: untagged lines end before its interval t_s %g", s.Name, iv.TS)
				break
			}
			l := untagged[next]
			next++
			n := uint64(l.h.TotalCount())
			untaggedTotal += n
			if dropped := merged.Merge(l.h); dropped != 0 {
				t.Errorf("stage %s: merging an hlog line dropped %d values", s.Name, dropped)
			}
			if want := startOf(s, iv.TS); l.start < want-slackMS || l.start > want {
				t.Errorf("stage %s interval t_s %g: untagged line starts at %d ms; want %d (stage start %v + t_s)", s.Name, iv.TS, l.start, want, s.Started)
			}
			if l.start < lo || l.start > hi {
				t.Errorf("stage %s: untagged line at %d ms outside the stage's [%d, %d] ms", s.Name, l.start, lo, hi)
			}
			if n != iv.Succeeded+iv.Failed {
				t.Errorf("stage %s interval t_s %g: untagged line holds %d; report.json interval succeeded %d + failed %d", s.Name, iv.TS, n, iv.Succeeded, iv.Failed)
			}
			if i < len(tagged[s.Name]) {
				if tl := tagged[s.Name][i]; tl.start != l.start || tl.h.TotalCount() != l.h.TotalCount() || tl.h.Max() != l.h.Max() {
					t.Errorf("stage %s interval t_s %g: tagged line (%d ms, n %d) differs from the untagged one (%d ms, n %d)",
						s.Name, iv.TS, tl.start, tl.h.TotalCount(), l.start, l.h.TotalCount())
				}
			}
		}
		// The stage's merged hlog lines are the stage's histogram: the
		// same count, max and nearest-rank percentiles as report.json.
		if got := uint64(merged.TotalCount()); got != completed {
			t.Errorf("stage %s: untagged lines hold %d responses; report.json %d", s.Name, got, completed)
		}
		ref, err := metrics.DecodeHistogram([]byte(s.Histogram), metrics.Geometry{})
		if err != nil {
			t.Fatalf("stage %s histogram: %v", s.Name, err)
		}
		if ref.TotalCount() != merged.TotalCount() || ref.Max() != merged.Max() {
			t.Errorf("stage %s: hlog lines merged n %d max %d; report.json histogram n %d max %d", s.Name, merged.TotalCount(), merged.Max(), ref.TotalCount(), ref.Max())
		}
		ms := func(p float64) float64 { return float64(metrics.ValueAtPercentile(merged, p)) / 1e6 }
		got := reporters.Percentiles{P50: ms(50), P75: ms(75), P90: ms(90), P95: ms(95), P99: ms(99), P999: ms(99.9),
			Max: float64(merged.Max()) / 1e6, Mean: merged.Mean() / 1e6}
		if want := s.ResponseTimeMS; got != want {
			t.Errorf("stage %s: percentiles of the hlog lines %+v; report.json response_time_ms %+v", s.Name, got, want)
		}
	}
	if next != len(untagged) {
		t.Errorf("latency.hlog has %d untagged lines; report.json has %d intervals with a histogram", len(untagged), next)
	}
	t.Logf("latency.hlog: %d untagged and %d tag(s) of lines read back, %d responses", len(untagged), len(tagged), untaggedTotal)
	if untaggedTotal != runTotal {
		t.Errorf("untagged lines hold %d responses; report.json's stages %d", untaggedTotal, runTotal)
	}
	// Besides the stage's own tag, the run's hlog has a tag per request
	// name (2+ per stage here) and the stage's service time, send lag and
	// on-wire lag: each adds up to report.json's counts, and merged gives
	// report.json's percentiles.
	want := map[string]bool{}
	for _, s := range rep.Stages {
		want[s.Name] = true
		sum := func(tag string) (*hdrhistogram.Histogram, uint64) {
			want[tag] = true
			h := metrics.DefaultGeometry().New()
			for _, l := range tagged[tag] {
				h.Merge(l.h)
			}
			return h, uint64(h.TotalCount())
		}
		for _, rq := range s.Requests {
			if _, n := sum(s.Name + "/" + rq.Name); n != rq.Succeeded+rq.Failed {
				t.Errorf("stage %s request %s: tagged lines hold %d responses; report.json %d", s.Name, rq.Name, n, rq.Succeeded+rq.Failed)
			}
		}
		pct := func(h *hdrhistogram.Histogram) float64 { return float64(metrics.ValueAtPercentile(h, 99)) / 1e6 }
		for _, k := range []struct {
			kind string
			n    uint64
			p99  float64
		}{
			{reporters.HlogService, s.Succeeded + s.Failed, s.ServiceTimeMS.P99},
			{reporters.HlogSendLag, s.Issued, s.SendLagMS.P99},
			{reporters.HlogOnWireLag, s.Succeeded + s.Failed, s.OnWireLagMS.P99},
		} {
			h, n := sum(s.Name + ":" + k.kind)
			if n != k.n || pct(h) != k.p99 {
				t.Errorf("stage %s %s: tagged lines hold %d values, p99 %v ms; report.json %d, p99 %v ms", s.Name, k.kind, n, pct(h), k.n, k.p99)
			}
		}
	}
	for tag := range tagged {
		if !want[tag] {
			t.Errorf("latency.hlog has lines tagged %q, which names no stage, request or kind", tag)
		}
	}
}

func checkCSV(t *testing.T, out string, rep *reporters.Report) {
	f, err := os.Open(filepath.Join(out, "timeseries.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("timeseries.csv: %v", err)
	}
	if len(rows) < 2 {
		t.Fatalf("timeseries.csv has %d rows", len(rows))
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	get := func(row []string, name string) string {
		i, ok := col[name]
		if !ok {
			t.Fatalf("timeseries.csv has no column %q (header %q)", name, rows[0])
		}
		return row[i]
	}
	var classes []string
	for _, h := range rows[0] {
		if c, ok := strings.CutPrefix(h, "errors_"); ok {
			classes = append(classes, c)
		}
	}
	for _, s := range rep.Stages {
		for c := range s.Errors {
			if _, ok := col["errors_"+c]; !ok {
				t.Errorf("stage %s has errors of class %s; timeseries.csv has no errors_%s column", s.Name, c, c)
			}
		}
	}

	type key struct {
		stage, request string
		ts             float64
	}
	byKey := map[key][]string{}
	var order []key
	for i, row := range rows[1:] {
		if len(row) != len(rows[0]) {
			t.Errorf("timeseries.csv row %d has %d fields; the header %d", i+2, len(row), len(rows[0]))
			continue
		}
		ts, err := strconv.ParseFloat(get(row, "t_s"), 64)
		if err != nil {
			t.Errorf("timeseries.csv row %d: t_s %q", i+2, get(row, "t_s"))
		}
		k := key{get(row, "stage"), get(row, "request"), ts}
		if _, dup := byKey[k]; dup {
			t.Errorf("timeseries.csv: two rows for %+v", k)
		}
		byKey[k] = row
		if k.request == reporters.CSVAllRequests {
			order = append(order, k)
		}
	}
	eqU := func(where string, row []string, name string, want uint64) {
		if got := get(row, name); got != strconv.FormatUint(want, 10) {
			t.Errorf("%s: %s = %q; report.json %d", where, name, got, want)
		}
	}
	eqF := func(where string, row []string, name string, want float64) {
		got, err := strconv.ParseFloat(get(row, name), 64)
		if err != nil || got != want {
			t.Errorf("%s: %s = %q; report.json %v", where, name, get(row, name), want)
		}
	}
	var want []key
	var perRequest int
	for _, s := range rep.Stages {
		for _, iv := range s.Intervals {
			k := key{s.Name, reporters.CSVAllRequests, iv.TS}
			want = append(want, k)
			row, ok := byKey[k]
			if !ok {
				t.Errorf("timeseries.csv has no row for stage %s t_s %g", s.Name, iv.TS)
				continue
			}
			where := fmt.Sprintf("timeseries.csv stage %s t_s %g", s.Name, iv.TS)
			for _, c := range []struct {
				name string
				v    uint64
			}{{"intended", iv.Intended}, {"issued", iv.Issued}, {"succeeded", iv.Succeeded}, {"failed", iv.Failed},
				{"dropped", iv.Dropped}, {"lost", iv.Lost}, {"in_flight", iv.InFlight}} {
				eqU(where, row, c.name, c.v)
			}
			for _, c := range classes {
				eqU(where, row, "errors_"+c, iv.Errors[c])
			}
			for _, c := range []struct {
				name string
				v    float64
			}{{"p50_ms", iv.P50MS}, {"p75_ms", iv.P75MS}, {"p90_ms", iv.P90MS}, {"p95_ms", iv.P95MS}, {"p99_ms", iv.P99MS},
				{"p99.9_ms", iv.P999MS}, {"max_ms", iv.MaxMS}, {"send_lag_p99_ms", iv.SendLagP99MS}} {
				eqF(where, row, c.name, c.v)
			}
			ts, err := time.Parse(time.RFC3339Nano, get(row, "timestamp"))
			if wantTS := s.Started.Add(time.Duration(math.Round(iv.TS * 1e9))).Truncate(time.Millisecond); err != nil || !ts.Equal(wantTS) {
				t.Errorf("%s: timestamp %q; want the stage's start %v + t_s = %v", where, get(row, "timestamp"), s.Started, wantTS)
			}
			for _, rq := range iv.Requests {
				perRequest++
				row, ok := byKey[key{s.Name, rq.Name, iv.TS}]
				if !ok {
					t.Errorf("timeseries.csv has no row for stage %s request %s t_s %g", s.Name, rq.Name, iv.TS)
					continue
				}
				where := fmt.Sprintf("timeseries.csv stage %s request %s t_s %g", s.Name, rq.Name, iv.TS)
				for _, c := range []struct {
					name string
					v    uint64
				}{{"intended", rq.Intended}, {"issued", rq.Issued}, {"succeeded", rq.Succeeded}, {"failed", rq.Failed}, {"dropped", rq.Dropped}} {
					eqU(where, row, c.name, c.v)
				}
				eqF(where, row, "p50_ms", rq.P50MS)
				eqF(where, row, "p99_ms", rq.P99MS)
			}
		}
	}
	t.Logf("timeseries.csv: %d interval rows and %d per-request rows checked, %d columns", len(want), perRequest, len(rows[0]))
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Errorf("timeseries.csv interval rows %v; report.json's intervals %v", order, want)
	}
	if n := len(rows) - 1; n != len(want)+perRequest {
		t.Errorf("timeseries.csv has %d data rows; report.json %d intervals + %d per-request entries", n, len(want), perRequest)
	}
}

func checkScrape(t *testing.T, scrape string, rep *reporters.Report) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(scrape))
	if err != nil {
		t.Fatalf("the scrape does not parse: %v\n%s", err, scrape)
	}
	type sk struct{ stage, request, what string }
	got := map[sk]float64{}
	for _, m := range fams["surge_run_requests_total"].GetMetric() {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		got[sk{l["stage"], l["request"], l["outcome"]}] += m.GetCounter().GetValue()
		got[sk{l["stage"], "", "total " + l["outcome"]}] += m.GetCounter().GetValue()
	}
	for _, m := range fams["surge_run_failed_total"].GetMetric() {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		got[sk{l["stage"], l["request"], "class " + l["class"]}] += m.GetCounter().GetValue()
		got[sk{l["stage"], "", "total class " + l["class"]}] += m.GetCounter().GetValue()
		got[sk{l["stage"], "", "total failed"}] += m.GetCounter().GetValue()
	}
	for _, m := range fams["surge_run_response_seconds"].GetMetric() {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		got[sk{l["stage"], l["request"], "response count"}] += float64(m.GetHistogram().GetSampleCount())
		got[sk{l["stage"], "", "total response count"}] += float64(m.GetHistogram().GetSampleCount())
	}
	eq := func(k sk, want uint64) {
		if got[k] != float64(want) {
			t.Errorf("/metrics stage %q request %q %s = %v; report.json %d", k.stage, k.request, k.what, got[k], want)
		}
	}
	var run struct{ intended, issued, succeeded, failed, dropped, lost, completed uint64 }
	var scraped struct{ intended, issued, succeeded, failed, dropped, lost, completed float64 }
	for _, s := range rep.Stages {
		// /metrics counts intended as the arrivals agents reached; the
		// lost ones are their own outcome (see livemetrics).
		eq(sk{s.Name, "", "total intended"}, s.Intended-s.Lost)
		eq(sk{s.Name, "", "total issued"}, s.Issued)
		eq(sk{s.Name, "", "total succeeded"}, s.Succeeded)
		eq(sk{s.Name, "", "total dropped"}, s.Dropped)
		eq(sk{s.Name, "", "total lost"}, s.Lost)
		eq(sk{s.Name, "", "total failed"}, s.Failed)
		eq(sk{s.Name, "", "total response count"}, s.Succeeded+s.Failed)
		for c, n := range s.Errors {
			eq(sk{s.Name, "", "total class " + c}, n)
		}
		intended := map[string]uint64{}
		for _, iv := range s.Intervals {
			for _, rq := range iv.Requests {
				intended[rq.Name] += rq.Intended
			}
		}
		for _, rq := range s.Requests {
			eq(sk{s.Name, rq.Name, "intended"}, intended[rq.Name])
			eq(sk{s.Name, rq.Name, "issued"}, rq.Issued)
			eq(sk{s.Name, rq.Name, "succeeded"}, rq.Succeeded)
			eq(sk{s.Name, rq.Name, "dropped"}, rq.Dropped)
			eq(sk{s.Name, rq.Name, "response count"}, rq.Succeeded+rq.Failed)
			for c, n := range rq.Errors {
				eq(sk{s.Name, rq.Name, "class " + c}, n)
			}
		}
		run.intended += s.Intended
		run.issued += s.Issued
		run.succeeded += s.Succeeded
		run.failed += s.Failed
		run.dropped += s.Dropped
		run.lost += s.Lost
		run.completed += s.Succeeded + s.Failed
		scraped.intended += got[sk{s.Name, "", "total intended"}]
		scraped.issued += got[sk{s.Name, "", "total issued"}]
		scraped.succeeded += got[sk{s.Name, "", "total succeeded"}]
		scraped.failed += got[sk{s.Name, "", "total failed"}]
		scraped.dropped += got[sk{s.Name, "", "total dropped"}]
		scraped.lost += got[sk{s.Name, "", "total lost"}]
		scraped.completed += got[sk{s.Name, "", "total response count"}]
	}
	t.Logf("/metrics: %d families, %d request series, run totals %+v", len(fams), len(fams["surge_run_requests_total"].GetMetric()), scraped)
	// The run's totals, the lost included in intended as report.json does.
	if scraped.intended+scraped.lost != float64(run.intended) || scraped.issued != float64(run.issued) || scraped.succeeded != float64(run.succeeded) ||
		scraped.failed != float64(run.failed) || scraped.dropped != float64(run.dropped) || scraped.lost != float64(run.lost) ||
		scraped.completed != float64(run.completed) {
		t.Errorf("/metrics run totals %+v; report.json %+v", scraped, run)
	}
	info := fams["surge_run_info"].GetMetric()
	if len(info) != 1 {
		t.Fatalf("surge_run_info: %v", info)
	}
	l := map[string]string{}
	for _, p := range info[0].GetLabel() {
		l[p.GetName()] = p.GetValue()
	}
	if l["run_id"] != rep.RunID || l["scenario"] != rep.Scenario {
		t.Errorf("surge_run_info labels %v; report.json run %s of scenario %s", l, rep.RunID, rep.Scenario)
	}
}

// JUnit as read back (the dialect reporters.WriteJUnit documents).
type junitDoc struct {
	Suites []struct {
		Name       string `xml:"name,attr"`
		Tests      int    `xml:"tests,attr"`
		Failures   int    `xml:"failures,attr"`
		Errors     int    `xml:"errors,attr"`
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Classname string `xml:"classname,attr"`
			Name      string `xml:"name,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
			} `xml:"error"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func checkJUnit(t *testing.T, out string, rep *reporters.Report) {
	b, err := os.ReadFile(filepath.Join(out, "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	// A real run's junit.xml is valid under the Jenkins and the strict Ant
	// schema (reporters/testdata/junit; make test installs xmllint).
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Fatal("xmllint is not installed: run scripts/install-xmllint.sh (make test does)")
	}
	for _, xsd := range []string{"jenkins-junit-10.xsd", "ant-JUnit.xsd"} {
		schema := filepath.Join("..", "..", "reporters", "testdata", "junit", xsd)
		if msg, err := exec.Command(xmllint, "--noout", "--nonet", "--schema", schema, filepath.Join(out, "junit.xml")).CombinedOutput(); err != nil {
			t.Errorf("junit.xml is not valid under %s: %v\n%s", xsd, err, msg)
		}
	}
	var doc junitDoc
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("junit.xml: %v", err)
	}
	if len(doc.Suites) != 1 {
		t.Fatalf("junit.xml has %d suites; want 1", len(doc.Suites))
	}
	suite := doc.Suites[0]
	props := map[string]string{}
	for _, p := range suite.Properties {
		props[p.Name] = p.Value
	}
	if props["run_id"] != rep.RunID || props["verdict"] != rep.Verdict || suite.Name != "surge: "+rep.Scenario {
		t.Errorf("junit.xml suite %q, properties %v; report.json run %s scenario %s verdict %s", suite.Name, props, rep.RunID, rep.Scenario, rep.Verdict)
	}
	var failures, errs int
	type ck struct{ class, name string }
	cases := map[ck]int{}
	for i, c := range suite.Cases {
		cases[ck{c.Classname, c.Name}] = i
		if c.Failure != nil {
			failures++
		}
		if c.Error != nil {
			errs++
		}
	}
	if suite.Tests != len(suite.Cases) || suite.Failures != failures || suite.Errors != errs {
		t.Errorf("junit.xml counts: testsuite %d/%d/%d; its testcases %d/%d/%d (tests/failures/errors)",
			suite.Tests, suite.Failures, suite.Errors, len(suite.Cases), failures, errs)
	}
	wantCases := len(rep.Thresholds)
	known := map[ck]bool{}
	for _, th := range rep.Thresholds {
		known[ck{"run", th.Expr}] = true
	}
	for _, s := range rep.Stages {
		class := "stage " + s.Name
		wantCases += len(s.Thresholds) + 2
		known[ck{class, "generator"}], known[ck{class, "played fully"}] = true, true
		for _, th := range s.Thresholds {
			known[ck{class, th.Expr}] = true
		}
		// The default error check (reporters.DefaultMaxErrorRate) fails a
		// stage with no testcase of its own today. A writer may add one
		// case for it per stage (whatever its name): it must then fail
		// exactly when the verdict's reasons fail the stage on it.
		defaultFail := false
		for _, r := range rep.Reasons {
			if strings.HasPrefix(r, class+": ") && (strings.Contains(r, "over the default limit") || strings.Contains(r, "no request succeeded")) {
				defaultFail = true
			}
		}
		var extra []int
		for i, c := range suite.Cases {
			if c.Classname == class && !known[ck{class, c.Name}] {
				extra = append(extra, i)
			}
		}
		switch {
		case len(extra) > 1:
			t.Errorf("junit.xml %s has %d testcases beyond its thresholds, generator and played fully", class, len(extra))
		case len(extra) == 1:
			wantCases++
			if c := suite.Cases[extra[0]]; (c.Failure != nil) != defaultFail {
				t.Errorf("junit.xml %s testcase %q: failure %v; the verdict's reasons fail the stage on its errors: %v", class, c.Name, c.Failure, defaultFail)
			}
		}
		for _, th := range s.Thresholds {
			i, ok := cases[ck{class, th.Expr}]
			if !ok {
				t.Errorf("junit.xml has no testcase %q of %q", th.Expr, class)
				continue
			}
			c := suite.Cases[i]
			if (c.Failure != nil) != (!th.Pass && !th.NoData) || (c.Error != nil) != th.NoData {
				t.Errorf("junit.xml %s %q: failure %v error %v; report.json pass %v no_data %v", class, th.Expr, c.Failure, c.Error, th.Pass, th.NoData)
			}
		}
		if i, ok := cases[ck{class, "generator"}]; !ok || (suite.Cases[i].Failure != nil) != s.GeneratorLimited {
			t.Errorf("junit.xml %s generator case (found %v) does not match generator_limited %v", class, ok, s.GeneratorLimited)
		}
		if i, ok := cases[ck{class, "played fully"}]; !ok || (suite.Cases[i].Failure != nil) != (s.Lost > 0 || s.Stopped != "") {
			t.Errorf("junit.xml %s played-fully case (found %v) does not match lost %d stopped %q", class, ok, s.Lost, s.Stopped)
		}
	}
	if len(suite.Cases) != wantCases {
		t.Errorf("junit.xml has %d testcases; report.json's thresholds and stages make %d", len(suite.Cases), wantCases)
	}
	// A CI system reads the verdict from failures and errors alone: pass
	// has none, fail has failures (and no errors), invalid has at least one
	// error or failure. (At the time of writing a stage failed only by
	// the default error check, DefaultMaxErrorRate, has no testcase:
	// junit.xml then reads as a pass while the verdict is fail.)
	switch rep.Verdict {
	case reporters.VerdictPass:
		if failures+errs != 0 {
			t.Errorf("verdict pass, but junit.xml has %d failures and %d errors", failures, errs)
		}
	case reporters.VerdictFail:
		if failures == 0 || errs != 0 {
			t.Errorf("verdict fail (%q), but junit.xml has %d failures and %d errors: a CI system reading it sees the run as %s",
				rep.Reasons, failures, errs, map[bool]string{true: "passed", false: "not failed"}[failures+errs == 0])
		}
	case reporters.VerdictInvalid:
		if failures+errs == 0 {
			t.Errorf("verdict invalid (%q), but junit.xml has no failure or error", rep.Reasons)
		}
	}
}

func checkHTML(t *testing.T, out string, rep *reporters.Report) {
	f, err := os.Open(filepath.Join(out, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := html.Parse(f)
	if err != nil {
		t.Fatalf("report.html: %v", err)
	}
	var text func(n *html.Node) string
	text = func(n *html.Node) string {
		if n.Type == html.TextNode {
			return n.Data
		}
		var b strings.Builder
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			b.WriteString(text(c))
		}
		return b.String()
	}
	var find func(n *html.Node, tag string, into *[]*html.Node)
	find = func(n *html.Node, tag string, into *[]*html.Node) {
		if n.Type == html.ElementNode && n.Data == tag {
			*into = append(*into, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			find(c, tag, into)
		}
	}
	// Each stage section: its heading, and its counts table read by the
	// header cells (th) of its first row.
	type section struct {
		heading string
		counts  map[string]string
	}
	var sections []section
	var nodes []*html.Node
	find(doc, "section", &nodes)
	for _, n := range nodes {
		sec := section{counts: map[string]string{}}
		var h2, tables []*html.Node
		find(n, "h2", &h2)
		find(n, "table", &tables)
		if len(h2) > 0 {
			sec.heading = strings.TrimSpace(text(h2[0]))
		}
		if len(tables) > 0 {
			var rows []*html.Node
			find(tables[0], "tr", &rows)
			if len(rows) >= 2 {
				var th, td []*html.Node
				find(rows[0], "th", &th)
				find(rows[1], "td", &td)
				for i := range min(len(th), len(td)) {
					sec.counts[strings.TrimSpace(text(th[i]))] = strings.TrimSpace(text(td[i]))
				}
			}
		}
		sections = append(sections, sec)
	}
	for _, s := range rep.Stages {
		want := "Stage " + s.Name + " → " + s.Target
		var sec *section
		for i := range sections {
			if sections[i].heading == want {
				sec = &sections[i]
			}
		}
		if sec == nil {
			t.Errorf("report.html has no section headed %q (%d sections)", want, len(sections))
			continue
		}
		for _, c := range []struct {
			name string
			v    uint64
		}{{"intended", s.Intended}, {"issued", s.Issued}, {"succeeded", s.Succeeded}, {"failed", s.Failed},
			{"dropped", s.Dropped}, {"lost", s.Lost}, {"in flight at end", s.InFlightAtEnd}} {
			if got := sec.counts[c.name]; got != strconv.FormatUint(c.v, 10) {
				t.Errorf("report.html stage %s: %s %q; report.json %d", s.Name, c.name, got, c.v)
			}
		}
	}
}

func checkSummary(t *testing.T, out, stdout string, rep *reporters.Report) {
	b, err := os.ReadFile(filepath.Join(out, "summary.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stdout, string(b)) {
		t.Errorf("summary.txt is not the summary the run printed:\n--- summary.txt\n%s--- stdout\n%s", b, stdout)
	}
	for _, s := range rep.Stages {
		_, block, ok := strings.Cut(string(b), "\nstage "+s.Name+" → "+s.Target+"\n")
		if !ok {
			t.Errorf("summary.txt does not name stage %s:\n%s", s.Name, b)
			continue
		}
		block, _, _ = strings.Cut(block, "\nstage ")
		want := fmt.Sprintf("requests  intended %d  issued %d  succeeded %d  failed %d  dropped %d  lost %d  in flight %d",
			s.Intended, s.Issued, s.Succeeded, s.Failed, s.Dropped, s.Lost, s.InFlightAtEnd)
		if !strings.Contains(block, want) {
			t.Errorf("summary.txt stage %s lacks %q:\n%s", s.Name, want, block)
		}
	}
	if want := "verdict: " + strings.ToUpper(rep.Verdict); rep.Verdict != reporters.VerdictPass && !strings.Contains(string(b), want) {
		t.Errorf("summary.txt lacks %q:\n%s", want, b)
	}
}
