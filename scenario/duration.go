package scenario

import (
	"fmt"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// Duration is a non-negative length of time, written in Go syntax: "250ms",
// "1.5s", "10m", "1h30m". A bare number is rejected, even where it would
// be unambiguous, so that "30" is never silently read as nanoseconds.
type Duration time.Duration

// ParseDuration parses the text form of a [Duration]. Surrounding spaces
// are ignored; negative durations are rejected.
func ParseDuration(s string) (Duration, error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		if t != "" && isDecimal(t) {
			return 0, fmt.Errorf("invalid duration %q: missing unit (want e.g. %ss or %sms)", s, t, t)
		}
		return 0, fmt.Errorf("invalid duration %q (want e.g. 250ms, 1.5s, 10m or 1h30m)", s)
	}
	return Duration(d), nil
}

// String formats d like time.Duration.String without the zero components
// that make "1h0m0s" hard to read: 250ms, 1.5s, 10m, 1h30m, 24h. The result
// parses back to exactly d.
func (d Duration) String() string {
	s := time.Duration(d).String()
	// "…m0s" → "…m", then "…h0m" → "…h". Only whole-minute (and whole-hour)
	// values end this way; sub-minute values ("10.5s") never do.
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// MarshalText implements encoding.TextMarshaler with the form of String,
// so JSON and YAML write a duration as a string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseDuration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// UnmarshalYAML implements goccy/go-yaml's NodeUnmarshaler, so that a bad
// duration is reported with its line and column.
func (d *Duration) UnmarshalYAML(n ast.Node) error {
	text, err := yamlScalar(n, "duration", "a string like 30s")
	if err != nil {
		return err
	}
	v, perr := ParseDuration(text)
	if perr != nil {
		return positioned(n, perr.Error())
	}
	*d = v
	return nil
}
