//go:build linux

package faults

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lease is the agents' --lease in every test: an agent fires nothing
// later than this after the last message it had from its coordinator.
const lease = 3 * time.Second

// bins are the binaries built once by TestMain.
var bins struct {
	dir, agent, coordinator string
	err                     error
}

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // every test skips
	}
	dir, err := os.MkdirTemp("", "surge-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
	bins.dir = dir
	bins.agent, bins.coordinator = filepath.Join(dir, "agent"), filepath.Join(dir, "coordinator")
	// The module root is the parent of this package's directory.
	build := exec.Command(goTool(), "build", "-o", dir+string(os.PathSeparator), "./cmd/agent", "./cmd/coordinator")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		bins.err = fmt.Errorf("go build ./cmd/agent ./cmd/coordinator: %w\n%s", err, out)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// goTool is the go command that runs these tests, so that the binaries
// are built by the same toolchain.
func goTool() string {
	if p := filepath.Join(os.Getenv("GOROOT"), "bin", "go"); os.Getenv("GOROOT") != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}

// needBinaries skips under -short and fails when the build failed.
func needBinaries(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("process-level fault test: skipped with -short")
	}
	if bins.err != nil {
		t.Fatal(bins.err)
	}
}

// hit is one request the target received.
type hit struct {
	at     time.Time // wall and monotonic
	remote netip.AddrPort
}

// target is a counting HTTP target: it answers 200 at once and records
// when each request arrived and from which address.
type target struct {
	URL  string
	port uint16
	srv  *http.Server

	mu    sync.Mutex
	hits  []hit
	first chan struct{} // closed at the first request
	once  sync.Once
}

// newTarget serves on addr (ip:port; port 0 picks one) until the test
// ends.
func newTarget(t *testing.T, addr string) *target {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("target: %v", err)
	}
	tg := &target{hits: make([]hit, 0, 64<<10), first: make(chan struct{})}
	ap := netip.MustParseAddrPort(ln.Addr().String())
	tg.port = ap.Port()
	tg.URL = "http://" + ap.String()
	tg.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := hit{at: time.Now()}
			h.remote, _ = netip.ParseAddrPort(r.RemoteAddr)
			tg.mu.Lock()
			tg.hits = append(tg.hits, h)
			tg.mu.Unlock()
			tg.once.Do(func() { close(tg.first) })
			w.Write([]byte("ok\n"))
		}),
		ReadHeaderTimeout: 10 * time.Second,
		// Keep idle connections: TestStopAgent attributes requests to an
		// agent by the connections it held while it was stopped.
		IdleTimeout: 5 * time.Minute,
	}
	done := make(chan struct{})
	go func() { // ends when the server is closed in the cleanup
		defer close(done)
		tg.srv.Serve(ln)
	}()
	t.Cleanup(func() {
		tg.srv.Close()
		<-done
	})
	return tg
}

// snapshot returns a copy of the hits so far.
func (tg *target) snapshot() []hit {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return append([]hit(nil), tg.hits...)
}

// waitFirst waits for the first request, failing early if a watched
// process exits or ctx ends.
func (tg *target) waitFirst(ctx context.Context, t *testing.T, watch ...*proc) time.Time {
	t.Helper()
	for {
		select {
		case <-tg.first:
			return tg.snapshot()[0].at
		case <-ctx.Done():
			t.Fatalf("the target received no request: %v", ctx.Err())
		case <-time.After(100 * time.Millisecond):
			for _, p := range watch {
				if p.exited() {
					t.Fatalf("%s exited (%s) before the target received any request", p.name, p.state())
				}
			}
		}
	}
}

// writeScenario writes testdata/name with the target's URL into a
// temporary directory.
func writeScenario(t *testing.T, name, url string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(b), "TARGET_URL", url)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// proc is one process a test started. Its goroutine waiting for the
// process ends when the process does; the cleanup kills it (SIGCONT
// first, in case it is stopped) and waits.
type proc struct {
	name     string
	cmd      *exec.Cmd
	out, err string // paths of its stdout and stderr
	done     chan struct{}
}

