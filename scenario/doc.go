// Package scenario is the model of a Surge scenario file: which systems to
// load (stages), which requests to send (a weighted mix of request
// templates), at what rate (the load curve), what makes the run pass
// (thresholds), what it may never do (safety) and the inputs of the
// capacity plan.
//
// A scenario is written in YAML:
//
//	name: launch-day
//	seed: 42
//	stages:
//	  - bundled: cache                # a reference topology from package targets
//	  - url: http://127.0.0.1:8080    # or any HTTP service of your own
//	requests:
//	  - {name: read-item, path: "/items/{{zipf 1.1 1000000}}", weight: 90}
//	  - {name: write-item, method: POST, path: /items, body: '{"n": {{seq}}}', weight: 10, expect: [201]}
//	load:
//	  arrival: poisson
//	  diurnal: {daily_requests: 100M, peak_multiplier: 5x, peak_hour: 20}
//	  spikes: [{at: 40%, multiplier: 5x, ramp: 30s, hold: 2m}]
//	  compress: 24h in 10m
//	client: {max_conns: 64, timeout: 5s}   # how agents talk to the targets
//	thresholds: ["p99 < 250ms", "error_rate < 1%"]
//	safety: {max_rate: 50k/s, max_duration: 1h, on_agent_loss: degrade, max_lost: 1%}
//
// Instead of requests, a scenario may have journeys (one or the other):
// each arrival starts one instance of a journey drawn by weight, whose
// steps run in order. A step is a request (every field of a request but
// weight, plus loop, extract and checks) or a think time; a later step
// uses what an earlier one extracted as {{var NAME}}:
//
//	journeys:
//	  - name: shop                  # unique, no "/"
//	    weight: 2                   # default 1
//	    cookies: true               # a cookie jar per instance (default)
//	    on_error: abort             # or continue
//	    steps:
//	      - name: login             # default "METHOD path", unique in the journey
//	        method: POST
//	        path: /login
//	        extract:                # NAME: one of json, header, regex (+ group), cookie
//	          token: {json: $.token}          # $ then .name, ['name'] or [index]
//	          id: {regex: 'id=(\d+)', group: 1}
//	        checks:                 # also on requests of the mix
//	          - {json: $.user, equals: u1}    # or matches: RE2; neither: present
//	          - {body_contains: token}        # or body_not_contains; header: NAME
//	      - think: 500ms            # or {uniform: [200ms, 2s]} or {exponential: 1s}
//	      - path: /shop/items/{{zipf 1.1 1000}}
//	        loop: 3                 # 1 to MaxLoop
//	        headers: {Authorization: "Bearer {{var token}}"}
//
// A variable must be extracted by an earlier step of the same journey; a
// later extraction of the same name overwrites it. Thresholds select a
// journey ({journey=shop}) or a step ({step=shop/login}, or {step=login}
// when no other journey has a step of that name), and two metrics are of
// whole journeys: journey_duration.p99 (.pN, .max, .mean) and
// journey_error_rate. The extractions and checks are compiled by Parse
// (Compiled.Extract and Compiled.Checks, package internal/extract).
//
// [Load] and [Parse] decode such a file strictly: unknown fields, duplicate
// keys, values of the wrong type and every semantic problem are reported
// together, one per line, as FILE:LINE:COL: message. A problem inside a
// string — a template or threshold that does not parse — points at its
// very character when the string is written on one line (plain or quoted)
// or in a literal block. Each problem is an [*Error] and every error
// returned by Parse and [Scenario.Validate] matches [ErrInvalid] with
// errors.Is. Problems that do not stop a run, such as a known bundled
// topology that this build does not ship, are warnings, given to
// Options.Warn.
//
// The client block ([Client]) may also be set per stage, where it
// overrides the scenario's block field by field: [Scenario.StageClient]
// merges the two. Its fields are pointers so that an explicit false or 0
// is told apart from an absent field; what no block sets is left to the
// command that runs the scenario.
//
// The checks include the load curve of every stage against the scenario's
// safety caps: its played duration, and an upper bound of its peak rate
// computed from the scenario alone ([Curve.PeakBound]). This package does
// not build curves or schedules; internal/schedule does, exactly.
//
// After a successful Parse the defaults are applied
// ([Scenario.ApplyDefaults]), the request templates are compiled
// (Request.Compiled), the data files they read are loaded (Scenario.Data),
// the thresholds are parsed (Threshold.Parsed), and [Scenario.Position]
// and [Scenario.Errorf] tell where any value was written.
//
// The domain values of the file implement encoding.TextMarshaler and
// encoding.TextUnmarshaler, so YAML, JSON and command-line flags spell
// them the same way: [Rate] ("10k/s", "120/m"), [Duration] ("1h30m"),
// [Multiplier] ("5x"), [Percent] ("90%"), [Count] ("100M"), [Size]
// ("1MiB"), [SpikeAt] ("40%" or "3m"), [Compress] ("24h in 10m") and
// [ThresholdExpr].
//
// The package is pure apart from Load, which reads the scenario file and
// its data files: no goroutines, clocks or sockets. All functions are safe
// for concurrent use; a *Scenario is a plain value that must not be
// mutated while another goroutine reads it (its compiled templates and
// data tables are immutable and may be shared freely).
package scenario
