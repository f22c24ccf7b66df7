package auth

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"google.golang.org/grpc"
)

// Flags are the control-plane security flags that `coordinator run` and
// `agent` share, with the same names and rules.
type Flags struct {
	// CAFile, CertFile and KeyFile (--tls-ca, --tls-cert, --tls-key): mutual
	// TLS, all three or none.
	CAFile, CertFile, KeyFile string
	// TokenFile (--token-file): the shared token, alone (loopback only) or
	// with TLS.
	TokenFile string
	// GossipKeyFile (--gossip-key-file): encrypts and authenticates gossip.
	GossipKeyFile string
	// Insecure (--insecure): plaintext and no authentication, explicitly.
	Insecure bool
	// AllowRemote (--insecure-allow-remote): accept non-loopback listeners
	// whatever the security; it implies Insecure when no TLS or token is
	// given (its meaning before TLS existed).
	AllowRemote bool
}

// FlagSet is what Register needs of a flag set: both the standard flag
// package's and cobra's (pflag) have these methods.
type FlagSet interface {
	StringVar(p *string, name, value, usage string)
	BoolVar(p *bool, name string, value bool, usage string)
}

// Register adds the security flags to fs, their help written for role.
func (f *Flags) Register(fs FlagSet, role Role) {
	fs.StringVar(&f.CAFile, "tls-ca", "", "mutual TLS: CA certificate `FILE` the peer's certificate must chain to (ca.crt from coordinator certs init); with --tls-cert and --tls-key")
	fs.StringVar(&f.CertFile, "tls-cert", "", fmt.Sprintf("mutual TLS: this %s's certificate `FILE` (%s.crt); it carries the %s role", role, role, role))
	fs.StringVar(&f.KeyFile, "tls-key", "", fmt.Sprintf("mutual TLS: this %s's private key `FILE` (%s.key, mode 0600)", role, role))
	fs.StringVar(&f.TokenFile, "token-file", "", "shared token `FILE` (token from certs init): checked on every call; without TLS only on loopback")
	fs.StringVar(&f.GossipKeyFile, "gossip-key-file", "", "`FILE` with the base64 gossip encryption key (gossip.key from certs init, 16/24/32 bytes, mode 0600); every member needs the same")
	fs.BoolVar(&f.Insecure, "insecure", false, "plaintext control plane without authentication (the default on loopback); off loopback it also needs --insecure-allow-remote")
	fs.BoolVar(&f.AllowRemote, "insecure-allow-remote", false, "accept non-loopback listeners without TLS and gossip key: alone it means --insecure, as before TLS existed (anyone who reaches the ports can drive or join the cluster)")
}

// TLS says whether the three --tls-* flags are set.
func (f *Flags) TLS() bool { return f.CAFile != "" && f.CertFile != "" && f.KeyFile != "" }

// Secured says whether any credential flag (--tls-*, --token-file) is set.
func (f *Flags) Secured() bool {
	return f.CAFile != "" || f.CertFile != "" || f.KeyFile != "" || f.TokenFile != ""
}

// Listener is an address the process binds, named by its flag (with the
// dashes), for Check.
type Listener struct{ Flag, Addr string }

// Check applies the rules, secure by default off loopback, and returns
// every problem at once:
//   - --tls-ca, --tls-cert and --tls-key go together; --insecure excludes
//     them and --token-file;
//   - with every listener on loopback, anything else goes (plaintext by
//     default);
//   - a non-loopback listener needs TLS and --gossip-key-file; a token
//     without TLS is refused there, being sent in clear; --insecure there
//     needs --insecure-allow-remote; --insecure-allow-remote accepts any
//     of it.
//
// Listeners whose address is not ip:port are skipped: the commands report
// those themselves. An unspecified address (0.0.0.0, ::) is not loopback.
func (f *Flags) Check(listeners ...Listener) error {
	var errs []error
	var missing []string
	for _, m := range []struct{ flag, v string }{{"--tls-ca", f.CAFile}, {"--tls-cert", f.CertFile}, {"--tls-key", f.KeyFile}} {
		if m.v == "" {
			missing = append(missing, m.flag)
		}
	}
	if len(missing) > 0 && len(missing) < 3 {
		errs = append(errs, fmt.Errorf("--tls-ca, --tls-cert and --tls-key go together: add %s", strings.Join(missing, " and ")))
	}
	if f.Insecure && f.Secured() {
		errs = append(errs, errors.New("--insecure contradicts --tls-* and --token-file: drop one or the other"))
	}
	var remote []string
	for _, l := range listeners {
		ap, err := netip.ParseAddrPort(l.Addr)
		if err == nil && !ap.Addr().IsLoopback() {
			remote = append(remote, l.Flag+" "+l.Addr)
		}
	}
	if len(remote) == 0 || f.AllowRemote {
		return errors.Join(errs...)
	}
	where := strings.Join(remote, " and ") + " is"
	if len(remote) > 1 {
		where = strings.Join(remote, " and ") + " are"
	}
	switch {
	case f.Insecure:
		errs = append(errs, fmt.Errorf("%s not loopback and --insecure makes the control plane plaintext and unauthenticated: add --insecure-allow-remote to accept that, or use TLS", where))
	case f.TokenFile != "" && len(missing) == 3:
		errs = append(errs, fmt.Errorf("%s not loopback: --token-file without TLS sends the token in clear; add --tls-ca, --tls-cert and --tls-key (see `coordinator certs init`)", where))
	default:
		var add []string
		if len(missing) == 3 {
			add = append(add, "--tls-ca, --tls-cert and --tls-key")
		}
		if f.GossipKeyFile == "" {
			add = append(add, "--gossip-key-file")
		}
		if len(add) > 0 {
			errs = append(errs, fmt.Errorf("%s not loopback: secure the control plane with %s (all from `coordinator certs init`), or add --insecure-allow-remote to run it plaintext and unauthenticated",
				where, strings.Join(add, " and ")))
		}
	}
	return errors.Join(errs...)
}

// Config is the Config the credential flags describe, with Insecure set
// when none is given.
func (f *Flags) Config() Config {
	return Config{CAFile: f.CAFile, CertFile: f.CertFile, KeyFile: f.KeyFile, TokenFile: f.TokenFile, Insecure: !f.Secured()}
}

// SessionToken reads the token of --token-file, or returns nil when it is
// not set: the secret the Session handshake proves (see internal/tokenproof).
func (f *Flags) SessionToken() ([]byte, error) { return f.Config().SessionToken() }

// ServerOptions are the agent's Session server options the flags ask for:
// none for plaintext. refused may be nil (see Config.Refused).
func (f *Flags) ServerOptions(refused func(remote string, err error)) ([]grpc.ServerOption, error) {
	if !f.Secured() {
		return nil, nil
	}
	c := f.Config()
	c.Refused = refused
	return ServerOptions(c)
}

// DialOptions are the coordinator's dial options the flags ask for: none
// for plaintext (the coordinator then dials in clear).
func (f *Flags) DialOptions() ([]grpc.DialOption, error) {
	if !f.Secured() {
		return nil, nil
	}
	return DialOptions(f.Config())
}

// GossipKey reads --gossip-key-file, or returns nil when it is not set.
func (f *Flags) GossipKey() ([]byte, error) {
	if f.GossipKeyFile == "" {
		return nil, nil
	}
	return ReadGossipKey(f.GossipKeyFile)
}
