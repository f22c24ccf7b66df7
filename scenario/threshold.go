package scenario

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Threshold is a pass/fail criterion of a run, such as "p99 < 250ms". In a
// scenario file it is written either as the expression alone or as a map:
//
//	thresholds:
//	  - "p99 < 250ms"
//	  - {expr: "error_rate < 1%", abort: true, grace: 30s}
//
// The grammar of Expr is documented at [ParseThreshold].
type Threshold struct {
	// Expr is the expression as written. Required.
	Expr string `yaml:"expr" json:"expr"`
	// Abort stops the run as soon as the threshold fails (after Grace),
	// instead of only failing it at the end.
	Abort bool `yaml:"abort" json:"abort,omitempty"`
	// Grace is how long from the start of a stage the threshold is not
	// evaluated for Abort: warm-up noise (connection setup, JIT, cold
	// caches) should not abort a run. Only meaningful with Abort.
	Grace Duration `yaml:"grace" json:"grace,omitempty"`
	// Parsed is Expr parsed; Parse fills it in.
	Parsed ThresholdExpr `yaml:"-" json:"-"`
}

// setShorthand implements the string form of a threshold in YAML.
func (t *Threshold) setShorthand(text string) { t.Expr = text }

// ThresholdExpr is a parsed threshold expression. Values are in the base
// unit of the metric, as float64: latencies in nanoseconds, percentages as
// fractions (1% is 0.01), counts as counts and rates in requests per
// second.
type ThresholdExpr struct {
	// Metric is the canonical metric name: "p99", "p99.9", "max", "mean",
	// "error_rate", "achieved_rate", "dropped", "lost", "failed" or "rps";
	// in a journey scenario also "journey_duration.STAT" (STAT is p99,
	// p99.9, max, mean…: see JourneyStat) and "journey_error_rate"; and
	// "PHASE.STAT" for a phase of the requests' time on the wire (PHASE is
	// dns, connect, tls, write, ttfb or read: see PhaseStat), written
	// "ttfb.p99" or "ttfb p99".
	Metric string
	// Selectors restrict the metric to one request ("request"), one stage
	// ("stage"), one journey ("journey") and/or one journey step ("step")
	// by name; nil means all. After Parse, a step is always named in full,
	// "JOURNEY/STEP", even where the expression gave the step alone.
	Selectors map[string]string
	// Window, when non-zero, evaluates the metric over every sliding
	// window of this length rather than over the whole run; each window
	// must pass.
	Window time.Duration
	// Op is the comparison: "<", "<=", ">", ">=", "==" or "!=".
	Op string
	// Value is the right-hand side in the metric's base unit.
	Value float64
}

// metricUnit is the unit of a metric's values.
type metricUnit int

const (
	unitDuration metricUnit = iota
	unitPercent
	unitCount
	unitRate
)

// metrics maps each named metric to its unit. Percentiles ("p" followed by
// a number) are durations too.
var metrics = map[string]metricUnit{
	"max": unitDuration, "mean": unitDuration,
	"error_rate": unitPercent, "achieved_rate": unitPercent,
	"dropped": unitCount, "lost": unitCount, "failed": unitCount,
	"rps":                unitRate,
	"journey_error_rate": unitPercent,
}

// journeyDuration is the prefix of the journey duration metrics:
// journey_duration.p99, journey_duration.max, journey_duration.mean.
const journeyDuration = "journey_duration"

// PhaseNames are the phases of a request's time on the wire a threshold
// can judge, as PHASE.STAT (ttfb.p99, connect.max): the host name's
// lookup, the TCP dial, the TLS handshake, the request's write, the time
// to first byte and the response's read. dns, connect and tls have values
// only for the requests that opened a connection.
var PhaseNames = []string{"dns", "connect", "tls", "write", "ttfb", "read"}

// metricList is shown when a metric is unknown.
const metricList = "p50, p90, p95, p99, p99.9, p99.99 (any pN), max, mean, error_rate, achieved_rate, dropped, lost, failed, rps, " +
	"journey_duration.p99 (.pN, .max, .mean), journey_error_rate, or a phase's ttfb.p99 (dns, connect, tls, write, ttfb, read; .pN, .max, .mean)"

