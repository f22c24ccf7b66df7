package har

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/surgeload/surge/internal/template"
	"github.com/surgeload/surge/scenario"
)

// vars supplies recorded values to templates.
type vars map[string]string

func (v vars) Var(name string) (string, bool) { s, ok := v[name]; return s, ok }

// outputDoc is the part of the output checkOutput reads back.
type outputDoc struct {
	Name   string `yaml:"name"`
	Stages []struct {
		URL string `yaml:"url"`
	} `yaml:"stages"`
	Journeys []struct {
		Steps []struct {
			Name    string                       `yaml:"name"`
			Method  string                       `yaml:"method"`
			Path    string                       `yaml:"path"`
			URL     string                       `yaml:"url"`
			Headers map[string]string            `yaml:"headers"`
			Body    string                       `yaml:"body"`
			Think   string                       `yaml:"think"`
			Expect  []int                        `yaml:"expect"`
			Extract map[string]map[string]string `yaml:"extract"`
		} `yaml:"steps"`
	} `yaml:"journeys"`
}

// checkOutput checks what Convert wrote against what it meant: the YAML
// reads back (with the YAML library the scenario parser uses) to exactly
// the steps built, every templated field compiles, and rendered with the
// recorded values of its variables it is the recorded text again — a
// variable replaced exactly the recorded value, and escaping lost nothing.
func checkOutput(out []byte, sum *Summary, steps []*step) error {
	var doc outputDoc
	if err := yaml.Unmarshal(out, &doc); err != nil {
		return fmt.Errorf("output is not YAML: %v", err)
	}
	if len(doc.Journeys) != 1 || len(doc.Journeys[0].Steps) != len(steps) {
		return fmt.Errorf("output has %d journeys, steps %v; want 1 with %d steps", len(doc.Journeys), doc.Journeys, len(steps))
	}
	if len(doc.Stages) != 1 || doc.Stages[0].URL != sum.Origin {
		return fmt.Errorf("stages %+v; want one with url %q", doc.Stages, sum.Origin)
	}
	recorded := vars{}
	for _, v := range sum.Vars {
		recorded[v.Name] = v.Value
	}
	render := func(what string, f *field, written string) error {
		if written != f.template() {
			return fmt.Errorf("%s reads back as %q; want %q", what, written, f.template())
		}
		tpl, err := template.Parse(written)
		if err != nil {
			return fmt.Errorf("%s %q: %v", what, written, err)
		}
		if got := tpl.RenderVars(1, 0, nil, recorded); got != f.raw {
			return fmt.Errorf("%s renders as %q; recorded %q", what, got, f.raw)
		}
		return nil
	}
	for i, s := range steps {
		w := doc.Journeys[0].Steps[i]
		if s.think > 0 {
			if d, err := scenario.ParseDuration(w.Think); err != nil || d.Std() != s.think {
				return fmt.Errorf("step %d: think %q; want %v", i, w.Think, s.think)
			}
			continue
		}
		if w.Name != s.name || w.Method != s.method {
			return fmt.Errorf("step %d: name %q method %q; want %q %q", i, w.Name, w.Method, s.name, s.method)
		}
		target := w.Path
		if s.absolute {
			target = w.URL
		}
		if err := render(fmt.Sprintf("step %d target", i), &s.target, target); err != nil {
			return err
		}
		if len(w.Headers) != len(s.headers) {
			return fmt.Errorf("step %d: headers %v; want %d", i, w.Headers, len(s.headers))
		}
		for j := range s.headers {
			h := &s.headers[j]
			if err := render(fmt.Sprintf("step %d header %s", i, h.name), &h.val, w.Headers[h.name]); err != nil {
				return err
			}
		}
		if err := render(fmt.Sprintf("step %d body", i), &s.body, w.Body); err != nil {
			return err
		}
		if len(w.Extract) != len(s.extract) {
			return fmt.Errorf("step %d: extract %v; want %d", i, w.Extract, len(s.extract))
		}
		for _, x := range s.extract {
			if got := w.Extract[x.name]; got["json"] != x.json || got["header"] != x.hdr {
				return fmt.Errorf("step %d: extract %s = %v; want json %q header %q", i, x.name, got, x.json, x.hdr)
			}
		}
	}
	return flatValidates(doc)
}

