package livemetrics

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/surgeload/surge/internal/metrics"
)

// liveBuckets are the upper bounds, in seconds, of the response-time
// histogram the coordinator exports while a run plays.
var liveBuckets = [...]float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// Exporter exports the run as it plays on a Prometheus /metrics endpoint: the
// merged counters and response times of every snapshot, by stage and
// request name, the agents alive and the last interval's send and on-wire
// lag. It is
// a prometheus.Collector over state merge updates; Serve runs its server.
type Exporter struct {
	mu     sync.Mutex
	series map[liveKey]*liveSeries
	lag    map[string]float64 // by stage: the last snapshot's send-lag p99, seconds
	onWire map[string]float64 // by stage: the last snapshot's on-wire lag p99, seconds
	lost   map[string]uint64  // by stage: arrivals lost to lost agents
	alive  int
	// runID and scenario label surge_run_info once SetRun was called.
	runID, scenario string

	descCount, descFailed, descResp, descAlive, descLag, descOnWire, descInfo *prometheus.Desc
}

type liveKey struct{ stage, request string }

type liveSeries struct {
	intended, issued, succeeded, dropped uint64
	failed                               map[string]uint64 // by error class
	buckets                              []uint64          // per liveBuckets bound, not cumulative
	count                                uint64
	sum                                  float64 // seconds
}

// New returns an exporter with nothing observed yet.
func New() *Exporter {
	return &Exporter{
		series: map[liveKey]*liveSeries{}, lag: map[string]float64{}, onWire: map[string]float64{}, lost: map[string]uint64{},
		descCount: prometheus.NewDesc("surge_run_requests_total",
			"Arrivals of the run by stage, request name and what became of them: intended (reached by an agent), issued, succeeded, dropped; "+
				"and lost (owned by a lost agent and never reached; per stage, with no request name: which request an unreached arrival would have been is not known).",
			[]string{"stage", "request", "outcome"}, nil),
		descInfo: prometheus.NewDesc("surge_run_info", "The run being played: its id and scenario name (value 1).", []string{"run_id", "scenario"}, nil),
		descFailed: prometheus.NewDesc("surge_run_failed_total", "Failed requests by stage, request name and error class.",
			[]string{"stage", "request", "class"}, nil),
		descResp: prometheus.NewDesc("surge_run_response_seconds",
			"Response time from the intended send time, merged over agents, by stage and request name.",
			[]string{"stage", "request"}, nil),
		descAlive: prometheus.NewDesc("surge_run_agents_alive", "Agents connected and not lost.", nil, nil),
		descLag: prometheus.NewDesc("surge_run_send_lag_p99_seconds",
			"Send lag p99 of the last snapshot of each stage: the generator's own lateness.", []string{"stage"}, nil),
		descOnWire: prometheus.NewDesc("surge_run_on_wire_lag_p99_seconds",
			"On-wire lag p99 (on the wire - intended send: the send lag plus the wait for a connection) of the last snapshot of each stage.", []string{"stage"}, nil),
	}
}

// Observe adds one agent snapshot of stage to the exported state.
func (l *Exporter) Observe(stage string, names []string, iv *metrics.Interval) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, s := range iv.Series {
		ls := l.seriesOf(stage, names[i])
		ls.addCounters(&s.Counters)
		for _, bar := range s.Response.Distribution() {
			if bar.Count == 0 {
				continue
			}
			v := float64(bar.To) / float64(time.Second)
			b := sort.SearchFloat64s(liveBuckets[:], v) // the first bound ≥ v; len = +Inf
			ls.buckets[b] += uint64(bar.Count)
			ls.count += uint64(bar.Count)
			ls.sum += float64(bar.Count) * (float64(bar.From+bar.To) / 2) / float64(time.Second)
		}
	}
	if iv.SendLag.TotalCount() > 0 {
		l.lag[stage] = float64(metrics.ValueAtPercentile(iv.SendLag, 99)) / float64(time.Second)
	}
	if iv.OnWireLag != nil && iv.OnWireLag.TotalCount() > 0 {
		l.onWire[stage] = float64(metrics.ValueAtPercentile(iv.OnWireLag, 99)) / float64(time.Second)
	}
}

// ObserveSparse is Observe of an agent snapshot in sparse form (as it came
// off the wire), with the same counts: it reads only the non-empty
// buckets (metrics.Sparse.Coarsen), each bound in ns (liveLimits). The sum
// of a request's response times is added up over the snapshot and divided
// once, where Observe divides at every bucket: the two differ in the last
// bits at most.
func (l *Exporter) ObserveSparse(stage string, names []string, d *metrics.SparseInterval) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range d.Series {
		s := &d.Series[i]
		ls := l.seriesOf(stage, names[i])
		ls.addCounters(&s.Counters)
		if s.Response.Len() > 0 {
			var counts [len(liveBuckets) + 1]uint64
			sum2 := s.Response.Coarsen(liveLimits[:], counts[:])
			for b, c := range counts {
				ls.buckets[b] += c
				ls.count += c
			}
			ls.sum += sum2 / 2 / float64(time.Second)
		}
	}
	if d.SendLag.Total > 0 {
		l.lag[stage] = float64(d.SendLag.Percentile(99)) / float64(time.Second)
	}
	if d.OnWireLag.Total > 0 {
		l.onWire[stage] = float64(d.OnWireLag.Percentile(99)) / float64(time.Second)
	}
}