// thresholdOps in the order they are tried: longest first.
var thresholdOps = []string{"<=", ">=", "==", "!=", "<", ">"}

// selectorKeys are the selectors a threshold may use.
var selectorKeys = []string{"request", "stage", "journey", "step"}

// ThresholdError is a syntax error in a threshold expression.
type ThresholdError struct {
	// Offset is the byte offset in the expression where the problem is.
	Offset int
	// Msg says what is wrong.
	Msg string
}

func (e *ThresholdError) Error() string {
	return fmt.Sprintf("invalid threshold: %s (at offset %d)", e.Msg, e.Offset)
}

// ParseThreshold parses a threshold expression:
//
//	METRIC [ "{" KEY "=" NAME { "," KEY "=" NAME } "}" ] [ "[" WINDOW "]" ] OP VALUE
//
// METRIC is a latency — a percentile pN with 0 < N < 100 (p50, p99,
// p99.9, …), max or mean — compared with a duration ("250ms"); error_rate
// (failed ÷ sent) or achieved_rate (sent ÷ intended) compared with a
// percentage ("1%", "99%"); dropped, lost or failed (numbers of arrivals)
// compared with a count ("0", "1k"); or rps (achieved requests per second)
// compared with a rate ("1k/s"). In a scenario of journeys, the request
// metrics are of the steps' requests, and two metrics are of whole
// journeys: journey_duration.STAT, where STAT is a latency statistic as
// above (journey_duration.p99, journey_duration.p99.9, .max, .mean), the
// time from a journey's arrival to the end of its last step, compared with
// a duration; and journey_error_rate (failed journeys ÷ finished ones),
// compared with a percentage.
//
// The phases of the requests' time on the wire are metrics too, written
// PHASE.STAT or PHASE STAT: PHASE is dns (the host name's lookup),
// connect (the TCP dial), tls (the handshake), write (the request's
// write), ttfb (time to first byte) or read (the response's read from its
// first byte), STAT a latency statistic as above, compared with a
// duration. dns, connect and tls have values only for the requests that
// opened a connection (none at all for an IP literal, for dns, or plain
// http, for tls: the threshold then has no data, and fails). A phase
// takes no window.
//
// KEY is request, stage, journey or step, and NAME the name of one, bare
// (up to the next "," or "}", spaces around it trimmed) or double-quoted
// with \" and \\ escapes. A step is named JOURNEY/STEP, or just STEP
// when no other journey has a step of that name. WINDOW is a duration. OP
// is <, <=, >, >=, == or !=. Spaces may separate the parts. Examples:
//
//	p99 < 250ms
//	p99.9{request=read-item} < 1s
//	p99{request="GET /items/1", stage=cache}[30s] <= 300ms
//	error_rate < 1%
//	achieved_rate >= 99%
//	dropped == 0
//	p99{step=shop/login} < 300ms
//	error_rate{journey=shop, step=checkout} < 0.1%
//	journey_duration.p99{journey=shop} < 5s
//	journey_error_rate < 1%
//	ttfb p99 < 100ms
//	connect.p99{request=read-item} < 10ms
//
// An error is a *ThresholdError giving the byte offset of the problem.
// Whether the named requests, stages, journeys and steps exist, and
// whether the scenario has journeys for a journey metric, is checked by
// Parse, not here.
func ParseThreshold(s string) (ThresholdExpr, error) {
	p := thresholdParser{s: s}
	e, ok := p.parse()
	if !ok {
		return ThresholdExpr{}, &ThresholdError{Offset: p.errOff, Msg: p.errMsg}
	}
	return e, nil
}

type thresholdParser struct {
	s      string
	i      int
	errOff int
	errMsg string
}

func (p *thresholdParser) fail(off int, format string, args ...any) bool {
	p.errOff, p.errMsg = off, fmt.Sprintf(format, args...)
	return false
}

