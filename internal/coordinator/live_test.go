package coordinator

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestLiveMetrics: while a run plays, --metrics-listen serves its merged
// counters, response-time histogram and agents alive; the counts never
// exceed what the schedule intends.
func TestLiveMetrics(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer target.Close()
	sc := mustScenario(t, target.URL, "100", "4s")
	cfg := testConfig(2)
	cfg.MetricsListen = "127.0.0.1:0"
	addrs := make(chan string, 1)
	cfg.MetricsListening = func(a string) { addrs <- a }
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := Run(ctx, cfg, sc); done <- err }()
	addr := <-addrs
	var seen bool
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && !seen; time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
		if err != nil {
			t.Fatalf("metrics do not parse: %v\n%s", err, body)
		}
		var succeeded, intended, histCount float64
		for _, m := range fams["surge_run_requests_total"].GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["stage"] != "target" {
				t.Fatalf("series with stage %q", labels["stage"])
			}
			switch labels["outcome"] {
			case "succeeded":
				succeeded += m.GetCounter().GetValue()
			case "intended":
				intended += m.GetCounter().GetValue()
			}
		}
		for _, m := range fams["surge_run_response_seconds"].GetMetric() {
			histCount += float64(m.GetHistogram().GetSampleCount())
		}
		alive := fams["surge_run_agents_alive"].GetMetric()
		if intended > 400 || succeeded > intended {
			t.Fatalf("intended %v succeeded %v: more than the schedule's 400", intended, succeeded)
		}
		if succeeded > 0 && histCount >= succeeded && len(alive) == 1 && alive[0].GetGauge().GetValue() == 2 {
			seen = true
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !seen {
		t.Error("never saw successes, their response times and 2 agents alive on /metrics during the run")
	}
}
