// Package cluster wraps hashicorp/memberlist: a Node joins the gossip
// cluster advertising small metadata (role, gRPC address, protocol version,
// core count) and reports members as they come and go.
//
// Gossip is discovery only: an address learned here carries no authority.
//
// Configuration (fleetConfig, the same on loopback and across machines):
// memberlist's DefaultLANConfig without compression and gossiping every
// 500 ms: probe one member a second (500 ms timeout), gossip to 3 members
// every 500 ms, give a join's or push/pull's TCP exchange 10 s. Agents
// never talk to each other; gossip carries failures and leaves, and a
// Surge coordinator learns each agent by its join. Until this release
// loopback used memberlist's DefaultLocalConfig (1 s TCP timeout, gossip
// every 100 ms, LZW compression), which let 200 agents on one machine
// starve their coordinator (bench/SCALE.md).
//
// After a successful Join a node catches up: it pulls the membership from
// the same seeds again CatchUpEvery later, and again after twice as long
// for as long as a pull teaches it a member (see CatchUpEvery), so a
// fleet that starts at once converges soon after its last join instead of
// waiting for gossip or memberlist's periodic push/pull.
//
// Metadata is encoded compactly (Meta.Encode: a format byte, then varints
// and length-prefixed strings; about 25 bytes for an agent, a third of its
// JSON); DecodeMeta reads that and the older JSON form, and refuses
// anything else with an error wrapping ErrMeta.
//
// memberlist's own log is detail: it is dropped unless Config.Verbose is
// set, and only what an operator should act on (a member of another
// cluster knocking, two members with one name) is summarised on
// Config.Log, once per remote host.
//
// Concurrency: a Node is safe for concurrent use. memberlist calls the
// delegates on its own goroutines; they only copy data under a mutex and
// never block. The catch-up runs on one goroutine per Node, ended by a
// later Join or by Close. Close stops every goroutine memberlist and the
// catch-up started, and nothing is written to Config.Log after it returns.
package cluster
