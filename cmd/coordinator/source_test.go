package main

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/surgeload/surge/internal/engine"
	"github.com/surgeload/surge/internal/exitcode"
	"github.com/surgeload/surge/scenario"
)

// TestStdin: "-" reads the scenario from stdin for validate and run;
// problems are named <stdin>:LINE:COL.
func TestStdin(t *testing.T) {
	code, stdout, stderr := runCLIStdin(t, quick, "validate", "-")
	if code != 0 || !strings.Contains(stdout, "<stdin>") {
		t.Errorf("validate - : exit %d\n%s\n%s", code, stdout, stderr)
	}

	code, _, stderr = runCLIStdin(t, "name: x\nstages: [{url: ftp://h}]\n", "validate", "-")
	if code != exitcode.Invalid || !strings.Contains(stderr, "<stdin>:2:") {
		t.Errorf("bad scenario on stdin: exit %d; want 2 and <stdin>:2:COL:\n%s", code, stderr)
	}

	code, _, stderr = runCLIStdin(t, "", "validate", "-")
	if code != exitcode.Invalid || !strings.Contains(stderr, "<stdin>") {
		t.Errorf("empty stdin: exit %d; want 2 naming <stdin>:\n%s", code, stderr)
	}

	big := "name: x\n# " + strings.Repeat("a", scenario.MaxFileSize) + "\n"
	code, _, stderr = runCLIStdin(t, big, "validate", "-")
	if code != exitcode.Invalid || !strings.Contains(stderr, "<stdin>: file is larger than the 1 MiB limit") {
		t.Errorf("too large stdin: exit %d; want 2 and the limit:\n%s", code, stderr)
	}

	out := t.TempDir()
	code, stdout, stderr = runCLIStdin(t, quick, "run", "-", "--gossip-listen", "127.0.0.1:0", "--out", out, "-q", "--max-send-lag", "1s")
	if code != 0 || !strings.Contains(stdout, "succeeded 200") {
		t.Fatalf("run - : exit %d\n%s\n%s", code, stdout, stderr)
	}
	if c := stageCounts(t, out); c["intended"] != 200 || c["succeeded"] != 200 {
		t.Errorf("run - : counts %v; want 200 intended and succeeded", c)
	}
}

// TestStdinDataFiles: a scenario on stdin takes its data files relative
// to the working directory, and only inside it.
func TestStdinDataFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ids.csv"), []byte("id\n1\n2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	withData := strings.Replace(quick, "path: /items/1", `path: "/items/{{csv ids.csv id}}"`, 1)
	if code, stdout, stderr := runCLIStdin(t, withData, "validate", "-"); code != 0 {
		t.Errorf("data file in the working directory: exit %d\n%s\n%s", code, stdout, stderr)
	}
	outside := strings.Replace(quick, "path: /items/1", `path: "/items/{{csv ../ids.csv id}}"`, 1)
	if code, _, stderr := runCLIStdin(t, outside, "validate", "-"); code != exitcode.Invalid || !strings.Contains(stderr, "<stdin>:") {
		t.Errorf("data file outside the working directory: exit %d; want 2 at <stdin>:LINE:COL\n%s", code, stderr)
	}
}

const offLoopback = `name: staging
stages:
  - url: http://10.255.255.1:9
requests:
  - {name: get, path: /}
load:
  constant: {rate: 10, duration: 1s}
`

