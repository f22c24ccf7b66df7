// Package template renders per-arrival values into request paths, header
// values and bodies: sequence numbers, uniform integers, Zipf-distributed
// keys, random choices, UUIDs and rows of CSV or JSON-lines data files. It
// also holds Mix, the O(1) weighted choice of which request an arrival sends.
//
//	t, err := template.Parse("/items/{{zipf 1.1 1000000}}?trace={{uuid}}")
//	if err != nil {
//		return err // an *Error with the byte offset of the problem
//	}
//	buf = t.Append(buf[:0], seed, i, nil) // arrival i of the global schedule
//
// # Determinism
//
// Every value is a pure function of (seed, arrival index i, action position k)
// computed by a SplitMix64-style keyed hash (see rand.go); there is no shared
// generator. Whatever the split of the global schedule across agents, and in
// whatever order an agent renders its arrivals, arrival i renders the same
// bytes everywhere. The hash is written out in this package, not taken from
// math/rand, so agents built with different Go releases agree too.
//
// Data-file actions are deterministic the same way: {{csv FILE COLUMN}} reads
// row i mod rows, so the file is used in turn, row after row, and all the
// actions of one arrival that name the same file read the same row (a user id
// and that user's token stay together).
//
// # Concurrency
//
// Templates, Tables and Mixes are immutable once built and safe for
// concurrent use without locks; Append writes only to the slice it is given.
// The package starts no goroutines and reads no clock; the loaders read only
// the io.Reader they are given, up to a size limit.
//
// # Hot path
//
// Append and Mix.Pick are called once per arrival by the firing engine. They
// do not allocate (Append only grows dst), cost a few nanoseconds per random
// action, and a Zipf draw is O(1) whatever the key space (rejection-inversion,
// see zipf.go), so {{zipf 0.99 1000000000}} needs no table.
package template
