// Command schemagen writes the JSON schemas kubeconform validates
// deploy/k8s against, offline: one standalone, strict schema per kind, in
// the layout kubeconform's -schema-location expects
// (DIR/vVERSION-standalone-strict/KIND-GROUP-VERSION.json).
//
// The schemas come from sources the Go module proxy serves, so they can be
// regenerated on a machine that reaches nothing else: the Kubernetes
// OpenAPI v3 spec in the k8s.io/kubernetes module (api/openapi-spec/v3)
// for built-in kinds, and CustomResourceDefinition files (the Prometheus
// Operator's ServiceMonitor) for the rest. scripts/k8s-schemas.sh runs it
// with pinned versions.
//
// The conversion is the one of kubernetes-json-schema's "standalone-strict"
// flavour: every $ref is resolved within the file (as local definitions),
// every object with declared properties refuses others
// (additionalProperties: false) unless it preserves unknown fields,
// apiVersion and kind are pinned to the kind's own, and descriptions are
// dropped.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
)

// GVK is a kind with its API group ("" for the core group) and version.
type GVK struct{ Group, Version, Kind string }

// ParseGVK parses "v1/Service", "apps/v1/StatefulSet" or
// "networking.k8s.io/v1/NetworkPolicy".
func ParseGVK(s string) (GVK, error) {
	parts := strings.Split(s, "/")
	switch {
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		return GVK{Version: parts[0], Kind: parts[1]}, nil
	case len(parts) == 3 && parts[0] != "" && parts[1] != "" && parts[2] != "":
		return GVK{Group: parts[0], Version: parts[1], Kind: parts[2]}, nil
	}
	return GVK{}, fmt.Errorf("kind %q: want VERSION/KIND or GROUP/VERSION/KIND", s)
}

// APIVersion is the object's apiVersion field.
func (g GVK) APIVersion() string {
	if g.Group == "" {
		return g.Version
	}
	return g.Group + "/" + g.Version
}

// FileName is the name kubeconform looks the schema up by: the kind in
// lower case, the first label of the group and the version.
func (g GVK) FileName() string {
	name := strings.ToLower(g.Kind)
	if g.Group != "" {
		name += "-" + strings.ToLower(strings.Split(g.Group, ".")[0])
	}
	return name + "-" + strings.ToLower(g.Version) + ".json"
}

// specFile is the name of the OpenAPI v3 document of g's group version in
// api/openapi-spec/v3.
func (g GVK) specFile() string {
	if g.Group == "" {
		return "api__" + g.Version + "_openapi.json"
	}
	return "apis__" + g.Group + "__" + g.Version + "_openapi.json"
}

const refPrefix = "#/components/schemas/"

