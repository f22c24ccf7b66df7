// Package cluster wraps hashicorp/memberlist: a Node joins the gossip
// cluster advertising small metadata (role, gRPC address, protocol version,
// core count) and reports members as they come and go.
//
// Gossip is discovery only: an address learned here carries no authority.
//
// memberlist's own log is detail: it is dropped unless Config.Verbose is
// set, and only what an operator should act on (a member of another
// cluster knocking, two members with one name) is summarised on
// Config.Log, once per remote host.
//
// Concurrency: a Node is safe for concurrent use. memberlist calls the
// delegates on its own goroutines; they only copy data under a mutex and
// never block. Close stops every goroutine memberlist started, and nothing
// is written to Config.Log after it returns.
package cluster
