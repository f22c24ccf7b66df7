package reportschema

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/surgeload/surge/reporters"
)

// ErrInvalid is wrapped by Validate's errors: the document is not JSON,
// or not a report of schema reporters.Schema.
var ErrInvalid = errors.New("report does not match the schema " + reporters.Schema)

// compiled is reporters.JSONSchema compiled, once. A failure is a bug in
// the embedded schema, reported by every Validate.
var compiled = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(reporters.JSONSchema))
	if err != nil {
		return nil, fmt.Errorf("report schema: %w", err)
	}
	obj, _ := doc.(map[string]any)
	id, _ := obj["$id"].(string)
	if id == "" {
		return nil, errors.New("report schema: no $id")
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat() // date-time is an assertion, not only an annotation
	if err := c.AddResource(id, doc); err != nil {
		return nil, fmt.Errorf("report schema: %w", err)
	}
	sch, err := c.Compile(id)
	if err != nil {
		return nil, fmt.Errorf("report schema: %w", err)
	}
	return sch, nil
})

// Validate checks that data is exactly one JSON value that is a valid
// report.json of schema reporters.Schema. The error wraps ErrInvalid and
// lists every problem found, each at its JSON pointer:
//
//	report does not match the schema surge.report/v1: at '/stages/0': additional properties 'bogus' not allowed; at '/stages/0/intended': minimum: got -1, want 0
func Validate(data []byte) error {
	sch, err := compiled()
	if err != nil {
		return err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%w: not JSON: %w", ErrInvalid, err)
	}
	err = sch.Validate(doc)
	if ve, ok := errors.AsType[*jsonschema.ValidationError](err); ok {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(problems(ve), "; "))
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// problems lists the leaves of a validation error's tree, the specific
// failures (the inner nodes only say that a $ref or a property failed),
// sorted so that the same report gives the same message.
func problems(ve *jsonschema.ValidationError) []string {
	var out []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, e.Error()) // a leaf: "at '/json/pointer': what is wrong"
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	slices.Sort(out)
	return slices.Compact(out)
}
