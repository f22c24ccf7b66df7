package main

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/surgeload/surge/internal/exitcode"
	"github.com/surgeload/surge/internal/testtls"
)

// TestRunClientTLS: an https target on loopback with a private CA that
// requires client certificates. With ca_file, cert_file and key_file every
// request succeeds; without the client certificate, or with another CA,
// every request fails as tls_error. The key's contents reach neither
// report.json nor the output.
func TestRunClientTLS(t *testing.T) {
	pki, other := testtls.New(t, "target"), testtls.New(t, "other")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	srv.TLS = pki.ServerConfig(t)
	// TLS 1.2: the target refuses a missing client certificate inside the
	// handshake, so every such request is tls_error; under TLS 1.3 some may
	// meet the closed connection first (see engine.TestClientTLS).
	srv.TLS.MaxVersion = tls.VersionTLS12
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.StartTLS()
	defer srv.Close()
	dir := pki.WriteFiles(t, t.TempDir())
	if err := os.WriteFile(filepath.Join(dir, "other-ca.pem"), other.CA, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, client string
		ok, tlsErrs  float64
		code         int
	}{
		{"ca and client certificate", "{ca_file: ca.pem, cert_file: client.pem, key_file: client-key.pem}", 20, 0, 0},
		{"no client certificate", "{ca_file: ca.pem}", 0, 20, exitcode.ThresholdsFailed},
		{"another CA", "{ca_file: other-ca.pem, cert_file: client.pem, key_file: client-key.pem}", 0, 20, exitcode.ThresholdsFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "s.yaml")
			src := "name: tls\nstages: [{url: " + srv.URL + "}]\nrequests: [{name: get, path: /}]\nload: {constant: {rate: 20, duration: 1s}}\n" +
				"client: " + tc.client + "\nthresholds: [\"error_rate < 1%\"]\n"
			if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			code, stdout, stderr := runCLI(t, "run", path, "--gossip-listen", "127.0.0.1:0", "--out", out, "-q", "--max-send-lag", "1s")
			if code != tc.code {
				t.Fatalf("exit %d; want %d\n%s\n%s", code, tc.code, stdout, stderr)
			}
			b, err := os.ReadFile(filepath.Join(out, "report.json"))
			if err != nil {
				t.Fatal(err)
			}
			var rep struct {
				Stages []struct {
					Intended, Succeeded, Failed float64
					Errors                      map[string]float64
				}
			}
			if err := json.Unmarshal(b, &rep); err != nil {
				t.Fatal(err)
			}
			st := rep.Stages[0]
			if st.Intended != 20 || st.Succeeded != tc.ok || st.Errors["tls_error"] != tc.tlsErrs || st.Succeeded+st.Failed != 20 {
				t.Errorf("intended %v succeeded %v failed %v errors %v; want 20, %v, tls_error %v", st.Intended, st.Succeeded, st.Failed, st.Errors, tc.ok, tc.tlsErrs)
			}
			key := strings.TrimSpace(string(pki.ClientKey))
			for name, s := range map[string]string{"report.json": string(b), "stdout": stdout, "stderr": stderr} {
				if strings.Contains(s, "PRIVATE KEY") || strings.Contains(s, strings.Split(key, "\n")[1]) {
					t.Errorf("%s holds the client key", name)
				}
			}
		})
	}

	// validate names the files, at the field, when they are wrong.
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: tls\nstages: [{url: "+srv.URL+"}]\nrequests: [{path: /}]\nload: {constant: {rate: 1, duration: 1s}}\n"+
		"client:\n  cert_file: client.pem\n  key_file: ca.pem\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "validate", bad)
	if code != exitcode.Invalid || !strings.Contains(stderr, `bad.yaml:7:13: key_file "ca.pem" holds no PEM private key`) {
		t.Errorf("validate with a certificate for a key: exit %d\n%s", code, stderr)
	}
}
