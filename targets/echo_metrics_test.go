package targets

import (
	"net/http/httptest"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestEchoMetricsParse: echo's /metrics is a valid Prometheus text
// exposition with no metric family, for Prometheus' own parser.
func TestEchoMetricsParse(t *testing.T) {
	h, err := NewEcho(DefaultEchoConfig())
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil || len(fams) != 0 {
		t.Errorf("GET /metrics: %d families, %v; want none and no error", len(fams), err)
	}
}
