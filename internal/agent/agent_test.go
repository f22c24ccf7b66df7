package agent

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/surgeload/surge/internal/cluster"
	"github.com/surgeload/surge/internal/engine"
	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/internal/schedule"
	"github.com/surgeload/surge/internal/wire"
	surgev1 "github.com/surgeload/surge/proto/gen/surge/v1"
)

type client = grpc.BidiStreamingClient[surgev1.SessionRequest, surgev1.SessionResponse]

// startAgent starts an agent that joins nobody; tests dial its gRPC
// address directly, as a coordinator would after discovery.
func startAgent(t *testing.T, lease time.Duration) *Agent {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Name = "test-agent"
	cfg.Lease = lease
	a, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func dialSession(t *testing.T, a *Agent) client {
	t.Helper()
	s, _ := dialCancel(t, a)
	return s
}

func hello(version uint32) *surgev1.SessionRequest {
	return &surgev1.SessionRequest{Msg: &surgev1.SessionRequest_Hello{Hello: &surgev1.Hello{
		ProtocolVersion: version, CoordinatorName: "test-coordinator", CoordinatorTimeUnixNano: time.Now().UnixNano()}}}
}

func TestProtocolMismatchRefused(t *testing.T) {
	a := startAgent(t, 5*time.Second)
	s := dialSession(t, a)
	if err := s.Send(hello(wire.ProtocolVersion + 8)); err != nil {
		t.Fatal(err)
	}
	m, err := s.Recv()
	if err != nil {
		t.Fatal(err)
	}
	e := m.GetError()
	want := fmt.Sprintf("coordinator test-coordinator speaks protocol v%d, agent test-agent speaks v%d", wire.ProtocolVersion+8, wire.ProtocolVersion)
	if e == nil || e.GetCode() != surgev1.ErrorCode_ERROR_CODE_PROTOCOL_MISMATCH || !e.GetFatal() || !strings.Contains(e.GetMessage(), want) {
		t.Fatalf("answer to a newer version's hello = %v; want a fatal PROTOCOL_MISMATCH saying %q", m, want)
	}
	if _, err := s.Recv(); err == nil {
		t.Error("the stream stayed open after the mismatch")
	}
}

func TestHandshakeAndBusy(t *testing.T) {
	a := startAgent(t, 5*time.Second)
	s := dialSession(t, a)
	if err := s.Send(hello(wire.ProtocolVersion)); err != nil {
		t.Fatal(err)
	}
	m, err := s.Recv()
	if err != nil {
		t.Fatal(err)
	}
	rd := m.GetReady()
	if rd == nil || rd.GetAgentName() != "test-agent" || rd.GetProtocolVersion() != wire.ProtocolVersion || rd.GetReceiveTimeUnixNano() == 0 {
		t.Fatalf("answer to hello = %v; want ready", m)
	}
	// A second coordinator is refused while the first holds the session.
	s2 := dialSession(t, a)
	_ = s2.Send(hello(wire.ProtocolVersion))
	m2, err := s2.Recv()
	if err != nil || m2.GetError().GetCode() != surgev1.ErrorCode_ERROR_CODE_BUSY {
		t.Errorf("second session got %v, %v; want BUSY", m2, err)
	}
}

func assignment(t *testing.T, target string, rate float64, d time.Duration) *surgev1.Assign {
	t.Helper()
	s, err := schedule.NewConstant(schedule.Constant{Rate: rate, Duration: d}, schedule.Uniform)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(target)
	lim := engine.DefaultLimits()
	lim.Timeout, lim.Drain = 2*time.Second, 2*time.Second
	return wire.AssignToProto(wire.Assignment{RunID: "r", Epoch: 1, StageName: "s", Job: engine.Job{
		Target: u, Requests: []engine.Request{{Name: "get", Method: "GET", Path: "/"}},
		Schedule: s, Share: schedule.Share{Cycle: 1, Offsets: []uint32{0}}, End: s.Len(),
		Limits: lim, Interval: 100 * time.Millisecond, Geometry: metrics.DefaultGeometry(),
	}})
}

// TestLeaseExpiryStopsFiring: a coordinator that goes silent (no
// heartbeat, stream still open, as with a SIGSTOPped coordinator) must not
// leave load running.
//
// On a busy machine the agent may take a while to start firing, so the
// test heartbeats as a coordinator does until the target has seen the
// first request, and only then goes silent: the agent has fired by
// construction, and the lease (2 s, with heartbeats 50 ms apart) is far
// longer than any stall of the agent between two of them.
func TestLeaseExpiryStopsFiring(t *testing.T) {
	const lease = 2 * time.Second
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	a := startAgent(t, lease)
	s := dialSession(t, a)
	send := func(m *surgev1.SessionRequest) {
		if err := s.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	send(hello(wire.ProtocolVersion))
	if m, err := s.Recv(); err != nil || m.GetReady() == nil {
		t.Fatalf("hello: %v %v", m, err)
	}
	send(&surgev1.SessionRequest{Msg: &surgev1.SessionRequest_Assign{Assign: assignment(t, srv.URL, 100, time.Minute)}})
	if m, err := s.Recv(); err != nil || m.GetAccepted().GetOwnArrivals() != 6000 {
		t.Fatalf("assign: %v %v", m, err)
	}
	// T0 a second ahead, as a coordinator's lead: the agent refuses a
	// start whose first arrival fell due more than an interval ago, and
	// the Start message may take a while to be handled.
	send(&surgev1.SessionRequest{Msg: &surgev1.SessionRequest_Start{Start: &surgev1.Start{Epoch: 1, T0UnixNano: time.Now().Add(time.Second).UnixNano()}}})
	silent := make(chan struct{})
	go func() { // exits once the target saw a request, or when the stream breaks (the test's end cancels it)
		defer close(silent)
		for seq := uint64(1); hits.Load() == 0; seq++ {
			hb := &surgev1.Heartbeat{Seq: seq, CoordinatorTimeUnixNano: time.Now().UnixNano()}
			if err := s.Send(&surgev1.SessionRequest{Msg: &surgev1.SessionRequest_Heartbeat{Heartbeat: hb}}); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	// No heartbeat once firing started. Read until Done.
	var done *surgev1.Done
	for done == nil {
		m, err := s.Recv()
		if err != nil {
			t.Fatalf("stream ended before done: %v", err)
		}
		if e := m.GetError(); e != nil {
			t.Fatalf("agent error: %v", e)
		}
		done = m.GetDone()
	}
	<-silent
	if !strings.Contains(done.GetStopped(), "lease expired") {
		t.Errorf("done.stopped = %q; want lease expired", done.GetStopped())
	}
	// Firing stopped about a lease after the last heartbeat: far fewer
	// than the 6000 planned, and nothing more arrives afterwards.
	n := hits.Load()
	if n == 0 || n > 1000 {
		t.Errorf("target saw %d requests; want a lease's worth (about 200)", n)
	}
	time.Sleep(300 * time.Millisecond) // a lower bound: watching longer only makes the check stricter
	if later := hits.Load(); later != n {
		t.Errorf("target saw %d more requests after the lease expired", later-n)
	}
	if got := done.GetTotals().GetIssued(); int64(got) != n {
		t.Errorf("done reports %d issued; the target saw %d", got, n)
	}
}

func TestAssignRejected(t *testing.T) {
	a := startAgent(t, 5*time.Second)
	s := dialSession(t, a)
	_ = s.Send(hello(wire.ProtocolVersion))
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		target string
		code   surgev1.ErrorCode
	}{
		{"http://192.0.2.7:80", surgev1.ErrorCode_ERROR_CODE_TARGET_NOT_ALLOWED},
		{"http://127.0.0.1:1", surgev1.ErrorCode_ERROR_CODE_TARGET_UNREACHABLE},
	}
	for _, tt := range tests {
		_ = s.Send(&surgev1.SessionRequest{Msg: &surgev1.SessionRequest_Assign{Assign: assignment(t, tt.target, 10, time.Second)}})
		m, err := s.Recv()
		if err != nil || m.GetError().GetCode() != tt.code {
			t.Errorf("assign to %s: %v %v; want %v", tt.target, m, err, tt.code)
		}
	}
	bad := assignment(t, "http://127.0.0.1:1", 10, time.Second)
	bad.Share = nil
	_ = s.Send(&surgev1.SessionRequest{Msg: &surgev1.SessionRequest_Assign{Assign: bad}})
	if m, err := s.Recv(); err != nil || m.GetError().GetCode() != surgev1.ErrorCode_ERROR_CODE_INVALID_ASSIGNMENT {
		t.Errorf("malformed assign: %v %v; want INVALID_ASSIGNMENT", m, err)
	}
	// Start without an accepted assignment is refused, and nothing fires.
	_ = s.Send(&surgev1.SessionRequest{Msg: &surgev1.SessionRequest_Start{Start: &surgev1.Start{Epoch: 1, T0UnixNano: time.Now().UnixNano()}}})
	if m, err := s.Recv(); err != nil || m.GetError() == nil {
		t.Errorf("start without assignment: %v %v; want an error", m, err)
	}
}

// TestJoinsCoordinatorStartedLater: agents may start before their
// coordinator (a fleet's agents outlive the per-run coordinator Job); they
// keep trying their seeds until a coordinator is a member.
func TestJoinsCoordinatorStartedLater(t *testing.T) {
	// Find a free gossip port, then leave it unbound for a while.
	probe, err := cluster.Start(cluster.Config{Name: "probe", Listen: "127.0.0.1:0", Meta: cluster.Meta{Role: cluster.RoleCoordinator}})
	if err != nil {
		t.Fatal(err)
	}
	seed := probe.Addr()
	probe.Close()

	var logb lockedBuffer
	cfg := DefaultConfig()
	cfg.Name = "early-agent"
	cfg.Join = []string{seed}
	cfg.Log = &logb
	a, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start with an absent seed: %v", err)
	}
	defer a.Close()
	// The first join attempt fails: the agent says so (once) in its log.
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(logb.String(), "cannot join ["+seed+"] yet") {
		if time.Now().After(deadline) {
			t.Fatalf("the agent never reported its first failed join; log:\n%s", logb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	coord, err := cluster.Start(cluster.Config{Name: "late-coordinator", Listen: seed, Meta: cluster.Meta{Role: cluster.RoleCoordinator, Protocol: wire.ProtocolVersion}})
	if err != nil {
		t.Skipf("the freed port was taken meanwhile: %v", err)
	}
	defer coord.Close()
	deadline = time.Now().Add(15 * time.Second)
	for len(coord.Members()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the agent never joined the coordinator that started after it")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if m := coord.Members()[0]; m.Name != "early-agent" || m.Meta.GRPC != a.GRPCAddr() {
		t.Errorf("member %+v; want early-agent at %s", m, a.GRPCAddr())
	}
}

// lockedBuffer is a bytes.Buffer safe for the agent's goroutines.
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

// TestJoinFailureLoggedPerReason: an agent whose seed holds another gossip
// key says so, and says again when the reason changes (the seed went
// away), instead of only ever reporting its first failure — and without
// memberlist's own lines.
func TestJoinFailureLoggedPerReason(t *testing.T) {
	seed, err := cluster.Start(cluster.Config{Name: "other-cluster", Listen: "127.0.0.1:0", SecretKey: bytes.Repeat([]byte{1}, 32),
		Meta: cluster.Meta{Role: cluster.RoleCoordinator, Protocol: wire.ProtocolVersion}})
	if err != nil {
		t.Fatal(err)
	}
	defer seed.Close()
	var logb lockedBuffer
	cfg := DefaultConfig()
	cfg.Name = "keyed-agent"
	cfg.Join = []string{seed.Addr()}
	cfg.GossipKey = bytes.Repeat([]byte{2}, 32)
	cfg.Log = &logb
	a, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	waitLog := func(what string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !strings.Contains(logb.String(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("the agent never logged %q; log:\n%s", what, logb.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitLog("no installed keys could decrypt the message")
	seed.Close()
	waitLog("connection refused")
	out := logb.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	seen := map[string]bool{}
	for _, l := range lines {
		if seen[l] {
			t.Errorf("line %q logged twice", l)
		}
		seen[l] = true
	}
	if !strings.Contains(lines[0], "cannot join ["+seed.Addr()+"] yet") || !strings.Contains(out, "still cannot join") || strings.Contains(out, "memberlist") {
		t.Errorf("log:\n%s\nwant a line per reason of failing to join, none of memberlist's", out)
	}
}

// TestDefaultNameUnique: default names carry the host, the process id and
// 64 random bits, so 10,000 of them from one process never collide (the
// 16 bits they had collided for 2 of 50 agents on one host).
func TestDefaultNameUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 10000 {
		n := DefaultName()
		if seen[n] {
			t.Fatalf("DefaultName repeated %q", n)
		}
		seen[n] = true
	}
	host, _ := os.Hostname()
	if n := DefaultName(); !strings.HasPrefix(n, fmt.Sprintf("agent-%s-%d-", host, os.Getpid())) || len(n) != len(fmt.Sprintf("agent-%s-%d-", host, os.Getpid()))+16 {
		t.Errorf("DefaultName() = %q; want agent-HOST-PID-16 hex digits", n)
	}
}
