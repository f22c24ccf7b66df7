//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package h1

import "syscall"

const canPeek = true

// peek looks at the socket's receive queue without consuming it or
// waiting: (0, EAGAIN) is an open, quiet connection; (0, nil) is EOF.
func peek(fd uintptr, b []byte) (int, error) {
	n, _, err := syscall.Recvfrom(int(fd), b, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return n, err
}
