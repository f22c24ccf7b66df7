package cluster

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func startNode(t *testing.T, name string, meta Meta) *Node {
	t.Helper()
	n, err := Start(Config{Name: name, Listen: "127.0.0.1:0", Meta: meta, FastFailureDetection: true})
	if err != nil {
		t.Fatalf("Start(%s): %v", name, err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// waitFor polls cond until it holds or 10 s pass (a bound, not a timing
// assertion: convergence normally takes ~100 ms).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMembership(t *testing.T) {
	c := startNode(t, "coord", Meta{Role: RoleCoordinator, Protocol: 1})
	a1 := startNode(t, "agent-1", Meta{Role: RoleAgent, GRPC: "127.0.0.1:7001", Protocol: 1, Cores: 2})
	a2 := startNode(t, "agent-2", Meta{Role: RoleAgent, GRPC: "127.0.0.1:7002", Protocol: 1, Cores: 4})
	for _, a := range []*Node{a1, a2} {
		if k, err := a.Join([]string{c.Addr()}); err != nil || k != 1 {
			t.Fatalf("Join = %d, %v", k, err)
		}
	}
	waitFor(t, "two agents seen by the coordinator", func() bool { return len(c.Members()) == 2 })
	ms := c.Members()
	if ms[0].Name != "agent-1" || ms[0].Meta.GRPC != "127.0.0.1:7001" || ms[1].Meta.Cores != 4 || ms[0].MetaErr != nil {
		t.Errorf("members = %+v", ms)
	}
	// Join events arrive for both agents and never for the node itself.
	joined := map[string]bool{}
	waitFor(t, "join events", func() bool {
		for _, ev := range c.Events() {
			if ev.Kind == Joined {
				joined[ev.Member.Name] = true
			}
		}
		return joined["agent-1"] && joined["agent-2"]
	})
	if joined["coord"] {
		t.Error("the coordinator saw itself join")
	}
	// A graceful leave is seen as an event and the member disappears.
	if err := a2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a2.Close(); err != nil {
		t.Errorf("second Close = %v; want nil (idempotent)", err)
	}
	left := false
	waitFor(t, "agent-2 to leave", func() bool {
		for _, ev := range c.Events() {
			left = left || (ev.Kind == Left && ev.Member.Name == "agent-2")
		}
		return left && len(c.Members()) == 1
	})
}

func TestStartErrors(t *testing.T) {
	if _, err := Start(Config{Listen: "127.0.0.1:0"}); err == nil {
		t.Error("Start without a name succeeded")
	}
	if _, err := Start(Config{Name: "x", Listen: "localhost"}); err == nil || !strings.Contains(err.Error(), "must be ip:port") {
		t.Errorf("Start(bad listen) = %v", err)
	}
	n := startNode(t, "taken", Meta{Role: RoleCoordinator})
	if _, err := Start(Config{Name: "y", Listen: n.Addr()}); err == nil || !strings.Contains(err.Error(), "gossip listen") {
		t.Errorf("Start on a busy port = %v; want a gossip listen error", err)
	}
	big := Meta{Role: RoleAgent, GRPC: "127.0.0.1:1", Version: strings.Repeat("v", 600)}
	if _, err := Start(Config{Name: "z", Listen: "127.0.0.1:0", Meta: big}); !errors.Is(err, ErrMeta) {
		t.Errorf("Start with oversize meta = %v; want ErrMeta", err)
	}
}

func TestDecodeMeta(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" = valid
	}{
		{`{"role":"agent","grpc":"127.0.0.1:7000","proto":1,"cores":2}`, ""},
		{`{"role":"coordinator","proto":1}`, ""},
		{``, "empty"},
		{`{`, "unexpected EOF"},
		{`{"role":"boss"}`, `unknown role "boss"`},
		{`{"role":"agent","grpc":"nohost"}`, "not host:port"},
		{`{"role":"agent","grpc":"h:99999"}`, "gRPC port"},
		{`{"role":"agent","grpc":"h:1","cores":-1}`, "-1 cores"},
	}
	for _, tt := range tests {
		_, err := DecodeMeta([]byte(tt.in))
		if (tt.want == "") != (err == nil) || (err != nil && (!errors.Is(err, ErrMeta) || !strings.Contains(err.Error(), tt.want))) {
			t.Errorf("DecodeMeta(%s) = %v; want %q", tt.in, err, tt.want)
		}
	}
}

// TestMetaCompact: Encode writes the compact format, DecodeMeta reads it
// back and refuses a malformed one with a clear error.
func TestMetaCompact(t *testing.T) {
	agent := Meta{Role: RoleAgent, GRPC: "127.0.0.1:7000", Protocol: 3, Cores: 300, Version: "0.1.0"}
	for _, m := range []Meta{agent, {Role: RoleCoordinator, Protocol: 1}} {
		b, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != metaCompactV1 {
			t.Errorf("Encode(%+v) starts with %#x; want the compact format %#x", m, b[0], metaCompactV1)
		}
		got, err := DecodeMeta(b)
		if err != nil || got != m {
			t.Errorf("DecodeMeta(Encode(%+v)) = %+v, %v", m, got, err)
		}
	}
	b, _ := agent.Encode()
	if want := []byte{metaCompactV1, metaRoleAgent, 3, 0xac, 0x02, 14}; string(b[:6]) != string(want) || len(b) != 6+14+1+5 {
		t.Errorf("Encode(%+v) = % x; want it to start % x, 26 bytes", agent, b, want)
	}
	if j, _ := json.Marshal(agent); len(b)*2 > len(j) {
		t.Errorf("compact metadata is %d bytes, JSON %d: want at most half", len(b), len(j))
	}
	tests := []struct {
		in   []byte
		want string
	}{
		{[]byte{metaCompactV1}, "without a role"},
		{[]byte{metaCompactV1, 9}, "unknown role 9"},
		{[]byte{metaCompactV1, 0}, "unknown role 0"},
		{[]byte{metaCompactV1, metaRoleCoordinator}, "cut short or malformed at its protocol"},
		{[]byte{metaCompactV1, metaRoleCoordinator, 0x80}, "cut short or malformed at its protocol"},
		{[]byte{metaCompactV1, metaRoleCoordinator, 0xff, 0xff, 0xff, 0xff, 0x10}, "protocol 4563402751, more than 4294967295"},
		{[]byte{metaCompactV1, metaRoleCoordinator, 1, 0x81, 0x80, 0x04}, "cores 65537, more than 65536"},
		{[]byte{metaCompactV1, metaRoleCoordinator, 1, 0, 5, 'a'}, "gRPC address of 5 bytes in 1 left"},
		{[]byte{metaCompactV1, metaRoleCoordinator, 1, 0, 0x80, 0x10}, "gRPC address length 2048, more than 512"},
		{[]byte{metaCompactV1, metaRoleCoordinator, 1, 0, 0}, "cut short or malformed at its version length"},
		{[]byte{metaCompactV1, metaRoleCoordinator, 1, 0, 0, 1, 0xff}, "version is not UTF-8"},
		{[]byte{metaCompactV1, metaRoleCoordinator, 1, 0, 0, 0, 0}, "1 bytes after the compact metadata"},
		{[]byte{metaCompactV1, metaRoleAgent, 1, 0, 2, ':', '1', 0}, "is not host:port"},
		{[]byte{0x02, 1}, "unknown format 0x02"},
		{[]byte("role=agent"), "unknown format 0x72"},
	}
	for _, tt := range tests {
		_, err := DecodeMeta(tt.in)
		if err == nil || !errors.Is(err, ErrMeta) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("DecodeMeta(% x) = %v; want %q", tt.in, err, tt.want)
		}
	}
	if _, err := (Meta{Role: "boss"}).Encode(); !errors.Is(err, ErrMeta) {
		t.Errorf("Encode(role boss) = %v; want ErrMeta", err)
	}
}

