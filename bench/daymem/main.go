// Command daymem measures what the coordinator holds for one long stage
// — by default a 24 h day of 1 s intervals at 1,000 req/s — directly,
// instead of extrapolating an RSS slope from a short run.
//
// It does in one process what the coordinator does with the merged data
// of a stage, with the same code: every interval is a merged snapshot
// (metrics.NewInterval, default geometry) whose latencies are drawn from
// a log-normal body with a slow tail, recorded into each request name's
// Response, Service and TTFB histograms and the interval's SendLag and
// OnWireLag, with counters that balance (intended = issued = succeeded);
// it is added to a metrics.Timeline, and intervals are packed packLag (3)
// behind the newest, as internal/coordinator does, each written to
// latency.hlog as it is packed (Timeline.Emit), as the coordinator does. Every -every intervals it runs a
// GC and samples the live heap and VmRSS. At the end it builds the stage
// report with report.Stage, judges and checks it as the coordinator does,
// and writes report.json (and, with -formats, the other default outputs)
// into -out, sampling RSS through that phase and reading the kernel's
// peak (VmHWM, reset before the phase through /proc/self/clear_refs).
//
// Output: one JSON object per line on stdout — "sample" lines while
// filling, then one "summary" line. Bounded: no network, no goroutine
// but the RSS sampler, memory proportional to -intervals.
//
// The process holds only the stage's data and the report: the
// coordinator's own baseline (gRPC, gossip, the engine's buffers; about
// 28 MB of RSS at 1k req/s, bench/SOAK.md) comes on top.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/internal/report"
	"github.com/surgeload/surge/reporters"
)

// packLag is internal/coordinator's: intervals are packed this many
// behind the newest.
const packLag = 3

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type config struct {
	intervals int
	rate      int
	names     int
	step      time.Duration
	diurnal   float64
	every     int
	seed      uint64
	out       string
	formats   string
	// memLimitMiB is the soft memory limit, as the coordinator sets it.
	memLimitMiB int64
	profile     string
}

func run(args []string, stdout, stderr io.Writer) int {
	var c config
	fs := flag.NewFlagSet("daymem", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.intervals, "intervals", 86400, "intervals to play (86400 = 24 h of 1 s intervals)")
	fs.IntVar(&c.rate, "rate", 1000, "mean requests per second, shared by the request names")
	fs.IntVar(&c.names, "names", 1, "request names (series)")
	fs.DurationVar(&c.step, "step", time.Second, "interval length")
	fs.Float64Var(&c.diurnal, "diurnal", 0, "peak multiplier of a diurnal rate shape over the run (0: constant rate; 2: the rate swings between 0 and 2× the mean, peak at mid-run)")
	fs.IntVar(&c.every, "every", 3600, "sample the heap and RSS every this many intervals")
	fs.Uint64Var(&c.seed, "seed", 1, "random seed")
	fs.StringVar(&c.out, "out", "", "directory for report.json (default: a temporary directory, removed at the end)")
	fs.StringVar(&c.formats, "formats", "json", "outputs to write at the end: json, or a comma list of json,csv,junit,html as the coordinator's --format (latency.hlog is always written, as the run plays)")
	fs.Int64Var(&c.memLimitMiB, "memory-limit-mib", 400, "soft memory limit in MiB, as the coordinator's run --memory-limit default (400MiB); 0 for none; GOMEMLIMIT wins when set")
	fs.StringVar(&c.profile, "memprofile", "", "write a heap profile here once the report is written, the report still held (go tool pprof -top)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if c.intervals < 1 || c.intervals > metrics.MaxIntervalIndex || c.rate < 1 || c.names < 1 || c.every < 1 || c.step <= 0 ||
		c.diurnal < 0 || c.diurnal > 2 {
		fmt.Fprintln(stderr, "daymem: -intervals must be in [1, 2^20], -rate, -names, -every and -step positive, -diurnal in [0, 2]")
		return 2
	}
	if c.memLimitMiB > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(c.memLimitMiB << 20)
	}
	if err := measure(c, stdout); err != nil {
		fmt.Fprintf(stderr, "daymem: %v\n", err)
		return 1
	}
	return 0
}

// sample is one "sample" line.
type sample struct {
	Kind      string  `json:"kind"`
	Intervals int     `json:"intervals"`
	HeapMB    float64 `json:"heap_mb"`
	RSSMB     float64 `json:"rss_mb"`
	ElapsedS  float64 `json:"elapsed_s"`
}

