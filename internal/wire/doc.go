// Package wire converts between the generated protobuf messages of
// proto/surge/v1 and Surge's domain types. It is the only package besides
// the gRPC glue in internal/agent and internal/coordinator that imports the
// generated code.
//
// Everything decoded here comes from the network and is untrusted: every
// FromProto function validates what it builds, returns an error wrapping
// ErrMalformed for anything out of range, and never panics.
package wire
