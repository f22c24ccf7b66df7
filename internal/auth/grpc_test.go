package auth

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/surgeload/surge/internal/agent"
	"github.com/surgeload/surge/internal/tokenproof"
	"github.com/surgeload/surge/internal/wire"
	surgev1 "github.com/surgeload/surge/proto/gen/surge/v1"
)

// pki is a bundle written to a temporary directory, plus a second CA's.
type pki struct {
	dir   string
	b     *Bundle
	other *Bundle // another CA with its own coordinator and agent
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	b, err := NewBundle(BundleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewBundle(BundleOptions{CAName: "Other CA"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := WriteBundle(dir, b, false); err != nil {
		t.Fatal(err)
	}
	return &pki{dir: dir, b: b, other: other}
}

func (p *pki) path(name string) string { return filepath.Join(p.dir, name) }

// write stores a key pair as name.crt and name.key in the directory.
func (p *pki) write(t *testing.T, name string, kp *KeyPair) (certFile, keyFile string) {
	t.Helper()
	key, err := kp.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = p.path(name+".crt"), p.path(name+".key")
	if err := os.WriteFile(certFile, kp.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func (p *pki) agentConfig() Config {
	return Config{CAFile: p.path("ca.crt"), CertFile: p.path("agent.crt"), KeyFile: p.path("agent.key")}
}

func (p *pki) coordConfig() Config {
	return Config{CAFile: p.path("ca.crt"), CertFile: p.path("coordinator.crt"), KeyFile: p.path("coordinator.key")}
}

// refusals collects what the agent's Refused hook reports.
type refusals struct {
	mu   sync.Mutex
	errs []string
}

func (r *refusals) add(_ string, err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err.Error())
	r.mu.Unlock()
}

// wait returns once a refusal containing want was reported, or fails the
// test after a generous bound (the report comes from gRPC's goroutine).
func (r *refusals) wait(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		got := strings.Join(r.errs, " | ")
		r.mu.Unlock()
		if strings.Contains(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent refusals %q; want one containing %q", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startAgent starts a real agent (joining nobody) whose Session server
// has opts.
func startAgent(t *testing.T, opts []grpc.ServerOption) *agent.Agent {
	t.Helper()
	cfg := agent.DefaultConfig()
	cfg.Name = "auth-test-agent"
	cfg.ServerOptions = opts
	a, err := agent.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// session opens the Session stream as the coordinator does and says hello;
// nil means the agent answered Ready.
func session(addr string, opts ...grpc.DialOption) error {
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // a bound, not a timing assertion
	defer cancel()
	s, err := surgev1.NewAgentServiceClient(cc).Session(ctx)
	if err != nil {
		return err
	}
	if err := s.Send(&surgev1.SessionRequest{Msg: &surgev1.SessionRequest_Hello{Hello: &surgev1.Hello{
		ProtocolVersion: wire.ProtocolVersion, CoordinatorName: "auth-test", CoordinatorTimeUnixNano: time.Now().UnixNano()}}}); err != nil {
		if _, rerr := s.Recv(); rerr != nil {
			return rerr // Send says io.EOF; Recv has the status
		}
		return err
	}
	m, err := s.Recv()
	if err != nil {
		return err
	}
	if m.GetReady() == nil {
		return fmt.Errorf("answer to hello: %v", m)
	}
	return nil
}

// rawClient dials with TLS presenting certs (none for nil) and trusting
// any server: a client that skips our checks, to see the agent's.
func rawClient(certs ...*KeyPair) grpc.DialOption {
	tc := &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true}
	for _, kp := range certs {
		tc.Certificates = append(tc.Certificates, tls.Certificate{Certificate: [][]byte{kp.Cert.Raw}, PrivateKey: kp.Key})
	}
	return grpc.WithTransportCredentials(credentials.NewTLS(tc))
}

// TestAgentRefusesCallers: an mTLS agent serves only a coordinator
// certificate from our CA.
func TestAgentRefusesCallers(t *testing.T) {
	p := newPKI(t)
	coordOpts, err := DialOptions(p.coordConfig())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		dial    []grpc.DialOption
		refusal string // what the agent reports; "" = Ready
	}{
		{"coordinator of our CA", coordOpts, ""},
		{"no client certificate", []grpc.DialOption{rawClient()}, "didn't provide a certificate"},
		{"coordinator of another CA", []grpc.DialOption{rawClient(p.other.Coordinator)}, "not signed by our CA"},
		{"agent posing as coordinator", []grpc.DialOption{rawClient(p.b.Agent)}, "carries the agent role where the coordinator role is required"},
		{"plaintext", []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, "first record does not look like a TLS handshake"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r refusals
			cfg := p.agentConfig()
			cfg.Refused = r.add
			opts, err := ServerOptions(cfg)
			if err != nil {
				t.Fatal(err)
			}
			a := startAgent(t, opts)
			err = session(a.GRPCAddr(), tt.dial...)
			if tt.refusal == "" {
				if err != nil {
					t.Fatalf("session = %v; want Ready", err)
				}
				return
			}
			if err == nil {
				t.Fatal("session got Ready; want a refusal")
			}
			r.wait(t, tt.refusal)
		})
	}
}

// startServer serves an AgentService that answers nothing with the given
// TLS certificate: a server that is not one of our agents.
func startServer(t *testing.T, kp *KeyPair) string {
	t.Helper()
	tc := &tls.Config{MinVersion: tls.VersionTLS13, ClientAuth: tls.RequireAnyClientCert,
		Certificates: []tls.Certificate{{Certificate: [][]byte{kp.Cert.Raw}, PrivateKey: kp.Key}}}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(tc)))
	surgev1.RegisterAgentServiceServer(srv, surgev1.UnimplementedAgentServiceServer{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }() // exits on Stop
	t.Cleanup(func() { srv.Stop(); <-done })
	return lis.Addr().String()
}

// TestCoordinatorRefusesServers: the coordinator talks only to a server
// whose certificate is an agent's from our CA, at whatever address.
func TestCoordinatorRefusesServers(t *testing.T) {
	p := newPKI(t)
	expired, err := issue(p.b.CA, RoleAgent, "old-agent", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	opts, err := DialOptions(p.coordConfig())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		server *KeyPair
		want   string
	}{
		{"coordinator certificate", p.b.Coordinator, "carries the coordinator role where the agent role is required"},
		{"agent of another CA", p.other.Agent, "not signed by our CA"},
		{"expired agent", expired, "expired on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := session(startServer(t, tt.server), opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("session = %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestToken: in token mode the token never travels. The agent proves it
// holds it in Ready, and takes a command only once the coordinator proved
// it back; with the wrong token (or none) on either side the session is
// refused, and a peer without the token sees nothing of it.
func TestToken(t *testing.T) {
	p := newPKI(t)
	withToken := func(c Config, tok string) Config { c.Token = []byte(tok); return c }
	good := string(p.b.Token)
	// The wrong token differs in its last character, whatever that is
	// (a random token ends in "x" now and then).
	wrong := good[:len(good)-1] + map[bool]string{true: "y", false: "x"}[strings.HasSuffix(good, "x")]
	tests := []struct {
		name   string
		server Config
		client Config
		ok     bool
	}{
		{"plaintext, right token", Config{TokenFile: p.path("token")}, Config{Token: []byte(good)}, true},
		{"plaintext, wrong token", Config{TokenFile: p.path("token")}, Config{Token: []byte(wrong)}, false},
		{"plaintext, longer token", Config{TokenFile: p.path("token")}, Config{Token: []byte(good + "x")}, false},
		{"plaintext, no token", Config{TokenFile: p.path("token")}, Config{Insecure: true}, false},
		{"mTLS and right token", withToken(p.agentConfig(), good), withToken(p.coordConfig(), good), true},
		{"mTLS and wrong token", withToken(p.agentConfig(), good), withToken(p.coordConfig(), "0123456789abcdef-wrong"), false},
		{"mTLS without token", withToken(p.agentConfig(), good), p.coordConfig(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sopts, err := ServerOptions(tt.server)
			if err != nil {
				t.Fatal(err)
			}
			agentTok, err := tt.server.SessionToken()
			if err != nil {
				t.Fatal(err)
			}
			dopts, err := DialOptions(tt.client)
			if err != nil {
				t.Fatal(err)
			}
			coordTok, err := tt.client.SessionToken()
			if err != nil {
				t.Fatal(err)
			}
			a := startTokenAgent(t, sopts, agentTok)
			agentProved, err := tokenSession(a.GRPCAddr(), coordTok, agentTok, dopts...)
			switch {
			case tt.ok && (err != nil || !agentProved):
				t.Fatalf("session = %v, agent proved %v; want a heartbeat answered after both proofs", err, agentProved)
			case !tt.ok && err == nil:
				t.Fatal("session went on; want the agent to refuse the coordinator's proof")
			case !tt.ok && status.Code(err) != codes.Unauthenticated:
				t.Fatalf("session = %v; want Unauthenticated", err)
			case !tt.ok && coordTok != nil && agentProved:
				t.Fatal("the agent's proof passed a check with another token")
			}
		})
	}
}

// startTokenAgent starts a real agent with the shared token tok.
func startTokenAgent(t *testing.T, opts []grpc.ServerOption, tok []byte) *agent.Agent {
	t.Helper()
	cfg := agent.DefaultConfig()
	cfg.Name = "auth-test-agent"
	cfg.ServerOptions, cfg.Token = opts, tok
	a, err := agent.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// tokenSession plays the coordinator's side of the handshake with token
// tok (nil: none): Hello with a nonce, Ready (whose proof it checks with
// tok, reporting whether it passed), its own proof, then a heartbeat;
// nil means the heartbeat was answered. No message of the agent may
// carry the agent's token agentTok.
func tokenSession(addr string, tok, agentTok []byte, opts ...grpc.DialOption) (agentProved bool, err error) {
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return false, err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // a bound, not a timing assertion
	defer cancel()
	s, err := surgev1.NewAgentServiceClient(cc).Session(ctx)
	if err != nil {
		return false, err
	}
	nonce := tokenproof.Nonce()
	if err := s.Send(&surgev1.SessionRequest{Msg: &surgev1.SessionRequest_Hello{Hello: &surgev1.Hello{
		ProtocolVersion: wire.ProtocolVersion, CoordinatorName: "auth-test", RunId: "r1",
		CoordinatorTimeUnixNano: time.Now().UnixNano(), AuthNonce: nonce}}}); err != nil {
		return false, err
	}
	recv := func() (*surgev1.SessionResponse, error) {
		m, err := s.Recv()
		if err == nil && agentTok != nil && bytes.Contains([]byte(m.String()), agentTok) {
			return nil, fmt.Errorf("the agent sent its token: %v", m)
		}
		return m, err
	}
	m, err := recv()
	if err != nil {
		return false, err
	}
	rd := m.GetReady()
	if rd == nil {
		return false, fmt.Errorf("answer to hello: %v", m)
	}
	if tok != nil {
		agentProved = tokenproof.VerifyProof(tok, tokenproof.ProofAgent, "r1", nonce, rd.GetAuthNonce(), rd.GetAuthProof())
		if err := s.Send(&surgev1.SessionRequest{Msg: &surgev1.SessionRequest_AuthProof{AuthProof: &surgev1.AuthProof{
			Proof: tokenproof.Proof(tok, tokenproof.ProofCoordinator, "r1", nonce, rd.GetAuthNonce())}}}); err != nil {
			return agentProved, err
		}
	}
	// The agent may have refused (and closed) before the heartbeat is
	// written: then the Send fails and what it said is still to be read.
	_ = s.Send(&surgev1.SessionRequest{Msg: &surgev1.SessionRequest_Heartbeat{Heartbeat: &surgev1.Heartbeat{Seq: 1}}})
	m, err = recv()
	switch {
	case err != nil:
		return agentProved, err
	case m.GetError() != nil:
		if _, rerr := recv(); rerr != nil {
			return agentProved, rerr // the status, after the Error message
		}
		return agentProved, fmt.Errorf("agent: %s", m.GetError().GetMessage())
	case m.GetHeartbeatAck() == nil:
		return agentProved, fmt.Errorf("answer to the heartbeat: %v", m)
	}
	return agentProved, nil
}

func TestConfigErrors(t *testing.T) {
	p := newPKI(t)
	expired, err := issue(p.b.CA, RoleAgent, "old-agent", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	oldCert, oldKey := p.write(t, "old", expired)
	otherCert, otherKey := p.write(t, "other-agent", p.other.Agent)
	notPEM := p.path("not.pem")
	if err := os.WriteFile(notPEM, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	openKey := p.path("open.key")
	key, _ := p.b.Agent.KeyPEM()
	if err := os.WriteFile(openKey, key, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(openKey, 0o644); err != nil { // the umask may have narrowed it
		t.Fatal(err)
	}
	ca := p.path("ca.crt")
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"zero", Config{}, "no credentials"},
		{"insecure and TLS", Config{Insecure: true, CAFile: ca}, "insecure excludes"},
		{"partial TLS", Config{CAFile: ca, CertFile: p.path("agent.crt")}, "together"},
		{"missing CA file", Config{CAFile: p.path("nope.crt"), CertFile: p.path("agent.crt"), KeyFile: p.path("agent.key")}, "no such file"},
		{"CA file not PEM", Config{CAFile: notPEM, CertFile: p.path("agent.crt"), KeyFile: p.path("agent.key")}, "no PEM certificate"},
		{"key not PEM", Config{CAFile: ca, CertFile: p.path("agent.crt"), KeyFile: notPEM}, "no PEM private key"},
		{"key of another cert", Config{CAFile: ca, CertFile: p.path("agent.crt"), KeyFile: p.path("coordinator.key")}, "does not belong"},
		{"key open to all", Config{CAFile: ca, CertFile: p.path("agent.crt"), KeyFile: openKey}, "open to every user"},
		{"wrong role", p.coordConfig(), "carries the coordinator role where the agent role is required"},
		{"expired", Config{CAFile: ca, CertFile: oldCert, KeyFile: oldKey}, "expired on"},
		{"other CA", Config{CAFile: ca, CertFile: otherCert, KeyFile: otherKey}, "not signed by our CA"},
		{"short token", Config{Token: []byte("short")}, "at least 16"},
		{"missing token file", Config{TokenFile: p.path("nope")}, "no such file"},
	}
	for _, tt := range tests {
		// The agent's side: its own certificate must be an agent's.
		if _, err := ServerOptions(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: ServerOptions(%+v) = %v; want an error containing %q", tt.name, tt.cfg, err, tt.want)
		}
	}
	if _, err := DialOptions(p.agentConfig()); !errors.Is(err, ErrRole) {
		t.Errorf("DialOptions(agent certificate) = %v; want ErrRole", err)
	}
}
