package scenario

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Parse decodes a scenario from YAML source, applies the defaults and
// validates it. filename is used in messages only.
//
// Decoding is strict: unknown fields, duplicate keys, values of the wrong
// type, anchors that do not exist and tags other than the YAML core ones
// are errors. Every problem of the file is reported at once (a syntax
// error stops the parse, so it comes alone): the error is an errors.Join
// of *Error values, one per line, each "FILE:LINE:COL: message", and it
// matches ErrInvalid.
func Parse(filename string, src []byte, opts Options) (*Scenario, error) {
	if len(src) > MaxFileSize {
		return nil, errors.Join(&Error{File: filename,
			Message: fmt.Sprintf("file is larger than the %d MiB limit", MaxFileSize>>20)})
	}
	src = bytes.TrimPrefix(src, []byte("\ufeff")) // a BOM from a Windows editor
	if i := invalidUTF8(src); i >= 0 {
		line, col := lineCol(src, i)
		return nil, errors.Join(&Error{File: filename, Line: line, Column: col,
			Message: "file is not valid UTF-8"})
	}

	body, p := document(src)
	if p != nil {
		return nil, errors.Join(&Error{File: filename, Line: p.pos.line, Column: p.pos.col, Message: p.msg})
	}

	d := newDecoder(src)
	d.locs[""] = location{key: nodePos(body), value: nodePos(body)}
	s := Scenario{Seed: DefaultSeed}
	d.decode(body, reflect.ValueOf(&s).Elem(), "")
	if d.abort {
		return nil, joinProblems(filename, d.probs, d.locate)
	}
	c := newChecker(d, opts)
	c.scenario(&s)
	for _, p := range c.probs {
		if d.suppressed(p.path) || (p.at != "" && d.suppressed(p.at)) {
			continue
		}
		d.report(p)
	}
	if opts.Warn != nil {
		warns := make([]problem, 0, len(c.warns))
		for _, p := range c.warns {
			if !d.suppressed(p.path) {
				warns = append(warns, p)
			}
		}
		for _, w := range sortProblems(filename, warns, d.locate) {
			opts.Warn(w)
		}
	}
	if len(d.probs) > 0 {
		return nil, joinProblems(filename, d.probs, d.locate)
	}
	s.ApplyDefaults()
	c.apply(&s)
	s.src = &source{file: filename, locs: d.locs}
	return &s, nil
}

// document parses src and returns the body of its single document, or the
// problem that prevents it.
func document(src []byte) (ast.Node, *problem) {
	file, p, err := parseYAML(src)
	if p != nil {
		return nil, p
	}
	if err != nil {
		return nil, syntaxProblem(src, err)
	}
	var body ast.Node
	for _, doc := range file.Docs {
		switch b := doc.Body.(type) {
		case nil, *ast.DirectiveNode, *ast.CommentGroupNode:
			continue // "---" with nothing after it, or a %YAML directive
		case *ast.NullNode:
			if body == nil {
				continue // "~" alone is as good as empty
			}
		default:
			if body != nil {
				return nil, &problem{pos: nodePos(b), msg: "only one YAML document is allowed (remove the second ---)"}
			}
			body = b
		}
	}
	if body == nil {
		return nil, &problem{pos: position{1, 1}, msg: "file is empty"}
	}
	return body, nil
}

// maxDepth bounds how deeply collections may nest. Real scenarios nest
// fewer than ten levels. The bound matters because goccy's parser builds a
// path string for every node, so its time and memory grow with the square
// of the depth: a 1 MiB file of "[[[[…" would take minutes and gigabytes.
const maxDepth = 32

// parseYAML runs the goccy lexer and parser, with the nesting checked in
// between. Bad input must give an error and never a panic; the parser is
// fuzzed upstream and here, but a panic in it would take down a
// coordinator, so one is turned into an error.
func parseYAML(src []byte) (f *ast.File, p *problem, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, p, err = nil, nil, fmt.Errorf("yaml parser failed: %v", r)
		}
	}()
	tokens := lexer.Tokenize(string(src))
	if p := checkDepth(tokens); p != nil {
		return nil, p, nil
	}
	// Duplicate keys are found by the decoder, which reports them all; the
	// parser would stop at the first one.
	f, err = parser.Parse(tokens, 0, parser.AllowDuplicateMapKey())
	return f, nil, err
}