// start runs argv[0] with argv[1:], its output in files of the test's
// temporary directory.
func start(t *testing.T, name string, argv ...string) *proc {
	t.Helper()
	dir := t.TempDir()
	p := &proc{name: name, out: filepath.Join(dir, name+".stdout"), err: filepath.Join(dir, name+".stderr"), done: make(chan struct{})}
	stdout, err := os.Create(p.out)
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(p.err)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Stdout, p.cmd.Stderr = stdout, stderr
	if err := p.cmd.Start(); err != nil {
		stdout.Close()
		stderr.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { // ends when the process exits
		p.cmd.Wait()
		stdout.Close()
		stderr.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			p.cmd.Process.Signal(syscall.SIGCONT)
			p.cmd.Process.Kill()
		}
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, p.cmd.Process.Pid)
		}
		if t.Failed() {
			t.Logf("%s %s\n--- stdout (tail):\n%s--- stderr (tail):\n%s", p.name, p.state(), tail(p.out), tail(p.err))
		}
	})
	return p
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// state says how the process ended, or that it runs.
func (p *proc) state() string {
	if !p.exited() {
		return fmt.Sprintf("(pid %d) still running", p.pid())
	}
	return fmt.Sprintf("(pid %d) %v", p.pid(), p.cmd.ProcessState)
}

func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%v %s: %v", sig, p.name, err)
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		t.Fatalf("%s did not exit within %v", p.name, d)
		return -1
	}
}

// tail is the last few KB of a file.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error() + "\n"
	}
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

// runner is how a test runs a process: the binary directly, or inside a
// network namespace.
type runner func(argv ...string) []string

func direct(argv ...string) []string { return argv }

var joinRE = regexp.MustCompile(`to join (\S+)`)

// startCoordinator starts `coordinator run` waiting for expect external
// agents and returns it with the gossip address agents join (read from
// its stderr, so that --gossip-listen may use port 0).
func startCoordinator(ctx context.Context, t *testing.T, in runner, scen, out string, expect int, gossipListen string, extra ...string) (*proc, string) {
	t.Helper()
	args := append([]string{bins.coordinator, "run", scen, "--expect", fmt.Sprint(expect), "--wait", "30s",
		"--gossip-listen", gossipListen, "--out", out, "-q", "--format", "json"}, extra...)
	c := start(t, "coordinator", in(args...)...)
	for {
		b, _ := os.ReadFile(c.err)
		if m := joinRE.FindSubmatch(b); m != nil {
			return c, string(m[1])
		}
		if c.exited() {
			t.Fatalf("coordinator exited %s before listening", c.state())
		}
		select {
		case <-ctx.Done():
			t.Fatalf("coordinator did not say where agents join: %v", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// startAgent starts one agent named name that joins join.
func startAgent(t *testing.T, in runner, name, join, ip string, extra ...string) *proc {
	t.Helper()
	args := append([]string{bins.agent, "--join", join, "--name", name,
		"--gossip-listen", ip + ":0", "--grpc-listen", ip + ":0", "--lease", lease.String()}, extra...)
	return start(t, name, in(args...)...)
}

// startAgents starts n loopback agents a1…an.
func startAgents(t *testing.T, join string, n int) []*proc {
	t.Helper()
	agents := make([]*proc, n)
	for i := range agents {
		agents[i] = startAgent(t, direct, fmt.Sprintf("a%d", i+1), join, "127.0.0.1")
	}
	return agents
}

// sleepUntil sleeps until at or ctx ends.
func sleepUntil(ctx context.Context, t *testing.T, at time.Time) {
	t.Helper()
	select {
	case <-time.After(time.Until(at)):
	case <-ctx.Done():
		t.Fatalf("deadline while waiting: %v", ctx.Err())
	}
}

// helpHas says whether a binary's help (for args, e.g. "run", "--help")
// lists flag.
func helpHas(t *testing.T, bin, flagName string, args ...string) bool {
	t.Helper()
	out, _ := exec.Command(bin, append(args, "--help")...).CombinedOutput()
	return regexp.MustCompile(`(?m)\s` + regexp.QuoteMeta(flagName) + `[\s=]`).Match(out)
}
