package agent

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/surgeload/surge/internal/cluster"
	"github.com/surgeload/surge/internal/engine"
	"github.com/surgeload/surge/internal/wire"
	surgev1 "github.com/surgeload/surge/proto/gen/surge/v1"
)

// Version is the software version advertised in gossip metadata.
const Version = "0.1.0"

// DefaultName is an agent name unique by construction: agent-HOST-PID-
// and 64 random bits, so many agents on one host (or on hosts of one
// name) never collide in gossip, which refuses a second member of a name.
func DefaultName() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "host"
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("agent-%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Config configures an Agent.
type Config struct {
	// Name must be unique in the cluster; empty means one unique by
	// construction (DefaultName: host, process id and 64 random bits).
	Name string
	// GossipListen is the gossip ip:port; port 0 picks a free port.
	GossipListen string
	// GRPCListen is the ip:port of the Session server; port 0 picks one.
	GRPCListen string
	// AdvertiseGRPC, if set, is the ip:port advertised in gossip for the
	// coordinator to dial instead of the bound address: a forwarded port,
	// or a test's proxy in front of the agent.
	AdvertiseGRPC string
	// Join lists gossip addresses of members to join (the coordinator's).
	Join []string
	// Cores is advertised as the agent's capacity; 0 means GOMAXPROCS.
	Cores int
	// Protocol is the protocol version spoken; 0 means wire.ProtocolVersion.
	// Only tests set it, to play an incompatible agent.
	Protocol uint32
	// Lease is how long the agent keeps firing without hearing from its
	// coordinator. The coordinator sends a heartbeat every second; when
	// its stream breaks, the agent fires on and keeps its results, and a
	// coordinator that resumes the session within the lease loses nothing.
	// A longer lease survives longer blips; a dead agent's share is taken
	// over only once its lease has run out.
	Lease time.Duration
	// Engine configures the firing engine (allowed targets, pools).
	Engine engine.Config
	// Log receives operational messages, and a one-line summary of gossip
	// trouble an operator should act on (see cluster.Config.Log); nil
	// discards them. It must be safe for concurrent use.
	Log io.Writer
	// Verbose adds debugging detail to Log: every line memberlist logs,
	// prefixed "gossip: ".
	Verbose bool
	// FastFailureDetection tunes gossip probing for loopback clusters and
	// tests (see cluster.Config.FastFailureDetection).
	FastFailureDetection bool
	// GossipKey, if set (16, 24 or 32 bytes), encrypts gossip; only members
	// holding the same key can join.
	GossipKey []byte
	// MaxRate, MaxDuration and MaxInFlight are this agent's own limits,
	// which no coordinator can override: an assignment whose share peaks
	// above MaxRate (req/s) or whose schedule lasts longer than
	// MaxDuration is refused, and the in-flight cap of every assignment is
	// lowered to MaxInFlight. Zero means no limit of the agent's own.
	MaxRate     float64
	MaxDuration time.Duration
	MaxInFlight int
	// ClockSkew shifts the wall clock the agent reports and reads T0 on.
	// Only tests set it, to play an agent whose clock is off.
	ClockSkew time.Duration
	// ServerOptions secure the Session server (transport credentials that
	// check the coordinator's certificate and role: see internal/auth).
	// Empty means plaintext, for loopback only.
	ServerOptions []grpc.ServerOption
	// Token, if set, is the shared token: the agent proves it holds it in
	// every Session handshake (tokenproof.Proof) and takes no command from a
	// coordinator that does not prove it back. It is never sent.
	Token []byte
	// Refused, if set, hears of a coordinator refused in the handshake
	// (its remote address and why), as auth.Config.Refused does of
	// connections refused by the transport.
	Refused func(remote string, err error)
}

// DefaultConfig returns an agent on loopback with ephemeral ports, a
// ten-second lease (a network blip of several seconds is resumed without
// loss: see Config.Lease), and its own limits of 100,000 req/s and 24 hours per
// assignment.
func DefaultConfig() Config {
	return Config{
		GossipListen: "127.0.0.1:0",
		GRPCListen:   "127.0.0.1:0",
		Lease:        10 * time.Second,
		Engine:       engine.DefaultConfig(),
		MaxRate:      100_000,
		MaxDuration:  24 * time.Hour,
	}
}

// checkLimits refuses an assignment beyond the agent's own limits, with
// running (req/s) the peak of the shares it is already playing, and lowers
// its in-flight cap to the agent's.
func (c Config) checkLimits(j *engine.Job, running float64) error {
	if j.Schedule == nil {
		return nil
	}
	own := 1.0
	if j.Share.Cycle > 0 {
		own = j.Share.Fraction()
	}
	if peak := j.Schedule.Curve().Peak()*own + running; c.MaxRate > 0 && peak > c.MaxRate*(1+1e-9) {
		if running > 0 {
			return fmt.Errorf("%w: with the %.1f req/s it already plays, this agent's share would peak at %.1f req/s, over its --max-rate %g req/s", errOverLimit, running, peak, c.MaxRate)
		}
		return fmt.Errorf("%w: this agent's share peaks at %.1f req/s, over its --max-rate %g req/s", errOverLimit, peak, c.MaxRate)
	}
	if d := j.Schedule.Duration(); c.MaxDuration > 0 && d > c.MaxDuration {
		return fmt.Errorf("%w: the schedule lasts %v, over this agent's --max-duration %v", errOverLimit, d, c.MaxDuration)
	}
	if c.MaxInFlight > 0 && (j.Limits.MaxInFlight <= 0 || j.Limits.MaxInFlight > c.MaxInFlight) {
		j.Limits.MaxInFlight = c.MaxInFlight
	}
	return nil
}

// errOverLimit is wrapped by refusals of assignments beyond the agent's
// own limits.
var errOverLimit = errors.New("refused by the agent's own limits")

// Agent is a running agent.
type Agent struct {
	cfg Config
	// fences holds, per run, the highest epoch of a session that ended
	// without its coordinator (lease expired, stream broken): only a newer
	// epoch may start this agent again in that run.
	fenceMu sync.Mutex
	fences  map[string]uint64
	node    *cluster.Node
	srv     *grpc.Server
	lis     net.Listener
	engine  *engine.Engine
	// run is the session of the run the agent plays or last played
	// (kept, once over, for a coordinator resuming to fetch its results).
	runMu   sync.Mutex
	run     *session
	served  chan struct{}
	closing chan struct{}
	once    sync.Once
}

// Start binds the gRPC and gossip listeners, starts serving and joins the
// cluster. The agent runs until Close.
func Start(cfg Config) (*Agent, error) {
	d := DefaultConfig()
	if cfg.GossipListen == "" {
		cfg.GossipListen = d.GossipListen
	}
	if cfg.GRPCListen == "" {
		cfg.GRPCListen = d.GRPCListen
	}
	if cfg.Lease <= 0 {
		cfg.Lease = d.Lease
	}
	if cfg.Protocol == 0 {
		cfg.Protocol = wire.ProtocolVersion
	}
	if cfg.Cores <= 0 {
		cfg.Cores = runtime.GOMAXPROCS(0)
	}
	if cfg.Name == "" {
		cfg.Name = DefaultName()
	}
	if _, err := netip.ParseAddrPort(cfg.GRPCListen); err != nil {
		return nil, fmt.Errorf("agent: grpc listen address %q must be ip:port: %w", cfg.GRPCListen, err)
	}
	lis, err := net.Listen("tcp", cfg.GRPCListen)
	if err != nil {
		return nil, fmt.Errorf("agent: grpc listen: %w", err)
	}
	a := &Agent{cfg: cfg, lis: lis, served: make(chan struct{}), closing: make(chan struct{})}
	ec := cfg.Engine
	if ec.Warn == nil { // the preflight's warnings (a file limit below max_conns) go to the agent's log
		ec.Warn = func(m string) { a.logf("preflight warning: %s", m) }
	}
	a.engine = engine.New(ec)
	a.srv = grpc.NewServer(append([]grpc.ServerOption{
		// Detect a dead coordinator at the transport level too, and allow
		// the coordinator's keepalive pings (the default policy would
		// disconnect it with too_many_pings).
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 5 * time.Second, Timeout: 3 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.MaxRecvMsgSize(32 << 20), // assignments carry up to 16 MiB of data files
	}, cfg.ServerOptions...)...)
	surgev1.RegisterAgentServiceServer(a.srv, &service{a: a})
	go func() { // exits when the server stops (Close)
		defer close(a.served)
		_ = a.srv.Serve(lis)
	}()
	node, err := cluster.Start(cluster.Config{
		Name:   cfg.Name,
		Listen: cfg.GossipListen,
		Meta: cluster.Meta{Role: cluster.RoleAgent, GRPC: cmp.Or(cfg.AdvertiseGRPC, lis.Addr().String()), Protocol: cfg.Protocol,
			Cores: cfg.Cores, Version: Version},
		Log:                  cfg.Log,
		Verbose:              cfg.Verbose,
		FastFailureDetection: cfg.FastFailureDetection,
		SecretKey:            cfg.GossipKey,
	})
	if err != nil {
		a.srv.Stop()
		<-a.served
		return nil, fmt.Errorf("agent: %w", err)
	}
	a.node = node
	if len(cfg.Join) > 0 {
		go a.keepJoined() // exits on Close
	}
	return a, nil
}

// rejoinEvery is how often an agent that sees no coordinator joins its
// seeds again.
const rejoinEvery = 2 * time.Second

// keepJoined joins the seed addresses whenever no coordinator is a member:
// at start (the coordinator may start after its agents, as a Kubernetes
// Job does), and after a coordinator left, so that the next one at the
// same address finds the agent again.
//
// A failing join is logged once per reason, up to maxJoinReasons per
// streak: the reason may change (the seed is not up yet, then it is up
// but holds another gossip key) and the latest is the one to act on.
func (a *Agent) keepJoined() {
	t := time.NewTimer(0)
	defer t.Stop()
	said := map[string]bool{} // reasons logged since the last success
	for {
		select {
		case <-a.closing:
			return
		case <-t.C:
		}
		if !a.seesCoordinator() {
			if _, err := a.node.Join(a.cfg.Join); err != nil {
				switch reason := err.Error(); {
				case len(said) == 0:
					a.logf("cannot join %v yet (retrying every %v): %v", a.cfg.Join, rejoinEvery, err)
					said[reason] = true
				case !said[reason] && len(said) < maxJoinReasons:
					a.logf("still cannot join %v: %v", a.cfg.Join, err)
					said[reason] = true
				}
			} else {
				if len(said) > 0 {
					a.logf("joined %v", a.cfg.Join)
				}
				clear(said)
			}
		}
		t.Reset(rejoinEvery)
	}
}

// maxJoinReasons bounds the lines one streak of failing joins logs (an
// error may carry an ephemeral port, and so differ every time).
const maxJoinReasons = 3

func (a *Agent) seesCoordinator() bool {
	for _, m := range a.node.Members() {
		if m.MetaErr == nil && m.Meta.Role == cluster.RoleCoordinator {
			return true
		}
	}
	return false
}

// fence records that the session of run at epoch ended without its
// coordinator.
func (a *Agent) fence(run string, epoch uint64) {
	a.fenceMu.Lock()
	defer a.fenceMu.Unlock()
	if a.fences == nil {
		a.fences = map[string]uint64{}
	}
	if len(a.fences) > 1024 { // bounded: forget old runs
		clear(a.fences)
	}
	a.fences[run] = max(a.fences[run], epoch)
}

// fenced is the highest fenced epoch of run (0 when none).
func (a *Agent) fenced(run string) uint64 {
	a.fenceMu.Lock()
	defer a.fenceMu.Unlock()
	return a.fences[run]
}

// wall is the agent's wall clock reading of instant t.
func (a *Agent) wall(t time.Time) time.Time { return t.Add(a.cfg.ClockSkew) }

func (a *Agent) wallNow() time.Time { return a.wall(time.Now()) }

// Name is the agent's cluster name.
func (a *Agent) Name() string { return a.cfg.Name }

// GRPCAddr is the bound address of the Session server.
func (a *Agent) GRPCAddr() string { return a.lis.Addr().String() }

// GossipAddr is the bound gossip address.
func (a *Agent) GossipAddr() string { return a.node.Addr() }

// Close stops serving (ending any session, which stops its jobs and sends
// their Done), and leaves the cluster once the coordinator has hung up on a
// session whose jobs it stopped, or after a 2 s grace. It is idempotent.
func (a *Agent) Close() error {
	var err error
	a.once.Do(func() {
		close(a.closing)
		// GracefulStop blocks while a stream is open; give it a moment.
		stopped := make(chan struct{})
		go func() { a.srv.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(2 * time.Second):
			a.srv.Stop()
			<-stopped
		}
		<-a.served
		if a.node != nil {
			err = a.node.Close()
		}
	})
	return err
}

func (a *Agent) logf(format string, args ...any) {
	if a.cfg.Log != nil {
		fmt.Fprintf(a.cfg.Log, "agent %s: "+format+"\n", append([]any{a.cfg.Name}, args...)...)
	}
}

// errorCode maps an assignment error to its wire code.
func errorCode(err error) surgev1.ErrorCode {
	switch {
	case errors.Is(err, engine.ErrTargetNotAllowed):
		return surgev1.ErrorCode_ERROR_CODE_TARGET_NOT_ALLOWED
	case errors.Is(err, engine.ErrTargetUnreachable):
		return surgev1.ErrorCode_ERROR_CODE_TARGET_UNREACHABLE
	case errors.Is(err, wire.ErrMalformed):
		return surgev1.ErrorCode_ERROR_CODE_INVALID_ASSIGNMENT
	default:
		return surgev1.ErrorCode_ERROR_CODE_INTERNAL
	}
}
