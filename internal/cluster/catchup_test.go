package cluster

import (
	"io"
	"log"
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/hashicorp/memberlist"
)

// deaf is memberlist's UDP/TCP transport that never delivers a packet:
// the member hears no gossip (and no ping or ack: probes fall back to
// TCP), but joins and push/pulls work.
type deaf struct {
	*memberlist.NetTransport
	none chan *memberlist.Packet
	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

func newDeaf(t *testing.T) *deaf {
	t.Helper()
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{"127.0.0.1"}, Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	d := &deaf{NetTransport: nt, none: make(chan *memberlist.Packet), done: make(chan struct{})}
	d.wg.Add(1)
	go func() { // drops every packet; exits on Shutdown
		defer d.wg.Done()
		for {
			select {
			case <-nt.PacketCh():
			case <-d.done:
				return
			}
		}
	}()
	return d
}

func (d *deaf) listen() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(d.GetAutoBindPort()))
}

func (d *deaf) PacketCh() <-chan *memberlist.Packet { return d.none }

func (d *deaf) Shutdown() error {
	d.once.Do(func() { close(d.done) })
	err := d.NetTransport.Shutdown()
	d.wg.Wait()
	return err
}

// TestCatchUpAfterJoin: a member that hears no gossip at all still learns
// of a member that joined the seed after it, by its catch-up pulls; the
// catch-up ends by itself once a pull teaches nothing, and Close waits
// for it.
func TestCatchUpAfterJoin(t *testing.T) {
	t.Parallel()
	c := startNode(t, "coord", Meta{Role: RoleCoordinator, Protocol: 1})
	d := newDeaf(t)
	a1, err := Start(Config{Name: "agent-1", Listen: d.listen(), Transport: d,
		Meta: Meta{Role: RoleAgent, GRPC: "127.0.0.1:7001", Protocol: 1}})
	if err != nil {
		d.Shutdown()
		t.Fatal(err)
	}
	t.Cleanup(func() { a1.Close() })
	if _, err := a1.Join([]string{c.Addr()}); err != nil {
		t.Fatal(err)
	}
	if got := len(a1.Members()); got != 1 {
		t.Fatalf("agent-1 sees %d members after its join; want the coordinator", got)
	}
	a2 := startNode(t, "agent-2", Meta{Role: RoleAgent, GRPC: "127.0.0.1:7002", Protocol: 1})
	if _, err := a2.Join([]string{c.Addr()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "agent-1 to learn of agent-2 without gossip", func() bool { return len(a1.Members()) == 2 })
	waitFor(t, "agent-1's catch-up to end", func() bool { return a1.catching.Load() == 0 })
	if p := a1.pulls.Load(); p < 1 || p > maxCatchUps {
		t.Errorf("agent-1 pulled %d times; want 1 to %d", p, maxCatchUps)
	}
	// A join starts a catch-up that Close ends at once.
	if _, err := a2.Join([]string{c.Addr()}); err != nil {
		t.Fatal(err)
	}
	if err := a2.Close(); err != nil {
		t.Fatal(err)
	}
	if a2.catching.Load() != 0 {
		t.Error("agent-2's catch-up still runs after Close")
	}
}