func FuzzDecodeMeta(f *testing.F) {
	f.Add([]byte(`{"role":"agent","grpc":"127.0.0.1:7000","proto":1,"cores":2}`))
	f.Add([]byte(`{"role":"coordinator","proto":1}`))
	for _, m := range []Meta{{Role: RoleAgent, GRPC: "10.0.0.1:7000", Protocol: 1, Cores: 2, Version: "0.1.0"}, {Role: RoleCoordinator, Protocol: 1}} {
		b, err := m.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := DecodeMeta(in)
		if err != nil {
			return
		}
		b, err := m.Encode()
		if err != nil {
			return // valid but re-encodes larger (escapes); still never panics
		}
		m2, err := DecodeMeta(b)
		if err != nil || m2 != m {
			t.Fatalf("round trip of %q: %+v, %v", in, m2, err)
		}
	})
}

// TestNameConflict: a second member with a name already taken is refused
// by gossip, and the node that refused it says why (Conflicts), so the
// coordinator can name it instead of waiting for an agent that never
// joins.
func TestNameConflict(t *testing.T) {
	c := startNode(t, "coord", Meta{Role: RoleCoordinator, Protocol: 1})
	a := startNode(t, "agent-x", Meta{Role: RoleAgent, GRPC: "127.0.0.1:7001", Protocol: 1})
	b := startNode(t, "agent-x", Meta{Role: RoleAgent, GRPC: "127.0.0.1:7002", Protocol: 1})
	if _, err := a.Join([]string{c.Addr()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first agent-x", func() bool { return len(c.Members()) == 1 })
	_, _ = b.Join([]string{c.Addr()}) // refused, whatever Join says
	waitFor(t, "the conflict to be seen", func() bool { return len(c.Conflicts()) == 1 })
	if got := c.Conflicts()[0]; !strings.Contains(got, "member agent-x at "+b.Addr()+" was refused") || !strings.Contains(got, a.Addr()) {
		t.Errorf("conflict = %q; want agent-x at %s refused, %s holding the name", got, b.Addr(), a.Addr())
	}
	if ms := c.Members(); len(ms) != 1 || ms[0].Meta.GRPC != "127.0.0.1:7001" {
		t.Errorf("members = %+v; want only the first agent-x", ms)
	}
}
