package scenario

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The values of the client block's enumerations. The first of each group
// is the default.
const (
	// ConnectionsKeepAlive reuses connections from a pool per target.
	ConnectionsKeepAlive = "keep-alive"
	// ConnectionsPerRequest opens a new connection for every request and
	// closes it after the response, so the target sees as many distinct
	// clients as requests (as a load balancer's edge does). HTTP/1.1 only.
	ConnectionsPerRequest = "per-request"

	// ProtocolHTTP1 is HTTP/1.1.
	ProtocolHTTP1 = "http/1.1"
	// ProtocolH2 is HTTP/2: by ALPN for https targets, prior-knowledge
	// cleartext (h2c) for http ones. It always uses Go's net/http client.
	ProtocolH2 = "h2"

	// ImplementationSurge is Surge's own HTTP/1.1 client.
	ImplementationSurge = "surge"
	// ImplementationNetHTTP is Go's net/http client.
	ImplementationNetHTTP = "net/http"

	// TimingDefault sleeps until an arrival is due (send lag about 1 ms).
	TimingDefault = "default"
	// TimingPrecise sleeps until shortly before an arrival, then spins to
	// it (send lag tens of µs, at the price of up to a core spinning).
	TimingPrecise = "precise"
)

// Bounds of the client block. They are the bounds agents enforce.
const (
	// MaxSourceAddresses bounds the source addresses of a client block,
	// after CIDR blocks are expanded to their hosts.
	MaxSourceAddresses = 4096
	// MaxFollowRedirects bounds client.follow_redirects.
	MaxFollowRedirects = 20
	// MaxClientTimeout bounds client.timeout, connect_timeout and
	// first_byte_timeout.
	MaxClientTimeout = Duration(time.Hour)
	// MaxConns bounds client.max_conns; MaxInFlight client.max_in_flight.
	MaxConns    = 1_000_000
	MaxInFlight = 1_000_000
	// MaxBody bounds client.max_body: 1 GiB.
	MaxBody Size = 1 << 30
)

