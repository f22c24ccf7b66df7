package auth

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"runtime"
)

// ErrSecretExposed is wrapped by the refusal of a secret file (private key,
// gossip key, token) that every user of the machine may read or write.
var ErrSecretExposed = errors.New("secret file open to every user")

// maxSecretBytes bounds what is read of a secret file: they are all small.
const maxSecretBytes = 64 << 10

// readSecret reads a secret file, refusing one that every user may read
// or write (mode o+r or o+w): whoever can read it can join the cluster or
// drive the agents, whoever can write it can swap it. Group access is
// allowed, so that a Kubernetes Secret mounted with defaultMode 0440 and the
// pod's fsGroup works. what names the file in errors.
func readSecret(path, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth: %s: %w", what, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("auth: %s: %w", what, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("auth: %s %s is not a regular file", what, path)
	}
	if perm := st.Mode().Perm(); runtime.GOOS != "windows" && perm&0o006 != 0 {
		return nil, fmt.Errorf("auth: %s %s: %w (mode %04o): run chmod 600 on it (in Kubernetes, mount the Secret with defaultMode: 0440 and an fsGroup)",
			what, path, ErrSecretExposed, perm)
	}
	if st.Size() > maxSecretBytes {
		return nil, fmt.Errorf("auth: %s %s: %d bytes, more than %d: not a key file", what, path, st.Size(), maxSecretBytes)
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("auth: %s: %w", what, err)
	}
	return b, nil
}

// ReadGossipKey reads a gossip encryption key: the standard base64 of 16,
// 24 or 32 bytes (AES-128, -192 or -256), surrounding white space ignored,
// as `coordinator certs init` writes it to gossip.key. The file must not be
// readable or writable by every user (ErrSecretExposed): mode 0600, or
// 0640/0440 for a group.
func ReadGossipKey(path string) ([]byte, error) {
	b, err := readSecret(path, "gossip key file")
	if err != nil {
		return nil, err
	}
	return parseGossipKey(path, b)
}

func parseGossipKey(path string, b []byte) ([]byte, error) {
	text := bytes.TrimSpace(b)
	if len(text) == 0 {
		return nil, fmt.Errorf("auth: gossip key file %s is empty", path)
	}
	key := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Decode(key, text)
	if err != nil {
		return nil, fmt.Errorf("auth: gossip key file %s is not standard base64 (want the base64 of 16, 24 or 32 random bytes, like `head -c 32 /dev/urandom | base64`): %w", path, err)
	}
	key = key[:n]
	switch n {
	case 16, 24, 32:
		return key, nil
	}
	return nil, fmt.Errorf("auth: gossip key file %s holds %d bytes; want 16, 24 or 32", path, n)
}

// EncodeGossipKey is the text of a gossip key file for key.
func EncodeGossipKey(key []byte) []byte {
	return []byte(base64.StdEncoding.EncodeToString(key) + "\n")
}

// minTokenLen is the shortest shared token accepted.
const minTokenLen = 16

// ReadToken reads a shared token: one line of at least 16 printable ASCII
// characters without spaces (it travels in an HTTP/2 header), surrounding
// white space ignored. The file must not be readable or writable by every
// user (ErrSecretExposed).
func ReadToken(path string) ([]byte, error) {
	b, err := readSecret(path, "token file")
	if err != nil {
		return nil, err
	}
	tok := bytes.TrimSpace(b)
	if err := checkToken(tok); err != nil {
		return nil, fmt.Errorf("auth: token file %s: %w", path, err)
	}
	return tok, nil
}

func checkToken(tok []byte) error {
	if len(tok) < minTokenLen {
		return fmt.Errorf("the token has %d characters; want at least %d (certs init writes 43 random ones)", len(tok), minTokenLen)
	}
	for i, c := range tok {
		if c < 0x21 || c > 0x7e {
			return fmt.Errorf("the token has a space, control or non-ASCII byte at offset %d", i)
		}
	}
	return nil
}
