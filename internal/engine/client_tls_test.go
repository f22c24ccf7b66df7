package engine

import (
	"crypto/tls"
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
// CA and the client certificate every request succeeds; with another CA,
// or a server name the certificate does not have, every request fails as
// tls_error. Each client (Surge's, net/http, h2) is tried, and a server
// name of the job's own (the certificate names target.test, the URL an
// address).
//
// Without the client certificate every request fails. Under TLS 1.2 the
// target refuses inside the handshake: every failure is tls_error. Under
// TLS 1.3 the client's handshake completes before the target checks it,
// and the target's alert ("certificate required") races the request: a
// request may meet the closed connection first (conn_reset) or, with h2,
// the shared connection's failure ("could not be established": other).
func TestClientTLS(t *testing.T) {
	pki, other := testtls.New(t, "target"), testtls.New(t, "other")
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
				w.WriteHeader(http.StatusTeapot) // never: the handshake requires one
				return
			}
			w.Write([]byte("ok"))
		}))
		srv.TLS = pki.ServerConfig(t)
		srv.TLS.MaxVersion = version
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
		for _, cl := range []struct {
			name   string
			adjust func(*ClientOptions)
		}{
			{"surge", func(o *ClientOptions) { o.Impl = ImplNative }},
			{"net/http", func(o *ClientOptions) { o.Impl = ImplNetHTTP }},
			{"h2", func(o *ClientOptions) { o.Protocol = HTTP2 }},
		} {
			for _, tc := range []struct {
				name     string
				o        ClientOptions
				ok, fail uint64
				// classes the failures may have; the first is the
				// expected one, the only one when exact.
				classes []metrics.Outcome
				exact   bool
			}{
				{"ca and client certificate", good, 5, 0, nil, true},
				{"no client certificate", noCert, 0, 5, []metrics.Outcome{metrics.TLSError, metrics.ConnReset, metrics.Other}, version == tls.VersionTLS12},
				{"another CA", wrongCA, 0, 5, []metrics.Outcome{metrics.TLSError}, true},
				{"server name", named, 5, 0, nil, true},
				{"wrong server name", misnamed, 0, 5, []metrics.Outcome{metrics.TLSError}, true},
			} {
				t.Run(fmt.Sprintf("%s/%s/%s", tls.VersionName(version), cl.name, tc.name), func(t *testing.T) {
					o := tc.o
					cl.adjust(&o)
					c := runClient(t, srv.URL, o, 5, Request{Name: "get", Method: "GET", Path: "/"})
					var classified uint64
					for k, class := range tc.classes {
						if k == 0 || !tc.exact {
							classified += c.Errors[class]
						}
					}
					if c.Succeeded != tc.ok || c.Failed != tc.fail || classified != tc.fail {
						t.Errorf("succeeded %d, errors %v; want %d succeeded and %d failed as %v (only the first: %v)", c.Succeeded, errorsOf(c), tc.ok, tc.fail, tc.classes, tc.exact)
					}
				})
			}
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
