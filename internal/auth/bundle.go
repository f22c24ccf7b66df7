package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// BundleOptions configure NewBundle. The zero value is the default.
type BundleOptions struct {
	// Validity of the CA and the certificates; 0 means DefaultValidity.
	Validity time.Duration
	// CAName, CoordinatorName and AgentName are the certificates' common
	// names (for people and logs; no check uses them). Empty means
	// "Surge CA", "coordinator" and "agent". Every agent shares the one
	// agent certificate.
	CAName, CoordinatorName, AgentName string
}

// Bundle is what a cluster needs: a CA, a coordinator and an agent key pair
// signed by it, a gossip key and a shared token.
type Bundle struct {
	CA, Coordinator, Agent *KeyPair
	// GossipKey is 32 random bytes (AES-256 for memberlist).
	GossipKey []byte
	// Token is 43 random URL-safe characters (256 bits).
	Token []byte
}

// NewBundle creates a fresh CA, certificates, gossip key and token.
func NewBundle(o BundleOptions) (*Bundle, error) {
	if o.CAName == "" {
		o.CAName = "Surge CA"
	}
	if o.CoordinatorName == "" {
		o.CoordinatorName = "coordinator"
	}
	if o.AgentName == "" {
		o.AgentName = "agent"
	}
	ca, err := GenerateCA(o.CAName, o.Validity)
	if err != nil {
		return nil, err
	}
	coord, err := IssueRole(ca, RoleCoordinator, o.CoordinatorName, o.Validity)
	if err != nil {
		return nil, err
	}
	ag, err := IssueRole(ca, RoleAgent, o.AgentName, o.Validity)
	if err != nil {
		return nil, err
	}
	b := &Bundle{CA: ca, Coordinator: coord, Agent: ag, GossipKey: make([]byte, 32)}
	_, _ = rand.Read(b.GossipKey) // crypto/rand.Read never fails (Go 1.24+)
	tok := make([]byte, 32)
	_, _ = rand.Read(tok)
	b.Token = []byte(base64.RawURLEncoding.EncodeToString(tok))
	return b, nil
}

// BundleFile is one file of a bundle.
type BundleFile struct {
	Name string
	Mode fs.FileMode
	Data []byte
}

// Files are the bundle's files, as certs init writes them: certificates
// 0644, private keys, gossip key and token 0600.
func (b *Bundle) Files() ([]BundleFile, error) {
	var files []BundleFile
	for _, kp := range []struct {
		name string
		kp   *KeyPair
	}{{"ca", b.CA}, {"coordinator", b.Coordinator}, {"agent", b.Agent}} {
		key, err := kp.kp.KeyPEM()
		if err != nil {
			return nil, err
		}
		files = append(files, BundleFile{kp.name + ".crt", 0o644, kp.kp.CertPEM()}, BundleFile{kp.name + ".key", 0o600, key})
	}
	files = append(files,
		BundleFile{"gossip.key", 0o600, EncodeGossipKey(b.GossipKey)},
		BundleFile{"token", 0o600, append(append([]byte(nil), b.Token...), '\n')})
	return files, nil
}

// ErrExists is wrapped by WriteBundle's refusal to overwrite files.
var ErrExists = errors.New("files exist")

// WriteBundle writes the bundle's files into dir (created 0700 if need
// be) and returns their paths. It refuses, writing nothing, when any of
// them exists, unless force. Each file gets exactly its mode, also when it
// replaces one.
func WriteBundle(dir string, b *Bundle, force bool) ([]string, error) {
	files, err := b.Files()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if !force {
		var exist []string
		for _, f := range files {
			if _, err := os.Lstat(filepath.Join(dir, f.Name)); err == nil {
				exist = append(exist, f.Name)
			}
		}
		if len(exist) > 0 {
			return nil, fmt.Errorf("auth: %s in %s: %w (add --force to replace them)", strings.Join(exist, ", "), dir, ErrExists)
		}
	}
	var paths []string
	for _, f := range files {
		path := filepath.Join(dir, f.Name)
		if err := writeFile(path, f.Data, f.Mode, force); err != nil {
			return paths, fmt.Errorf("auth: write %s: %w", path, err)
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// writeFile writes data to path with exactly mode. Without replace it
// creates the file exclusively; with replace it writes a temporary file and
// renames it into place, so the old file's mode never carries over.
func writeFile(path string, data []byte, mode fs.FileMode, replace bool) error {
	if !replace {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if err != nil {
			return err
		}
		return finish(f, data, mode)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	if err := finish(f, data, mode); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// finish sets f's mode (the umask may have narrowed it), writes data and
// closes f.
func finish(f *os.File, data []byte, mode fs.FileMode) error {
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
