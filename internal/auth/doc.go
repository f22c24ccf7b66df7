// Package auth secures Surge's control plane: the gRPC Session stream the
// coordinator opens to each agent, and the gossip between them.
//
// # Roles in certificates
//
// One private CA (GenerateCA, or `coordinator certs init`) signs two kinds
// of leaf certificates (IssueRole, ECDSA P-256, a year by default). The
// role is carried twice, and both are checked:
//
//   - a URI SAN surge://role/coordinator or surge://role/agent (exactly
//     one; RoleOf reads it);
//   - the extended key usage: client auth for the coordinator (it dials),
//     server auth for an agent (it serves).
//
// No check ever looks at a hostname, an IP address or a common name.
// Agents' addresses come from gossip and change; an address learned from
// gossip never carries authority. So the coordinator accepts an agent whose
// certificate chains to the CA and says agent, whatever address it dialled,
// and an agent accepts a caller whose certificate chains to the CA and says
// coordinator: an agent's certificate cannot drive other agents.
//
// # Modes
//
// ServerOptions (for agent.Config.ServerOptions) and DialOptions (for
// coordinator.Config.DialOptions) build gRPC options from a Config:
// mutual TLS 1.3, a shared token, both, or, asked for explicitly,
// plaintext. The token never travels: in the Session handshake each side
// proves it holds it (internal/tokenproof: an HMAC keyed by the token over both sides'
// random nonces, the agent first), so a rogue gossip member that the
// coordinator dials, or a rogue coordinator that dials an agent, learns
// nothing it can use. A token without TLS authenticates but encrypts
// nothing; Flags.Check allows that on loopback only.
//
// Gossip is encrypted and authenticated by memberlist with a shared
// AES-GCM key (ReadGossipKey): a node without it never joins.
//
// # Secret files
//
// Private keys, the gossip key and the token are refused
// (ErrSecretExposed) when every user of the machine may read or write them
// (mode o+r or o+w): give them mode 0600, or 0440 with a group (in
// Kubernetes: the Secret volume's defaultMode: 0440 and the pod's fsGroup).
//
// Concurrency: the options returned are safe for concurrent use by gRPC;
// files are read once, when they are built. Nothing here starts a
// goroutine.
package auth