// Client says how agents talk to a stage's target: how connections are
// made and used, which HTTP version and client code speak to it, how the
// pacer keeps time, and the per-request limits. It is the scenario's
// `client:` block, and optionally a stage's own (Stage.Client), which
// overrides the scenario's field by field (see Scenario.StageClient).
//
// Every field is a pointer (or, for SourceAddresses, a slice) so that a
// value written in the file — an explicit false or 0 included — can be
// told from an absent one: nil means "not set here". What no block sets
// takes its default: the one documented on the field, or for the limits
// (MaxConns, Timeout, MaxInFlight, MaxBody) the coordinator's command-line
// value. A limit the user sets explicitly on the command line overrides
// every block.
type Client struct {
	// Connections is "keep-alive" (the default: a pool of reused
	// connections per target) or "per-request" (a new connection for
	// every request, closed after it; HTTP/1.1 only).
	Connections *string `yaml:"connections" json:"connections,omitempty"`
	// MaxConns bounds the keep-alive pool: connections open to one target
	// at once, per agent. 0 means no bound (the default). With a bound, an
	// arrival that finds every connection busy waits for one, and the wait
	// counts in its response time.
	MaxConns *int `yaml:"max_conns" json:"max_conns,omitempty"`
	// Protocol is "http/1.1" (the default) or "h2".
	Protocol *string `yaml:"protocol" json:"protocol,omitempty"`
	// Implementation is the HTTP/1.1 client code: "surge" (the default,
	// Surge's own client) or "net/http" (Go's). HTTP/2 always uses
	// net/http.
	Implementation *string `yaml:"implementation" json:"implementation,omitempty"`
	// Timing is how the pacer meets each arrival's instant: "default"
	// (sleep; costs nothing idle, send lag about 1 ms) or "precise"
	// (sleep, then spin; send lag tens of µs, up to a core spinning).
	Timing *string `yaml:"timing" json:"timing,omitempty"`
	// InsecureSkipVerify accepts any TLS certificate from https targets.
	// Default false; setting it is warned about.
	InsecureSkipVerify *bool `yaml:"insecure_skip_verify" json:"insecure_skip_verify,omitempty"`
	// SourceAddresses are the local addresses new connections are made
	// from, in turn: IP addresses ("127.0.0.2", "::1") or CIDR blocks
	// ("127.0.1.0/30"), which stand for their host addresses (see
	// ExpandSourceAddresses). At most MaxSourceAddresses in all, after
	// expansion. nil means not set; an empty list in a stage means "none"
	// (the system picks, the default).
	SourceAddresses []string `yaml:"source_addresses" json:"source_addresses,omitzero"`
	// FollowRedirects is how many redirects a request follows, 0 to
	// MaxFollowRedirects. Default 0: a 3xx is the target's answer.
	FollowRedirects *int `yaml:"follow_redirects" json:"follow_redirects,omitempty"`
	// Timeout is the default total timeout of a request, from its actual
	// send to the end of the response body; a request's own timeout
	// (Request.Timeout) overrides it. > 0, at most 1h.
	Timeout *Duration `yaml:"timeout" json:"timeout,omitempty"`
	// ConnectTimeout bounds getting a connection: waiting for a pooled
	// one, dialling and the TLS handshake. Default min(timeout, 10s).
	ConnectTimeout *Duration `yaml:"connect_timeout" json:"connect_timeout,omitempty"`
	// FirstByteTimeout bounds the time from the actual send to the first
	// byte of the response. Default: only the total timeout applies.
	FirstByteTimeout *Duration `yaml:"first_byte_timeout" json:"first_byte_timeout,omitempty"`
	// MaxInFlight is the most requests outstanding at once, per agent; an
	// arrival that falls due at the cap is dropped and counted, never
	// delayed. 1 to MaxInFlight.
	MaxInFlight *int `yaml:"max_in_flight" json:"max_in_flight,omitempty"`
	// MaxBody is how much of each response body is read; the rest is
	// discarded unread and the response counted as truncated. 0 to 1GiB.
	MaxBody *Size `yaml:"max_body" json:"max_body,omitempty"`
	// CAFile names a PEM file of CA certificates: https targets are then
	// verified against these CAs only, not the system's (as curl's
	// --cacert). Relative to the scenario's directory and inside it (the
	// working directory for a scenario on stdin), or absolute.
	CAFile *string `yaml:"ca_file" json:"ca_file,omitempty"`
	// CertFile and KeyFile name the PEM files of a client certificate and
	// its private key, presented to https targets that ask for one
	// (mutual TLS). Both or neither, in the same block; paths as CAFile.
	CertFile *string `yaml:"cert_file" json:"cert_file,omitempty"`
	KeyFile  *string `yaml:"key_file" json:"key_file,omitempty"`
	// ServerName, when set, is the name sent in TLS's SNI and verified
	// in the target's certificate, instead of the URL's host (a target
	// reached by IP address, say).
	ServerName *string `yaml:"server_name" json:"server_name,omitempty"`

	// CAPEM, CertPEM and KeyPEM are the contents of CAFile, CertFile and
	// KeyFile: read and checked by Parse and Load (and by Validate, for a
	// Scenario built in code that names files but sets no contents), and
	// sent to the agents, which may run on other machines. They never go
	// into JSON or String.
	CAPEM   []byte `yaml:"-" json:"-"`
	CertPEM []byte `yaml:"-" json:"-"`
	KeyPEM  []byte `yaml:"-" json:"-"`
}

// MaxTLSFileSize bounds each of client.ca_file, cert_file and key_file.
const MaxTLSFileSize = 1 << 20

