package lb

import (
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	good := func() BalancerConfig {
		cfg := DefaultBalancerConfig()
		cfg.Backends = []Backend{{URL: "http://127.0.0.1:8081"}, {URL: "http://127.0.0.1:8082", Weight: 3}}
		return cfg
	}
	tests := []struct {
		name   string
		change func(*BalancerConfig)
		want   []string // substrings of the error, one per problem; none: valid
	}{
		{"default with backends", func(*BalancerConfig) {}, nil},
		{"checks off ignore their fields", func(c *BalancerConfig) { c.HealthCheck = HealthCheckConfig{} }, nil},
		{"every algorithm", func(c *BalancerConfig) { c.Algorithm = IPHash; c.HashHeader = "X-Client-IP" }, nil},
		{"path prefix and https", func(c *BalancerConfig) { c.Backends[0].URL = "https://example.test/api" }, nil},
		{"no backends", func(c *BalancerConfig) { c.Backends = nil }, []string{"backends: need at least 1"}},
		{"bad URLs", func(c *BalancerConfig) {
			c.Backends = []Backend{{URL: ""}, {URL: "ftp://x"}, {URL: "http://"}, {URL: "http://h/?q=1"}, {URL: "http://h:1"}}
		}, []string{"backends[0].url: required", "backends[1].url: scheme must be http or https", "backends[2].url: needs a host", "backends[3].url: must have no query"}},
		{"duplicate names", func(c *BalancerConfig) {
			c.Backends = []Backend{{URL: "http://h:1"}, {URL: "http://h:1"}, {URL: "http://h:2", Name: "x"}, {URL: "http://h:3", Name: "x"}}
		}, []string{`backends[1].name: "h:1" is also the name of backends[0]`, `backends[3].name: "x" is also the name of backends[2]`}},
		{"weights", func(c *BalancerConfig) { c.Backends[0].Weight = -1; c.Backends[1].Weight = MaxWeight + 1 },
			[]string{"backends[0].weight: must be from 1 to 1000", "backends[1].weight"}},
		{"algorithm", func(c *BalancerConfig) { c.Algorithm = "fastest" }, []string{`algorithm: must be one of round_robin, weighted_round_robin, least_connections, ip_hash, random, least_response_time (got "fastest")`}},
		{"empty algorithm", func(c *BalancerConfig) { c.Algorithm = "" }, []string{"algorithm: must be one of"}},
		{"header names", func(c *BalancerConfig) { c.HashHeader = "X Client"; c.BackendHeader = "a:b" },
			[]string{`hash header: "X Client" is not a valid header name`, `backend header: "a:b"`}},
		{"capacity", func(c *BalancerConfig) { c.MaxInFlight = 0; c.QueueLimit = -1; c.QueueTimeout = -time.Second },
			[]string{"max in flight: must be from 1 to", "queue limit: must be from 0 to", "queue timeout: must not be negative"}},
		{"health check", func(c *BalancerConfig) {
			c.HealthCheck = HealthCheckConfig{Interval: time.Microsecond, Timeout: 0, Path: "health", FailThreshold: 0, RiseThreshold: 101}
		}, []string{"health check interval: must be 0 (off) or from 1ms to 1h0m0s", "health check timeout: must be positive",
			`health check path: must start with "/"`, "health check fail threshold: must be from 1 to 100", "health check rise threshold"}},
		{"timeout over interval", func(c *BalancerConfig) { c.HealthCheck.Timeout = 2 * c.HealthCheck.Interval },
			[]string{"health check timeout: must be positive and at most the interval 1s (got 2s)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good()
			tt.change(&cfg)
			err := cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v; want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil; want errors containing %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q; want it to contain %q", err, w)
				}
			}
			if got := strings.Count(err.Error(), "\n") + 1; got != len(tt.want) {
				t.Errorf("Validate() gave %d problems; want %d:\n%v", got, len(tt.want), err)
			}
		})
	}
}

func TestNewBalancerRefusesInvalid(t *testing.T) {
	_, err := NewBalancer("front", DefaultBalancerConfig(), nil)
	if err == nil || !strings.HasPrefix(err.Error(), "lb front: backends: need at least 1") {
		t.Errorf("NewBalancer(no backends) = %v; want \"lb front: backends: need at least 1 …\"", err)
	}
}

func TestAlgorithmText(t *testing.T) {
	for _, a := range Algorithms() {
		b, err := a.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Algorithm
		if err := back.UnmarshalText(b); err != nil || back != a || back.String() != string(b) {
			t.Errorf("UnmarshalText(%q) = %q, %v; want %q", b, back, err, a)
		}
	}
	var a Algorithm
	if err := a.UnmarshalText([]byte("fastest")); err == nil || !strings.Contains(err.Error(), `unknown algorithm "fastest" (known: round_robin,`) {
		t.Errorf("UnmarshalText(fastest) = %v; want unknown algorithm", err)
	}
}
