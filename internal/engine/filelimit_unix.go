//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package engine

import (
	"math"
	"syscall"
)

// fileLimit is the process's soft limit on open files, if it has one
// (RLIM_INFINITY is all ones, read as the largest value).
func fileLimit() (uint64, bool) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || uint64(lim.Cur) >= math.MaxInt64 {
		return 0, false
	}
	return uint64(lim.Cur), true
}
