//go:build linux || darwin

package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/metrics"
)

// The EMFILE test runs in a child process (this test binary run again),
// because it lowers RLIMIT_NOFILE and uses up every descriptor: other
// tests in the same process would fail with it.
const emfileEnv = "SURGE_TEST_EMFILE_CHILD"

// TestLocalResource: a run out of file descriptors is the generator's
// local_resource, not the target's dial_error, in both implementations.
func TestLocalResource(t *testing.T) {
	if os.Getenv(emfileEnv) != "" {
		t.Skip("in the child")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLocalResourceChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), emfileEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	t.Logf("child:\n%s", out)
}

func TestLocalResourceChild(t *testing.T) {
	if os.Getenv(emfileEnv) == "" {
		t.Skip("runs only as TestLocalResource's child")
	}
	target := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	low := lim
	low.Cur = min(lim.Cur, 256)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	// Take every descriptor left, so the next socket fails with EMFILE.
	var held []*os.File
	defer func() {
		for _, f := range held {
			f.Close()
		}
	}()
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			if !errors.Is(err, syscall.EMFILE) {
				t.Fatalf("open: %v; want EMFILE", err)
			}
			break
		}
		held = append(held, f)
	}
	for _, impl := range impls {
		t.Run(fmt.Sprint(impl), func(t *testing.T) {
			c := runClient(t, target, ClientOptions{Impl: impl}, 3, Request{Name: "get", Method: "GET", Path: "/"})
			if c.Errors[metrics.LocalResource] != 3 || c.Failed != 3 {
				t.Errorf("errors %v; want 3 × local_resource", errorsOf(c))
			}
		})
	}
}

func TestClassifyLocalResource(t *testing.T) {
	for _, err := range []error{
		&os.SyscallError{Syscall: "socket", Err: syscall.EMFILE},
		fmt.Errorf("dial: %w", &os.SyscallError{Syscall: "socket", Err: syscall.ENFILE}),
	} {
		if got := classifyErr(err); got != metrics.LocalResource {
			t.Errorf("classifyErr(%v) = %v; want local_resource", err, got)
		}
	}
}

// TestFileLimitWarning: a job whose connection bound does not fit the
// open-file limit is warned about by PreflightJob (not refused).
func TestFileLimitWarning(t *testing.T) {
	limit, ok := fileLimit()
	if !ok {
		t.Skip("no open-file limit")
	}
	target := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false)
	j := newJob(t, target, job{rate: 10, d: 100 * time.Millisecond})
	if w := FileLimitWarning(&j); w != "" {
		t.Errorf("FileLimitWarning with max_conns %d, limit %d = %q; want none", j.Limits.MaxConns, limit, w)
	}
	// Two hosts (the target and a request's absolute URL) at half the
	// limit each: over it with the headroom.
	other := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false)
	j.Requests = append(j.Requests, Request{Name: "other", Method: "GET", URL: other + "/"})
	j.Limits.MaxConns = int(limit / 2)
	var warns []string
	e := New(Config{Warn: func(m string) { warns = append(warns, m) }})
	if err := e.PreflightJob(context.Background(), &j); err != nil {
		t.Fatalf("PreflightJob: %v", err)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "RLIMIT_NOFILE") || !strings.Contains(warns[0], "2 target host(s)") {
		t.Errorf("warnings %q; want one about RLIMIT_NOFILE and 2 hosts", warns)
	}
	j.Limits.MaxConns = 0
	if w := FileLimitWarning(&j); !strings.Contains(w, "max_in_flight") && uint64(j.Limits.MaxInFlight)+fileHeadroom > limit {
		t.Errorf("FileLimitWarning without max_conns = %q", w)
	}
}
