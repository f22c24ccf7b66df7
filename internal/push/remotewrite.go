package push

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/exp/api/remote"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/prompb"
)

// remoteWrite pushes with Prometheus remote-write 1.0: a snappy-compressed
// protobuf prometheus.WriteRequest with the protocol's headers, sent and
// retried (network errors, 5xx) by client_golang's remote API client.
type remoteWrite struct {
	api     *remote.API
	timeout time.Duration // of the attempts and their backoff
}

func newRemoteWrite(cfg *Config, client *http.Client) (*remoteWrite, error) {
	retries := cfg.Retries
	if retries == 0 {
		retries = -1 // the client's 0 means retry forever
	}
	api, err := remote.NewAPI(cfg.RemoteWrite,
		remote.WithAPIHTTPClient(client),
		remote.WithAPIPath(""), // the URL is the whole endpoint
		remote.WithAPIBackoff(remote.BackoffConfig{Min: 100 * time.Millisecond, Max: time.Second, MaxRetries: retries}),
	)
	if err != nil {
		return nil, fmt.Errorf("push remote-write: %w", err)
	}
	return &remoteWrite{api: api, timeout: time.Duration(cfg.Retries+1) * (cfg.Timeout + time.Second)}, nil
}

func (*remoteWrite) name() string { return "remote_write" }

func (*remoteWrite) close(context.Context) {}

func (w *remoteWrite) send(ctx context.Context, s *snapshot) error {
	req := WriteRequest(s.fams, s.extra, s.at)
	if len(req.Timeseries) == 0 {
		return nil
	}
	// Each attempt is bounded by the client's timeout; this bounds them
	// all with their backoff.
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	_, err := w.api.Write(ctx, remote.WriteV1MessageType, req)
	return err
}

// WriteRequest is the remote-write 1.0 request of families at time at:
// Samples' series, each with one sample, and the metadata (type, help)
// of each family.
func WriteRequest(fams []*dto.MetricFamily, extra []Label, at time.Time) *prompb.WriteRequest {
	ts := at.UnixMilli()
	req := &prompb.WriteRequest{}
	for _, s := range Samples(fams, extra) {
		ls := make([]prompb.Label, 0, len(s.Labels)+1)
		ls = append(ls, prompb.Label{Name: "__name__", Value: s.Name})
		for _, l := range s.Labels {
			ls = append(ls, prompb.Label{Name: l.Name, Value: l.Value})
		}
		req.Timeseries = append(req.Timeseries, prompb.TimeSeries{Labels: ls, Samples: []prompb.Sample{{Value: s.Value, Timestamp: ts}}})
	}
	for _, f := range fams {
		t := prompb.MetricMetadata_GAUGE
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			t = prompb.MetricMetadata_COUNTER
		case dto.MetricType_HISTOGRAM:
			t = prompb.MetricMetadata_HISTOGRAM
		}
		req.Metadata = append(req.Metadata, prompb.MetricMetadata{Type: t, MetricFamilyName: f.GetName(), Help: f.GetHelp()})
	}
	return req
}
