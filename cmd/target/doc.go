// Command target runs one of Surge's reference target servers, so a load
// test has a system of known behaviour to run against:
//
//	target                                   # echo on 127.0.0.1:8080
//	target --delay 20ms --body-bytes 1024    # a slower echo with a bigger body
//	target --list                            # the bundled topologies
//	target --topology cache                  # stage 3 of the staircase, default capacities
//	target --topology lb --print-config      # its default config as JSON, to copy
//	target --topology lb --config lb.json    # overrides from a JSON file
//	target --version                         # module version, commit, Go version
//
// The eight staircase topologies (single-box, split, cache, lb, replicas,
// sharding, queue, multi-region) serve GET /items/{id}, POST /items,
// POST /jobs, GET /jobs/{id}, GET /health and GET /metrics; see
// targets.StartTopology. A --config file sets only the fields it names;
// an unknown field or a value out of range is a usage error naming it.
//
// It prints "target NAME listening on http://ADDR" once it serves, and
// shuts down gracefully on SIGINT or SIGTERM.
//
// Exit codes: 0 after a clean shutdown, 2 on a usage error (bad flag,
// unknown topology, bad config), 3 when it cannot listen or fails while serving.
package main
