package main

import (
	"strings"
	"testing"
)

// diurnalOnly is the seed's 100M/day example with its volume and peak in
// load.diurnal only.
const diurnalOnly = `name: diurnal-only
stages: [{bundled: echo}]
requests: [{name: get, path: /}]
load:
  diurnal: {daily_requests: 100M, peak_multiplier: 5x, peak_hour: 20}
  compress: 24h in 4m
`

// TestPlanFromDiurnal: plan takes the daily volume and the peak multiplier
// from load.diurnal when the capacity section lacks them, says so, and
// sizes the servers from them; the capacity section and the flags win.
func TestPlanFromDiurnal(t *testing.T) {
	sizing := []string{"100,000,000 ÷ 86,400 s", "1,157.4 × 5", "5,787 req/s", "⌈5,787 ÷ 300⌉ = ⌈19.29⌉", "20 servers", "26 servers"}
	tests := []struct {
		name     string
		scenario string
		flags    []string
		want     []string
		not      []string
	}{
		{"no capacity section, --per-server-rps", diurnalOnly, []string{"--per-server-rps", "300"},
			append([]string{"daily_requests 100,000,000 and peak_multiplier 5x from load.diurnal (the capacity section does not set them)"}, sizing...),
			[]string{"daily_requests not given", "peak_multiplier not given"}},
		{"capacity section without the volume", diurnalOnly + "capacity: {per_server_rps: 300}\n", nil,
			append([]string{"from load.diurnal"}, sizing...), nil},
		{"capacity section sets the peak", diurnalOnly + "capacity: {per_server_rps: 300, peak_multiplier: 2x}\n", nil,
			[]string{"daily_requests 100,000,000 from load.diurnal (the capacity section does not set it)", "1,157.4 × 2", "2,315 req/s"},
			[]string{"peak_multiplier 5x from"}},
		{"capacity section sets both", diurnalOnly + "capacity: {per_server_rps: 300, daily_requests: 10M, peak_multiplier: 2x}\n", nil,
			[]string{"10,000,000 ÷ 86,400 s"}, []string{"from load.diurnal"}},
		{"a flag wins", diurnalOnly, []string{"--daily-requests", "10M"},
			[]string{"peak_multiplier 5x from load.diurnal (the capacity section does not set it)", "10,000,000 ÷ 86,400 s", "115.7 × 5", "579 req/s"},
			[]string{"daily_requests 100,000,000"}},
		{"hourly weights", strings.Replace(diurnalOnly, "peak_multiplier: 5x, peak_hour: 20",
			"hourly_weights: [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,25]", 1), nil,
			[]string{"peak_multiplier 12.5x from load.diurnal", "1,157.4 × 12.5", "14,468 req/s"}, nil},
		{"a stage's own load", `name: staged
stages: [{bundled: echo, load: {diurnal: {daily_requests: 100M, peak_multiplier: 5x}, compress: 24h in 4m}}]
requests: [{name: get, path: /}]
load: {constant: {rate: 10, duration: 1s}}
`, nil, []string{"from stage echo's load.diurnal", "5,787 req/s"}, nil},
		{"no diurnal load", quick, nil, []string{"daily_requests not given"}, []string{"from load.diurnal"}},
	}
	for _, tt := range tests {
		args := append([]string{"plan", writeFile(t, "p.yaml", tt.scenario)}, tt.flags...)
		code, out, stderr := runCLI(t, args...)
		if code != 0 {
			t.Errorf("%s: plan exit %d\n%s", tt.name, code, stderr)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: plan output lacks %q:\n%s", tt.name, w, out)
			}
		}
		for _, n := range tt.not {
			if strings.Contains(out, n) {
				t.Errorf("%s: plan output has %q:\n%s", tt.name, n, out)
			}
		}
	}
}
