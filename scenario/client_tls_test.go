package scenario

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/surgeload/surge/internal/testtls"
)

const tlsStages = "name: t\nrequests: [{path: /}]\nload: {constant: {rate: 1, duration: 1s}}\nstages:\n  - {url: https://127.0.0.1:8443}\n"

// TestClientTLSFiles: ca_file, cert_file and key_file are read next to
// the scenario (or from an absolute path), their contents kept with the
// block that names them (a stage's block overriding the top one's) and
// never written to JSON.
func TestClientTLSFiles(t *testing.T) {
	pki := testtls.New(t, "scenario")
	dir := pki.WriteFiles(t, t.TempDir())
	abs := filepath.Join(dir, "ca.pem")
	other := testtls.New(t, "other")
	if err := os.WriteFile(filepath.Join(dir, "other-ca.pem"), other.CA, 0o600); err != nil {
		t.Fatal(err)
	}
	src := "name: t\nrequests: [{path: /}]\nload: {constant: {rate: 1, duration: 1s}}\n" +
		"client: {ca_file: " + abs + ", cert_file: client.pem, key_file: client-key.pem, server_name: target.test}\n" +
		"stages:\n  - {url: https://127.0.0.1:8443, name: a}\n  - {url: https://127.0.0.1:8444, name: b, client: {ca_file: other-ca.pem}}\n"
	path := filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, b := s.StageClient(0), s.StageClient(1)
	if string(a.CAPEM) != string(pki.CA) || string(a.CertPEM) != string(pki.ClientCert) || string(a.KeyPEM) != string(pki.ClientKey) || *a.ServerName != "target.test" {
		t.Errorf("stage a: contents not those of its files")
	}
	if string(b.CAPEM) != string(other.CA) || string(b.CertPEM) != string(pki.ClientCert) || *b.CAFile != "other-ca.pem" {
		t.Errorf("stage b: want its own CA and the top-level client certificate")
	}
	j, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(j), "PRIVATE KEY") || strings.Contains(string(j), "BEGIN CERTIFICATE") || !strings.Contains(string(j), `"key_file":"client-key.pem"`) {
		t.Errorf("JSON of the scenario carries file contents or lacks the names:\n%s", j)
	}
	if str := a.String(); strings.Contains(str, "BEGIN") || !strings.Contains(str, `ca_file: "`+abs+`"`) {
		t.Errorf("String() = %s", str)
	}
	// Validate of the loaded scenario keeps the contents as they are.
	if err := s.Validate(Options{}); err != nil {
		t.Errorf("Validate of a loaded scenario: %v", err)
	}
}

// TestClientTLSProblems: every problem with a TLS file is reported at the
// field that names it, with line and column.
func TestClientTLSProblems(t *testing.T) {
	pki := testtls.New(t, "scenario")
	other := testtls.New(t, "other")
	dir := pki.WriteFiles(t, t.TempDir())
	for name, b := range map[string][]byte{"other-key.pem": other.ClientKey, "junk.pem": []byte("not pem\n"), "empty.pem": nil,
		"big.pem": []byte(strings.Repeat("a", MaxTLSFileSize+1))} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, client string
		want         []string
	}{
		{"missing file", "{ca_file: nope.pem}", []string{`s.yaml:6:19: ca_file "nope.pem": cannot read it: no such file or directory`}},
		{"not pem", "{ca_file: junk.pem}", []string{`s.yaml:6:19: ca_file "junk.pem" holds no PEM certificate`}},
		{"empty", "{ca_file: empty.pem}", []string{`s.yaml:6:19: ca_file "empty.pem": the file is empty`}},
		{"too big", "{ca_file: big.pem}", []string{`s.yaml:6:19: ca_file "big.pem": larger than the 1 MiB limit`}},
		{"device", "{ca_file: /dev/null}", []string{`s.yaml:6:19: ca_file "/dev/null": cannot read it: not a regular file`}},
		{"outside", "{ca_file: ../ca.pem}", []string{`s.yaml:6:19: ca_file "../ca.pem": must be an absolute path, or a relative path inside the scenario's directory`}},
		{"cert without key", "{cert_file: client.pem}", []string{"s.yaml:6:21: cert_file needs key_file in the same block"}},
		{"key without cert", "{key_file: client-key.pem}", []string{"s.yaml:6:20: key_file needs cert_file in the same block"}},
		{"key of another cert", "{cert_file: client.pem, key_file: other-key.pem}", []string{`s.yaml:6:43: key_file "other-key.pem" does not go with cert_file "client.pem": tls: private key does not match public key`}},
		{"cert not pem", "{cert_file: junk.pem, key_file: client-key.pem}", []string{`s.yaml:6:21: cert_file "junk.pem" holds no PEM certificate`}},
		{"key not pem", "{cert_file: client.pem, key_file: client.pem}", []string{`s.yaml:6:43: key_file "client.pem" holds no PEM private key`}},
		{"server name", "{server_name: 'a b'}", []string{`s.yaml:6:23: server_name "a b" must be a host name`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "s.yaml")
			if err := os.WriteFile(path, []byte("name: t\nrequests: [{path: /}]\nload: {constant: {rate: 1, duration: 1s}}\nstages:\n  - {url: https://127.0.0.1:8443}\nclient: "+tc.client+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path, Options{})
			if err == nil {
				t.Fatalf("client %s: no error", tc.client)
			}
			got := strings.ReplaceAll(err.Error(), dir+"/", "")
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("client %s: error\n%s\nwant %q", tc.client, got, w)
				}
			}
			if strings.Contains(got, "not pem") || strings.Contains(got, "PRIVATE KEY-----") {
				t.Errorf("an error shows file contents: %s", got)
			}
		})
	}
}

// TestClientTLSBuiltInCode: a Scenario built in code carries the contents
// itself; Validate checks them, and refuses a named file without them
// (it would be played without: a missing CA would mean the system's).
func TestClientTLSBuiltInCode(t *testing.T) {
	pki := testtls.New(t, "code")
	other := testtls.New(t, "other")
	s, err := Parse("x.yaml", []byte(tlsStages), Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Client.CAFile = ptr("ca.pem")
	if err := s.Validate(Options{}); err == nil || !strings.Contains(err.Error(), `client.ca_file: ca_file "ca.pem": its contents are not set`) {
		t.Errorf("Validate with a CA file but no contents = %v", err)
	}
	s.Client.CAPEM = pki.CA
	s.Client.CertFile, s.Client.KeyFile = ptr("c.pem"), ptr("k.pem")
	s.Client.CertPEM, s.Client.KeyPEM = pki.ClientCert, other.ClientKey
	if err := s.Validate(Options{}); err == nil || !strings.Contains(err.Error(), "client.key_file") || !strings.Contains(err.Error(), "does not go with") {
		t.Errorf("Validate with a key of another certificate = %v", err)
	}
	s.Client.KeyPEM = pki.ClientKey
	if err := s.Validate(Options{}); err != nil {
		t.Errorf("Validate with matching contents = %v", err)
	}
}
