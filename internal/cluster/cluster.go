package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// ErrMeta is wrapped by errors about a member's metadata.
var ErrMeta = errors.New("bad node metadata")

// Role is what a member does in the cluster.
type Role string

// Roles.
const (
	RoleCoordinator Role = "coordinator"
	RoleAgent       Role = "agent"
)

// Meta is what a member advertises. It must encode to at most
// memberlist.MetaMaxSize (512) bytes, so it stays small: anything larger
// travels over gRPC.
type Meta struct {
	Role Role `json:"role"`
	// GRPC is the host:port of the agent's gRPC server (agents only).
	GRPC string `json:"grpc,omitempty"`
	// Protocol is the coordinator–agent protocol version.
	Protocol uint32 `json:"proto"`
	// Cores is the number of CPU cores the member may use.
	Cores int `json:"cores,omitempty"`
	// Version is the software version, informative only.
	Version string `json:"v,omitempty"`
}

// Encode returns the JSON form of m, or an error if it is too large.
func (m Meta) Encode() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMeta, err)
	}
	if len(b) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMeta, len(b), memberlist.MetaMaxSize)
	}
	return b, nil
}

// DecodeMeta parses and validates metadata received by gossip.
func DecodeMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) == 0 {
		return m, fmt.Errorf("%w: empty", ErrMeta)
	}
	if len(b) > memberlist.MetaMaxSize {
		return m, fmt.Errorf("%w: %d bytes, more than %d", ErrMeta, len(b), memberlist.MetaMaxSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("%w: %v", ErrMeta, err)
	}
	switch m.Role {
	case RoleCoordinator:
	case RoleAgent:
		host, port, err := net.SplitHostPort(m.GRPC)
		if err != nil || host == "" {
			return m, fmt.Errorf("%w: agent gRPC address %q is not host:port", ErrMeta, m.GRPC)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return m, fmt.Errorf("%w: agent gRPC port %q", ErrMeta, port)
		}
	default:
		return m, fmt.Errorf("%w: unknown role %q", ErrMeta, m.Role)
	}
	if m.Cores < 0 || m.Cores > 1<<16 {
		return m, fmt.Errorf("%w: %d cores", ErrMeta, m.Cores)
	}
	return m, nil
}

// Member is one node of the cluster as seen by this node.
type Member struct {
	Name string
	// Addr is the member's gossip address.
	Addr string
	Meta Meta
	// MetaErr is set when the member's metadata could not be decoded; such a
	// member is never scheduled.
	MetaErr error
}

// EventKind says what happened to a member.
type EventKind int

// Event kinds.
const (
	Joined EventKind = iota + 1
	Left
	Updated
)

func (k EventKind) String() string {
	switch k {
	case Joined:
		return "joined"
	case Left:
		return "left"
	case Updated:
		return "updated"
	}
	return "event(" + strconv.Itoa(int(k)) + ")"
}

// Event is a membership change.
type Event struct {
	Kind   EventKind
	Member Member
}

// Config configures a Node.
type Config struct {
	// Name must be unique in the cluster (memberlist accepts duplicates
	// silently and then misbehaves).
	Name string
	// Listen is the gossip host:port (UDP and TCP); port 0 picks a free one.
	Listen string
	// Meta is advertised to every member.
	Meta Meta
	// SecretKey, if set (16, 24 or 32 bytes), encrypts gossip with AES-GCM;
	// members without the key cannot join.
	SecretKey []byte
	// Log receives what gossip has to tell an operator: by default only a
	// one-line summary, once per remote host, of traffic this node cannot
	// read (a member with another gossip key or none, such as an agent
	// left over from an earlier run), of a stray member probing this
	// address for a node that is not this one, and of two members sharing
	// a name; memberlist's own lines are dropped. With Verbose, every
	// memberlist line instead, prefixed "gossip: ". nil discards
	// everything. It is written from memberlist's goroutines (so it must be
	// safe for concurrent use), and never after Close returns.
	Log io.Writer
	// Verbose passes every line memberlist logs (debug included) to Log,
	// prefixed "gossip: ". For debugging discovery; off by default, since a
	// stray member makes memberlist log errors every few seconds.
	Verbose bool
	// FastFailureDetection is for loopback clusters and tests: members are
	// probed every 200 ms (instead of every second), so a dead one is
	// suspected within a few hundred milliseconds, and declared dead when
	// it stayed silent through a fixed suspicion window of FastSuspicion
	// (5 s) after that. The window is long on purpose: memberlist reports a
	// death the moment it closes, and a live member that is merely starved
	// of CPU (a busy machine, the race detector) refutes the suspicion the
	// first time it runs within it. A graceful leave (Close) is seen at
	// once either way.
	FastFailureDetection bool

	// Transport, if set, replaces memberlist's UDP/TCP transport: an
	// in-memory network (memberlist.MockNetwork, or one of the caller's)
	// for tests and for bench/scale's 1,000-node convergence run, or a
	// transport that can freeze a member. Listen must then be the
	// transport's own address (what its FinalAdvertiseAddr returns); it
	// still picks the memberlist profile, so a non-loopback address gives
	// the LAN profile a real fleet gets. nil: UDP and TCP on Listen. Close
	// shuts it down.
	Transport memberlist.Transport
}