// TestAllowTargetRefused: with embedded agents, a stage that is not
// loopback is refused before the run (exit 2, no agent started, nothing
// sent), the message naming --allow-target; validate warns about it
// unless --allow-target allows it.
func TestAllowTargetRefused(t *testing.T) {
	file := writeFile(t, "s.yaml", offLoopback)
	code, _, stderr := runCLI(t, "run", file, "--gossip-listen", "127.0.0.1:0", "-q", "--out", t.TempDir())
	if code != exitcode.Invalid || !strings.Contains(stderr, "stage 10.255.255.1:9: 10.255.255.1 is not loopback") ||
		!strings.Contains(stderr, "add --allow-target 10.255.255.1") {
		t.Errorf("run without --allow-target: exit %d; want 2 naming the flag:\n%s", code, stderr)
	}
	code, _, stderr = runCLI(t, "run", file, "--allow-target", "192.0.2.0/24", "--gossip-listen", "127.0.0.1:0", "-q", "--out", t.TempDir())
	if code != exitcode.Invalid || !strings.Contains(stderr, "is not in --allow-target 192.0.2.0/24") {
		t.Errorf("run with another --allow-target: exit %d; want 2 naming the list:\n%s", code, stderr)
	}
	code, _, stderr = runCLI(t, "run", file, "--allow-target", "10.0.0.0/8", "--expect", "1", "--gossip-listen", "127.0.0.1:0")
	if code != exitcode.Invalid || !strings.Contains(stderr, "external agents (--expect) allow targets with their own") {
		t.Errorf("--allow-target with --expect: exit %d; want 2:\n%s", code, stderr)
	}
	code, _, stderr = runCLI(t, "run", file, "--allow-target", "http://10.0.0.1/")
	if code != exitcode.Invalid || !strings.Contains(stderr, "--allow-target: allowlist entry 1") {
		t.Errorf("bad --allow-target: exit %d; want 2:\n%s", code, stderr)
	}

	code, _, stderr = runCLI(t, "validate", file)
	if code != 0 || !strings.Contains(stderr, "warning: stage 10.255.255.1:9: 10.255.255.1 is not loopback") {
		t.Errorf("validate: exit %d; want 0 and a warning:\n%s", code, stderr)
	}
	code, _, stderr = runCLI(t, "validate", file, "--allow-target", "10.255.255.0/24")
	if code != 0 || strings.Contains(stderr, "warning") {
		t.Errorf("validate --allow-target: exit %d; want 0 without a warning:\n%s", code, stderr)
	}
}

// fakeResolver answers host-name look-ups from a table.
type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, &os.PathError{Op: "lookup", Path: host, Err: os.ErrNotExist}
}

// TestTargetsAllowed: the pre-run check follows the agents' allowlist
// rules: loopback always, CIDRs for addresses, host patterns for names
// (not for the addresses no name may reach), and leaves a name it cannot
// resolve to the agents.
func TestTargetsAllowed(t *testing.T) {
	res := fakeResolver{
		"staging.example.com": {netip.MustParseAddr("10.1.2.3")},
		"meta.example.com":    {netip.MustParseAddr("169.254.169.254")},
		"localhost":           {netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")},
		"mixed.example.com":   {netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("10.9.9.9")},
	}
	for _, tc := range []struct {
		url   string
		allow []string
		want  string // "" = allowed
	}{
		{"http://127.0.0.2:8080", nil, ""},
		{"http://[::1]:8080", nil, ""},
		{"http://localhost:8080", nil, ""},
		{"http://10.255.255.1", nil, "10.255.255.1 is not loopback"},
		{"http://10.255.255.1", []string{"10.255.255.1"}, ""},
		{"http://10.255.255.1", []string{"10.0.0.0/8"}, ""},
		{"http://[2001:db8::1]:80", []string{"10.0.0.0/8"}, "2001:db8::1 is not in --allow-target 10.0.0.0/8: add --allow-target 2001:db8::1"},
		{"https://staging.example.com", nil, "staging.example.com (10.1.2.3) is not loopback"},
		{"https://staging.example.com", []string{"staging.example.com"}, ""},
		{"https://staging.example.com", []string{"*.example.com"}, ""},
		{"https://staging.example.com", []string{"10.1.2.0/24"}, ""},
		{"https://meta.example.com", []string{"*.example.com"}, "meta.example.com (169.254.169.254) is not in --allow-target"},
		{"https://mixed.example.com", nil, "mixed.example.com (10.9.9.9) is not loopback"},
		{"https://unknown.example.com", nil, ""},
	} {
		sc := &scenario.Scenario{Stages: []scenario.Stage{{Name: "s", URL: tc.url}}}
		got := strings.Join(targetsAllowed(context.Background(), sc, engine.MustParseAllowlist(tc.allow...), res), "; ")
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("targetsAllowed(%s, allow %v) = %q; want %q", tc.url, tc.allow, got, tc.want)
		}
	}
}

// TestAllowTargetKeepsLoopback: --allow-target widens what the embedded
// agents may load; loopback stays allowed, and the run says what is.
func TestAllowTargetKeepsLoopback(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "run", writeFile(t, "q.yaml", quick), "--allow-target", "192.0.2.0/24,*.example.com",
		"--gossip-listen", "127.0.0.1:0", "--out", out, "--max-send-lag", "1s")
	if code != 0 || !strings.Contains(stderr, "embedded agents may load loopback and 192.0.2.0/24,*.example.com (--allow-target)") {
		t.Fatalf("exit %d; want 0 and the allowlist named\n%s", code, stderr)
	}
	if c := stageCounts(t, out); c["intended"] != 200 || c["succeeded"] != 200 {
		t.Errorf("counts %v; want 200 intended and succeeded\n%s", c, stdout)
	}
}
