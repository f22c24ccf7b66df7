package auth

import (
	"bytes"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/cluster"
	"github.com/surgeload/surge/internal/wire"
)

func startNode(t *testing.T, name string, role cluster.Role, key []byte) *cluster.Node {
	t.Helper()
	meta := cluster.Meta{Role: role, Protocol: wire.ProtocolVersion}
	if role == cluster.RoleAgent {
		meta.GRPC = "127.0.0.1:7001"
	}
	n, err := cluster.Start(cluster.Config{Name: name, Listen: "127.0.0.1:0", Meta: meta, SecretKey: key, FastFailureDetection: true})
	if err != nil {
		t.Fatalf("Start(%s): %v", name, err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// TestGossipKey: a node with another gossip key, or none, never joins; one
// with the same key does.
func TestGossipKey(t *testing.T) {
	key := bytes.Repeat([]byte{1}, 32)
	coord := startNode(t, "coord", cluster.RoleCoordinator, key)
	intruders := []struct {
		name string
		key  []byte
	}{
		{"wrong-key", bytes.Repeat([]byte{2}, 32)},
		{"shorter-key", key[:16]},
		{"no-key", nil},
	}
	for _, in := range intruders {
		n := startNode(t, in.name, cluster.RoleAgent, in.key)
		if k, err := n.Join([]string{coord.Addr()}); err == nil {
			t.Errorf("%s: Join = %d, nil; want an error", in.name, k)
		}
	}
	friend := startNode(t, "friend", cluster.RoleAgent, key)
	if _, err := friend.Join([]string{coord.Addr()}); err != nil {
		t.Fatalf("same key: Join: %v", err)
	}
	// The friend joins within a generous bound; by then the intruders
	// (which were refused before it tried) have had their chance too.
	deadline := time.Now().Add(10 * time.Second)
	for len(coord.Members()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the member with the right key never joined")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(time.Second) // a lower bound: any late intruder shows up here
	if ms := coord.Members(); len(ms) != 1 || ms[0].Name != "friend" {
		t.Errorf("coordinator members %v; want only friend", ms)
	}
}
