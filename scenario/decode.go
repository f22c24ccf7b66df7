package scenario

import (
	"encoding"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// This file is a small strict decoder from a goccy/go-yaml AST into the
// scenario structs. goccy's own decoder stops at the first problem; this
// one keeps going, so a user sees every unknown field, duplicate key and
// type mismatch of the file at once, each at its line and column. It also
// records where every value was written (path → position) so the semantic
// checks in validate.go can point into the file.
//
// It is driven by reflection over the `yaml` struct tags, so new fields in
// the scenario types need no code here. Types that know how to read
// themselves (Rate, Duration) implement yaml.NodeUnmarshaler; plain
// encoding.TextUnmarshaler types are given the scalar's text.

// Bounds on the work the decoder does for one file.
const (
	// maxProblems is how many problems are reported; the rest are counted
	// in a final line. Like a compiler, stop before the list is useless.
	maxProblems = 20
	// maxNodes bounds the nodes visited after expanding aliases, against
	// "billion laughs" documents. A 1 MiB file without aliases has fewer.
	maxNodes = 1_000_000
)

// position is a 1-based line and column; the zero value means unknown.
type position struct{ line, col int }

func (p position) String() string { return fmt.Sprintf("%d:%d", p.line, p.col) }

// location records where a value was written.
type location struct {
	key   position // the key of a map entry; the item itself for a list item
	value position
	null  bool // written as null (or with no value): present but not set
	// str is the string node of a string value (after resolving aliases),
	// for positions inside the string (see stringPos).
	str ast.Node
}

// problem is one problem before it gets its final form (*Error).
type problem struct {
	path  string   // where in the scenario: Error.Path
	at    string   // path whose recorded position is used; "" means path
	pos   position // explicit position, from the YAML node at fault
	onKey bool     // point at the key of `at` rather than its value
	msg   string
}

// decoder holds the state of decoding one document.
type decoder struct {
	src     []byte
	anchors map[string]ast.Node // anchor name → its (resolved) value
	locs    map[string]location // path → where it was written
	failed  []string            // paths whose value could not be decoded
	probs   []problem
	nodes   int
	abort   bool // too many problems or nodes: stop
	// aliasSite is where the alias being expanded was written; the next
	// decode call takes it as the position of its value.
	aliasSite position
}

func newDecoder(src []byte) *decoder {
	return &decoder{src: src, anchors: map[string]ast.Node{}, locs: map[string]location{}}
}

// failAt reports a problem at pos and marks path as not decoded, so the
// semantic checks do not report the zero value left behind.
func (d *decoder) failAt(path string, pos position, msg string) {
	d.failed = append(d.failed, path)
	d.report(problem{path: path, pos: pos, msg: msg})
}

func (d *decoder) report(p problem) {
	if d.abort {
		return
	}
	p.msg = oneLine(p.msg)
	d.probs = append(d.probs, p)
	if len(d.probs) > maxProblems {
		d.abort = true
	}
}

// record notes where the value for path was written.
func (d *decoder) record(path string, key position, value ast.Node) {
	r := d.peek(value)
	_, isNull := r.(*ast.NullNode)
	l := location{key: key, value: nodePos(value), null: r == nil || isNull}
	switch r.(type) {
	case *ast.StringNode, *ast.LiteralNode:
		l.str = r
	}
	d.locs[path] = l
}

// stringPos returns the position of byte off of the string written at
// path, if it can be told (see stringPos).
func (d *decoder) stringPos(path, value string, off int) (position, bool) {
	l, ok := d.locs[path]
	if !ok || l.str == nil {
		return position{}, false
	}
	return stringPos(d.src, l.str, value, off)
}

// has reports whether path was written in the file with a non-null value.
func (d *decoder) has(path string) bool {
	l, ok := d.locs[path]
	return ok && !l.null
}

// nullAt reports whether path was written in the file as null (or with no
// value). A nil decoder has no file: false.
func (d *decoder) nullAt(path string) bool {
	if d == nil {
		return false
	}
	l, ok := d.locs[path]
	return ok && l.null
}

// suppressed reports whether path lies at or below a value that failed to
// decode: what the checks would say about it is noise.
func (d *decoder) suppressed(path string) bool {
	for _, f := range d.failed {
		if isUnder(path, f) {
			return true
		}
	}
	return false
}

// isUnder reports whether path is base or one of its descendants.
func isUnder(path, base string) bool {
	if base == "" || path == base {
		return true
	}
	if !strings.HasPrefix(path, base) {
		return false
	}
	c := path[len(base)]
	return c == '.' || c == '['
}

// locate returns the position of a problem: its own, or that of the
// nearest recorded path at or above p.at.
func (d *decoder) locate(p problem) position {
	if p.pos.line > 0 {
		return p.pos
	}
	at := p.at
	if at == "" {
		at = p.path
	}
	for path, first := at, true; ; path, first = parentPath(path), false {
		if l, ok := d.locs[path]; ok {
			pos := l.value
			if (p.onKey && first) || l.null { // a null has no text of its own
				pos = l.key
			}
			if pos.line > 0 {
				return pos
			}
		}
		if path == "" {
			return position{1, 1}
		}
	}
}

// decode decodes n into v; path names v for messages and positions.
func (d *decoder) decode(n ast.Node, v reflect.Value, path string) {
	// Problems with the value as a whole are reported where it was written:
	// for an alias, at the alias rather than at the anchored text.
	at, viaAlias := nodePos(n), false
	if d.aliasSite.line > 0 {
		at, viaAlias, d.aliasSite = d.aliasSite, true, position{}
	}
	if d.abort {
		return
	}
	if d.nodes++; d.nodes > maxNodes {
		d.failAt(path, at, fmt.Sprintf("document is too large: more than %d values after expanding aliases", maxNodes))
		d.abort = true
		return
	}
	switch t := n.(type) {
	case nil, *ast.NullNode:
		return // leave the zero value: null means "not set"
	case *ast.AnchorNode:
		if viaAlias {
			d.aliasSite = at
		}
		d.decode(t.Value, v, path)
		d.register(t)
		return
	case *ast.AliasNode:
		target, ok := d.anchors[aliasName(t)]
		if !ok {
			d.failAt(path, at, fmt.Sprintf("unknown anchor %q", aliasName(t)))
			return
		}
		d.aliasSite = at
		d.decode(target, v, path)
		return
	case *ast.TagNode:
		if !standardTags[t.Start.Value] {
			d.failAt(path, at, fmt.Sprintf("unsupported tag %q", t.Start.Value))
			d.scanAnchors(t.Value)
			return
		}
		if viaAlias {
			d.aliasSite = at
		}
		d.decode(t.Value, v, path)
		return
	}

	// Types with a short form: a scalar that stands for one field of the
	// map (a threshold written as its expression).
	if v.CanAddr() {
		if sh, ok := v.Addr().Interface().(shorthand); ok {
			if text, ok := scalarText(n); ok {
				sh.setShorthand(text)
				d.record(joinPath(path, sh.shorthandField()), at, n)
				return
			}
		}
	}

	// Types whose YAML form is not their Go shape (journey.go).
	if v.CanAddr() {
		switch u := v.Addr().Interface().(type) {
		case *Think:
			d.decodeThink(n, u, path, at)
			return
		case *[]Extraction:
			d.decodeExtractions(n, u, path, at)
			return
		}
	}

	// Types that read themselves.
	if v.CanAddr() {
		switch u := v.Addr().Interface().(type) {
		case yaml.NodeUnmarshaler:
			if err := u.UnmarshalYAML(n); err != nil {
				d.failErr(path, n, at, err)
			}
			return
		case encoding.TextUnmarshaler:
			text, ok := scalarText(n)
			if !ok {
				d.mismatch(path, n, at, "a string")
				return
			}
			if err := u.UnmarshalText([]byte(text)); err != nil {
				d.failAt(path, at, err.Error())
			}
			return
		}
	}

	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		if viaAlias {
			d.aliasSite = at
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.decodeStruct(n, v, path, at)
	case reflect.Slice:
		d.decodeSlice(n, v, path, at)
	case reflect.Map:
		d.decodeMap(n, v, path, at)
	case reflect.String:
		text, ok := scalarText(n)
		if !ok {
			d.mismatch(path, n, at, "a string")
			return
		}
		v.SetString(text)
	case reflect.Bool:
		b, ok := n.(*ast.BoolNode)
		if !ok {
			d.mismatch(path, n, at, "true or false")
			return
		}
		v.SetBool(b.Value)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, ok := d.integer(n, path, at)
		if !ok {
			return
		}
		x, err := strconv.ParseInt(fmt.Sprint(i.Value), 10, 64)
		if err != nil || v.OverflowInt(x) {
			d.failAt(path, at, fmt.Sprintf("%s is out of range (got %s)", label(path), i.Token.Value))
			return
		}
		v.SetInt(x)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		i, ok := d.integer(n, path, at)
		if !ok {
			return
		}
		x, err := strconv.ParseUint(fmt.Sprint(i.Value), 10, 64)
		if err != nil || v.OverflowUint(x) {
			d.failAt(path, at, fmt.Sprintf("%s is out of range (got %s)", label(path), i.Token.Value))
			return
		}
		v.SetUint(x)
	case reflect.Float32, reflect.Float64:
		var x float64
		switch t := n.(type) {
		case *ast.FloatNode:
			x = t.Value
		case *ast.IntegerNode:
			f, err := strconv.ParseFloat(fmt.Sprint(t.Value), 64)
			if err != nil {
				d.failAt(path, at, fmt.Sprintf("%s is out of range (got %s)", label(path), t.Token.Value))
				return
			}
			x = f
		case *ast.InfinityNode, *ast.NanNode:
			x = math.NaN() // rejected below
		default:
			d.mismatch(path, n, at, "a number")
			return
		}
		if math.IsInf(x, 0) || math.IsNaN(x) || v.OverflowFloat(x) {
			d.failAt(path, at, fmt.Sprintf("%s is out of range (got %s)", label(path), n.GetToken().Value))
			return
		}
		v.SetFloat(x)
	default:
		// Only reachable by adding a field of a kind this decoder does not
		// know (chan, func, interface) to the scenario types: a programming
		// error, never a property of the input.
		panic(fmt.Sprintf("scenario: cannot decode into %s (%s)", v.Type(), path))
	}
}

// shorthand is implemented by struct types that may be written as a
// scalar standing for one of their fields.
type shorthand interface {
	// shorthandField is the YAML name of the field the scalar sets.
	shorthandField() string
	// setShorthand sets that field from the scalar's text.
	setShorthand(text string)
}

// hugeInteger reports whether n is a plain scalar of decimal digits (with
// an optional sign) that the YAML parser left as a string because it does
// not fit in 64 bits.
func hugeInteger(n ast.Node) bool {
	s, ok := n.(*ast.StringNode)
	if !ok || s.Token == nil || s.Token.Type != token.StringType {
		return false // a quoted "123" is a string by choice
	}
	digits := strings.TrimPrefix(strings.TrimPrefix(s.Value, "-"), "+")
	return digits != "" && strings.Trim(digits, "0123456789") == ""
}

// decodeStruct decodes a map into a struct, field by field.
func (d *decoder) decodeStruct(n ast.Node, v reflect.Value, path string, at position) {
	entries, ok := mapEntries(n)
	if !ok {
		d.mismatch(path, n, at, "a map")
		return
	}
	fields := structFields(v.Type())
	seen := make(map[string]position, len(entries))
	for _, e := range entries {
		name, kpos, ok := d.key(e, path)
		if !ok {
			continue
		}
		child := joinPath(path, name)
		if first, dup := seen[name]; dup {
			d.failAt(child, kpos, fmt.Sprintf("duplicate key %q (first at %s)", name, first))
			d.scanAnchors(e.Value)
			continue
		}
		seen[name] = kpos
		i := fieldIndex(fields, name)
		if i < 0 {
			d.report(problem{path: path, pos: kpos, msg: unknownField(name, fields)})
			d.scanAnchors(e.Value)
			continue
		}
		d.record(child, kpos, e.Value)
		d.decode(e.Value, v.FieldByIndex(fields[i].index), child)
	}
}

// decodeSlice decodes a sequence into a slice, item by item.
func (d *decoder) decodeSlice(n ast.Node, v reflect.Value, path string, at position) {
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		d.mismatch(path, n, at, "a list")
		return
	}
	s := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
	for i, item := range seq.Values {
		child := indexPath(path, i)
		d.record(child, nodePos(item), item)
		d.decode(item, s.Index(i), child)
	}
	v.Set(s)
}

