package data

import (
	"context"
	"errors"
)

// Backend is the capacity of a data node: the service time and the limit
// on concurrent operations of a database, a replica or a cache server.
// Read and Write block for as long as one operation of that kind takes on
// the node, queueing when it is busy, and return an error when the node
// sheds the operation (like resource.ErrQueueFull) or ctx ends first. A Backend
// holds no data: the components of this package keep the keys and versions
// and charge a Backend for the time each operation costs.
//
// Implementations must be safe for concurrent use. The DB of
// targets/resource is the one the topologies use. A nil Backend, wherever one is accepted, costs
// nothing and never refuses.
type Backend interface {
	Read(ctx context.Context) error
	Write(ctx context.Context) error
}

// Store is a key-value store with a capacity model: [Table], [Cache],
// [Replicas], [Shards] and [Regions] are Stores and most of them wrap
// other Stores, so a topology is built by nesting them (a Cache over
// Shards of Replicas, say).
//
// Get returns the version of key that the store serving the read can see;
// a key never written has Version 0, which is a normal answer and not an
// error. Put writes a new version of key and returns it. Both block for
// the operation's service time and return an error only when the
// operation was not done: shed (ErrQueueFull, ErrTableFull), cancelled
// (ctx.Err()) or misrouted (ErrUnknownRegion).
//
// Implementations are safe for concurrent use.
type Store interface {
	Get(ctx context.Context, key string) (Item, error)
	Put(ctx context.Context, key string) (Item, error)
}

// Item is what a Store answers for a key. The stores keep versions, not
// values: a version is enough to see staleness and lost updates, and it
// keeps memory per key small and bounded.
type Item struct {
	// Key is the key asked for.
	Key string
	// Version counts the writes of Key on its primary: 1 after the first
	// Put, 2 after the second. 0 means never written (as far as the
	// serving store can see).
	Version uint64
	// Stale reports that the store which served the read knew the primary
	// held a newer version: a replica read within the replication lag of
	// a write. A Cache cannot know, so its hits report false.
	Stale bool
	// Source names what served the operation: a component name, with
	// "/primary" or "/replica-N" appended for Replicas. Topologies may
	// echo it in a response header so a test can see the routing.
	Source string
}

// Errors matched with errors.Is by callers that map them to HTTP
// statuses (503 for the first, 400 for the second).
var (
	// ErrTableFull is returned by a Put of a new key into a store that
	// already holds its maximum number of keys.
	ErrTableFull = errors.New("table full")
	// ErrUnknownRegion is returned by Regions for a client whose region
	// is not one of its regions.
	ErrUnknownRegion = errors.New("unknown region")
)

// read and write charge b, which may be nil (free).
func read(ctx context.Context, b Backend) error {
	if b == nil {
		return ctx.Err()
	}
	return b.Read(ctx)
}

func write(ctx context.Context, b Backend) error {
	if b == nil {
		return ctx.Err()
	}
	return b.Write(ctx)
}
