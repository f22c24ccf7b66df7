// Package agent is a Surge agent: it joins the gossip cluster advertising
// its gRPC address, serves the Session stream a coordinator opens, and
// fires its assignments with the engine, streaming one snapshot per
// interval back.
//
// An agent holds a lease renewed by every message from its coordinator
// (heartbeats arrive every second). When the lease expires the agent stops
// firing at once, and checks it before every send: a lost coordinator
// never leaves load running past it.
//
// A session outlives its streams. When a stream breaks (a network blip),
// the agent fires on within its lease and keeps every result (snapshot,
// Done) until the coordinator acknowledges it, up to maxOutboxBytes; the
// coordinator opens a new stream with Hello{resume} and the agent sends
// again, in order, every result after the last acknowledged. A coordinator
// that closes its side (or sends Stop{end}) ends the session; a session
// whose lease ran out only serves its kept results.
//
// Concurrency: an Agent plays one run's session at a time. Within it, one
// goroutine per stream receives and handles commands (serialised by
// cmdMu, which no send is made under), each job goroutine fires and queues
// its results, and one pump goroutine per stream sends them; every Send on
// a stream is serialised by its mutex. A watcher goroutine ends the
// session when its lease runs out. Close stops the gRPC server, which
// ends any session (a session whose jobs it stopped waits, within Close's
// grace, for the coordinator to hang up after their Done), and then
// leaves the cluster: the coordinator reads the Done before it hears of
// the leave.
package agent
