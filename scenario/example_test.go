package scenario_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/surgeload/surge/scenario"
)

func ExampleParse() {
	src := []byte(`
name: quickstart
stages:
  - bundled: echo
  - url: http://127.0.0.1:8080
requests:
  - path: /items/1
  - {method: post, path: /items, body: '{"n":1}'}
load:
  constant: {rate: 10k/s, duration: 1m30s}
`)
	s, err := scenario.Parse("quickstart.yaml", src, scenario.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, st := range s.Stages {
		fmt.Println("stage:", st.Name)
	}
	for _, r := range s.Requests {
		fmt.Println("request:", r.Name)
	}
	c := s.Load.Constant
	fmt.Printf("load: %v for %v (%.0f requests per second)\n", c.Rate, c.Duration, float64(c.Rate))
	// Output:
	// stage: echo
	// stage: 127.0.0.1:8080
	// request: GET /items/1
	// request: POST /items
	// load: 10k/s for 1m30s (10000 requests per second)
}

func ExampleParse_errors() {
	src := []byte(`name: broken
stages:
  - bundled: echo
    url: http://127.0.0.1:8080
requests:
  - path: items
    retries: 3
load:
  constant: {rate: 0, duration: 5s}
`)
	_, err := scenario.Parse("broken.yaml", src, scenario.Options{})
	fmt.Println(err)
	fmt.Println("invalid:", errors.Is(err, scenario.ErrInvalid))
	// Output:
	// broken.yaml:3:5: stage must set one of url or bundled, not both
	// broken.yaml:6:11: path must start with "/" (got "items")
	// broken.yaml:7:5: unknown field "retries" (known fields: name, method, path, url, headers, body, timeout, weight, expect, checks)
	// broken.yaml:9:20: rate must be > 0 (got 0)
	// invalid: true
}

func ExampleParseRate() {
	for _, s := range []string{"2000", "1.5k", "10k/s", "120/m"} {
		r, err := scenario.ParseRate(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%-6s = %v\n", s, r)
	}
	// Output:
	// 2000   = 2000/s
	// 1.5k   = 1500/s
	// 10k/s  = 10k/s
	// 120/m  = 2/s
}

func ExampleParseThreshold() {
	for _, s := range []string{"p99.9{request=read-item}[30s] < 250ms", "error_rate < 1%", "p99 < 1%"} {
		e, err := scenario.ParseThreshold(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		q, _ := e.Quantile()
		fmt.Printf("%s: metric %s (quantile %v), selectors %v, window %v, %s %v; 200ms passes: %v\n",
			e, e.Metric, q, e.Selectors, e.Window, e.Op, e.Value, e.Holds(200e6))
	}
	// Output:
	// p99.9{request=read-item}[30s] < 250ms: metric p99.9 (quantile 0.999), selectors map[request:read-item], window 30s, < 2.5e+08; 200ms passes: true
	// error_rate < 1%: metric error_rate (quantile 0), selectors map[], window 0s, < 0.01; 200ms passes: false
	// invalid threshold: p99 is compared with a duration like 250ms (got "1%") (at offset 6)
}

// The planners' numbers: 100M requests a day average 1,157 req/s; at 5×
// the peak is 5,787 req/s; a 5× spike on top makes up to 28,935 req/s.
func ExampleCurve_PeakBound() {
	src := []byte(`
name: launch-day
stages: [{bundled: echo}]
requests: [{path: /}]
load:
  diurnal: {daily_requests: 100M, peak_multiplier: 5x, peak_hour: 20}
  spikes: [{at: 40%, multiplier: 5x, ramp: 30s, hold: 2m}]
  compress: 24h in 10m
safety: {max_rate: 20k/s}
`)
	_, err := scenario.Parse("launch.yaml", src, scenario.Options{})
	fmt.Println(err)

	s, _ := scenario.Parse("launch.yaml", []byte(strings.Replace(string(src), "20k/s", "30k/s", 1)), scenario.Options{})
	load := s.StageLoad(0)
	fmt.Printf("average %.3f/s, plays for %v, peak at most %.2f/s\n",
		float64(load.Diurnal.DailyRequests)/86400, load.Duration(), float64(load.PeakBound()))
	// Output:
	// launch.yaml:7:34: peak rate up to 28935.19/s (5787.04/s × 5x from spikes[0]) is over safety.max_rate 20k/s
	// average 1157.407/s, plays for 10m0s, peak at most 28935.19/s
}

func ExampleScenario_Position() {
	src := []byte(`name: staircase
stages:
  - bundled: cache
  - bundled: sharding
requests:
  - path: "/items/{{zipf 1.1 100000}}"
load:
  steps: [{rate: 200, duration: 20s}, {rate: 2000, duration: 20s}]
`)
	s, err := scenario.Parse("staircase.yaml", src, scenario.Options{
		IsBundled: func(name string) bool { return name == "cache" },
		Warn:      func(e *scenario.Error) { fmt.Println("warning:", e) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	line, col, _ := s.Position("load.steps[1].rate")
	fmt.Printf("load.steps[1].rate is at %d:%d\n", line, col)
	// A check made elsewhere, positioned like the checks of Parse.
	fmt.Println(s.Errorf("load.steps[1].rate", "the agents can only reach %v", scenario.Rate(1500)))
	// Output:
	// warning: staircase.yaml:4:14: bundled topology "sharding" is not available in this build yet
	// load.steps[1].rate is at 8:46
	// staircase.yaml:8:46: the agents can only reach 1500/s
}

// A stage's client block overrides the scenario's field by field; what
// neither sets is left to the command that runs the scenario.
func ExampleScenario_StageClient() {
	src := []byte(`
name: clients
stages:
  - url: http://127.0.0.1:8080
  - url: http://127.0.0.1:8081
    client: {protocol: h2, connections: keep-alive, source_addresses: []}
requests: [{path: /}]
load: {constant: {rate: 100, duration: 10s}}
client:
  connections: per-request
  source_addresses: [127.0.0.2, "127.0.1.0/30"]
  timeout: 5s
`)
	s, err := scenario.Parse("clients.yaml", src, scenario.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for k, st := range s.Stages {
		c := s.StageClient(k)
		addrs, _ := scenario.ExpandSourceAddresses(c.SourceAddresses)
		fmt.Printf("%s: %s, %s, sources %v\n", st.Name, c.ProtocolOr(), c.ConnectionsOr(), addrs)
		fmt.Println("  ", c)
	}
	// Output:
	// 127.0.0.1:8080: http/1.1, per-request, sources [127.0.0.2 127.0.1.1 127.0.1.2]
	//    {connections: per-request, source_addresses: [127.0.0.2, 127.0.1.0/30], timeout: 5s}
	// 127.0.0.1:8081: h2, keep-alive, sources []
	//    {connections: keep-alive, protocol: h2, source_addresses: [], timeout: 5s}
}
