package lb

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// Limits of a BalancerConfig.
const (
	// MaxBackends is the most backends one Balancer takes.
	MaxBackends = 1024
	// MaxWeight is the largest Backend.Weight.
	MaxWeight = 1000
	// MaxInFlightLimit is the largest BalancerConfig.MaxInFlight.
	MaxInFlightLimit = 1 << 20
	// MaxQueueLimit is the largest BalancerConfig.QueueLimit.
	MaxQueueLimit = 1 << 20
	// MaxThreshold is the largest HealthCheckConfig.FailThreshold and
	// RiseThreshold.
	MaxThreshold = 100
	// MinHealthInterval and MaxHealthInterval bound
	// HealthCheckConfig.Interval when checks are on.
	MinHealthInterval = time.Millisecond
	MaxHealthInterval = time.Hour
)

// Algorithm names how a Balancer picks the backend of a request. Its text
// form (String, UnmarshalText) is the constant's value, so YAML, flags and
// JSON spell it the same way.
type Algorithm string

// The algorithms. Every one of them picks only among healthy backends
// (all of them when health checks are off).
const (
	// RoundRobin sends request k to the (k mod n)-th healthy backend, in
	// the order of BalancerConfig.Backends: an exact cycle. It ignores
	// weights.
	RoundRobin Algorithm = "round_robin"

	// WeightedRoundRobin is nginx's smooth weighted round robin: over
	// every run of W = Σ weights requests, backend i gets exactly
	// weight_i of them, spread out rather than in bursts (weights 5,1,1
	// give a a b a c a a).
	WeightedRoundRobin Algorithm = "weighted_round_robin"

	// LeastConnections sends a request to the backend with the fewest
	// requests in flight through this Balancer, relative to its weight
	// (in-flight ÷ weight); ties go round robin. A slow backend keeps its
	// requests longer, so it gets fewer new ones.
	LeastConnections Algorithm = "least_connections"

	// IPHash sends every request with the same key to the same backend:
	// the key is the client's IP address, or the value of the header
	// BalancerConfig.HashHeader when that is set and present. The backend
	// is chosen by weighted rendezvous (highest-random-weight) hashing, so
	// when a backend goes down only its own keys move, and they move back
	// when it returns.
	IPHash Algorithm = "ip_hash"

	// LeastResponseTime sends a request to the backend with the lowest
	// expected wait: its exponentially weighted moving average of
	// response times (EWMA, each new response time weighted
	// ResponseTimeAlpha) times one more than its requests in flight,
	// divided by its weight ("peak EWMA" as Finagle and Linkerd do it,
	// without the peak). A backend that has not answered yet has no
	// average and is tried first; ties go round robin. A backend that
	// slows down loses its share within a few responses, and the
	// in-flight factor keeps one fast backend from taking everything.
	LeastResponseTime Algorithm = "least_response_time"

	// Random picks a backend at random with probability proportional to
	// its weight, from a generator seeded with BalancerConfig.Seed: the
	// same seed and the same sequence of requests give the same choices.
	Random Algorithm = "random"
)

// Algorithms returns every algorithm, in the order they are documented.
func Algorithms() []Algorithm {
	return []Algorithm{RoundRobin, WeightedRoundRobin, LeastConnections, IPHash, Random, LeastResponseTime}
}

// String returns the algorithm's name, like "round_robin".
func (a Algorithm) String() string { return string(a) }

// Valid reports whether a is one of the algorithms.
func (a Algorithm) Valid() bool {
	for _, b := range Algorithms() {
		if a == b {
			return true
		}
	}
	return false
}

// MarshalText returns the algorithm's name.
func (a Algorithm) MarshalText() ([]byte, error) { return []byte(a), nil }

// UnmarshalText sets a from its name ("round_robin", …); it refuses an
// unknown name.
func (a *Algorithm) UnmarshalText(b []byte) error {
	v := Algorithm(b)
	if !v.Valid() {
		return fmt.Errorf("unknown algorithm %q (known: %s)", b, algorithmList())
	}
	*a = v
	return nil
}

func algorithmList() string {
	names := make([]string, 0, len(Algorithms()))
	for _, a := range Algorithms() {
		names = append(names, string(a))
	}
	return strings.Join(names, ", ")
}

