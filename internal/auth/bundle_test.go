package auth

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

var bundleFiles = []string{"ca.crt", "ca.key", "coordinator.crt", "coordinator.key", "agent.crt", "agent.key", "gossip.key", "token"}

func TestWriteBundle(t *testing.T) {
	b, err := NewBundle(BundleOptions{Validity: 10 * 24 * time.Hour, AgentName: "fleet"})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "certs")
	paths, err := WriteBundle(dir, b, false)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(p))
	}
	if !slices.Equal(names, bundleFiles) {
		t.Errorf("wrote %v; want %v", names, bundleFiles)
	}
	for _, name := range bundleFiles {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		want := fs.FileMode(0o600)
		if filepath.Ext(name) == ".crt" {
			want = 0o644
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %04o; want %04o", name, st.Mode().Perm(), want)
		}
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %04o; want 0700", st.Mode().Perm())
	}
	if b.Agent.Cert.Subject.CommonName != "fleet" {
		t.Errorf("agent name %q; want fleet", b.Agent.Cert.Subject.CommonName)
	}
	if d := b.Agent.Cert.NotAfter.Sub(time.Now()); d < 9*24*time.Hour || d > 10*24*time.Hour {
		t.Errorf("agent certificate valid for %v; want 10 days", d)
	}

	// What it wrote reads back.
	if _, err := ReadGossipKey(filepath.Join(dir, "gossip.key")); err != nil {
		t.Error(err)
	}
	if tok, err := ReadToken(filepath.Join(dir, "token")); err != nil || string(tok) != string(b.Token) {
		t.Errorf("ReadToken = %q, %v; want %q", tok, err, b.Token)
	}

	// A second init refuses and leaves the files alone.
	before, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	b2, err := NewBundle(BundleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WriteBundle(dir, b2, false); !errors.Is(err, ErrExists) {
		t.Errorf("second WriteBundle = %v; want ErrExists", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "ca.crt")); string(after) != string(before) {
		t.Error("a refused WriteBundle changed ca.crt")
	}

	// With force it replaces them, with their modes even over looser ones.
	if err := os.Chmod(filepath.Join(dir, "ca.key"), 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteBundle(dir, b2, true); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "ca.crt")); string(after) == string(before) {
		t.Error("forced WriteBundle left ca.crt as it was")
	}
	if st, _ := os.Stat(filepath.Join(dir, "ca.key")); st.Mode().Perm() != 0o600 {
		t.Errorf("replaced ca.key mode %04o; want 0600", st.Mode().Perm())
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
