package auth

import (
	"flag"
	"strings"
	"testing"
)

func TestFlagsCheck(t *testing.T) {
	tls := Flags{CAFile: "ca.crt", CertFile: "agent.crt", KeyFile: "agent.key"}
	with := func(f Flags, edit func(*Flags)) Flags { edit(&f); return f }
	lo := []Listener{{"--gossip-listen", "127.0.0.1:7946"}, {"--grpc-listen", "[::1]:0"}}
	remote := []Listener{{"--gossip-listen", "0.0.0.0:7946"}, {"--grpc-listen", "127.0.0.1:0"}}
	tests := []struct {
		name      string
		flags     Flags
		listeners []Listener
		want      string // "" = accepted
	}{
		{"loopback plaintext", Flags{}, lo, ""},
		{"loopback token alone", Flags{TokenFile: "token"}, lo, ""},
		{"loopback insecure", Flags{Insecure: true}, lo, ""},
		{"loopback TLS", tls, lo, ""},
		{"bad address skipped", Flags{}, []Listener{{"--grpc-listen", "nope"}}, ""},
		{"remote plaintext", Flags{}, remote, "--gossip-listen 0.0.0.0:7946 is not loopback: secure the control plane with --tls-ca, --tls-cert and --tls-key and --gossip-key-file"},
		{"remote TLS without gossip key", tls, remote, "secure the control plane with --gossip-key-file"},
		{"remote gossip key without TLS", Flags{GossipKeyFile: "g"}, remote, "with --tls-ca, --tls-cert and --tls-key (all"},
		{"remote TLS and gossip key", with(tls, func(f *Flags) { f.GossipKeyFile = "g" }), remote, ""},
		{"remote TLS, token and gossip key", with(tls, func(f *Flags) { f.GossipKeyFile, f.TokenFile = "g", "t" }), remote, ""},
		{"remote token without TLS", Flags{TokenFile: "t", GossipKeyFile: "g"}, remote, "--token-file without TLS sends the token in clear"},
		{"remote insecure", Flags{Insecure: true}, remote, "add --insecure-allow-remote to accept that"},
		{"remote insecure allowed", Flags{Insecure: true, AllowRemote: true}, remote, ""},
		{"remote allow alone (as before)", Flags{AllowRemote: true}, remote, ""},
		{"unspecified IPv6", Flags{}, []Listener{{"--grpc-listen", "[::]:7000"}}, "--grpc-listen [::]:7000 is not loopback"},
		{"both remote", Flags{}, []Listener{{"--gossip-listen", "10.0.0.1:1"}, {"--grpc-listen", "10.0.0.1:2"}}, "--gossip-listen 10.0.0.1:1 and --grpc-listen 10.0.0.1:2 are not loopback"},
		{"partial TLS", Flags{CAFile: "ca.crt", KeyFile: "k"}, lo, "--tls-ca, --tls-cert and --tls-key go together: add --tls-cert"},
		{"partial TLS even when allowed", Flags{CertFile: "c", AllowRemote: true}, remote, "add --tls-ca and --tls-key"},
		{"insecure with TLS", with(tls, func(f *Flags) { f.Insecure = true }), lo, "--insecure contradicts"},
		{"insecure with token", Flags{Insecure: true, TokenFile: "t"}, lo, "--insecure contradicts"},
	}
	for _, tt := range tests {
		err := tt.flags.Check(tt.listeners...)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: %+v.Check(%v) = %v; want %q", tt.name, tt.flags, tt.listeners, err, tt.want)
		}
	}
}

func TestFlagsRegister(t *testing.T) {
	var f Flags
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	f.Register(fs, RoleAgent)
	err := fs.Parse([]string{"--tls-ca", "ca.crt", "--tls-cert", "agent.crt", "--tls-key", "agent.key",
		"--token-file", "token", "--gossip-key-file", "gossip.key", "--insecure", "--insecure-allow-remote"})
	if err != nil {
		t.Fatal(err)
	}
	want := Flags{"ca.crt", "agent.crt", "agent.key", "token", "gossip.key", true, true}
	if f != want {
		t.Errorf("parsed %+v; want %+v", f, want)
	}
	if u := fs.Lookup("tls-cert").Usage; !strings.Contains(u, "agent.crt") {
		t.Errorf("--tls-cert help %q does not name agent.crt", u)
	}
}

func TestFlagsOptions(t *testing.T) {
	var f Flags
	if so, err := f.ServerOptions(nil); so != nil || err != nil {
		t.Errorf("plaintext ServerOptions = %v, %v; want none", so, err)
	}
	if do, err := f.DialOptions(); do != nil || err != nil {
		t.Errorf("plaintext DialOptions = %v, %v; want none", do, err)
	}
	if k, err := f.GossipKey(); k != nil || err != nil {
		t.Errorf("GossipKey without the flag = %v, %v; want none", k, err)
	}
	p := newPKI(t)
	f = Flags{CAFile: p.path("ca.crt"), CertFile: p.path("agent.crt"), KeyFile: p.path("agent.key"), GossipKeyFile: p.path("gossip.key")}
	if so, err := f.ServerOptions(nil); len(so) != 1 || err != nil {
		t.Errorf("mTLS ServerOptions = %d options, %v; want 1", len(so), err)
	}
	if _, err := f.DialOptions(); err == nil {
		t.Error("DialOptions with the agent's certificate succeeded; want a role error")
	}
	if k, err := f.GossipKey(); len(k) != 32 || err != nil {
		t.Errorf("GossipKey = %d bytes, %v; want 32", len(k), err)
	}
}
