package auth

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeMode writes data to a new file with exactly mode.
func writeMode(t *testing.T, dir, name, data string, mode fs.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // the umask may have narrowed it
		t.Fatal(err)
	}
	return path
}

func TestReadGossipKey(t *testing.T) {
	dir := t.TempDir()
	key32 := bytes.Repeat([]byte{7}, 32)
	tests := []struct {
		name, data string
		mode       fs.FileMode
		want       int // key length; 0 = an error containing err
		err        string
	}{
		{"32 bytes", string(EncodeGossipKey(key32)), 0o600, 32, ""},
		{"16 bytes, no newline", "AAAAAAAAAAAAAAAAAAAAAA==", 0o600, 16, ""},
		{"24 bytes, spaces", "  " + strings.Repeat("A", 32) + " \n\n", 0o640, 24, ""},
		{"group read only", string(EncodeGossipKey(key32)), 0o440, 32, ""},
		{"empty", "\n", 0o600, 0, "is empty"},
		{"not base64", "this is not base64!", 0o600, 0, "not standard base64"},
		{"url base64", "-_-_-_-_-_-_-_-_-_-_-w==", 0o600, 0, "not standard base64"},
		{"20 bytes", strings.Repeat("A", 27) + "=", 0o600, 0, "holds 20 bytes; want 16, 24 or 32"},
		{"world readable", string(EncodeGossipKey(key32)), 0o644, 0, "open to every user (mode 0644)"},
		{"world writable", string(EncodeGossipKey(key32)), 0o602, 0, "chmod 600"},
	}
	for i, tt := range tests {
		path := writeMode(t, dir, string(rune('a'+i)), tt.data, tt.mode)
		got, err := ReadGossipKey(path)
		switch {
		case tt.want > 0 && (err != nil || len(got) != tt.want):
			t.Errorf("%s: ReadGossipKey = %d bytes, %v; want %d bytes", tt.name, len(got), err, tt.want)
		case tt.want == 0 && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: ReadGossipKey = %v; want an error containing %q", tt.name, err, tt.err)
		}
	}
	if got, _ := ReadGossipKey(writeMode(t, dir, "k", string(EncodeGossipKey(key32)), 0o600)); !bytes.Equal(got, key32) {
		t.Errorf("round trip = %x; want %x", got, key32)
	}
	if _, err := ReadGossipKey(writeMode(t, dir, "open", "AAAAAAAAAAAAAAAAAAAAAA==", 0o604)); !errors.Is(err, ErrSecretExposed) {
		t.Errorf("world-readable key: %v; want ErrSecretExposed", err)
	}
	if _, err := ReadGossipKey(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v; want fs.ErrNotExist", err)
	}
	if _, err := ReadGossipKey(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v; want not a regular file", err)
	}
}

func TestReadToken(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, data string
		want, err  string
	}{
		{"certs init's", "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde\n", "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde", ""},
		{"trimmed", "  0123456789abcdef \r\n", "0123456789abcdef", ""},
		{"short", "0123456789abcde", "", "at least 16"},
		{"inner space", "01234567 89abcdef", "", "space, control or non-ASCII byte at offset 8"},
		{"two lines", "0123456789abcdef\n0123456789abcdef", "", "offset 16"},
		{"non-ASCII", "0123456789abcdéf", "", "non-ASCII"},
	}
	for i, tt := range tests {
		got, err := ReadToken(writeMode(t, dir, string(rune('a'+i)), tt.data, 0o600))
		switch {
		case tt.err == "" && (err != nil || string(got) != tt.want):
			t.Errorf("%s: ReadToken = %q, %v; want %q", tt.name, got, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: ReadToken = %v; want an error containing %q", tt.name, err, tt.err)
		}
	}
	if _, err := ReadToken(writeMode(t, dir, "open", "0123456789abcdef", 0o644)); !errors.Is(err, ErrSecretExposed) {
		t.Errorf("world-readable token: %v; want ErrSecretExposed", err)
	}
}