// liveLimits are liveBuckets in ns: liveLimits[b] is the largest whole
// number of ns whose value in seconds (ns / 1e9, in float64, as Observe
// computes it) is at most liveBuckets[b], so a value falls in the first
// bucket b whose limit it does not exceed, the one Observe finds.
var liveLimits = func() [len(liveBuckets)]int64 {
	var out [len(liveBuckets)]int64
	for b, bound := range liveBuckets {
		// The last n with n/1e9 <= bound: float division is monotonic.
		n := sort.Search(1<<53, func(n int) bool { return float64(n)/float64(time.Second) > bound })
		out[b] = int64(n) - 1
	}
	return out
}()

// seriesOf returns the state of one request of stage, created empty on
// first use. The caller holds l.mu.
func (l *Exporter) seriesOf(stage, request string) *liveSeries {
	k := liveKey{stage, request}
	ls := l.series[k]
	if ls == nil {
		ls = &liveSeries{failed: map[string]uint64{}, buckets: make([]uint64, len(liveBuckets)+1)}
		l.series[k] = ls
	}
	return ls
}

// Describe implements prometheus.Collector.
func (l *Exporter) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{l.descCount, l.descFailed, l.descResp, l.descAlive, l.descLag, l.descOnWire, l.descInfo} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (l *Exporter) Collect(ch chan<- prometheus.Metric) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, s := range l.series {
		for outcome, v := range map[string]uint64{"intended": s.intended, "issued": s.issued, "succeeded": s.succeeded, "dropped": s.dropped} {
			ch <- prometheus.MustNewConstMetric(l.descCount, prometheus.CounterValue, float64(v), k.stage, k.request, outcome)
		}
		for class, n := range s.failed {
			ch <- prometheus.MustNewConstMetric(l.descFailed, prometheus.CounterValue, float64(n), k.stage, k.request, class)
		}
		cum := map[float64]uint64{}
		var run uint64
		for i, bound := range liveBuckets {
			run += s.buckets[i]
			cum[bound] = run
		}
		ch <- prometheus.MustNewConstHistogram(l.descResp, s.count, s.sum, cum, k.stage, k.request)
	}
	for stage, v := range l.lag {
		ch <- prometheus.MustNewConstMetric(l.descLag, prometheus.GaugeValue, v, stage)
	}
	for stage, v := range l.onWire {
		ch <- prometheus.MustNewConstMetric(l.descOnWire, prometheus.GaugeValue, v, stage)
	}
	for stage, n := range l.lost {
		ch <- prometheus.MustNewConstMetric(l.descCount, prometheus.CounterValue, float64(n), stage, "", "lost")
	}
	if l.runID != "" {
		ch <- prometheus.MustNewConstMetric(l.descInfo, prometheus.GaugeValue, 1, l.runID, l.scenario)
	}
	ch <- prometheus.MustNewConstMetric(l.descAlive, prometheus.GaugeValue, float64(l.alive))
}

// SetRun names the run in surge_run_info.
func (l *Exporter) SetRun(runID, scenario string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.runID, l.scenario = runID, scenario
	l.mu.Unlock()
}

// AddLost counts arrivals of stage that were lost (owned by a lost agent
// and never reached), once the stage has accounted for them.
func (l *Exporter) AddLost(stage string, n uint64) {
	if l == nil || n == 0 {
		return
	}
	l.mu.Lock()
	l.lost[stage] += n
	l.mu.Unlock()
}

// SetAlive records how many agents are alive.
func (l *Exporter) SetAlive(n int) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.alive = n
	l.mu.Unlock()
}

// Serve serves l on addr at /metrics; it returns the bound address
// and a stop function that shuts the server down and waits for it.
func Serve(addr string, l *Exporter) (string, func(), error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(l); err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("metrics listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { // ends when stop shuts the server down
		defer close(done)
		_ = srv.Serve(ln)
	}()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}
	return ln.Addr().String(), stop, nil
}

// addCounters adds one snapshot's counters of a request name.
func (ls *liveSeries) addCounters(c *metrics.Counters) {
	ls.intended += c.Intended
	ls.issued += c.Issued
	ls.succeeded += c.Succeeded
	ls.dropped += c.Dropped
	for o, n := range c.Errors {
		if n > 0 {
			ls.failed[metrics.Outcome(o).String()] += n
		}
	}
}
