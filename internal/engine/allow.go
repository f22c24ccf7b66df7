package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Allowlist says which targets an agent may send load to. It is an
// agent-side limit that no coordinator can override, checked at dial time
// for every address a name resolves to (so a DNS answer that changes
// between a preflight and the run cannot slip past it).
//
// It holds CIDRs ("10.0.0.0/8", "2001:db8::/32"; a bare IP is a /32 or a
// /128) and host patterns ("api.example.com" exactly, or "*.example.com":
// any name at least one label below example.com, not example.com itself).
// Host patterns are case-insensitive and a trailing dot is ignored; "*."
// as a prefix is the only wildcard.
//
// A dial of host, resolved to ip, is allowed when:
//   - ip is loopback (127.0.0.0/8, ::1): always, for tests and local
//     targets; or
//   - ip is in one of the CIDRs; or
//   - host matches one of the host patterns and ip is not in the
//     always-denied set: 0.0.0.0/8 and :: (unspecified, "this host"),
//     169.254.0.0/16 and fe80::/10 (link-local, where cloud metadata
//     services live: 169.254.169.254), fd00:ec2::254/128 (the AWS
//     metadata service over IPv6) and 64:ff9b::a9fe:0/112 (169.254.0.0/16
//     through NAT64). A name that resolves there — by mistake or by a
//     hostile DNS answer — is refused; only a CIDR that contains the
//     address allows it, as whoever writes 169.254.0.0/16 means it.
//
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are checked as the IPv4
// address they carry. A host that is an IP literal matches no host
// pattern. A nil or empty Allowlist allows loopback only.
//
// An Allowlist is immutable once parsed and safe for concurrent use.
type Allowlist struct {
	prefixes []netip.Prefix
	exact    map[string]bool // lower case, no trailing dot
	suffixes []string        // ".example.com" for "*.example.com"
	specs    []string        // the normalised specs, for String
}

// alwaysDenied are the addresses a host pattern never allows; see
// Allowlist.
var alwaysDenied = []struct {
	p    netip.Prefix
	what string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local, cloud metadata"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "cloud metadata"},
	{netip.MustParsePrefix("64:ff9b::a9fe:0/112"), "link-local through NAT64, cloud metadata"},
}

// Limits on an allowlist, so a hostile or mistaken flag cannot make every
// dial slow.
const (
	maxAllowSpecs   = 10_000
	maxHostnameLen  = 253
	maxHostLabelLen = 63
)

