package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCertsInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	code, stdout, stderr := runCLI(t, "certs", "init", "--dir", dir, "--days", "30", "--agent-name", "fleet")
	if code != 0 {
		t.Fatalf("certs init: exit %d, %s", code, stderr)
	}
	modes := map[string]os.FileMode{
		"ca.crt": 0o644, "ca.key": 0o600, "coordinator.crt": 0o644, "coordinator.key": 0o600,
		"agent.crt": 0o644, "agent.key": 0o600, "gossip.key": 0o600, "token": 0o600,
	}
	for name, want := range modes {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %04o; want %04o", name, st.Mode().Perm(), want)
		}
		if !strings.Contains(stdout, "wrote "+filepath.Join(dir, name)+"\n") {
			t.Errorf("stdout does not list %s:\n%s", name, stdout)
		}
	}
	for _, want := range []string{"valid for 30 days", "--tls-cert " + filepath.Join(dir, "agent.crt"), "--gossip-key-file " + filepath.Join(dir, "gossip.key")} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout does not say %q:\n%s", want, stdout)
		}
	}
	before, _ := os.ReadFile(filepath.Join(dir, "ca.key"))

	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"certs", "init", "--dir", dir}, 2, "files exist (add --force to replace them)"},
		{[]string{"certs", "init"}, 2, "--dir is required"},
		{[]string{"certs", "init", "--dir", dir, "--days", "0"}, 2, "--days 0 must be in 1..3650"},
		{[]string{"certs", "init", "--dir", filepath.Join(dir, "ca.crt", "sub")}, 3, "not a directory"},
	}
	for _, tt := range tests {
		code, _, stderr := runCLI(t, tt.args...)
		if last := lastLine(stderr); code != tt.code || !strings.Contains(last, tt.want) {
			t.Errorf("%v: exit %d, last line %q; want exit %d containing %q", tt.args, code, last, tt.code, tt.want)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "ca.key")); string(after) != string(before) {
		t.Error("a refused init changed ca.key")
	}
	if code, _, stderr := runCLI(t, "certs", "init", "--dir", dir, "--force"); code != 0 {
		t.Fatalf("certs init --force: exit %d, %s", code, stderr)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "ca.key")); string(after) == string(before) {
		t.Error("init --force left ca.key as it was")
	}
}
