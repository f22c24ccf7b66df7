package wire

import (
	"errors"
	"strings"
	"testing"

	"github.com/surgeload/surge/internal/engine"
	"github.com/surgeload/surge/internal/testtls"
)

// TestClientTLSOnTheWire: the client's TLS material survives the round
// trip, and what cannot be used (a key of another certificate, half a
// pair, no PEM, oversize) is malformed.
func TestClientTLSOnTheWire(t *testing.T) {
	pki, other := testtls.New(t, "wire"), testtls.New(t, "other")
	o := engine.ClientOptions{RootCAs: pki.CA, ClientCert: pki.ClientCert, ClientKey: engine.Secret(pki.ClientKey), ServerName: "target.test"}
	got, err := ClientFromProto(ClientToProto(o))
	if err != nil || string(got.RootCAs) != string(pki.CA) || string(got.ClientCert) != string(pki.ClientCert) ||
		string(got.ClientKey) != string(pki.ClientKey) || got.ServerName != "target.test" {
		t.Fatalf("round trip: %v, %v", got, err)
	}
	for name, tc := range map[string]struct {
		o    engine.ClientOptions
		want string
	}{
		"key of another certificate": {engine.ClientOptions{ClientCert: pki.ClientCert, ClientKey: engine.Secret(other.ClientKey)}, "private key does not match"},
		"certificate without key":    {engine.ClientOptions{ClientCert: pki.ClientCert}, "needs its key"},
		"CAs not PEM":                {engine.ClientOptions{RootCAs: []byte("junk")}, "root CAs hold no PEM certificate"},
		"CAs too large":              {engine.ClientOptions{RootCAs: make([]byte, engine.MaxPEMBytes+1)}, "more than 1048576"},
		"server name too long":       {engine.ClientOptions{ServerName: strings.Repeat("a", 254)}, "server name longer than 253"},
	} {
		_, err := ClientFromProto(ClientToProto(tc.o))
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: ClientFromProto = %v; want ErrMalformed saying %q", name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "PRIVATE KEY") {
			t.Errorf("%s: the error shows the key: %v", name, err)
		}
	}
}
