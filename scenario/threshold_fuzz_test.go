package scenario

import (
	"math"
	"slices"
	"testing"
)

// FuzzParseThreshold: any text either parses into an expression with a
// known metric and operator, a finite value and a String that parses back
// to itself, or gives a *ThresholdError with an offset inside the text;
// never a panic.
func FuzzParseThreshold(f *testing.F) {
	for _, s := range []string{
		"p99 < 250ms", "p99.9{request=read-item} < 1s", "p99[30s] < 300ms", "error_rate < 1%",
		"achieved_rate >= 99%", "dropped == 0", "rps > 1k", "max{stage=a,request=b}[1m] <= 2s",
		"p", "p99 <", "p99{", "p99[", "journey_duration.p99{journey=a, step=b/c} < 1s", "journey_error_rate < 1%", "journey_duration.max[1m] > 0s", "error_rate < 200%", "p0 < 1s", "p100.1 < 1s", "mean != 1ms",
		"ttfb p99 < 100ms", "connect.p99{request=a} < 10ms", "dns max", "tls.p99[1s] < 1s", "read mean >= 1us",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseThreshold(s)
		if err != nil {
			te, ok := err.(*ThresholdError)
			if !ok || te.Offset < 0 || te.Offset > len(s) || te.Msg == "" {
				t.Fatalf("ParseThreshold(%q) error %#v: want a *ThresholdError with an offset in 0..%d", s, err, len(s))
			}
			return
		}
		if e.Metric == "" || !slices.Contains(thresholdOps, e.Op) || math.IsNaN(e.Value) || math.IsInf(e.Value, 0) || e.Window < 0 {
			t.Fatalf("ParseThreshold(%q) = %+v", s, e)
		}
		back, err := ParseThreshold(e.String())
		if err != nil || back.String() != e.String() {
			t.Fatalf("ParseThreshold(%q).String() = %q does not parse back to itself: %+v, %v", s, e.String(), back, err)
		}
	})
}
