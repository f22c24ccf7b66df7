package scenario

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in      string
		want    Rate
		wantStr string // String() of the result
	}{
		{"2000", 2000, "2000/s"},
		{"2000/s", 2000, "2000/s"},
		{" 2000/s ", 2000, "2000/s"},
		{"1.5k", 1500, "1500/s"},
		{"1.5K", 1500, "1500/s"},
		{"1.1k", 1100, "1100/s"}, // exactly: not 1.1 × 1000 in floating point
		{"0.3k/m", 5, "5/s"},
		{"10k/s", 10000, "10k/s"},
		{"2k/s", 2000, "2000/s"},
		{"12.5k", 12500, "12.5k/s"},
		{"1M", 1e6, "1M/s"},
		{"1.5M/s", 1.5e6, "1.5M/s"},
		{"1234567", 1234567, "1234567/s"},
		{"120/m", 2, "2/s"},
		{"3/m", 0.05, "0.05/s"},
		{"1/m", Rate(1.0 / 60), "1/m"},
		{"7/m", Rate(7.0 / 60), "7/m"},
		{"100/h", Rate(100.0 / 3600), "100/h"},
		{"0.5/s", 0.5, "0.5/s"},
		{".5", 0.5, "0.5/s"},
		{"5.", 5, "5/s"},
		{"1e3", 1000, "1000/s"},
		{"0.0001", 0.0001, "0.0001/s"},
		{"0", 0, "0/s"},
		{"10M/s", 1e7, "10M/s"},
	}
	for _, tt := range tests {
		got, err := ParseRate(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", tt.in, float64(got), err, float64(tt.want))
			continue
		}
		if s := got.String(); s != tt.wantStr {
			t.Errorf("ParseRate(%q).String() = %q; want %q", tt.in, s, tt.wantStr)
		}
		if back, err := ParseRate(got.String()); err != nil || back != got {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", got.String(), float64(back), err, float64(got))
		}
	}
}

func TestParseRateErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `invalid rate "": empty (want e.g. 2000, 2000/s, 1.5k, 10k/s or 120/m)`},
		{"fast", `invalid rate "fast" (want e.g. 2000, 2000/s, 1.5k, 10k/s or 120/m)`},
		{"-1", `invalid rate "-1": must not be negative`},
		{"-1k/s", `invalid rate "-1k/s": must not be negative`},
		{"+1", `invalid rate "+1" (want e.g. 2000, 2000/s, 1.5k, 10k/s or 120/m)`},
		{"2/x", `invalid rate "2/x": unknown unit "/x" (want /s, /m or /h)`},
		{"2/", `invalid rate "2/": unknown unit "/" (want /s, /m or /h)`},
		{"10m", `invalid rate "10m" (want e.g. 2000, 2000/s, 1.5k, 10k/s or 120/m)`},
		{"2 /s", `invalid rate "2 /s" (want e.g. 2000, 2000/s, 1.5k, 10k/s or 120/m)`},
		{"2kk", `invalid rate "2kk" (want e.g. 2000, 2000/s, 1.5k, 10k/s or 120/m)`},
		{"k", `invalid rate "k" (want e.g. 2000, 2000/s, 1.5k, 10k/s or 120/m)`},
		{"inf", `invalid rate "inf" (want e.g. 2000, 2000/s, 1.5k, 10k/s or 120/m)`},
		{"NaN", `invalid rate "NaN" (want e.g. 2000, 2000/s, 1.5k, 10k/s or 120/m)`},
		{"0x10", `invalid rate "0x10" (want e.g. 2000, 2000/s, 1.5k, 10k/s or 120/m)`},
		{"1_000", `invalid rate "1_000" (want e.g. 2000, 2000/s, 1.5k, 10k/s or 120/m)`},
		{"1e", `invalid rate "1e" (want e.g. 2000, 2000/s, 1.5k, 10k/s or 120/m)`},
		{"1e400", `invalid rate "1e400": number out of range`},
		{"1e308k", `invalid rate "1e308k": number out of range`},
	}
	for _, tt := range tests {
		got, err := ParseRate(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseRate(%q) = %v, %v; want error %q", tt.in, float64(got), err, tt.want)
		}
	}
}

