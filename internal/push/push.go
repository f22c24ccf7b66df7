package push

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/net/http/httpguts"
)

// Config selects where a run's metrics are pushed and how. The zero value
// pushes nowhere; DefaultConfig fills the timing defaults.
type Config struct {
	// RemoteWrite is the URL of a Prometheus remote-write 1.0 receiver,
	// like http://127.0.0.1:9090/api/v1/write (Prometheus started with
	// --web.enable-remote-write-receiver, Mimir, Thanos, VictoriaMetrics).
	RemoteWrite string
	// OTLP is the URL of an OTLP/HTTP metrics receiver, like
	// http://127.0.0.1:4318/v1/metrics (protobuf encoding).
	OTLP string
	// Interval is the time between pushes; one more push carries the
	// final totals when the run ends. 0 takes the run's reporting
	// interval.
	Interval time.Duration
	// Timeout bounds one attempt of one push. Default 5s.
	Timeout time.Duration
	// Retries is how many times a failed push is tried again (on a
	// network error or a 5xx), with backoff, before it counts as failed.
	// Default 2; negative means none.
	Retries int
	// Labels are added to every pushed series, beside run_id (always
	// set: the report's run id) and the series' own labels (stage,
	// request, outcome, class, le). They may not reuse those names.
	Labels map[string]string
	// Headers are sent with every push request, like
	// "Authorization: Bearer …" or a tenant header (X-Scope-OrgID).
	Headers http.Header
	// CAFile, if set, is a PEM file of the CAs trusted for an https URL
	// (default: the system's). InsecureSkipVerify skips the check.
	CAFile             string
	InsecureSkipVerify bool
	// OnError, if set, is called with every failed push (after its
	// retries), from the pushing goroutine.
	OnError func(error)
}

// DefaultConfig returns a Config that pushes nowhere, with a 5 s timeout
// and 2 retries.
func DefaultConfig() Config {
	return Config{Timeout: 5 * time.Second, Retries: 2}
}

// Enabled reports whether c pushes anywhere.
func (c *Config) Enabled() bool { return c.RemoteWrite != "" || c.OTLP != "" }

// reservedLabels are the labels a pushed series has of its own.
var reservedLabels = map[string]bool{
	"__name__": true, "run_id": true, "scenario": true, "stage": true, "request": true,
	"outcome": true, "class": true, "le": true, "job": true, "instance": true,
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// Validate checks the URLs and labels of c.
func (c *Config) Validate() error {
	for _, u := range []struct{ flag, v string }{{"remote-write", c.RemoteWrite}, {"otlp", c.OTLP}} {
		if u.v == "" {
			continue
		}
		p, err := url.Parse(u.v)
		if err != nil {
			return fmt.Errorf("push %s: %w", u.flag, err)
		}
		if p.Scheme != "http" && p.Scheme != "https" || p.Host == "" {
			return fmt.Errorf("push %s: %q is not an http:// or https:// URL", u.flag, u.v)
		}
	}
	for k := range c.Labels {
		if !labelName.MatchString(k) || strings.HasPrefix(k, "__") {
			return fmt.Errorf("push label %q: not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, no leading __)", k)
		}
		if reservedLabels[k] {
			return fmt.Errorf("push label %q: the pushed series have a label of that name of their own", k)
		}
	}
	if c.Interval < 0 || c.Timeout < 0 {
		return errors.New("push: negative interval or timeout")
	}
	if c.CAFile != "" {
		if _, err := caPool(c.CAFile); err != nil {
			return err
		}
	}
	return nil
}

// caPool reads a PEM file of CA certificates.
func caPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("push CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("push CA %s: no PEM certificate in it", file)
	}
	return pool, nil
}

// ParseLabel parses one k=v label.
func ParseLabel(s string) (string, string, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return "", "", fmt.Errorf("push label %q: want name=value", s)
	}
	return k, v, nil
}

// ParseHeader parses one "Name: value" header.
func ParseHeader(s string) (string, string, error) {
	k, v, ok := strings.Cut(s, ":")
	k, v = strings.TrimSpace(k), strings.TrimSpace(v)
	if !ok || !httpguts.ValidHeaderFieldName(k) || !httpguts.ValidHeaderFieldValue(v) {
		return "", "", fmt.Errorf("push header %q: want \"Name: value\"", s)
	}
	return http.CanonicalHeaderKey(k), v, nil
}

// Stats counts the pushes of a run, by sink.
type Stats struct {
	// Pushes and Failures count push requests that succeeded or failed
	// (after their retries), by sink: "remote_write", "otlp".
	Pushes, Failures map[string]int
	// LastError is the last failure's message, if any.
	LastError string
}

// Sample is one pushed series at one time: a name, its labels (sorted
// by name, run_id and Config.Labels among them) and a value.
type Sample struct {
	Name   string
	Labels []Label
	Value  float64
}

// Label is one label of a Sample.
type Label struct{ Name, Value string }

// sink sends one snapshot of the gathered families.
type sink interface {
	name() string
	send(ctx context.Context, s *snapshot) error
	close(ctx context.Context)
}

// snapshot is what one push sends: the gathered families, the labels
// added to each series, and when.
type snapshot struct {
	fams  []*dto.MetricFamily
	extra []Label // run_id and Config.Labels, sorted
	at    time.Time
	start time.Time
}

// Pusher pushes what a Gatherer holds every interval, and once more at
// Close. Its pushes run on their own goroutine: a slow or failing sink
// delays only the next push, never the run.
type Pusher struct {
	cfg   Config
	g     prometheus.Gatherer
	sinks []sink
	start time.Time

	mu     sync.Mutex
	stats  Stats
	lastAt time.Time

	stop chan struct{}
	done chan struct{}
}

// Start validates cfg and starts pushing what g gathers every
// cfg.Interval (1s when 0) until Close. A push before g has a run id (its
// surge_run_info) is skipped. ctx bounds the pushes.
func Start(ctx context.Context, cfg Config, g prometheus.Gatherer) (*Pusher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := DefaultConfig()
	if cfg.Interval == 0 {
		cfg.Interval = time.Second
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = d.Timeout
	}
	if cfg.Retries == 0 {
		cfg.Retries = d.Retries
	} else if cfg.Retries < 0 {
		cfg.Retries = 0
	}
	client, err := httpClient(&cfg)
	if err != nil {
		return nil, err
	}
	p := &Pusher{cfg: cfg, g: g, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{}),
		stats: Stats{Pushes: map[string]int{}, Failures: map[string]int{}}}
	if cfg.RemoteWrite != "" {
		s, err := newRemoteWrite(&cfg, client)
		if err != nil {
			return nil, err
		}
		p.sinks = append(p.sinks, s)
	}
	if cfg.OTLP != "" {
		s, err := newOTLP(ctx, &cfg, client)
		if err != nil {
			return nil, err
		}
		p.sinks = append(p.sinks, s)
	}
	go p.loop(ctx)
	return p, nil
}

func (p *Pusher) loop(ctx context.Context) {
	defer close(p.done)
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
			p.pushOnce(ctx)
		}
	}
}

// Close stops the periodic pushes, pushes the final totals once (bounded
// by ctx, and by the timeout and retries of each sink), shuts the sinks
// down and returns the counts of the pushes.
func (p *Pusher) Close(ctx context.Context) Stats {
	close(p.stop)
	<-p.done
	p.pushOnce(ctx)
	for _, s := range p.sinks {
		s.close(ctx)
	}
	return p.Stats()
}

// Stats returns the counts so far.
func (p *Pusher) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := Stats{Pushes: map[string]int{}, Failures: map[string]int{}, LastError: p.stats.LastError}
	for k, v := range p.stats.Pushes {
		out.Pushes[k] = v
	}
	for k, v := range p.stats.Failures {
		out.Failures[k] = v
	}
	return out
}

// errNoRun: the gatherer has no surge_run_info yet.
var errNoRun = errors.New("no run id yet")

// pushOnce gathers once and sends to every sink.
func (p *Pusher) pushOnce(ctx context.Context) {
	fams, err := p.g.Gather()
	if err != nil {
		p.fail("gather", fmt.Errorf("push: gather: %w", err))
		return
	}
	extra, err := extraLabels(fams, p.cfg.Labels)
	if errors.Is(err, errNoRun) {
		return
	}
	p.mu.Lock()
	at := time.Now()
	if !at.After(p.lastAt) { // strictly later than the last push, in ms
		at = p.lastAt.Add(time.Millisecond)
	}
	p.lastAt = at
	p.mu.Unlock()
	snap := &snapshot{fams: fams, extra: extra, at: at, start: p.start}
	for _, s := range p.sinks {
		if err := s.send(ctx, snap); err != nil {
			p.fail(s.name(), fmt.Errorf("push %s: %w", s.name(), err))
			continue
		}
		p.mu.Lock()
		p.stats.Pushes[s.name()]++
		p.mu.Unlock()
	}
}

func (p *Pusher) fail(sink string, err error) {
	p.mu.Lock()
	p.stats.Failures[sink]++
	p.stats.LastError = err.Error()
	p.mu.Unlock()
	if p.cfg.OnError != nil {
		p.cfg.OnError(err)
	}
}

// extraLabels returns run_id (from surge_run_info) and labels, sorted.
func extraLabels(fams []*dto.MetricFamily, labels map[string]string) ([]Label, error) {
	runID := ""
	for _, f := range fams {
		if f.GetName() != "surge_run_info" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "run_id" {
					runID = l.GetValue()
				}
			}
		}
	}
	if runID == "" {
		return nil, errNoRun
	}
	out := []Label{{"run_id", runID}}
	for k, v := range labels {
		out = append(out, Label{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Samples flattens families as Prometheus stores them: a counter or a
// gauge is one series; a histogram is name_bucket{le} (cumulative, +Inf
// included), name_sum and name_count. Every series has the extra labels
// besides its own; a run_id of its own (surge_run_info's) is kept.
func Samples(fams []*dto.MetricFamily, extra []Label) []Sample {
	var out []Sample
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			own := make([]Label, 0, len(m.GetLabel())+len(extra)+1)
			has := map[string]bool{}
			for _, l := range m.GetLabel() {
				own = append(own, Label{l.GetName(), l.GetValue()})
				has[l.GetName()] = true
			}
			for _, l := range extra {
				if !has[l.Name] {
					own = append(own, l)
				}
			}
			add := func(name string, v float64, more ...Label) {
				ls := append(append([]Label(nil), own...), more...)
				sort.Slice(ls, func(i, j int) bool { return ls[i].Name < ls[j].Name })
				out = append(out, Sample{Name: name, Labels: ls, Value: v})
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				add(f.GetName(), m.GetCounter().GetValue())
			case dto.MetricType_GAUGE:
				add(f.GetName(), m.GetGauge().GetValue())
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				inf := false
				for _, b := range h.GetBucket() {
					inf = inf || b.GetUpperBound() > 1e308
					add(f.GetName()+"_bucket", float64(b.GetCumulativeCount()), Label{"le", formatLE(b.GetUpperBound())})
				}
				if !inf {
					add(f.GetName()+"_bucket", float64(h.GetSampleCount()), Label{"le", "+Inf"})
				}
				add(f.GetName()+"_sum", h.GetSampleSum())
				add(f.GetName()+"_count", float64(h.GetSampleCount()))
			}
		}
	}
	return out
}

// httpClient is the client of every sink: TLS as configured, and
// cfg.Headers on every request.
func httpClient(cfg *Config) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tc := &tls.Config{InsecureSkipVerify: cfg.InsecureSkipVerify} //nolint:gosec // an explicit option
	if cfg.CAFile != "" {
		pool, err := caPool(cfg.CAFile)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	tr.TLSClientConfig = tc
	return &http.Client{Transport: headerTransport{next: tr, h: cfg.Headers}, Timeout: cfg.Timeout}, nil
}

type headerTransport struct {
	next http.RoundTripper
	h    http.Header
}

func (t headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if len(t.h) > 0 {
		r = r.Clone(r.Context())
		for k, vs := range t.h {
			r.Header.Del(k)
			for _, v := range vs {
				r.Header.Add(k, v)
			}
		}
	}
	return t.next.RoundTrip(r)
}

// formatLE formats a bucket bound as the text exposition does.
func formatLE(v float64) string {
	if v > 1e308 {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
