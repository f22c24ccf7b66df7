// Package memnet is an in-memory network for the tests of Surge's
// reference targets: listeners and a dialer whose connections are
// net.Pipe pairs, so that real HTTP servers, clients and proxies can run
// inside a testing/synctest bubble.
//
// In a bubble, time only advances when every goroutine is blocked on
// something only the bubble can undo (a channel, a timer, a WaitGroup). A
// goroutine waiting on a real socket is not, so a test over loopback TCP
// can neither use fake time nor be sure which goroutines have finished.
// Over memnet, every wait is on channels made inside the bubble: timeouts,
// health-check intervals and service times all run on the bubble's fake
// clock and take exactly as long as configured, however busy the host is.
//
// A Network is safe for concurrent use. A Listener is closed by its
// server's Close (httptest.Server closes its listener); dialling a host
// whose listener is closed, or that never listened, fails at once with an
// error matching syscall.ECONNREFUSED, as a loopback dial to a closed port
// does.
package memnet