// clientFields is the table of the client block's fields, in the order of
// the struct: their YAML names and whether a block sets them. It drives
// the merge, String and the checks, so a new field is added in one place.
var clientFields = []struct {
	name string
	set  func(c *Client) bool
	// over copies the field from src into dst when src sets it.
	over func(dst, src *Client)
	// show formats a set value for String.
	show func(c *Client) string
}{
	{"connections", func(c *Client) bool { return c.Connections != nil },
		func(d, s *Client) { d.Connections = cloneIf(d.Connections, s.Connections) }, func(c *Client) string { return *c.Connections }},
	{"max_conns", func(c *Client) bool { return c.MaxConns != nil },
		func(d, s *Client) { d.MaxConns = cloneIf(d.MaxConns, s.MaxConns) }, func(c *Client) string { return strconv.Itoa(*c.MaxConns) }},
	{"protocol", func(c *Client) bool { return c.Protocol != nil },
		func(d, s *Client) { d.Protocol = cloneIf(d.Protocol, s.Protocol) }, func(c *Client) string { return *c.Protocol }},
	{"implementation", func(c *Client) bool { return c.Implementation != nil },
		func(d, s *Client) { d.Implementation = cloneIf(d.Implementation, s.Implementation) }, func(c *Client) string { return *c.Implementation }},
	{"timing", func(c *Client) bool { return c.Timing != nil },
		func(d, s *Client) { d.Timing = cloneIf(d.Timing, s.Timing) }, func(c *Client) string { return *c.Timing }},
	{"insecure_skip_verify", func(c *Client) bool { return c.InsecureSkipVerify != nil },
		func(d, s *Client) { d.InsecureSkipVerify = cloneIf(d.InsecureSkipVerify, s.InsecureSkipVerify) },
		func(c *Client) string { return strconv.FormatBool(*c.InsecureSkipVerify) }},
	{"source_addresses", func(c *Client) bool { return c.SourceAddresses != nil },
		func(d, s *Client) {
			if s.SourceAddresses != nil {
				d.SourceAddresses = append([]string{}, s.SourceAddresses...)
			}
		},
		func(c *Client) string {
			q := make([]string, len(c.SourceAddresses))
			for i, a := range c.SourceAddresses {
				q[i] = a
				if strings.ContainsAny(a, ": ") { // IPv6: quoted, to stay valid YAML
					q[i] = strconv.Quote(a)
				}
			}
			return "[" + strings.Join(q, ", ") + "]"
		}},
	{"follow_redirects", func(c *Client) bool { return c.FollowRedirects != nil },
		func(d, s *Client) { d.FollowRedirects = cloneIf(d.FollowRedirects, s.FollowRedirects) },
		func(c *Client) string { return strconv.Itoa(*c.FollowRedirects) }},
	{"timeout", func(c *Client) bool { return c.Timeout != nil },
		func(d, s *Client) { d.Timeout = cloneIf(d.Timeout, s.Timeout) }, func(c *Client) string { return c.Timeout.String() }},
	{"connect_timeout", func(c *Client) bool { return c.ConnectTimeout != nil },
		func(d, s *Client) { d.ConnectTimeout = cloneIf(d.ConnectTimeout, s.ConnectTimeout) },
		func(c *Client) string { return c.ConnectTimeout.String() }},
	{"first_byte_timeout", func(c *Client) bool { return c.FirstByteTimeout != nil },
		func(d, s *Client) { d.FirstByteTimeout = cloneIf(d.FirstByteTimeout, s.FirstByteTimeout) },
		func(c *Client) string { return c.FirstByteTimeout.String() }},
	{"max_in_flight", func(c *Client) bool { return c.MaxInFlight != nil },
		func(d, s *Client) { d.MaxInFlight = cloneIf(d.MaxInFlight, s.MaxInFlight) },
		func(c *Client) string { return strconv.Itoa(*c.MaxInFlight) }},
	{"max_body", func(c *Client) bool { return c.MaxBody != nil },
		func(d, s *Client) { d.MaxBody = cloneIf(d.MaxBody, s.MaxBody) }, func(c *Client) string { return c.MaxBody.String() }},
	// A file's contents travel with its name: a block that names a file
	// brings what was read from it.
	{"ca_file", func(c *Client) bool { return c.CAFile != nil },
		func(d, s *Client) {
			if s.CAFile != nil {
				d.CAFile, d.CAPEM = cloneIf(nil, s.CAFile), cloneBytes(s.CAPEM)
			}
		}, func(c *Client) string { return strconv.Quote(*c.CAFile) }},
	{"cert_file", func(c *Client) bool { return c.CertFile != nil },
		func(d, s *Client) {
			if s.CertFile != nil {
				d.CertFile, d.CertPEM = cloneIf(nil, s.CertFile), cloneBytes(s.CertPEM)
			}
		}, func(c *Client) string { return strconv.Quote(*c.CertFile) }},
	{"key_file", func(c *Client) bool { return c.KeyFile != nil },
		func(d, s *Client) {
			if s.KeyFile != nil {
				d.KeyFile, d.KeyPEM = cloneIf(nil, s.KeyFile), cloneBytes(s.KeyPEM)
			}
		}, func(c *Client) string { return strconv.Quote(*c.KeyFile) }},
	{"server_name", func(c *Client) bool { return c.ServerName != nil },
		func(d, s *Client) { d.ServerName = cloneIf(d.ServerName, s.ServerName) }, func(c *Client) string { return strconv.Quote(*c.ServerName) }},
}

