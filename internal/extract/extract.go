// Package extract reads values out of HTTP responses for journeys: the
// extractions a step makes ({{var NAME}} in later steps) and the checks a
// request or step asserts. It is pure: no sockets, no clocks.
package extract

import (
	"errors"
	"net/http"
)

// ErrSpec is wrapped by Compile and CompileCheck errors: a specification
// that can never work (a bad JSON path, a regex that does not compile, a
// group the regex does not have, no source or two).
var ErrSpec = errors.New("bad extraction")

// ErrNoMatch is wrapped by Extract errors: the response has no such value.
var ErrNoMatch = errors.New("no match")

// Response is what extractions and checks read: a response's status,
// headers, and its body up to the client's read limit.
type Response struct {
	Status int
	Header http.Header
	// Body is the body read, at most the client's max_body_bytes.
	Body []byte
	// Truncated is set when the body was longer than Body.
	Truncated bool
}

// Spec says where one value comes from. Exactly one of JSON, Header, Regex
// and Cookie is set.
type Spec struct {
	// JSON is a path into a JSON body: $ then .name, ['name'], ["name"] or
	// [index] steps, e.g. $.items[0].id (no wildcards, slices, filters or
	// ..). A string renders as is, a number, true, false or null as
	// written in the body, an object or array as its compact JSON.
	JSON string `yaml:"json" json:"json,omitempty"`
	// Header is a response header's name; its first value.
	Header string `yaml:"header" json:"header,omitempty"`
	// Regex is a regular expression (RE2) matched on the body; the value is
	// capture group Group (default 1 when the regex has a group, else 0).
	Regex string `yaml:"regex" json:"regex,omitempty"`
	Group *int   `yaml:"group" json:"group,omitempty"`
	// Cookie is the name of a cookie the response sets (Set-Cookie); a
	// Set-Cookie that deletes it (empty value, Max-Age < 0) is no match.
	Cookie string `yaml:"cookie" json:"cookie,omitempty"`
}

// CheckSpec is one assertion on a response. Exactly one of BodyContains,
// BodyNotContains, JSON and Header is set; JSON and Header may add Equals
// or Matches (neither: the value must be present).
type CheckSpec struct {
	// Name labels the check in reports; default: a description of it.
	Name            string  `yaml:"name" json:"name,omitempty"`
	BodyContains    string  `yaml:"body_contains" json:"body_contains,omitempty"`
	BodyNotContains string  `yaml:"body_not_contains" json:"body_not_contains,omitempty"`
	JSON            string  `yaml:"json" json:"json,omitempty"`
	Header          string  `yaml:"header" json:"header,omitempty"`
	Equals          *string `yaml:"equals" json:"equals,omitempty"`
	Matches         string  `yaml:"matches" json:"matches,omitempty"`
}