// FromOpenAPI returns the standalone strict schema of g from an OpenAPI v3
// document (its components.schemas).
func FromOpenAPI(doc []byte, g GVK) (map[string]any, error) {
	var spec struct {
		Components struct {
			Schemas map[string]map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(doc, &spec); err != nil {
		return nil, fmt.Errorf("OpenAPI document: %w", err)
	}
	schemas := spec.Components.Schemas
	var name string
	for n, s := range schemas {
		if hasGVK(s, g) {
			name = n
			break
		}
	}
	if name == "" {
		return nil, fmt.Errorf("%s %s: not in the OpenAPI document", g.APIVersion(), g.Kind)
	}
	c := &converter{defs: map[string]any{}}
	c.resolve = func(ref string) (any, error) {
		n, ok := strings.CutPrefix(ref, refPrefix)
		if !ok {
			return nil, fmt.Errorf("$ref %q: only %s… is resolved", ref, refPrefix)
		}
		s, ok := schemas[n]
		if !ok {
			return nil, fmt.Errorf("$ref %q: no such schema", ref)
		}
		return s, nil
	}
	root, err := c.convert(schemas[name])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return finish(root.(map[string]any), c.defs, g), nil
}

func hasGVK(s map[string]any, g GVK) bool {
	list, _ := s["x-kubernetes-group-version-kind"].([]any)
	for _, e := range list {
		m, _ := e.(map[string]any)
		if m["group"] == g.Group && m["version"] == g.Version && m["kind"] == g.Kind {
			return true
		}
	}
	return false
}

// FromCRD returns the standalone strict schema of g from a
// CustomResourceDefinition (YAML or JSON): the openAPIV3Schema of its
// version g.Version.
func FromCRD(doc []byte, g GVK) (map[string]any, error) {
	var crd struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Spec       struct {
			Group string `yaml:"group"`
			Names struct {
				Kind string `yaml:"kind"`
			} `yaml:"names"`
			Versions []struct {
				Name   string `yaml:"name"`
				Schema struct {
					OpenAPIV3Schema map[string]any `yaml:"openAPIV3Schema"`
				} `yaml:"schema"`
			} `yaml:"versions"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(doc, &crd); err != nil {
		return nil, fmt.Errorf("CustomResourceDefinition: %w", err)
	}
	if crd.Kind != "CustomResourceDefinition" || crd.Spec.Group != g.Group || crd.Spec.Names.Kind != g.Kind {
		return nil, fmt.Errorf("not the CustomResourceDefinition of %s %s (it is a %s of %s in %q)", g.APIVersion(), g.Kind, crd.Kind, crd.Spec.Names.Kind, crd.Spec.Group)
	}
	for _, v := range crd.Spec.Versions {
		if v.Name != g.Version {
			continue
		}
		if v.Schema.OpenAPIV3Schema == nil {
			return nil, fmt.Errorf("%s %s: version %s has no openAPIV3Schema", g.APIVersion(), g.Kind, v.Name)
		}
		c := &converter{defs: map[string]any{}, resolve: func(ref string) (any, error) {
			return nil, fmt.Errorf("$ref %q in a CustomResourceDefinition", ref)
		}}
		root, err := c.convert(v.Schema.OpenAPIV3Schema)
		if err != nil {
			return nil, err
		}
		// The API server supplies metadata's schema for custom resources.
		props, _ := root.(map[string]any)["properties"].(map[string]any)
		if props != nil {
			props["metadata"] = map[string]any{"type": "object"}
		}
		return finish(root.(map[string]any), c.defs, g), nil
	}
	return nil, fmt.Errorf("%s %s: no version %s in the CustomResourceDefinition", g.APIVersion(), g.Kind, g.Version)
}

// finish pins apiVersion and kind and attaches the definitions.
func finish(root, defs map[string]any, g GVK) map[string]any {
	props, _ := root["properties"].(map[string]any)
	if props != nil {
		props["apiVersion"] = map[string]any{"type": "string", "enum": []any{g.APIVersion()}}
		props["kind"] = map[string]any{"type": "string", "enum": []any{g.Kind}}
	}
	if len(defs) > 0 {
		root["definitions"] = defs
	}
	return root
}

// converter turns OpenAPI v3 schemas into draft-4 JSON schema.
type converter struct {
	defs    map[string]any // converted definitions, by name
	resolve func(ref string) (any, error)
}

// dropped are the keys that validate nothing (or that draft 4 does not
// know and kubeconform need not see).
var dropped = []string{"description", "default", "example", "readOnly", "x-kubernetes-group-version-kind",
	"x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type", "x-kubernetes-patch-strategy",
	"x-kubernetes-patch-merge-key", "x-kubernetes-unions", "x-kubernetes-validations", "x-kubernetes-embedded-resource"}

func (c *converter) convert(node any) (any, error) {
	switch n := node.(type) {
	case []any:
		out := make([]any, len(n))
		for i, e := range n {
			v, err := c.convert(e)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case map[string]any:
		return c.convertObject(n)
	default:
		return n, nil
	}
}

func (c *converter) convertObject(n map[string]any) (any, error) {
	// allOf: [{$ref}] is how OpenAPI v3 puts a description or default
	// beside a reference: the reference alone is the schema.
	if all, ok := n["allOf"].([]any); ok && len(all) == 1 {
		if m, ok := all[0].(map[string]any); ok && len(m) == 1 && m["$ref"] != nil {
			return c.convertObject(m)
		}
	}
	if ref, ok := n["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, refPrefix)
		if _, done := c.defs[name]; !done {
			target, err := c.resolve(ref)
			if err != nil {
				return nil, err
			}
			c.defs[name] = nil // cycles resolve to the definition being built
			def, err := c.convert(target)
			if err != nil {
				return nil, err
			}
			c.defs[name] = def
		}
		return map[string]any{"$ref": "#/definitions/" + name}, nil
	}
	out := map[string]any{}
	for k, v := range n {
		if slices.Contains(dropped, k) {
			continue
		}
		switch k {
		case "properties", "patternProperties", "definitions":
			m, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s is not an object", k)
			}
			props := map[string]any{}
			for name, p := range m {
				cp, err := c.convert(p)
				if err != nil {
					return nil, fmt.Errorf("%s.%s: %w", k, name, err)
				}
				props[name] = cp
			}
			out[k] = props
		case "format":
			// int-or-string is spelled out below; other formats are
			// annotations kubeconform does not assert.
			if v != "int-or-string" {
				out[k] = v
			}
		case "nullable", "x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields":
		default:
			cv, err := c.convert(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = cv
		}
	}
	if n["x-kubernetes-int-or-string"] == true {
		delete(out, "type")
		_, one := out["oneOf"]
		_, anyOf := out["anyOf"]
		if !one && !anyOf {
			out["oneOf"] = []any{map[string]any{"type": "integer"}, map[string]any{"type": "string"}}
		}
	}
	if n["nullable"] == true {
		if t, ok := out["type"].(string); ok {
			out["type"] = []any{t, "null"}
		}
	}
	// Strict: an object with declared properties takes no others.
	if _, has := out["properties"]; has && out["additionalProperties"] == nil && n["x-kubernetes-preserve-unknown-fields"] != true {
		out["additionalProperties"] = false
	}
	return out, nil
}

// Options is what one run of schemagen writes.
type Options struct {
	// SpecDir is api/openapi-spec/v3 of the k8s.io/kubernetes module.
	SpecDir string
	// Kinds are the built-in kinds, as ParseGVK reads them.
	Kinds []string
	// CRDs maps a kind (GROUP/VERSION/KIND) to its CustomResourceDefinition file.
	CRDs map[string]string
	// Out is the directory the schema files go in.
	Out string
}

// Generate writes one schema file per kind into o.Out and returns their
// names.
func Generate(o Options) ([]string, error) {
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	var written []string
	write := func(g GVK, s map[string]any) error {
		b, err := json.MarshalIndent(s, "", " ")
		if err != nil {
			return err
		}
		name := filepath.Join(o.Out, g.FileName())
		written = append(written, name)
		return os.WriteFile(name, append(b, '\n'), 0o644)
	}
	for _, k := range o.Kinds {
		g, err := ParseGVK(k)
		if err != nil {
			return nil, err
		}
		doc, err := os.ReadFile(filepath.Join(o.SpecDir, g.specFile()))
		if err != nil {
			return nil, err
		}
		s, err := FromOpenAPI(doc, g)
		if err != nil {
			return nil, err
		}
		if err := write(g, s); err != nil {
			return nil, err
		}
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range o.CRDs {
			if !yield(k) {
				return
			}
		}
	}) {
		g, err := ParseGVK(k)
		if err != nil {
			return nil, err
		}
		doc, err := os.ReadFile(o.CRDs[k])
		if err != nil {
			return nil, err
		}
		s, err := FromCRD(doc, g)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.CRDs[k], err)
		}
		if err := write(g, s); err != nil {
			return nil, err
		}
	}
	return written, nil
}

// crdFlag collects -crd GROUP/VERSION/KIND=FILE.
type crdFlag map[string]string

func (c crdFlag) String() string { return fmt.Sprint(map[string]string(c)) }
func (c crdFlag) Set(s string) error {
	k, f, ok := strings.Cut(s, "=")
	if !ok || k == "" || f == "" {
		return errors.New("want GROUP/VERSION/KIND=FILE")
	}
	c[k] = f
	return nil
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("schemagen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := Options{CRDs: crdFlag{}}
	fs.StringVar(&o.SpecDir, "spec", "", "api/openapi-spec/v3 `DIR` of the k8s.io/kubernetes module")
	fs.StringVar(&o.Out, "out", "", "`DIR` to write the schemas into (…/vX.Y.Z-standalone-strict)")
	fs.Var(crdFlag(o.CRDs), "crd", "GROUP/VERSION/KIND=`FILE`: a custom resource's definition (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	o.Kinds = fs.Args()
	if o.SpecDir == "" || o.Out == "" || len(o.Kinds) == 0 {
		fmt.Fprintln(stderr, "usage: schemagen -spec DIR -out DIR [-crd G/V/K=FILE]... KIND...")
		return 2
	}
	written, err := Generate(o)
	if err != nil {
		fmt.Fprintln(stderr, "schemagen:", err)
		return 1
	}
	for _, w := range written {
		fmt.Fprintln(stdout, w)
	}
	return 0
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }
