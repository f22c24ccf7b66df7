package targets

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// ErrUnknownTopology is matched (errors.Is) by the error of Start for a
// name that is not a bundled topology.
var ErrUnknownTopology = errors.New("unknown topology")

// topology is one bundled target.
type topology struct {
	name        string
	description string // one line, for `target --list`
	handler     func() (http.Handler, error)
}

// topologies is the table of bundled targets, the one place that lists
// them. Keep it sorted by name.
var topologies = []topology{
	{
		name:        "echo",
		description: "answers every request with a fixed status and body after a fixed delay (default 200, 64 bytes, no delay)",
		handler:     func() (http.Handler, error) { return NewEcho(DefaultEchoConfig()) },
	},
}

func lookup(name string) (topology, bool) {
	i := slices.IndexFunc(topologies, func(t topology) bool { return t.name == name })
	if i < 0 {
		return topology{}, false
	}
	return topologies[i], true
}

// Names returns the names of the bundled topologies, sorted.
func Names() []string {
	names := make([]string, len(topologies))
	for i, t := range topologies {
		names[i] = t.name
	}
	slices.Sort(names)
	return names
}

// Describe returns a one-line description of the named topology, and
// whether it exists.
func Describe(name string) (string, bool) {
	t, ok := lookup(name)
	return t.description, ok
}

// Start serves the named topology, in its default configuration, on the
// TCP address listen (like "127.0.0.1:0"). To configure the echo target,
// use StartEcho.
func Start(name, listen string) (*Server, error) {
	t, ok := lookup(name)
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownTopology, name, strings.Join(Names(), ", "))
	}
	h, err := t.handler()
	if err != nil {
		return nil, fmt.Errorf("start target %s: %w", name, err)
	}
	return NewServer(listen, h)
}

// StartEcho serves the echo target configured by cfg on the TCP address
// listen.
func StartEcho(listen string, cfg EchoConfig) (*Server, error) {
	h, err := NewEcho(cfg)
	if err != nil {
		return nil, err
	}
	return NewServer(listen, h)
}
