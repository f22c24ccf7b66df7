package scenario

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// This file holds the unit types of the load curve, the capacity inputs and
// the thresholds besides Rate and Duration: Multiplier ("5x"), Percent
// ("90%"), Count ("100M"), SpikeAt ("40%" or "3m") and Compress ("24h in
// 10m"). Each parses the way people write it, formats back to a text that
// parses to exactly the same value, and implements UnmarshalYAML so a bad
// value is reported at its line and column.

// Multiplier is a factor such as a peak-to-average ratio or the height of a
// spike. Its text form is a decimal number with an optional "x", "X" or
// "×" after it: "5x", "5×", "1.5x", "5". It is > 0.
type Multiplier float64

const multiplierSyntax = "want e.g. 5x, 1.5x or 5"

// ParseMultiplier parses the text form of a [Multiplier]. Surrounding
// spaces are ignored.
func ParseMultiplier(s string) (Multiplier, error) {
	t := strings.TrimSpace(s)
	for _, suffix := range []string{"x", "X", "×"} {
		if strings.HasSuffix(t, suffix) {
			t = strings.TrimSpace(t[:len(t)-len(suffix)])
			break
		}
	}
	v, err := parseUnsigned(t, 0)
	if err != nil {
		return 0, fmt.Errorf("invalid multiplier %q: %w (%s)", s, err, multiplierSyntax)
	}
	if v == 0 {
		return 0, fmt.Errorf("invalid multiplier %q: must be > 0", s)
	}
	return Multiplier(v), nil
}

// String returns the factor followed by "x": "5x", "1.5x".
func (m Multiplier) String() string { return formatNumber(float64(m)) + "x" }

