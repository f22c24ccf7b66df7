package engine

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseAllowlist(t *testing.T) {
	for _, tt := range []struct {
		specs []string
		want  string // String() of the result; "" when an error is wanted
		err   string // part of the error wanted
	}{
		{nil, "loopback only", ""},
		{[]string{}, "loopback only", ""},
		{[]string{"10.0.0.0/8"}, "10.0.0.0/8", ""},
		{[]string{"2001:DB8::/32"}, "2001:db8::/32", ""},
		{[]string{"192.0.2.7"}, "192.0.2.7/32", ""},
		{[]string{"2001:db8::1"}, "2001:db8::1/128", ""},
		{[]string{"::ffff:10.1.2.3"}, "10.1.2.3/32", ""},
		{[]string{"::ffff:10.0.0.0/104"}, "10.0.0.0/8", ""},
		{[]string{"0.0.0.0/0", "::/0"}, "0.0.0.0/0,::/0", ""},
		{[]string{"API.Example.COM."}, "api.example.com", ""},
		{[]string{"*.Example.com"}, "*.example.com", ""},
		{[]string{"*.test"}, "*.test", ""},
		{[]string{"a_b.example-1.com"}, "a_b.example-1.com", ""},
		{[]string{" 10.0.0.0/8 , *.example.com", "api.example.com"}, "10.0.0.0/8,*.example.com,api.example.com", ""},
		{[]string{"10.0.0.0/8", "10.0.0.0/8"}, "10.0.0.0/8", ""},

		{[]string{""}, "", "empty entry"},
		{[]string{"10.0.0.0/8,"}, "", "empty entry"},
		{[]string{"10.1.2.3/8"}, "", "did you mean 10.0.0.0/8"},
		{[]string{"10.0.0.0/33"}, "", "not a CIDR"},
		{[]string{"fe80::1%eth0"}, "", "zone"},
		{[]string{"*"}, "", "0.0.0.0/0"},
		{[]string{"*example.com"}, "", "only as a prefix"},
		{[]string{"api.*.com"}, "", "only as a prefix"},
		{[]string{"*.*.com"}, "", "only as a prefix"},
		{[]string{"*."}, "", "0.0.0.0/0"},
		{[]string{"*.."}, "", "no host name"},
		{[]string{"http://example.com"}, "", "a URL"},
		{[]string{"example.com:80"}, "", "a port"},
		{[]string{"a..b"}, "", "empty label"},
		{[]string{"-a.com"}, "", "'-'"},
		{[]string{"exa mple.com"}, "", "not allowed in a host name"},
		{[]string{"bücher.de"}, "", "xn--"},
		{[]string{"10.0.0"}, "", "looks like an IP"},
		{[]string{strings.Repeat("a", 64) + ".com"}, "", "label longer"},
		{[]string{strings.Repeat("a.", 127) + "com"}, "", "longer than 253"},
	} {
		a, err := ParseAllowlist(tt.specs)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ParseAllowlist(%q) = %v, %v; want an error containing %q", tt.specs, a, err, tt.err)
		case tt.err == "" && err != nil:
			t.Errorf("ParseAllowlist(%q) = %v", tt.specs, err)
		case tt.err == "" && a.String() != tt.want:
			t.Errorf("ParseAllowlist(%q) = %q; want %q", tt.specs, a.String(), tt.want)
		}
	}
}

