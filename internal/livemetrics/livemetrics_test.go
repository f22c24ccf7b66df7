package livemetrics

import (
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/surgeload/surge/internal/metrics"
)

// scrape serves e and reads its exposition once.
func scrape(t *testing.T, e *Exporter) []byte {
	t.Helper()
	addr, stop, err := Serve("127.0.0.1:0", e)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// TestExporter: two snapshots of one stage add up in the served
// exposition, which parses as Prometheus text; failures are by class and
// the histogram's count is every response.
func TestExporter(t *testing.T) {
	e := New()
	names := []string{"get", "post"}
	for range 2 {
		iv := metrics.NewInterval(metrics.DefaultGeometry(), 2)
		s := &iv.Series[0]
		s.Intended, s.Issued, s.Succeeded, s.Failed = 10, 9, 7, 2
		s.Errors[metrics.HTTP5xx] = 2
		for i := range 9 {
			if err := s.Response.RecordValue(int64(time.Duration(i+1) * time.Millisecond)); err != nil {
				t.Fatal(err)
			}
		}
		if err := iv.OnWireLag.RecordValue(int64(30 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if err := iv.SendLag.RecordValue(int64(2 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		e.Observe("stage-a", names, iv)
	}
	e.SetAlive(3)
	body := scrape(t, e)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, body)
	}
	counts := map[string]float64{}
	for _, m := range fams["surge_run_requests_total"].GetMetric() {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		if l["stage"] != "stage-a" {
			t.Errorf("series of stage %q", l["stage"])
		}
		counts[l["request"]+"/"+l["outcome"]] = m.GetCounter().GetValue()
	}
	want := map[string]float64{"get/intended": 20, "get/issued": 18, "get/succeeded": 14, "get/dropped": 0,
		"post/intended": 0, "post/issued": 0, "post/succeeded": 0, "post/dropped": 0}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("surge_run_requests_total %s = %v; want %v", k, counts[k], v)
		}
	}
	var failed float64
	for _, m := range fams["surge_run_failed_total"].GetMetric() {
		failed += m.GetCounter().GetValue()
	}
	if failed != 4 {
		t.Errorf("surge_run_failed_total = %v; want 4", failed)
	}
	var hist uint64
	for _, m := range fams["surge_run_response_seconds"].GetMetric() {
		hist += m.GetHistogram().GetSampleCount()
	}
	if hist != 18 {
		t.Errorf("response histogram holds %d samples; want 18", hist)
	}
	if a := fams["surge_run_agents_alive"].GetMetric(); len(a) != 1 || a[0].GetGauge().GetValue() != 3 {
		t.Errorf("agents alive %v; want 3", a)
	}
	if l := fams["surge_run_send_lag_p99_seconds"].GetMetric(); len(l) != 1 || l[0].GetGauge().GetValue() < 0.002 || l[0].GetGauge().GetValue() > 0.0021 {
		t.Errorf("send lag %v; want about 0.002 s", l)
	}
	if l := fams["surge_run_on_wire_lag_p99_seconds"].GetMetric(); len(l) != 1 || l[0].GetGauge().GetValue() < 0.03 || l[0].GetGauge().GetValue() > 0.0301 {
		t.Errorf("on-wire lag %v; want about 0.03 s", l)
	}
}

// A run without metrics holds a nil exporter: observing is a no-op.
func TestNilExporter(t *testing.T) {
	var e *Exporter
	e.Observe("s", []string{"a"}, metrics.NewInterval(metrics.DefaultGeometry(), 1))
	e.ObserveSparse("s", []string{"a"}, &metrics.SparseInterval{Series: make([]metrics.SparseSeries, 1)})
	e.SetAlive(1)
}

// TestLostAndInfo: lost arrivals are an outcome of their stage (no request
// name), added up; the run is named in surge_run_info.
func TestLostAndInfo(t *testing.T) {
	e := New()
	e.SetRun("abc123", "launch")
	e.AddLost("s", 7)
	e.AddLost("s", 5)
	e.AddLost("s", 0)
	body := scrape(t, e)
	for _, want := range []string{`surge_run_requests_total{outcome="lost",request="",stage="s"} 12`, `surge_run_info{run_id="abc123",scenario="launch"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("exposition lacks %s:\n%s", want, body)
		}
	}
}

// randomInterval is a snapshot of random counters and response times,
// some on the bounds of the exported buckets, and lags.
func randomInterval(rng *rand.Rand, n int) *metrics.Interval {
	g := metrics.DefaultGeometry()
	iv := metrics.NewInterval(g, n)
	for i := range iv.Series {
		s := &iv.Series[i]
		s.Intended, s.Issued, s.Succeeded = uint64(rng.IntN(1000)), uint64(rng.IntN(1000)), uint64(rng.IntN(1000))
		s.Errors[metrics.Timeout], s.Errors[metrics.HTTP5xx] = uint64(rng.IntN(3)), uint64(rng.IntN(2))
		median := float64(time.Duration(1+rng.IntN(30)) * time.Millisecond)
		for range rng.IntN(2000) {
			v := int64(median * math.Exp(rng.NormFloat64()))
			if rng.IntN(10) == 0 {
				v = int64(liveBuckets[rng.IntN(len(liveBuckets))]*float64(time.Second)) + rng.Int64N(3) - 1
			}
			_ = s.Response.RecordValue(min(max(v, 0), g.Highest))
		}
	}
	for range rng.IntN(3000) {
		_ = iv.SendLag.RecordValue(rng.Int64N(int64(time.Millisecond)))
		_ = iv.OnWireLag.RecordValue(rng.Int64N(int64(10 * time.Millisecond)))
	}
	return iv
}

// TestObserveSparse: snapshots observed in sparse form give the state
// Observe gives, every count exactly; the response-time sum differs in
// the last bits at most (rounded once per snapshot, not per bucket).
func TestObserveSparse(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"a", "b", "c"}
	dense, sparse := New(), New()
	var d metrics.SparseInterval
	for k := range 40 {
		iv := randomInterval(rng, len(names))
		stage := []string{"s1", "s2"}[k%2]
		dense.Observe(stage, names, iv)
		if err := d.Set(iv); err != nil {
			t.Fatal(err)
		}
		sparse.ObserveSparse(stage, names, &d)
	}
	if len(dense.series) != len(sparse.series) {
		t.Fatalf("%d series; want %d", len(sparse.series), len(dense.series))
	}
	for k, w := range dense.series {
		g := sparse.series[k]
		if g == nil || g.intended != w.intended || g.issued != w.issued || g.succeeded != w.succeeded || g.dropped != w.dropped ||
			g.count != w.count || !slices.Equal(g.buckets, w.buckets) || !maps.Equal(g.failed, w.failed) {
			t.Fatalf("%v: %+v; want %+v", k, g, w)
		}
		if math.Abs(g.sum-w.sum) > 1e-12*w.sum {
			t.Errorf("%v: sum %v; want %v", k, g.sum, w.sum)
		}
	}
	if !maps.Equal(dense.lag, sparse.lag) || !maps.Equal(dense.onWire, sparse.onWire) {
		t.Errorf("lags %v, %v; want %v, %v", sparse.lag, sparse.onWire, dense.lag, dense.onWire)
	}
}

// TestLiveLimits: a value in ns is over a bucket's limit exactly when its
// value in seconds is over the bucket's bound.
func TestLiveLimits(t *testing.T) {
	for b, bound := range liveBuckets {
		n := liveLimits[b]
		if float64(n)/float64(time.Second) > bound || float64(n+1)/float64(time.Second) <= bound {
			t.Errorf("limit of bucket %v s: %d ns", bound, n)
		}
	}
}
