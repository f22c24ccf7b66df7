package push

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/prompb"
	"golang.org/x/net/http/httpguts"

	"github.com/surgeload/surge/internal/livemetrics"
	"github.com/surgeload/surge/internal/metrics"
)

// exporter returns a livemetrics exporter holding one snapshot of stage
// s1: request get 10 intended, 9 issued, 7 succeeded, 2 failed (5xx), 9
// response times of 0.7, 1.7, … 8.7 ms; 4 lost; 2 agents alive; run "r1".
func exporter(t *testing.T, run bool) (*livemetrics.Exporter, prometheus.Gatherer) {
	t.Helper()
	e := livemetrics.New()
	iv := metrics.NewInterval(metrics.DefaultGeometry(), 1)
	s := &iv.Series[0]
	s.Intended, s.Issued, s.Succeeded, s.Failed = 10, 9, 7, 2
	s.Errors[metrics.HTTP5xx] = 2
	for i := range 9 {
		if err := s.Response.RecordValue(int64(time.Duration(i+1)*time.Millisecond - 300*time.Microsecond)); err != nil {
			t.Fatal(err)
		}
	}
	if err := iv.SendLag.RecordValue(int64(time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	e.Observe("s1", []string{"get"}, iv)
	e.AddLost("s1", 4)
	e.SetAlive(2)
	if run {
		e.SetRun("r1", "scn")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(e)
	return e, reg
}

// TestSamples: the flattened series carry run_id and the extra labels,
// the counters' values, and the histogram as cumulative buckets whose
// +Inf bucket is the count.
func TestSamples(t *testing.T) {
	_, g := exporter(t, true)
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	extra, err := extraLabels(fams, map[string]string{"env": "ci"})
	if err != nil {
		t.Fatal(err)
	}
	key := func(s Sample) string {
		var b strings.Builder
		b.WriteString(s.Name)
		for _, l := range s.Labels {
			b.WriteString(" " + l.Name + "=" + l.Value)
		}
		return b.String()
	}
	got := map[string]float64{}
	for _, s := range Samples(fams, extra) {
		got[key(s)] = s.Value
	}
	for _, c := range []struct {
		series string
		want   float64
	}{
		{"surge_run_requests_total env=ci outcome=intended request=get run_id=r1 stage=s1", 10},
		{"surge_run_requests_total env=ci outcome=issued request=get run_id=r1 stage=s1", 9},
		{"surge_run_requests_total env=ci outcome=succeeded request=get run_id=r1 stage=s1", 7},
		{"surge_run_requests_total env=ci outcome=dropped request=get run_id=r1 stage=s1", 0},
		{"surge_run_requests_total env=ci outcome=lost request= run_id=r1 stage=s1", 4},
		{"surge_run_failed_total class=http_5xx env=ci request=get run_id=r1 stage=s1", 2},
		{"surge_run_response_seconds_count env=ci request=get run_id=r1 stage=s1", 9},
		{"surge_run_response_seconds_bucket env=ci le=+Inf request=get run_id=r1 stage=s1", 9},
		{"surge_run_response_seconds_bucket env=ci le=0.001 request=get run_id=r1 stage=s1", 1},
		{"surge_run_response_seconds_bucket env=ci le=0.005 request=get run_id=r1 stage=s1", 5},
		{"surge_run_response_seconds_bucket env=ci le=0.01 request=get run_id=r1 stage=s1", 9},
		{"surge_run_agents_alive env=ci run_id=r1", 2},
		{"surge_run_send_lag_p99_seconds env=ci run_id=r1 stage=s1", 0.001},
		{"surge_run_info env=ci run_id=r1 scenario=scn", 1},
	} {
		v, ok := got[c.series]
		if !ok {
			t.Errorf("no series %s", c.series)
			continue
		}
		if d := v - c.want; d > c.want*1e-3 || d < -c.want*1e-3 {
			t.Errorf("%s = %v; want %v", c.series, v, c.want)
		}
	}
	for k := range got {
		if !strings.Contains(k, " run_id=r1") {
			t.Errorf("series without run_id: %s", k)
		}
	}
	req := WriteRequest(fams, extra, time.UnixMilli(1234))
	if len(req.Timeseries) != len(got) {
		t.Errorf("write request of %d series; %d samples", len(req.Timeseries), len(got))
	}
	types := map[string]prompb.MetricMetadata_MetricType{}
	for _, m := range req.Metadata {
		types[m.MetricFamilyName] = m.Type
	}
	if types["surge_run_requests_total"] != prompb.MetricMetadata_COUNTER || types["surge_run_response_seconds"] != prompb.MetricMetadata_HISTOGRAM ||
		types["surge_run_agents_alive"] != prompb.MetricMetadata_GAUGE {
		t.Errorf("metadata types %v", types)
	}
	for _, ts := range req.Timeseries {
		if ts.Labels[0].Name != "__name__" || len(ts.Samples) != 1 || ts.Samples[0].Timestamp != 1234 {
			t.Errorf("series %v", ts)
		}
	}
}

// receiver is a remote-write endpoint answering status to every request;
// it decodes each body and counts the requests and their series.
type receiver struct {
	status   int
	requests atomic.Int64
	mu       sync.Mutex
	headers  []http.Header
	series   int
	bad      string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.requests.Add(1)
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.headers = append(r.headers, req.Header.Clone())
	raw, err := snappy.Decode(nil, body)
	wr := &prompb.WriteRequest{}
	if err == nil {
		err = wr.Unmarshal(raw)
	}
	if err != nil {
		r.bad = err.Error()
	}
	r.series += len(wr.Timeseries)
	w.WriteHeader(r.status)
}

// TestRemoteWriteRequests: the protocol's headers and the configured ones
// reach the receiver, the body is a snappy WriteRequest; a 5xx is retried
// exactly Retries times, a 4xx not at all, an unreachable receiver is
// retried; every failure is counted and reported once per push; nothing
// is pushed before the run has an id.
func TestRemoteWriteRequests(t *testing.T) {
	refused := func() string { // a loopback port nothing listens on
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return "http://" + ln.Addr().String() + "/api/v1/write"
	}()
	for _, c := range []struct {
		name      string
		status    int // 0: no server
		retries   int
		run       bool
		attempts  int64
		pushes    int
		failures  int
		errSubstr string
	}{
		{name: "ok", status: 204, retries: 2, run: true, attempts: 1, pushes: 1},
		{name: "5xx retried", status: 503, retries: 2, run: true, attempts: 3, failures: 1, errSubstr: "503"},
		{name: "5xx no retries", status: 500, retries: -1, run: true, attempts: 1, failures: 1, errSubstr: "500"},
		{name: "4xx not retried", status: 400, retries: 2, run: true, attempts: 1, failures: 1, errSubstr: "400"},
		{name: "unreachable", status: 0, retries: 1, run: true, failures: 1, errSubstr: "connection refused"},
		{name: "no run id yet", status: 204, retries: 2, run: false, attempts: 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			rcv := &receiver{status: c.status}
			u := refused
			if c.status != 0 {
				srv := httptest.NewServer(rcv)
				defer srv.Close()
				u = srv.URL + "/api/v1/write"
			}
			_, g := exporter(t, c.run)
			var errs []error
			cfg := DefaultConfig()
			cfg.RemoteWrite, cfg.Interval, cfg.Retries, cfg.Timeout = u, time.Hour, c.retries, 2*time.Second
			cfg.Headers = http.Header{"Authorization": {"Bearer t0k"}, "X-Scope-Orgid": {"tenant-1"}}
			cfg.OnError = func(err error) { errs = append(errs, err) }
			p, err := Start(context.Background(), cfg, g)
			if err != nil {
				t.Fatal(err)
			}
			st := p.Close(context.Background()) // the final push only: the interval is an hour
			if got := rcv.requests.Load(); got != c.attempts {
				t.Errorf("%d requests; want %d", got, c.attempts)
			}
			if st.Pushes["remote_write"] != c.pushes || st.Failures["remote_write"] != c.failures || len(errs) != c.failures {
				t.Errorf("stats %+v, %d errors reported; want %d pushes, %d failures", st, len(errs), c.pushes, c.failures)
			}
			if c.errSubstr != "" && (len(errs) == 0 || !strings.Contains(errs[0].Error(), c.errSubstr) || !strings.HasPrefix(errs[0].Error(), "push remote_write: ")) {
				t.Errorf("errors %v; want one containing %q", errs, c.errSubstr)
			}
			rcv.mu.Lock()
			defer rcv.mu.Unlock()
			if rcv.bad != "" {
				t.Errorf("a request body does not decode: %s", rcv.bad)
			}
			for _, h := range rcv.headers {
				for k, want := range map[string]string{"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
					"X-Prometheus-Remote-Write-Version": "0.1.0", "Authorization": "Bearer t0k", "X-Scope-Orgid": "tenant-1"} {
					if got := h.Get(k); got != want {
						t.Errorf("header %s: %q; want %q", k, got, want)
					}
				}
			}
			if c.status == 204 && c.run && rcv.series == 0 {
				t.Error("the push had no series")
			}
		})
	}
}

// TestOTLPFailure: an OTLP receiver that always answers 503 makes the
// push fail after its retries; the failure is counted and reported.
func TestOTLPFailure(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	_, g := exporter(t, true)
	var reported []error
	cfg := DefaultConfig()
	cfg.OTLP, cfg.Interval, cfg.Timeout, cfg.Retries = srv.URL+"/v1/metrics", time.Hour, time.Second, 1
	cfg.OnError = func(err error) { reported = append(reported, err) }
	p, err := Start(context.Background(), cfg, g)
	if err != nil {
		t.Fatal(err)
	}
	st := p.Close(context.Background())
	if st.Failures["otlp"] != 1 || st.Pushes["otlp"] != 0 || len(reported) != 1 || !strings.HasPrefix(reported[0].Error(), "push otlp: ") {
		t.Errorf("stats %+v, reported %v; want one otlp failure", st, reported)
	}
	if n.Load() < 2 {
		t.Errorf("%d requests; want the push retried", n.Load())
	}
}

// TestValidate: bad URLs and labels are refused with a message naming them.
func TestValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		want string // "" for valid
	}{
		{"none", Config{}, ""},
		{"rw", Config{RemoteWrite: "http://127.0.0.1:9090/api/v1/write"}, ""},
		{"otlp https", Config{OTLP: "https://otel.example:4318/v1/metrics", Labels: map[string]string{"env": "ci", "team_1": "x"}}, ""},
		{"scheme", Config{RemoteWrite: "ftp://x/y"}, "not an http:// or https:// URL"},
		{"no host", Config{OTLP: "http:///v1/metrics"}, "not an http:// or https:// URL"},
		{"unparsable", Config{OTLP: "http://[::1"}, "push otlp"},
		{"reserved run_id", Config{RemoteWrite: "http://127.0.0.1:1/", Labels: map[string]string{"run_id": "x"}}, `"run_id": the pushed series have`},
		{"reserved stage", Config{RemoteWrite: "http://127.0.0.1:1/", Labels: map[string]string{"stage": "x"}}, `"stage"`},
		{"bad name", Config{RemoteWrite: "http://127.0.0.1:1/", Labels: map[string]string{"a-b": "x"}}, "not a Prometheus label name"},
		{"dunder", Config{RemoteWrite: "http://127.0.0.1:1/", Labels: map[string]string{"__x": "x"}}, "not a Prometheus label name"},
		{"negative", Config{RemoteWrite: "http://127.0.0.1:1/", Interval: -time.Second}, "negative"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v; want one containing %q", err, c.want)
			}
		})
	}
	if _, err := Start(context.Background(), Config{RemoteWrite: "ftp://x"}, prometheus.NewRegistry()); err == nil {
		t.Error("Start accepted an invalid config")
	}
	cfg := Config{RemoteWrite: "http://127.0.0.1:1/", CAFile: "/nonexistent/ca.pem"}
	if _, err := Start(context.Background(), cfg, prometheus.NewRegistry()); err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing CA file: %v", err)
	}
}

