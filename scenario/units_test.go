package scenario

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestParseMultiplier(t *testing.T) {
	tests := []struct {
		in      string
		want    Multiplier
		wantStr string
	}{
		{"5x", 5, "5x"},
		{"5×", 5, "5x"},
		{"5X", 5, "5x"},
		{"5", 5, "5x"},
		{" 1.5x ", 1.5, "1.5x"},
		{"1.5 x", 1.5, "1.5x"},
		{"0.5x", 0.5, "0.5x"},
		{"1e2x", 100, "100x"},
	}
	for _, tt := range tests {
		got, err := ParseMultiplier(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseMultiplier(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			continue
		}
		if s := got.String(); s != tt.wantStr {
			t.Errorf("ParseMultiplier(%q).String() = %q; want %q", tt.in, s, tt.wantStr)
		}
	}
	bad := []struct{ in, want string }{
		{"", `invalid multiplier "": not a number (want e.g. 5x, 1.5x or 5)`},
		{"x", `invalid multiplier "x": not a number (want e.g. 5x, 1.5x or 5)`},
		{"0x", `invalid multiplier "0x": must be > 0`},
		{"-2x", `invalid multiplier "-2x": must not be negative (want e.g. 5x, 1.5x or 5)`},
		{"5xx", `invalid multiplier "5xx": not a number (want e.g. 5x, 1.5x or 5)`},
		{"5%", `invalid multiplier "5%": not a number (want e.g. 5x, 1.5x or 5)`},
		{"1e999x", `invalid multiplier "1e999x": number out of range (want e.g. 5x, 1.5x or 5)`},
	}
	for _, tt := range bad {
		if got, err := ParseMultiplier(tt.in); err == nil || err.Error() != tt.want {
			t.Errorf("ParseMultiplier(%q) = %v, %v; want error %q", tt.in, got, err, tt.want)
		}
	}
}

func TestParsePercent(t *testing.T) {
	tests := []struct {
		in      string
		want    Percent
		wantStr string
	}{
		{"90%", 0.9, "90%"},
		{"0.5%", 0.005, "0.5%"},
		{"100%", 1, "100%"},
		{"0%", 0, "0%"},
		{" 99.9 % ", 0.999, "99.9%"},
		{"1%", 0.01, "1%"},
		{"33.3333%", 0.333333, "33.3333%"},
	}
	for _, tt := range tests {
		got, err := ParsePercent(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParsePercent(%q) = %v, %v; want %v", tt.in, float64(got), err, float64(tt.want))
			continue
		}
		if s := got.String(); s != tt.wantStr {
			t.Errorf("ParsePercent(%q).String() = %q; want %q", tt.in, s, tt.wantStr)
		}
	}
	bad := []struct{ in, want string }{
		{"0.9", `invalid percentage "0.9": missing % (want e.g. 90% or 0.5%)`},
		{"ninety", `invalid percentage "ninety" (want e.g. 90% or 0.5%)`},
		{"%", `invalid percentage "%": not a number (want e.g. 90% or 0.5%)`},
		{"-1%", `invalid percentage "-1%": must not be negative (want e.g. 90% or 0.5%)`},
		{"101%", `invalid percentage "101%": must be at most 100%`},
	}
	for _, tt := range bad {
		if got, err := ParsePercent(tt.in); err == nil || err.Error() != tt.want {
			t.Errorf("ParsePercent(%q) = %v, %v; want error %q", tt.in, got, err, tt.want)
		}
	}
}

func TestParseCount(t *testing.T) {
	tests := []struct {
		in      string
		want    Count
		wantStr string
	}{
		{"100M", 100e6, "100M"},
		{"1.5k", 1500, "1.5k"},
		{"1.5K", 1500, "1.5k"},
		{"2G", 2e9, "2G"},
		{"3T", 3e12, "3T"},
		{"1e6", 1e6, "1M"},
		{"250", 250, "250"},
		{"1000", 1000, "1k"},
		{"1234", 1234, "1234"},
		{"0", 0, "0"},
		{"2.5", 2.5, "2.5"},
		{"123456789", 123456789, "123456789"},
	}
	for _, tt := range tests {
		got, err := ParseCount(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseCount(%q) = %v, %v; want %v", tt.in, float64(got), err, float64(tt.want))
			continue
		}
		if s := got.String(); s != tt.wantStr {
			t.Errorf("ParseCount(%q).String() = %q; want %q", tt.in, s, tt.wantStr)
		}
	}
	bad := []struct{ in, want string }{
		{"many", `invalid count "many": not a number (want e.g. 250, 1.5k, 100M or 2G)`},
		{"-5", `invalid count "-5": must not be negative (want e.g. 250, 1.5k, 100M or 2G)`},
		{"5 M", `invalid count "5 M": not a number (want e.g. 250, 1.5k, 100M or 2G)`},
		{"5m", `invalid count "5m": not a number (want e.g. 250, 1.5k, 100M or 2G)`},
		{"1e308T", `invalid count "1e308T": number out of range (want e.g. 250, 1.5k, 100M or 2G)`},
	}
	for _, tt := range bad {
		if got, err := ParseCount(tt.in); err == nil || err.Error() != tt.want {
			t.Errorf("ParseCount(%q) = %v, %v; want error %q", tt.in, got, err, tt.want)
		}
	}
}

// TestUnitStringRoundTrip checks that String of every unit type parses
// back to exactly the same value.
func TestUnitStringRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		var v float64
		switch rng.IntN(3) {
		case 0:
			v = math.Exp(rng.Float64()*50 - 20)
		case 1:
			v = float64(rng.IntN(1_000_000)) / 1000
		case 2:
			v = float64(rng.IntN(1000)) * math.Pow(10, float64(rng.IntN(12)))
		}
		if v == 0 {
			continue
		}
		if back, err := ParseCount(Count(v).String()); err != nil || back != Count(v) {
			t.Fatalf("ParseCount(%q) = %v, %v; want %v", Count(v).String(), float64(back), err, v)
		}
		if back, err := ParseMultiplier(Multiplier(v).String()); err != nil || back != Multiplier(v) {
			t.Fatalf("ParseMultiplier(%q) = %v, %v; want %v", Multiplier(v).String(), float64(back), err, v)
		}
		p := Percent(math.Mod(v, 1))
		if back, err := ParsePercent(p.String()); err != nil || back != p {
			t.Fatalf("ParsePercent(%q) = %v, %v; want %v", p.String(), float64(back), err, float64(p))
		}
	}
}

