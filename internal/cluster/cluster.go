package cluster

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

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

// Metadata formats. Every alive message a member gossips carries its
// metadata, so its size decides how many announcements fit a gossip
// packet: the compact format is about a third of the JSON one (an agent's
// is 26 bytes instead of 74).
//
// The compact format, version 1: the byte metaCompactV1, the role
// (metaRoleCoordinator or metaRoleAgent), then the protocol, the cores,
// the length of GRPC, GRPC, the length of Version and Version, each
// number an unsigned varint (encoding/binary), nothing after. A future
// format takes another first byte. JSON (the format before it, which
// starts with '{') is still read, so a member of an older release is
// understood; Encode writes the compact one.
const (
	metaCompactV1       = 0x01
	metaRoleCoordinator = 1
	metaRoleAgent       = 2
)

// Encode returns the compact form of m, or an error if it is too large.
func (m Meta) Encode() ([]byte, error) {
	var role byte // 0: no role, refused by every decoder as JSON's "" was
	switch m.Role {
	case "":
	case RoleCoordinator:
		role = metaRoleCoordinator
	case RoleAgent:
		role = metaRoleAgent
	default:
		return nil, fmt.Errorf("%w: unknown role %q", ErrMeta, m.Role)
	}
	if m.Cores < 0 {
		return nil, fmt.Errorf("%w: %d cores", ErrMeta, m.Cores)
	}
	b := make([]byte, 0, 8+len(m.GRPC)+len(m.Version))
	b = append(b, metaCompactV1, role)
	b = binary.AppendUvarint(b, uint64(m.Protocol))
	b = binary.AppendUvarint(b, uint64(m.Cores))
	b = binary.AppendUvarint(b, uint64(len(m.GRPC)))
	b = append(b, m.GRPC...)
	b = binary.AppendUvarint(b, uint64(len(m.Version)))
	b = append(b, m.Version...)
	if len(b) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMeta, len(b), memberlist.MetaMaxSize)
	}
	return b, nil
}

// DecodeMeta parses and validates metadata received by gossip, in either
// format (see metaCompactV1).
func DecodeMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) == 0 {
		return m, fmt.Errorf("%w: empty", ErrMeta)
	}
	if len(b) > memberlist.MetaMaxSize {
		return m, fmt.Errorf("%w: %d bytes, more than %d", ErrMeta, len(b), memberlist.MetaMaxSize)
	}
	var err error
	switch b[0] {
	case metaCompactV1:
		m, err = decodeCompact(b[1:])
	case '{', ' ', '\t', '\r', '\n':
		dec := json.NewDecoder(bytes.NewReader(b))
		if jerr := dec.Decode(&m); jerr != nil {
			err = fmt.Errorf("%w: %v", ErrMeta, jerr)
		}
	default:
		err = fmt.Errorf("%w: unknown format 0x%02x (a newer release's, or not Surge's)", ErrMeta, b[0])
	}
	if err != nil {
		return Meta{}, err
	}
	return m, m.validate()
}

// decodeCompact reads the compact format after its first byte.
func decodeCompact(b []byte) (Meta, error) {
	var m Meta
	if len(b) == 0 {
		return m, fmt.Errorf("%w: compact metadata without a role", ErrMeta)
	}
	switch b[0] {
	case metaRoleCoordinator:
		m.Role = RoleCoordinator
	case metaRoleAgent:
		m.Role = RoleAgent
	default:
		return m, fmt.Errorf("%w: unknown role %d", ErrMeta, b[0])
	}
	b = b[1:]
	num := func(what string, limit uint64) (uint64, error) {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return 0, fmt.Errorf("%w: compact metadata cut short or malformed at its %s", ErrMeta, what)
		}
		if v > limit {
			return 0, fmt.Errorf("%w: %s %d, more than %d", ErrMeta, what, v, limit)
		}
		b = b[k:]
		return v, nil
	}
	str := func(what string) (string, error) {
		l, err := num(what+" length", memberlist.MetaMaxSize)
		if err != nil {
			return "", err
		}
		if l > uint64(len(b)) {
			return "", fmt.Errorf("%w: %s of %d bytes in %d left", ErrMeta, what, l, len(b))
		}
		s := string(b[:l])
		b = b[l:]
		if !utf8.ValidString(s) {
			return "", fmt.Errorf("%w: %s is not UTF-8", ErrMeta, what)
		}
		return s, nil
	}
	proto, err := num("protocol", math.MaxUint32)
	if err != nil {
		return m, err
	}
	cores, err := num("cores", maxCores)
	if err != nil {
		return m, err
	}
	m.Protocol, m.Cores = uint32(proto), int(cores)
	if m.GRPC, err = str("gRPC address"); err != nil {
		return m, err
	}
	if m.Version, err = str("version"); err != nil {
		return m, err
	}
	if len(b) > 0 {
		return m, fmt.Errorf("%w: %d bytes after the compact metadata", ErrMeta, len(b))
	}
	return m, nil
}