// decodeMap decodes a map with string keys.
func (d *decoder) decodeMap(n ast.Node, v reflect.Value, path string, at position) {
	if v.Type().Key().Kind() != reflect.String {
		panic(fmt.Sprintf("scenario: cannot decode into %s (%s): keys must be strings", v.Type(), path))
	}
	entries, ok := mapEntries(n)
	if !ok {
		d.mismatch(path, n, at, "a map")
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(entries))
	seen := make(map[string]position, len(entries))
	for _, e := range entries {
		name, kpos, ok := d.key(e, path)
		if !ok {
			continue
		}
		child := keyPath(path, name)
		if first, dup := seen[name]; dup {
			d.failAt(child, kpos, fmt.Sprintf("duplicate key %q (first at %s)", name, first))
			d.scanAnchors(e.Value)
			continue
		}
		seen[name] = kpos
		d.record(child, kpos, e.Value)
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(e.Value, elem, child)
		m.SetMapIndex(reflect.ValueOf(name).Convert(v.Type().Key()), elem)
	}
	v.Set(m)
}

// key returns the text and position of the key of a map entry.
func (d *decoder) key(e *ast.MappingValueNode, path string) (string, position, bool) {
	var k ast.Node = e.Key
	if mk, ok := k.(*ast.MappingKeyNode); ok { // "? key" syntax
		k = mk.Value
	}
	pos := nodePos(k)
	if pos.line == 0 {
		pos = nodePos(e)
	}
	if _, ok := k.(*ast.MergeKeyNode); ok {
		// The merge could have supplied any field, so the checks of the
		// whole map are skipped (failAt marks path).
		d.failAt(path, pos, "merge keys (<<) are not supported")
		return "", pos, false
	}
	text, ok := scalarText(unwrapNode(k))
	if !ok {
		d.failAt(path, pos, fmt.Sprintf("map keys must be strings (got %s)", nodeKind(unwrapNode(k))))
		return "", pos, false
	}
	return text, pos, true
}

