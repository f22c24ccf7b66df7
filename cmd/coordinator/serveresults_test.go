package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// resultsTree makes a --dir with two runs (run-b newer than run-a), dot
// files, a partial file, a loose file and symbolic links in and out.
func resultsTree(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "results")
	outside := filepath.Join(base, "secret.txt")
	files := map[string]string{
		"run-a/report.json":             `{"run":"a"}`,
		"run-a/summary.txt":             "passed\n",
		"run-a/latency.hlog.partial":    "partial",
		"run-a/.surge-write-check":      "x",
		"run-a/sub/extra.csv":           "t,n\n",
		"run-b/report.json":             `{"run":"b"}`,
		".hidden/report.json":           "hidden",
		"notes.txt":                     "loose",
		"../secret.txt":                 "outside",
		"run-b/.surge-write-check-gone": "",
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, to := range map[string]string{
		"run-a/escape.txt": outside,
		"escape-dir":       base,
		"run-b/inside.txt": filepath.Join("..", "run-a", "summary.txt"),
		// Absolute, even to a file inside: os.Root refuses it.
		"run-b/absolute.txt": filepath.Join(dir, "run-a", "summary.txt"),
	} {
		if err := os.Symlink(to, filepath.Join(dir, filepath.FromSlash(link))); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for i, name := range []string{"run-a", "run-b", "notes.txt"} {
		ts := old.Add(time.Duration(i) * time.Hour)
		if err := os.Chtimes(filepath.Join(dir, name), ts, ts); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestResultsHandler(t *testing.T) {
	dir := resultsTree(t)
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	h := resultsHandler(root.FS())
	tests := []struct {
		name, method, target string
		code                 int
		body                 string // exact, when not empty
		location             string
	}{
		{"index newest first", "GET", "/", 200, "notes.txt\t5\nrun-b/\t2026-12-01T11:00:00Z\nrun-a/\t2026-12-01T10:00:00Z\n", ""},
		{"run listing without dot files", "GET", "/run-a/", 200, "latency.hlog.partial\t7\nreport.json\t11\nsub/\tsummary.txt\t7\n", ""},
		{"run without slash redirects", "GET", "/run-a", 301, "", "/run-a/"},
		{"a file", "GET", "/run-a/report.json", 200, `{"run":"a"}`, ""},
		{"a nested file", "GET", "/run-a/sub/extra.csv", 200, "t,n\n", ""},
		{"HEAD of a file", "HEAD", "/run-b/report.json", 200, "", ""},
		{"symlink inside the root", "GET", "/run-b/inside.txt", 200, "passed\n", ""},
		{"absolute symlink", "GET", "/run-b/absolute.txt", 404, "", ""},
		{"symlink to a file outside", "GET", "/run-a/escape.txt", 404, "", ""},
		{"symlink to a directory outside", "GET", "/escape-dir/secret.txt", 404, "", ""},
		{"dot file", "GET", "/run-a/.surge-write-check", 404, "", ""},
		{"dot directory", "GET", "/.hidden/report.json", 404, "", ""},
		{"dot dot", "GET", "/run-a/../../secret.txt", 404, "", ""},
		{"encoded dot dot", "GET", "/run-a/%2e%2e/%2e%2e/secret.txt", 404, "", ""},
		{"missing", "GET", "/run-c/report.json", 404, "", ""},
		{"tar of a missing run", "GET", "/run-c.tar.gz", 404, "", ""},
		{"tar of a dot directory", "GET", "/.hidden.tar.gz", 404, "", ""},
		{"POST", "POST", "/run-a/report.json", 405, "", ""},
		{"PUT", "PUT", "/run-a/new.json", 405, "", ""},
		{"DELETE", "DELETE", "/run-a/", 405, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.target, nil))
			if rec.Code != tt.code {
				t.Fatalf("%s %s: status %d, want %d (body %q)", tt.method, tt.target, rec.Code, tt.code, rec.Body.String())
			}
			body := rec.Body.String()
			if tt.name == "run listing without dot files" {
				// sub/'s time is when the test made it.
				body = regexp.MustCompile(`(?m)^(sub/\t).*\n`).ReplaceAllString(body, "$1")
			}
			if tt.body != "" && body != tt.body {
				t.Errorf("%s %s: body %q, want %q", tt.method, tt.target, body, tt.body)
			}
			if tt.code != 200 && strings.Contains(body, "outside") {
				t.Errorf("%s %s: leaked the file outside --dir: %q", tt.method, tt.target, body)
			}
			if tt.location != "" && rec.Header().Get("Location") != tt.location {
				t.Errorf("Location %q, want %q", rec.Header().Get("Location"), tt.location)
			}
			if tt.code == 405 && rec.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("405 without Allow: GET, HEAD")
			}
			if tt.method == "HEAD" && body != "" {
				t.Errorf("HEAD wrote a body %q", body)
			}
		})
	}
	// Nothing was written.
	if _, err := os.Stat(filepath.Join(dir, "run-a", "new.json")); !os.IsNotExist(err) {
		t.Errorf("PUT created a file: %v", err)
	}
}

