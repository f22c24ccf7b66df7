package reporters

import (
	"encoding"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// The JSON Schema is written by hand (its descriptions are for readers
// of report.json, not of Go); TestJSONSchemaMatchesGoTypes keeps it in
// step with the Go types that encoding/json writes. Enums are checked
// against their constants in internal/reportschema.

func schemaDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(JSONSchema, &doc); err != nil {
		t.Fatalf("JSONSchema is not JSON: %v", err)
	}
	return doc
}

// TestJSONSchemaEmbedded: the exported bytes are the file in the
// repository, and the schema names this format.
func TestJSONSchemaEmbedded(t *testing.T) {
	file, err := os.ReadFile(filepath.Join("schema", "report-v1.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if string(file) != string(JSONSchema) {
		t.Error("JSONSchema differs from schema/report-v1.schema.json")
	}
	doc := schemaDoc(t)
	if doc["$schema"] != "https://json-schema.org/draft/2020-12/schema" || doc["$id"] == "" {
		t.Errorf("$schema %v, $id %v; want draft 2020-12 and an id", doc["$schema"], doc["$id"])
	}
	if c := doc["properties"].(map[string]any)["schema"].(map[string]any)["const"]; c != Schema {
		t.Errorf("properties.schema.const = %v; want %q", c, Schema)
	}
}

// TestJSONSchemaMatchesGoTypes walks Report with reflect, as
// encoding/json sees it, and fails on any difference with the schema: a
// field in Go but not in the schema or the other way round, a field
// always written that the schema does not require or an omitempty one it
// does, a type (or its nullability) that disagrees, a property without a
// description, or a $defs entry that no Go type uses.
func TestJSONSchemaMatchesGoTypes(t *testing.T) {
	doc := schemaDoc(t)
	defs, _ := doc["$defs"].(map[string]any)
	w := &schemaWalker{t: t, defs: defs, seen: map[string]bool{}}
	w.object("Report", reflect.TypeFor[Report](), doc)
	for name := range defs {
		if !w.seen[name] {
			t.Errorf("$defs/%s is used by no Go type: remove it, or use it", name)
		}
	}
}

type schemaWalker struct {
	t    *testing.T
	defs map[string]any
	seen map[string]bool // $defs already checked
}

var (
	timeType          = reflect.TypeFor[time.Time]()
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// jsonField is one struct field as encoding/json writes it.
type jsonField struct {
	goName, name string
	optional     bool // omitempty or omitzero: left out when zero/empty
	typ          reflect.Type
}

func (w *schemaWalker) jsonFields(typ reflect.Type) []jsonField {
	var out []jsonField
	for f := range typ.Fields() {
		if f.Anonymous {
			w.t.Errorf("%s.%s: embedded fields are not supported by this test: extend it", typ.Name(), f.Name)
			continue
		}
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		o := strings.Split(opts, ",")
		if slices.Contains(o, "string") {
			w.t.Errorf("%s.%s: the ,string option is not supported by this test: extend it", typ.Name(), f.Name)
		}
		out = append(out, jsonField{goName: f.Name, name: name, typ: f.Type,
			optional: slices.Contains(o, "omitempty") || slices.Contains(o, "omitzero")})
	}
	return out
}

// object checks the schema of struct type typ (node, the def's name).
func (w *schemaWalker) object(def string, typ reflect.Type, node map[string]any) {
	t := w.t
	w.seen[def] = true
	if node["type"] != "object" || node["additionalProperties"] != false {
		t.Errorf("%s: type %v, additionalProperties %v; want object and false", def, node["type"], node["additionalProperties"])
	}
	if d, _ := node["description"].(string); d == "" {
		t.Errorf("%s: no description", def)
	}
	props, _ := node["properties"].(map[string]any)
	required := map[string]bool{}
	for _, r := range node["required"].([]any) {
		if required[r.(string)] {
			t.Errorf("%s: %q is twice in required", def, r)
		}
		required[r.(string)] = true
		if props[r.(string)] == nil {
			t.Errorf("%s: %q is required but not a property", def, r)
		}
	}
	inGo := map[string]bool{}
	for _, f := range w.jsonFields(typ) {
		path := def + "." + f.goName
		inGo[f.name] = true
		prop, ok := props[f.name].(map[string]any)
		if !ok {
			t.Errorf("%s (json %q) is in Go but not in the schema (reporters/schema/report-v1.schema.json, %s)", path, f.name, defPath(def))
			continue
		}
		desc, _ := prop["description"].(string)
		said := strings.Contains(strings.ToLower(desc), "optional: left out when")
		switch {
		case f.optional && required[f.name]:
			t.Errorf("%s (json %q) is omitempty/omitzero in Go but required in the schema", path, f.name)
		case !f.optional && !required[f.name]:
			t.Errorf("%s (json %q) is always written by Go but not required in the schema", path, f.name)
		case desc == "":
			t.Errorf("%s (json %q) has no description in the schema", path, f.name)
		case f.optional && !said:
			t.Errorf("%s (json %q): its description must say \"Optional: left out when …\": %q", path, f.name, desc)
		case !f.optional && strings.Contains(strings.ToLower(desc), "optional"):
			t.Errorf("%s (json %q) is always written, but its description says optional: %q", path, f.name, desc)
		}
		// encoding/json writes a nil slice, map or pointer as null unless
		// it is left out.
		nullable := !f.optional && slices.Contains([]reflect.Kind{reflect.Slice, reflect.Map, reflect.Pointer}, f.typ.Kind())
		w.value(path, f.typ, nullable, prop)
	}
	for name := range props {
		if !inGo[name] {
			t.Errorf("%s: property %q is in the schema but %s has no field with that json name", def, name, typ.Name())
		}
	}
}

// value checks that node describes values of Go type typ as
// encoding/json writes them.
func (w *schemaWalker) value(path string, typ reflect.Type, nullable bool, node map[string]any) {
	t := w.t
	if typ == timeType {
		w.wantType(path, node, "string", nullable)
		if node["format"] != "date-time" {
			t.Errorf("%s: a time.Time needs format date-time, not %v", path, node["format"])
		}
		return
	}
	if typ.Kind() != reflect.Pointer && (typ.Implements(jsonMarshalerType) || typ.Implements(textMarshalerType) ||
		reflect.PointerTo(typ).Implements(jsonMarshalerType) || reflect.PointerTo(typ).Implements(textMarshalerType)) {
		t.Errorf("%s: %s marshals itself: this test does not know its JSON form; extend it", path, typ)
		return
	}
	switch typ.Kind() {
	case reflect.Pointer:
		w.value(path, typ.Elem(), nullable, node)
	case reflect.Struct:
		want := "#/$defs/" + typ.Name()
		if nullable {
			t.Errorf("%s: a %s that can be null needs anyOf [$ref, null]: extend this test", path, typ)
		}
		if node["$ref"] != want {
			t.Errorf("%s: $ref %v; want %s", path, node["$ref"], want)
			return
		}
		if !w.seen[typ.Name()] {
			def, ok := w.defs[typ.Name()].(map[string]any)
			if !ok {
				t.Errorf("%s: no $defs/%s in the schema", path, typ.Name())
				return
			}
			w.object(typ.Name(), typ, def)
		}
	case reflect.Slice:
		if typ.Elem().Kind() == reflect.Uint8 { // []byte: base64
			w.wantType(path, node, "string", nullable)
			return
		}
		w.wantType(path, node, "array", nullable)
		items, ok := node["items"].(map[string]any)
		if !ok {
			t.Errorf("%s: an array without items", path)
			return
		}
		w.value(path+"[]", typ.Elem(), false, items)
	case reflect.Map:
		if typ.Key().Kind() != reflect.String {
			t.Errorf("%s: map key %s: only string keys are supported by this test", path, typ.Key())
		}
		w.wantType(path, node, "object", nullable)
		ref, _ := node["$ref"].(string)
		if ref == "" { // any keys
			vals, ok := node["additionalProperties"].(map[string]any)
			if !ok {
				t.Errorf("%s: a map needs additionalProperties with the schema of its values, or a $ref to a def listing its keys", path)
				return
			}
			w.value(path+"{}", typ.Elem(), false, vals)
			return
		}
		// A closed set of keys: a def without a type (the property's type
		// says whether null is allowed) listing every key.
		name, _ := strings.CutPrefix(ref, "#/$defs/")
		def, ok := w.defs[name].(map[string]any)
		if !ok {
			t.Errorf("%s: $ref %s: no such $defs entry", path, ref)
			return
		}
		w.seen[name] = true
		keys, _ := def["properties"].(map[string]any)
		if def["additionalProperties"] != false || len(keys) == 0 || def["type"] != nil {
			t.Errorf("$defs/%s (keys of %s): want properties, additionalProperties false and no type", name, path)
		}
		if d, _ := def["description"].(string); d == "" {
			t.Errorf("$defs/%s: no description", name)
		}
		for k, v := range keys {
			vals, _ := v.(map[string]any)
			if d, _ := vals["description"].(string); d == "" {
				t.Errorf("$defs/%s: key %q has no description", name, k)
			}
			w.value(path+"{"+k+"}", typ.Elem(), false, vals)
		}
	case reflect.String:
		w.wantType(path, node, "string", nullable)
	case reflect.Bool:
		w.wantType(path, node, "boolean", nullable)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		w.wantType(path, node, "integer", nullable)
		if node["minimum"] != 0.0 {
			t.Errorf("%s: an unsigned count needs minimum 0, not %v", path, node["minimum"])
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		w.wantType(path, node, "integer", nullable)
	case reflect.Float32, reflect.Float64:
		w.wantType(path, node, "number", nullable)
	default:
		t.Errorf("%s: kind %s is not supported by this test: extend it", path, typ.Kind())
	}
}

// wantType checks node's type: want, or [want, "null"] when nullable.
func (w *schemaWalker) wantType(path string, node map[string]any, want string, nullable bool) {
	var got []string
	switch ty := node["type"].(type) {
	case string:
		got = []string{ty}
	case []any:
		for _, s := range ty {
			got = append(got, s.(string))
		}
	}
	slices.Sort(got)
	wantTypes := []string{want}
	if nullable {
		wantTypes = append(wantTypes, "null")
		slices.Sort(wantTypes)
	}
	if !slices.Equal(got, wantTypes) {
		w.t.Helper()
		w.t.Errorf("%s: schema type %v; want %v (null when Go can write a nil slice, map or pointer)", path, node["type"], wantTypes)
	}
}

func defPath(def string) string {
	if def == "Report" {
		return "the top-level properties"
	}
	return "$defs/" + def
}
