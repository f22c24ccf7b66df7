package cluster

import (
	"io"
	"log"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// freezable is memberlist's UDP/TCP transport with a switch: while frozen,
// the member neither receives nor sends anything, as if its process were
// stopped or starved of CPU (its own timers keep running).
type freezable struct {
	*memberlist.NetTransport
	// gate is write-locked while frozen; every send, dial and delivery
	// passes through a read lock first.
	gate    sync.RWMutex
	packets chan *memberlist.Packet
	streams chan net.Conn
	done    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
}

var _ memberlist.NodeAwareTransport = (*freezable)(nil)

func newFreezable(t *testing.T) *freezable {
	t.Helper()
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{"127.0.0.1"}, Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	f := &freezable{NetTransport: nt, packets: make(chan *memberlist.Packet), streams: make(chan net.Conn), done: make(chan struct{})}
	f.wg.Add(2)
	go func() { // exits on Shutdown
		defer f.wg.Done()
		for {
			select {
			case p := <-nt.PacketCh():
				f.wait()
				select {
				case f.packets <- p:
				case <-f.done:
					return
				}
			case <-f.done:
				return
			}
		}
	}()
	go func() { // exits on Shutdown
		defer f.wg.Done()
		for {
			select {
			case c := <-nt.StreamCh():
				f.wait()
				select {
				case f.streams <- c:
				case <-f.done:
					c.Close()
					return
				}
			case <-f.done:
				return
			}
		}
	}()
	return f
}

// listen is the address to give Config.Listen with this transport.
func (f *freezable) listen() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(f.GetAutoBindPort()))
}

// wait returns once the member is not frozen.
func (f *freezable) wait() { f.gate.RLock(); f.gate.RUnlock() }

func (f *freezable) freeze() { f.gate.Lock() }
func (f *freezable) thaw()   { f.gate.Unlock() }

func (f *freezable) PacketCh() <-chan *memberlist.Packet { return f.packets }
func (f *freezable) StreamCh() <-chan net.Conn           { return f.streams }

func (f *freezable) WriteTo(b []byte, addr string) (time.Time, error) {
	f.wait()
	return f.NetTransport.WriteTo(b, addr)
}

func (f *freezable) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	f.wait()
	return f.NetTransport.WriteToAddress(b, a)
}

func (f *freezable) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	f.wait()
	return f.NetTransport.DialTimeout(addr, timeout)
}

func (f *freezable) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	f.wait()
	return f.NetTransport.DialAddressTimeout(a, timeout)
}

func (f *freezable) Shutdown() error {
	f.once.Do(func() { close(f.done) })
	err := f.NetTransport.Shutdown()
	f.wg.Wait()
	return err
}

// leftEvents returns the names of the members n saw leave (or die) since
// the last call.
func leftEvents(n *Node) []string {
	var out []string
	for _, ev := range n.Events() {
		if ev.Kind == Left {
			out = append(out, ev.Member.Name)
		}
	}
	return out
}

// TestStarvedMemberIsNotDeclaredDead freezes a member for 2 s — about
// twice the longest stall measured on a shared 2-core machine under a CPU
// hog with the race detector (1.1 s), and more than three times the whole
// margin FastFailureDetection used to give (a 200 ms probe plus a 400 ms
// suspicion) — and watches until every suspicion that started meanwhile
// has had its full window: nobody declares it dead, and it is still a
// member everywhere.
func TestStarvedMemberIsNotDeclaredDead(t *testing.T) {
	t.Parallel()
	c := startNode(t, "coord", Meta{Role: RoleCoordinator, Protocol: 1})
	fz := newFreezable(t)
	a1, err := Start(Config{Name: "agent-1", Listen: fz.listen(), FastFailureDetection: true, Transport: fz,
		Meta: Meta{Role: RoleAgent, GRPC: "127.0.0.1:7001", Protocol: 1}})
	if err != nil {
		fz.Shutdown()
		t.Fatal(err)
	}
	t.Cleanup(func() { a1.Close() })
	a2 := startNode(t, "agent-2", Meta{Role: RoleAgent, GRPC: "127.0.0.1:7002", Protocol: 1})
	for _, a := range []*Node{a1, a2} {
		if _, err := a.Join([]string{c.Addr()}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every member to see the two others", func() bool {
		return len(c.Members()) == 2 && len(a1.Members()) == 2 && len(a2.Members()) == 2
	})
	leftEvents(c)
	leftEvents(a2)

	const stall = 2 * time.Second
	frozen := time.Now()
	fz.freeze()
	time.Sleep(stall) // a lower bound: a longer freeze only makes the test harder
	fz.thaw()
	// A suspicion raised during the freeze closes at most FastSuspicion
	// after it started; watch a probe round longer than that.
	time.Sleep(time.Until(frozen.Add(stall + FastSuspicion + time.Second)))

	for _, n := range []*Node{c, a2} {
		if left := leftEvents(n); len(left) > 0 {
			t.Errorf("%s saw %v leave after agent-1 stalled for %v", n.Name(), left, stall)
		}
		found := false
		for _, m := range n.Members() {
			found = found || m.Name == "agent-1"
		}
		if !found {
			t.Errorf("%s no longer lists agent-1 as a member", n.Name())
		}
	}
}

// TestDeadMemberDetected: a member that stops without leaving (a killed
// process) is still declared dead, a suspicion window after it falls
// silent.
func TestDeadMemberDetected(t *testing.T) {
	t.Parallel()
	c := startNode(t, "coord", Meta{Role: RoleCoordinator, Protocol: 1})
	a, err := Start(Config{Name: "agent", Listen: "127.0.0.1:0", FastFailureDetection: true,
		Meta: Meta{Role: RoleAgent, GRPC: "127.0.0.1:7001", Protocol: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.ml.Shutdown() }) // idempotent; never Close (Leave after Shutdown panics)
	if _, err := a.Join([]string{c.Addr()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the agent to join", func() bool { return len(c.Members()) == 1 })
	leftEvents(c)
	killed := time.Now()
	if err := a.ml.Shutdown(); err != nil { // no Leave: peers must notice the silence
		t.Fatal(err)
	}
	var left []string
	deadline := time.Now().Add(6 * FastSuspicion) // a bound, not a measurement
	for len(left) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the dead agent was not declared dead within %v", 6*FastSuspicion)
		}
		time.Sleep(50 * time.Millisecond)
		left = leftEvents(c)
	}
	t.Logf("declared dead %v after it stopped (suspicion window %v)", time.Since(killed).Round(time.Millisecond), FastSuspicion)
	if len(left) != 1 || left[0] != "agent" || len(c.Members()) != 0 {
		t.Errorf("left %v, members %v; want the agent gone", left, c.Members())
	}
}
