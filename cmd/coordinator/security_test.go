package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/agent"
	"github.com/surgeload/surge/internal/auth"
)

// certsInit runs `coordinator certs init` into a new directory.
func certsInit(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "certs")
	if code, _, stderr := runCLI(t, "certs", "init", "--dir", dir); code != 0 {
		t.Fatalf("certs init: exit %d, %s", code, stderr)
	}
	return dir
}

func TestRunSecurityFlags(t *testing.T) {
	dir := certsInit(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	open := filepath.Join(t.TempDir(), "gossip.key")
	if err := os.WriteFile(open, []byte("AAAAAAAAAAAAAAAAAAAAAA==\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o644); err != nil {
		t.Fatal(err)
	}
	sc := writeFile(t, "q.yaml", quick)
	tlsFlags := []string{"--tls-ca", p("ca.crt"), "--tls-cert", p("coordinator.crt"), "--tls-key", p("coordinator.key")}
	// --format pdf is refused after the security checks: a run that gets
	// that far passed them, without starting anything.
	accepted := `--format "pdf"`
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"remote gossip", []string{"--gossip-listen", "0.0.0.0:7946"}, "secure the control plane with --tls-ca, --tls-cert and --tls-key and --gossip-key-file"},
		{"remote metrics", []string{"--gossip-listen", "127.0.0.1:0", "--metrics-listen", "0.0.0.0:9090"}, "--metrics-listen 0.0.0.0:9090 is not loopback"},
		{"remote TLS without gossip key", append([]string{"--gossip-listen", "0.0.0.0:7946"}, tlsFlags...), "with --gossip-key-file"},
		{"remote token without TLS", []string{"--gossip-listen", "0.0.0.0:7946", "--token-file", p("token"), "--gossip-key-file", p("gossip.key")}, "sends the token in clear"},
		{"remote insecure", []string{"--gossip-listen", "0.0.0.0:7946", "--insecure"}, "add --insecure-allow-remote to accept that"},
		{"partial TLS", []string{"--tls-cert", p("coordinator.crt")}, "add --tls-ca and --tls-key"},
		{"insecure with TLS", append([]string{"--insecure"}, tlsFlags...), "--insecure contradicts"},
		{"gossip key open to all", []string{"--gossip-key-file", open}, "open to every user"},
		{"agent's certificate", []string{"--expect", "1", "--tls-ca", p("ca.crt"), "--tls-cert", p("agent.crt"), "--tls-key", p("agent.key")},
			"carries the agent role where the coordinator role is required"},
		{"loopback plaintext", []string{"--gossip-listen", "127.0.0.1:0", "--format", "pdf"}, accepted},
		{"remote insecure allowed", []string{"--gossip-listen", "0.0.0.0:7946", "--insecure", "--insecure-allow-remote", "--format", "pdf"}, accepted},
		{"remote allowed alone, as before", []string{"--gossip-listen", "0.0.0.0:7946", "--insecure-allow-remote", "--format", "pdf"}, accepted},
		{"remote secured", append([]string{"--gossip-listen", "0.0.0.0:7946", "--expect", "1", "--gossip-key-file", p("gossip.key"), "--format", "pdf"}, tlsFlags...), accepted},
	}
	for _, tt := range tests {
		code, _, stderr := runCLI(t, append([]string{"run", sc}, tt.args...)...)
		if last := lastLine(stderr); code != 2 || !strings.Contains(last, tt.want) {
			t.Errorf("%s: run %v: exit %d, last line %q; want exit 2 containing %q", tt.name, tt.args, code, last, tt.want)
		}
	}
}

// freePort returns a loopback address whose port was just free for TCP and
// UDP (gossip binds both).
func freePort(t *testing.T) string {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		u, err := net.ListenPacket("udp", addr)
		l.Close()
		if err == nil {
			u.Close()
			return addr
		}
	}
	t.Fatal("no free port for TCP and UDP")
	return ""
}

// startSecuredAgent starts an agent that keeps joining join, secured with
// the files of certs init in dir.
func startSecuredAgent(t *testing.T, dir, join string) {
	t.Helper()
	p := func(name string) string { return filepath.Join(dir, name) }
	sec := auth.Flags{CAFile: p("ca.crt"), CertFile: p("agent.crt"), KeyFile: p("agent.key"), GossipKeyFile: p("gossip.key")}
	cfg := agent.DefaultConfig()
	cfg.Name = "secured-agent"
	cfg.Join = []string{join}
	cfg.FastFailureDetection = true
	var err error
	if cfg.ServerOptions, err = sec.ServerOptions(nil); err != nil {
		t.Fatal(err)
	}
	if cfg.GossipKey, err = sec.GossipKey(); err != nil {
		t.Fatal(err)
	}
	a, err := agent.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
}

// TestSecuredRun: the files of certs init secure a real run with an
// external agent; an agent of another CA is refused, one with another
// gossip key never joins.
func TestSecuredRun(t *testing.T) {
	dir, other := certsInit(t), certsInit(t)
	mixed := t.TempDir() // the other CA's agent with our gossip key
	for _, f := range []struct{ from, name string }{{other, "ca.crt"}, {other, "agent.crt"}, {other, "agent.key"}, {dir, "gossip.key"}} {
		b, err := os.ReadFile(filepath.Join(f.from, f.name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mixed, f.name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	tests := []struct {
		name     string
		agentDir string
		wait     string
		code     int
		want     string
	}{
		{"our agent", dir, "30s", 0, ""},
		{"agent of another CA", mixed, "30s", 3, "not signed by our CA"},
		{"agent with another gossip key", other, "3s", 3, "0 of 1 agents joined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gossip := freePort(t)
			startSecuredAgent(t, tt.agentDir, gossip)
			start := time.Now()
			code, stdout, stderr := runCLI(t, "run", writeFile(t, "q.yaml", quick), "--expect", "1", "--wait", tt.wait,
				"--gossip-listen", gossip, "--out", t.TempDir(), "--max-send-lag", "1s", // not -q: a refused dial is only a warning
				"--tls-ca", p("ca.crt"), "--tls-cert", p("coordinator.crt"), "--tls-key", p("coordinator.key"),
				"--gossip-key-file", p("gossip.key"))
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d after %v; want %d with %q\nstdout:\n%s\nstderr:\n%s", code, time.Since(start), tt.code, tt.want, stdout, stderr)
			}
		})
	}
}
