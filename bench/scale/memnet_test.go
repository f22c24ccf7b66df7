package main

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

func newPair(t *testing.T) (*memNet, *memTransport, *memTransport) {
	t.Helper()
	n := newMemNet()
	a, err := n.NewTransport(net.IPv4(10, 0, 0, 1), 7946)
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.NewTransport(net.IPv4(10, 0, 0, 2), 7946)
	if err != nil {
		t.Fatal(err)
	}
	return n, a, b
}

func TestMemNetPackets(t *testing.T) {
	n, a, b := newPair(t)
	buf := []byte("ping")
	if _, err := a.WriteToAddress(buf, memberlist.Address{Addr: b.Addr()}); err != nil {
		t.Fatal(err)
	}
	buf[0] = 'X' // the sender may reuse its buffer
	p := <-b.PacketCh()
	if string(p.Buf) != "ping" || p.From.String() != a.Addr() {
		t.Errorf("received %q from %s; want \"ping\" from %s", p.Buf, p.From, a.Addr())
	}

	// A full inbox drops, counted, without blocking the sender.
	for range inboxPackets + 5 {
		if _, err := a.WriteTo([]byte("x"), b.Addr()); err != nil {
			t.Fatal(err)
		}
	}
	if got := n.dropped.Load(); got != 5 {
		t.Errorf("dropped = %d after %d packets into an inbox of %d; want 5", got, inboxPackets+5, inboxPackets)
	}

	// Unknown addresses and a node that shut down swallow packets, as UDP
	// does, and count nothing.
	if _, err := a.WriteTo([]byte("x"), "10.9.9.9:7946"); err != nil {
		t.Errorf("WriteTo(unknown) = %v; want nil", err)
	}
	b.Shutdown()
	b.Shutdown() // idempotent
	if _, err := a.WriteTo([]byte("x"), b.Addr()); err != nil {
		t.Errorf("WriteTo(shut down) = %v; want nil", err)
	}
	if got := n.dropped.Load(); got != 5 {
		t.Errorf("dropped = %d; want still 5", got)
	}
}

func TestMemNetStreams(t *testing.T) {
	_, a, b := newPair(t)
	done := make(chan error, 1)
	go func() { // exits after one accepted stream
		c := <-b.StreamCh()
		defer c.Close()
		if c.RemoteAddr().String() != a.Addr() || c.LocalAddr().String() != b.Addr() {
			done <- errors.New("accepted stream has addresses " + c.LocalAddr().String() + " <- " + c.RemoteAddr().String())
			return
		}
		buf := make([]byte, 5)
		if _, err := io.ReadFull(c, buf); err != nil {
			done <- err
			return
		}
		_, err := c.Write(append([]byte("re:"), buf...))
		done <- err
	}()
	c, err := a.DialTimeout(b.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 8)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != "re:hello" {
		t.Errorf("reply %q; want \"re:hello\"", got)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	if _, err := a.DialTimeout("10.9.9.9:7946", time.Second); !errors.Is(err, ErrNoRoute) {
		t.Errorf("dial to an unknown address = %v; want ErrNoRoute", err)
	}
	b.Shutdown()
	if _, err := a.DialTimeout(b.Addr(), time.Second); !errors.Is(err, ErrNoRoute) {
		t.Errorf("dial to a node that shut down = %v; want ErrNoRoute", err)
	}
}

func TestMemNetAddressTaken(t *testing.T) {
	n := newMemNet()
	if _, err := n.NewTransport(net.IPv4(10, 0, 0, 1), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := n.NewTransport(net.IPv4(10, 0, 0, 1), 1); err == nil {
		t.Error("a second transport at 10.0.0.1:1 was created; want an error")
	}
}

func TestMemNetIngest(t *testing.T) {
	_, a, _ := newPair(t)
	local, remote := net.Pipe()
	go func() { // exits once the pipe is written and closed
		remote.Write([]byte("pkt"))
		remote.Close()
	}()
	if err := a.IngestPacket(local, memAddr("10.0.0.9:1"), time.Now(), true); err != nil {
		t.Fatal(err)
	}
	if p := <-a.PacketCh(); string(p.Buf) != "pkt" || p.From.String() != "10.0.0.9:1" {
		t.Errorf("ingested %q from %s", p.Buf, p.From)
	}
	empty, peer := net.Pipe()
	peer.Close()
	if err := a.IngestPacket(empty, memAddr("10.0.0.9:1"), time.Now(), true); err == nil {
		t.Error("IngestPacket of an empty stream = nil; want an error")
	}
}
