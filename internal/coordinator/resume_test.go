package coordinator

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/agent"
	"github.com/surgeload/surge/internal/testnet"
	"github.com/surgeload/surge/reporters"
)

// proxiedAgent is an agent the coordinator reaches only through a proxy
// the test can break.
func proxiedAgent(t *testing.T, name string, lease time.Duration) (agent.Config, *testnet.Proxy) {
	// The agent's gRPC port is fixed before it starts so the proxy can
	// point at it and the agent advertise the proxy.
	grpcAddr := freeAddr(t)
	p := testnet.NewProxy(t, grpcAddr)
	ac := fleetAgent(name)
	ac.GRPCListen, ac.AdvertiseGRPC = grpcAddr, p.Addr()
	if lease > 0 {
		ac.Lease = lease
	}
	return ac, p
}

// freeAddr is a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	return lis.Addr().String()
}

// resumeConfig is testConfig for the resume tests: what they judge is the
// accounting, so the send-lag bound of the verdict is out of a busy
// machine's reach.
func resumeConfig(t *testing.T) Config {
	cfg := testConfig(0)
	cfg.Log = newTestLog(t)
	cfg.MaxSendLag = time.Second
	return cfg
}

// countingTarget counts requests and calls at(n) at every one.
func countingTarget(t *testing.T, at func(n int64)) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if at != nil {
			at(hits.Add(1))
		} else {
			hits.Add(1)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// checkNothingLost asserts a run that rode out a blip: no error, nothing
// lost, no gap, counts balanced, the target saw what was issued, and the
// proxied agent's session was resumed.
func checkNothingLost(t *testing.T, rep *reporters.Report, err error, hits int64, resumed string) {
	t.Helper()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if cerr := rep.Check(); cerr != nil {
		t.Fatalf("report does not balance: %v", cerr)
	}
	st := rep.Stages[0]
	if st.Lost != 0 || len(st.Gaps) != 0 || st.Intended != 600 || st.Intended != st.Issued+st.Dropped {
		t.Errorf("intended %d issued %d dropped %d lost %d gaps %+v; want 600 reached, none lost", st.Intended, st.Issued, st.Dropped, st.Lost, st.Gaps)
	}
	if uint64(hits) != st.Issued {
		t.Errorf("target saw %d requests; report says %d issued", hits, st.Issued)
	}
	if rep.Verdict != reporters.VerdictPass {
		t.Errorf("verdict %s %v; want pass", rep.Verdict, rep.Reasons)
	}
	for _, a := range rep.Agents {
		if a.Name == resumed && a.Resumes == 0 {
			t.Errorf("agent %s: resumes 0; want its session resumed", a.Name)
		}
	}
	found := false
	for _, w := range rep.Warnings {
		found = found || strings.Contains(w, resumed) && strings.Contains(w, "resumed")
	}
	if !found {
		t.Errorf("no warning says %s's session was resumed: %q", resumed, rep.Warnings)
	}
}

// TestResumeAfterStreamCut: the connection to one of two agents is cut
// (both ends see it closed) a third into the stage. The agent fires on
// within its lease, the coordinator redials, and the agent sends again
// what the coordinator had not acknowledged: nothing lost, exact counts.
func TestResumeAfterStreamCut(t *testing.T) {
	ac, p := proxiedAgent(t, "fleet-0", 0)
	srv, hits := countingTarget(t, func(n int64) {
		if n == 200 {
			go p.Cut()
		}
	})
	cfg := resumeConfig(t)
	startFleet(t, &cfg, ac, fleetAgent("fleet-1"))
	rep, err := Run(context.Background(), cfg, mustScenario(t, srv.URL, "100", "6s"))
	checkNothingLost(t, rep, err, hits.Load(), "fleet-0")
}

// TestResumeAfterSilence: all traffic to one agent is held (a link that
// drops packets: nothing closes) for longer than the agent timeout. The
// coordinator takes the silence for a broken stream and redials, which
// succeeds once the link is back, within the agent's lease.
func TestResumeAfterSilence(t *testing.T) {
	ac, p := proxiedAgent(t, "fleet-0", 0)
	srv, hits := countingTarget(t, func(n int64) {
		if n == 200 {
			p.Hold()
			time.AfterFunc(4*time.Second, p.Release)
		}
	})
	cfg := resumeConfig(t)
	cfg.AgentTimeout = 2 * time.Second
	startFleet(t, &cfg, ac, fleetAgent("fleet-1"))
	rep, err := Run(context.Background(), cfg, mustScenario(t, srv.URL, "100", "6s"))
	checkNothingLost(t, rep, err, hits.Load(), "fleet-0")
}

// TestNotResumedWithinLease: the link to one agent is held far past its
// lease. The agent stops firing when the lease runs out; the coordinator
// declares it lost once it could not resume it within the lease, and the
// survivor takes its share over from a cut after that. The report bounds
// what the lost agent sent and never reported, and the target's count
// falls within those bounds.
func TestNotResumedWithinLease(t *testing.T) {
	const lease = 2 * time.Second
	ac, p := proxiedAgent(t, "fleet-0", lease)
	srv, hits := countingTarget(t, func(n int64) {
		if n == 150 {
			p.Hold()
		}
	})
	cfg := resumeConfig(t)
	cfg.AgentTimeout = time.Second
	startFleet(t, &cfg, ac, fleetAgent("fleet-1"))
	rep, err := Run(context.Background(), cfg, mustScenario(t, srv.URL, "100", "6s"))
	p.Release()
	if err == nil || rep == nil {
		t.Fatalf("Run = %v; want a report and an error for the lost agent", err)
	}
	if cerr := rep.Check(); cerr != nil {
		t.Fatalf("report does not balance: %v", cerr)
	}
	st := rep.Stages[0]
	if len(st.Gaps) != 1 || st.Gaps[0].Agent != "fleet-0" {
		t.Fatalf("gaps %+v; want fleet-0's", st.Gaps)
	}
	g := st.Gaps[0]
	if g.Cause != causeSilent {
		t.Errorf("gap cause %q; want %q", g.Cause, causeSilent)
	}
	if g.CutS < g.LastHeardS+lease.Seconds() {
		t.Errorf("cut at %.3fs, last heard %.3fs: before the lease (%v) could have run out", g.CutS, g.LastHeardS, lease)
	}
	if g.SentUnreported == 0 || g.SentUnreported > g.Lost || g.SentUnreportedMin > g.SentUnreported || st.SentUnreported != g.SentUnreported {
		t.Errorf("gap %+v, stage sent_unreported %d; want 0 < min <= sent_unreported <= lost", g, st.SentUnreported)
	}
	// What the target saw beyond the report's issued is what the lost
	// agent sent after its last report: within the bounds.
	extra := uint64(hits.Load()) - min(uint64(hits.Load()), st.Issued)
	t.Logf("target saw %d, issued %d: %d unreported; bounds [%d, %d], lost %d", hits.Load(), st.Issued, extra, g.SentUnreportedMin, g.SentUnreported, g.Lost)
	if extra < g.SentUnreportedMin || extra > g.SentUnreported {
		t.Errorf("the target saw %d requests beyond the %d issued; want within [%d, %d]", extra, st.Issued, g.SentUnreportedMin, g.SentUnreported)
	}
}