// FastSuspicion is how long a member suspected of failing has to refute it
// under Config.FastFailureDetection before it is declared dead. A real
// death is seen after about FastSuspicion plus one probe round (under
// 11 s in a small cluster); a live member is declared dead only if it, or
// the path to it, stalls for longer than FastSuspicion: a margin a test
// machine starved by a CPU hog on every core (a 2 s freeze plus stalls)
// did not cross, where 5 s was once crossed. In-process runs do not wait
// for it: a closed agent's stream ends at once.
const FastSuspicion = 10 * time.Second

// fastProbe is the probe interval under FastFailureDetection.
const fastProbe = 200 * time.Millisecond

// DefaultConfig returns a config listening on 127.0.0.1:7946.
func DefaultConfig() Config {
	return Config{Listen: "127.0.0.1:7946"}
}

// Node is this process's membership in the cluster.
type Node struct {
	ml   *memberlist.Memberlist
	name string
	meta []byte

	mu     sync.Mutex
	events []Event
	// live is the membership as the event callbacks saw it. memberlist's
	// Members returns pointers into its own state, which it updates under a
	// lock of its own; reading them later races with gossip, so members are
	// copied inside the callbacks (which memberlist calls under that lock).
	live map[string]Member
	// conflicts are the names two members claimed at once (by name: the
	// addresses), as memberlist refused the second.
	conflicts map[string]string
	notify    chan struct{}
	closeMu   sync.Once
	log       *gossipLog
}

// Start creates the node and binds its gossip listener. It does not join
// anyone; call Join.
func Start(cfg Config) (*Node, error) {
	if cfg.Name == "" {
		return nil, errors.New("cluster: node name is required")
	}
	meta, err := cfg.Meta.Encode()
	if err != nil {
		return nil, err
	}
	ap, err := netip.ParseAddrPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("cluster: gossip listen address %q must be ip:port: %w", cfg.Listen, err)
	}
	var mc *memberlist.Config
	if ap.Addr().IsLoopback() {
		mc = memberlist.DefaultLocalConfig()
	} else {
		mc = memberlist.DefaultLANConfig()
	}
	if cfg.FastFailureDetection {
		// Probing finds a silent member quickly; the suspicion window
		// alone decides when it is declared dead. memberlist's window is
		// SuspicionMult × ProbeInterval × max(1, log10(members)), started at
		// SuspicionMaxTimeoutMult times that and shortened by other
		// members' confirmations; with the max multiplier at 1 it is the
		// same fixed window for any cluster below 10 members, whatever the
		// confirmations (and longer above).
		mc.ProbeInterval = fastProbe
		mc.ProbeTimeout = fastProbe / 2
		mc.SuspicionMult = int(FastSuspicion / fastProbe)
		mc.SuspicionMaxTimeoutMult = 1
		mc.GossipInterval = 50 * time.Millisecond
	}
	mc.Name = cfg.Name
	mc.BindAddr = ap.Addr().String()
	mc.BindPort = int(ap.Port())
	mc.AdvertiseAddr = ap.Addr().String()
	mc.AdvertisePort = int(ap.Port()) // with port 0, Create writes the bound port back
	if len(cfg.SecretKey) > 0 {
		mc.SecretKey = cfg.SecretKey
	}
	glog := newGossipLog(cfg.Log, cfg.Verbose)
	mc.LogOutput = nil
	mc.Logger = glog.logger()
	if cfg.Transport != nil {
		mc.Transport = cfg.Transport
	}
	n := &Node{name: cfg.Name, meta: meta, notify: make(chan struct{}, 1), live: map[string]Member{}, log: glog}
	mc.Delegate = (*delegate)(n)
	mc.Events = (*events)(n)
	mc.Conflict = (*conflicts)(n)
	ml, err := memberlist.Create(mc)
	if err != nil {
		glog.close()
		return nil, fmt.Errorf("cluster: gossip listen %s: %w", cfg.Listen, err)
	}
	n.ml = ml
	return n, nil
}

