package surge

import (
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"

	"github.com/surgeload/surge/internal/agent"
	"github.com/surgeload/surge/internal/engine"
)

// AgentOptions configure an agent started in this program (StartAgent):
// a member of a fleet that a coordinator elsewhere (or Run with Expect)
// finds by gossip and drives over gRPC.
type AgentOptions struct {
	// Name must be unique in the cluster; empty means the host name plus a
	// random suffix.
	Name string
	// GossipListen and GRPCListen are ip:port; port 0 picks a free one.
	// Default 127.0.0.1:0 for both.
	GossipListen, GRPCListen string
	// Join lists gossip addresses to join: the coordinator's.
	Join []string
	// GossipKey (16, 24 or 32 bytes) encrypts gossip; it must be the
	// coordinator's.
	GossipKey []byte
	// AllowTargets are the targets this agent may load besides loopback:
	// CIDRs and host patterns, as the agent command's --allow-target.
	// Empty means loopback only.
	AllowTargets []string
	// MaxRate (req/s), MaxDuration and MaxInFlight are the agent's own
	// limits, which no coordinator can override. Zero means the defaults
	// (100,000 req/s, 24h, no in-flight cap of its own).
	MaxRate     float64
	MaxDuration time.Duration
	MaxInFlight int
	// Log receives operational messages; nil discards them. Verbose adds
	// the gossip library's own lines.
	Log     io.Writer
	Verbose bool
	// ServerOptions secure the agent's gRPC server (mutual TLS); empty
	// means plaintext, for loopback only.
	ServerOptions []grpc.ServerOption
	// Token, if set, is the shared token the agent proves it holds in
	// each Session handshake, taking commands only from a coordinator that
	// proves it back (Options.Token); it is never sent.
	Token []byte
}

// Agent is an agent running in this program.
type Agent struct{ a *agent.Agent }

// StartAgent starts an agent: it joins the gossip cluster and serves its
// Session stream until Close. It stops firing by itself when it loses its
// coordinator (its lease runs out).
func StartAgent(o AgentOptions) (*Agent, error) {
	c := agent.DefaultConfig()
	c.Name, c.Join, c.GossipKey, c.Log, c.ServerOptions, c.Verbose = o.Name, o.Join, o.GossipKey, o.Log, o.ServerOptions, o.Verbose
	c.Token = o.Token
	if o.GossipListen != "" {
		c.GossipListen = o.GossipListen
	}
	if o.GRPCListen != "" {
		c.GRPCListen = o.GRPCListen
	}
	if o.MaxRate > 0 {
		c.MaxRate = o.MaxRate
	}
	if o.MaxDuration > 0 {
		c.MaxDuration = o.MaxDuration
	}
	c.MaxInFlight = o.MaxInFlight
	if len(o.AllowTargets) > 0 {
		allow, err := engine.ParseAllowlist(o.AllowTargets)
		if err != nil {
			return nil, fmt.Errorf("surge: allow targets: %w", err)
		}
		c.Engine.Allow = allow
	}
	a, err := agent.Start(c)
	if err != nil {
		return nil, err
	}
	return &Agent{a: a}, nil
}

// Name is the agent's cluster name.
func (a *Agent) Name() string { return a.a.Name() }

// GossipAddr is the agent's bound gossip address.
func (a *Agent) GossipAddr() string { return a.a.GossipAddr() }

// Close stops the agent: it leaves the cluster and stops serving.
func (a *Agent) Close() error { return a.a.Close() }
