// Package agent is a Surge agent: it joins the gossip cluster advertising
// its gRPC address, serves the Session stream a coordinator opens, and
// fires its assignments with the engine, streaming one snapshot per
// interval back.
//
// An agent holds a lease renewed by every message from its coordinator
// (heartbeats arrive every second). When the lease expires or the stream
// breaks, the agent stops firing at once: a lost coordinator never leaves
// load running.
//
// Concurrency: an Agent serves one session at a time. Within a session, one
// goroutine receives, the job goroutine fires and emits, and every Send is
// serialised by a mutex. Close stops the gRPC server, which ends any
// session (a session whose jobs it stopped waits, within Close's grace,
// for the coordinator to hang up after their Done), and then leaves the
// cluster: the coordinator reads the Done before it hears of the leave.
package agent
