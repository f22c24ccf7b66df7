// Package exitcode holds the exit codes every Surge command shares and
// runs a cobra command so that each error ends as one "error: …" line on
// stderr and the right code.
//
// The codes are constants and Execute keeps no state of its own; a command
// it runs must not be shared between goroutines.
package exitcode
