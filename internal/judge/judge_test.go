package judge

import (
	"testing"
	"time"

	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/scenario"
)

// judgedInterval is an interval with n responses of each latency, and
// failed of them failed.
func judgedInterval(t *testing.T, lat []time.Duration, failed uint64) *metrics.Interval {
	t.Helper()
	iv := metrics.NewInterval(metrics.DefaultGeometry(), 2)
	for _, d := range lat {
		if err := iv.Series[0].Response.RecordValue(int64(d)); err != nil {
			t.Fatal(err)
		}
	}
	n := uint64(len(lat))
	iv.Series[0].Intended, iv.Series[0].Issued = n+2, n
	iv.Series[0].Dropped = 2
	iv.Series[0].Succeeded, iv.Series[0].Failed = n-failed, failed
	return iv
}

func TestSLO(t *testing.T) {
	lat := make([]time.Duration, 100)
	for i := range lat {
		lat[i] = time.Duration(i+1) * time.Millisecond // p99 = 99ms, max 100ms
	}
	iv := judgedInterval(t, lat, 3)
	names := []string{"a", "b"}
	tests := []struct {
		expr, broken string
	}{
		{"p99 < 100ms", ""},
		{"p99 < 50ms", "p99 = 99.025ms, want < 50ms"},
		{"p50 <= 51ms", ""},
		{"max < 100ms", "max = 100.01ms, want < 100ms"},
		{"error_rate < 5%", ""},
		{"error_rate < 1%", "error_rate = 3.00%, want < 1%"},
		{"achieved_rate >= 99%", "achieved_rate = 98.04%, want >= 99%"},
		{"dropped == 0", "dropped = 2, want == 0"},
		{"failed <= 3", ""},
		{"rps > 50", ""},
		{"rps > 200", "rps = 100.0/s, want > 200"},
		{"p99{request=b} < 1s", "p99{request=b} < 1s: no responses to judge"},
		{"error_rate{request=b} < 1%", "error_rate{request=b} < 1%: no responses to judge"},
		{"p99{request=a} < 100ms", ""},
		{"p99{request=a} <= 50ms", "p99{request=a} = 99.025ms, want <= 50ms"},
	}
	for _, tt := range tests {
		e, err := scenario.ParseThreshold(tt.expr)
		if err != nil {
			t.Fatalf("%s: %v", tt.expr, err)
		}
		broken, ok := SLO(e, tt.expr, iv, names, time.Second)
		if ok != (tt.broken == "") || broken != tt.broken {
			t.Errorf("%s: ok %v %q; want %q", tt.expr, ok, broken, tt.broken)
		}
	}
}
