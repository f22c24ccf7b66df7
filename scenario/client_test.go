package scenario

import (
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

// TestClientFull reads the client blocks of testdata/full.yaml: every
// field at the top, and a stage that overrides some of them with explicit
// zero values, which must win over the top-level ones.
func TestClientFull(t *testing.T) {
	s, err := Load("testdata/full.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	top := Client{
		Connections: ptr(ConnectionsKeepAlive), MaxConns: ptr(64), Protocol: ptr(ProtocolHTTP1),
		Implementation: ptr(ImplementationSurge), Timing: ptr(TimingPrecise), InsecureSkipVerify: ptr(false),
		SourceAddresses: []string{"127.0.0.2", "127.0.0.3", "127.0.1.0/30"}, FollowRedirects: ptr(2),
		Timeout: ptr(Duration(10 * time.Second)), ConnectTimeout: ptr(Duration(2 * time.Second)),
		FirstByteTimeout: ptr(Duration(5 * time.Second)), MaxInFlight: ptr(20000), MaxBody: ptr(Size(1 << 20)),
	}
	if !reflect.DeepEqual(s.Client, top) {
		t.Errorf("Client = %v; want %v", s.Client, top)
	}
	own := &Client{Connections: ptr(ConnectionsPerRequest), FollowRedirects: ptr(0), MaxConns: ptr(0)}
	if !reflect.DeepEqual(s.Stages[0].Client, own) || s.Stages[1].Client != nil {
		t.Errorf("stage clients = %v, %v; want %v, nil", s.Stages[0].Client, s.Stages[1].Client, own)
	}
	want0 := top
	want0.Connections, want0.FollowRedirects, want0.MaxConns = own.Connections, own.FollowRedirects, own.MaxConns
	if got := s.StageClient(0); !reflect.DeepEqual(got, want0) {
		t.Errorf("StageClient(0) = %v; want %v", got, want0)
	}
	if got := s.StageClient(1); !reflect.DeepEqual(got, top) {
		t.Errorf("StageClient(1) = %v; want %v", got, top)
	}
	// The merged value shares no memory with the blocks.
	m := s.StageClient(0)
	*m.Timeout, m.SourceAddresses[0] = 0, "changed"
	if *s.Client.Timeout != Duration(10*time.Second) || s.Client.SourceAddresses[0] != "127.0.0.2" {
		t.Errorf("changing StageClient's result changed the scenario: %v", s.Client)
	}
	for _, tt := range []struct {
		path      string
		line, col int
	}{
		{"stages[0].client.connections", 7, 27},
		{"stages[0].client.max_conns", 7, 72},
		{"client.source_addresses[2]", 72, 44},
		{"client.max_body", 78, 13},
	} {
		if l, c, ok := s.Position(tt.path); !ok || l != tt.line || c != tt.col {
			t.Errorf("Position(%q) = %d:%d, %v; want %d:%d", tt.path, l, c, ok, tt.line, tt.col)
		}
	}
	if got, want := s.StageClient(0).String(), "{connections: per-request, max_conns: 0, protocol: http/1.1, implementation: surge, timing: precise, "+
		"insecure_skip_verify: false, source_addresses: [127.0.0.2, 127.0.0.3, 127.0.1.0/30], follow_redirects: 0, timeout: 10s, "+
		"connect_timeout: 2s, first_byte_timeout: 5s, max_in_flight: 20000, max_body: 1MiB}"; got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
}

// TestClientMerge pins the field-wise merge: a stage's set field wins, an
// explicit empty list clears the scenario's, and a stage without a block
// plays the scenario's block as it is.
func TestClientMerge(t *testing.T) {
	src := "name: m\nstages:\n" +
		"  - {bundled: echo}\n" +
		"  - {bundled: echo, name: b, client: {source_addresses: [], insecure_skip_verify: false, timeout: 1s}}\n" +
		"  - {bundled: echo, name: c, client: {}}\n" +
		validRequests + validLoad +
		"client: {source_addresses: [127.0.0.2], insecure_skip_verify: true, timing: precise}\n"
	s, err := Parse("x.yaml", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		k    int
		want string
	}{
		{0, "{timing: precise, insecure_skip_verify: true, source_addresses: [127.0.0.2]}"},
		{1, "{timing: precise, insecure_skip_verify: false, source_addresses: [], timeout: 1s}"},
		{2, "{timing: precise, insecure_skip_verify: true, source_addresses: [127.0.0.2]}"},
	}
	for _, tt := range tests {
		if got := s.StageClient(tt.k).String(); got != tt.want {
			t.Errorf("StageClient(%d) = %s; want %s", tt.k, got, tt.want)
		}
	}
	if addrs, err := ExpandSourceAddresses(s.StageClient(1).SourceAddresses); err != nil || addrs == nil || len(addrs) != 0 {
		t.Errorf("ExpandSourceAddresses([]) = %v, %v; want an empty, non-nil list", addrs, err)
	}
	if (Client{}).Over(nil).IsZero() != true || (Client{SourceAddresses: []string{}}).IsZero() {
		t.Error("IsZero: the empty block is zero; a block with an empty list is not")
	}
	var none Scenario
	none.Stages = []Stage{{Bundled: "echo"}}
	if c := none.StageClient(0); !c.IsZero() || c.ConnectionsOr() != ConnectionsKeepAlive || c.ProtocolOr() != ProtocolHTTP1 ||
		c.ImplementationOr() != ImplementationSurge || c.TimingOr() != TimingDefault {
		t.Errorf("StageClient of a scenario without client blocks = %v with defaults %s %s %s %s", c,
			c.ConnectionsOr(), c.ProtocolOr(), c.ImplementationOr(), c.TimingOr())
	}
}

// TestClientProblems checks every problem of a client block, with its
// position, and the warnings.
func TestClientProblems(t *testing.T) {
	head := "name: a\n" + validRequests + validLoad // the stages come next, on line 4
	tests := []struct {
		name  string
		src   string
		want  []string
		warns []string
	}{
		{
			name: "enums",
			src:  validStages + "client: {connections: pooled, protocol: http/2, implementation: fasthttp, timing: fast}\n",
			want: []string{
				`x.yaml:5:23: unknown connections "pooled" (want keep-alive or per-request)`,
				`x.yaml:5:41: unknown protocol "http/2" (want http/1.1 or h2)`,
				`x.yaml:5:65: unknown implementation "fasthttp" (want surge or net/http)`,
				`x.yaml:5:83: unknown timing "fast" (want default or precise)`,
			},
		},
		{
			name: "types and unknown keys",
			src: validStages + "client:\n  max_conns: '64'\n  insecure_skip_verify: yes\n  source_addresses: 127.0.0.2\n" +
				"  timeout: 30\n  max_body: 1.5\n  tiemout: 1s\n  pool: 3\n",
			want: []string{
				"x.yaml:6:14: max_conns must be an integer (got string)",
				"x.yaml:7:25: insecure_skip_verify must be true or false (got string)",
				"x.yaml:8:21: source_addresses must be a list (got string)",
				"x.yaml:9:12: invalid duration \"30\": missing unit (want e.g. 30s or 30ms)",
				"x.yaml:10:13: invalid size \"1.5\": not a whole number of bytes",
				"x.yaml:11:3: unknown field \"tiemout\" (did you mean \"timeout\"?)",
				"x.yaml:12:3: unknown field \"pool\" (known fields: connections, max_conns, protocol, implementation, timing, " +
					"insecure_skip_verify, source_addresses, follow_redirects, timeout, connect_timeout, first_byte_timeout, max_in_flight, max_body, ca_file, cert_file, key_file, server_name)",
			},
		},
		{
			name: "ranges",
			src: validStages + "client: {max_conns: -1, follow_redirects: 21, max_in_flight: 0, timeout: 0s, connect_timeout: 2h, first_byte_timeout: 0ms, max_body: 2GiB}\n" +
				"safety: {max_rate: 10}\n",
			want: []string{
				"x.yaml:5:21: max_conns must be from 0 to 1000000 (got -1)",
				"x.yaml:5:43: follow_redirects must be from 0 to 20 (got 21)",
				"x.yaml:5:62: max_in_flight must be from 1 to 1000000 (got 0)",
				"x.yaml:5:74: timeout must be > 0 (got 0s)",
				"x.yaml:5:95: connect_timeout must be at most 1h (got 2h)",
				"x.yaml:5:119: first_byte_timeout must be > 0 (got 0s)",
				"x.yaml:5:134: max_body must be from 1 byte to 1GiB (got 2GiB)",
			},
		},
		{
			name: "source addresses",
			src: validStages + "client:\n  source_addresses:\n" +
				"    - 127.0.0.2\n" + // 7
				"    - 127.0.0.0/30\n" + // 8: includes .2
				"    - 127.0.1.1/30\n" + // 9
				"    - 256.0.0.1\n" + // 10
				"    - 0.0.0.0\n" + // 11
				"    - 224.0.0.0/28\n" + // 12
				"    - fe80::1%eth0\n" + // 13
				"    - 10.0.0.0/8\n" + // 14
				"    - 127.0.0.9\n" + // 15: past the bound, syntax only
				"    - nope\n", // 16
			want: []string{
				"x.yaml:8:7: 127.0.0.0/30 includes 127.0.0.2, listed already (at 7:7)",
				`x.yaml:9:7: invalid source address "127.0.1.1/30": host bits are set (did you mean 127.0.1.0/30?)`,
				`x.yaml:10:7: invalid source address "256.0.0.1" (want an IP address like 127.0.0.2 or a CIDR block like 127.0.1.0/30)`,
				`x.yaml:11:7: invalid source address "0.0.0.0": the unspecified address is not a source (leave source_addresses out to let the system pick)`,
				`x.yaml:12:7: invalid source address "224.0.0.0/28": a multicast address cannot be a source`,
				`x.yaml:13:7: invalid source address "fe80::1%eth0": zones are not supported`,
				"x.yaml:14:7: 10.0.0.0/8 has 16777214 host addresses, more than the 4096 source addresses allowed",
				`x.yaml:16:7: invalid source address "nope" (want an IP address like 127.0.0.2 or a CIDR block like 127.0.1.0/30)`,
			},
		},
		{
			name: "up to the bound",
			src:  validStages + "client: {source_addresses: [10.0.0.0/21, 10.0.8.0/22, 10.0.12.0/30, 10.0.13.1, 10.1.0.0/23, 10.2.0.0/31]}\n",
			// 2046 + 1022 + 2 + 1 + 510 + 2 hosts = 3583.
			want: nil,
		},
		{
			name: "over the bound",
			src:  validStages + "client: {source_addresses: [10.0.0.0/20, 10.1.0.0/31, 10.2.0.0/20]}\n",
			want: []string{"x.yaml:5:55: source_addresses expand to more than 4096 addresses (8190 up to this entry)"},
		},
		{
			name: "h2 with per-request in one block",
			src:  validStages + "client: {connections: per-request, protocol: h2}\n",
			want: []string{"x.yaml:5:23: connections: per-request cannot be used with protocol h2 (at 5:46): a new connection per request is HTTP/1.1 only"},
		},
		{
			name: "h2 in a stage over per-request at the top",
			src: "stages:\n  - {bundled: echo, name: a}\n  - {bundled: echo, name: b, client: {protocol: h2}}\n  - {bundled: echo, name: c, client: {timing: precise}}\n" +
				"client: {connections: per-request}\n",
			want: []string{"x.yaml:6:49: protocol h2 cannot be used with connections: per-request (at 8:23): a new connection per request is HTTP/1.1 only"},
		},
		{
			name: "a clash in the top block, inherited by several stages, is reported once",
			src: "stages:\n  - {bundled: echo, name: a}\n  - {bundled: echo, name: b, client: {timing: precise}}\n" +
				"client: {protocol: h2, connections: per-request}\n",
			want: []string{"x.yaml:7:37: connections: per-request cannot be used with protocol h2 (at 7:20): a new connection per request is HTTP/1.1 only"},
		},
		{
			name: "warnings",
			src: "stages:\n  - {bundled: echo, name: a, client: {timeout: 1s}}\n  - {bundled: echo, name: b, client: {insecure_skip_verify: true, protocol: h2}}\n" +
				"client: {connect_timeout: 5s, first_byte_timeout: 2s, implementation: surge}\n",
			warns: []string{
				"x.yaml:5:48: timeout 1s is shorter than connect_timeout 5s (at 7:27), which therefore never fires: the total timeout bounds the whole request",
				"x.yaml:5:48: timeout 1s is shorter than first_byte_timeout 2s (at 7:51), which therefore never fires: the total timeout bounds the whole request",
				"x.yaml:6:61: insecure_skip_verify: the TLS certificates of https targets are not checked, so anyone on the path can pose as the target; use it only against test systems",
				"x.yaml:6:77: protocol h2 ignores implementation: surge (at 7:71): HTTP/2 always uses net/http",
			},
		},
		{
			name:  "a phase timeout over the timeout of the same block",
			src:   validStages + "client: {timeout: 1s, connect_timeout: 1s, first_byte_timeout: 1.5s}\n",
			warns: []string{"x.yaml:5:64: first_byte_timeout 1.5s is longer than timeout 1s (at 5:19), which bounds the whole request: it never fires"},
		},
		{
			name: "a stage block of the wrong kind",
			src:  "stages: [{bundled: echo, client: [a]}]\n",
			want: []string{"x.yaml:4:34: client must be a map (got list)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var warns []string
			_, err := Parse("x.yaml", []byte(head+tt.src), Options{Warn: func(e *Error) { warns = append(warns, e.Error()) }})
			if got := errLines(err); !slices.Equal(got, tt.want) {
				t.Errorf("Parse(%q) error:\n%s\nwant:\n%s", tt.src, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if !slices.Equal(warns, tt.warns) {
				t.Errorf("Parse(%q) warnings:\n%s\nwant:\n%s", tt.src, strings.Join(warns, "\n"), strings.Join(tt.warns, "\n"))
			}
		})
	}
}

// TestClientValidate checks a scenario built in code: problems by path.
func TestClientValidate(t *testing.T) {
	s := &Scenario{
		Name:     "v",
		Stages:   []Stage{{Bundled: "echo"}, {Bundled: "echo", Name: "two", Client: &Client{Protocol: ptr(ProtocolH2)}}},
		Requests: []Request{{Path: "/"}},
		Load:     Curve{Constant: &Constant{Rate: 1, Duration: Duration(time.Second)}},
		Client:   Client{Connections: ptr(ConnectionsPerRequest), MaxBody: ptr(Size(-1)), SourceAddresses: []string{"::1", "::1"}},
	}
	want := []string{
		"client.max_body: max_body must be from 1 byte to 1GiB (got -1)",
		"client.source_addresses[1]: source address ::1 is listed twice (also at client.source_addresses[0])",
		"stages[1].client.protocol: protocol h2 cannot be used with connections: per-request (at client.connections): a new connection per request is HTTP/1.1 only",
	}
	if got := errLines(s.Validate(Options{})); !slices.Equal(got, want) {
		t.Errorf("Validate() error:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	s.Client = Client{Timeout: ptr(Duration(time.Minute))}
	s.Stages[1].Client.Timeout = ptr(Duration(time.Second))
	if err := s.Validate(Options{}); err != nil {
		t.Errorf("Validate(valid clients) = %v", err)
	}
}

func TestParseSize(t *testing.T) {
	good := []struct {
		in   string
		want Size
		text string
	}{
		{"0", 0, "0"},
		{"4096", 4096, "4KiB"},
		{"1000", 1000, "1kB"},
		{"1024", 1024, "1KiB"},
		{"1MiB", 1 << 20, "1MiB"},
		{"1 MiB", 1 << 20, "1MiB"},
		{"1mib", 1 << 20, "1MiB"},
		{"1.5KiB", 1536, "1536"},
		{"64KB", 64000, "64kB"},
		{"1.234567MB", 1234567, "1234567"},
		{"1.5MiB", 3 << 19, "1.5MiB"},
		{"1e6", 1e6, "1MB"},
		{"2GiB", 2 << 30, "2GiB"},
		{"3TB", 3e12, "3TB"},
		{"1023", 1023, "1023"},
		{"1025", 1025, "1025"},
		{"512B", 512, "512"},
		{"0.5KiB", 512, "512"},
	}
	for _, tt := range good {
		got, err := ParseSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			continue
		}
		if s := got.String(); s != tt.text {
			t.Errorf("Size(%d).String() = %q; want %q", got, s, tt.text)
		}
		if back, err := ParseSize(got.String()); err != nil || back != got {
			t.Errorf("ParseSize(%q) = %d, %v; want %d (round trip)", got.String(), back, err, got)
		}
	}
	bad := []struct{ in, want string }{
		{"1M", `invalid size "1M": write 1MB (powers of 1000) or 1MiB (powers of 1024)`},
		{"2k", `invalid size "2k": write 2kB (powers of 1000) or 2KiB (powers of 1024)`},
		{"1.5", `invalid size "1.5": not a whole number of bytes`},
		{"0.1KiB", `invalid size "0.1KiB": not a whole number of bytes`},
		{"-1KiB", `invalid size "-1KiB": must not be negative (want e.g. 4096, 64KiB, 1MiB or 1MB)`},
		{"1PB", `invalid size "1PB": unknown unit "PB" (want e.g. 4096, 64KiB, 1MiB or 1MB)`},
		{"KiB", `invalid size "KiB": not a number (want e.g. 4096, 64KiB, 1MiB or 1MB)`},
		{"", `invalid size "": not a number (want e.g. 4096, 64KiB, 1MiB or 1MB)`},
		{"9000TiB", `invalid size "9000TiB": too large`},
	}
	for _, tt := range bad {
		if _, err := ParseSize(tt.in); err == nil || err.Error() != tt.want {
			t.Errorf("ParseSize(%q) error = %v; want %s", tt.in, err, tt.want)
		}
	}
	// Every value formats to a text that parses back to it.
	for _, v := range []Size{1, 999, 1001, 1536, 1 << 20, 1<<20 + 1, 1e9 + 1, 123456789, 1<<53 - 1} {
		if back, err := ParseSize(v.String()); err != nil || back != v {
			t.Errorf("ParseSize(Size(%d).String() = %q) = %d, %v", v, v.String(), back, err)
		}
	}
}

func TestExpandSourceAddresses(t *testing.T) {
	got, err := ExpandSourceAddresses([]string{"127.0.0.2", "127.0.1.0/30", "::ffff:127.0.2.1", "127.0.3.0/31", "127.0.4.7/32", "fd00::/126", "::1/128", "fd01::/127"})
	if err != nil {
		t.Fatal(err)
	}
	var want []netip.Addr
	for _, s := range []string{"127.0.0.2", "127.0.1.1", "127.0.1.2", "127.0.2.1", "127.0.3.0", "127.0.3.1", "127.0.4.7",
		"fd00::1", "fd00::2", "fd00::3", "::1", "fd01::", "fd01::1"} {
		want = append(want, netip.MustParseAddr(s))
	}
	if !slices.Equal(got, want) {
		t.Errorf("ExpandSourceAddresses = %v; want %v", got, want)
	}
	if got, err := ExpandSourceAddresses([]string{"10.0.0.0/20", "10.1.0.0/31"}); err != nil || len(got) != 4096 {
		t.Errorf("ExpandSourceAddresses(/20, /31) = %d addresses, %v; want 4096", len(got), err)
	}
	for _, bad := range [][]string{{"10.0.0.0/19"}, {"10.0.0.0/20", "10.1.0.0/29"}, {"127.0.0.2", "127.0.0.0/30"}, {"x"}, {"::/0"}} {
		if got, err := ExpandSourceAddresses(bad); !errors.Is(err, ErrSourceAddress) || got != nil {
			t.Errorf("ExpandSourceAddresses(%q) = %d addresses, %v; want ErrSourceAddress", bad, len(got), err)
		}
	}
	if got, err := ExpandSourceAddresses(nil); got != nil || err != nil {
		t.Errorf("ExpandSourceAddresses(nil) = %v, %v; want nil, nil", got, err)
	}
}

// TestClientJSON checks that the client blocks survive JSON, explicit
// zeros and the empty list included.
func TestClientJSON(t *testing.T) {
	in := Scenario{
		Name:   "j",
		Stages: []Stage{{Bundled: "echo", Client: &Client{SourceAddresses: []string{}, MaxConns: ptr(0), InsecureSkipVerify: ptr(false)}}},
		Client: Client{MaxBody: ptr(Size(1 << 20)), Timeout: ptr(Duration(time.Second)), Protocol: ptr(ProtocolH2)},
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"client":{"protocol":"h2","timeout":"1s","max_body":"1MiB"}`,
		`"client":{"max_conns":0,"insecure_skip_verify":false,"source_addresses":[]}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("json.Marshal = %s; want it to contain %s", b, want)
		}
	}
	var back Scenario
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Client, in.Client) || !reflect.DeepEqual(back.Stages[0].Client, in.Stages[0].Client) {
		t.Errorf("JSON round trip: %v, %v; want %v, %v", back.Client, back.Stages[0].Client, in.Client, in.Stages[0].Client)
	}
	b, _ = json.Marshal(Scenario{Name: "none"})
	if strings.Contains(string(b), "client") {
		t.Errorf("json.Marshal(no client block) = %s; want no client", b)
	}
}

// TestClientOwnedHeaders: headers the client writes itself are refused
// where they are written, with what to do instead.
func TestClientOwnedHeaders(t *testing.T) {
	src := "name: x\nstages: [{url: \"http://127.0.0.1:8080\"}]\nrequests:\n  - path: /\n    headers: {Connection: close, content-length: \"3\", X-Ok: y}\nload: {constant: {rate: 1, duration: 1s}}\n"
	_, err := Parse("x.yaml", []byte(src), Options{})
	if err == nil {
		t.Fatal("Parse accepted headers the client owns")
	}
	for _, want := range []string{
		"x.yaml:5:15: header Connection is set by the client: set client.connections (keep-alive or per-request)",
		"x.yaml:5:34: header content-length is set by the client: from the body's length",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\ndoes not contain %q", err, want)
		}
	}
}
