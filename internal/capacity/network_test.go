package capacity

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestBottleneck(t *testing.T) {
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	tests := []struct {
		name     string
		stations []Station
		ceiling  float64
		limiting string
		reason   string
	}{
		{"one station", []Station{{Name: "app", Servers: 8, Demand: ms(4)}},
			2000, "app", "app 8 ÷ 4 ms = 2,000"},
		{"the cache stage of targets/doc.go", []Station{
			{Name: "app", Servers: 8, Demand: ms(3.71), Working: "2 + 0.9 × 0.2 × 4.5 + 0.1 × 9 ms"},
			{Name: "db", Servers: 4, Demand: ms(1.71)},
		}, 8 / 3.71e-3, "app",
			"min(app 8 ÷ 3.71 ms = 2,156, db 4 ÷ 1.71 ms = 2,339): limited by app (demand 2 + 0.9 × 0.2 × 4.5 + 0.1 × 9 ms)"},
		{"the slowest is not the limit: servers count", []Station{
			{Name: "app", Servers: 8, Demand: ms(6.95)},
			{Name: "db", Servers: 4, Demand: ms(4.95), Working: "0.9 × 4.5 + 0.1 × 9 ms"},
		}, 4 / 4.95e-3, "db",
			"min(app 8 ÷ 6.95 ms = 1,151, db 4 ÷ 4.95 ms = 808): limited by db (demand 0.9 × 4.5 + 0.1 × 9 ms)"},
		{"a shared resource of fractional servers", []Station{
			{Name: "box-cpu", Servers: 1.5, Demand: ms(3)},
			{Name: "box-app", Servers: 8, Demand: ms(3)},
		}, 500, "box-cpu", "min(box-cpu 1.5 ÷ 3 ms = 500, box-app 8 ÷ 3 ms = 2,667): limited by box-cpu"},
		{"a tie names the first", []Station{
			{Name: "a", Servers: 2, Demand: ms(2)},
			{Name: "b", Servers: 1, Demand: ms(1)},
		}, 1000, "a", "min(a 2 ÷ 2 ms = 1,000, b 1 ÷ 1 ms = 1,000): limited by a"},
		{"zero demand is left out", []Station{
			{Name: "jobs", Servers: 8, Demand: 0},
			{Name: "shard-*", Servers: 12, Demand: ms(1.71)},
		}, 12 / 1.71e-3, "shard-*", "shard-* 12 ÷ 1.71 ms = 7,018"},
		{"sub-millisecond demand", []Station{
			{Name: "replica-*", Servers: 8, Demand: 810 * time.Microsecond},
			{Name: "primary", Servers: 4, Demand: 900 * time.Microsecond},
		}, 4 / 0.9e-3, "primary", "min(replica-* 8 ÷ 0.81 ms = 9,877, primary 4 ÷ 0.9 ms = 4,444): limited by primary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, lim, reason, err := Bottleneck(tt.stations)
			if err != nil {
				t.Fatalf("Bottleneck = %v", err)
			}
			if math.Abs(c-tt.ceiling) > 1e-9*tt.ceiling || lim.Name != tt.limiting || reason != tt.reason {
				t.Errorf("Bottleneck = %v, %q, %q\nwant          %v, %q, %q", c, lim.Name, reason, tt.ceiling, tt.limiting, tt.reason)
			}
		})
	}
}

func TestBottleneckInvalid(t *testing.T) {
	tests := []struct {
		name     string
		stations []Station
		want     string
	}{
		{"none", nil, "no stations"},
		{"no name", []Station{{Servers: 1, Demand: time.Millisecond}}, "station 0 has no name"},
		{"zero servers", []Station{{Name: "db", Servers: 0, Demand: time.Millisecond}}, "station db has 0 servers"},
		{"negative servers", []Station{{Name: "db", Servers: -4, Demand: time.Millisecond}}, "station db has -4 servers"},
		{"NaN servers", []Station{{Name: "db", Servers: math.NaN(), Demand: time.Millisecond}}, "station db has NaN servers"},
		{"infinite servers", []Station{{Name: "db", Servers: math.Inf(1), Demand: time.Millisecond}}, "station db has +Inf servers"},
		{"negative demand", []Station{{Name: "app", Servers: 8, Demand: -time.Millisecond}}, "station app has a demand of -1ms"},
		{"no demand anywhere", []Station{{Name: "app", Servers: 8}, {Name: "db", Servers: 4}}, "no station has a demand"},
		{"every problem at once", []Station{{Name: "app", Servers: 0}, {Name: "db", Servers: 4, Demand: -1}}, "station db has a demand of -1ns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := Bottleneck(tt.stations)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Bottleneck(%+v) = %v; want ErrInvalid containing %q", tt.stations, err, tt.want)
			}
		})
	}
}

func TestStationCeiling(t *testing.T) {
	if c := (Station{Name: "db", Servers: 4, Demand: 5 * time.Millisecond}).Ceiling(); c != 800 {
		t.Errorf("4 ÷ 5 ms = %v; want 800", c)
	}
	if c := (Station{Name: "jobs", Servers: 8}).Ceiling(); !math.IsInf(c, 1) {
		t.Errorf("no demand: ceiling %v; want +Inf", c)
	}
}
