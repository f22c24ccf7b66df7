package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"time"
)

// Role is what a certificate allows its holder to be on the control plane.
type Role string

// Roles. The coordinator dials, so its certificate is a TLS client
// certificate; each agent serves the Session stream, so its certificate is a
// TLS server certificate.
const (
	RoleCoordinator Role = "coordinator"
	RoleAgent       Role = "agent"
)

// roleScheme and roleHost make the role URI: surge://role/<role>.
const (
	roleScheme = "surge"
	roleHost   = "role"
)

// URI is the URI SAN that carries r in a certificate.
func (r Role) URI() *url.URL {
	return &url.URL{Scheme: roleScheme, Host: roleHost, Path: "/" + string(r)}
}

// usage is the extended key usage that goes with r: a coordinator is a TLS
// client, an agent a TLS server.
func (r Role) usage() (x509.ExtKeyUsage, error) {
	switch r {
	case RoleCoordinator:
		return x509.ExtKeyUsageClientAuth, nil
	case RoleAgent:
		return x509.ExtKeyUsageServerAuth, nil
	}
	return 0, fmt.Errorf("%w: unknown role %q (want coordinator or agent)", ErrRole, string(r))
}

// ErrRole is wrapped by errors about a certificate's role: none, several,
// unknown, or not the one required.
var ErrRole = errors.New("certificate role")

// RoleOf returns the role a certificate carries: exactly one URI SAN
// surge://role/<role>. Hostnames, IP addresses and the common name play no
// part: an address learned from gossip never carries authority.
func RoleOf(cert *x509.Certificate) (Role, error) {
	var roles []Role
	for _, u := range cert.URIs {
		if u.Scheme == roleScheme && u.Host == roleHost {
			roles = append(roles, Role(trimSlash(u.Path)))
		}
	}
	switch {
	case len(roles) == 0:
		return "", fmt.Errorf("%w: %q carries no surge://role/ URI (not issued by `coordinator certs init`?)", ErrRole, cert.Subject.CommonName)
	case len(roles) > 1:
		return "", fmt.Errorf("%w: %q carries %d roles; a certificate must carry exactly one", ErrRole, cert.Subject.CommonName, len(roles))
	}
	if _, err := roles[0].usage(); err != nil {
		return "", err
	}
	return roles[0], nil
}

func trimSlash(s string) string {
	if len(s) > 0 && s[0] == '/' {
		return s[1:]
	}
	return s
}

// KeyPair is a certificate with its private key.
type KeyPair struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// DefaultValidity is how long GenerateCA's and IssueRole's certificates
// are valid when asked for zero: about a year.
const DefaultValidity = 365 * 24 * time.Hour

// clockSkew backdates every certificate, so that a machine whose clock is
// a few minutes behind the issuer's accepts it at once.
const clockSkew = 5 * time.Minute

// GenerateCA creates a self-signed certificate authority (ECDSA P-256) that
// may sign leaf certificates only (path length zero). validity 0 means
// DefaultValidity.
func GenerateCA(name string, validity time.Duration) (*KeyPair, error) {
	if validity == 0 {
		validity = DefaultValidity
	}
	if validity < 0 {
		return nil, fmt.Errorf("auth: CA validity %v must be > 0", validity)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("auth: generate CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"Surge"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("auth: create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("auth: parse CA certificate: %w", err)
	}
	return &KeyPair{Cert: cert, Key: key}, nil
}

// IssueRole signs a new key (ECDSA P-256) for role with ca. name is the
// common name, for people and logs only. validity 0 means DefaultValidity;
// the certificate never outlives its CA.
func IssueRole(ca *KeyPair, role Role, name string, validity time.Duration) (*KeyPair, error) {
	if validity == 0 {
		validity = DefaultValidity
	}
	if validity < 0 {
		return nil, fmt.Errorf("auth: %s certificate validity %v must be > 0", role, validity)
	}
	now := time.Now()
	return issue(ca, role, name, now.Add(-clockSkew), now.Add(validity))
}

// issue is IssueRole with explicit bounds (tests issue expired ones).
func issue(ca *KeyPair, role Role, name string, notBefore, notAfter time.Time) (*KeyPair, error) {
	if ca == nil || ca.Cert == nil || ca.Key == nil || !ca.Cert.IsCA {
		return nil, errors.New("auth: issuing needs a CA certificate and its key")
	}
	eku, err := role.usage()
	if err != nil {
		return nil, err
	}
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("auth: generate %s key: %w", role, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"Surge"}, OrganizationalUnit: []string{string(role)}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{eku},
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{role.URI()},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("auth: sign %s certificate: %w", role, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("auth: parse %s certificate: %w", role, err)
	}
	return &KeyPair{Cert: cert, Key: key}, nil
}

// serial is a random 127-bit serial number, as RFC 5280 asks (positive, at
// most 20 octets, unpredictable).
func serial() *big.Int {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	b[0] &= 0x7f
	return new(big.Int).SetBytes(b)
}

// CertPEM is the certificate in PEM.
func (kp *KeyPair) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: kp.Cert.Raw})
}