// failErr reports an error of a NodeUnmarshaler, at the position it
// carries if it is a goccy error, else at the value.
func (d *decoder) failErr(path string, n ast.Node, at position, err error) {
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil {
		p := position{ye.GetToken().Position.Line, ye.GetToken().Position.Column}
		if p == nodePos(n) {
			p = at // about the value as a whole: where it was written
		}
		d.failAt(path, p, ye.GetMessage())
		return
	}
	d.failAt(path, at, err.Error())
}

// mismatch reports a value of the wrong YAML kind.
func (d *decoder) mismatch(path string, n ast.Node, at position, want string) {
	d.failAt(path, at, fmt.Sprintf("%s must be %s (got %s)", label(path), want, nodeKind(n)))
	d.scanAnchors(n)
}

// register makes an anchor's value available to later aliases. The value
// is stored resolved, so a stored value is never itself an alias and alias
// chains (even cyclic ones) cannot loop.
func (d *decoder) register(a *ast.AnchorNode) {
	r := d.peek(a.Value)
	if _, isAlias := r.(*ast.AliasNode); r == nil || isAlias {
		return // its value was an unknown alias, already reported
	}
	d.anchors[anchorName(a)] = r
}

// peek resolves anchors, tags and known aliases without decoding.
func (d *decoder) peek(n ast.Node) ast.Node {
	for {
		switch t := n.(type) {
		case *ast.AnchorNode:
			n = t.Value
		case *ast.TagNode:
			n = t.Value
		case *ast.AliasNode:
			target, ok := d.anchors[aliasName(t)]
			if !ok {
				return n
			}
			n = target // never an alias: see register
		default:
			return n
		}
	}
}

