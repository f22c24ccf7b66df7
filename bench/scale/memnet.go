package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// memNet is an in-memory network for memberlist nodes in one process,
// shaped like UDP and TCP rather than like memberlist's own MockNetwork:
//
//   - A packet send never blocks. Each node has an inbox of inboxPackets;
//     a packet that finds it full is dropped and counted, as a kernel
//     drops a datagram whose socket buffer is full. MockNetwork hands
//     every packet over an unbuffered channel, so a sender waits for the
//     receiver's packet loop; two loops that answer each other's pings at
//     the same instant (each sending an ack from its loop) then wait for
//     each other for ever. Rare with 3 nodes, certain with 1,000.
//   - A stream is a net.Pipe handed to the listener's accept queue (at
//     most acceptBacklog waiting); a dial that finds it full waits up to
//     its timeout and fails, as a TCP connect to a full backlog does.
//   - A node that shut down drops what is sent to it and refuses dials.
//
// Its address book is safe for concurrent use: nodes can be added while
// others gossip.
type memNet struct {
	mu     sync.RWMutex
	byAddr map[string]*memTransport

	// dropped counts packets lost to a full inbox (not to a node that had
	// shut down: nobody listens there any more).
	dropped atomic.Uint64
}

const (
	// inboxPackets is a node's receive buffer, in packets: about what a
	// Linux UDP socket holds by default (212 KiB of 1,400-byte gossip
	// packets and their bookkeeping).
	inboxPackets = 128
	// acceptBacklog is how many dialled streams may wait for the node's
	// stream loop to take them.
	acceptBacklog = 128
)

// ErrNoRoute is returned for a dial to an address no live node holds.
var ErrNoRoute = errors.New("memnet: connection refused")

func newMemNet() *memNet { return &memNet{byAddr: map[string]*memTransport{}} }

// NewTransport adds a node at ip:port (an address the network has not
// handed out yet).
func (n *memNet) NewTransport(ip net.IP, port int) (*memTransport, error) {
	addr := net.JoinHostPort(ip.String(), strconv.Itoa(port))
	t := &memTransport{
		net:     n,
		ip:      ip,
		port:    port,
		addr:    addr,
		packets: make(chan *memberlist.Packet, inboxPackets),
		streams: make(chan net.Conn, acceptBacklog),
		done:    make(chan struct{}),
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, taken := n.byAddr[addr]; taken {
		return nil, fmt.Errorf("memnet: address %s is taken", addr)
	}
	n.byAddr[addr] = t
	return t, nil
}

func (n *memNet) peer(addr string) *memTransport {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.byAddr[addr]
}

// memTransport is one node's end of a memNet; it is memberlist's
// NodeAwareTransport. Safe for concurrent use, as memberlist requires.
type memTransport struct {
	net     *memNet
	ip      net.IP
	port    int
	addr    string
	packets chan *memberlist.Packet
	streams chan net.Conn
	// done is closed by Shutdown; the channels above are never closed,
	// so a sender racing Shutdown cannot panic.
	done chan struct{}
	once sync.Once
}

var _ memberlist.NodeAwareTransport = (*memTransport)(nil)

// Addr is the node's ip:port, the value to give cluster.Config.Listen.
func (t *memTransport) Addr() string { return t.addr }

func (t *memTransport) FinalAdvertiseAddr(string, int) (net.IP, int, error) {
	return t.ip, t.port, nil
}

func (t *memTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress delivers a copy of b (memberlist may reuse its buffer),
// or drops it: to a full inbox (counted), an unknown address or a node
// that shut down. Like UDP, none of these is an error to the sender.
func (t *memTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	now := time.Now()
	dst := t.net.peer(a.Addr)
	if dst == nil || dst.closed() {
		return now, nil
	}
	p := &memberlist.Packet{Buf: append([]byte(nil), b...), From: memAddr(t.addr), Timestamp: now}
	select {
	case dst.packets <- p:
	default:
		t.net.dropped.Add(1)
	}
	return now, nil
}

func (t *memTransport) PacketCh() <-chan *memberlist.Packet { return t.packets }

func (t *memTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout queues one end of a pipe on the listener's accept
// queue, waiting up to timeout for room in it.
func (t *memTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	dst := t.net.peer(a.Addr)
	if dst == nil || dst.closed() {
		return nil, fmt.Errorf("dial %s: %w", a.Addr, ErrNoRoute)
	}
	local, remote := net.Pipe()
	c := &memConn{Conn: remote, local: memAddr(dst.addr), remote: memAddr(t.addr)}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case dst.streams <- c:
		return &memConn{Conn: local, local: memAddr(t.addr), remote: memAddr(dst.addr)}, nil
	case <-dst.done:
	case <-timer.C:
	}
	local.Close()
	remote.Close()
	return nil, fmt.Errorf("dial %s: %w", a.Addr, ErrNoRoute)
}

func (t *memTransport) StreamCh() <-chan net.Conn { return t.streams }

// IngestPacket reads one packet from conn into the inbox (memberlist's
// NodeAwareTransport contract: for packets that arrived over a stream).
func (t *memTransport) IngestPacket(conn net.Conn, addr net.Addr, now time.Time, shouldClose bool) error {
	if shouldClose {
		defer conn.Close()
	}
	buf, err := io.ReadAll(conn)
	if err != nil {
		return fmt.Errorf("memnet: read packet: %w", err)
	}
	if len(buf) == 0 {
		return errors.New("memnet: packet too short (0 bytes)")
	}
	select {
	case t.packets <- &memberlist.Packet{Buf: buf, From: addr, Timestamp: now}:
	default:
		t.net.dropped.Add(1)
	}
	return nil
}

// IngestStream queues conn as if it had been dialled.
func (t *memTransport) IngestStream(conn net.Conn) error {
	select {
	case t.streams <- conn:
		return nil
	case <-t.done:
		conn.Close()
		return fmt.Errorf("memnet: %s is shut down", t.addr)
	}
}

// Shutdown takes the node off the network: what is sent to it from now
// on is dropped and dials to it fail. Idempotent.
func (t *memTransport) Shutdown() error {
	t.once.Do(func() { close(t.done) })
	return nil
}

func (t *memTransport) closed() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// memAddr is an address on a memNet.
type memAddr string

func (a memAddr) Network() string { return "memnet" }
func (a memAddr) String() string  { return string(a) }

// memConn is one end of a pipe with the network's addresses (net.Pipe's
// own are "pipe"; memberlist logs and compares them).
type memConn struct {
	net.Conn
	local, remote net.Addr
}

func (c *memConn) LocalAddr() net.Addr  { return c.local }
func (c *memConn) RemoteAddr() net.Addr { return c.remote }