// TestRateStringRoundTrip checks String on many rates: it must always
// parse back to exactly the same float.
func TestRateStringRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	rates := []Rate{Rate(math.SmallestNonzeroFloat64), Rate(math.MaxFloat64), 1e-300, 1e300, MaxRate, 1.0 / 3}
	for range 20000 {
		switch rng.IntN(4) {
		case 0: // any magnitude
			rates = append(rates, Rate(math.Exp(rng.Float64()*60-30)))
		case 1: // whole per second
			rates = append(rates, Rate(rng.IntN(20_000_000)))
		case 2: // whole per minute or hour
			rates = append(rates, Rate(float64(rng.IntN(10000))/60), Rate(float64(rng.IntN(10000))/3600))
		case 3: // a few decimals
			rates = append(rates, Rate(float64(rng.IntN(1_000_000))/1000))
		}
	}
	for _, r := range rates {
		s := r.String()
		back, err := ParseRate(s)
		if err != nil || back != r {
			t.Fatalf("ParseRate(Rate(%v).String() = %q) = %v, %v; want %v", float64(r), s, float64(back), err, float64(r))
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantStr string
	}{
		{"250ms", 250 * time.Millisecond, "250ms"},
		{"1.5s", 1500 * time.Millisecond, "1.5s"},
		{"10m", 10 * time.Minute, "10m"},
		{"1h30m", 90 * time.Minute, "1h30m"},
		{"90s", 90 * time.Second, "1m30s"},
		{"24h", 24 * time.Hour, "24h"},
		{"1h0m1s", time.Hour + time.Second, "1h0m1s"},
		{"1h1m", time.Hour + time.Minute, "1h1m"},
		{" 5s ", 5 * time.Second, "5s"},
		{"0", 0, "0s"},
		{"0s", 0, "0s"},
		{"1us", time.Microsecond, "1µs"},
		{"1µs", time.Microsecond, "1µs"},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if err != nil || got != Duration(tt.want) {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			continue
		}
		if s := got.String(); s != tt.wantStr {
			t.Errorf("ParseDuration(%q).String() = %q; want %q", tt.in, s, tt.wantStr)
		}
		if back, err := ParseDuration(got.String()); err != nil || back != got {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", got.String(), back, err, got)
		}
		if got.Std() != tt.want {
			t.Errorf("ParseDuration(%q).Std() = %v; want %v", tt.in, got.Std(), tt.want)
		}
	}
}

func TestParseDurationErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `invalid duration "" (want e.g. 250ms, 1.5s, 10m or 1h30m)`},
		{"30", `invalid duration "30": missing unit (want e.g. 30s or 30ms)`},
		{"1.5", `invalid duration "1.5": missing unit (want e.g. 1.5s or 1.5ms)`},
		{"-1s", `invalid duration "-1s": must not be negative`},
		{"-0s", `invalid duration "-0s": must not be negative`},
		{"1d", `invalid duration "1d" (want e.g. 250ms, 1.5s, 10m or 1h30m)`},
		{"30 seconds", `invalid duration "30 seconds" (want e.g. 250ms, 1.5s, 10m or 1h30m)`},
		{"9999999h", `invalid duration "9999999h" (want e.g. 250ms, 1.5s, 10m or 1h30m)`},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want error %q", tt.in, got, err, tt.want)
		}
	}
}

func TestDurationStringRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		d := Duration(rng.Int64N(int64(48 * time.Hour)))
		switch rng.IntN(3) { // whole units, where String trims zeros
		case 0:
			d = Duration(d.Std().Truncate(time.Minute))
		case 1:
			d = Duration(d.Std().Truncate(time.Hour))
		}
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %v, %v; want %v", d.String(), back, err, int64(d))
		}
	}
}

// TestTextAndJSON checks that the values travel as strings through the
// encoding interfaces that flags and JSON use.
func TestTextAndJSON(t *testing.T) {
	var k Constant
	if err := json.Unmarshal([]byte(`{"rate":"10k/s","duration":"1h30m"}`), &k); err != nil {
		t.Fatal(err)
	}
	if k.Rate != 10000 || k.Duration != Duration(90*time.Minute) {
		t.Errorf("json.Unmarshal = %+v; want rate 10000 and duration 1h30m", k)
	}
	b, err := json.Marshal(k)
	if err != nil || string(b) != `{"rate":"10k/s","duration":"1h30m"}` {
		t.Errorf("json.Marshal = %s, %v; want %s", b, err, `{"rate":"10k/s","duration":"1h30m"}`)
	}
	err = json.Unmarshal([]byte(`{"rate":"fast"}`), &k)
	if err == nil || !strings.Contains(err.Error(), `invalid rate "fast"`) {
		t.Errorf("json.Unmarshal(bad rate) = %v; want the rate error", err)
	}
	var r Rate
	if err := r.UnmarshalText([]byte("120/m")); err != nil || r != 2 {
		t.Errorf("UnmarshalText(120/m) = %v, %v; want 2", float64(r), err)
	}
}

// TestGoccyNodeUnmarshaler checks that Rate and Duration keep their
// positions when decoded by goccy/go-yaml itself rather than by Parse.
func TestGoccyNodeUnmarshaler(t *testing.T) {
	var k Constant
	if err := yaml.Unmarshal([]byte("rate: 2k/s\nduration: 1m\n"), &k); err != nil {
		t.Fatal(err)
	}
	if k.Rate != 2000 || k.Duration != Duration(time.Minute) {
		t.Errorf("yaml.Unmarshal = %+v; want rate 2000 and duration 1m", k)
	}
	tests := []struct{ src, want string }{
		{"rate: 1\nduration: 30 seconds\n", `[2:11] invalid duration "30 seconds" (want e.g. 250ms, 1.5s, 10m or 1h30m)`},
		{"rate: fast\n", `[1:7] invalid rate "fast" (want e.g. 2000, 2000/s, 1.5k, 10k/s or 120/m)`},
		{"rate: [1]\n", `[1:7] rate must be a number like 2000 or a string like 10k/s (got list)`},
		{"duration: {a: 1}\n", `[1:11] duration must be a string like 30s (got map)`},
	}
	for _, tt := range tests {
		err := yaml.Unmarshal([]byte(tt.src), &k)
		if got := yaml.FormatError(err, false, false); err == nil || got != tt.want {
			t.Errorf("yaml.Unmarshal(%q) = %q; want %q", tt.src, got, tt.want)
		}
	}
}