// flatValidates checks the request steps with the scenario parser as it is
// today: written as a flat mix of requests (the same name, method, path or
// URL, headers, body and expect), they must validate — every path, URL,
// header name and value, template and status the import writes is one the
// scenario accepts. (TestOutputValidates checks the journey itself.) A
// {{var NAME}} becomes the text "VAR": variables belong to journeys.
func flatValidates(doc outputDoc) error {
	yamlString := func(s string) string {
		return yamlString(varRef.ReplaceAllString(s, "VAR"))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\nstages:\n  - url: %s\n", yamlString(doc.Name), yamlString(doc.Stages[0].URL))
	b.WriteString("load: {constant: {rate: 1/s, duration: 1m}}\nrequests:\n")
	for _, s := range doc.Journeys[0].Steps {
		if s.Think != "" {
			continue
		}
		fmt.Fprintf(&b, "  - name: %s\n    method: %s\n", yamlString(s.Name), yamlString(s.Method))
		if s.URL != "" {
			fmt.Fprintf(&b, "    url: %s\n", yamlString(s.URL))
		} else {
			fmt.Fprintf(&b, "    path: %s\n", yamlString(s.Path))
		}
		if len(s.Headers) > 0 {
			b.WriteString("    headers:\n")
			for _, k := range slices.Sorted(maps.Keys(s.Headers)) {
				fmt.Fprintf(&b, "      %s: %s\n", yamlString(k), yamlString(s.Headers[k]))
			}
		}
		if s.Body != "" {
			fmt.Fprintf(&b, "    body: %s\n", yamlString(s.Body))
		}
		if len(s.Expect) > 0 {
			fmt.Fprintf(&b, "    expect: %v\n", strings.ReplaceAll(fmt.Sprint(s.Expect), " ", ", "))
		}
	}
	if _, err := scenario.Parse("flat.yaml", []byte(b.String()), scenario.Options{}); err != nil {
		return fmt.Errorf("the steps as a flat mix do not validate: %v\n%s", err, b.String())
	}
	return nil
}

var varRef = regexp.MustCompile(`\{\{var [A-Za-z0-9_]+\}\}`)

func TestOutputReadsBack(t *testing.T) {
	for _, tc := range convertCases {
		out, sum, steps, err := convert(load(t, tc.har), tc.opts)
		if err != nil {
			t.Fatalf("Convert(%s) = %v", tc.har, err)
		}
		if err := checkOutput(out, sum, steps); err != nil {
			t.Errorf("Convert(%s, %+v): %v", tc.har, tc.opts, err)
		}
	}
}

// TestOutputValidates feeds every golden output to the scenario parser:
// an imported recording must validate as it is.
//
// Journey decoding lands in package scenario separately (issue 17); until
// it is merged this test fails with an unknown-field error on journeys.
func TestOutputValidates(t *testing.T) {
	for _, tc := range convertCases {
		out, sum, err := Convert(load(t, tc.har), tc.opts)
		if err != nil {
			t.Fatalf("Convert(%s) = %v", tc.har, err)
		}
		sc, err := scenario.Parse(tc.golden, out, scenario.Options{})
		if err != nil {
			t.Errorf("scenario.Parse(Convert(%s)) = %v", tc.har, err)
			continue
		}
		if len(sc.Journeys) != 1 || len(sc.Journeys[0].Steps) != sum.Steps+sum.Thinks {
			t.Errorf("scenario.Parse(Convert(%s)): %d journeys; want 1 with %d steps", tc.har, len(sc.Journeys), sum.Steps+sum.Thinks)
		}
	}
}