// TestParseAllowlistReportsEveryBadSpec: one error per bad entry, each
// naming its position.
func TestParseAllowlistReportsEveryBadSpec(t *testing.T) {
	_, err := ParseAllowlist([]string{"10.0.0.0/8", "10.1.2.3/8", "ok.example.com", "*bad"})
	if err == nil {
		t.Fatal("ParseAllowlist accepted bad entries")
	}
	msg := err.Error()
	for _, want := range []string{`entry 2 "10.1.2.3/8"`, `entry 4 "*bad"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %s", msg, want)
		}
	}
	if strings.Contains(msg, "entry 1") || strings.Contains(msg, "entry 3") {
		t.Errorf("error %q mentions a good entry", msg)
	}
}

func TestAllowed(t *testing.T) {
	list := MustParseAllowlist("10.0.0.0/8", "2001:db8::/32", "api.example.com", "*.svc.example.com", "*.test")
	metaCIDR := MustParseAllowlist("169.254.0.0/16", "fd00:ec2::254", "*.test")
	for _, tt := range []struct {
		name  string
		a     *Allowlist
		host  string
		ip    string
		allow bool
	}{
		{"no list: loopback", nil, "", "127.0.0.1", true},
		{"no list: loopback v6", nil, "localhost", "::1", true},
		{"no list: loopback mapped", nil, "", "::ffff:127.0.0.2", true},
		{"no list: other", nil, "", "192.0.2.1", false},
		{"empty list: other", MustParseAllowlist(), "api.example.com", "192.0.2.1", false},
		{"list: loopback", list, "whatever", "127.0.0.1", true},

		{"CIDR v4", list, "", "10.9.8.7", true},
		{"CIDR v4 mapped", list, "", "::ffff:10.9.8.7", true},
		{"CIDR v4 outside", list, "", "11.0.0.1", false},
		{"CIDR v6", list, "", "2001:db8::5", true},
		{"CIDR v6 zone", list, "", "2001:db8::5%eth0", true},
		{"CIDR v6 outside", list, "", "2001:db9::5", false},

		{"exact host", list, "api.example.com", "192.0.2.1", true},
		{"exact host, case and dot", list, "API.Example.Com.", "192.0.2.1", true},
		{"exact host, v6", list, "api.example.com", "2001:db9::1", true},
		{"exact host is not a suffix", list, "x.api.example.com", "192.0.2.1", false},
		{"other host", list, "www.example.com", "192.0.2.1", false},
		{"wildcard one label", list, "a.svc.example.com", "192.0.2.1", true},
		{"wildcard two labels", list, "a.b.svc.example.com", "192.0.2.1", true},
		{"wildcard case", list, "A.SVC.Example.com", "192.0.2.1", true},
		{"wildcard not the apex", list, "svc.example.com", "192.0.2.1", false},
		{"wildcard not a longer label", list, "xsvc.example.com", "192.0.2.1", false},
		{"no host", list, "", "192.0.2.1", false},
		{"IP literal host matches no pattern", list, "192.0.2.1", "192.0.2.1", false},

		{"metadata via host pattern", list, "meta.test", "169.254.169.254", false},
		{"link-local via host pattern", list, "meta.test", "169.254.1.1", false},
		{"metadata v6 via host pattern", list, "meta.test", "fd00:ec2::254", false},
		{"link-local v6 via host pattern", list, "meta.test", "fe80::1", false},
		{"link-local v6 zone via host pattern", list, "meta.test", "fe80::1%eth0", false},
		{"metadata mapped via host pattern", list, "meta.test", "::ffff:169.254.169.254", false},
		{"metadata NAT64 via host pattern", list, "meta.test", "64:ff9b::a9fe:a9fe", false},
		{"unspecified via host pattern", list, "meta.test", "0.0.0.0", false},
		{"unspecified v6 via host pattern", list, "meta.test", "::", false},
		{"other ULA via host pattern", list, "meta.test", "fd00:ec2::253", true},
		{"metadata via explicit CIDR", metaCIDR, "", "169.254.169.254", true},
		{"metadata via explicit CIDR and host", metaCIDR, "meta.test", "169.254.169.254", true},
		{"metadata v6 via explicit IP", metaCIDR, "meta.test", "fd00:ec2::254", true},
		{"link-local v6 not in the CIDR", metaCIDR, "meta.test", "fe80::1", false},
		{"invalid address", list, "api.example.com", "", false},
	} {
		var ip netip.Addr
		if tt.ip != "" {
			ip = netip.MustParseAddr(tt.ip)
		}
		if got := tt.a.Allowed(tt.host, ip); got != tt.allow {
			t.Errorf("%s: %v.Allowed(%q, %s) = %v; want %v", tt.name, tt.a, tt.host, tt.ip, got, tt.allow)
		}
	}
}

func TestAllowlistSpecsCopy(t *testing.T) {
	a := MustParseAllowlist("10.0.0.0/8", "*.test")
	s := a.Specs()
	s[0] = "0.0.0.0/0"
	if got := a.String(); got != "10.0.0.0/8,*.test" {
		t.Errorf("String after changing Specs() = %q; the allowlist changed", got)
	}
	if (*Allowlist)(nil).Specs() != nil || (*Allowlist)(nil).String() != "loopback only" {
		t.Error("nil Allowlist is not loopback only")
	}
}

func FuzzParseAllowlist(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "2001:db8::/32", "192.0.2.1", "*.example.com", "api.example.com.",
		"::ffff:10.0.0.0/104", "fe80::1%eth0", "*", "*.", "a..b", ",", "http://x", "10.1.2.3/8", "bücher.de"} {
		f.Add(s, "a.example.com", "192.0.2.1")
	}
	f.Fuzz(func(t *testing.T, spec, host, ip string) {
		a, err := ParseAllowlist([]string{spec})
		if err != nil {
			if a != nil {
				t.Errorf("ParseAllowlist(%q) returned an allowlist and an error", spec)
			}
			return
		}
		// The normalised form parses to itself.
		b, err := ParseAllowlist(a.Specs())
		if err != nil || b.String() != a.String() {
			t.Errorf("ParseAllowlist(%q) = %q, which parses to %v, %v", spec, a, b, err)
		}
		addr, err := netip.ParseAddr(ip)
		if err != nil {
			return
		}
		allowed := a.Allowed(host, addr)
		if addr.Unmap().IsLoopback() && !allowed {
			t.Errorf("%q.Allowed(%q, %s) = false for loopback", a, host, addr)
		}
		for _, d := range alwaysDenied {
			if d.p.Contains(addr.Unmap().WithZone("")) && allowed && !a.inPrefixes(addr) {
				t.Errorf("%q.Allowed(%q, %s) = true without a CIDR for an always-denied address", a, host, addr)
			}
		}
	})
}

// inPrefixes reports whether ip is in one of a's CIDRs.
func (a *Allowlist) inPrefixes(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	for _, p := range a.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