func (p *thresholdParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *thresholdParser) parse() (ThresholdExpr, bool) {
	var e ThresholdExpr
	p.space()
	if p.i == len(p.s) {
		return e, p.fail(p.i, "empty expression (want e.g. p99 < 250ms)")
	}
	start := p.i
	for p.i < len(p.s) && isMetricChar(p.s[p.i]) {
		p.i++
	}
	name := p.s[start:p.i]
	statOff := -1 // where a phase's statistic starts
	if slices.Contains(PhaseNames, name) {
		// "ttfb p99": the phase, spaces, its statistic.
		at := p.i
		p.space()
		statAt := p.i
		for p.i < len(p.s) && isMetricChar(p.s[p.i]) {
			p.i++
		}
		stat := p.s[statAt:p.i]
		if stat == "" || statAt == at {
			return e, p.fail(at, "%s needs a statistic: %s p99 or %s.p99 (any pN), %s.max or %s.mean", name, name, name, name, name)
		}
		name += "." + stat
		statOff = statAt
	}
	metric, unit, ok := canonicalMetric(name)
	if !ok {
		if phase, stat, isPhase := strings.Cut(name, "."); isPhase && slices.Contains(PhaseNames, phase) {
			if statOff < 0 {
				statOff = start + len(phase) + 1
			}
			return e, p.fail(statOff, "unknown statistic %q of %s (want %s.p99 (any pN), %s.max or %s.mean)", stat, phase, phase, phase, phase)
		}
		if stat, isJourney := strings.CutPrefix(name, journeyDuration); isJourney && (stat == "" || stat == ".") {
			return e, p.fail(start+len(name), "%s needs a statistic: %s.p99 (any pN), %s.max or %s.mean",
				journeyDuration, journeyDuration, journeyDuration, journeyDuration)
		}
		if name == "" {
			return e, p.fail(start, "expression must start with a metric (%s)", metricList)
		}
		return e, p.fail(start, "unknown metric %q (want %s)", name, metricList)
	}
	e.Metric = metric

	p.space()
	if p.i < len(p.s) && p.s[p.i] == '{' {
		sel, ok := p.selectors()
		if !ok {
			return e, false
		}
		e.Selectors = sel
		p.space()
	}
	if p.i < len(p.s) && p.s[p.i] == '[' {
		open := p.i
		end := strings.IndexByte(p.s[open:], ']')
		if end < 0 {
			return e, p.fail(open, "unterminated window (want e.g. [30s])")
		}
		text := strings.TrimSpace(p.s[open+1 : open+end])
		d, err := ParseDuration(text)
		if err != nil || d <= 0 {
			return e, p.fail(open+1, "window must be a duration > 0 like 30s (got %q)", text)
		}
		if _, _, ok := e.PhaseStat(); ok {
			// Phases are kept in a stage's totals, not per interval.
			return e, p.fail(open, "%s is judged over a whole stage: a phase takes no window", e.Metric)
		}
		e.Window = d.Std()
		p.i = open + end + 1
		p.space()
	}

	opAt := p.i
	for _, op := range thresholdOps {
		if strings.HasPrefix(p.s[p.i:], op) {
			e.Op = op
			p.i += len(op)
			break
		}
	}
	if e.Op == "" {
		if p.i == len(p.s) {
			return e, p.fail(opAt, "missing comparison after %s (want <, <=, >, >=, == or !=)", name)
		}
		return e, p.fail(opAt, "expected a comparison (<, <=, >, >=, == or !=), got %q", p.s[p.i:])
	}
	p.space()
	valueAt := p.i
	text := strings.TrimRight(p.s[p.i:], " \t")
	if text == "" {
		return e, p.fail(valueAt, "missing value after %s", e.Op)
	}
	v, ok := parseMetricValue(unit, text)
	if !ok {
		return e, p.fail(valueAt, "%s is compared with %s (got %q)", metric, unitExample(unit), text)
	}
	e.Value = v
	return e, true
}