// summary is the last line.
type summary struct {
	Kind      string  `json:"kind"`
	Intervals int     `json:"intervals"`
	Rate      int     `json:"rate"`
	Names     int     `json:"names"`
	Diurnal   float64 `json:"diurnal"`
	Requests  uint64  `json:"requests"`
	// BytesPerInterval is the live heap's growth over the filling phase
	// divided by the intervals: what one packed interval costs, map
	// entries and counters included.
	BytesPerInterval float64 `json:"bytes_per_interval"`
	// BaseHeapMB and BaseRSSMB: after the timeline was made, before any
	// interval.
	BaseHeapMB float64 `json:"base_heap_mb"`
	BaseRSSMB  float64 `json:"base_rss_mb"`
	// FillHeapMB, FillRSSMB: after the last interval was added and packed
	// (heap after a GC); FillPeakRSSMB is VmHWM over the filling phase.
	FillHeapMB    float64 `json:"fill_heap_mb"`
	FillRSSMB     float64 `json:"fill_rss_mb"`
	FillPeakRSSMB float64 `json:"fill_peak_rss_mb"`
	FillS         float64 `json:"fill_s"`
	// ReportPeakRSSMB is VmHWM over building the report and writing it
	// (VmHWM is reset first when the kernel allows, else it is the peak of
	// the whole process); ReportPeakSampledMB the highest VmRSS sampled
	// every 20 ms over the phase; ReportHeapMB the live heap after a GC
	// with the report still held.
	ReportPeakRSSMB     float64 `json:"report_peak_rss_mb"`
	ReportPeakSampledMB float64 `json:"report_peak_sampled_rss_mb"`
	HWMReset            bool    `json:"hwm_reset"`
	// BuildPeakRSSMB and WritePeakRSSMB split ReportPeakRSSMB: VmHWM
	// over report.Stage, Judge and Check, and over writing the files (with
	// VmHWM reset between them).
	BuildPeakRSSMB  float64 `json:"build_peak_rss_mb"`
	WritePeakRSSMB  float64 `json:"write_peak_rss_mb"`
	ReportHeapMB    float64 `json:"report_heap_mb"`
	ReportBuildS    float64 `json:"report_build_s"`
	ReportWriteS    float64 `json:"report_write_s"`
	ReportJSONBytes int64   `json:"report_json_bytes"`
	OtherFilesBytes int64   `json:"other_files_bytes,omitempty"`
	PeakRSSMB       float64 `json:"peak_rss_mb"`
	ElapsedS        float64 `json:"elapsed_s"`
}