// Backend is one server behind a Balancer.
type Backend struct {
	// URL is the backend's base URL, "http://host:port" with an optional
	// path prefix that is joined in front of every proxied request's path
	// (as httputil.ReverseProxy's SetURL does). Required; http or https.
	URL string

	// Name labels the backend in metrics (label backend) and in Status.
	// Empty means the URL's host:port. Names must be unique within a
	// Balancer.
	Name string

	// Weight is the backend's share, from 1 to MaxWeight; 0 means 1.
	// Every algorithm but RoundRobin honours it.
	Weight int
}

// HealthCheckConfig configures active health checks: the Balancer asks
// every backend GET Path each Interval and takes a backend out of rotation
// after FailThreshold failed checks in a row, and back in after
// RiseThreshold good ones in a row. A check succeeds when the backend
// answers 2xx or 3xx within Timeout. Backends start healthy, and the first
// check runs at once.
type HealthCheckConfig struct {
	// Interval is the time between two checks of a backend. 0 turns
	// checks off: every backend is always in rotation. Otherwise from
	// MinHealthInterval to MaxHealthInterval. Default 1s; shorter finds a
	// dead backend sooner at the cost of more check traffic.
	Interval time.Duration

	// Timeout bounds one check; a check that takes longer fails. Must be
	// positive and at most Interval when checks are on. Default 500ms.
	Timeout time.Duration

	// Path is the request path of a check; it must start with "/".
	// Default "/health", which every Surge target serves.
	Path string

	// FailThreshold is how many failed checks in a row take a healthy
	// backend out (HAProxy's "fall"), from 1 to MaxThreshold. Default 3.
	FailThreshold int

	// RiseThreshold is how many good checks in a row put an unhealthy
	// backend back (HAProxy's "rise"), from 1 to MaxThreshold. Default 2.
	RiseThreshold int
}

// DefaultHealthCheckConfig returns checks of GET /health every second
// with a 500ms timeout, down after 3 failures, up after 2 successes.
func DefaultHealthCheckConfig() HealthCheckConfig {
	return HealthCheckConfig{
		Interval:      time.Second,
		Timeout:       500 * time.Millisecond,
		Path:          "/health",
		FailThreshold: 3,
		RiseThreshold: 2,
	}
}

// BalancerConfig configures a Balancer.
type BalancerConfig struct {
	// Backends are the servers requests are spread over, at least one
	// and at most MaxBackends. DefaultBalancerConfig leaves it empty.
	Backends []Backend

	// Algorithm picks the backend of each request. Default RoundRobin.
	Algorithm Algorithm

	// HashHeader is where IPHash takes its key from. Empty means the
	// client's IP address (of the TCP connection). Otherwise it is a
	// header name, like "X-Client-IP": the key is that header's value up
	// to the first comma, trimmed of spaces (so "X-Forwarded-For" keys
	// on the original client), and the client's IP address when the
	// header is absent or empty. A load generator sends everything from
	// 127.0.0.1, so it needs a header to look like many clients. Other
	// algorithms ignore it.
	HashHeader string

	// Seed seeds Random's generator. Any value; default 1.
	Seed uint64

	// MaxInFlight is the most requests the Balancer forwards at once,
	// over all backends (HAProxy's maxconn), from 1 to
	// MaxInFlightLimit. It is the denominator of the utilisation metric.
	// A request beyond it waits in the queue. Default 1024.
	MaxInFlight int

	// QueueLimit is how many requests may wait for a MaxInFlight slot,
	// from 0 to MaxQueueLimit; one more gets 503 (reason queue_full).
	// Waiters are served first in, first out. Default 1024.
	QueueLimit int

	// QueueTimeout is how long a request waits for a slot before it
	// gets 503 (reason queue_timeout). 0 means as long as its client
	// waits. Must not be negative. Default 5s.
	QueueTimeout time.Duration

	// BackendHeader, when not empty, is the name of a response header
	// set to the name of the backend that served the request, so a
	// client can see the distribution. Default empty (no header).
	BackendHeader string

	// HealthCheck configures active health checks.
	HealthCheck HealthCheckConfig
}

