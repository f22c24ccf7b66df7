package engine

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/internal/testtls"
)

// TestClientTLS: a target on loopback whose certificate comes from a
// private CA and that requires a client certificate of that CA. With the
// CA and the client certificate every request succeeds; without the
// client certificate, or with another CA, every request fails as
// tls_error. Each client (Surge's, net/http, h2) is tried, and a server
// name of the job's own (the certificate names target.test, the URL an
// address).
func TestClientTLS(t *testing.T) {
	pki, other := testtls.New(t, "target"), testtls.New(t, "other")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			w.WriteHeader(http.StatusTeapot) // never: the handshake requires one
			return
		}
		w.Write([]byte("ok"))
	}))
	srv.TLS = pki.ServerConfig(t)
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.StartTLS()
	defer srv.Close()

	good := ClientOptions{RootCAs: pki.CA, ClientCert: pki.ClientCert, ClientKey: Secret(pki.ClientKey)}
	noCert := ClientOptions{RootCAs: pki.CA}
	wrongCA := ClientOptions{RootCAs: other.CA, ClientCert: pki.ClientCert, ClientKey: Secret(pki.ClientKey)}
	named := good
	named.ServerName = "target.test"
	misnamed := good
	misnamed.ServerName = "elsewhere.test"
	clients := []struct {
		name   string
		adjust func(*ClientOptions)
	}{
		{"surge", func(o *ClientOptions) { o.Impl = ImplNative }},
		{"net/http", func(o *ClientOptions) { o.Impl = ImplNetHTTP }},
		{"h2", func(o *ClientOptions) { o.Protocol = HTTP2 }},
	}
	for _, cl := range clients {
		for _, tc := range []struct {
			name        string
			o           ClientOptions
			ok, tlsErrs uint64
		}{
			{"ca and client certificate", good, 5, 0},
			{"no client certificate", noCert, 0, 5},
			{"another CA", wrongCA, 0, 5},
			{"server name", named, 5, 0},
			{"wrong server name", misnamed, 0, 5},
		} {
			t.Run(cl.name+"/"+tc.name, func(t *testing.T) {
				o := tc.o
				cl.adjust(&o)
				c := runClient(t, srv.URL, o, 5, Request{Name: "get", Method: "GET", Path: "/"})
				if c.Succeeded != tc.ok || c.Errors[metrics.TLSError] != tc.tlsErrs || c.Succeeded+c.Failed != 5 {
					t.Errorf("succeeded %d, errors %v; want %d succeeded and %d tls_error", c.Succeeded, errorsOf(c), tc.ok, tc.tlsErrs)
				}
			})
		}
	}
}

// TestSecretNotPrinted: a client key never shows in formatted options.
func TestSecretNotPrinted(t *testing.T) {
	o := ClientOptions{ClientKey: Secret("-----BEGIN PRIVATE KEY-----\nabc\n")}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		if s := fmt.Sprintf(verb, o); strings.Contains(s, "PRIVATE") || strings.Contains(s, "abc") || strings.Contains(s, "2d2d2d") {
			t.Errorf("Sprintf(%s, options) = %s: shows the key", verb, s)
		}
	}
	if s := fmt.Sprint(Secret(nil)); s != "Secret(none)" {
		t.Errorf("Sprint(Secret(nil)) = %q", s)
	}
}