func measure(c config, stdout io.Writer) error {
	start := time.Now()
	enc := json.NewEncoder(stdout)
	g := metrics.DefaultGeometry()
	names := make([]string, c.names)
	for i := range names {
		names[i] = "r" + strconv.Itoa(i+1)
	}
	tl := metrics.NewTimeline(g, names, c.step)
	src := metrics.NewInterval(g, c.names) // refilled for every interval: Add copies it
	// latency.hlog is written as the coordinator does: each interval as
	// the timeline packs it (Emit), with its service times and lags.
	dir, cleanup, err := outDir(c.out)
	if err != nil {
		return err
	}
	defer cleanup()
	started := time.Unix(1_800_000_000, 0).UTC()
	hf, err := os.Create(filepath.Join(dir, "latency.hlog"))
	if err != nil {
		return err
	}
	defer hf.Close()
	hlog := reporters.NewHlogWriter(hf, "daymem", "daymem", started)
	tl.Emit = func(iv *metrics.Interval, _ bool) error { return hlog.Interval("day", started, c.step, names, iv) }
	gen := newLatencies(c.seed)

	baseHeap, baseRSS := heapMB(), procMB("VmRSS")
	var requests uint64
	carry := 0.0 // fractional requests carried between intervals
	for i := 0; i < c.intervals; i++ {
		want := rateAt(c, i)*c.step.Seconds() + carry
		n := int(want)
		carry = want - float64(n)
		fill(src, uint32(i), n, gen, rateAt(c, i)/float64(c.rate))
		requests += uint64(n)
		if err := tl.Add(src); err != nil {
			return fmt.Errorf("interval %d: %w", i, err)
		}
		if i >= packLag {
			if err := tl.Pack(uint32(i - packLag)); err != nil {
				return err
			}
		}
		if (i+1)%c.every == 0 {
			if err := enc.Encode(sample{Kind: "sample", Intervals: i + 1, HeapMB: heapMB(), RSSMB: procMB("VmRSS"),
				ElapsedS: secs(time.Since(start))}); err != nil {
				return err
			}
		}
	}
	// The end of the stage: the coordinator's report sees the last
	// intervals still live; pack them as search steps do, for a fair
	// measure of what a packed interval costs.
	if err := tl.Pack(math.MaxUint32); err != nil {
		return err
	}
	if err := hlog.Flush(); err != nil {
		return err
	}
	fillHeap, fillRSS, fillHWM := heapMB(), procMB("VmRSS"), procMB("VmHWM")
	fillS := secs(time.Since(start))
	if err := enc.Encode(sample{Kind: "sample", Intervals: c.intervals, HeapMB: fillHeap, RSSMB: fillRSS, ElapsedS: fillS}); err != nil {
		return err
	}

	// The report phase, as internal/coordinator's stage end and run end do:
	// report.Stage, then Judge and Check, then report.json.
	hwmReset := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	stop := sampleRSS(20 * time.Millisecond)
	t0 := time.Now()
	dur := time.Duration(c.intervals) * c.step
	st, err := report.Stage(tl, report.Played{Name: "day", Target: "http://127.0.0.1", Intended: requests, Duration: dur})
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	st.Started = started
	rep := &reporters.Report{Schema: reporters.Schema, Scenario: "daymem", RunID: "daymem", Started: st.Started,
		Stages: []reporters.Stage{st},
		Agents: []reporters.Agent{{Name: "agent-1", Intended: requests, Issued: requests, Succeeded: requests}}}
	rep.Judge()
	if err := rep.Check(); err != nil {
		return fmt.Errorf("report check: %w", err)
	}
	buildS := secs(time.Since(t0))
	buildHWM := procMB("VmHWM")
	if hwmReset {
		_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	}
	t1 := time.Now()
	jsonBytes, otherBytes, err := writeReports(dir, rep, c.formats)
	if err != nil {
		return err
	}
	writeS := secs(time.Since(t1))
	repHeap := heapMB()
	if c.profile != "" {
		if err := writeProfile(c.profile); err != nil {
			return err
		}
	}
	runtime.KeepAlive(rep)
	runtime.KeepAlive(tl)
	sampled := stop()
	writeHWM := procMB("VmHWM")
	reportHWM := max(buildHWM, writeHWM)

	s := summary{Kind: "summary", Intervals: c.intervals, Rate: c.rate, Names: c.names, Diurnal: c.diurnal, Requests: requests,
		BytesPerInterval: (fillHeap - baseHeap) * (1 << 20) / float64(c.intervals),
		BaseHeapMB:       baseHeap, BaseRSSMB: baseRSS,
		FillHeapMB: fillHeap, FillRSSMB: fillRSS, FillPeakRSSMB: fillHWM, FillS: fillS,
		ReportPeakRSSMB: reportHWM, ReportPeakSampledMB: sampled, HWMReset: hwmReset,
		BuildPeakRSSMB: buildHWM, WritePeakRSSMB: writeHWM, ReportHeapMB: repHeap,
		ReportBuildS: buildS, ReportWriteS: writeS, ReportJSONBytes: jsonBytes, OtherFilesBytes: otherBytes,
		PeakRSSMB: max(fillHWM, reportHWM, sampled), ElapsedS: secs(time.Since(start))}
	return enc.Encode(s)
}

// rateAt is the request rate of interval i: the mean, or with -diurnal d
// a day's shape mean·(1 − (d−1)·cos(2π·(i+½)/intervals)), which swings
// between (2−d)·mean at the run's ends and d·mean at mid-run and keeps
// the mean.
func rateAt(c config, i int) float64 {
	if c.diurnal == 0 {
		return float64(c.rate)
	}
	phase := 2 * math.Pi * (float64(i) + 0.5) / float64(c.intervals)
	return float64(c.rate) * (1 - (c.diurnal-1)*math.Cos(phase))
}

