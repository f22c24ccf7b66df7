package cluster

import (
	"bytes"
	"net"
	"strings"
	"sync"
	"testing"
)

// lockedBuffer is a bytes.Buffer safe for memberlist's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestGossipLogQuietUnlessVerbose: members of other clusters keep knocking
// (one with another gossip key, one with none, and stray packets, as an
// agent left over from an earlier run does every 2 s). Without Verbose the
// log gets one summary and none of memberlist's lines; with it, memberlist's
// lines, each prefixed.
func TestGossipLogQuietUnlessVerbose(t *testing.T) {
	for _, verbose := range []bool{false, true} {
		name := "quiet"
		if verbose {
			name = "verbose"
		}
		t.Run(name, func(t *testing.T) {
			var logb lockedBuffer
			key := bytes.Repeat([]byte{1}, 32)
			c, err := Start(Config{Name: "coord", Listen: "127.0.0.1:0", SecretKey: key, Log: &logb, Verbose: verbose,
				Meta: Meta{Role: RoleCoordinator, Protocol: 1}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			strays := []*Node{
				startNodeKey(t, "wrong-key", bytes.Repeat([]byte{2}, 32)),
				startNodeKey(t, "no-key", nil),
			}
			knock := func() {
				for _, s := range strays {
					if _, err := s.Join([]string{c.Addr()}); err == nil {
						t.Fatalf("%s joined a cluster with another key", s.Name())
					}
				}
				u, err := net.Dial("udp", c.Addr())
				if err != nil {
					t.Fatal(err)
				}
				defer u.Close()
				_, _ = u.Write([]byte("not memberlist, or not for this cluster"))
			}
			// Knock until the coordinator has logged about it, then a few
			// more times: a stray never stops.
			want := "ignoring gossip from 127.0.0.1 that this node cannot read"
			if verbose {
				want = "memberlist: failed to receive: no installed keys could decrypt the message"
			}
			waitFor(t, "the coordinator to log about the strays", func() bool {
				knock()
				return strings.Contains(logb.String(), want)
			})
			for range 3 {
				knock()
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			out := logb.String()
			lines := strings.Split(strings.TrimSpace(out), "\n")
			for _, l := range lines {
				if !strings.HasPrefix(l, "gossip: ") {
					t.Errorf("log line %q is not prefixed gossip:", l)
				}
			}
			if !verbose {
				if len(lines) != 1 || strings.Contains(out, "memberlist") || strings.Contains(out, "[ERR]") {
					t.Errorf("log without verbose:\n%s\nwant one summary line and nothing of memberlist's", out)
				}
				return
			}
			for _, w := range []string{"[ERR] memberlist: ", "[DEBUG] memberlist: ", "from=127.0.0.1:"} {
				if !strings.Contains(out, w) {
					t.Errorf("verbose log:\n%s\nwant lines with %q", out, w)
				}
			}
		})
	}
}

func startNodeKey(t *testing.T, name string, key []byte) *Node {
	t.Helper()
	n, err := Start(Config{Name: name, Listen: "127.0.0.1:0", SecretKey: key,
		Meta: Meta{Role: RoleAgent, GRPC: "127.0.0.1:7001", Protocol: 1}})
	if err != nil {
		t.Fatalf("Start(%s): %v", name, err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func TestGossipLogSilentAfterClose(t *testing.T) {
	var b bytes.Buffer
	g := newGossipLog(&b, true)
	g.logger().Printf("[DEBUG] memberlist: before")
	g.close()
	g.logger().Printf("[ERR] memberlist: after")
	if out := b.String(); !strings.Contains(out, "gossip: ") || !strings.Contains(out, "before") || strings.Contains(out, "after") {
		t.Errorf("log %q; want the line before close only", out)
	}
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		line string
		kind string // "" = no summary
		host string
	}{
		{"12:00:00.000001 [ERR] memberlist: failed to receive: No installed keys could decrypt the message from=127.0.0.1:40123", "unreadable", "127.0.0.1"},
		{"12:00:00.000001 [ERR] memberlist: Decrypt packet failed: no installed keys could decrypt the message from=10.0.0.7:7946", "unreadable", "10.0.0.7"},
		{"[ERR] memberlist: failed to receive: Encryption is configured but remote state is not encrypted from=[::1]:5000", "unreadable", "::1"},
		{"[ERR] memberlist: failed to receive: remote state is encrypted and encryption is not configured from=127.0.0.1:52948", "unreadable", "127.0.0.1"},
		{"[ERR] memberlist: msg type (110) not supported from=127.0.0.1:1", "unreadable", "127.0.0.1"},
		{"[ERR] memberlist: failed to receive: encryption is configured but remote state is not encrypted from=127.0.0.1:50318", "unreadable", "127.0.0.1"},
		{"[ERR] memberlist: Decrypt packet failed: unsupported encryption version 110 from=127.0.0.1:33074", "unreadable", "127.0.0.1"},
		{"[WARN] memberlist: Got ping for unexpected node 'coordinator-1a2b3c' from=127.0.0.1:7947", "unexpected", "127.0.0.1"},
		{"[ERR] memberlist: Conflicting address for agent-1. Mine: 127.0.0.1:1 Theirs: 127.0.0.1:2 Old state: 0", "conflict", ""},
		{"[DEBUG] memberlist: Stream connection from=127.0.0.1:40123", "", ""},
		{"[DEBUG] memberlist: failed to join 127.0.0.1:17946: remote state is encrypted and encryption is not configured", "", ""},
		{"[ERR] memberlist: failed to receive: read tcp 127.0.0.1:7946->127.0.0.1:40123: i/o timeout from=127.0.0.1:40123", "", ""},
		{"[INFO] memberlist: Suspect agent-1 has failed, no acks received", "", ""},
		{"[INFO] memberlist: Marking agent-1 as failed, suspect timeout reached (0 peer confirmations)", "", ""},
		{"[WARN] memberlist: Refuting a suspect message (from: coord)", "", ""},
		{"[WARN] memberlist: Failed to resolve 127.0.0.1:1: dial tcp 127.0.0.1:1: connect: connection refused", "", ""},
		{"[ERR] memberlist: Push/Pull with agent-2 failed: dial tcp 127.0.0.1:2: i/o timeout", "", ""},
	}
	for _, tt := range tests {
		s, ok := summarize(tt.line)
		if ok != (tt.kind != "") || s.kind != tt.kind || s.host != tt.host {
			t.Errorf("summarize(%q) = %+v, %v; want kind %q host %q", tt.line, s, ok, tt.kind, tt.host)
		}
	}
}