// DefaultBalancerConfig returns round robin with health checks
// (DefaultHealthCheckConfig), 1024 requests in flight, a queue of 1024
// with a 5s timeout, Seed 1 and no backends: set Backends before use.
func DefaultBalancerConfig() BalancerConfig {
	return BalancerConfig{
		Algorithm:    RoundRobin,
		Seed:         1,
		MaxInFlight:  1024,
		QueueLimit:   1024,
		QueueTimeout: 5 * time.Second,
		HealthCheck:  DefaultHealthCheckConfig(),
	}
}

// Validate returns every problem of the configuration at once (joined
// with errors.Join), each naming the field and what it allows; nil when
// the configuration is good.
func (c BalancerConfig) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if len(c.Backends) == 0 {
		add("backends: need at least 1 (got 0)")
	} else if len(c.Backends) > MaxBackends {
		add("backends: at most %d allowed (got %d)", MaxBackends, len(c.Backends))
	}
	names := make(map[string]int, len(c.Backends))
	for i, b := range c.Backends {
		name, err := backendName(b)
		if err != nil {
			add("backends[%d].url: %v", i, err)
		} else if j, dup := names[name]; dup {
			add("backends[%d].name: %q is also the name of backends[%d]; names must be unique", i, name, j)
		} else {
			names[name] = i
		}
		if b.Weight < 0 || b.Weight > MaxWeight {
			add("backends[%d].weight: must be from 1 to %d, or 0 for 1 (got %d)", i, MaxWeight, b.Weight)
		}
	}
	if !c.Algorithm.Valid() {
		add("algorithm: must be one of %s (got %q)", algorithmList(), c.Algorithm)
	}
	if c.HashHeader != "" && !httpguts.ValidHeaderFieldName(c.HashHeader) {
		add("hash header: %q is not a valid header name", c.HashHeader)
	}
	if c.BackendHeader != "" && !httpguts.ValidHeaderFieldName(c.BackendHeader) {
		add("backend header: %q is not a valid header name", c.BackendHeader)
	}
	if c.MaxInFlight < 1 || c.MaxInFlight > MaxInFlightLimit {
		add("max in flight: must be from 1 to %d (got %d)", MaxInFlightLimit, c.MaxInFlight)
	}
	if c.QueueLimit < 0 || c.QueueLimit > MaxQueueLimit {
		add("queue limit: must be from 0 to %d (got %d)", MaxQueueLimit, c.QueueLimit)
	}
	if c.QueueTimeout < 0 {
		add("queue timeout: must not be negative (got %v)", c.QueueTimeout)
	}
	if err := c.HealthCheck.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// validate checks a HealthCheckConfig; it is part of
// BalancerConfig.Validate.
func (h HealthCheckConfig) validate() error {
	if h.Interval == 0 {
		return nil // checks off: the other fields are unused
	}
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if h.Interval < MinHealthInterval || h.Interval > MaxHealthInterval {
		add("health check interval: must be 0 (off) or from %v to %v (got %v)", MinHealthInterval, MaxHealthInterval, h.Interval)
	}
	if h.Timeout <= 0 || h.Timeout > h.Interval {
		add("health check timeout: must be positive and at most the interval %v (got %v)", h.Interval, h.Timeout)
	}
	if !strings.HasPrefix(h.Path, "/") {
		add("health check path: must start with \"/\" (got %q)", h.Path)
	}
	if h.FailThreshold < 1 || h.FailThreshold > MaxThreshold {
		add("health check fail threshold: must be from 1 to %d (got %d)", MaxThreshold, h.FailThreshold)
	}
	if h.RiseThreshold < 1 || h.RiseThreshold > MaxThreshold {
		add("health check rise threshold: must be from 1 to %d (got %d)", MaxThreshold, h.RiseThreshold)
	}
	return errors.Join(errs...)
}

// backendName parses b.URL and returns b.Name, or the URL's host:port
// when Name is empty.
func backendName(b Backend) (string, error) {
	_, err := parseBackendURL(b.URL)
	if err != nil {
		return "", err
	}
	if b.Name != "" {
		return b.Name, nil
	}
	u, _ := url.Parse(b.URL)
	return u.Host, nil
}

// parseBackendURL parses and checks a backend URL.
func parseBackendURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("not a URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("scheme must be http or https (got %q)", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("needs a host (got %q)", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("must have no query, fragment or user info (got %q)", raw)
	}
	return u, nil
}
