//go:build faults && linux

package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The blip tests: the coordinator↔agent streams break for less than the
// agents' lease — a network blackout of the coordinator, or the
// coordinator SIGSTOPped — while the agents keep their path to the
// target. With session resume the agents keep firing within their lease,
// buffer the snapshots the coordinator has not acknowledged, the
// coordinator redials and the agents replay: nothing is lost, the counts
// are exact and the run is valid (exit code 0).
//
// The agents run with their default lease (no --lease), since the
// promise is that the defaults survive a blip of a few seconds.

const (
	blipRate     = 1000.0           // blip.yaml's rate, per second
	blipDuration = 20 * time.Second // blip.yaml's duration
	blipAt       = 5 * time.Second  // the blip starts this long after the first request
)

// TestBlackout blacks out the coordinator's network for 2 s and for 4 s
// (past the coordinator's 3 s agent timeout, so it must redial) in the
// middle of a 1000/s stage played by four agents. The network is the one
// of TestPartition: a bridge in the root namespace (the counting target
// listens on its address) and one namespace each for the coordinator and
// four agents:
//
//	[ns coordinator] eth0 .2 ─┐
//	[ns agent a1]    eth0 .3 ─┤
//	[ns agent a2]    eth0 .4 ─┼─ bridge .1 (root ns: counting target)
//	[ns agent a3]    eth0 .5 ─┤
//	[ns agent a4]    eth0 .6 ─┘
//
// The blackout is two iptables DROP rules in the coordinator's namespace,
// on eth0 in and out: its packets vanish (no RST, no ICMP), as in a real
// network blip; the agents' path to the target is untouched. Removing the
// rules ends it.
func TestBlackout(t *testing.T) {
	needBinaries(t)
	if os.Geteuid() != 0 {
		t.Skip("TestBlackout creates network namespaces and iptables rules: it needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("TestBlackout needs iproute2's ip to create network namespaces (make faults installs it: scripts/install-faults-deps.sh)")
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("TestBlackout needs iptables to black out the coordinator (make faults installs it: scripts/install-faults-deps.sh)")
	}
	if !helpHas(t, bins.agent, "--allow-target") {
		t.Fatal("the agent has no --allow-target flag: it cannot fire at a target off loopback")
	}
	for _, d := range []time.Duration{2 * time.Second, 4 * time.Second} {
		t.Run(d.String(), func(t *testing.T) { testBlackout(t, d) })
	}
}

func testBlackout(t *testing.T, d time.Duration) {
	var cInsecure, aInsecure []string
	if helpHas(t, bins.coordinator, "--insecure", "run") {
		cInsecure = append(cInsecure, "--insecure")
	}
	if helpHas(t, bins.agent, "--insecure") {
		aInsecure = append(aInsecure, "--insecure")
	}
	logDefaultLease(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	n := newNetwork(t)
	coordNS, _ := n.join(t, "c", 2)
	const nAgents = 4
	agentNS := make([]string, nAgents)
	for i := range agentNS {
		agentNS[i], _ = n.join(t, fmt.Sprintf("a%d", i+1), 3+i)
	}
	// Deleting the namespace removes its rules too; this is for a test
	// that fails between inserting and deleting them.
	t.Cleanup(func() { blackout(nil, coordNS, false) })

	tg := newTarget(t, n.ip(1)+":0")
	out := t.TempDir()
	gossip := n.ip(2) + ":7946"
	coord, join := startCoordinator(ctx, t, inNS(coordNS), writeScenario(t, "blip.yaml", tg.URL), out, nAgents, gossip,
		append(cInsecure, "--insecure-allow-remote")...)
	agentArgs := append(aInsecure, "--insecure-allow-remote", "--allow-target", n.subnet.String())
	agents := make([]*proc, nAgents)
	for i := range agents {
		agents[i] = startAgentDefaultLease(t, inNS(agentNS[i]), fmt.Sprintf("a%d", i+1), join, n.ip(3+i), agentArgs...)
	}

	first := tg.waitFirst(ctx, t, append(agents, coord)...)
	// The harness's own check: the coordinator answers from the root
	// namespace before the blackout...
	if got := probe(gossip); got != "connected" {
		t.Fatalf("harness: before the blackout a TCP connect to the coordinator's gossip address %s: %s; want connected", gossip, got)
	}
	t.Logf("harness: before the blackout a TCP connect to the coordinator's gossip address %s: connected", gossip)
	sleepUntil(ctx, t, first.Add(blipAt))
	blackout(t, coordNS, true)
	black := time.Now()
	// ...and its packets vanish during it: a connect times out (no RST).
	if got := probe(gossip); got != "timeout" {
		t.Errorf("harness: during the blackout a TCP connect to the coordinator's gossip address %s: %s; want timeout (packets dropped)", gossip, got)
	} else {
		t.Logf("harness: during the blackout a TCP connect to the coordinator's gossip address %s: timeout (packets dropped, no RST)", gossip)
	}
	sleepUntil(ctx, t, black.Add(d))
	blackout(t, coordNS, false)
	restored := time.Now()
	t.Logf("blackout of the coordinator (ns %s) for %v, %v after the first request", coordNS, restored.Sub(black).Round(time.Millisecond), black.Sub(first).Round(time.Millisecond))

	code := coord.wait(t, 90*time.Second)
	hits := tg.snapshot()
	for _, h := range hits {
		if !n.subnet.Contains(h.remote.Addr()) {
			t.Errorf("the target saw a request from %s, outside the test's network %s", h.remote.Addr(), n.subnet)
			break
		}
	}
	// Past the coordinator's 3 s agent timeout the coordinator must have
	// redialled at least one agent.
	checkBlip(t, code, out, hits, black, restored, d > 3*time.Second)
}

// TestStopCoordinator SIGSTOPs the coordinator for 4 s (past its 3 s
// agent timeout) in the middle of a 1000/s stage played by four loopback
// agents, then SIGCONTs it. The agents' connections stay up (the kernel
// still acknowledges), but the coordinator reads nothing, sends no
// heartbeat and, once woken, finds every agent silent for 4 s: it must
// resume the sessions, not declare the agents lost.
func TestStopCoordinator(t *testing.T) {
	needBinaries(t)
	logDefaultLease(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	const d = 4 * time.Second
	tg := newTarget(t, "127.0.0.1:0")
	out := t.TempDir()
	coord, join := startCoordinator(ctx, t, direct, writeScenario(t, "blip.yaml", tg.URL), out, 4, "127.0.0.1:0")
	agents := make([]*proc, 4)
	for i := range agents {
		agents[i] = startAgentDefaultLease(t, direct, fmt.Sprintf("a%d", i+1), join, "127.0.0.1")
	}

	first := tg.waitFirst(ctx, t, append(agents, coord)...)
	sleepUntil(ctx, t, first.Add(blipAt))
	coord.signal(t, syscall.SIGSTOP)
	stopped := time.Now()
	// The cleanup SIGCONTs it too, should the test end before.
	sleepUntil(ctx, t, stopped.Add(d))
	coord.signal(t, syscall.SIGCONT)
	resumed := time.Now()
	t.Logf("coordinator (pid %d) stopped for %v, %v after the first request", coord.pid(), resumed.Sub(stopped).Round(time.Millisecond), stopped.Sub(first).Round(time.Millisecond))

	code := coord.wait(t, 90*time.Second)
	// The coordinator counts its own stall out of the agents' silence:
	// the streams survive, no resume is needed.
	checkBlip(t, code, out, tg.snapshot(), stopped, resumed, false)
}

// checkBlip checks a run that had one blip from from to to: exit code 0,
// nothing lost, no gap, counts exact and balanced, a valid verdict, every
// issued request at the target exactly once, and the agents firing at the
// full rate through the blip. With wantResume, at least one agent's
// session must have been resumed.
func checkBlip(t *testing.T, code int, out string, hits []hit, from, to time.Time, wantResume bool) {
	t.Helper()
	r, st := readReport(t, out)
	extra := readBlipExtra(t, out)
	if code != 0 {
		t.Errorf("coordinator exit code %d; want 0 (a blip shorter than the lease loses nothing: the run is valid)", code)
	}
	if r.Verdict != "pass" {
		t.Errorf("verdict %q; want \"pass\" (reasons: %q)", r.Verdict, extra.Reasons)
	}
	if st.Lost != 0 {
		t.Errorf("stage lost %d arrivals; want 0 (a blip shorter than the lease loses nothing)", st.Lost)
	}
	for _, g := range st.Gaps {
		t.Errorf("gap: agent %s (%s) last heard at %.3fs, detected lost at %.3fs, cut at %.3fs, lost %d; want no gap",
			g.Agent, g.Cause, g.LastHeardS, g.DetectedS, g.CutS, g.Lost)
	}
	if want := uint64(blipRate * blipDuration.Seconds()); st.Intended != want {
		t.Errorf("stage intended %d; want %d (%.0f/s for %v)", st.Intended, want, blipRate, blipDuration)
	}
	if st.Intended != st.Issued+st.Dropped {
		t.Errorf("stage: intended %d != issued %d + dropped %d (lost %d)", st.Intended, st.Issued, st.Dropped, st.Lost)
	}
	checkBalance(t, r, st)
	if len(r.Agents) != 4 {
		t.Errorf("report.json has %d agents; want 4", len(r.Agents))
	}

	// Every issued request reached the target exactly once; those in
	// flight at the end may or may not have.
	got := uint64(len(hits))
	t.Logf("the target saw %d requests; the report issued %d (in flight at the end %d, dropped %d)", got, st.Issued, st.InFlightAtEnd, st.Dropped)
	if got > st.Issued || got+st.InFlightAtEnd < st.Issued {
		t.Errorf("the target saw %d requests; the report issued %d (in flight at the end %d): want issued - in flight <= seen <= issued",
			got, st.Issued, st.InFlightAtEnd)
	}

	// The agents kept firing through the blip: at least 90% of the rate
	// over its window, and in every whole second from its start to 2 s
	// after its end.
	fromS, toS := stageS(st, from), stageS(st, to)
	var during int
	for _, h := range hits {
		if !h.at.Before(from) && h.at.Before(to) {
			during++
		}
	}
	want := 0.90 * blipRate * to.Sub(from).Seconds()
	t.Logf("blip from %.3fs to %.3fs of the stage: the target saw %d requests in it (%.0f/s)", fromS, toS, during, float64(during)/to.Sub(from).Seconds())
	if float64(during) < want {
		t.Errorf("during the blip (%.3fs to %.3fs) the target saw %d requests; want >= %.0f (90%% of %.0f/s): the agents stopped firing",
			fromS, toS, during, want, blipRate)
	}
	checkRecovery(t, hits, st, fromS, toS+2, blipRate, 0.90)

	// How many times the coordinator resumed each agent's session
	// (agents[].resumes, left out when 0).
	resumed := false
	for _, a := range extra.Agents {
		n := 0
		if a.Resumes != nil {
			n = *a.Resumes
		}
		t.Logf("agent %s: resumes %d", a.Name, n)
		resumed = resumed || n >= 1
	}
	if wantResume && !resumed {
		t.Errorf("no agent has resumes >= 1: the blip outlasted the coordinator's agent timeout, so it must have resumed a session")
	}
}

// blipExtra is what checkBlip reads from report.json beyond the shared
// report struct: the verdict's reasons and the agents' resume counts
// (agents[].resumes, left out when 0).
type blipExtra struct {
	Reasons []string `json:"verdict_reasons"`
	Agents  []struct {
		Name    string `json:"name"`
		Resumes *int   `json:"resumes"`
	} `json:"agents"`
}

func readBlipExtra(t *testing.T, dir string) blipExtra {
	t.Helper()
	var x blipExtra
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err == nil {
		err = json.Unmarshal(b, &x)
	}
	if err != nil {
		t.Fatalf("report.json: %v", err)
	}
	return x
}

// startAgentDefaultLease is startAgent without --lease: the agent runs
// with its default lease.
func startAgentDefaultLease(t *testing.T, in runner, name, join, ip string, extra ...string) *proc {
	t.Helper()
	args := append([]string{bins.agent, "--join", join, "--name", name,
		"--gossip-listen", ip + ":0", "--grpc-listen", ip + ":0"}, extra...)
	return start(t, name, in(args...)...)
}

var leaseDefaultRE = regexp.MustCompile(`--lease\s+\S+\s+[^\n]*\(default ([^)]+)\)`)

// logDefaultLease logs the agents' default lease, as their help says.
func logDefaultLease(t *testing.T) {
	t.Helper()
	help, _ := exec.Command(bins.agent, "--help").CombinedOutput()
	if m := leaseDefaultRE.FindSubmatch(help); m != nil {
		t.Logf("agents run with their default lease (no --lease): %s", m[1])
	} else {
		t.Logf("agents run with their default lease (no --lease); their help does not say what it is")
	}
}

// blackout inserts (on) or deletes the DROP rules on eth0 of namespace
// ns, in and out. With t nil (a cleanup) errors are ignored.
func blackout(t *testing.T, ns string, on bool) {
	op := "-D"
	if on {
		op = "-I"
	}
	for _, rule := range [][]string{{"INPUT", "-i"}, {"OUTPUT", "-o"}} {
		args := []string{"netns", "exec", ns, "iptables", "-w", "5", op, rule[0], rule[1], "eth0", "-j", "DROP"}
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil && t != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// probe tries a TCP connection to addr from this process (the root
// namespace) and says what happened: connected, refused, timeout, or the
// error.
func probe(addr string) string {
	c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	switch {
	case err == nil:
		c.Close()
		return "connected"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return "timeout"
		}
		return err.Error()
	}
}
