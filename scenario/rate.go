package scenario

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
)

// Rate is an arrival rate in requests per second.
//
// Its text form is a decimal number, an optional multiplier suffix (k or K
// for thousands, M for millions) and an optional unit: /s (the default), /m
// for per minute or /h for per hour. So "2000", "2000/s", "2k/s" and
// "120000/m" are all the same rate, and "0.5/s" is one request every two
// seconds. An exponent is accepted ("1e3/s"); signs, "inf", "nan",
// hexadecimal and underscores are not.
type Rate float64

// rateUnits maps the unit after the slash to its length in seconds.
var rateUnits = map[string]float64{"s": 1, "m": 60, "h": 3600}

// rateSyntax is shown in every rate parse error.
const rateSyntax = "want e.g. 2000, 2000/s, 1.5k, 10k/s or 120/m"

// ParseRate parses the text form of a rate (see [Rate]). Surrounding spaces
// are ignored.
func ParseRate(s string) (Rate, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errors.New("invalid rate \"\": empty (" + rateSyntax + ")")
	}
	num, unit := t, "s"
	if i := strings.IndexByte(t, '/'); i >= 0 {
		num, unit = t[:i], t[i+1:]
	}
	per, ok := rateUnits[unit]
	if !ok {
		return 0, fmt.Errorf("invalid rate %q: unknown unit %q (want /s, /m or /h)", s, "/"+unit)
	}
	shift := 0 // the suffix as a power of ten
	switch {
	case strings.HasSuffix(num, "k"), strings.HasSuffix(num, "K"):
		shift, num = 3, num[:len(num)-1]
	case strings.HasSuffix(num, "M"):
		shift, num = 6, num[:len(num)-1]
	}
	if strings.HasPrefix(num, "-") {
		return 0, fmt.Errorf("invalid rate %q: must not be negative", s)
	}
	if !isDecimal(num) {
		return 0, fmt.Errorf("invalid rate %q (%s)", s, rateSyntax)
	}
	// Scaling the decimal before converting it makes "1.1k" exactly 1100
	// (1.1 × 1000 in floating point is not).
	v, err := scaleDecimal(num, shift)
	if err != nil {
		return 0, fmt.Errorf("invalid rate %q: number out of range", s)
	}
	r := v / per
	if math.IsInf(r, 0) {
		return 0, fmt.Errorf("invalid rate %q: number out of range", s)
	}
	return Rate(r), nil
}

// isDecimal reports whether s is an unsigned decimal number: digits with an
// optional fraction and an optional exponent ("2000", "1.5", ".5", "1e3").
// It rejects what strconv.ParseFloat would also accept but a rate should
// not: signs, "inf", "nan", hexadecimal and underscores.
func isDecimal(s string) bool {
	i, digits := 0, 0
	for i < len(s) && isDigit(s[i]) {
		i, digits = i+1, digits+1
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i, digits = i+1, digits+1
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && isDigit(s[i]) {
			i, exp = i+1, exp+1
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// String returns a short readable text form that parses back to exactly r:
// "2000/s", "10k/s", "12.5k/s", "1.5M/s", "0.5/s", "1/m", "100/h". Round
// rates from 10k/s up use a k or M suffix; slow rates that would need more
// than three decimals per second but are whole per minute or per hour use
// /m or /h; everything else is a plain number per second.
func (r Rate) String() string {
	v := float64(r)
	if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
		return formatNumber(v) + "/s"
	}
	forms := []struct {
		min, div float64 // applies from min; the number shown is v/div
		decimals int     // at most this many decimals in the number shown
		suffix   string
	}{
		{1e6, 1e6, 1, "M/s"},
		{1e4, 1e3, 1, "k/s"},
		{0, 1, 3, "/s"},
		{0, 1.0 / 60, 0, "/m"},
		{0, 1.0 / 3600, 0, "/h"},
	}
	for _, f := range forms {
		if v < f.min {
			continue
		}
		if s, ok := shortExact(v, f.div, f.decimals, f.suffix); ok {
			return s + f.suffix
		}
	}
	return formatNumber(v) + "/s"
}

// shortExact formats v/div if that needs at most the given number of
// decimals and parses back with the suffix to exactly v.
func shortExact(v, div float64, decimals int, suffix string) (string, bool) {
	s := formatNumber(v / div)
	if dot := strings.IndexByte(s, '.'); dot >= 0 && len(s)-dot-1 > decimals {
		return "", false
	}
	back, err := ParseRate(s + suffix)
	return s, err == nil && float64(back) == v
}

// formatNumber formats v as a plain decimal (no exponent) that
// strconv.ParseFloat reads back exactly.
func formatNumber(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// MarshalText implements encoding.TextMarshaler with the form of String.
func (r Rate) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseRate.
func (r *Rate) UnmarshalText(b []byte) error {
	v, err := ParseRate(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// UnmarshalYAML implements goccy/go-yaml's NodeUnmarshaler, so that a bad
// rate is reported with its line and column. A YAML number is read as
// requests per second.
func (r *Rate) UnmarshalYAML(n ast.Node) error {
	text, err := yamlScalar(n, "rate", "a number like 2000 or a string like 10k/s")
	if err != nil {
		return err
	}
	v, perr := ParseRate(text)
	if perr != nil {
		return positioned(n, perr.Error())
	}
	*r = v
	return nil
}

// yamlScalar returns the text of a scalar node for the NodeUnmarshalers of
// this package, or a positioned error naming what was expected.
func yamlScalar(n ast.Node, field, want string) (string, error) {
	n = unwrapNode(n)
	text, ok := scalarText(n)
	if !ok {
		return "", positioned(n, fmt.Sprintf("%s must be %s (got %s)", field, want, nodeKind(n)))
	}
	return text, nil
}

// positioned returns an error carrying the position of n, in the form
// goccy/go-yaml uses for its own errors, so yaml.FormatError prints it with
// the source line and Parse can read the position back.
func positioned(n ast.Node, msg string) error {
	if n == nil || n.GetToken() == nil {
		return errors.New(msg)
	}
	return &yaml.SyntaxError{Message: msg, Token: n.GetToken()}
}