// ParseAllowlist parses allowlist specs: CIDRs, bare IPs and host patterns
// (see Allowlist). A spec may hold several, separated by commas. Every bad
// spec is reported, each with its position and why. No specs gives an
// empty Allowlist: loopback only.
func ParseAllowlist(specs []string) (*Allowlist, error) {
	a := &Allowlist{exact: map[string]bool{}}
	var errs []error
	seen := map[string]bool{}
	n := 0
	for i, spec := range specs {
		for _, s := range strings.Split(spec, ",") {
			n++
			if n > maxAllowSpecs {
				return nil, fmt.Errorf("allowlist: more than %d entries", maxAllowSpecs)
			}
			norm, err := a.add(strings.TrimSpace(s))
			if err != nil {
				errs = append(errs, fmt.Errorf("allowlist entry %d %q: %w", i+1, s, err))
				continue
			}
			if !seen[norm] {
				seen[norm] = true
				a.specs = append(a.specs, norm)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return a, nil
}

// MustParseAllowlist is ParseAllowlist for specs known to be good (tests,
// constants); it panics on a bad spec.
func MustParseAllowlist(specs ...string) *Allowlist {
	a, err := ParseAllowlist(specs)
	if err != nil {
		panic(err)
	}
	return a
}

// add parses one spec into a and returns its normalised form.
func (a *Allowlist) add(s string) (string, error) {
	switch {
	case s == "":
		return "", errors.New("empty entry")
	case strings.Contains(s, "://"):
		return "", errors.New("a URL; give the host name or address only")
	case strings.Contains(s, "/"):
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return "", fmt.Errorf("not a CIDR: %w", err)
		}
		if p != p.Masked() {
			return "", fmt.Errorf("host bits set; did you mean %s?", p.Masked())
		}
		p = unmapPrefix(p)
		a.prefixes = append(a.prefixes, p)
		return p.String(), nil
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		if ip.Zone() != "" {
			return "", errors.New("an address with a zone; give it without")
		}
		ip = ip.Unmap()
		p := netip.PrefixFrom(ip, ip.BitLen())
		a.prefixes = append(a.prefixes, p)
		return p.String(), nil
	}
	h := strings.TrimSuffix(strings.ToLower(s), ".")
	if h == "*" {
		return "", errors.New(`"*" alone is not allowed; to allow every address give 0.0.0.0/0 and ::/0`)
	}
	wild := strings.HasPrefix(h, "*.")
	name := strings.TrimPrefix(h, "*.")
	if err := checkHostname(name); err != nil {
		return "", err
	}
	if wild {
		a.suffixes = append(a.suffixes, "."+name)
		return "*." + name, nil
	}
	a.exact[name] = true
	return name, nil
}

// unmapPrefix turns a prefix of IPv4-mapped IPv6 addresses into the IPv4
// prefix it covers, since dialled addresses are checked unmapped.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

// checkHostname reports why name (lower case, without "*." or a trailing
// dot) is not a host name.
func checkHostname(name string) error {
	if name == "" {
		return errors.New("no host name")
	}
	if len(name) > maxHostnameLen {
		return fmt.Errorf("host name longer than %d characters", maxHostnameLen)
	}
	if strings.Contains(name, "*") {
		return errors.New(`"*." is allowed only as a prefix`)
	}
	if strings.Contains(name, ":") {
		return errors.New("not a host name, IP address or CIDR (a port is not allowed)")
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" {
			return errors.New("empty label in host name")
		}
		if len(l) > maxHostLabelLen {
			return fmt.Errorf("label longer than %d characters", maxHostLabelLen)
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("label %q starts or ends with '-'", l)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("character %q not allowed in a host name (give an international name in its xn-- form)", c)
			}
		}
	}
	if last := labels[len(labels)-1]; strings.Trim(last, "0123456789") == "" {
		return errors.New("looks like an IP address but is not one")
	}
	return nil
}

// Allowed reports whether a dial of host (the name being dialled, or ""
// when unknown) that resolved to ip may connect. See Allowlist for the
// rules. A nil Allowlist allows loopback only.
func (a *Allowlist) Allowed(host string, ip netip.Addr) bool {
	return a.decide(host, ip) == ""
}

// decide returns "" when the dial is allowed, or why not.
func (a *Allowlist) decide(host string, ip netip.Addr) string {
	ip = ip.Unmap().WithZone("")
	if !ip.IsValid() {
		return "not an IP address"
	}
	if ip.IsLoopback() {
		return ""
	}
	if a == nil || len(a.specs) == 0 {
		return "not loopback, and no allowlist is set (loopback only)"
	}
	for _, p := range a.prefixes {
		if p.Contains(ip) {
			return ""
		}
	}
	if !a.matchHost(host) {
		return "not in the allowlist"
	}
	for _, d := range alwaysDenied {
		if d.p.Contains(ip) {
			return fmt.Sprintf("in %s (%s): a host name never allows it, only a CIDR in the allowlist that contains it", d.p, d.what)
		}
	}
	return ""
}

// matchHost reports whether host matches a host pattern.
func (a *Allowlist) matchHost(host string) bool {
	if host == "" || (len(a.exact) == 0 && len(a.suffixes) == 0) {
		return false
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if _, err := netip.ParseAddr(host); err == nil {
		return false // an IP literal is checked against the CIDRs only
	}
	if a.exact[host] {
		return true
	}
	for _, s := range a.suffixes {
		if len(host) > len(s) && strings.HasSuffix(host, s) {
			return true
		}
	}
	return false
}

// Specs returns the allowlist's entries, normalised (CIDRs in canonical
// form, host names in lower case), in the order given, without duplicates.
func (a *Allowlist) Specs() []string {
	if a == nil {
		return nil
	}
	return append([]string(nil), a.specs...)
}

// String lists the entries, separated by commas; "loopback only" when
// there are none.
func (a *Allowlist) String() string {
	if a == nil || len(a.specs) == 0 {
		return "loopback only"
	}
	return strings.Join(a.specs, ",")
}