// latencies draws realistic request timings: a log-normal body (σ 0.45,
// median 12 ms at the mean rate, growing with the load: 12·(0.6 + 0.4·load)
// ms), a 1% slow tail (×4–40) and 0.02% multi-second outliers (×200–500);
// send lag 20 µs plus an exponential of mean 60 µs, and 0.1% of arrivals
// late by a further exponential of mean 2 ms.
type latencies struct{ r *rand.Rand }

func newLatencies(seed uint64) *latencies {
	return &latencies{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (l *latencies) next(load float64) (resp, svc, lag time.Duration) {
	median := 12e6 * (0.6 + 0.4*load) // ns
	v := median * math.Exp(0.45*l.r.NormFloat64())
	switch u := l.r.Float64(); {
	case u < 0.0002:
		v *= 200 + 300*l.r.Float64() // the odd multi-second outlier
	case u < 0.01:
		v *= 4 + 36*l.r.Float64()
	}
	lagNs := 20e3 + l.r.ExpFloat64()*60e3
	if l.r.Float64() < 0.001 {
		lagNs += l.r.ExpFloat64() * 2e6
	}
	return time.Duration(v + lagNs), time.Duration(v), time.Duration(lagNs)
}

// fill makes src interval idx's merged data: n requests spread over the
// names, every one issued and succeeded.
func fill(src *metrics.Interval, idx uint32, n int, gen *latencies, load float64) {
	for k := range src.Series {
		src.Series[k].Reset()
	}
	src.SendLag.Reset()
	src.OnWireLag.Reset()
	src.Index, src.InFlight, src.CPU = idx, 0, 0
	for j := 0; j < n; j++ {
		s := &src.Series[j%len(src.Series)]
		resp, svc, lag := gen.next(load)
		s.Intended++
		s.Issued++
		s.Succeeded++
		s.BytesIn += 2
		_ = s.Response.RecordValue(int64(resp))
		_ = s.Service.RecordValue(int64(svc))
		_ = s.TTFB.RecordValue(int64(svc) * 9 / 10)
		_ = src.SendLag.RecordValue(int64(lag))
		_ = src.OnWireLag.RecordValue(int64(lag) + 30_000) // a pooled connection in hand 30 µs later
	}
	src.CPU = time.Duration(n) * 20 * time.Microsecond
}

func writeReports(dir string, rep *reporters.Report, formats string) (jsonBytes, other int64, err error) {
	writers := map[string]struct {
		file  string
		write func(io.Writer, *reporters.Report) error
	}{
		"json":  {"report.json", reporters.WriteJSON},
		"csv":   {"timeseries.csv", reporters.WriteCSV},
		"junit": {"junit.xml", reporters.WriteJUnit},
		"html":  {"report.html", reporters.WriteHTML},
	}
	list := strings.Split(formats, ",")
	for _, f := range list {
		w, ok := writers[f]
		if !ok {
			return 0, 0, fmt.Errorf("-formats: unknown %q", f)
		}
		path := filepath.Join(dir, w.file)
		fh, err := os.Create(path)
		if err != nil {
			return 0, 0, err
		}
		err = w.write(fh, rep)
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", w.file, err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			return 0, 0, err
		}
		if f == "json" {
			jsonBytes = fi.Size()
		} else {
			other += fi.Size()
		}
	}
	return jsonBytes, other, nil
}

func writeProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = pprof.Lookup("heap").WriteTo(f, 0)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func outDir(out string) (string, func(), error) {
	if out != "" {
		return out, func() {}, os.MkdirAll(out, 0o755)
	}
	dir, err := os.MkdirTemp("", "daymem.")
	if err != nil {
		return "", nil, err
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// sampleRSS samples VmRSS every d until the returned stop, which returns
// the highest sample in MB. The goroutine exits on stop.
func sampleRSS(d time.Duration) (stop func() float64) {
	var mu sync.Mutex
	var hi float64
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			v := procMB("VmRSS")
			mu.Lock()
			hi = max(hi, v)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() float64 {
		close(done)
		<-exited
		mu.Lock()
		defer mu.Unlock()
		return max(hi, procMB("VmRSS"))
	}
}

// heapMB is the live heap after a full GC, in MB (2^20 bytes, as the
// soak scripts count).
func heapMB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}

// procMB reads a kB field of /proc/self/status in MB (2^20 bytes); 0
// when it cannot.
func procMB(field string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			if err != nil {
				return 0
			}
			return kb / 1024
		}
	}
	return 0
}

func secs(d time.Duration) float64 { return math.Round(d.Seconds()*100) / 100 }
