package scenario

import (
	"errors"
	"math"
	"reflect"
	"testing"
	"time"
)

func TestParseThreshold(t *testing.T) {
	tests := []struct {
		in   string
		want ThresholdExpr
		str  string // String(), which must parse back to want
	}{
		{"p99 < 250ms", ThresholdExpr{Metric: "p99", Op: "<", Value: float64(250 * time.Millisecond)}, "p99 < 250ms"},
		{"p99.9{request=read-item} < 1s",
			ThresholdExpr{Metric: "p99.9", Selectors: map[string]string{"request": "read-item"}, Op: "<", Value: 1e9},
			"p99.9{request=read-item} < 1s"},
		{"p99[30s] < 300ms", ThresholdExpr{Metric: "p99", Window: 30 * time.Second, Op: "<", Value: 300e6}, "p99[30s] < 300ms"},
		{"error_rate < 1%", ThresholdExpr{Metric: "error_rate", Op: "<", Value: 0.01}, "error_rate < 1%"},
		{"achieved_rate >= 99%", ThresholdExpr{Metric: "achieved_rate", Op: ">=", Value: 0.99}, "achieved_rate >= 99%"},
		{"dropped == 0", ThresholdExpr{Metric: "dropped", Op: "==", Value: 0}, "dropped == 0"},
		{"lost<=1k", ThresholdExpr{Metric: "lost", Op: "<=", Value: 1000}, "lost <= 1k"},
		{"failed != 5", ThresholdExpr{Metric: "failed", Op: "!=", Value: 5}, "failed != 5"},
		{"rps > 1k/s", ThresholdExpr{Metric: "rps", Op: ">", Value: 1000}, "rps > 1000/s"},
		{"max<=2s", ThresholdExpr{Metric: "max", Op: "<=", Value: 2e9}, "max <= 2s"},
		{"  mean  >  0s  ", ThresholdExpr{Metric: "mean", Op: ">", Value: 0}, "mean > 0s"},
		{"p99.90 < 1s", ThresholdExpr{Metric: "p99.9", Op: "<", Value: 1e9}, "p99.9 < 1s"},
		{"p50 { stage = cache , request = \"GET /items/1\" } [ 1m ] < 5ms",
			ThresholdExpr{Metric: "p50", Selectors: map[string]string{"stage": "cache", "request": "GET /items/1"},
				Window: time.Minute, Op: "<", Value: 5e6},
			"p50{request=GET /items/1,stage=cache}[1m] < 5ms"},
		{"p99{step=shop/login} < 300ms",
			ThresholdExpr{Metric: "p99", Selectors: map[string]string{"step": "shop/login"}, Op: "<", Value: 300e6},
			"p99{step=shop/login} < 300ms"},
		{"error_rate{journey=shop, step=checkout} < 0.1%",
			ThresholdExpr{Metric: "error_rate", Selectors: map[string]string{"journey": "shop", "step": "checkout"}, Op: "<", Value: 0.001},
			"error_rate{journey=shop,step=checkout} < 0.1%"},
		{"journey_duration.p99.90{journey=shop}[1m] < 5s",
			ThresholdExpr{Metric: "journey_duration.p99.9", Selectors: map[string]string{"journey": "shop"}, Window: time.Minute, Op: "<", Value: 5e9},
			"journey_duration.p99.9{journey=shop}[1m] < 5s"},
		{"journey_duration.max <= 10s", ThresholdExpr{Metric: "journey_duration.max", Op: "<=", Value: 10e9}, "journey_duration.max <= 10s"},
		{"journey_duration.mean < 2s", ThresholdExpr{Metric: "journey_duration.mean", Op: "<", Value: 2e9}, "journey_duration.mean < 2s"},
		{"journey_error_rate < 1%", ThresholdExpr{Metric: "journey_error_rate", Op: "<", Value: 0.01}, "journey_error_rate < 1%"},
		// Phases: PHASE.STAT, or the spaced form PHASE STAT.
		{"ttfb p99 < 100ms", ThresholdExpr{Metric: "ttfb.p99", Op: "<", Value: 100e6}, "ttfb.p99 < 100ms"},
		{"connect.p99 < 10ms", ThresholdExpr{Metric: "connect.p99", Op: "<", Value: 10e6}, "connect.p99 < 10ms"},
		{"  dns   p99.90{stage=cache} <= 5ms", ThresholdExpr{Metric: "dns.p99.9", Selectors: map[string]string{"stage": "cache"}, Op: "<=", Value: 5e6}, "dns.p99.9{stage=cache} <= 5ms"},
		{"tls.max{request=a} < 1s", ThresholdExpr{Metric: "tls.max", Selectors: map[string]string{"request": "a"}, Op: "<", Value: 1e9}, "tls.max{request=a} < 1s"},
		{"write mean<1ms", ThresholdExpr{Metric: "write.mean", Op: "<", Value: 1e6}, "write.mean < 1ms"},
		{"read.p50{step=shop/login} > 0s", ThresholdExpr{Metric: "read.p50", Selectors: map[string]string{"step": "shop/login"}, Op: ">", Value: 0}, "read.p50{step=shop/login} > 0s"},
		{`p99{request="a,b}\"c"} < 1s`,
			ThresholdExpr{Metric: "p99", Selectors: map[string]string{"request": `a,b}"c`}, Op: "<", Value: 1e9},
			`p99{request="a,b}\"c"} < 1s`},
	}
	for _, tt := range tests {
		got, err := ParseThreshold(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseThreshold(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			continue
		}
		if s := got.String(); s != tt.str {
			t.Errorf("ParseThreshold(%q).String() = %q; want %q", tt.in, s, tt.str)
		}
		if back, err := ParseThreshold(got.String()); err != nil || !reflect.DeepEqual(back, got) {
			t.Errorf("ParseThreshold(%q) = %+v, %v; want %+v", got.String(), back, err, got)
		}
	}
}

func TestParseThresholdErrors(t *testing.T) {
	tests := []struct {
		in   string
		off  int
		want string
	}{
		{"", 0, "empty expression (want e.g. p99 < 250ms)"},
		{"journey_duration < 1s", 16, "journey_duration needs a statistic: journey_duration.p99 (any pN), journey_duration.max or journey_duration.mean"},
		{"journey_duration. < 1s", 17, "journey_duration needs a statistic: journey_duration.p99 (any pN), journey_duration.max or journey_duration.mean"},
		{"journey_duration.p100 < 1s", 0, "unknown metric \"journey_duration.p100\" (want " + metricList + ")"},
		{"journey_duration.error_rate < 1%", 0, "unknown metric \"journey_duration.error_rate\" (want " + metricList + ")"},
		{"journey_duration.journey_duration.p99 < 1s", 0, "unknown metric \"journey_duration.journey_duration.p99\" (want " + metricList + ")"},
		{"journey_error_rate < 1s", 21, "journey_error_rate is compared with a percentage like 1% (got \"1s\")"},
		{"journey_duration.p99 < 1%", 23, "journey_duration.p99 is compared with a duration like 250ms (got \"1%\")"},
		{"latency < 1s", 0, `unknown metric "latency" (want p50, p90, p95, p99, p99.9, p99.99 (any pN), max, mean, error_rate, achieved_rate, dropped, lost, failed, rps, journey_duration.p99 (.pN, .max, .mean), journey_error_rate, or a phase's ttfb.p99 (dns, connect, tls, write, ttfb, read; .pN, .max, .mean))`},
		{"p100 < 1s", 0, `unknown metric "p100" (want p50, p90, p95, p99, p99.9, p99.99 (any pN), max, mean, error_rate, achieved_rate, dropped, lost, failed, rps, journey_duration.p99 (.pN, .max, .mean), journey_error_rate, or a phase's ttfb.p99 (dns, connect, tls, write, ttfb, read; .pN, .max, .mean))`},
		{"p0 < 1s", 0, `unknown metric "p0" (want p50, p90, p95, p99, p99.9, p99.99 (any pN), max, mean, error_rate, achieved_rate, dropped, lost, failed, rps, journey_duration.p99 (.pN, .max, .mean), journey_error_rate, or a phase's ttfb.p99 (dns, connect, tls, write, ttfb, read; .pN, .max, .mean))`},
		{"< 1s", 0, "expression must start with a metric (p50, p90, p95, p99, p99.9, p99.99 (any pN), max, mean, error_rate, achieved_rate, dropped, lost, failed, rps, journey_duration.p99 (.pN, .max, .mean), journey_error_rate, or a phase's ttfb.p99 (dns, connect, tls, write, ttfb, read; .pN, .max, .mean))"},
		{"p99", 3, "missing comparison after p99 (want <, <=, >, >=, == or !=)"},
		{"p99 = 1s", 4, `expected a comparison (<, <=, >, >=, == or !=), got "= 1s"`},
		{"p99 <", 5, "missing value after <"},
		{"p99 < 1%", 6, `p99 is compared with a duration like 250ms (got "1%")`},
		{"p99 < 250", 6, `p99 is compared with a duration like 250ms (got "250")`},
		{"error_rate < 0.01", 13, `error_rate is compared with a percentage like 1% (got "0.01")`},
		{"dropped == none", 11, `dropped is compared with a count like 0 or 1k (got "none")`},
		{"rps > fast", 6, `rps is compared with a rate like 1000 or 1k/s (got "fast")`},
		{"p99{} < 1s", 4, "empty selector list (want e.g. {request=read-item} or none)"},
		{"p99{host=a} < 1s", 4, `unknown selector "host" (want request, stage, journey or step)`},
		{"p99{request=a,request=b} < 1s", 14, `duplicate selector "request"`},
		{"p99{request a} < 1s", 12, "expected = after request"},
		{"p99{request=} < 1s", 12, "empty request name"},
		{"p99{request=a < 1s", 3, "unterminated selector list (want e.g. {request=read-item})"},
		{`p99{request="a} < 1s`, 12, "unterminated quoted name"},
		{`p99{request="a"b} < 1s`, 15, "expected , or } after the request name"},
		{"p99{request=a,} < 1s", 14, "expected a selector key (request, stage, journey or step)"},
		{"p99[30s < 1s", 3, "unterminated window (want e.g. [30s])"},
		{"p99[0s] < 1s", 4, `window must be a duration > 0 like 30s (got "0s")`},
		{"p99[soon] < 1s", 4, `window must be a duration > 0 like 30s (got "soon")`},
		{"ttfb < 100ms", 4, "ttfb needs a statistic: ttfb p99 or ttfb.p99 (any pN), ttfb.max or ttfb.mean"},
		{"connect", 7, "connect needs a statistic: connect p99 or connect.p99 (any pN), connect.max or connect.mean"},
		{"ttfb.p100 < 1s", 5, `unknown statistic "p100" of ttfb (want ttfb.p99 (any pN), ttfb.max or ttfb.mean)`},
		{"read  error_rate < 1%", 6, `unknown statistic "error_rate" of read (want read.p99 (any pN), read.max or read.mean)`},
		{"dns.p99.ttfb < 1s", 4, `unknown statistic "p99.ttfb" of dns (want dns.p99 (any pN), dns.max or dns.mean)`},
		{"ttfb.p99 < 1%", 11, `ttfb.p99 is compared with a duration like 250ms (got "1%")`},
		{"ttfb p99[30s] < 100ms", 8, "ttfb.p99 is judged over a whole stage: a phase takes no window"},
		{"p99 [30s] {request=a} < 1s", 10, `expected a comparison (<, <=, >, >=, == or !=), got "{request=a} < 1s"`},
	}
	for _, tt := range tests {
		_, err := ParseThreshold(tt.in)
		var te *ThresholdError
		if !errors.As(err, &te) || te.Offset != tt.off || te.Msg != tt.want {
			t.Errorf("ParseThreshold(%q) = %#v; want offset %d, %q", tt.in, err, tt.off, tt.want)
		}
	}
	_, err := ParseThreshold("p99 <")
	if want := "invalid threshold: missing value after < (at offset 5)"; err == nil || err.Error() != want {
		t.Errorf("ParseThreshold(p99 <).Error() = %v; want %q", err, want)
	}
}

func TestThresholdHoldsAndQuantile(t *testing.T) {
	tests := []struct {
		expr string
		x    float64
		want bool
	}{
		{"p99 < 250ms", 249e6, true},
		{"p99 < 250ms", 250e6, false},
		{"p99 <= 250ms", 250e6, true},
		{"error_rate > 1%", 0.02, true},
		{"achieved_rate >= 99%", 0.989, false},
		{"dropped == 0", 0, true},
		{"dropped != 0", 0, false},
		{"dropped == 0", math.NaN(), false},
	}
	for _, tt := range tests {
		e, err := ParseThreshold(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Holds(tt.x); got != tt.want {
			t.Errorf("ParseThreshold(%q).Holds(%v) = %v; want %v", tt.expr, tt.x, got, tt.want)
		}
	}
	for _, tt := range []struct {
		expr string
		q    float64
		ok   bool
	}{{"p99 < 1s", 0.99, true}, {"p99.9 < 1s", 0.999, true}, {"p50 < 1s", 0.5, true}, {"max < 1s", 0, false}} {
		e, _ := ParseThreshold(tt.expr)
		if q, ok := e.Quantile(); ok != tt.ok || q != tt.q {
			t.Errorf("ParseThreshold(%q).Quantile() = %v, %v; want %v, %v", tt.expr, q, ok, tt.q, tt.ok)
		}
	}
	for _, tt := range []struct {
		expr string
		p    float64
		ok   bool
	}{{"p99 < 1s", 99, true}, {"p99.9 < 1s", 99.9, true}, {"p90.002 < 1s", 90.002, true}, {"p75 < 1s", 75, true}, {"mean < 1s", 0, false}} {
		e, _ := ParseThreshold(tt.expr)
		if p, ok := e.Percentile(); ok != tt.ok || p != tt.p {
			t.Errorf("ParseThreshold(%q).Percentile() = %v, %v; want %v, %v", tt.expr, p, ok, tt.p, tt.ok)
		}
	}
}

// TestParseThresholds checks thresholds in a scenario: both forms, the
// parsed value, selectors naming real requests and stages, and the
// position of a syntax error at its character.
func TestParseThresholds(t *testing.T) {
	src := "name: t\n" + validStages + validLoad +
		"requests: [{name: read}, {path: /w}]\n" +
		"thresholds:\n" +
		"  - p99{request=read} < 250ms\n" +
		"  - {expr: 'error_rate{stage=echo} < 1%', abort: true, grace: 30s}\n" +
		"  - \"p99{request=GET /w} < 1s\"\n"
	s, err := Parse("x.yaml", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Threshold{
		{Expr: "p99{request=read} < 250ms", Parsed: ThresholdExpr{Metric: "p99", Selectors: map[string]string{"request": "read"}, Op: "<", Value: 250e6}},
		{Expr: "error_rate{stage=echo} < 1%", Abort: true, Grace: Duration(30 * time.Second),
			Parsed: ThresholdExpr{Metric: "error_rate", Selectors: map[string]string{"stage": "echo"}, Op: "<", Value: 0.01}},
		{Expr: "p99{request=GET /w} < 1s", Parsed: ThresholdExpr{Metric: "p99", Selectors: map[string]string{"request": "GET /w"}, Op: "<", Value: 1e9}},
	}
	if !reflect.DeepEqual(s.Thresholds, want) {
		t.Errorf("Parse thresholds = %+v; want %+v", s.Thresholds, want)
	}
	for path, want := range map[string][2]int{"thresholds[0].expr": {6, 5}, "thresholds[1].expr": {7, 12}, "thresholds[1].grace": {7, 63}} {
		if l, c, ok := s.Position(path); !ok || l != want[0] || c != want[1] {
			t.Errorf("Position(%q) = %d:%d, %v; want %d:%d", path, l, c, ok, want[0], want[1])
		}
	}
}

func TestJourneyStat(t *testing.T) {
	for _, tt := range []struct {
		expr    string
		stat    string
		journey bool
	}{
		{"journey_duration.p99.9 < 1s", "p99.9", true},
		{"journey_duration.max < 1s", "max", true},
		{"journey_error_rate < 1%", "", true},
		{"p99 < 1s", "", false},
		{"error_rate < 1%", "", false},
	} {
		e, err := ParseThreshold(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		stat, ok := e.JourneyStat()
		if stat != tt.stat || ok != (tt.stat != "") || e.JourneyMetric() != tt.journey {
			t.Errorf("ParseThreshold(%q): JourneyStat() = %q, %v, JourneyMetric() = %v; want %q, %v", tt.expr, stat, ok, e.JourneyMetric(), tt.stat, tt.journey)
		}
		if _, isPct := e.Percentile(); isPct && tt.journey {
			t.Errorf("ParseThreshold(%q).Percentile() is set: a journey duration must not pass for a request percentile", tt.expr)
		}
	}
	e, _ := ParseThreshold("journey_duration.p99.9 < 1s")
	stat, _ := e.JourneyStat()
	if p, ok := (ThresholdExpr{Metric: stat}).Percentile(); !ok || p != 99.9 {
		t.Errorf("percentile of journey_duration.p99.9 = %v, %v; want 99.9", p, ok)
	}
}
