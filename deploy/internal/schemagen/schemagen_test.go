package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const openAPIDoc = `{"components": {"schemas": {
  "io.k8s.api.demo.v1.Widget": {
    "description": "a widget",
    "x-kubernetes-group-version-kind": [{"group": "demo.example.com", "version": "v1", "kind": "Widget"}],
    "properties": {
      "apiVersion": {"type": "string"},
      "kind": {"type": "string"},
      "spec": {"allOf": [{"$ref": "#/components/schemas/io.k8s.api.demo.v1.WidgetSpec"}], "default": {}, "description": "spec"}
    }
  },
  "io.k8s.api.demo.v1.WidgetSpec": {
    "type": "object",
    "properties": {
      "port": {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString"},
      "labels": {"type": "object", "additionalProperties": {"type": "string", "default": ""}},
      "note": {"type": "string", "nullable": true},
      "child": {"$ref": "#/components/schemas/io.k8s.api.demo.v1.WidgetSpec"}
    },
    "required": ["port"]
  },
  "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]},
  "io.k8s.api.demo.v1.Unused": {"type": "string"}
}}}`

// TestFromOpenAPI checks the conversion against the exact expected schema.
func TestFromOpenAPI(t *testing.T) {
	got, err := FromOpenAPI([]byte(openAPIDoc), GVK{"demo.example.com", "v1", "Widget"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{
 "additionalProperties": false,
 "definitions": {
  "io.k8s.api.demo.v1.WidgetSpec": {
   "additionalProperties": false,
   "properties": {
    "child": {"$ref": "#/definitions/io.k8s.api.demo.v1.WidgetSpec"},
    "labels": {"additionalProperties": {"type": "string"}, "type": "object"},
    "note": {"type": ["string", "null"]},
    "port": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString"}
   },
   "required": ["port"],
   "type": "object"
  },
  "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"oneOf": [{"type": "integer"}, {"type": "string"}]}
 },
 "properties": {
  "apiVersion": {"enum": ["demo.example.com/v1"], "type": "string"},
  "kind": {"enum": ["Widget"], "type": "string"},
  "spec": {"$ref": "#/definitions/io.k8s.api.demo.v1.WidgetSpec"}
 }
}`
	assertJSON(t, got, want)
}

func assertJSON(t *testing.T, got any, want string) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var w bytes.Buffer
	if err := json.Compact(&w, []byte(want)); err != nil {
		t.Fatal(err)
	}
	if string(g) != w.String() {
		t.Errorf("schema\n got %s\nwant %s", g, w.String())
	}
}

const crdDoc = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
spec:
  group: demo.example.com
  names: {kind: Gadget}
  versions:
    - name: v1
      schema:
        openAPIV3Schema:
          description: a gadget
          type: object
          properties:
            apiVersion: {type: string}
            kind: {type: string}
            metadata: {type: object}
            spec:
              type: object
              properties:
                port:
                  x-kubernetes-int-or-string: true
                  anyOf: [{type: integer}, {type: string}]
                extra:
                  type: object
                  x-kubernetes-preserve-unknown-fields: true
                  properties:
                    a: {type: string}
`

func TestFromCRD(t *testing.T) {
	got, err := FromCRD([]byte(crdDoc), GVK{"demo.example.com", "v1", "Gadget"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{
 "additionalProperties": false,
 "properties": {
  "apiVersion": {"enum": ["demo.example.com/v1"], "type": "string"},
  "kind": {"enum": ["Gadget"], "type": "string"},
  "metadata": {"type": "object"},
  "spec": {
   "additionalProperties": false,
   "properties": {
    "extra": {"properties": {"a": {"type": "string"}}, "type": "object"},
    "port": {"anyOf": [{"type": "integer"}, {"type": "string"}]}
   },
   "type": "object"
  }
 },
 "type": "object"
}`
	assertJSON(t, got, want)
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		fn   func() error
		want string
	}{
		{"kind not in the spec", func() error {
			_, err := FromOpenAPI([]byte(openAPIDoc), GVK{"demo.example.com", "v1", "Gizmo"})
			return err
		}, "demo.example.com/v1 Gizmo: not in the OpenAPI document"},
		{"dangling ref", func() error {
			doc := strings.Replace(openAPIDoc, `"io.k8s.apimachinery.pkg.util.intstr.IntOrString": {`, `"renamed": {`, 1)
			_, err := FromOpenAPI([]byte(doc), GVK{"demo.example.com", "v1", "Widget"})
			return err
		}, "no such schema"},
		{"bad JSON", func() error { _, err := FromOpenAPI([]byte("{"), GVK{"", "v1", "X"}); return err }, "OpenAPI document"},
		{"CRD of another kind", func() error {
			_, err := FromCRD([]byte(crdDoc), GVK{"demo.example.com", "v1", "Widget"})
			return err
		}, "not the CustomResourceDefinition of demo.example.com/v1 Widget"},
		{"CRD version missing", func() error {
			_, err := FromCRD([]byte(crdDoc), GVK{"demo.example.com", "v2", "Gadget"})
			return err
		}, "no version v2"},
		{"GVK", func() error { _, err := ParseGVK("Service"); return err }, `kind "Service": want VERSION/KIND`},
		{"GVK empty part", func() error { _, err := ParseGVK("apps//Deployment"); return err }, "want VERSION/KIND"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.fn()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to say %q", err, tt.want)
			}
		})
	}
}

func TestFileName(t *testing.T) {
	for in, want := range map[string]string{
		"v1/Service":                              "service-v1.json",
		"apps/v1/StatefulSet":                     "statefulset-apps-v1.json",
		"networking.k8s.io/v1/NetworkPolicy":      "networkpolicy-networking-v1.json",
		"monitoring.coreos.com/v1/ServiceMonitor": "servicemonitor-monitoring-v1.json",
	} {
		g, err := ParseGVK(in)
		if err != nil {
			t.Fatal(err)
		}
		if g.FileName() != want {
			t.Errorf("%s: %s, want %s", in, g.FileName(), want)
		}
	}
}

// TestRun runs the command on a spec directory and a CRD file.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "spec")
	if err := os.MkdirAll(spec, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(spec, "apis__demo.example.com__v1_openapi.json"), []byte(openAPIDoc), 0o644); err != nil {
		t.Fatal(err)
	}
	crd := filepath.Join(dir, "crd.yaml")
	if err := os.WriteFile(crd, []byte(crdDoc), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-spec", spec, "-out", out, "-crd", "demo.example.com/v1/Gadget=" + crd, "demo.example.com/v1/Widget"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, f := range []string{"widget-demo-v1.json", "gadget-demo-v1.json"} {
		b, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(b) {
			t.Errorf("%s is not JSON", f)
		}
	}
	if code := run([]string{"-spec", spec, "-out", out}, &stdout, &stderr); code != 2 {
		t.Errorf("no kinds: exit %d, want 2", code)
	}
}
