package push

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
)

// otlp pushes OTLP/HTTP (protobuf) with the OpenTelemetry SDK's exporter:
// counters as cumulative monotonic sums, gauges as gauges, histograms as
// cumulative explicit-bucket histograms, under the live metrics' names;
// run_id and Config.Labels are attributes of every data point.
type otlp struct {
	exp     *otlpmetrichttp.Exporter
	timeout time.Duration
}

func newOTLP(ctx context.Context, cfg *Config, client *http.Client) (*otlp, error) {
	// The whole export, retries and backoff included, within the same
	// bound as a remote-write push.
	whole := time.Duration(cfg.Retries+1) * (cfg.Timeout + time.Second)
	exp, err := otlpmetrichttp.New(ctx,
		otlpmetrichttp.WithEndpointURL(cfg.OTLP),
		otlpmetrichttp.WithHTTPClient(client),
		otlpmetrichttp.WithTimeout(whole),
		otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{
			Enabled: cfg.Retries > 0, InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second, MaxElapsedTime: whole,
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("push otlp: %w", err)
	}
	return &otlp{exp: exp, timeout: whole}, nil
}

func (*otlp) name() string { return "otlp" }

func (o *otlp) close(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	_ = o.exp.Shutdown(ctx)
}

func (o *otlp) send(ctx context.Context, s *snapshot) error {
	rm := ResourceMetrics(s.fams, s.extra, s.start, s.at)
	if len(rm.ScopeMetrics[0].Metrics) == 0 {
		return nil
	}
	return o.exp.Export(ctx, rm)
}

// Scope is the instrumentation scope of the pushed OTLP metrics.
const Scope = "github.com/surgeload/surge"

// ResourceMetrics is the OTLP form of families at time at, each series
// cumulative from start: resource service.name=surge, one scope.
func ResourceMetrics(fams []*dto.MetricFamily, extra []Label, start, at time.Time) *metricdata.ResourceMetrics {
	sm := metricdata.ScopeMetrics{Scope: instrumentation.Scope{Name: Scope}}
	for _, f := range fams {
		attrs := func(m *dto.Metric) attribute.Set {
			kv := make([]attribute.KeyValue, 0, len(m.GetLabel())+len(extra))
			has := map[string]bool{}
			for _, l := range m.GetLabel() {
				kv = append(kv, attribute.String(l.GetName(), l.GetValue()))
				has[l.GetName()] = true
			}
			for _, l := range extra {
				if !has[l.Name] {
					kv = append(kv, attribute.String(l.Name, l.Value))
				}
			}
			return attribute.NewSet(kv...)
		}
		out := metricdata.Metrics{Name: f.GetName(), Description: f.GetHelp()}
		if strings.HasSuffix(f.GetName(), "_seconds") {
			out.Unit = "s"
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			sum := metricdata.Sum[float64]{Temporality: metricdata.CumulativeTemporality, IsMonotonic: true}
			for _, m := range f.GetMetric() {
				sum.DataPoints = append(sum.DataPoints, metricdata.DataPoint[float64]{Attributes: attrs(m), StartTime: start, Time: at, Value: m.GetCounter().GetValue()})
			}
			out.Data = sum
		case dto.MetricType_GAUGE:
			g := metricdata.Gauge[float64]{}
			for _, m := range f.GetMetric() {
				g.DataPoints = append(g.DataPoints, metricdata.DataPoint[float64]{Attributes: attrs(m), Time: at, Value: m.GetGauge().GetValue()})
			}
			out.Data = g
		case dto.MetricType_HISTOGRAM:
			h := metricdata.Histogram[float64]{Temporality: metricdata.CumulativeTemporality}
			for _, m := range f.GetMetric() {
				ph := m.GetHistogram()
				dp := metricdata.HistogramDataPoint[float64]{Attributes: attrs(m), StartTime: start, Time: at,
					Count: ph.GetSampleCount(), Sum: ph.GetSampleSum()}
				var below uint64
				for _, b := range ph.GetBucket() {
					if math.IsInf(b.GetUpperBound(), 1) {
						continue
					}
					dp.Bounds = append(dp.Bounds, b.GetUpperBound())
					dp.BucketCounts = append(dp.BucketCounts, b.GetCumulativeCount()-below)
					below = b.GetCumulativeCount()
				}
				dp.BucketCounts = append(dp.BucketCounts, ph.GetSampleCount()-below) // (last bound, +Inf)
				h.DataPoints = append(h.DataPoints, dp)
			}
			out.Data = h
		default:
			continue
		}
		sm.Metrics = append(sm.Metrics, out)
	}
	return &metricdata.ResourceMetrics{
		Resource:     resource.NewSchemaless(attribute.String("service.name", "surge")),
		ScopeMetrics: []metricdata.ScopeMetrics{sm},
	}
}