// selectors parses "{key=value,…}" at p.i.
func (p *thresholdParser) selectors() (map[string]string, bool) {
	open := p.i
	p.i++ // {
	sel := map[string]string{}
	for {
		p.space()
		keyAt := p.i
		for p.i < len(p.s) && isMetricChar(p.s[p.i]) {
			p.i++
		}
		key := p.s[keyAt:p.i]
		if key == "" {
			if p.i < len(p.s) && p.s[p.i] == '}' && len(sel) == 0 {
				return nil, p.fail(keyAt, "empty selector list (want e.g. {request=read-item} or none)")
			}
			if p.i == len(p.s) {
				return nil, p.fail(open, "unterminated selector list (want e.g. {request=read-item})")
			}
			return nil, p.fail(keyAt, "expected a selector key (request, stage, journey or step)")
		}
		if !slices.Contains(selectorKeys, key) {
			return nil, p.fail(keyAt, "unknown selector %q (want request, stage, journey or step)", key)
		}
		if _, dup := sel[key]; dup {
			return nil, p.fail(keyAt, "duplicate selector %q", key)
		}
		p.space()
		if p.i == len(p.s) || p.s[p.i] != '=' {
			return nil, p.fail(p.i, "expected = after %s", key)
		}
		p.i++
		p.space()
		valAt := p.i
		var val string
		if p.i < len(p.s) && p.s[p.i] == '"' {
			v, n, ok := unquoteSelector(p.s[p.i:])
			if !ok {
				return nil, p.fail(valAt, "unterminated quoted name")
			}
			val = v
			p.i += n
		} else {
			for p.i < len(p.s) && p.s[p.i] != ',' && p.s[p.i] != '}' && p.s[p.i] != '"' {
				p.i++
			}
			val = strings.TrimRight(p.s[valAt:p.i], " \t")
		}
		if val == "" {
			return nil, p.fail(valAt, "empty %s name", key)
		}
		sel[key] = val
		p.space()
		if p.i == len(p.s) {
			return nil, p.fail(open, "unterminated selector list (want e.g. {request=read-item})")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return sel, true
		default:
			return nil, p.fail(p.i, "expected , or } after the %s name", key)
		}
	}
}

// unquoteSelector reads a double-quoted name at the start of s, with \" and
// \\ escapes, and returns it and the bytes it took.
func unquoteSelector(s string) (string, int, bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '"':
			return b.String(), i + 1, true
		case '\\':
			if i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
				i++
			}
		}
		b.WriteByte(s[i])
	}
	return "", 0, false
}

func isMetricChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.'
}

// canonicalMetric returns the canonical name and unit of a metric:
// percentiles lose redundant zeros ("p99.90" is "p99.9").
func canonicalMetric(name string) (string, metricUnit, bool) {
	if u, ok := metrics[name]; ok {
		return name, u, true
	}
	if phase, stat, ok := strings.Cut(name, "."); ok && slices.Contains(PhaseNames, phase) {
		if stat == "max" || stat == "mean" {
			return name, unitDuration, true
		}
		if q, ok := percentile(stat); ok {
			return phase + ".p" + formatNumber(q), unitDuration, true
		}
		return "", 0, false
	}
	if stat, ok := strings.CutPrefix(name, journeyDuration+"."); ok {
		if stat == "max" || stat == "mean" {
			return name, unitDuration, true
		}
		if q, ok := percentile(stat); ok {
			return journeyDuration + ".p" + formatNumber(q), unitDuration, true
		}
		return "", 0, false
	}
	q, ok := percentile(name)
	if !ok {
		return "", 0, false
	}
	return "p" + formatNumber(q), unitDuration, true
}

// percentile returns N of "pN" when 0 < N < 100.
func percentile(name string) (float64, bool) {
	num, ok := strings.CutPrefix(name, "p")
	if !ok || !isDecimal(num) || strings.ContainsAny(num, "eE") {
		return 0, false
	}
	q, err := strconv.ParseFloat(num, 64)
	if err != nil || !(q > 0 && q < 100) {
		return 0, false
	}
	return q, true
}

// parseMetricValue parses a value in the unit of a metric.
func parseMetricValue(u metricUnit, text string) (float64, bool) {
	switch u {
	case unitDuration:
		d, err := ParseDuration(text)
		return float64(d), err == nil
	case unitPercent:
		p, err := ParsePercent(text)
		return float64(p), err == nil
	case unitCount:
		c, err := ParseCount(text)
		return float64(c), err == nil
	default:
		r, err := ParseRate(text)
		return float64(r), err == nil
	}
}

func unitExample(u metricUnit) string {
	switch u {
	case unitDuration:
		return "a duration like 250ms"
	case unitPercent:
		return "a percentage like 1%"
	case unitCount:
		return "a count like 0 or 1k"
	default:
		return "a rate like 1000 or 1k/s"
	}
}

