package template

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrSyntax is wrapped by every *Error that Parse returns.
var ErrSyntax = errors.New("template syntax error")

// ErrData is wrapped by the errors of LoadCSV, LoadJSONL and CheckData: a
// data file that cannot be used.
var ErrData = errors.New("template data error")

// Error is a problem at a position inside a template string. Offset is the
// byte offset into the string given to Parse (0 is its first byte), so that a
// caller that knows where the string was written (a YAML scalar) can turn it
// into a line and column. Msg is the message alone, lowercase, without the
// position.
type Error struct {
	Offset int
	Msg    string

	err error // the sentinel: ErrSyntax (when nil) or ErrData
}

func (e *Error) Error() string {
	return fmt.Sprintf("template: offset %d: %s", e.Offset, e.Msg)
}

// Unwrap returns ErrSyntax for parse errors and ErrData for the problems
// CheckData reports.
func (e *Error) Unwrap() error {
	if e.err == nil {
		return ErrSyntax
	}
	return e.err
}

func syntaxErr(off int, format string, args ...any) *Error {
	return &Error{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// opKind says what one step of a compiled template does.
type opKind uint8

const (
	opLit    opKind = iota // append lit
	opSeq                  // the arrival index
	opInt                  // uniform integer in [lo, lo+span−1]
	opZipf                 // Zipf rank
	opChoice               // one of choices
	opUUID                 // version-4 UUID
	opCSV                  // a cell of a CSV table
	opJSONL                // a field of a JSON-lines table
	opVar                  // a journey variable, supplied at render time
)

// op is one step of a compiled template.
type op struct {
	kind    opKind
	k       uint64 // the action position, part of the random key
	lit     string // opLit
	lo      int64  // opInt: A
	span    uint64 // opInt: B − A + 1, where 0 stands for the full 2⁶⁴ range
	zipf    *zipfSampler
	choices []string
	file    string // opCSV, opJSONL
	col     string // opCSV, opJSONL, opVar (the variable's name)
}

// Ref is a use of a data file by a {{csv FILE COLUMN}} or {{jsonl FILE FIELD}}
// action: what to load (Func says with which loader) and where it was
// written, for positioning a missing or malformed file.
type Ref struct {
	Func         string // "csv" or "jsonl"
	File         string // the FILE argument, as written (unquoted)
	Column       string // the COLUMN or FIELD argument
	Offset       int    // byte offset of the action's "{{"
	FileOffset   int    // byte offset of the FILE argument
	ColumnOffset int    // byte offset of the COLUMN argument
}

// VarRef is a use of a journey variable by a {{var NAME}} action, and where
// it was written.
type VarRef struct {
	Name       string // the NAME argument
	Offset     int    // byte offset of the action's "{{"
	NameOffset int    // byte offset of the NAME argument
}

// Vars supplies the values of journey variables at render time.
type Vars interface {
	// Var returns the value of variable name, and whether it is set.
	Var(name string) (string, bool)
}

// Template is a compiled template. It is immutable after Parse and safe for
// concurrent use by any number of goroutines.
type Template struct {
	src  string
	ops  []op
	refs []Ref
	vars []VarRef
}

// String returns the template source, as given to Parse.
func (t *Template) String() string { return t.src }

// Static reports whether the template has no dynamic actions, so that every
// render returns the same literal (escapes such as {{"{{"}} are literal).
func (t *Template) Static() bool {
	for j := range t.ops {
		if t.ops[j].kind != opLit {
			return false
		}
	}
	return true
}

// Files returns the data files the template references, each once, in order
// of first use.
func (t *Template) Files() []string {
	var files []string
	for _, r := range t.refs {
		dup := false
		for _, f := range files {
			if f == r.File {
				dup = true
				break
			}
		}
		if !dup {
			files = append(files, r.File)
		}
	}
	return files
}

// Refs returns every data-file action, in template order.
func (t *Template) Refs() []Ref {
	return append([]Ref(nil), t.refs...)
}

// VarRefs returns every {{var NAME}} action, in template order.
func (t *Template) VarRefs() []VarRef {
	return append([]VarRef(nil), t.vars...)
}

// MissingVar returns the first variable the template uses that v does not
// set, and false when every one is set (or the template uses none).
func (t *Template) MissingVar(v Vars) (string, bool) {
	for _, r := range t.vars {
		if v == nil {
			return r.Name, true
		}
		if _, ok := v.Var(r.Name); !ok {
			return r.Name, true
		}
	}
	return "", false
}

// Append renders the template for arrival index i under seed and appends the
// result to dst. Every drawn value is a pure function of (seed, i, k), where k
// is the 0-based position of the action among the template's actions (every
// {{…}} in order, literal-string actions included), so any split of the
// arrivals across agents renders identical values for the same i, and two
// actions of one template draw independently. Two templates rendered with the
// same seed draw the same values at the same positions; see DeriveSeed.
//
// Append does not allocate except to grow dst. It never fails: a data file or
// column that d does not have renders as the empty string, so call CheckData
// once before rendering. d may be nil when the template references no files.
func (t *Template) Append(dst []byte, seed, i uint64, d Data) []byte {
	return t.AppendVars(dst, seed, i, d, nil)
}

// AppendVars is Append with journey variables: a {{var NAME}} action
// renders v's value of NAME. A variable v does not set renders as the empty
// string, so callers check MissingVar first (a journey step whose variable
// was never extracted fails, it is not sent with an empty value).
func (t *Template) AppendVars(dst []byte, seed, i uint64, d Data, v Vars) []byte {
	for j := range t.ops {
		o := &t.ops[j]
		switch o.kind {
		case opLit:
			dst = append(dst, o.lit...)
		case opSeq:
			dst = strconv.AppendUint(dst, i, 10)
		case opInt:
			r := newStream(seed, i, o.k)
			var v uint64
			if o.span == 0 {
				v = r.next()
			} else {
				v = r.uintn(o.span)
			}
			// Two's complement: lo + v wraps exactly into [A, B].
			dst = strconv.AppendInt(dst, int64(uint64(o.lo)+v), 10)
		case opZipf:
			r := newStream(seed, i, o.k)
			dst = strconv.AppendUint(dst, o.zipf.draw(&r), 10)
		case opChoice:
			r := newStream(seed, i, o.k)
			dst = append(dst, o.choices[r.uintn(uint64(len(o.choices)))]...)
		case opUUID:
			r := newStream(seed, i, o.k)
			hi := r.next()
			dst = appendUUID(dst, hi, r.next())
		case opCSV, opJSONL:
			if d == nil {
				continue
			}
			rows := d.Rows(o.file)
			if rows <= 0 {
				continue
			}
			if v, ok := d.Value(o.file, int(i%uint64(rows)), o.col); ok {
				dst = append(dst, v...)
			}
		case opVar:
			if v != nil {
				if val, ok := v.Var(o.col); ok {
					dst = append(dst, val...)
				}
			}
		}
	}
	return dst
}

// Render returns the template rendered for arrival index i; see Append. A
// static template returns its literal without allocating.
func (t *Template) Render(seed, i uint64, d Data) string {
	return t.RenderVars(seed, i, d, nil)
}

// RenderVars is Render with journey variables; see AppendVars.
func (t *Template) RenderVars(seed, i uint64, d Data, v Vars) string {
	switch {
	case len(t.ops) == 0:
		return ""
	case len(t.ops) == 1 && t.ops[0].kind == opLit:
		return t.ops[0].lit
	}
	return string(t.AppendVars(nil, seed, i, d, v))
}

// appendUUID appends the 128 bits hi‖lo as a version-4 (random) UUID in the
// canonical lowercase 8-4-4-4-12 form. RFC 9562 §5.4: the version nibble
// (bits 48–51) is 0100 and the variant (bits 64–65) is 10; the remaining 122
// bits are the random ones.
func appendUUID(dst []byte, hi, lo uint64) []byte {
	const hexDigits = "0123456789abcdef"
	hi = hi&^(0xf<<12) | 0x4<<12 // version 4
	lo = lo&^(0x3<<62) | 0x2<<62 // variant 10
	var b [36]byte
	j := 0
	put := func(w uint64, from, to int) { // nibbles from..to−1 of w, most significant first
		for n := from; n < to; n++ {
			b[j] = hexDigits[(w>>(60-4*n))&0xf]
			j++
		}
	}
	put(hi, 0, 8)
	b[j] = '-'
	j++
	put(hi, 8, 12)
	b[j] = '-'
	j++
	put(hi, 12, 16)
	b[j] = '-'
	j++
	put(lo, 0, 4)
	b[j] = '-'
	j++
	put(lo, 4, 16)
	return append(dst, b[:]...)
}

// token is one word of an action: a bare word or a quoted string.
type token struct {
	off    int    // byte offset of the token in the template
	text   string // the word, or the unquoted string
	quoted bool
}

// function describes one template function.
type function struct {
	usage   string // "zipf S N"
	minArgs int
	maxArgs int // −1: no maximum
	build   func(args []token, o *op) *Error
}

// functionNames lists the functions in the order the error message shows.
var functionNames = []string{"seq", "int", "zipf", "choice", "uuid", "csv", "jsonl", "var"}

// functions is the table of template functions, built in one place.
var functions = map[string]function{
	"seq":    {usage: "seq", build: func(_ []token, o *op) *Error { o.kind = opSeq; return nil }},
	"int":    {usage: "int A B", minArgs: 2, maxArgs: 2, build: buildInt},
	"zipf":   {usage: "zipf S N", minArgs: 2, maxArgs: 2, build: buildZipf},
	"choice": {usage: "choice A B …", minArgs: 1, maxArgs: -1, build: buildChoice},
	"uuid":   {usage: "uuid", build: func(_ []token, o *op) *Error { o.kind = opUUID; return nil }},
	"csv":    {usage: "csv FILE COLUMN", minArgs: 2, maxArgs: 2, build: buildData(opCSV, "csv", "COLUMN")},
	"jsonl":  {usage: "jsonl FILE FIELD", minArgs: 2, maxArgs: 2, build: buildData(opJSONL, "jsonl", "FIELD")},
	"var":    {usage: "var NAME", minArgs: 1, maxArgs: 1, build: buildVar},
}

// buildVar compiles {{var NAME}}: NAME is a variable a journey step
// extracted, a letter or underscore then letters, digits and underscores.
func buildVar(args []token, o *op) *Error {
	name := args[0].text
	if !ValidVarName(name) {
		return syntaxErr(args[0].off, "var: %q is not a variable name (a letter or _ then letters, digits, _)", name)
	}
	o.kind = opVar
	o.col = name
	return nil
}

// ValidVarName reports whether name can name a journey variable: a letter
// or underscore, then letters, digits and underscores, at most 64 bytes.
func ValidVarName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for j, c := range name {
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && j > 0:
		default:
			return false
		}
	}
	return true
}

