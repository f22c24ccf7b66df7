//go:build !(linux || darwin || freebsd)

package main

func freeBytes(string) (int64, error) { return 0, errNoStatfs }
