//go:build faults && linux

package faults

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestPartition cuts the coordinator off the network in the middle of a
// stage. The test builds its own network: a bridge in the root namespace
// (the target listens on the bridge's address), and one namespace each
// for the coordinator and two agents, joined to the bridge by veth pairs:
//
//	[ns coordinator] eth0 .2 ─┐
//	[ns agent a1]    eth0 .3 ─┼─ bridge .1 (root ns: counting target)
//	[ns agent a2]    eth0 .4 ─┘
//
// Load goes from the agents to the bridge address only. The cut is the
// root end of the coordinator's veth going down: the agents keep their
// path to the target but hear nothing more from the coordinator, so
// their leases must stop the load within lease + 1 s.
func TestPartition(t *testing.T) {
	needBinaries(t)
	if os.Geteuid() != 0 {
		t.Skip("TestPartition creates network namespaces: it needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("TestPartition needs iproute2's ip to create network namespaces")
	}
	if !helpHas(t, bins.agent, "--allow-target") {
		t.Fatal("the agent has no --allow-target flag: it cannot fire at a target off loopback (the flag is being added)")
	}
	// --insecure-allow-remote alone is accepted off loopback; --insecure
	// too where the binary knows it.
	var cInsecure, aInsecure []string
	if helpHas(t, bins.coordinator, "--insecure", "run") {
		cInsecure = append(cInsecure, "--insecure")
	}
	if helpHas(t, bins.agent, "--insecure") {
		aInsecure = append(aInsecure, "--insecure")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	n := newNetwork(t)
	coordNS, coordLink := n.join(t, "c", 2)
	nsA1, _ := n.join(t, "a1", 3)
	nsA2, _ := n.join(t, "a2", 4)

	tg := newTarget(t, n.ip(1)+":0")
	out := t.TempDir()
	coord, join := startCoordinator(ctx, t, inNS(coordNS), writeScenario(t, "long.yaml", tg.URL), out, 2, n.ip(2)+":7946",
		append(cInsecure, "--insecure-allow-remote")...)
	agentArgs := append(aInsecure, "--insecure-allow-remote", "--allow-target", n.subnet.String())
	agents := []*proc{
		startAgent(t, inNS(nsA1), "a1", join, n.ip(3), agentArgs...),
		startAgent(t, inNS(nsA2), "a2", join, n.ip(4), agentArgs...),
	}

	first := tg.waitFirst(ctx, t, append(agents, coord)...)
	sleepUntil(ctx, t, first.Add(5*time.Second))
	ipCmd(t, "link", "set", coordLink, "down")
	cut := time.Now()

	bound := cut.Add(lease + time.Second)
	sleepUntil(ctx, t, bound.Add(3*time.Second))
	hits := tg.snapshot()
	from := map[netip.Addr]int{}
	last := map[netip.Addr]time.Time{}
	for _, h := range hits {
		a := h.remote.Addr()
		if h.at.Before(cut) {
			from[a]++
		}
		if h.at.After(last[a]) {
			last[a] = h.at
		}
	}
	for i, a := range agents {
		ip := netip.MustParseAddr(n.ip(3 + i))
		t.Logf("%s (%s): %d requests before the cut; the last %v after it", a.name, ip, from[ip], last[ip].Sub(cut))
		if from[ip] == 0 {
			t.Errorf("%s sent nothing before the cut: the stage was not running on it", a.name)
		}
		if last[ip].After(bound) {
			t.Errorf("%s sent a request %v after the coordinator was cut off; want none later than %v (lease + 1s)", a.name, last[ip].Sub(cut), lease+time.Second)
		}
	}
	for ip := range from {
		if !n.subnet.Contains(ip) {
			t.Errorf("the target saw requests from %s, outside the test's network %s", ip, n.subnet)
		}
	}
	t.Logf("coordinator %s after the cut", coord.state())
}

// network is a bridge in the root namespace and the namespaces joined to
// it, all named with one random id and removed in the test's cleanup.
type network struct {
	id     string
	subnet netip.Prefix // a /24 of 10.251.0.0/16 no route on this machine uses
	bridge string
}

func newNetwork(t *testing.T) *network {
	t.Helper()
	b := make([]byte, 3)
	rand.Read(b)
	n := &network{id: hex.EncodeToString(b)}
	routes := ipOut(t, "-4", "route")
	for try := 0; ; try++ {
		k, _ := rand.Int(rand.Reader, big.NewInt(256))
		n.subnet = netip.MustParsePrefix(fmt.Sprintf("10.251.%d.0/24", k.Int64()))
		if !strings.Contains(routes, fmt.Sprintf("10.251.%d.", k.Int64())) {
			break
		}
		if try == 20 {
			t.Fatalf("no free /24 in 10.251.0.0/16 (routes:\n%s)", routes)
		}
	}
	n.bridge = "sfbr" + n.id
	t.Cleanup(func() { ipQuiet("link", "del", n.bridge) })
	ipCmd(t, "link", "add", n.bridge, "type", "bridge")
	ipCmd(t, "addr", "add", n.ip(1)+"/24", "dev", n.bridge)
	ipCmd(t, "link", "set", n.bridge, "up")
	t.Logf("network %s on bridge %s", n.subnet, n.bridge)
	return n
}

// ip is host address host of the subnet.
func (n *network) ip(host int) string {
	a := n.subnet.Addr().As4()
	a[3] = byte(host)
	return netip.AddrFrom4(a).String()
}

// join creates namespace sf<name>-<id> with eth0 at host address host,
// linked to the bridge by a veth whose root end it returns.
func (n *network) join(t *testing.T, name string, host int) (ns, link string) {
	t.Helper()
	ns, link = "sf"+name+"-"+n.id, "sf"+name+n.id
	// Deleting the namespace deletes its end of the veth, and so the pair.
	t.Cleanup(func() {
		ipQuiet("netns", "del", ns)
		ipQuiet("link", "del", link)
	})
	ipCmd(t, "netns", "add", ns)
	ipCmd(t, "link", "add", link, "type", "veth", "peer", "name", link+"p")
	ipCmd(t, "link", "set", link+"p", "netns", ns)
	ipCmd(t, "link", "set", link, "master", n.bridge, "up")
	ipCmd(t, "-n", ns, "link", "set", link+"p", "name", "eth0")
	ipCmd(t, "-n", ns, "addr", "add", n.ip(host)+"/24", "dev", "eth0")
	ipCmd(t, "-n", ns, "link", "set", "eth0", "up")
	ipCmd(t, "-n", ns, "link", "set", "lo", "up")
	return ns, link
}

// inNS runs a command in network namespace ns (ip netns exec execs it, so
// the process's pid is the command's).
func inNS(ns string) runner {
	return func(argv ...string) []string { return append([]string{"ip", "netns", "exec", ns}, argv...) }
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func ipOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ipQuiet is for cleanups: what is already gone is fine.
func ipQuiet(args ...string) { exec.Command("ip", args...).Run() }