// maxCores bounds Meta.Cores.
const maxCores = 1 << 16

// validate checks what either format decoded.
func (m Meta) validate() error {
	switch m.Role {
	case RoleCoordinator:
	case RoleAgent:
		host, port, err := net.SplitHostPort(m.GRPC)
		if err != nil || host == "" {
			return fmt.Errorf("%w: agent gRPC address %q is not host:port", ErrMeta, m.GRPC)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("%w: agent gRPC port %q", ErrMeta, port)
		}
	default:
		return fmt.Errorf("%w: unknown role %q", ErrMeta, m.Role)
	}
	if m.Cores < 0 || m.Cores > maxCores {
		return fmt.Errorf("%w: %d cores", ErrMeta, m.Cores)
	}
	return nil
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

	// TimeScale, for bench/scale only, stretches every memberlist interval
	// and timeout and the catch-up's (CatchUpEvery) this many times; 0 or
	// 1: as configured. A thousand members in one process on two cores
	// cannot run the protocol in real time; stretched K times they run
	// the same rounds with a K-th of the CPU per second, and the bench
	// divides its times by K (protocol time).
	TimeScale int
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

	// catchEvery is CatchUpEvery, stretched by Config.TimeScale.
	catchEvery time.Duration
	// pulls counts catch-up pulls; catching is 1 while a catch-up loop
	// runs (both for tests).
	pulls, catching atomic.Int64
	// joins counts Joined events: how a catch-up tells that it (or the
	// gossip since the last one) taught this node a member.
	joins atomic.Int64
	// grew is when (Unix ns) the view last grew, or Join was last called.
	grew atomic.Int64
	// catchMu guards catchStop and closed; catchStop ends the running
	// catch-up loop (nil: none). catchWG waits for it in Close.
	catchMu   sync.Mutex
	catchStop chan struct{}
	closed    bool
	catchWG   sync.WaitGroup
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
	mc := fleetConfig()
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
	catchEvery := CatchUpEvery
	if k := time.Duration(cfg.TimeScale); k > 1 {
		mc.ProbeInterval *= k
		mc.ProbeTimeout *= k
		mc.GossipInterval *= k
		mc.GossipToTheDeadTime *= k
		mc.PushPullInterval *= k
		mc.QueueCheckInterval *= k
		mc.TCPTimeout *= k
		catchEvery *= k
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
	n := &Node{name: cfg.Name, meta: meta, catchEvery: catchEvery, notify: make(chan struct{}, 1), live: map[string]Member{}, log: glog}
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
// Each join is a push/pull: this node and the seed exchange their whole
// membership. On success the node then catches up with the same
// addresses (see CatchUpEvery) until its view stops growing.
func (n *Node) Join(addrs []string) (int, error) {
	n.grew.Store(time.Now().UnixNano())
	k, err := n.ml.Join(addrs)
	if err != nil {
		return k, fmt.Errorf("cluster: join %v: %s", addrs, oneLine(err))
	}
	n.startCatchUp(addrs)
	return k, nil
}

// oneLine is a memberlist error on one line (it joins its per-address
// errors over several).
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "1 error occurred:", "")), " ")
}

// Catch-up after a join. A node that joins learns every member its seed
// knows at that moment, but not those that join the seed after it: gossip
// carries them, at most a packet's worth of announcements per gossip
// round to each member, so a member that joined early in a fleet of a
// thousand would take many seconds to hear of the rest, and memberlist's
// periodic push/pull comes only every PushPullInterval × (log2(N/32) + 1)
// (3 minutes at 1,000 members). So after a join the node pulls the
// membership from the same seeds again CatchUpEvery later (±50%, so that
// members that joined together do not pull together); if that pull
// taught it a member, again after twice as long, and so on. It stops
// after a pull that taught nothing or after maxCatchUps pulls (the
// periodic push/pull remains). A pull that fails (refused: a seed serves
// at most 128 push/pulls at once; or unreachable) is tried again an
// interval later, up to maxCatchUpFails times in a row. A node that joins
// a settled cluster pulls once more; in a fleet that starts at once, a
// member that joined in the first second of a burst lasting S seconds
// pulls about log2(S)+2 times.
const (
	CatchUpEvery    = time.Second
	maxCatchUps     = 6
	maxCatchUpFails = 10
)