func buildInt(args []token, o *op) *Error {
	a, err := integerArg("int", "A", args[0])
	if err != nil {
		return err
	}
	b, err := integerArg("int", "B", args[1])
	if err != nil {
		return err
	}
	if a > b {
		return syntaxErr(args[0].off, "int: A (%d) is greater than B (%d)", a, b)
	}
	o.kind = opInt
	o.lo = a
	o.span = uint64(b) - uint64(a) + 1 // wraps to 0 for the full int64 range
	return nil
}

func buildZipf(args []token, o *op) *Error {
	st := args[0]
	if st.quoted {
		return syntaxErr(st.off, "zipf: exponent S must be a number, not a quoted string")
	}
	s, perr := strconv.ParseFloat(st.text, 64)
	if perr != nil || math.IsNaN(s) || math.IsInf(s, 0) {
		return syntaxErr(st.off, "zipf: exponent S is not a number: %q", st.text)
	}
	if s <= 0 {
		return syntaxErr(st.off, "zipf: exponent S must be greater than 0, got %s", st.text)
	}
	if s > zipfMaxS {
		return syntaxErr(st.off, "zipf: exponent S must be at most %d, got %s", zipfMaxS, st.text)
	}
	n, err := integerArg("zipf", "N", args[1])
	if err != nil {
		return err
	}
	if n < 1 {
		return syntaxErr(args[1].off, "zipf: key space N must be at least 1, got %d", n)
	}
	if n > zipfMaxN {
		return syntaxErr(args[1].off, "zipf: key space N must be at most %d, got %d", int64(zipfMaxN), n)
	}
	z := newZipf(s, uint64(n))
	o.kind = opZipf
	o.zipf = &z
	return nil
}

