package reporters

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func sampleReport() *Report {
	return &Report{
		Schema: Schema, Scenario: "golden", RunID: "0123456789abcdef",
		Started: time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC),
		Stages: []Stage{{
			Name: "echo", Target: "http://127.0.0.1:8080",
			Intended: 1000, Issued: 990, Succeeded: 970, Failed: 15, Dropped: 4, Lost: 6, InFlightAtEnd: 5,
			DurationS: 1, IntendedRPS: 1000, AchievedRPS: 990,
			ResponseTimeMS: Percentiles{P50: 0.612, P75: 0.9, P90: 1.25, P95: 2.5, P99: 12.5, P999: 250, Max: 1003.5, Mean: 1.7},
			ServiceTimeMS:  Percentiles{P50: 0.101, P75: 0.15, P90: 0.2, P95: 0.8, P99: 3, P999: 9.5, Max: 1000, Mean: 0.4},
			SendLagMS:      Percentiles{P50: 0.5, P75: 0.75, P90: 1, P95: 1.05, P99: 1.1, P999: 2, Max: 3, Mean: 0.55},
			OnWireLagMS:    Percentiles{P50: 0.6, P75: 0.8, P90: 1.2, P95: 1.5, P99: 3.25, P999: 9, Max: 12, Mean: 0.7},
			TTFBMS:         Percentiles{P50: 0.4, P75: 0.5, P90: 0.6, P95: 0.7, P99: 1.9, P999: 2, Max: 2, Mean: 0.45},
			Errors:         map[string]uint64{"http_5xx": 10, "timeout": 5},
			DroppedBy:      map[string]uint64{"in_flight_cap": 4},
			BytesIn:        62080, ConnWaits: 12,
			Requests: []Request{{Name: "get", Issued: 990, Succeeded: 970, Failed: 15, Dropped: 4,
				Errors: map[string]uint64{"http_5xx": 10, "timeout": 5}, ResponseTimeMS: Percentiles{P50: 0.612}}},
			Intervals: []Interval{{TS: 0, Intended: 1000, Issued: 996, Succeeded: 970, Failed: 15, Dropped: 4, P50MS: 0.6, P75MS: 0.85, P95MS: 1.45, P99MS: 12.5, InFlight: 5, SendLagP99MS: 1.1, CPUS: 0.052}},
			Histogram: "HISTFAAAADZ42pJpmSzMwMDAzwABzFDqBQMDs5vBjgUM9h8gIleFmNYLMN03YfrpytStwAQIAAD//9fZCfA=", // 0.612, 1.25, 12.5, 250 and 1003.5 ms
			Stopped:   "stopped by coordinator: interrupted",
			AgentCPUS: 0.052, CPUPerRequestUS: 52.8, GeneratorLimited: true,
			GeneratorNotes: []string{"4 arrivals were dropped at the in-flight cap (2 per agent): raise --max-in-flight if the target may hold that many requests, or add agents"},
			Bottleneck:     "db",
			Components:     []ComponentLoad{{Component: "db", Utilisation: 0.97, QueueDepthMean: 3.25, QueueDepthMax: 12}, {Component: "app", Utilisation: 0.61}},
		}},
		Agents: []Agent{
			{Name: "agent-1", Intended: 500, Issued: 495, Succeeded: 485, Failed: 8, Dropped: 2, Lost: 3, InFlightAtEnd: 2, ClockOffsetMS: 0.123},
			{Name: "agent-2", Intended: 500, Issued: 495, Succeeded: 485, Failed: 7, Dropped: 2, Lost: 3, InFlightAtEnd: 3, ClockOffsetMS: -0.05},
		},
		Warnings: []string{"stage echo stopped early: interrupted"},
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./reporters -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./reporters -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestWriteTextGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteText(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	golden(t, "summary.txt", b.Bytes())
}

// TestWriteTextStagesCompared: with several stages the summary ends with
// a comparison table, one row per stage, with each stage's bottleneck.
func TestWriteTextStagesCompared(t *testing.T) {
	r := sampleReport()
	second := r.Stages[0]
	second.Name, second.AchievedRPS, second.Bottleneck, second.Components = "cache", 2140.5, "app", []ComponentLoad{{Component: "app", Utilisation: 0.99}}
	second.ResponseTimeMS.P50, second.ResponseTimeMS.P99 = 0.42, 8.25
	hit := 0.912
	second.HitRate = &hit
	second.Ceiling = &Ceiling{MeasuredRPS: 2050, Method: CeilingGoodput, Reached: true, PredictedRPS: 2160,
		PredictedBottleneck: "app", PredictedWorking: "min(app 8 ÷ 3.71 ms = 2,160, db 4 ÷ 1.71 ms = 2,340): limited by app", Ratio: 2050.0 / 2160}
	r.Stages[0].Ceiling = &Ceiling{MeasuredRPS: 990, Method: CeilingGoodput}
	third := r.Stages[0]
	third.Name, third.Bottleneck, third.Components = "url-stage", "", nil
	third.Ceiling = &Ceiling{MeasuredRPS: 800, Method: CeilingSearch, Reached: true}
	third.Search = &Search{Method: "binary", SLO: []string{"p99 < 250ms", "error_rate < 1%"}, HoldS: 10, WarmupS: 2,
		SustainedRPS: 800, BrokeRPS: 850, Outcome: SearchFound, Steps: []SearchStep{
			{RateRPS: 200, GoodputRPS: 200, P50MS: 1.2, P99MS: 4.5, P999MS: 9, Pass: true, Bottleneck: "db", BottleneckUtilisation: 0.25},
			{RateRPS: 400, StartS: 13, GoodputRPS: 400, P50MS: 1.3, P99MS: 6.5, P999MS: 12, Pass: true, Bottleneck: "db", BottleneckUtilisation: 0.5},
			{RateRPS: 800, StartS: 26, GoodputRPS: 799.5, P50MS: 2.5, P99MS: 40, P999MS: 90, Pass: true, Bottleneck: "db", BottleneckUtilisation: 0.98},
			{RateRPS: 1000, StartS: 39, GoodputRPS: 812, P50MS: 300, P99MS: 1200, P999MS: 1500, ErrorRate: 0.18, Dropped: 0,
				Broken: []string{"p99 = 1.2s, want < 250ms", "error_rate = 18.00%, want < 1%"}, Bottleneck: "db", BottleneckUtilisation: 1},
			{RateRPS: 900, StartS: 52, GoodputRPS: 815, P50MS: 120, P99MS: 700, P999MS: 900, ErrorRate: 0.09,
				Broken: []string{"p99 = 700ms, want < 250ms", "error_rate = 9.00%, want < 1%"}, Bottleneck: "db", BottleneckUtilisation: 1},
			{RateRPS: 850, StartS: 65, GoodputRPS: 810, P50MS: 40, P99MS: 300, P999MS: 400, ErrorRate: 0.02,
				Broken: []string{"p99 = 300ms, want < 250ms", "error_rate = 2.00%, want < 1%"}, Bottleneck: "db", BottleneckUtilisation: 1},
		}}
	at := 12.0
	second.Thresholds = []ThresholdResult{
		{Expr: "p99 < 250ms", Pass: true, Value: 8.25e6, Measured: "8.25ms"},
		{Expr: "p99[5s] < 5ms", Value: 7.5e6, Measured: "7.5ms", WindowAtS: &at},
	}
	third.Thresholds = []ThresholdResult{{Expr: "p99{request=b} < 1s", NoData: true, Measured: "no responses"}}
	r.Stages = append(r.Stages, second, third)
	r.Judge()
	var b bytes.Buffer
	if err := WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	golden(t, "summary-stages.txt", b.Bytes())
}

func TestWriteJSONGoldenAndRoundTrip(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.json", b.Bytes())
	got, err := ReadReport(&b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sampleReport()) {
		t.Errorf("round trip changed the report:\n got %+v\nwant %+v", got, sampleReport())
	}
}

func TestCheck(t *testing.T) {
	if err := sampleReport().Check(); err != nil {
		t.Fatalf("sample report: %v", err)
	}
	r := sampleReport()
	r.Stages[0].Lost = 7
	r.Stages[0].Succeeded++
	r.Stages[0].Errors["timeout"] = 0
	r.Agents[1].Issued++
	err := r.Check()
	for _, want := range []string{"intended 1000 != issued 990 + dropped 4 + lost 7", "issued 990 != succeeded 971 + failed 15 + in flight 5",
		"failed 15 != sum of errors 10", "agent agent-2"} {
		if !errors.Is(err, ErrUnbalanced) || !strings.Contains(err.Error(), want) {
			t.Errorf("Check() = %v; want it to contain %q", err, want)
		}
	}
}
