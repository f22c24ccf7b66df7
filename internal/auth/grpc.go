package auth

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// Config says how one side of the control channel (the coordinator's
// client or an agent's Session server) is secured. Set CAFile, CertFile
// and KeyFile for mutual TLS, a token for shared-token authentication, both
// for both, or Insecure alone for plaintext without authentication. The
// zero Config is refused: plaintext must be asked for.
type Config struct {
	// CAFile is the PEM file of the certificate authority (ca.crt of
	// `coordinator certs init`) that the peer's certificate must chain to.
	// It may hold several CA certificates, to rotate the CA.
	CAFile string
	// CertFile and KeyFile are this process's certificate and private key
	// (PEM): coordinator.crt/.key for the coordinator, agent.crt/.key for
	// an agent. The certificate must chain to CAFile and carry this side's
	// role; the key file must not be open to every user.
	CertFile, KeyFile string
	// TokenFile holds the shared token (the file token of certs init). It
	// never travels: each side proves it holds it in the Session
	// handshake (internal/tokenproof, an HMAC over both sides' nonces), the agent first,
	// and each refuses a peer whose proof is wrong (SessionToken gives it
	// to the coordinator and agent). Plaintext token mode is still allowed
	// on loopback only: the proofs authenticate, but nothing is encrypted.
	TokenFile string
	// Token, if set, is used instead of reading TokenFile.
	Token []byte
	// Insecure asks for plaintext and no authentication. It excludes every
	// other field.
	Insecure bool
	// Refused, if set, is called on the agent's side with the remote
	// address and the reason whenever a connection or call is refused (bad
	// certificate, wrong role, bad token), so that operators can see who
	// knocked. It must not block.
	Refused func(remote string, err error)
}

// TLS says whether c turns on mutual TLS (all three files set).
func (c Config) TLS() bool { return c.CAFile != "" && c.CertFile != "" && c.KeyFile != "" }

// hasToken says whether c turns on the shared token.
func (c Config) hasToken() bool { return c.TokenFile != "" || len(c.Token) > 0 }

// ErrConfig is wrapped by errors about a Config that cannot be used as
// given (missing or contradictory fields).
var ErrConfig = errors.New("auth: bad security config")

func (c Config) validate() error {
	anyTLS := c.CAFile != "" || c.CertFile != "" || c.KeyFile != ""
	switch {
	case c.Insecure && (anyTLS || c.hasToken()):
		return fmt.Errorf("%w: insecure excludes TLS files and tokens", ErrConfig)
	case c.Insecure:
		return nil
	case anyTLS && !c.TLS():
		return fmt.Errorf("%w: mutual TLS needs the CA, certificate and key files together", ErrConfig)
	case !anyTLS && !c.hasToken():
		return fmt.Errorf("%w: no credentials: set the CA, certificate and key files, a token, or insecure", ErrConfig)
	}
	return nil
}

// token returns the shared token, reading TokenFile if need be, or nil.
func (c Config) token() ([]byte, error) {
	switch {
	case len(c.Token) > 0:
		if err := checkToken(c.Token); err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
		return c.Token, nil
	case c.TokenFile != "":
		return ReadToken(c.TokenFile)
	}
	return nil, nil
}

// tlsConfig loads this side's certificate (checking that it chains to the
// CA and carries role) and returns a TLS 1.3 config whose peer check is
// chain-to-the-CA plus peerRole. Hostnames are never checked.
func (c Config) tlsConfig(role, peerRole Role) (*tls.Config, error) {
	pool, err := readCAPool(c.CAFile)
	if err != nil {
		return nil, err
	}
	kp, err := LoadKeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, err
	}
	if err := verifyRole(kp.Cert, nil, pool, role); err != nil {
		return nil, fmt.Errorf("auth: certificate file %s (with CA file %s): %w", c.CertFile, c.CAFile, err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{{Certificate: [][]byte{kp.Cert.Raw}, PrivateKey: kp.Key, Leaf: kp.Cert}},
		// VerifyConnection runs on both sides, after the handshake and
		// before any application data, also when InsecureSkipVerify is set.
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return fmt.Errorf("the %s presented no certificate", peerRole)
			}
			if err := verifyRole(cs.PeerCertificates[0], cs.PeerCertificates[1:], pool, peerRole); err != nil {
				return fmt.Errorf("the %s's %w", peerRole, err)
			}
			return nil
		},
	}, nil
}

// ServerOptions returns the options that secure an agent's Session server
// (agent.Config.ServerOptions). With TLS the agent presents its agent
// certificate and requires a client certificate that chains to the CA
// and carries the coordinator role; with a token every call must carry
// it. For Insecure it returns none.
func ServerOptions(c Config) ([]grpc.ServerOption, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if c.Insecure {
		return nil, nil
	}
	var opts []grpc.ServerOption
	if c.TLS() {
		tc, err := c.tlsConfig(RoleAgent, RoleCoordinator)
		if err != nil {
			return nil, err
		}
		// The role check is ours (VerifyConnection): ask for any
		// certificate, so that the refusal names the real reason.
		tc.ClientAuth = tls.RequireAnyClientCert
		var creds credentials.TransportCredentials = credentials.NewTLS(tc)
		if c.Refused != nil {
			creds = refusingCreds{TransportCredentials: creds, refused: c.Refused}
		}
		opts = append(opts, grpc.Creds(creds))
	}
	if _, err := c.token(); err != nil { // read now: a bad token file fails at start
		return nil, err
	}
	return opts, nil
}

// DialOptions returns the options with which the coordinator dials agents
// (coordinator.Config.DialOptions). With TLS it presents its coordinator
// certificate and accepts an agent whose certificate chains to the CA and
// carries the agent role, whatever address it was dialled at: agents'
// addresses come from gossip, which carries no authority. With a token
// every call carries it. For Insecure (and a token without TLS) the
// transport is plaintext.
func DialOptions(c Config) ([]grpc.DialOption, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if c.Insecure {
		return []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, nil
	}
	var opts []grpc.DialOption
	if c.TLS() {
		tc, err := c.tlsConfig(RoleCoordinator, RoleAgent)
		if err != nil {
			return nil, err
		}
		// The standard check would match the agent's certificate against
		// the address dialled, which gossip supplied. VerifyConnection does
		// the real check: chain to our CA and the agent role.
		tc.InsecureSkipVerify = true
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
	} else {
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	if _, err := c.token(); err != nil {
		return nil, err
	}
	return opts, nil
}

// SessionToken returns the shared token the Session handshake proves, or
// nil without one.
func (c Config) SessionToken() ([]byte, error) { return c.token() }

// refusingCreds reports failed server handshakes to refused.
type refusingCreds struct {
	credentials.TransportCredentials
	refused func(remote string, err error)
}

func (r refusingCreds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	c, info, err := r.TransportCredentials.ServerHandshake(conn)
	if err != nil && !errors.Is(err, io.EOF) { // EOF: a port probe, not a refusal
		r.refused(conn.RemoteAddr().String(), err)
	}
	return c, info, err
}

func (r refusingCreds) Clone() credentials.TransportCredentials {
	return refusingCreds{TransportCredentials: r.TransportCredentials.Clone(), refused: r.refused}
}