func buildChoice(args []token, o *op) *Error {
	o.kind = opChoice
	o.choices = make([]string, len(args))
	for j, a := range args {
		o.choices[j] = a.text
	}
	return nil
}

func buildData(kind opKind, name, colName string) func([]token, *op) *Error {
	return func(args []token, o *op) *Error {
		if args[0].text == "" {
			return syntaxErr(args[0].off, "%s: FILE is empty", name)
		}
		if args[1].text == "" {
			return syntaxErr(args[1].off, "%s: %s is empty", name, colName)
		}
		o.kind = kind
		o.file = args[0].text
		o.col = args[1].text
		return nil
	}
}

// integerArg parses an integer argument: decimal digits with an optional sign
// ("-5", "1000000"), or a number in exponent form that is exactly an integer
// ("1e6", "2.5e3").
func integerArg(fn, name string, t token) (int64, *Error) {
	if t.quoted {
		return 0, syntaxErr(t.off, "%s: %s must be a number, not a quoted string", fn, name)
	}
	v, err := strconv.ParseInt(t.text, 10, 64)
	if err == nil {
		return v, nil
	}
	if errors.Is(err, strconv.ErrRange) {
		return 0, syntaxErr(t.off, "%s: %s is out of range: %s", fn, name, t.text)
	}
	f, ferr := strconv.ParseFloat(t.text, 64)
	if ferr != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, syntaxErr(t.off, "%s: %s is not an integer: %q", fn, name, t.text)
	}
	if f != math.Trunc(f) {
		return 0, syntaxErr(t.off, "%s: %s is not an integer: %s", fn, name, t.text)
	}
	// ±2⁶³ is the first float64 outside int64 on the positive side; −2⁶³ itself fits.
	if f >= 0x1p63 || f < -0x1p63 {
		return 0, syntaxErr(t.off, "%s: %s is out of range: %s", fn, name, t.text)
	}
	return int64(f), nil
}

