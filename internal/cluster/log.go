package cluster

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"sync"
)

// gossipLog is where memberlist logs. memberlist has no levels of its own
// worth exposing: a stray member of another cluster (an agent left over
// from an earlier run, still joining its old seed or probing its old
// coordinator's address) makes it print an [ERR] line every time it
// knocks, forever. So by default its lines are dropped, and only the few
// that mean the operator should do something are summarised on Log once
// per remote host; with Verbose every line is passed on, prefixed
// "gossip: ".
//
// Concurrency: memberlist writes from its own goroutines; every write to
// the underlying writer happens under mu, and none after close.
type gossipLog struct {
	w       io.Writer // nil: everything is dropped
	verbose bool

	mu     sync.Mutex
	closed bool
	told   map[string]bool // summaries written, by kind and remote host
}

func newGossipLog(w io.Writer, verbose bool) *gossipLog {
	return &gossipLog{w: w, verbose: verbose, told: map[string]bool{}}
}

// logger is the *log.Logger handed to memberlist. In verbose mode each
// line carries the time to the microsecond: gossip is about timing.
func (g *gossipLog) logger() *log.Logger {
	return log.New(g, "", log.Ltime|log.Lmicroseconds)
}

// close stops all output: once it returns, nothing more is written (the
// writer may belong to a test that has ended, or to a terminal view that
// has been torn down).
func (g *gossipLog) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// Write takes one line from memberlist's logger (log.Logger writes each
// message whole, in one call).
func (g *gossipLog) Write(p []byte) (int, error) {
	n := len(p)
	if g.w == nil {
		return n, nil
	}
	// Errors about its own sockets after Shutdown are noise, verbose or not.
	if bytes.Contains(p, []byte("use of closed network connection")) {
		return n, nil
	}
	line := strings.TrimRight(string(p), "\n")
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return n, nil
	}
	if g.verbose {
		fmt.Fprintf(g.w, "gossip: %s\n", line)
		return n, nil
	}
	s, ok := summarize(line)
	if !ok || g.told[s.kind+" "+s.host] {
		return n, nil
	}
	g.told[s.kind+" "+s.host] = true
	fmt.Fprintf(g.w, "gossip: %s (said once per address; verbose mode shows every line)\n", s.text)
	return n, nil
}

// summary is what one kind of memberlist line means to an operator.
type summary struct {
	kind string
	host string // the remote host, without its (often ephemeral) port
	text string
}

// unreadable are fragments of the lines memberlist prints for traffic it
// cannot read: encrypted with another key, not encrypted while this node
// is (or the reverse), or not memberlist at all. Not a bare "failed to
// receive": a stream from a member of this cluster that times out on a
// busy machine says that too.
var unreadable = []string{ // lower case: memberlist's wording varies
	"no installed keys could decrypt",
	"decrypt packet failed",
	"encryption is not configured",
	"remote state is not encrypted",
	"not supported",
	"failed to decode",
	"missing message type byte",
	"invalid msgtype",
	"invalid checksum",
	"packet too short",
	"unacceptable label",
}

// summarize maps a memberlist log line to the summary it deserves, if
// any. Everything else (probes, suspicion and refutation, push/pull,
// failed joins, which the caller of Join already hears about) is detail,
// and so is anything below a warning.
func summarize(line string) (summary, bool) {
	if !strings.Contains(line, "[ERR]") && !strings.Contains(line, "[WARN]") {
		return summary{}, false
	}
	msg := line
	if i := strings.Index(msg, "memberlist: "); i >= 0 {
		msg = msg[i+len("memberlist: "):]
	}
	host := remoteHost(msg)
	switch {
	case strings.Contains(msg, "Got ping for unexpected node"):
		return summary{kind: "unexpected", host: host, text: fmt.Sprintf(
			"%s keeps probing this address for another node (%s): a member of an earlier cluster at this address is still looked for",
			hostOrUnknown(host), strings.TrimSpace(msg))}, true
	case strings.Contains(msg, "Conflicting address for"):
		return summary{kind: "conflict", host: host, text: fmt.Sprintf(
			"two members use the same name: %s", strings.TrimSpace(msg))}, true
	}
	lower := strings.ToLower(msg)
	for _, f := range unreadable {
		if strings.Contains(lower, f) {
			return summary{kind: "unreadable", host: host, text: fmt.Sprintf(
				"ignoring gossip from %s that this node cannot read (%s): a member with another gossip key or none, such as an agent left over from an earlier run",
				hostOrUnknown(host), strings.TrimSpace(msg))}, true
		}
	}
	return summary{}, false
}

// remoteHost is the host of memberlist's "from=host:port" suffix.
func remoteHost(msg string) string {
	i := strings.LastIndex(msg, "from=")
	if i < 0 {
		return ""
	}
	addr := strings.Fields(msg[i+len("from="):])
	if len(addr) == 0 {
		return ""
	}
	if h, _, err := net.SplitHostPort(addr[0]); err == nil {
		return h
	}
	return addr[0]
}

func hostOrUnknown(h string) string {
	if h == "" {
		return "an unknown address"
	}
	return h
}
