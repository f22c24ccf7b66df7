package scenario

import (
	"encoding/json"
	"fmt"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
)

// TopologyOptions are a bundled stage's options, kept as the JSON object
// that a topology's configuration decodes (targets.DecodeConfig), so the
// same text works in a scenario and in `target --config`.
type TopologyOptions json.RawMessage

// UnmarshalYAML reads any YAML mapping into its JSON form.
func (o *TopologyOptions) UnmarshalYAML(n ast.Node) error {
	var v map[string]any
	if err := yaml.NodeToValue(n, &v); err != nil {
		return fmt.Errorf("options must be a map of the topology's settings: %w", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("options: %w", err)
	}
	*o = b
	return nil
}

// MarshalJSON writes the options as the JSON object they hold.
func (o TopologyOptions) MarshalJSON() ([]byte, error) {
	if len(o) == 0 {
		return []byte("null"), nil
	}
	return o, nil
}
