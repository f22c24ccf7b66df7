//go:build linux && !amd64 && !arm64

package engine

// sysSchedSetattr is unknown here: the precise thread keeps the
// scheduler's default slice.
const sysSchedSetattr = 0