// startCatchUp starts the catch-up loop with seeds, ending the previous
// one; nothing once Close began.
func (n *Node) startCatchUp(seeds []string) {
	n.catchMu.Lock()
	defer n.catchMu.Unlock()
	if n.closed {
		return
	}
	if n.catchStop != nil {
		close(n.catchStop)
	}
	stop := make(chan struct{})
	n.catchStop = stop
	seeds = append([]string(nil), seeds...)
	n.catchWG.Add(1)
	n.catching.Add(1)
	go func() { // exits on stop (a later Join, Close) or when caught up
		defer n.catchWG.Done()
		defer n.catching.Add(-1)
		n.catchUp(seeds, stop)
	}()
}

func (n *Node) catchUp(seeds []string, stop <-chan struct{}) {
	// Members that joined together would pull together: the jitter
	// spreads them over a whole interval.
	jitter := func(d time.Duration) time.Duration { return d/2 + rand.N(d) }
	every := n.catchEvery
	t := time.NewTimer(jitter(every))
	defer t.Stop()
	pulls, fails := 0, 0
	for pulls < maxCatchUps {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		n.pulls.Add(1)
		before := n.joins.Load()
		if _, err := n.ml.Join(seeds); err != nil {
			// Refused (a seed serves 128 push/pulls at once) or
			// unreachable: try again an interval later.
			if fails++; fails == maxCatchUpFails {
				return
			}
			t.Reset(jitter(every))
			continue
		}
		pulls++
		fails = 0
		if n.joins.Load() == before {
			return // the seeds had nothing this node lacked
		}
		every *= 2
		t.Reset(jitter(every))
	}
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
		n.catchMu.Lock()
		n.closed = true
		if n.catchStop != nil {
			close(n.catchStop)
		}
		n.catchMu.Unlock()
		if len(n.Members()) > 0 {
			_ = n.ml.Leave(time.Second)
		}
		if serr := n.ml.Shutdown(); serr != nil {
			err = fmt.Errorf("cluster: shutdown: %w", serr)
		}
		n.catchWG.Wait() // a pull under way fails once the transport is down
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
	if kind == Joined {
		n.joins.Add(1)
		n.grew.Store(time.Now().UnixNano())
	}
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

// fleetConfig is memberlist's configuration for every Surge member, on a
// fleet or on loopback: memberlist.DefaultLANConfig (probe a member every
// second with a 500 ms timeout, gossip to 3 members every 200 ms, TCP
// push/pulls and joins given 10 s) with these changes:
//
//   - No compression. memberlist LZW-compresses every gossip packet and
//     push/pull by default; LZW (with the garbage its buffers make) was a
//     tenth or more of the CPU of 1,000 members joining in one process
//     (a CPU profile of bench/scale), for packets of names and addresses
//     sent over a LAN or loopback where the bytes are cheap.
//   - Gossip every 500 ms instead of 200 ms (memberlist's WAN pace), to 3
//     members as before. Agents never talk to each other: gossip is how
//     failures and leaves spread, and discovery is by joins and catch-up
//     pulls. A member that joins a fleet of N learns N members at once,
//     and memberlist re-gossips each of them RetransmitMult × log10(N+1)
//     times; receiving and queueing these was the largest part of the CPU
//     of 1,000 members joining in one process. At 500 ms the same news
//     goes out at 2/5 of the rate; a suspicion should still reach a
//     1,000-member fleet in about log3(N) ≈ 7 rounds (3.5 s, not measured
//     here), within its window (SuspicionMult 4 × log10(N) × 1 s ≥ 12 s).
//   - The same profile on loopback. memberlist's DefaultLocalConfig (which
//     Surge used on 127.0.0.0/8) gives a push/pull 1 s and a probe 200 ms:
//     on one machine running hundreds of agents, a join to a coordinator
//     starved of CPU timed out, and live members were suspected.
//
// Joins then converge by catch-up pulls (see CatchUpEvery) rather than by
// gossip alone. Failure detection is memberlist's own, untouched:
// Config.FastFailureDetection shortens it for tests.
func fleetConfig() *memberlist.Config {
	mc := memberlist.DefaultLANConfig()
	mc.EnableCompression = false
	mc.GossipInterval = 500 * time.Millisecond
	return mc
}