func TestParseSpikeAtAndCompress(t *testing.T) {
	at := []struct {
		in   string
		want SpikeAt
		str  string
	}{
		{"40%", SpikeAt{Fraction: 0.4}, "40%"},
		{"3m", SpikeAt{Offset: Duration(3 * time.Minute)}, "3m"},
		{"0s", SpikeAt{}, "0s"},
		{"90s", SpikeAt{Offset: Duration(90 * time.Second)}, "1m30s"},
	}
	for _, tt := range at {
		got, err := ParseSpikeAt(tt.in)
		if err != nil || got != tt.want || got.String() != tt.str {
			t.Errorf("ParseSpikeAt(%q) = %+v (%q), %v; want %+v (%q)", tt.in, got, got.String(), err, tt.want, tt.str)
		}
	}
	for _, in := range []string{"soon", "40", "140%", "-1m"} {
		if got, err := ParseSpikeAt(in); err == nil {
			t.Errorf("ParseSpikeAt(%q) = %+v; want an error", in, got)
		}
	}

	c, err := ParseCompress("24h in 10m")
	if err != nil || c != (Compress{From: Duration(24 * time.Hour), To: Duration(10 * time.Minute)}) || c.Factor() != 144 || c.String() != "24h in 10m" {
		t.Errorf("ParseCompress(24h in 10m) = %+v (factor %v, %q), %v; want 24h, 10m, factor 144", c, c.Factor(), c.String(), err)
	}
	if f := (Compress{}).Factor(); f != 1 {
		t.Errorf("Compress{}.Factor() = %v; want 1", f)
	}
	bad := []struct{ in, want string }{
		{"24h to 10m", `invalid compress "24h to 10m" (want FROM in TO, e.g. 24h in 10m)`},
		{"24 in 10m", `invalid compress "24 in 10m": invalid duration "24": missing unit (want e.g. 24s or 24ms)`},
		{"24h in soon", `invalid compress "24h in soon": invalid duration "soon" (want e.g. 250ms, 1.5s, 10m or 1h30m)`},
	}
	for _, tt := range bad {
		if got, err := ParseCompress(tt.in); err == nil || err.Error() != tt.want {
			t.Errorf("ParseCompress(%q) = %v, %v; want error %q", tt.in, got, err, tt.want)
		}
	}
}

// TestUnitsJSON checks that the unit types travel as strings through JSON.
func TestUnitsJSON(t *testing.T) {
	d := Diurnal{DailyRequests: 100e6, PeakMultiplier: 5, PeakToTrough: 20, PeakHour: 20}
	b, err := json.Marshal(d)
	want := `{"daily_requests":"100M","peak_multiplier":"5x","peak_to_trough":"20x","peak_hour":20}`
	if err != nil || string(b) != want {
		t.Errorf("json.Marshal(%+v) = %s, %v; want %s", d, b, err, want)
	}
	var back Diurnal
	if err := json.Unmarshal(b, &back); err != nil || !equalJSON(t, back, d) {
		t.Errorf("json.Unmarshal(%s) = %+v, %v; want %+v", b, back, err, d)
	}
	sp := Spike{At: SpikeAt{Fraction: 0.4}, Multiplier: 5, Ramp: Duration(30 * time.Second)}
	b, err = json.Marshal(sp)
	want = `{"at":"40%","multiplier":"5x","ramp":"30s"}`
	if err != nil || string(b) != want {
		t.Errorf("json.Marshal(%+v) = %s, %v; want %s", sp, b, err, want)
	}
	var cv Curve
	if err := json.Unmarshal([]byte(`{"compress":"24h in 10m"}`), &cv); err != nil || cv.Compress == nil || cv.Compress.Factor() != 144 {
		t.Errorf("json.Unmarshal(compress) = %+v, %v", cv, err)
	}
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
