package capacity

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// FormatNumber formats a planned value the way a planner writes it:
// thousands separators and a precision that shrinks as the number grows —
// whole numbers from 100 up (1,157; 5,787; 116), one decimal from 10, two
// from 1, and three significant digits below 1 — with trailing zeros
// dropped. Infinities are "∞" and "-∞", NaN is "NaN".
func FormatNumber(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 100:
		return formatFixed(v, 0)
	case a >= 10:
		return formatFixed(v, 1)
	case a >= 1:
		return formatFixed(v, 2)
	}
	return formatSmall(v)
}

// workNumber formats a number inside a step's working with more digits
// than FormatNumber — one decimal from 100 up, two from 1 — so the working
// carries enough digits to be recomputed by hand (1,157.4 × 5 = 5,787;
// ⌈5,787 ÷ 300⌉ = ⌈19.29⌉).
func workNumber(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 100:
		return formatFixed(v, 1)
	case a >= 1:
		return formatFixed(v, 2)
	}
	return formatSmall(v)
}

// formatSmall formats |v| < 1 (and the special values) with three
// significant digits.
func formatSmall(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "∞"
	case math.IsInf(v, -1):
		return "-∞"
	case v == 0:
		return "0"
	}
	dp := 2 - int(math.Floor(math.Log10(math.Abs(v))))
	return formatFixed(v, min(dp, 12))
}

// formatFixed formats v with dp decimals, drops trailing zeros and groups
// the integer digits by thousands.
func formatFixed(v float64, dp int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return formatSmall(v)
	}
	s := strconv.FormatFloat(v, 'f', dp, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	b.WriteString(sign)
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if hasFrac {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

// percent formats a fraction as a percentage: 0.9 → "90%", 0.005 → "0.5%".
func percent(f float64) string {
	return FormatNumber(f*100) + "%"
}

// seconds formats a duration in seconds for a working: 50ms → "0.05 s".
func seconds(d time.Duration) string {
	return workNumber(d.Seconds()) + " s"
}

// millis formats a duration in milliseconds: 70ms → "70 ms".
func millis(d time.Duration) string {
	return workNumber(float64(d)/float64(time.Millisecond)) + " ms"
}

// clock formats a number of seconds as a short duration, "2m48s", for the
// reader of a long drain time. Sub-second parts are dropped.
func clock(s float64) string {
	if math.IsInf(s, 0) || math.IsNaN(s) || s > float64(math.MaxInt64/int64(time.Second)) {
		return formatSmall(s) + " s"
	}
	d := time.Duration(math.Round(s)) * time.Second
	out := d.String()
	if strings.HasSuffix(out, "m0s") {
		out = strings.TrimSuffix(out, "0s")
	}
	if strings.HasSuffix(out, "h0m") {
		out = strings.TrimSuffix(out, "0m")
	}
	return out
}