// scanAnchors registers the anchors inside a subtree that is not decoded
// (an unknown field, a value of the wrong kind), so that later aliases to
// them report the real problem only once.
func (d *decoder) scanAnchors(n ast.Node) {
	if n != nil {
		ast.Walk(anchorScan{d}, n)
	}
}

type anchorScan struct{ d *decoder }

func (s anchorScan) Visit(n ast.Node) ast.Visitor {
	if a, ok := n.(*ast.AnchorNode); ok {
		s.d.register(a)
	}
	return s
}

// standardTags are the YAML core-schema tags; they only confirm what the
// value already is, so they are accepted and ignored.
var standardTags = map[string]bool{
	"!!str": true, "!!int": true, "!!float": true, "!!bool": true,
	"!!null": true, "!!map": true, "!!seq": true,
}

func anchorName(a *ast.AnchorNode) string { return tokenValue(a.Name) }
func aliasName(a *ast.AliasNode) string   { return tokenValue(a.Value) }

func tokenValue(n ast.Node) string {
	if n == nil || n.GetToken() == nil {
		return ""
	}
	return n.GetToken().Value
}

// unwrapNode strips anchors, tags and "? key" markers (not aliases).
func unwrapNode(n ast.Node) ast.Node {
	for {
		switch t := n.(type) {
		case *ast.AnchorNode:
			n = t.Value
		case *ast.TagNode:
			n = t.Value
		case *ast.MappingKeyNode:
			n = t.Value
		default:
			return n
		}
	}
}