// Parse compiles a template.
//
// A template is literal text with actions in double braces. An action is a
// function name followed by arguments separated by white space (spaces, tabs,
// newlines), with optional white space inside the braces:
//
//	{{seq}}               the arrival index i, in decimal
//	{{int A B}}           a uniform integer in [A, B] (int64; A ≤ B)
//	{{zipf S N}}          a Zipf-distributed rank in [1, N], exponent S > 0
//	{{choice a b "c d"}}  one of the arguments, uniformly
//	{{uuid}}              a random version-4 UUID
//	{{csv FILE COLUMN}}   COLUMN of row i mod rows of a CSV file
//	{{jsonl FILE FIELD}}  FIELD of row i mod rows of a JSON-lines file
//	{{var NAME}}          a journey variable an earlier step extracted
//	{{"text"}}            text itself: {{"{{"}} writes a literal "{{"
//
// An argument is a bare word (any characters but white space and quotes,
// ending at white space or "}}") or a quoted string: double-quoted with Go
// escapes (\" \\ \n \t \xHH \uHHHH) or back-quoted raw. Only "{{" opens an
// action; "}}" outside an action and single braces are literal text, so JSON
// bodies need no escaping except for a literal "{{". Numbers are bare: A, B
// and N are integers, written in decimal or in exponent form ("1e6"); S is a
// decimal number such as 0.99 or 1.1. Numbers are limited to N ≤ 2⁵³ and
// S ≤ 64.
//
// Parse returns an *Error (wrapping ErrSyntax) at the first problem: an
// unknown function, a wrong number or type of arguments, S ≤ 0, N < 1,
// A > B, an unterminated action or quoted string, or a nested "{{".
func Parse(s string) (*Template, error) {
	t := &Template{src: s}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.ops = append(t.ops, op{kind: opLit, lit: lit.String()})
			lit.Reset()
		}
	}
	kinds := map[string]string{} // data file → the function that first used it
	pos := 0
	for k := uint64(0); ; k++ {
		j := strings.Index(s[pos:], "{{")
		if j < 0 {
			lit.WriteString(s[pos:])
			break
		}
		lit.WriteString(s[pos : pos+j])
		start := pos + j
		toks, end, err := scanAction(s, start)
		if err != nil {
			return nil, err
		}
		pos = end
		if len(toks) == 0 {
			return nil, syntaxErr(start, "empty action")
		}
		head := toks[0]
		if head.quoted {
			if len(toks) > 1 {
				return nil, syntaxErr(toks[1].off, "unexpected argument after a quoted string: a literal action is {{\"text\"}}")
			}
			lit.WriteString(head.text)
			continue
		}
		fn, ok := functions[head.text]
		if !ok {
			return nil, syntaxErr(head.off, "unknown function %q (known: %s)", head.text, strings.Join(functionNames, ", "))
		}
		args := toks[1:]
		if len(args) < fn.minArgs {
			return nil, syntaxErr(head.off, "%s needs %s, got %d (usage: {{%s}})", head.text, countArgs(fn), len(args), fn.usage)
		}
		if fn.maxArgs >= 0 && len(args) > fn.maxArgs {
			return nil, syntaxErr(args[fn.maxArgs].off, "%s takes %s, got %d (usage: {{%s}})", head.text, countArgs(fn), len(args), fn.usage)
		}
		o := op{k: k}
		if err := fn.build(args, &o); err != nil {
			return nil, err
		}
		if o.kind == opCSV || o.kind == opJSONL {
			if prev, ok := kinds[o.file]; ok && prev != head.text {
				return nil, syntaxErr(args[0].off, "%s: file %q is already used with %s", head.text, o.file, prev)
			}
			kinds[o.file] = head.text
			t.refs = append(t.refs, Ref{
				Func: head.text, File: o.file, Column: o.col,
				Offset: start, FileOffset: args[0].off, ColumnOffset: args[1].off,
			})
		}
		if o.kind == opVar {
			t.vars = append(t.vars, VarRef{Name: o.col, Offset: start, NameOffset: args[0].off})
		}
		flush()
		t.ops = append(t.ops, o)
	}
	flush()
	return t, nil
}

