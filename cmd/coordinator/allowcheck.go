package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/surgeload/surge/internal/engine"
	"github.com/surgeload/surge/scenario"
)

// resolveTimeout bounds the look-up of a stage's host name when checking
// it against the embedded agents' allowlist.
const resolveTimeout = 2 * time.Second

// resolver looks up a host name's addresses (net.DefaultResolver in the
// command; a table in tests).
type resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// targetsAllowed checks, before a run with embedded agents, that every
// stage URL is one the agents may load: loopback, or allowed by allow
// (the run's --allow-target). It returns one problem per stage that is
// not, each naming the flag that would allow it; the agents check again
// at every dial, after DNS, so this is about saying it early and clearly.
// A host name is looked up (bounded by resolveTimeout); one that cannot
// be resolved is left to the agents' own check before the stage starts.
// Requests with an absolute url of their own are checked at dial time
// only (they may be templates).
func targetsAllowed(ctx context.Context, sc *scenario.Scenario, allow *engine.Allowlist, r resolver) []string {
	var problems []string
	for _, st := range sc.Stages {
		if st.URL == "" {
			continue // a bundled topology runs on loopback
		}
		u, err := url.Parse(st.URL)
		if err != nil {
			continue // validation refused it already
		}
		host := u.Hostname()
		var addrs []netip.Addr
		if ip, err := netip.ParseAddr(host); err == nil {
			addrs = []netip.Addr{ip}
			host = ""
		} else {
			lctx, cancel := context.WithTimeout(ctx, resolveTimeout)
			addrs, err = r.LookupNetIP(lctx, "ip", host)
			cancel()
			if err != nil {
				continue
			}
		}
		for _, ip := range addrs {
			if allow.Allowed(host, ip) {
				continue
			}
			what := u.Hostname()
			if host != "" {
				what = fmt.Sprintf("%s (%s)", host, ip)
			}
			hint := "--allow-target " + suggestSpec(u.Hostname(), ip)
			if len(allow.Specs()) == 0 {
				problems = append(problems, fmt.Sprintf("stage %s: %s is not loopback, and the embedded agents load only loopback unless allowed: add %s", st.Name, what, hint))
			} else {
				problems = append(problems, fmt.Sprintf("stage %s: %s is not in --allow-target %s: add %s", st.Name, what, allow, hint))
			}
			break
		}
	}
	return problems
}

// suggestSpec is the --allow-target value that allows host at ip: the
// address itself for an IP literal, else the host name.
func suggestSpec(host string, ip netip.Addr) string {
	if _, err := netip.ParseAddr(host); err == nil || strings.Contains(host, ":") {
		return ip.Unmap().String()
	}
	return host
}

var _ resolver = net.DefaultResolver