// MarshalText implements encoding.TextMarshaler with the form of String.
func (m Multiplier) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseMultiplier.
func (m *Multiplier) UnmarshalText(b []byte) error {
	v, err := ParseMultiplier(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// UnmarshalYAML implements goccy/go-yaml's NodeUnmarshaler, so that a bad
// multiplier is reported with its line and column.
func (m *Multiplier) UnmarshalYAML(n ast.Node) error {
	return unmarshalYAMLText(n, "multiplier", "a number like 5 or a string like 5x", m.UnmarshalText)
}

// Percent is a fraction written as a percentage: "90%", "0.5%", "100%". It
// is stored as the fraction, 0 to 1 ("90%" is 0.9). The "%" is required,
// so that 0.9 is never silently read as 0.9% or as 90%.
type Percent float64

const percentSyntax = "want e.g. 90% or 0.5%"

// ParsePercent parses the text form of a [Percent]. Surrounding spaces are
// ignored.
func ParsePercent(s string) (Percent, error) {
	t := strings.TrimSpace(s)
	num, ok := strings.CutSuffix(t, "%")
	if !ok {
		if _, err := parseUnsigned(t, 0); err == nil {
			return 0, fmt.Errorf("invalid percentage %q: missing %% (%s)", s, percentSyntax)
		}
		return 0, fmt.Errorf("invalid percentage %q (%s)", s, percentSyntax)
	}
	v, err := parseUnsigned(strings.TrimSpace(num), -2)
	if err != nil {
		return 0, fmt.Errorf("invalid percentage %q: %w (%s)", s, err, percentSyntax)
	}
	if v > 1 {
		return 0, fmt.Errorf("invalid percentage %q: must be at most 100%%", s)
	}
	return Percent(v), nil
}

// String returns the percentage: "90%", "0.5%".
func (p Percent) String() string {
	v := float64(p)
	if s := formatNumber(v*100) + "%"; parsesTo(s, v, func(s string) (float64, error) {
		x, err := ParsePercent(s)
		return float64(x), err
	}) {
		return s
	}
	return shiftedString(v, 2) + "%"
}

// MarshalText implements encoding.TextMarshaler with the form of String.
func (p Percent) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParsePercent.
func (p *Percent) UnmarshalText(b []byte) error {
	v, err := ParsePercent(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// UnmarshalYAML implements goccy/go-yaml's NodeUnmarshaler, so that a bad
// percentage is reported with its line and column.
func (p *Percent) UnmarshalYAML(n ast.Node) error {
	return unmarshalYAMLText(n, "percentage", "a string like 90%", p.UnmarshalText)
}

// Count is a number of things, such as requests per day, written with an
// optional magnitude suffix: k or K (thousand), M (million), G (billion)
// or T (trillion). "100M", "1.5k", "2G", "1e6" and "250" are counts. It
// is >= 0 and need not be whole ("0.5k" is 500, "2.5" is 2.5).
type Count float64

const countSyntax = "want e.g. 250, 1.5k, 100M or 2G"

// countSuffixes are the magnitude suffixes of Count as powers of ten,
// largest first (the order String tries them in).
var countSuffixes = []struct {
	suffix string
	shift  int
}{{"T", 12}, {"G", 9}, {"M", 6}, {"k", 3}, {"K", 3}}

// ParseCount parses the text form of a [Count]. Surrounding spaces are
// ignored.
func ParseCount(s string) (Count, error) {
	t := strings.TrimSpace(s)
	shift := 0
	for _, sf := range countSuffixes {
		if num, ok := strings.CutSuffix(t, sf.suffix); ok {
			t, shift = num, sf.shift
			break
		}
	}
	v, err := parseUnsigned(t, shift)
	if err != nil {
		return 0, fmt.Errorf("invalid count %q: %w (%s)", s, err, countSyntax)
	}
	return Count(v), nil
}

// String returns the shortest of the plain number and the forms with a
// suffix ("100M", "1.5k") that parses back to exactly c, preferring a
// suffix on a tie.
func (c Count) String() string {
	v := float64(c)
	back := func(s string) (float64, error) {
		x, err := ParseCount(s)
		return float64(x), err
	}
	best := formatNumber(v)
	if !parsesTo(best, v, back) {
		best = shiftedString(v, 0)
	}
	for _, sf := range countSuffixes {
		if sf.suffix == "K" || v < math.Pow10(sf.shift) {
			continue
		}
		s := formatNumber(v/math.Pow10(sf.shift)) + sf.suffix
		if len(s) <= len(best) && parsesTo(s, v, back) {
			best = s
		}
	}
	return best
}

// MarshalText implements encoding.TextMarshaler with the form of String.
func (c Count) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseCount.
func (c *Count) UnmarshalText(b []byte) error {
	v, err := ParseCount(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// UnmarshalYAML implements goccy/go-yaml's NodeUnmarshaler, so that a bad
// count is reported with its line and column.
func (c *Count) UnmarshalYAML(n ast.Node) error {
	return unmarshalYAMLText(n, "count", "a number like 250 or a string like 100M", c.UnmarshalText)
}

// SpikeAt is where a spike starts: an offset from the start of the played
// curve ("3m", "90s") or a fraction of its played duration ("40%"). At
// most one of the fields is non-zero; both zero means the very start.
type SpikeAt struct {
	// Offset is the time from the start of the played curve.
	Offset Duration
	// Fraction is the share of the played duration, 0 to 1, used when
	// Offset is zero.
	Fraction float64
}

// ParseSpikeAt parses the text form of a [SpikeAt]: a percentage or a
// duration.
func ParseSpikeAt(s string) (SpikeAt, error) {
	t := strings.TrimSpace(s)
	if strings.HasSuffix(t, "%") {
		p, err := ParsePercent(t)
		if err != nil {
			return SpikeAt{}, err
		}
		return SpikeAt{Fraction: float64(p)}, nil
	}
	d, err := ParseDuration(t)
	if err != nil {
		return SpikeAt{}, fmt.Errorf("invalid spike start %q (want a duration like 3m or a percentage like 40%%)", s)
	}
	return SpikeAt{Offset: d}, nil
}

// String returns the percentage ("40%") when Fraction is set, else the
// offset ("3m").
func (a SpikeAt) String() string {
	if a.Offset == 0 && a.Fraction != 0 {
		return Percent(a.Fraction).String()
	}
	return a.Offset.String()
}

// MarshalText implements encoding.TextMarshaler with the form of String.
func (a SpikeAt) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseSpikeAt.
func (a *SpikeAt) UnmarshalText(b []byte) error {
	v, err := ParseSpikeAt(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// UnmarshalYAML implements goccy/go-yaml's NodeUnmarshaler, so that a bad
// spike start is reported with its line and column.
func (a *SpikeAt) UnmarshalYAML(n ast.Node) error {
	return unmarshalYAMLText(n, "at", "a string like 40% or 3m", a.UnmarshalText)
}

// Compress plays a curve faster than written: "24h in 10m" plays 24 hours
// of the curve in 10 minutes. Rates are unchanged — the target sees the
// real peak rate — while played time t stands for curve time t·Factor(), so
// the played duration and the number of requests both shrink by Factor().
type Compress struct {
	// From is the length of curve time ("24h" in "24h in 10m").
	From Duration
	// To is the length of played time it is squeezed into ("10m").
	To Duration
}

// ParseCompress parses "FROM in TO", both durations ("24h in 10m").
func ParseCompress(s string) (Compress, error) {
	from, to, ok := strings.Cut(strings.TrimSpace(s), " in ")
	if !ok {
		return Compress{}, fmt.Errorf("invalid compress %q (want FROM in TO, e.g. 24h in 10m)", s)
	}
	f, err := ParseDuration(from)
	if err != nil {
		return Compress{}, fmt.Errorf("invalid compress %q: %w", s, err)
	}
	t, err := ParseDuration(to)
	if err != nil {
		return Compress{}, fmt.Errorf("invalid compress %q: %w", s, err)
	}
	return Compress{From: f, To: t}, nil
}

// Factor is From ÷ To, the speed-up (144 for "24h in 10m"). It is 1 for
// the zero Compress, and +Inf when only To is zero (rejected by Parse).
func (c Compress) Factor() float64 {
	if c.From == 0 && c.To == 0 {
		return 1
	}
	return float64(c.From) / float64(c.To)
}

// String returns "FROM in TO".
func (c Compress) String() string { return c.From.String() + " in " + c.To.String() }

// MarshalText implements encoding.TextMarshaler with the form of String.
func (c Compress) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseCompress.
func (c *Compress) UnmarshalText(b []byte) error {
	v, err := ParseCompress(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// UnmarshalYAML implements goccy/go-yaml's NodeUnmarshaler, so that a bad
// compress is reported with its line and column.
func (c *Compress) UnmarshalYAML(n ast.Node) error {
	return unmarshalYAMLText(n, "compress", "a string like 24h in 10m", c.UnmarshalText)
}

// parseUnsigned parses an unsigned decimal number (see isDecimal) times
// 10^shift, and says briefly what is wrong otherwise. The shift is applied
// to the decimal before it is converted, so the result is the float
// nearest to the exact value: "99.9" shifted by -2 is exactly the float
// 0.999, which 99.9/100 is not.
func parseUnsigned(s string, shift int) (float64, error) {
	if strings.HasPrefix(s, "-") {
		return 0, errors.New("must not be negative")
	}
	if !isDecimal(s) {
		return 0, errors.New("not a number")
	}
	v, err := scaleDecimal(s, shift)
	if err != nil {
		return 0, errors.New("number out of range")
	}
	return v, nil
}

// scaleDecimal converts the decimal s (as isDecimal accepts) times
// 10^shift by moving its exponent. It fails when the result is out of
// the range of float64.
func scaleDecimal(s string, shift int) (float64, error) {
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || e > 1e6 || e < -1e6 {
			// Far beyond float64 either way: let ParseFloat say which.
			return strconv.ParseFloat(s, 64)
		}
		mant, exp = s[:i], e
	}
	v, err := strconv.ParseFloat(mant+"e"+strconv.Itoa(exp+shift), 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, errors.New("number out of range")
	}
	return v, nil
}

// shiftedString formats v as a decimal in exponent form scaled by
// 10^shift, which scaleDecimal with -shift reads back to exactly v.
func shiftedString(v float64, shift int) string {
	s := strconv.FormatFloat(v, 'e', -1, 64)
	mant, exp, _ := strings.Cut(s, "e")
	e, _ := strconv.Atoi(exp)
	return mant + "e" + strconv.Itoa(e+shift)
}

// parsesTo reports whether the text s parses back to exactly v.
func parsesTo(s string, v float64, parse func(string) (float64, error)) bool {
	x, err := parse(s)
	return err == nil && x == v
}

// unmarshalYAMLText reads a scalar node with a text parser and turns its
// error into a positioned one.
func unmarshalYAMLText(n ast.Node, field, want string, parse func([]byte) error) error {
	text, err := yamlScalar(n, field, want)
	if err != nil {
		return err
	}
	if err := parse([]byte(text)); err != nil {
		return positioned(n, err.Error())
	}
	return nil
}

// Size is a number of bytes, such as the most of a response body that is
// read. Its text form is a whole number of bytes with an optional unit:
// B, decimal kB/KB, MB, GB, TB (powers of 1000) or binary KiB, MiB, GiB,
// TiB (powers of 1024), written with or without a space and in any case:
// "1MiB", "512 KiB", "1.5MB", "4096". A unit without its B ("1M") is
// rejected, since it could mean either 1MB or 1MiB. The value must come
// out as a whole number of bytes; it is >= 0 and below 2⁵³.
type Size int64

const sizeSyntax = "want e.g. 4096, 64KiB, 1MiB or 1MB"

// sizeUnits are the units of Size, binary first (the order String tries
// them in), each largest first. A binary unit multiplies by mult; a
// decimal one shifts the decimal point by shift, so that "1.234567MB" is
// exactly 1234567 bytes.
var sizeUnits = []struct {
	name  string
	mult  float64
	shift int
}{
	{"TiB", 1 << 40, 0}, {"GiB", 1 << 30, 0}, {"MiB", 1 << 20, 0}, {"KiB", 1 << 10, 0},
	{"TB", 1, 12}, {"GB", 1, 9}, {"MB", 1, 6}, {"kB", 1, 3}, {"B", 1, 0},
}

// maxSize bounds Size: every whole number below it is exact in a float64.
const maxSize = 1 << 53

// ParseSize parses the text form of a [Size]. Surrounding spaces are
// ignored.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	num := strings.TrimRight(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
	unit := t[len(num):]
	num = strings.TrimSpace(num)
	mult, shift := 1.0, 0
	if unit != "" {
		found := false
		for _, u := range sizeUnits {
			if strings.EqualFold(unit, u.name) {
				mult, shift, found = u.mult, u.shift, true
				break
			}
		}
		if !found {
			if l := strings.ToLower(unit); l == "k" || l == "m" || l == "g" || l == "t" {
				dec := strings.ToUpper(unit)
				if dec == "K" {
					dec = "k"
				}
				return 0, fmt.Errorf("invalid size %q: write %s%sB (powers of 1000) or %s%siB (powers of 1024)", s, num, dec, num, strings.ToUpper(unit))
			}
			return 0, fmt.Errorf("invalid size %q: unknown unit %q (%s)", s, unit, sizeSyntax)
		}
	}
	v, err := parseUnsigned(num, shift)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: %w (%s)", s, err, sizeSyntax)
	}
	b := v * mult // exact: mult is a power of two
	switch {
	case b >= maxSize:
		return 0, fmt.Errorf("invalid size %q: too large", s)
	case b != math.Trunc(b):
		return 0, fmt.Errorf("invalid size %q: not a whole number of bytes", s)
	}
	return Size(b), nil
}

// String returns the shortest of the plain number of bytes and the forms
// with a unit ("1MiB", "1.5KiB", "10MB") that parses back to exactly z,
// preferring a binary unit, then a decimal one, on a tie.
func (z Size) String() string {
	v := float64(z)
	best := strconv.FormatInt(int64(z), 10)
	for _, u := range sizeUnits {
		if u.name == "B" || v < u.mult {
			continue
		}
		s := formatNumber(v/u.mult) + u.name
		if u.shift > 0 {
			if v < math.Pow10(u.shift) {
				continue
			}
			s = shiftedNumber(v, u.shift) + u.name
		}
		if len(s) < len(best) || (len(s) == len(best) && !strings.HasSuffix(best, "B")) {
			if back, err := ParseSize(s); err == nil && back == z {
				best = s
			}
		}
	}
	return best
}

// MarshalText implements encoding.TextMarshaler with the form of String.
func (z Size) MarshalText() ([]byte, error) { return []byte(z.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseSize.
func (z *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*z = v
	return nil
}

// UnmarshalYAML implements goccy/go-yaml's NodeUnmarshaler, so that a bad
// size is reported with its line and column. A YAML integer is a number
// of bytes.
func (z *Size) UnmarshalYAML(n ast.Node) error {
	return unmarshalYAMLText(n, "size", "a number of bytes like 4096 or a string like 1MiB", z.UnmarshalText)
}

// shiftedNumber formats the whole number v divided by 10^shift as a plain
// decimal, exactly: 1234567 shifted by 6 is "1.234567".
func shiftedNumber(v float64, shift int) string {
	digits := strconv.FormatInt(int64(v), 10)
	for len(digits) <= shift {
		digits = "0" + digits
	}
	whole, frac := digits[:len(digits)-shift], strings.TrimRight(digits[len(digits)-shift:], "0")
	if frac == "" {
		return whole
	}
	return whole + "." + frac
}
