package cluster

import (
	"net"
	"strconv"
	"testing"

	"github.com/hashicorp/memberlist"
)

// TestInjectedTransport: nodes given memberlist's in-memory network as
// Config.Transport gossip over it (no socket is bound) with the
// addresses it hands out, and see each other's metadata as over UDP/TCP.
func TestInjectedTransport(t *testing.T) {
	var network memberlist.MockNetwork
	names := []string{"coord", "agent-1", "agent-2"}
	// Every transport exists before any node starts: MockNetwork's
	// address book is not safe to grow while nodes look addresses up.
	transports := make([]*memberlist.MockTransport, len(names))
	for i, name := range names {
		transports[i] = network.NewTransport(name)
	}
	nodes := make([]*Node, len(names))
	for i, name := range names {
		meta := Meta{Role: RoleAgent, GRPC: "127.0.0.1:700" + strconv.Itoa(i), Protocol: 1}
		if i == 0 {
			meta = Meta{Role: RoleCoordinator, Protocol: 1}
		}
		ip, port, err := transports[i].FinalAdvertiseAddr("", 0)
		if err != nil {
			t.Fatal(err)
		}
		listen := net.JoinHostPort(ip.String(), strconv.Itoa(port))
		n, err := Start(Config{Name: name, Listen: listen, Meta: meta, Transport: transports[i]})
		if err != nil {
			t.Fatalf("Start(%s, Listen %s) with an injected transport: %v", name, listen, err)
		}
		t.Cleanup(func() { n.Close() })
		if n.Addr() != listen {
			t.Errorf("%s: Addr() = %s; want the transport's address %s", name, n.Addr(), listen)
		}
		nodes[i] = n
	}
	for _, a := range nodes[1:] {
		if k, err := a.Join([]string{nodes[0].Addr()}); err != nil || k != 1 {
			t.Fatalf("%s: Join(%s) = %d, %v; want 1, nil", a.Name(), nodes[0].Addr(), k, err)
		}
	}
	waitFor(t, "every node to see the two others", func() bool {
		for _, n := range nodes {
			if len(n.Members()) != 2 {
				return false
			}
		}
		return true
	})
	ms := nodes[0].Members()
	if ms[0].Name != "agent-1" || ms[0].Meta.GRPC != "127.0.0.1:7001" || ms[0].MetaErr != nil ||
		ms[0].Addr != nodes[1].Addr() || ms[1].Meta.GRPC != "127.0.0.1:7002" {
		t.Errorf("coord's members = %+v", ms)
	}
}
