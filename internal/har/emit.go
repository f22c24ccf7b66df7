package har

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/surgeload/surge/scenario"
)

// emit writes the scenario. Every string goes through yamlString, so no
// recorded text can change the document's structure.
func emit(name, rate, dur string, opts Options, sum *Summary, steps []*step) []byte {
	var b strings.Builder
	src := opts.Source
	if src == "" {
		src = "a HAR file"
	}
	comment(&b, fmt.Sprintf("Imported by `coordinator import har` from %s.", src))
	for _, l := range sum.Lines() {
		comment(&b, l)
	}
	comment(&b, "Review it before a run: the load is journeys per second (flags --rate and --duration of the import).")
	fmt.Fprintf(&b, "name: %s\n", yamlString(name))
	b.WriteString("seed: 1\n")
	b.WriteString("stages:\n")
	fmt.Fprintf(&b, "  - name: %s\n", JourneyName)
	fmt.Fprintf(&b, "    url: %s\n", yamlString(sum.Origin))
	fmt.Fprintf(&b, "load:\n  constant: {rate: %s, duration: %s}\n", yamlString(rate), yamlString(dur))
	b.WriteString("journeys:\n")
	fmt.Fprintf(&b, "  - name: %s\n", JourneyName)
	b.WriteString("    steps:\n")
	for _, s := range steps {
		if s.think > 0 {
			fmt.Fprintf(&b, "      - think: %s\n", thinkString(s.think))
			continue
		}
		fmt.Fprintf(&b, "      - name: %s\n", yamlString(s.name))
		fmt.Fprintf(&b, "        method: %s\n", yamlString(s.method))
		if s.absolute {
			fmt.Fprintf(&b, "        url: %s\n", yamlString(s.target.template()))
		} else {
			fmt.Fprintf(&b, "        path: %s\n", yamlString(s.target.template()))
		}
		if len(s.headers) > 0 {
			b.WriteString("        headers:\n")
			for _, h := range s.headers {
				fmt.Fprintf(&b, "          %s: %s\n", yamlString(h.name), yamlString(h.val.template()))
			}
		}
		if s.body.raw != "" {
			fmt.Fprintf(&b, "        body: %s\n", yamlString(s.body.template()))
		}
		if s.expect != 0 {
			fmt.Fprintf(&b, "        expect: [%d]\n", s.expect)
		}
		if len(s.extract) > 0 {
			b.WriteString("        extract:\n")
			for _, x := range s.extract {
				if x.hdr != "" {
					fmt.Fprintf(&b, "          %s: {header: %s}\n", x.name, yamlString(x.hdr))
				} else {
					fmt.Fprintf(&b, "          %s: {json: %s}\n", x.name, yamlString(x.json))
				}
			}
		}
	}
	return []byte(b.String())
}

// thinkString writes a think time (whole milliseconds) as a duration:
// 1.234s, 250ms, 1m5.5s.
func thinkString(d time.Duration) string { return scenario.Duration(d).String() }

// comment writes one comment line; control characters become spaces.
func comment(b *strings.Builder, s string) {
	b.WriteString("# ")
	b.WriteString(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == '\ufeff' {
			return ' '
		}
		return r
	}, s))
	b.WriteByte('\n')
}

var plainSafe = regexp.MustCompile(`^[A-Za-z0-9_/][A-Za-z0-9_./-]*$`)

// yamlString writes s as a YAML scalar that reads back as the string s:
// plain when that is unambiguous (/login, X-Token, 1/s), single-quoted
// when every character is printable, else double-quoted with escapes.
func yamlString(s string) string {
	if plainSafe.MatchString(s) && !yamlSpecial(s) {
		return s
	}
	printable := true
	for _, r := range s {
		if !strconv.IsPrint(r) || r == '\ufeff' {
			printable = false
			break
		}
	}
	// Leading or trailing spaces survive single quotes, but a string of
	// only spaces reads better escaped.
	if printable && strings.TrimSpace(s) != "" {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return strconv.Quote(s) // Go's escapes are a subset of YAML's
}

// yamlSpecial reports whether a plain scalar s would read as something
// other than a string: a number, a boolean, null, a date.
func yamlSpecial(s string) bool {
	l := strings.ToLower(s)
	switch l {
	case "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~":
		return true
	}
	if _, err := strconv.ParseFloat(strings.ReplaceAll(l, "_", ""), 64); err == nil {
		return true
	}
	if strings.HasPrefix(l, "0x") || strings.HasPrefix(l, "0o") || strings.HasPrefix(l, "0b") {
		return true
	}
	return len(s) >= 8 && s[0] >= '0' && s[0] <= '9' && strings.Count(s, "-") >= 2 // 2024-05-01
}
