package engine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/metrics"
)

// BenchmarkBuildRequestNetHTTP is the per-arrival cost of picking the
// request and rendering it (URL, templated header and body) into an
// *http.Request before it is sent.
func BenchmarkBuildRequestNetHTTP(b *testing.B) {
	j := newJob(b, "http://127.0.0.1:8080", job{rate: 1000, d: time.Second, requests: []Request{
		{Name: "read", Method: "GET", Path: "/items/{{zipf 1.1 1000000}}", Weight: 9, Header: http.Header{"X-Key": {"k{{int 1 9}}"}}},
		{Name: "write", Method: "POST", Path: "/items", Body: []byte(`{"n":{{seq}},"id":"{{uuid}}"}`), Weight: 1},
	}})
	p, err := j.compile()
	if err != nil {
		b.Fatal(err)
	}
	t := &netHTTP{r: &runner{job: &j, plan: p}}
	ctx := context.Background()
	b.ReportAllocs()
	var i uint64
	for b.Loop() {
		k := p.pick(i)
		if _, err := t.build(ctx, &p.reqs[k], i); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkBuildRequestNative is the same mix rendered for Surge's own
// client (a request without templates costs nothing: it is built once).
func BenchmarkBuildRequestNative(b *testing.B) {
	j := newJob(b, "http://127.0.0.1:8080", job{rate: 1000, d: time.Second, requests: []Request{
		{Name: "read", Method: "GET", Path: "/items/{{zipf 1.1 1000000}}", Weight: 9, Header: http.Header{"X-Key": {"k{{int 1 9}}"}}},
		{Name: "write", Method: "POST", Path: "/items", Body: []byte(`{"n":{{seq}},"id":"{{uuid}}"}`), Weight: 1},
	}})
	p, err := j.compile()
	if err != nil {
		b.Fatal(err)
	}
	t := &native{r: &runner{job: &j, plan: p}}
	t.scratch.New = func() any { return new(nativeScratch) }
	b.ReportAllocs()
	var i uint64
	for b.Loop() {
		k := p.pick(i)
		c := &p.reqs[k]
		if c.native == nil {
			s := t.scratch.Get().(*nativeScratch)
			if _, err := t.render(s, c, i); err != nil {
				b.Fatal(err)
			}
			t.scratch.Put(s)
		}
		i++
	}
}

// The run benchmarks play a real job (one request, constant rate) against
// a loopback target in another process — this test binary run again as a
// canned-response server (TestBenchTargetChild), or the target named by
// SURGE_BENCH_TARGET (say a loopback nginx, http://127.0.0.1:18080) — so
// the process's CPU time is the engine's alone. b.N is the number of
// arrivals: run them with -benchtime=Nx (50000x is 5 s at 10,000/s).
//
// Custom metrics:
//
//	cpu-µs/req       process CPU (user + system) ÷ requests completed
//	send-lag-p99-µs  how late the pacer dispatched (p99)
//	on-wire-p99-µs   how late requests went on the wire (p99)
//	completed-%      requests completed (any answer) ÷ intended
//	dropped          arrivals dropped (counted, with their cause)
//
// ns/op is the schedule's spacing, not a cost. SURGE_BENCH_RATES (say
// "20000,30000") replaces the rates; SURGE_BENCH_LOOPS=n plays every job
// with n sender loops instead of the engine's choice.
const (
	benchTargetEnv = "SURGE_BENCH_TARGET"
	benchChildEnv  = "SURGE_BENCH_CHILD"
)

// benchReply is what nginx answers `return 200 "ok"` with (its headers'
// sizes, so the client parses as much).
const benchReply = "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sun, 06 Dec 2026 12:00:00 GMT\r\n" +
	"Content-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"

// TestBenchTargetChild is the benchmarks' target when run as a child: it
// prints its address and serves until its standard input closes.
func TestBenchTargetChild(t *testing.T) {
	if os.Getenv(benchChildEnv) == "" {
		t.Skip("runs only as the run benchmarks' target")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("ADDR %s\n", ln.Addr())
	go func() { // exits when the parent closes stdin (or dies)
		io.Copy(io.Discard, os.Stdin)
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go serveCannedConn(c) // exits when the client closes the connection
	}
}

// serveCannedConn answers every request head on c with benchReply,
// pipelined requests included, with one read and one write per batch.
func serveCannedConn(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 64<<10)
	out := make([]byte, 0, 64<<10)
	have := 0
	for {
		n, err := c.Read(buf[have:])
		if err != nil {
			return
		}
		have += n
		out = out[:0]
		start := 0
		for {
			k := bytes.Index(buf[start:have], []byte("\r\n\r\n"))
			if k < 0 {
				break
			}
			start += k + 4
			out = append(out, benchReply...)
		}
		have = copy(buf, buf[start:have])
		if have == len(buf) {
			return // a head of 64 KiB: not a benchmark client
		}
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}
}

// benchTarget returns the URL of the benchmarks' target, starting the
// child server when SURGE_BENCH_TARGET is not set.
func benchTarget(b *testing.B) string {
	if u := os.Getenv(benchTargetEnv); u != "" {
		return u
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchTargetChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), benchChildEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ADDR ")
	if err != nil || !ok {
		b.Fatalf("target child: %q, %v", line, err)
	}
	go io.Copy(io.Discard, stdout) // exits when the child exits
	return "http://" + addr
}

// BenchmarkRun plays b.N arrivals at each rate, with each timing, and
// reports the engine's CPU per completed request and its send lag.
func BenchmarkRun(b *testing.B) {
	target := benchTarget(b)
	rates := []int{10_000, 50_000, 100_000}
	if v := os.Getenv("SURGE_BENCH_RATES"); v != "" {
		rates = nil
		for _, f := range strings.Split(v, ",") {
			r, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || r < 1 {
				b.Fatalf("SURGE_BENCH_RATES=%q: want rates in req/s, comma-separated", v)
			}
			rates = append(rates, r)
		}
	}
	for _, rate := range rates {
		for _, tm := range []struct {
			name   string
			timing Timing
		}{{"default", TimingDefault}, {"precise", TimingPrecise}} {
			b.Run(fmt.Sprintf("rate=%d/timing=%s", rate, tm.name), func(b *testing.B) {
				benchRun(b, target, float64(rate), tm.timing)
			})
		}
	}
}

func benchRun(b *testing.B, target string, rate float64, timing Timing) {
	if v := os.Getenv("SURGE_BENCH_LOOPS"); v != "" {
		// The number of sender loops, instead of the engine's choice.
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("SURGE_BENCH_LOOPS=%q: want a count of loops", v)
		}
		loopsForTest = n
		defer func() { loopsForTest = 0 }()
	}
	n := max(b.N, 100)
	if float64(n)/rate > 20 {
		b.Fatalf("%d arrivals at %v/s take more than 20 s: lower -benchtime", n, rate)
	}
	lim := DefaultLimits()
	lim.Timeout = 5 * time.Second
	lim.Drain = 5 * time.Second
	j := newJob(b, target, job{rate: rate, d: time.Duration(float64(n) / rate * float64(time.Second)), limits: lim,
		requests: []Request{{Name: "get", Method: "GET", Path: "/"}}})
	j.Interval = time.Second
	j.Client.Timing = timing
	sendLag, onWire := j.Geometry.New(), j.Geometry.New()
	var tot metrics.Counters
	e := New(DefaultConfig())
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	_, err := e.Run(context.Background(), j, time.Now().Add(20*time.Millisecond), func(iv *metrics.Interval) error {
		tot.Add(iv.Totals())
		if err := metrics.Merge(sendLag, iv.SendLag); err != nil {
			return err
		}
		return metrics.Merge(onWire, iv.OnWireLag)
	})
	cpu = processCPU() - cpu
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if tot.Completed() > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(tot.Completed()), "cpu-µs/req")
	}
	b.ReportMetric(float64(sendLag.ValueAtQuantile(99))/1e3, "send-lag-p99-µs")
	b.ReportMetric(float64(onWire.ValueAtQuantile(99))/1e3, "on-wire-p99-µs")
	b.ReportMetric(100*float64(tot.Completed())/float64(max(tot.Intended, 1)), "completed-%")
	b.ReportMetric(float64(tot.Dropped), "dropped")
}