// Join contacts the given gossip addresses and returns how many answered.
func (n *Node) Join(addrs []string) (int, error) {
	k, err := n.ml.Join(addrs)
	if err != nil {
		// memberlist joins its per-address errors over several lines.
		msg := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "1 error occurred:", "")), " ")
		return k, fmt.Errorf("cluster: join %v: %s", addrs, msg)
	}
	return k, nil
}

// Addr is this node's bound gossip address (host:port).
func (n *Node) Addr() string {
	ln := n.ml.LocalNode()
	return net.JoinHostPort(ln.Addr.String(), strconv.Itoa(int(ln.Port)))
}

// Name is this node's name.
func (n *Node) Name() string { return n.name }

// Members returns the live members other than this node, sorted by name.
func (n *Node) Members() []Member {
	n.mu.Lock()
	out := make([]Member, 0, len(n.live))
	for _, m := range n.live {
		out = append(out, m)
	}
	n.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Changes is signalled (level-triggered, capacity 1) whenever events are
// waiting; call Events to take them.
func (n *Node) Changes() <-chan struct{} { return n.notify }

// Events returns and clears the membership events seen since the last call.
func (n *Node) Events() []Event {
	n.mu.Lock()
	defer n.mu.Unlock()
	ev := n.events
	n.events = nil
	return ev
}

// Close leaves the cluster gracefully and shuts the node down. Leaving is
// best effort, bounded to one second: with no other member, or none that
// answers, there is nobody to tell and the peers will notice the silence.
// It is idempotent.
func (n *Node) Close() error {
	var err error
	n.closeMu.Do(func() {
		if len(n.Members()) > 0 {
			_ = n.ml.Leave(time.Second)
		}
		if serr := n.ml.Shutdown(); serr != nil {
			err = fmt.Errorf("cluster: shutdown: %w", serr)
		}
		// memberlist goroutines may still be on their way out (a TCP
		// fallback ping, a stream handler): they log nothing from here on.
		n.log.close()
	})
	return err
}

func toMember(m *memberlist.Node) Member {
	meta, err := DecodeMeta(m.Meta)
	return Member{
		Name:    m.Name,
		Addr:    net.JoinHostPort(m.Addr.String(), strconv.Itoa(int(m.Port))),
		Meta:    meta,
		MetaErr: err,
	}
}

func (n *Node) push(kind EventKind, m *memberlist.Node) {
	if m.Name == n.name {
		return
	}
	ev := Event{Kind: kind, Member: toMember(m)}
	n.mu.Lock()
	if kind == Left {
		delete(n.live, ev.Member.Name)
	} else {
		n.live[ev.Member.Name] = ev.Member
	}
	n.events = append(n.events, ev)
	n.mu.Unlock()
	select {
	case n.notify <- struct{}{}:
	default:
	}
}

// delegate serves this node's metadata; it is memberlist.Delegate.
type delegate Node

var _ memberlist.Delegate = (*delegate)(nil)

func (d *delegate) NodeMeta(limit int) []byte {
	if len(d.meta) > limit {
		return nil // memberlist panics on oversize meta; Encode already bounds it
	}
	return d.meta
}
func (d *delegate) NotifyMsg([]byte)                {}
func (d *delegate) GetBroadcasts(int, int) [][]byte { return nil }
func (d *delegate) LocalState(bool) []byte          { return nil }
func (d *delegate) MergeRemoteState([]byte, bool)   {}

// Conflicts describes, one line per name, the members memberlist refused
// because another member already had their name.
func (n *Node) Conflicts() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.conflicts))
	for _, c := range n.conflicts {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// conflicts records refused joins; it is memberlist.ConflictDelegate.
type conflicts Node

var _ memberlist.ConflictDelegate = (*conflicts)(nil)

func (c *conflicts) NotifyConflict(existing, other *memberlist.Node) {
	n := (*Node)(c)
	at := func(m *memberlist.Node) string { return net.JoinHostPort(m.Addr.String(), strconv.Itoa(int(m.Port))) }
	n.mu.Lock()
	if n.conflicts == nil {
		n.conflicts = map[string]string{}
	}
	n.conflicts[existing.Name] = fmt.Sprintf("member %s at %s was refused: a member of that name is already at %s (names must be unique)",
		other.Name, at(other), at(existing))
	n.mu.Unlock()
}

// events records membership changes; it is memberlist.EventDelegate.
type events Node

var _ memberlist.EventDelegate = (*events)(nil)

func (e *events) NotifyJoin(m *memberlist.Node)   { (*Node)(e).push(Joined, m) }
func (e *events) NotifyLeave(m *memberlist.Node)  { (*Node)(e).push(Left, m) }
func (e *events) NotifyUpdate(m *memberlist.Node) { (*Node)(e).push(Updated, m) }