// cloneBytes copies b (nil stays nil).
func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// cloneIf returns a copy of src when it is set, else dst: the merged
// value never shares memory with either block.
func cloneIf[T any](dst, src *T) *T {
	if src == nil {
		if dst == nil {
			return nil
		}
		v := *dst
		return &v
	}
	v := *src
	return &v
}

// IsZero reports whether the block sets nothing.
func (c Client) IsZero() bool {
	for _, f := range clientFields {
		if f.set(&c) {
			return false
		}
	}
	return true
}

// Over returns c with every field that o sets replaced by o's value: o
// laid over c, field by field. Neither is changed, and the result shares
// no memory with them.
func (c Client) Over(o *Client) Client {
	var out Client
	for _, f := range clientFields {
		f.over(&out, &c)
		if o != nil {
			f.over(&out, o)
		}
	}
	return out
}

// StageClient returns the client settings of stage k: the scenario's
// client block with the stage's own block laid over it, field by field (a
// field the stage sets wins, even an explicit false or 0; a list replaces
// the scenario's list). Fields neither sets stay nil: they take the
// defaults of the command that runs the scenario.
func (s *Scenario) StageClient(k int) Client {
	return s.Client.Over(s.Stages[k].Client)
}

// String formats the fields the block sets as a YAML flow map, in the
// order of the struct: "{connections: per-request, max_conns: 64}". The
// empty block is "{}".
func (c Client) String() string {
	var parts []string
	for _, f := range clientFields {
		if f.set(&c) {
			parts = append(parts, f.name+": "+f.show(&c))
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// ConnectionsOr returns the block's values of the enumerations, or their
// defaults when the block does not set them.
func (c Client) ConnectionsOr() string { return valueOr(c.Connections, ConnectionsKeepAlive) }

// ProtocolOr is the protocol, or the default http/1.1.
func (c Client) ProtocolOr() string { return valueOr(c.Protocol, ProtocolHTTP1) }

// ImplementationOr is the implementation, or the default surge.
func (c Client) ImplementationOr() string { return valueOr(c.Implementation, ImplementationSurge) }

// TimingOr is the timing, or the default.
func (c Client) TimingOr() string { return valueOr(c.Timing, TimingDefault) }

func valueOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// ErrSourceAddress is matched by the errors of ParseSourceAddress and
// ExpandSourceAddresses.
var ErrSourceAddress = errors.New("invalid source address")

// ParseSourceAddress parses one entry of client.source_addresses: an IP
// address, or a CIDR block with no host bits set. It returns the block
// (a full-length prefix for an address). IPv4-mapped IPv6 addresses are
// taken as the IPv4 address; zones (fe80::1%eth0) are not supported.
func ParseSourceAddress(s string) (netip.Prefix, error) {
	const want = "want an IP address like 127.0.0.2 or a CIDR block like 127.0.1.0/30"
	t := strings.TrimSpace(s)
	var p netip.Prefix
	if strings.Contains(t, "%") {
		return p, fmt.Errorf("%w %q: zones are not supported", ErrSourceAddress, s)
	}
	if addr, bits, isBlock := strings.Cut(t, "/"); isBlock {
		a, err := netip.ParseAddr(addr)
		n, nerr := strconv.Atoi(bits)
		if err != nil || nerr != nil || bits != strconv.Itoa(n) || n < 0 || n > a.BitLen() {
			return p, fmt.Errorf("%w %q (%s)", ErrSourceAddress, s, want)
		}
		if a.Is4In6() {
			if n < 96 {
				return p, fmt.Errorf("%w %q: an IPv4-mapped block must be /96 or longer", ErrSourceAddress, s)
			}
			a, n = a.Unmap(), n-96
		}
		p = netip.PrefixFrom(a, n)
		if m := p.Masked(); m != p {
			return netip.Prefix{}, fmt.Errorf("%w %q: host bits are set (did you mean %s?)", ErrSourceAddress, s, m)
		}
	} else {
		a, err := netip.ParseAddr(t)
		if err != nil {
			return p, fmt.Errorf("%w %q (%s)", ErrSourceAddress, s, want)
		}
		a = a.Unmap()
		p = netip.PrefixFrom(a, a.BitLen())
	}
	// For a block, the network address stands for the block: a block is
	// all multicast or none of it, and 0.0.0.0/N is "this network".
	if err := usableSource(p.Addr()); err != nil {
		return netip.Prefix{}, fmt.Errorf("%w %q: %w", ErrSourceAddress, s, err)
	}
	return p, nil
}

// usableSource says why a connection cannot be made from a, or nil.
func usableSource(a netip.Addr) error {
	switch {
	case a.IsUnspecified():
		return errors.New("the unspecified address is not a source (leave source_addresses out to let the system pick)")
	case a.IsMulticast():
		return errors.New("a multicast address cannot be a source")
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return errors.New("the broadcast address cannot be a source")
	}
	return nil
}

// hosts returns the number of addresses of p that are hosts, and the
// first of them: every address of a block but its network address (and
// for IPv4 its broadcast address), except in /31, /32, /127 and /128
// blocks, whose addresses are all hosts (RFC 3021 and RFC 6164). ok is
// false when the count is over MaxSourceAddresses.
func hosts(p netip.Prefix) (first netip.Addr, n int, ok bool) {
	free := p.Addr().BitLen() - p.Bits()
	if free > 13 { // 16384 addresses or more: far over the bound, not counted
		return netip.Addr{}, 0, false
	}
	n = 1 << free
	first = p.Addr()
	if free > 1 {
		first = first.Next() // skip the network (or subnet-router anycast) address
		n--
		if p.Addr().Is4() {
			n-- // and the broadcast address
		}
	}
	return first, n, n <= MaxSourceAddresses
}

// ExpandSourceAddresses turns client.source_addresses into the addresses
// connections are made from: each address as written, each CIDR block
// expanded to its hosts (see hosts), in order. It fails on a bad entry,
// on more than MaxSourceAddresses addresses in all, and on an address
// listed twice (alone or inside blocks). nil gives nil.
func ExpandSourceAddresses(list []string) ([]netip.Addr, error) {
	if list == nil {
		return nil, nil
	}
	out := []netip.Addr{}
	seen := map[netip.Addr]int{}
	for i, s := range list {
		p, err := ParseSourceAddress(s)
		if err != nil {
			return nil, err
		}
		first, n, ok := hosts(p)
		if !ok || len(out)+n > MaxSourceAddresses {
			return nil, fmt.Errorf("%w: more than %d source addresses in all (at %q)", ErrSourceAddress, MaxSourceAddresses, s)
		}
		a := first
		for range n {
			if j, dup := seen[a]; dup {
				return nil, fmt.Errorf("%w: %s is listed twice (in %q and %q)", ErrSourceAddress, a, list[j], s)
			}
			seen[a] = i
			out = append(out, a)
			a = a.Next()
		}
	}
	return out, nil
}