// Quantile returns the quantile of a percentile metric, 0 < q < 1 (0.999
// for p99.9), and false for the other metrics.
func (e ThresholdExpr) Quantile() (float64, bool) {
	if _, ok := percentile(e.Metric); !ok {
		return 0, false
	}
	// Scaled as a decimal, so p99.9 is exactly the float 0.999.
	q, err := scaleDecimal(e.Metric[1:], -2)
	return q, err == nil
}

// JourneyStat returns the statistic of a journey_duration metric: "p99",
// "p99.9", "max" or "mean" (for journey_duration.p99, …), and false for
// the other metrics. ThresholdExpr{Metric: stat}.Percentile() gives a
// percentile statistic's percentile.
func (e ThresholdExpr) JourneyStat() (string, bool) {
	stat, ok := strings.CutPrefix(e.Metric, journeyDuration+".")
	if !ok {
		return "", false
	}
	return stat, true
}

// PhaseStat returns the phase and statistic of a phase metric ("ttfb",
// "p99" for ttfb.p99; the statistic as JourneyStat's), and false for the
// other metrics.
func (e ThresholdExpr) PhaseStat() (phase, stat string, ok bool) {
	phase, stat, ok = strings.Cut(e.Metric, ".")
	if !ok || !slices.Contains(PhaseNames, phase) {
		return "", "", false
	}
	return phase, stat, true
}

// JourneyMetric reports whether e's metric is of whole journeys
// (journey_duration.STAT or journey_error_rate) rather than of requests.
func (e ThresholdExpr) JourneyMetric() bool {
	_, ok := e.JourneyStat()
	return ok || e.Metric == "journey_error_rate"
}

// Percentile returns the percentile of a percentile metric in percent,
// 0 < p < 100, exactly as written (99.9 for p99.9, the float nearest to
// the decimal), and false for the other metrics. It is what
// metrics.ValueAtPercentile takes: going through Quantile and ×100 could
// land an ulp away from the decimal (0.90002·100 is not the float 90.002).
func (e ThresholdExpr) Percentile() (float64, bool) {
	return percentile(e.Metric)
}

// Holds reports whether a measured value x (in the metric's base unit)
// passes: x Op Value. NaN never passes.
func (e ThresholdExpr) Holds(x float64) bool {
	if math.IsNaN(x) {
		return false
	}
	switch e.Op {
	case "<":
		return x < e.Value
	case "<=":
		return x <= e.Value
	case ">":
		return x > e.Value
	case ">=":
		return x >= e.Value
	case "==":
		return x == e.Value
	case "!=":
		return x != e.Value
	}
	return false
}

// String formats the expression canonically; ParseThreshold reads it back
// to an equal value: "p99{request=read-item}[30s] < 250ms".
func (e ThresholdExpr) String() string {
	var b strings.Builder
	b.WriteString(e.Metric)
	if len(e.Selectors) > 0 {
		b.WriteByte('{')
		for i, k := range slices.Sorted(maps.Keys(e.Selectors)) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(k + "=" + quoteSelector(e.Selectors[k]))
		}
		b.WriteByte('}')
	}
	if e.Window > 0 {
		b.WriteString("[" + Duration(e.Window).String() + "]")
	}
	b.WriteString(" " + e.Op + " ")
	_, u, _ := canonicalMetric(e.Metric)
	switch u {
	case unitDuration:
		b.WriteString(Duration(e.Value).String())
	case unitPercent:
		b.WriteString(Percent(e.Value).String())
	case unitCount:
		b.WriteString(Count(e.Value).String())
	default:
		b.WriteString(Rate(e.Value).String())
	}
	return b.String()
}

// quoteSelector quotes a name when the bare form would not read back.
func quoteSelector(s string) string {
	if s != "" && !strings.ContainsAny(s, ",}\"\\") && strings.TrimSpace(s) == s {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// MarshalText implements encoding.TextMarshaler with the form of String.
func (e ThresholdExpr) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseThreshold.
func (e *ThresholdExpr) UnmarshalText(b []byte) error {
	v, err := ParseThreshold(string(b))
	if err != nil {
		return err
	}
	*e = v
	return nil
}

// shorthandField says that a threshold written as a string is its Expr.
func (t *Threshold) shorthandField() string { return "expr" }
