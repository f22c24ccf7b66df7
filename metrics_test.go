package surge_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/surgeload/surge"
)

// TestMetricsLinger: the live metrics stay up after the run, so a scrape
// after the end sees every arrival and the run's info; Close takes the
// endpoint down.
func TestMetricsLinger(t *testing.T) {
	sc, err := surge.Parse("m.yaml", []byte(`
name: linger
stages: [{name: s, bundled: echo}]
requests: [{name: get, path: /}]
load: {constant: {rate: 100, duration: 1s}}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := surge.DefaultOptions()
	opts.GossipListen = "127.0.0.1:0"
	opts.MetricsListen = "127.0.0.1:0"
	opts.MetricsLinger = time.Minute
	addr := make(chan string, 1)
	opts.MetricsListening = func(a string) { addr <- a }
	plan, err := surge.Compile(sc, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer plan.Close()
	rep, err := plan.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + <-addr + "/metrics"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("the endpoint is down after the run: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("exposition does not parse: %v", err)
	}
	var intended, succeeded float64
	for _, m := range fams["surge_run_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() != "outcome" {
				continue
			}
			switch l.GetValue() {
			case "intended":
				intended += m.GetCounter().GetValue()
			case "succeeded":
				succeeded += m.GetCounter().GetValue()
			}
		}
	}
	st := rep.Stages[0]
	if intended != float64(st.Intended-st.Lost) || succeeded != float64(st.Succeeded) {
		t.Errorf("after the run /metrics has intended %v succeeded %v; report.json %d (lost %d) and %d", intended, succeeded, st.Intended, st.Lost, st.Succeeded)
	}
	info := fams["surge_run_info"].GetMetric()
	if len(info) != 1 {
		t.Fatalf("surge_run_info: %v", info)
	}
	labels := map[string]string{}
	for _, l := range info[0].GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	if labels["run_id"] != rep.RunID || labels["scenario"] != "linger" {
		t.Errorf("surge_run_info labels %v; want run %s of scenario linger", labels, rep.RunID)
	}
	plan.Close()
	if _, err := http.Get(url); err == nil {
		t.Error("the endpoint is still up after Close")
	}
}
