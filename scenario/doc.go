// Package scenario is the model of a Surge scenario file: which systems to
// load (stages), which requests to send (the request mix) and at what rate
// (the load curve).
//
// A scenario is written in YAML:
//
//	name: quickstart
//	stages:
//	  - bundled: echo              # a reference topology from package targets
//	  - url: http://127.0.0.1:8080 # or any HTTP service of your own
//	requests:
//	  - method: GET
//	    path: /items/1
//	    headers: {Accept: application/json}
//	    timeout: 5s
//	load:
//	  constant: {rate: 2k/s, duration: 30s}
//
// [Load] and [Parse] decode such a file strictly: unknown fields, duplicate
// keys, values of the wrong type and every semantic problem are reported
// together, one per line, as FILE:LINE:COL: message. Each problem is an
// [*Error] and every error returned by Parse and [Scenario.Validate] matches
// [ErrInvalid] with errors.Is. After a successful Parse the defaults are
// applied ([Scenario.ApplyDefaults]) and the value is valid.
//
// [Rate] and [Duration] are the domain values of the file; they implement
// encoding.TextMarshaler and encoding.TextUnmarshaler so that YAML, JSON and
// command-line flags spell them the same way ("10k/s", "120/m", "1h30m").
//
// The package is pure: no goroutines, clocks or sockets. All functions are
// safe for concurrent use; a *Scenario is a plain value that must not be
// mutated while another goroutine reads it.
package scenario
