package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/surgeload/surge/internal/auth"
	"github.com/surgeload/surge/internal/cluster"
	"github.com/surgeload/surge/internal/wire"
	surgev1 "github.com/surgeload/surge/proto/gen/surge/v1"
)

// certsDir writes a fresh bundle (what `coordinator certs init` writes).
func certsDir(t *testing.T) (string, *auth.Bundle) {
	t.Helper()
	b, err := auth.NewBundle(auth.BundleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := auth.WriteBundle(dir, b, false); err != nil {
		t.Fatal(err)
	}
	return dir, b
}

func TestSecurityFlagErrors(t *testing.T) {
	dir, _ := certsDir(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	open := filepath.Join(t.TempDir(), "open.key")
	if err := os.WriteFile(open, []byte("AAAAAAAAAAAAAAAAAAAAAA==\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o644); err != nil {
		t.Fatal(err)
	}
	tlsFlags := []string{"--tls-ca", p("ca.crt"), "--tls-cert", p("agent.crt"), "--tls-key", p("agent.key")}
	join := []string{"--join", "127.0.0.1:7946"}
	args := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"remote plaintext", args(join, []string{"--gossip-listen", "0.0.0.0:7946"}),
			"--gossip-listen 0.0.0.0:7946 is not loopback: secure the control plane with --tls-ca, --tls-cert and --tls-key and --gossip-key-file"},
		{"remote TLS without gossip key", args(join, tlsFlags, []string{"--grpc-listen", "0.0.0.0:7000"}), "with --gossip-key-file"},
		{"remote token without TLS", args(join, []string{"--grpc-listen", "0.0.0.0:7000", "--token-file", p("token"), "--gossip-key-file", p("gossip.key")}), "sends the token in clear"},
		{"remote insecure", args(join, []string{"--grpc-listen", "0.0.0.0:7000", "--insecure"}), "add --insecure-allow-remote to accept that"},
		{"partial TLS", args(join, []string{"--tls-ca", p("ca.crt")}), "add --tls-cert and --tls-key"},
		{"insecure and token", args(join, []string{"--insecure", "--token-file", p("token")}), "--insecure contradicts"},
		{"gossip key open to all", args(join, []string{"--gossip-key-file", open}), "open to every user (mode 0644)"},
		{"missing gossip key", args(join, []string{"--gossip-key-file", p("nope")}), "no such file"},
		{"coordinator's certificate", args(join, []string{"--tls-ca", p("ca.crt"), "--tls-cert", p("coordinator.crt"), "--tls-key", p("coordinator.key")}),
			"carries the coordinator role where the agent role is required"},
		// Accepted security: only the other mistake is reported.
		{"remote insecure allowed", args(join, []string{"--grpc-listen", "0.0.0.0:7000", "--insecure", "--insecure-allow-remote", "--lease", "1ms"}), "--lease 1ms must be in [1s, 5m]"},
		{"remote allowed alone", args(join, []string{"--grpc-listen", "0.0.0.0:7000", "--insecure-allow-remote", "--lease", "1ms"}), "--lease 1ms must be in [1s, 5m]"},
		{"remote secured", args(join, tlsFlags, []string{"--grpc-listen", "0.0.0.0:7000", "--gossip-key-file", p("gossip.key"), "--lease", "1ms"}), "--lease 1ms must be in [1s, 5m]"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := run(context.Background(), tt.args, &out, &errb)
		last := strings.TrimSpace(errb.String())
		if code != 2 || !strings.Contains(last, tt.want) {
			t.Errorf("%s: agent %v: exit %d, stderr %q; want exit 2 containing %q", tt.name, tt.args, code, last, tt.want)
		}
		if strings.Contains(tt.want, "--lease") && strings.Contains(last, "loopback") {
			t.Errorf("%s: security refused: %q", tt.name, last)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for the agent's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSecuredAgent runs the real command with mutual TLS and a gossip key:
// it joins a member holding the key, serves a coordinator certificate, and
// refuses a caller without one.
func TestSecuredAgent(t *testing.T) {
	dir, b := certsDir(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	coord, err := cluster.Start(cluster.Config{Name: "coord", Listen: "127.0.0.1:0", SecretKey: b.GossipKey,
		Meta: cluster.Meta{Role: cluster.RoleCoordinator, Protocol: wire.ProtocolVersion}, FastFailureDetection: true})
	if err != nil {
		t.Fatal(err)
	}
	defer coord.Close()
	ctx, cancel := context.WithCancel(context.Background())
	codeCh := make(chan int, 1)
	var out, errb lockedBuffer
	go func() { // ends when ctx is cancelled
		codeCh <- run(ctx, []string{"--join", coord.Addr(), "--name", "secure-agent",
			"--tls-ca", p("ca.crt"), "--tls-cert", p("agent.crt"), "--tls-key", p("agent.key"), "--gossip-key-file", p("gossip.key")}, &out, &errb)
	}()
	defer func() {
		cancel()
		select {
		case code := <-codeCh:
			if code != 0 {
				t.Errorf("exit %d; stderr %s", code, errb.String())
			}
		case <-time.After(10 * time.Second):
			t.Error("agent did not exit after its context ended")
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for len(coord.Members()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the agent never joined; stderr %s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	addr := coord.Members()[0].Meta.GRPC

	secure, err := auth.DialOptions(auth.Config{CAFile: p("ca.crt"), CertFile: p("coordinator.crt"), KeyFile: p("coordinator.key")})
	if err != nil {
		t.Fatal(err)
	}
	if err := hello(addr, secure...); err != nil {
		t.Errorf("coordinator certificate: %v; want Ready", err)
	}
	if err := hello(addr, grpc.WithTransportCredentials(insecure.NewCredentials())); err == nil {
		t.Error("plaintext caller got Ready")
	}
	for !strings.Contains(errb.String(), "agent: refused 127.0.0.1:") {
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatalf("the refusal was not logged; stderr %s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hello opens a Session, says hello and closes it; nil means Ready.
func hello(addr string, opts ...grpc.DialOption) error {
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := surgev1.NewAgentServiceClient(cc).Session(ctx)
	if err != nil {
		return err
	}
	if err := s.Send(&surgev1.SessionRequest{Msg: &surgev1.SessionRequest_Hello{Hello: &surgev1.Hello{
		ProtocolVersion: wire.ProtocolVersion, CoordinatorName: "test", CoordinatorTimeUnixNano: time.Now().UnixNano()}}}); err != nil {
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