func TestResultsTar(t *testing.T) {
	dir := resultsTree(t)
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	rec := httptest.NewRecorder()
	resultsHandler(root.FS()).ServeHTTP(rec, httptest.NewRequest("GET", "/run-a.tar.gz", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/gzip" {
		t.Fatalf("status %d, Content-Type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	gz, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	got := map[string]string{}
	var order []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		got[hdr.Name] = string(b)
		order = append(order, hdr.Name)
	}
	// Regular files only, by name, recursively; no dot files, and the
	// symlink out of --dir is not followed.
	want := []string{"run-a/latency.hlog.partial", "run-a/report.json", "run-a/sub/extra.csv", "run-a/summary.txt"}
	if strings.Join(order, ",") != strings.Join(want, ",") {
		t.Fatalf("tar holds %v, want %v", order, want)
	}
	if got["run-a/report.json"] != `{"run":"a"}` || got["run-a/summary.txt"] != "passed\n" || got["run-a/sub/extra.csv"] != "t,n\n" {
		t.Errorf("tar contents %q", got)
	}
}

func TestServeResultsFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"not loopback", []string{"--dir", dir, "--listen", "0.0.0.0:8080"}, "--listen 0.0.0.0:8080 is not loopback"},
		{"pod IP", []string{"--dir", dir, "--listen", "10.1.2.3:8080"}, "is not loopback"},
		{"not ip:port", []string{"--dir", dir, "--listen", "localhost:8080"}, `--listen "localhost:8080" must be ip:port`},
		{"no such dir", []string{"--dir", filepath.Join(dir, "nope"), "--listen", "127.0.0.1:0"}, "--dir: stat"},
		{"a file", []string{"--dir", file, "--listen", "127.0.0.1:0"}, "is not a directory"},
		{"an argument", []string{"x", "--dir", dir}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), append([]string{"results"}, tt.args...), &stdout, &stderr)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr %q", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q, want it to say %q", stderr.String(), tt.want)
			}
		})
	}
}

// lockedBuffer is a bytes.Buffer safe for one writer and one reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServeResultsCommand runs the subcommand on a loopback port, fetches
// a file over real HTTP and stops it by cancelling the context (SIGTERM).
func TestServeResultsCommand(t *testing.T) {
	dir := resultsTree(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout bytes.Buffer
	stderr := &lockedBuffer{}
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"results", "--dir", dir, "--listen", "127.0.0.1:0"}, &stdout, stderr)
	}()
	addr := regexp.MustCompile(`read-only at http://(127\.0\.0\.1:\d+)/`)
	var m []string
	for deadline := time.Now().Add(time.Minute); m == nil; {
		select {
		case c := <-code:
			t.Fatalf("results exited %d before serving: %s", c, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if m = addr.FindStringSubmatch(stderr.String()); m == nil && time.Now().After(deadline) {
			t.Fatalf("no listening line: %q", stderr.String())
		}
	}
	resp, err := http.Get("http://" + m[1] + "/run-b/report.json")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || string(body) != `{"run":"b"}` {
		t.Fatalf("GET report.json: %d %q %v", resp.StatusCode, body, err)
	}
	cancel()
	if c := <-code; c != 0 {
		t.Fatalf("exit %d after cancel, want 0; stderr %q", c, stderr.String())
	}
}

// FuzzResultsPath sends any URL path to the results handler: it must
// answer (never panic) and never serve what lies outside --dir or a dot
// file.
func FuzzResultsPath(f *testing.F) {
	for _, s := range []string{"/", "/run-a/", "/run-a/report.json", "/run-a.tar.gz", "/../secret.txt", "/run-a/escape.txt",
		"/escape-dir/secret.txt", "//run-a//report.json", "/run-a/./report.json", "/.hidden/report.json", "/run-b/absolute.txt"} {
		f.Add(s)
	}
	base := f.TempDir()
	dir := filepath.Join(base, "results")
	secret := "OUTSIDE-SECRET-" + strings.Repeat("x", 8)
	hidden := "HIDDEN-" + strings.Repeat("y", 8)
	for name, body := range map[string]string{"run-a/report.json": `{"run":"a"}`, "run-a/.dot": hidden, ".hidden/report.json": hidden} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(base, "secret.txt"), []byte(secret), 0o644); err != nil {
		f.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(base, "secret.txt"), filepath.Join(dir, "run-a", "escape.txt")); err != nil {
		f.Fatal(err)
	}
	if err := os.Symlink(base, filepath.Join(dir, "escape-dir")); err != nil {
		f.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { root.Close() })
	h := resultsHandler(root.FS())
	f.Fuzz(func(t *testing.T, p string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.Path = p
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body := rec.Body.Bytes()
		if rec.Header().Get("Content-Type") == "application/gzip" && rec.Code == 200 {
			gz, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("%q: bad gzip: %v", p, err)
			}
			if body, err = io.ReadAll(gz); err != nil {
				t.Fatalf("%q: bad gzip: %v", p, err)
			}
		}
		if bytes.Contains(body, []byte(secret)) || bytes.Contains(body, []byte(hidden)) {
			t.Fatalf("%q served a file outside --dir or a dot file: %q", p, body)
		}
		switch rec.Code {
		case 200, 301, 404:
		default:
			t.Fatalf("%q: status %d", p, rec.Code)
		}
	})
}
