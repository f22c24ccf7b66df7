//go:build linux

package faults

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/surgeload/surge/internal/cluster"
	"github.com/surgeload/surge/internal/wire"
	surgev1 "github.com/surgeload/surge/proto/gen/surge/v1"
)

// TestTwoCoordinatorsOneFleet: two coordinators each wait for two agents
// (--expect 2), and both agents join both (which merges the gossip
// clusters). An agent serves one coordinator at a time, so at most one
// run plays, with the whole fleet; the other exits 3 before any load,
// naming the refusal. Never do both play with half the fleet.
func TestTwoCoordinatorsOneFleet(t *testing.T) {
	needBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	tg := newTarget(t, "127.0.0.1:0")
	scen := writeScenario(t, "brief.yaml", tg.URL)
	outA, outB := t.TempDir(), t.TempDir()
	// Who plays is the question, not how well: a busy machine's lateness
	// must not turn the player's exit code into 4.
	relaxed := []string{"--max-send-lag", "1s"}
	ca, joinA := startCoordinator(ctx, t, direct, scen, outA, 2, "127.0.0.1:0", relaxed...)
	cb, joinB := startCoordinator(ctx, t, direct, scen, outB, 2, "127.0.0.1:0", relaxed...)
	for _, name := range []string{"f1", "f2"} {
		startAgent(t, direct, name, joinA+","+joinB, "127.0.0.1")
	}
	codeA, codeB := ca.wait(t, 60*time.Second), cb.wait(t, 60*time.Second)
	t.Logf("coordinator A exited %d, B %d; the target saw %d requests", codeA, codeB, len(tg.snapshot()))
	played := 0
	for _, c := range []struct {
		code int
		p    *proc
		out  string
	}{{codeA, ca, outA}, {codeB, cb, outB}} {
		switch c.code {
		case 0:
			played++
			r, st := readReport(t, c.out)
			if len(r.Agents) != 2 || st.Succeeded != 200 {
				t.Errorf("the run that played had %d agents and %d successes; want both agents, 200", len(r.Agents), st.Succeeded)
			}
		case 3:
			if b, _ := os.ReadFile(c.p.err); !strings.Contains(string(b), "agents completed the handshake") {
				t.Errorf("a refused coordinator does not say why:\n%s", tail(c.p.err))
			}
		default:
			t.Errorf("coordinator exit code %d; want 0 (played with both agents) or 3 (refused before T0)", c.code)
		}
	}
	if played > 1 {
		t.Error("both coordinators played")
	}
	if n := len(tg.snapshot()); n > 200 {
		t.Errorf("the target saw %d requests; at most one run's 200", n)
	}
}

// TestRogueMemberGetsNoToken: in token mode, a gossip member that says it
// is an agent (this test's own gRPC server, recording every byte the
// coordinator sends it) is dialled and refused for failing the proof, and
// never sees the token; the real agent, which holds it, plays the run.
func TestRogueMemberGetsNoToken(t *testing.T) {
	needBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	certs := t.TempDir()
	if out, err := exec.Command(bins.coordinator, "certs", "init", "--dir", certs).CombinedOutput(); err != nil {
		t.Fatalf("certs init: %v\n%s", err, out)
	}
	token, err := os.ReadFile(filepath.Join(certs, "token"))
	if err != nil {
		t.Fatal(err)
	}
	token = bytes.TrimSpace(token)
	tokenFlag := []string{"--token-file", filepath.Join(certs, "token")}

	tg := newTarget(t, "127.0.0.1:0")
	out := t.TempDir()
	coord, join := startCoordinator(ctx, t, direct, writeScenario(t, "brief.yaml", tg.URL), out, 2, "127.0.0.1:0",
		append([]string{"--min-agents", "1", "--max-send-lag", "1s"}, tokenFlag...)...)
	rogue := startRogue(t, join)
	startAgent(t, direct, "honest", join, "127.0.0.1", tokenFlag...)

	if code := coord.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("coordinator exit code %d; want 0 (the honest agent plays, the rogue is refused)", code)
	}
	r, st := readReport(t, out)
	if len(r.Agents) != 1 || r.Agents[0].Name != "honest" || st.Succeeded != 200 {
		t.Errorf("agents %+v, succeeded %d; want the honest agent alone, 200", r.Agents, st.Succeeded)
	}
	if w := strings.Join(r.Warnings, "\n"); !strings.Contains(w, "rogue did not prove it holds the shared token") {
		t.Errorf("the report's warnings do not say the rogue was refused:\n%s", w)
	}
	got := rogue.received()
	if len(got) == 0 {
		t.Fatal("the rogue was never dialled: the test proves nothing")
	}
	if bytes.Contains(got, token) {
		t.Errorf("the rogue received the token")
	}
}

// rogue is a gossip member posing as an agent: a Session server that
// answers Hello with Ready (no proof: it has no token) and records every
// message and header it gets.
type rogue struct {
	surgev1.UnimplementedAgentServiceServer
	mu  sync.Mutex
	got bytes.Buffer
}

func (r *rogue) received() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.got.Bytes())
}

func (r *rogue) record(s string) {
	r.mu.Lock()
	r.got.WriteString(s)
	r.got.WriteByte('\n')
	r.mu.Unlock()
}

func (r *rogue) Session(stream surgev1.AgentService_SessionServer) error {
	if md, ok := metadataOf(stream); ok {
		r.record(md)
	}
	for {
		m, err := stream.Recv()
		if err != nil {
			return nil
		}
		r.record(m.String())
		if h := m.GetHello(); h != nil {
			_ = stream.Send(&surgev1.SessionResponse{Msg: &surgev1.SessionResponse_Ready{Ready: &surgev1.Ready{
				ProtocolVersion: wire.ProtocolVersion, AgentName: "rogue", EchoCoordinatorTimeUnixNano: h.GetCoordinatorTimeUnixNano(),
				ReceiveTimeUnixNano: time.Now().UnixNano(), SendTimeUnixNano: time.Now().UnixNano(), Cores: 1,
				LeaseNanos: int64(lease), AuthNonce: bytes.Repeat([]byte{7}, 32)}}})
		}
	}
}

// startRogue serves the rogue on loopback and joins it to gossip at join
// as an agent.
func startRogue(t *testing.T, join string) *rogue {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &rogue{}
	srv := grpc.NewServer()
	surgev1.RegisterAgentServiceServer(srv, r)
	go srv.Serve(ln) // ends at Stop
	t.Cleanup(srv.Stop)
	n, err := cluster.Start(cluster.Config{Name: "rogue", Listen: "127.0.0.1:0",
		Meta: cluster.Meta{Role: cluster.RoleAgent, GRPC: ln.Addr().String(), Protocol: wire.ProtocolVersion, Cores: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	if _, err := n.Join([]string{join}); err != nil {
		t.Fatalf("rogue join: %v", err)
	}
	return r
}

// metadataOf is the stream's request headers, as text.
func metadataOf(stream grpc.ServerStream) (string, bool) {
	md, ok := metadata.FromIncomingContext(stream.Context())
	if !ok {
		return "", false
	}
	var b strings.Builder
	for k, vs := range md {
		b.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
	}
	return b.String(), true
}
