//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package engine

// fileLimit: elsewhere the limit is not checked before a run (running out
// is still classed local_resource).
func fileLimit() (uint64, bool) { return 0, false }