// TestParse: labels and headers from the command line.
func TestParse(t *testing.T) {
	for _, c := range []struct {
		in, k, v string
		header   bool
		bad      bool
	}{
		{in: "env=ci", k: "env", v: "ci"},
		{in: "k=a=b", k: "k", v: "a=b"},
		{in: "k=", k: "k", v: ""},
		{in: "=v", bad: true},
		{in: "novalue", bad: true},
		{in: "Authorization: Bearer abc", k: "Authorization", v: "Bearer abc", header: true},
		{in: "x-scope-orgid:t1", k: "X-Scope-Orgid", v: "t1", header: true},
		{in: "Bad Name: x", header: true, bad: true},
		{in: ": x", header: true, bad: true},
		{in: "NoColon", header: true, bad: true},
		{in: "X: a\r\nY: b", header: true, bad: true},
	} {
		parse := ParseLabel
		if c.header {
			parse = ParseHeader
		}
		k, v, err := parse(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("%q: accepted as %q %q", c.in, k, v)
			}
			continue
		}
		if err != nil || k != c.k || v != c.v {
			t.Errorf("%q: %q %q %v; want %q %q", c.in, k, v, err, c.k, c.v)
		}
	}
}

// FuzzParseHeader: any string either parses into a header a request can
// carry, or is refused; never a panic.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{"Authorization: Bearer x", "a:b", ":", "", "X: \r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, v, err := ParseHeader(s)
		if err != nil {
			return
		}
		if !httpguts.ValidHeaderFieldName(k) || !httpguts.ValidHeaderFieldValue(v) {
			t.Fatalf("%q parsed as %q: %q, not a valid header", s, k, v)
		}
		if _, _, err := ParseLabel(s); err == nil && !strings.Contains(s, "=") {
			t.Fatalf("label %q without =", s)
		}
	})
}

// TestTLS: an https receiver is trusted through CAFile or
// InsecureSkipVerify, and refused (a counted failure) without either.
func TestTLS(t *testing.T) {
	rcv := &receiver{status: 204}
	srv := httptest.NewUnstartedServer(rcv)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	srv.StartTLS()
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		ca       string
		insecure bool
		pushes   int
	}{
		{"system CAs", "", false, 0},
		{"CA file", ca, false, 1},
		{"skip verify", "", true, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, g := exporter(t, true)
			cfg := DefaultConfig()
			cfg.RemoteWrite, cfg.Interval, cfg.Retries, cfg.CAFile, cfg.InsecureSkipVerify = srv.URL+"/api/v1/write", time.Hour, -1, c.ca, c.insecure
			p, err := Start(context.Background(), cfg, g)
			if err != nil {
				t.Fatal(err)
			}
			st := p.Close(context.Background())
			if st.Pushes["remote_write"] != c.pushes || st.Failures["remote_write"] != 1-c.pushes {
				t.Errorf("stats %+v; want %d pushes", st, c.pushes)
			}
			if c.pushes == 0 && !strings.Contains(st.LastError, "certificate") {
				t.Errorf("last error %q; want a certificate error", st.LastError)
			}
		})
	}
}