// mapEntries returns the entries of a map node.
func mapEntries(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch t := n.(type) {
	case *ast.MappingNode:
		return t.Values, true
	case *ast.MappingValueNode: // a single entry, in some goccy versions
		return []*ast.MappingValueNode{t}, true
	}
	return nil, false
}

// scalarText returns the text of a scalar as written: the value of a
// string, the literal of a number or boolean ("0x1F", "1.50", "true").
func scalarText(n ast.Node) (string, bool) {
	switch t := n.(type) {
	case *ast.StringNode:
		return t.Value, true
	case *ast.LiteralNode:
		if t.Value == nil {
			return "", true
		}
		return t.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return n.GetToken().Value, true
	}
	return "", false
}

// nodeKind names the kind of a node for messages.
func nodeKind(n ast.Node) string {
	switch n.(type) {
	case nil, *ast.NullNode:
		return "null"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "map"
	case *ast.SequenceNode:
		return "list"
	case *ast.StringNode, *ast.LiteralNode:
		return "string"
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "number"
	case *ast.BoolNode:
		return "boolean"
	case *ast.AliasNode:
		return "alias"
	}
	return strings.ToLower(n.Type().String())
}

// nodePos returns where a node starts. A block map starts at its first
// key, not at goccy's token (the first colon).
func nodePos(n ast.Node) position {
	switch t := n.(type) {
	case nil:
		return position{}
	case *ast.MappingNode:
		if !t.IsFlowStyle && len(t.Values) > 0 {
			return nodePos(t.Values[0])
		}
	case *ast.MappingValueNode:
		if t.Key != nil {
			return nodePos(t.Key)
		}
	}
	tk := n.GetToken()
	if tk == nil {
		return position{}
	}
	return position{tk.Position.Line, tk.Position.Column}
}