// KeyPEM is the private key in PEM (PKCS #8).
func (kp *KeyPair) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(kp.Key)
	if err != nil {
		return nil, fmt.Errorf("auth: encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// LoadKeyPair reads a certificate and its private key from PEM files, as
// written by `coordinator certs init`. The key file must not be readable or
// writable by every user (see ReadGossipKey).
func LoadKeyPair(certFile, keyFile string) (*KeyPair, error) {
	certs, err := readCerts(certFile)
	if err != nil {
		return nil, err
	}
	keyPEM, err := readSecret(keyFile, "key file")
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil || (block.Type != "PRIVATE KEY" && block.Type != "EC PRIVATE KEY") {
		return nil, fmt.Errorf("auth: key file %s: no PEM private key in it", keyFile)
	}
	var parsed any
	if block.Type == "EC PRIVATE KEY" {
		parsed, err = x509.ParseECPrivateKey(block.Bytes)
	} else {
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: key file %s: %w", keyFile, err)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("auth: key file %s: a %T, want an ECDSA key", keyFile, parsed)
	}
	pub, ok := certs[0].PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, fmt.Errorf("auth: key file %s does not belong to the certificate in %s", keyFile, certFile)
	}
	return &KeyPair{Cert: certs[0], Key: key}, nil
}

// readCerts reads every certificate of a PEM file; there must be one.
func readCerts(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: certificate file: %w", err)
	}
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("auth: certificate file %s: %w", path, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("auth: certificate file %s: no PEM certificate in it", path)
	}
	return certs, nil
}

// readCAPool reads the CA certificates a peer must chain to.
func readCAPool(path string) (*x509.CertPool, error) {
	certs, err := readCerts(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		if !c.IsCA {
			return nil, fmt.Errorf("auth: CA file %s: %q is not a CA certificate", path, c.Subject.CommonName)
		}
		pool.AddCert(c)
	}
	return pool, nil
}

// verifyRole checks that cert chains to roots (with intermediates), is
// valid now, and carries role, both as its URI SAN and its extended key
// usage. No hostname is checked.
func verifyRole(cert *x509.Certificate, intermediates []*x509.Certificate, roots *x509.CertPool, role Role) error {
	eku, err := role.usage()
	if err != nil {
		return err
	}
	opts := x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{eku}}
	if len(intermediates) > 0 {
		opts.Intermediates = x509.NewCertPool()
		for _, c := range intermediates {
			opts.Intermediates.AddCert(c)
		}
	}
	name := cert.Subject.CommonName
	now := time.Now()
	switch {
	case now.After(cert.NotAfter):
		return fmt.Errorf("certificate %q expired on %s", name, cert.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(cert.NotBefore):
		return fmt.Errorf("certificate %q is not valid before %s (check the clocks)", name, cert.NotBefore.UTC().Format(time.RFC3339))
	}
	got, err := RoleOf(cert)
	if err != nil {
		return err
	}
	if got != role {
		return fmt.Errorf("%w: %q carries the %s role where the %s role is required", ErrRole, name, got, role)
	}
	if _, err := cert.Verify(opts); err != nil {
		var ua x509.UnknownAuthorityError
		if errors.As(err, &ua) {
			return fmt.Errorf("certificate %q is not signed by our CA (issuer %q)", name, cert.Issuer.CommonName)
		}
		return fmt.Errorf("certificate %q: %w", name, err)
	}
	return nil
}