// countArgs describes how many arguments fn takes: "no arguments",
// "2 arguments", "at least 1 argument".
func countArgs(fn function) string {
	n := fn.minArgs
	plural := "s"
	if n == 1 {
		plural = ""
	}
	switch {
	case fn.maxArgs < 0:
		return fmt.Sprintf("at least %d argument%s", n, plural)
	case n == 0:
		return "no arguments"
	default:
		return fmt.Sprintf("%d argument%s", n, plural)
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// scanAction splits the action that opens at s[start:] ("{{") into tokens and
// returns the offset just past its closing "}}".
func scanAction(s string, start int) ([]token, int, *Error) {
	var toks []token
	p := start + 2
	for {
		for p < len(s) && isSpace(s[p]) {
			p++
		}
		switch {
		case p >= len(s):
			return nil, 0, syntaxErr(start, `unterminated action: no closing "}}"`)
		case strings.HasPrefix(s[p:], "}}"):
			return toks, p + 2, nil
		case strings.HasPrefix(s[p:], "{{"):
			return nil, 0, syntaxErr(p, `unexpected "{{" inside an action: actions do not nest (is a "}}" missing?)`)
		case s[p] == '"' || s[p] == '`':
			q, err := strconv.QuotedPrefix(s[p:])
			if err != nil {
				if s[p] == '`' {
					return nil, 0, syntaxErr(p, "unterminated raw string")
				}
				return nil, 0, syntaxErr(p, "unterminated or invalid quoted string (quoted strings use Go escapes and end on the same line)")
			}
			text, err := strconv.Unquote(q)
			if err != nil { // QuotedPrefix accepted it, so this is unreachable
				return nil, 0, syntaxErr(p, "invalid quoted string: %v", err)
			}
			toks = append(toks, token{off: p, text: text, quoted: true})
			p += len(q)
			if p < len(s) && !isSpace(s[p]) && !strings.HasPrefix(s[p:], "}}") {
				return nil, 0, syntaxErr(p, "missing space after a quoted string")
			}
		default:
			begin := p
			for p < len(s) && !isSpace(s[p]) && !strings.HasPrefix(s[p:], "}}") {
				if s[p] == '"' || s[p] == '`' {
					return nil, 0, syntaxErr(p, "unexpected %c inside a word: quote the whole argument", s[p])
				}
				if strings.HasPrefix(s[p:], "{{") {
					return nil, 0, syntaxErr(p, `unexpected "{{" inside an action: actions do not nest (is a "}}" missing?)`)
				}
				p++
			}
			toks = append(toks, token{off: begin, text: s[begin:p]})
		}
	}
}
