// Package cluster wraps hashicorp/memberlist: a Node joins the gossip
// cluster advertising small metadata (role, gRPC address, protocol version,
// core count) and reports members as they come and go.
//
// Gossip is discovery only: an address learned here carries no authority.
//
// Concurrency: a Node is safe for concurrent use. memberlist calls the
// delegates on its own goroutines; they only copy data under a mutex and
// never block. Close stops every goroutine memberlist started.
package cluster
