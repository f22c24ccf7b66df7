package coordinator

import (
	"errors"
	"google.golang.org/grpc"
	"io"
	"time"

	"github.com/surgeload/surge/internal/agent"
	"github.com/surgeload/surge/internal/engine"
	"github.com/surgeload/surge/internal/livemetrics"
	"github.com/surgeload/surge/internal/stages"
)

// Errors Run returns at the package boundary. The CLI maps them to exit
// codes (3: the run could not be carried out).
var (
	// ErrNoAgents: not enough compatible agents joined within the wait.
	ErrNoAgents = errors.New("no agents")
	// ErrTargetUnreachable: an agent could not reach (or may not reach) a
	// stage's target before T0.
	ErrTargetUnreachable = errors.New("target unreachable")
	// ErrRunFailed: the run started but could not be carried out fully
	// (an agent was lost, or sent data that does not add up).
	ErrRunFailed = errors.New("run failed")
	// ErrAgentLost: an agent was lost, or stopped on its own, while it
	// played a stage, so some arrivals were never sent; the report counts
	// them as lost. Also matches ErrRunFailed.
	ErrAgentLost = errors.New("agent lost")
)

// Config configures a run.
type Config struct {
	// Name is the coordinator's cluster name; empty means "coordinator-"
	// plus a random suffix.
	Name string
	// GossipListen is the coordinator's gossip ip:port. Agents join it.
	GossipListen string
	// Agents is how many agents to start inside this process (embedded
	// mode). Ignored when Expect > 0.
	Agents int
	// Expect, when > 0, waits for that many external agents instead of
	// starting any.
	Expect int
	// MinAgents, when > 0, lets the run start with fewer agents than
	// Expect (or Agents) completing the handshake, down to this many;
	// by default every one must, or the run fails before T0 naming why
	// each did not.
	MinAgents int
	// Wait bounds how long to wait for agents to join.
	Wait time.Duration
	// Interval is the reporting interval.
	Interval time.Duration
	// Overrides are the command line's settings of what the scenario
	// plays (limits, capacity search); Run compiles the scenario with
	// them. Play takes a plan already compiled.
	stages.Overrides
	// Lead is how far in the future T0 is set after every agent accepted:
	// enough for the Start message to reach every agent.
	Lead time.Duration
	// Heartbeat is the period of heartbeats renewing the agents' leases.
	Heartbeat time.Duration
	// MaxSendLag is the send-lag (and on-wire lag) p99 above which a stage
	// is flagged generator-limited (the generator could not send on
	// time); 0 takes the scenario's safety.max_send_lag, else
	// DefaultConfig's.
	MaxSendLag time.Duration
	// Log receives progress lines and warnings; nil discards them.
	Log io.Writer
	// Verbose passes the gossip library's own log lines (prefixed
	// "gossip: ") to Log, the embedded agents' too; without it they are
	// dropped but for one summary line per stray host.
	Verbose bool
	// Agent is the template for embedded agents (names and listeners are
	// filled in per agent).
	Agent agent.Config
	// StartTarget starts a bundled target topology on loopback and returns
	// its base URL and a stop function. nil means the targets package.
	StartTarget func(name string) (url string, stop func() error, err error)
	// startWith is the default StartTarget's form with a stage's options
	// (set with it; a StartTarget of the caller's ignores options).
	startWith func(name string, options []byte) (url string, stop func() error, err error)
	// FastFailureDetection tunes gossip probing for loopback clusters.
	FastFailureDetection bool
	// GossipKey, if set (16, 24 or 32 bytes), encrypts gossip. In embedded
	// mode a random key is used when none is set, so the run's cluster is
	// private: no other process on the machine can join it or be joined.
	GossipKey []byte
	// Listening, if set, is called with the bound gossip address as soon as
	// the coordinator's node is up (before any agent is awaited).
	Listening func(gossipAddr string)
	// MetricsListen, if set, serves the run's live Prometheus metrics at
	// /metrics on this ip:port while it plays (surge_run_*: requests by
	// outcome, failures by class, response-time histograms by stage and
	// request, agents alive, send lag).
	MetricsListen string
	// MetricsListening, if set, is called with the bound metrics address.
	MetricsListening func(addr string)
	// Metrics, if set, is an exporter the caller serves (and may keep up
	// after the run: package surge lingers): the run reports into it, and
	// MetricsListen is not used.
	Metrics *livemetrics.Exporter
	// Hlog, if set, receives latency.hlog as the run plays, a stage at a
	// time when it ends (reporters.HlogWriter): every histogram the
	// coordinator keeps per interval, tagged, of which report.json has
	// only the response times. The run does not close it.
	Hlog io.Writer
	// Progress, if set, receives the playing stage's progress once per
	// heartbeat instead of a plain line on Log.
	Progress func(Progress)
	// MaxClockOffset refuses an agent whose clock differs from the
	// coordinator's by more than this (estimated offset plus its error
	// bound). T0 is mapped into each agent's clock either way.
	MaxClockOffset time.Duration
	// AgentTimeout is how long an agent playing a stage may be silent (no
	// snapshot, no heartbeat ack) before its stream is taken for broken
	// and its session resumed on a new one. A broken stream, or gossip
	// declaring it gone, counts at once. The agent is lost only when no
	// resume succeeds within its lease.
	AgentTimeout time.Duration
	// TakeoverLead is how far ahead of the moment an agent is found lost
	// the survivors take over its share (the cut), so that they hold the
	// assignment before its first arrival falls due. A silent agent's share
	// is taken over only once its lease has run out.
	TakeoverLead time.Duration
	// PlaintextRemote lets a coordinator without DialOptions dial agents
	// at non-loopback addresses in plaintext (--insecure-allow-remote).
	// Without it such agents are refused: their address came from gossip,
	// which carries no authority.
	PlaintextRemote bool
	// DialOptions secure the gRPC connections to agents (transport
	// credentials: see internal/auth). Empty means plaintext, which only
	// loopback agents may use.
	DialOptions []grpc.DialOption
	// Token, if set, is the shared token: every agent must prove it holds
	// it in the Session handshake (tokenproof.Proof) or it is refused, and the
	// coordinator proves it back. It is never sent.
	Token []byte
}

// DefaultConfig is embedded mode with two agents on loopback.
func DefaultConfig() Config {
	return Config{
		GossipListen: "127.0.0.1:7946",
		Agents:       2,
		Wait:         30 * time.Second,
		Interval:     time.Second,
		Overrides:    stages.Overrides{Limits: engine.DefaultLimits()},
		Lead:         500 * time.Millisecond,
		Heartbeat:    time.Second,
		MaxSendLag:   5 * time.Millisecond,
		Agent:        agent.DefaultConfig(),

		MaxClockOffset: time.Second,
		AgentTimeout:   3 * time.Second,
		TakeoverLead:   500 * time.Millisecond,
	}
}