// checkDepth finds the first token nested deeper than maxDepth, in one
// pass over the tokens. Flow depth is counted by brackets. Block depth is
// tracked with a stack of the columns of the open block collections; it
// may over-count in odd layouts, which only matters beyond maxDepth.
func checkDepth(tokens token.Tokens) *problem {
	type level struct {
		col int
		seq bool // a block sequence ("- "), else a block map
	}
	var block []level
	flow := 0
	for i, tk := range tokens {
		switch tk.Type {
		case token.DocumentHeaderType:
			block, flow = block[:0], 0
			continue
		case token.SequenceStartType, token.MappingStartType:
			flow++
		case token.SequenceEndType, token.MappingEndType:
			flow = max(flow-1, 0)
		case token.SequenceEntryType, token.MappingKeyType, token.MappingValueType:
			if flow > 0 {
				continue
			}
			col, seq := tk.Position.Column, tk.Type == token.SequenceEntryType
			if tk.Type == token.MappingValueType && i > 0 {
				col = tokens[i-1].Position.Column // where the key starts
			}
			// Close the collections this one is not inside. A "- " at the
			// column of a key is that key's value; the next key at that
			// column ends the sequence.
			for len(block) > 0 {
				top := block[len(block)-1]
				if top.col > col || (top.col == col && top.seq && !seq) {
					block = block[:len(block)-1]
					continue
				}
				break
			}
			if n := len(block); n == 0 || block[n-1].col != col || block[n-1].seq != seq {
				block = append(block, level{col, seq})
			}
		default:
			continue
		}
		if len(block)+flow > maxDepth {
			return &problem{
				pos: position{tk.Position.Line, tk.Position.Column},
				msg: fmt.Sprintf("nesting is too deep (more than %d levels)", maxDepth),
			}
		}
	}
	return nil
}

// syntaxProblem turns a parser error into a positioned problem with a
// one-line message (goccy's Error() adds a source snippet).
func syntaxProblem(src []byte, err error) *problem {
	var ye yaml.Error
	if !errors.As(err, &ye) || ye.GetToken() == nil {
		line, col := lineCol(src, len(src))
		return &problem{pos: position{line, col}, msg: "syntax error: " + oneLine(err.Error())}
	}
	tk := ye.GetToken()
	msg := ye.GetMessage()
	if strings.Contains(msg, "'\t'") || tk.Value == "\t" {
		msg = "tab character; YAML must be indented with spaces"
	}
	pos := position{tk.Position.Line, tk.Position.Column}
	if pos.line <= 0 {
		pos.line, pos.col = lineCol(src, len(src))
	}
	return &problem{pos: pos, msg: "syntax error: " + oneLine(msg)}
}

// invalidUTF8 returns the offset of the first byte that is not UTF-8, or -1.
func invalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

// lineCol converts a byte offset to a 1-based line and a column counted in
// characters, the way the YAML lexer counts.
func lineCol(b []byte, off int) (line, col int) {
	off = min(off, len(b))
	start := bytes.LastIndexByte(b[:off], '\n') + 1
	return bytes.Count(b[:start], []byte("\n")) + 1, utf8.RuneCount(b[start:off]) + 1
}

// Validate checks a scenario that was built in code (or changed after
// Parse) and returns every problem, each an *Error with a Path and no
// position, joined; warnings go to opts.Warn. Empty optional fields are
// checked as their defaults. Data files the templates name are taken from
// s.Data, else read with opts.ReadFile. Validate does not change s.
func (s *Scenario) Validate(opts Options) error {
	c := newChecker(nil, opts)
	c.scenario(s)
	if opts.Warn != nil {
		for _, w := range sortProblems("", c.warns, nil) {
			opts.Warn(w)
		}
	}
	if len(c.probs) == 0 {
		return nil
	}
	return joinProblems("", c.probs, nil)
}

// sortProblems turns problems into *Errors sorted by position (stable, so
// without positions they keep the order of the checks), dropping
// duplicates: the same message at the same place, as when one anchored
// value is used through several aliases.
func sortProblems(file string, probs []problem, locate func(problem) position) []*Error {
	errs := make([]*Error, 0, len(probs))
	for _, p := range probs {
		e := &Error{File: file, Path: p.path, Message: oneLine(p.msg)}
		if locate != nil {
			pos := locate(p)
			e.Line, e.Column = pos.line, pos.col
		}
		errs = append(errs, e)
	}
	slices.SortStableFunc(errs, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	seen := make(map[Error]bool, len(errs))
	out := errs[:0]
	for _, e := range errs {
		key := *e
		if key.Line > 0 {
			key.Path = "" // positioned: the place is what the user sees
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, e)
		}
	}
	return out
}

// joinProblems turns problems into one error: sorted by position,
// duplicates dropped, and cut to maxProblems.
func joinProblems(file string, probs []problem, locate func(problem) position) error {
	var out []error
	for _, e := range sortProblems(file, probs, locate) {
		if len(out) == maxProblems {
			out = append(out, &Error{File: file, Message: "too many problems; fix these and try again"})
			break
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}
