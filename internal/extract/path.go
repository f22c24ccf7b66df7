package extract

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxIndex bounds an array index of a path: larger ones are typos (no body
// within a client's read limit has a billion items).
const maxIndex = 1 << 30

// step is one step of a JSON path: a member name, or an array index when
// name is not set.
type step struct {
	name  string
	index int
	isKey bool
}

// PathError is a syntax error in a JSON path, at byte Offset of it. It
// wraps ErrSpec.
type PathError struct {
	Path   string
	Offset int
	Msg    string
}

func (e *PathError) Error() string {
	return fmt.Sprintf("json path %q: %s (at offset %d)", e.Path, e.Msg, e.Offset)
}

// Unwrap makes a PathError match ErrSpec.
func (e *PathError) Unwrap() error { return ErrSpec }

// parsePath parses the JSON path grammar of Spec.JSON:
//
//	PATH = "$" { "." NAME | "[" QUOTED "]" | "[" INDEX "]" }
//
// NAME is one or more letters, digits, "_" or "-"; QUOTED is a name in
// single or double quotes, with \\ and an escaped quote as escapes; INDEX
// is a non-negative decimal integer. Nothing else (no wildcards, slices,
// filters or "..") is accepted.
func parsePath(p string) ([]step, error) {
	fail := func(off int, format string, args ...any) ([]step, error) {
		return nil, &PathError{Path: p, Offset: off, Msg: fmt.Sprintf(format, args...)}
	}
	if p == "" {
		return fail(0, "empty path (want e.g. $.token)")
	}
	if p[0] != '$' {
		return fail(0, "path must start with $ (want e.g. $.token)")
	}
	var steps []step
	for i := 1; i < len(p); {
		switch p[i] {
		case '.':
			start := i + 1
			j := start
			for j < len(p) {
				r, size := utf8.DecodeRuneInString(p[j:])
				if !nameRune(r) || (r == utf8.RuneError && size == 1) {
					break
				}
				j += size
			}
			if j == start {
				if start < len(p) && p[start] == '.' {
					return fail(i, "recursive descent (..) is not supported")
				}
				if start < len(p) && p[start] == '*' {
					return fail(start, "wildcards are not supported")
				}
				return fail(start, "expected a name after . (letters, digits, _ or -; use ['…'] for other names)")
			}
			steps = append(steps, step{name: p[start:j], isKey: true})
			i = j
		case '[':
			if i+1 >= len(p) {
				return fail(i, "unterminated [")
			}
			switch c := p[i+1]; {
			case c == '\'' || c == '"':
				name, n, ok := unquote(p[i+1:], c)
				if !ok {
					return fail(i+1, "unterminated quoted name")
				}
				end := i + 1 + n
				if end >= len(p) || p[end] != ']' {
					return fail(end, "expected ] after the quoted name")
				}
				steps = append(steps, step{name: name, isKey: true})
				i = end + 1
			case c >= '0' && c <= '9':
				j := i + 1
				for j < len(p) && p[j] >= '0' && p[j] <= '9' {
					j++
				}
				digits := p[i+1 : j]
				if len(digits) > 1 && digits[0] == '0' {
					return fail(i+1, "index %s has a leading zero", digits)
				}
				n, err := strconv.Atoi(digits)
				if err != nil || n > maxIndex {
					return fail(i+1, "index %s is too large (at most %d)", digits, maxIndex)
				}
				if j >= len(p) || p[j] != ']' {
					return fail(j, "expected ] after the index")
				}
				steps = append(steps, step{index: n})
				i = j + 1
			case c == '-':
				return fail(i+1, "index must be non-negative")
			case c == '*':
				return fail(i+1, "wildcards are not supported")
			default:
				return fail(i+1, "expected an index or a quoted name after [ (want e.g. [0] or ['name'])")
			}
		default:
			return fail(i, "expected . or [ (got %q)", nextRune(p[i:]))
		}
	}
	return steps, nil
}

func nameRune(r rune) bool {
	return r == '_' || r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

func nextRune(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && size == 1 {
		return s[:1]
	}
	return string(r)
}

// unquote reads a name quoted with q at the start of s (s[0] == q), with
// \q and \\ escapes, and returns it and the bytes it took.
func unquote(s string, q byte) (string, int, bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case q:
			return b.String(), i + 1, true
		case '\\':
			if i+1 < len(s) && (s[i+1] == q || s[i+1] == '\\') {
				i++
			}
		}
		b.WriteByte(s[i])
	}
	return "", 0, false
}

// formatPath writes steps back as a path, for messages: $.a[0]['b c'].
func formatPath(steps []step) string {
	var b strings.Builder
	b.WriteByte('$')
	for _, s := range steps {
		switch {
		case !s.isKey:
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
		case s.name != "" && strings.IndexFunc(s.name, func(r rune) bool { return !nameRune(r) }) < 0:
			b.WriteString("." + s.name)
		default:
			b.WriteString("['" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s.name) + "']")
		}
	}
	return b.String()
}
