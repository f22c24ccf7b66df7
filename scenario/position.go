package scenario

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// source is what a Scenario from Parse remembers of its file: the name and
// where each value was written.
type source struct {
	file string
	locs map[string]location
}

// Position returns where the value at path was written in the scenario
// file, as a 1-based line and column: "name", "load.spikes[0].at",
// "stages[1].load", "safety.max_rate", "requests[0].path",
// `requests[0].headers["X-Id"]`, "thresholds[2].expr". A value written as
// null is at its key. ok is false when the value was not written in the
// file (a default) and for a Scenario that did not come from Parse.
func (s *Scenario) Position(path string) (line, col int, ok bool) {
	if s.src == nil {
		return 0, 0, false
	}
	l, found := s.src.locs[path]
	if !found {
		return 0, 0, false
	}
	p := l.value
	if l.null || p.line == 0 {
		p = l.key
	}
	return p.line, p.col, p.line > 0
}

// Errorf returns a problem about the value at path, positioned like the
// problems of Parse: at the value if it was written, else at the nearest
// enclosing value that was (so a problem about a default points at the
// section it belongs to). It is for the checks that need more than the
// scenario package knows, such as the exact peak of a curve built by
// internal/schedule. The error matches ErrInvalid.
func (s *Scenario) Errorf(path, format string, args ...any) *Error {
	e := &Error{Path: path, Message: oneLine(fmt.Sprintf(format, args...))}
	if s.src != nil {
		d := decoder{locs: s.src.locs}
		pos := d.locate(problem{path: path})
		e.File, e.Line, e.Column = s.src.file, pos.line, pos.col
	}
	return e
}

// stringPos returns the position in src of the character at byte offset
// off of the string value of node n, when that can be told for sure: a
// plain scalar or a single- or double-quoted string on one line, or a
// line of a literal block (|). Otherwise ok is false and the caller points
// at the value as a whole.
//
// The mapping walks the source text and checks that it decodes to the
// value, so an unusual layout gives no position rather than a wrong one.
func stringPos(src []byte, n ast.Node, value string, off int) (position, bool) {
	if n == nil || off < 0 || off > len(value) {
		return position{}, false
	}
	tk := n.GetToken()
	if tk == nil {
		return position{}, false
	}
	if lit, ok := n.(*ast.LiteralNode); ok {
		if !strings.HasPrefix(tk.Value, "|") {
			return position{}, false // folded (>): lines are joined
		}
		return literalPos(src, tk.Position.Line, lit, value, off)
	}
	start := byteOffset(src, tk.Position.Line, tk.Position.Column)
	if start < 0 {
		return position{}, false
	}
	var i int // offset in src of the character at off
	switch tk.Type {
	case token.StringType:
		if !bytes.HasPrefix(src[start:], []byte(value)) {
			return position{}, false // a plain scalar folded over lines
		}
		i = start + off
	case token.SingleQuoteType:
		var ok bool
		if i, ok = walkQuoted(src, start, value, off, decodeSingle); !ok {
			return position{}, false
		}
	case token.DoubleQuoteType:
		var ok bool
		if i, ok = walkQuoted(src, start, value, off, decodeDouble); !ok {
			return position{}, false
		}
	default:
		return position{}, false
	}
	return position{tk.Position.Line, tk.Position.Column + utf8.RuneCount(src[start:i])}, true
}

// walkQuoted walks a quoted string that starts with its quote at src[start]
// and returns the offset in src of the character at byte off of value. The
// string must decode to value up to off, on one line.
func walkQuoted(src []byte, start int, value string, off int, decode func([]byte) ([]byte, int, bool)) (int, bool) {
	i, j := start+1, 0
	for j < off {
		if i >= len(src) || src[i] == '\n' || src[i] == '\r' {
			return 0, false
		}
		out, n, ok := decode(src[i:])
		if !ok || j+len(out) > len(value) || value[j:j+len(out)] != string(out) {
			return 0, false
		}
		i, j = i+n, j+len(out)
	}
	return i, j == off
}

// decodeSingle decodes one character of a single-quoted string: two
// quotes in a row stand for one; a lone quote ends the string.
func decodeSingle(b []byte) ([]byte, int, bool) {
	if b[0] == '\'' {
		if len(b) > 1 && b[1] == '\'' {
			return b[:1], 2, true
		}
		return nil, 0, false
	}
	_, size := utf8.DecodeRune(b)
	return b[:size], size, true
}

// doubleEscapes are the one-character escapes of YAML double-quoted
// strings.
var doubleEscapes = map[byte]string{
	'0': "\x00", 'a': "\a", 'b': "\b", 't': "\t", '\t': "\t", 'n': "\n", 'v': "\v", 'f': "\f",
	'r': "\r", 'e': "\x1b", ' ': " ", '"': "\"", '/': "/", '\\': "\\",
	'N': "\u0085", '_': "\u00a0", 'L': "\u2028", 'P': "\u2029",
}

// decodeDouble decodes one character or escape of a double-quoted string.
func decodeDouble(b []byte) ([]byte, int, bool) {
	switch b[0] {
	case '"':
		return nil, 0, false
	case '\\':
		if len(b) < 2 {
			return nil, 0, false
		}
		if s, ok := doubleEscapes[b[1]]; ok {
			return []byte(s), 2, true
		}
		digits := map[byte]int{'x': 2, 'u': 4, 'U': 8}[b[1]]
		if digits == 0 || len(b) < 2+digits {
			return nil, 0, false
		}
		r, err := strconv.ParseUint(string(b[2:2+digits]), 16, 32)
		if err != nil {
			return nil, 0, false
		}
		return utf8.AppendRune(nil, rune(r)), 2 + digits, true
	}
	_, size := utf8.DecodeRune(b)
	return b[:size], size, true
}

// literalPos maps an offset in the value of a literal block whose "|" is on
// line header: line k of the value is line header+1+k of the file, after
// the indentation.
func literalPos(src []byte, header int, lit *ast.LiteralNode, value string, off int) (position, bool) {
	if lit.Value == nil || lit.Value.Value != value {
		return position{}, false
	}
	k := strings.Count(value[:off], "\n")
	lineStart := strings.LastIndexByte(value[:off], '\n') + 1
	lineText, _, _ := strings.Cut(value[lineStart:], "\n")
	at := byteOffset(src, header+1+k, 1)
	if at < 0 {
		return position{}, false
	}
	srcLine, _, _ := bytes.Cut(src[at:], []byte("\n"))
	srcLine = bytes.TrimSuffix(srcLine, []byte("\r"))
	indent := len(srcLine) - len(lineText)
	if indent < 0 || string(srcLine[indent:]) != lineText || strings.Trim(string(srcLine[:indent]), " ") != "" {
		return position{}, false
	}
	return position{header + 1 + k, 1 + indent + utf8.RuneCountInString(value[lineStart:off])}, true
}

// byteOffset converts a 1-based line and column (in characters) to a byte
// offset in src, or -1.
func byteOffset(src []byte, line, col int) int {
	if line < 1 || col < 1 {
		return -1
	}
	i := 0
	for l := 1; l < line; l++ {
		j := bytes.IndexByte(src[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
	}
	for c := 1; c < col; c++ {
		if i >= len(src) || src[i] == '\n' {
			return -1
		}
		_, size := utf8.DecodeRune(src[i:])
		i += size
	}
	return i
}
