package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// signed issues a leaf with the given URIs and key usage from ca, for
// certificates certs init never makes.
func signed(t *testing.T, ca *KeyPair, uris []string, eku x509.ExtKeyUsage) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "odd"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{eku}}
	for _, u := range uris {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRoleOf(t *testing.T) {
	ca, err := GenerateCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		uris []string
		want Role
		err  string
	}{
		{[]string{"surge://role/coordinator"}, RoleCoordinator, ""},
		{[]string{"surge://role/agent"}, RoleAgent, ""},
		{[]string{"https://example.com/x", "surge://role/agent"}, RoleAgent, ""},
		{nil, "", "no surge://role/ URI"},
		{[]string{"spiffe://surge/role/agent"}, "", "no surge://role/ URI"},
		{[]string{"surge://role/agent", "surge://role/coordinator"}, "", "carries 2 roles"},
		{[]string{"surge://role/admin"}, "", `unknown role "admin"`},
	}
	for _, tt := range tests {
		got, err := RoleOf(signed(t, ca, tt.uris, x509.ExtKeyUsageServerAuth))
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("RoleOf(%v) = %q, %v; want %q", tt.uris, got, err, tt.want)
		case tt.err != "" && (err == nil || !errors.Is(err, ErrRole) || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("RoleOf(%v) = %q, %v; want ErrRole containing %q", tt.uris, got, err, tt.err)
		}
	}
}

func TestVerifyRole(t *testing.T) {
	ca, err := GenerateCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	other, err := GenerateCA("other CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	agent, err := IssueRole(ca, RoleAgent, "agent-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	future, err := issue(ca, RoleAgent, "future", time.Now().Add(time.Hour), time.Now().Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := IssueRole(other, RoleAgent, "foreign", 0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cert *x509.Certificate
		role Role
		err  string
	}{
		{"agent", agent.Cert, RoleAgent, ""},
		{"agent as coordinator", agent.Cert, RoleCoordinator, "carries the agent role where the coordinator role is required"},
		{"not yet valid", future.Cert, RoleAgent, "not valid before"},
		{"other CA", foreign.Cert, RoleAgent, "not signed by our CA"},
		// The URI says agent but the key usage says client: refused.
		{"usage disagrees with role", signed(t, ca, []string{"surge://role/agent"}, x509.ExtKeyUsageClientAuth), RoleAgent, "incompatible key usage"},
		// A CA certificate is no leaf of ours.
		{"the CA itself", ca.Cert, RoleAgent, "no surge://role/ URI"},
	}
	for _, tt := range tests {
		err := verifyRole(tt.cert, nil, roots, tt.role)
		if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%s: verifyRole = %v; want %q", tt.name, err, tt.err)
		}
	}
}

func TestIssue(t *testing.T) {
	ca, err := GenerateCA("test CA", 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := IssueRole(ca, RoleCoordinator, "c", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !kp.Cert.NotAfter.Equal(ca.Cert.NotAfter) {
		t.Errorf("a year's certificate from a two-day CA ends %v; want the CA's end %v", kp.Cert.NotAfter, ca.Cert.NotAfter)
	}
	if kp.Cert.IsCA || len(kp.Cert.DNSNames)+len(kp.Cert.IPAddresses) != 0 {
		t.Errorf("leaf: IsCA %v, DNS %v, IPs %v; want a leaf with no names", kp.Cert.IsCA, kp.Cert.DNSNames, kp.Cert.IPAddresses)
	}
	if _, err := IssueRole(ca, "admin", "x", 0); !errors.Is(err, ErrRole) {
		t.Errorf("IssueRole(admin) = %v; want ErrRole", err)
	}
	if _, err := IssueRole(kp, RoleAgent, "x", 0); err == nil {
		t.Error("a leaf signed a certificate")
	}
	if _, err := GenerateCA("x", -time.Hour); err == nil {
		t.Error("GenerateCA accepted a negative validity")
	}
}

func TestLoadKeyPairRoundTrip(t *testing.T) {
	ca, err := GenerateCA("test CA", 0)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := IssueRole(ca, RoleAgent, "a", 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	key, err := kp.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "a.crt"), filepath.Join(dir, "a.key")
	if err := os.WriteFile(certFile, kp.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := LoadKeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Cert.Equal(kp.Cert) || !got.Key.Equal(kp.Key) {
		t.Error("LoadKeyPair did not return what was written")
	}
}
