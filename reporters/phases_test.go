package reporters

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// phasesReport is the sample report with phases: a stage whose requests
// opened 12 connections by IP (no lookup) over plain http (no TLS).
func phasesReport() *Report {
	r := sampleReport()
	s := &r.Stages[0]
	s.Phases = Phases{
		ConnectMS: Percentiles{P50: 0.08, P75: 0.09, P90: 0.1, P95: 0.11, P99: 0.2, P999: 0.2, Max: 0.2, Mean: 0.09},
		WriteMS:   Percentiles{P50: 0.01, P75: 0.012, P90: 0.015, P95: 0.02, P99: 0.05, P999: 0.1, Max: 0.1, Mean: 0.012},
		TTFBMS:    s.TTFBMS,
		ReadMS:    Percentiles{P50: 0.02, P75: 0.03, P90: 0.04, P95: 0.05, P99: 0.3, P999: 0.9, Max: 1, Mean: 0.03},
		NewConns:  12,
	}
	s.Requests[0].Phases = s.Phases
	return r
}

// TestTextPhases: the summary has a row for each phase with values (dns
// and tls have none here) and says over how many new connections.
func TestTextPhases(t *testing.T) {
	var b bytes.Buffer
	if err := WriteText(&b, phasesReport()); err != nil {
		t.Fatal(err)
	}
	golden(t, "summary-phases.txt", b.Bytes())
	out := b.String()
	for _, want := range []string{"  connect ", "  write ", "  read ", "new connections: 12"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary has no %q:\n%s", want, out)
		}
	}
	for _, not := range []string{"  dns ", "  tls "} {
		if strings.Contains(out, not) {
			t.Errorf("summary has %q, a phase without values:\n%s", not, out)
		}
	}
	// Without phases (a report from before them), no row and no line.
	b.Reset()
	if err := WriteText(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); strings.Contains(out, "new connections") || strings.Contains(out, "  connect ") {
		t.Errorf("summary without phases mentions them:\n%s", out)
	}
}

// TestJSONPhases: report.json has a phases object per stage and request,
// with only the phases that have values, and new_conns; none without.
func TestJSONPhases(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, phasesReport()); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Stages []struct {
			Phases   map[string]json.RawMessage `json:"phases"`
			Requests []struct {
				Phases map[string]json.RawMessage `json:"phases"`
			} `json:"requests"`
		} `json:"stages"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for what, ph := range map[string]map[string]json.RawMessage{"stage": got.Stages[0].Phases, "request": got.Stages[0].Requests[0].Phases} {
		var keys []string
		for k := range ph {
			keys = append(keys, k)
		}
		if len(ph) != 5 || ph["connect_ms"] == nil || ph["write_ms"] == nil || ph["ttfb_ms"] == nil || ph["read_ms"] == nil || string(ph["new_conns"]) != "12" {
			t.Errorf("%s phases have %v (new_conns %s); want connect_ms, write_ms, ttfb_ms, read_ms and new_conns 12", what, keys, ph["new_conns"])
		}
	}
	b.Reset()
	if err := WriteJSON(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b.Bytes(), []byte(`"phases"`)) {
		t.Error("a report without phases has a phases object")
	}
}

func TestPhasesOfSet(t *testing.T) {
	var p Phases
	for k, name := range PhaseNames {
		v := Percentiles{P50: float64(k + 1)}
		if !p.Set(name, v) || p.Of(name) != v {
			t.Errorf("Set(%q) then Of = %v; want %v", name, p.Of(name), v)
		}
	}
	if p.Set("waiting", Percentiles{P50: 1}) || p.Of("waiting") != (Percentiles{}) {
		t.Error("an unknown phase name was accepted")
	}
}
