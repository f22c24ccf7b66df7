package scenario

import (
	"fmt"
	"reflect"

	"github.com/goccy/go-yaml/ast"
)

// thinkForms is what a think time may be, for messages.
const thinkForms = "a duration (500ms), {uniform: [MIN, MAX]} or {exponential: MEAN}"

// decodeThink decodes the three forms of a think time: a duration (fixed),
// {uniform: [MIN, MAX]} and {exponential: MEAN}. Their values are checked
// (order, bounds) by the checker.
func (d *decoder) decodeThink(n ast.Node, t *Think, path string, at position) {
	if _, ok := scalarText(n); ok {
		t.Dist = ThinkFixed
		d.decode(n, reflect.ValueOf(&t.Fixed).Elem(), path)
		return
	}
	entries, ok := mapEntries(n)
	if !ok {
		d.failAt(path, at, fmt.Sprintf("think must be %s (got %s)", thinkForms, nodeKind(n)))
		d.scanAnchors(n)
		return
	}
	if len(entries) == 0 {
		d.failAt(path, at, "think must be "+thinkForms+" (got an empty map)")
		return
	}
	forms := []field{{name: ThinkUniform}, {name: ThinkExponential}}
	var first string
	for _, e := range entries {
		name, kpos, ok := d.key(e, path)
		if !ok {
			continue
		}
		child := joinPath(path, name)
		if fieldIndex(forms, name) < 0 {
			d.failAt(path, kpos, unknownField(name, forms))
			d.scanAnchors(e.Value)
			continue
		}
		if first != "" {
			d.failAt(child, kpos, fmt.Sprintf("think takes one of uniform or exponential (got %s and %s)", first, name))
			d.scanAnchors(e.Value)
			continue
		}
		first = name
		d.record(child, kpos, e.Value)
		if name == ThinkExponential {
			t.Dist = ThinkExponential
			d.decode(e.Value, reflect.ValueOf(&t.Mean).Elem(), child)
			continue
		}
		t.Dist = ThinkUniform
		var bounds []Duration
		d.decode(e.Value, reflect.ValueOf(&bounds).Elem(), child)
		if d.suppressed(child) {
			continue
		}
		if len(bounds) != 2 {
			d.failAt(child, nodePos(e.Value), fmt.Sprintf("uniform must be a list of two durations [MIN, MAX] (got %d values)", len(bounds)))
			continue
		}
		t.Min, t.Max = bounds[0], bounds[1]
	}
}

// decodeExtractions decodes `extract`, a map from variable name to
// extraction, into a list in the order written. Each entry is at path
// `…extract["NAME"]`.
func (d *decoder) decodeExtractions(n ast.Node, xs *[]Extraction, path string, at position) {
	entries, ok := mapEntries(n)
	if !ok {
		d.mismatch(path, n, at, "a map of variable names to extractions")
		return
	}
	out := make([]Extraction, 0, len(entries))
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
		x := Extraction{Var: name}
		d.decode(e.Value, reflect.ValueOf(&x).Elem(), child)
		out = append(out, x)
	}
	*xs = out
}