// field is a struct field and its YAML name.
type field struct {
	name  string
	index []int // for reflect.Value.FieldByIndex
}

// structFields lists the decodable fields of a struct type in order. The
// fields of an embedded struct tagged `yaml:",inline"` are listed in its
// place, as if they were the outer struct's (a journey step is a request
// plus its own fields).
func structFields(t reflect.Type) []field {
	var fs []field
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" && opts == "inline" && f.Type.Kind() == reflect.Struct {
			for _, in := range structFields(f.Type) {
				fs = append(fs, field{name: in.name, index: append([]int{i}, in.index...)})
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fs = append(fs, field{name: name, index: []int{i}})
	}
	return fs
}

func fieldIndex(fs []field, name string) int {
	for i, f := range fs {
		if f.name == name {
			return i
		}
	}
	return -1
}

// unknownField says a key is not a field, suggesting the closest field
// name when it looks like a typo and listing the fields otherwise.
func unknownField(name string, fs []field) string {
	best, bestDist := "", math.MaxInt
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.name
		if dist := editDistance(strings.ToLower(name), f.name); dist < bestDist {
			best, bestDist = f.name, dist
		}
	}
	// One edit per three letters: "nmae" and "rat" are typos of "name" and
	// "rate", but "base" is not a typo of "name".
	if best != "" && bestDist <= max(1, len(name)/3) {
		return fmt.Sprintf("unknown field %q (did you mean %q?)", name, best)
	}
	return fmt.Sprintf("unknown field %q (known fields: %s)", name, strings.Join(names, ", "))
}

// editDistance is the optimal-string-alignment distance between a and b:
// insertions, deletions, substitutions and transpositions of adjacent
// bytes each cost one.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 { // field names are short; don't pay for junk
		return math.MaxInt
	}
	// d[i][j] is the distance between a[:i] and b[:j].
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// Paths name values in a scenario: "name", "stages[0].url",
// `requests[1].headers["X-Id"]`. The empty path is the whole scenario.

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func indexPath(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func keyPath(path, key string) string { return path + "[" + strconv.Quote(key) + "]" }

// parentPath returns the path without its last element ("" for the root
// and for a top-level name).
func parentPath(p string) string {
	last := 0
	for i := 0; i < len(p); {
		last = i
		if p[i] == '[' {
			if i+1 < len(p) && p[i+1] == '"' {
				q, err := strconv.QuotedPrefix(p[i+1:])
				if err != nil {
					return ""
				}
				i += 1 + len(q) + 1
			} else {
				j := strings.IndexByte(p[i:], ']')
				if j < 0 {
					return ""
				}
				i += j + 1
			}
			continue
		}
		if p[i] == '.' {
			i++
		}
		for i < len(p) && p[i] != '.' && p[i] != '[' {
			i++
		}
	}
	return p[:last]
}

// label names the value at path in a message: the last field name with
// any indexes after it ("stages[0]", "constant", `headers["X-Id"]`).
func label(path string) string {
	if path == "" {
		return "scenario"
	}
	parent := parentPath(path)
	last := strings.TrimPrefix(path[len(parent):], ".")
	if strings.HasPrefix(last, "[") && parent != "" {
		return label(parent) + last
	}
	return last
}

// oneLine keeps a message on one line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(strings.NewReplacer("\r", " ", "\n", " ").Replace(s)), " ")
}

// integer returns n as an integer node, or reports why it is not one.
func (d *decoder) integer(n ast.Node, path string, at position) (*ast.IntegerNode, bool) {
	i, ok := n.(*ast.IntegerNode)
	if ok {
		return i, true
	}
	if hugeInteger(n) {
		d.failAt(path, at, fmt.Sprintf("%s is out of range (got %s)", label(path), n.GetToken().Value))
	} else {
		d.mismatch(path, n, at, "an integer")
	}
	return nil, false
}
