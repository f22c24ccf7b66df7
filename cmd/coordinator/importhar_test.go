package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const harTestdata = "../../internal/har/testdata"

func TestImportHAR(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join(harTestdata, "login.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	login := filepath.Join(harTestdata, "login.har")

	// To stdout: the scenario alone; the summary on stderr.
	code, stdout, stderr := runCLI(t, "import", "har", login)
	if code != 0 || stdout != string(golden) {
		t.Errorf("import har login.har = %d, stdout:\n%s\nwant 0 and %s", code, stdout, filepath.Join(harTestdata, "login.yaml"))
	}
	for _, w := range []string{"import: 7 entries: 4 request steps, 2 think steps; 3 entries dropped (3 static assets)\n",
		`import: {{var token}}: extracted by step "POST /login" from $.token, used 2 time(s)` + "\n"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("import har login.har: stderr lacks %q:\n%s", w, stderr)
		}
	}
	if strings.Contains(stderr, "eyJhbGciOiJIUzI1NiJ9") {
		t.Errorf("import har login.har: stderr shows the recorded token:\n%s", stderr)
	}

	// To a file, with the flags.
	out := filepath.Join(t.TempDir(), "sub", "shop.yaml")
	code, stdout, stderr = runCLI(t, "import", "har", login, "-o", out, "--keep-assets", "--rate", "5/s", "--duration", "30s", "--name", "shop")
	want, err := os.ReadFile(filepath.Join(harTestdata, "login.keep-assets.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	if code != 0 || stdout != "" || !bytes.Equal(got, want) || !strings.Contains(stderr, "import: wrote "+out) {
		t.Errorf("import har -o %s = %d, stdout %q, stderr %q, file:\n%s", out, code, stdout, stderr, got)
	}

	// From stdin.
	in, err := os.ReadFile(login)
	if err != nil {
		t.Fatal(err)
	}
	var o, e bytes.Buffer
	root := newRoot(context.Background(), &o, &e)
	root.SetIn(bytes.NewReader(in))
	root.SetArgs([]string{"import", "har", "-"})
	if err := root.Execute(); err != nil || !strings.HasPrefix(o.String(), "# Imported by `coordinator import har` from standard input.\n") ||
		!strings.HasSuffix(o.String(), string(golden[bytes.IndexByte(golden, '\n'):])) {
		t.Errorf("import har - = %v, stdout:\n%s", err, o.String())
	}
}

func TestImportHARErrors(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		stderr []string // the last lines of stderr
	}{
		{[]string{"bad-json.har"}, []string{"error: " + harTestdata + "/bad-json.har:4:48: invalid JSON: invalid character ',' looking for beginning of object key string"}},
		{[]string{"version-1.1.har"}, []string{"error: " + harTestdata + `/version-1.1.har: log.version: "1.1" is not supported: only HAR 1.2 is (re-export the recording from a current browser)`}},
		{[]string{"no-request.har"}, []string{
			harTestdata + `/no-request.har:6:3: log.entries[1].startedDateTime: "yesterday" is not an ISO 8601 date and time like 2024-05-01T10:00:00.000Z`,
			harTestdata + `/no-request.har:6:3: log.entries[1]: no "request" object`,
			"error: " + harTestdata + "/no-request.har: 2 problems in the HAR file",
		}},
		{[]string{"only-assets.har"}, []string{"error: " + harTestdata + "/only-assets.har: no request to play: 1 entries, every one dropped (1 static assets)"}},
		{[]string{"login.har", "--rate", "0"}, []string{"error: " + harTestdata + `/login.har: rate "0" must be a rate > 0, like 1/s or 30/m`}},
		{[]string{"login.har", "--duration", "5"}, []string{"error: " + harTestdata + `/login.har: duration "5" must be a duration > 0, like 30s or 5m`}},
		{[]string{"missing.har"}, []string{"error: open " + harTestdata + "/missing.har: no such file or directory"}},
	} {
		args := append([]string{"import", "har", filepath.Join(harTestdata, tc.args[0])}, tc.args[1:]...)
		code, stdout, stderr := runCLI(t, args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if len(lines) > len(tc.stderr) {
			lines = lines[len(lines)-len(tc.stderr):]
		}
		if code != 2 || stdout != "" || strings.Join(lines, "\n") != strings.Join(tc.stderr, "\n") {
			t.Errorf("coordinator %v = %d, stdout %q, stderr:\n%s\nwant 2 and\n%s", args, code, stdout, stderr, strings.Join(tc.stderr, "\n"))
		}
	}
}

func TestImportHelp(t *testing.T) {
	_, stdout, _ := runCLI(t, "--help")
	if !strings.Contains(stdout, "import      Make a scenario from a recording (import har)") {
		t.Errorf("coordinator --help does not list import:\n%s", stdout)
	}
	code, stdout, _ := runCLI(t, "import", "har", "--help")
	if code != 0 || !strings.Contains(stdout, "coordinator import har FILE.har [flags]") || !strings.Contains(stdout, "--keep-assets") {
		t.Errorf("import har --help = %d:\n%s", code, stdout)
	}
}
