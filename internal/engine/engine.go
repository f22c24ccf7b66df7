package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/surgeload/surge/internal/extract"
	"github.com/surgeload/surge/internal/h1"
	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/internal/schedule"
	"github.com/surgeload/surge/internal/template"
)

// Errors returned at the package boundary.
var (
	// ErrTargetNotAllowed: the target resolves to an address the
	// allowlist refuses (by default: anything but loopback).
	ErrTargetNotAllowed = errors.New("target not allowed")
	// ErrTargetUnreachable: a preflight connection to the target failed.
	ErrTargetUnreachable = errors.New("target unreachable")
	// ErrInvalidJob: the job's settings are inconsistent.
	ErrInvalidJob = errors.New("invalid job")
)

// Request is one named request of the mix. Path, URL, header values and
// Body may hold templates (package template), rendered per arrival from
// (seed, arrival index), so every agent sends the same request for the same
// arrival.
type Request struct {
	Name   string
	Method string
	// Path is appended to the target's base URL; it starts with "/".
	Path string
	// URL, when set, is an absolute http(s) URL used instead of the target
	// and Path.
	URL    string
	Header http.Header
	Body   []byte
	// Timeout is the total timeout of this request; 0 means Limits.Timeout.
	Timeout time.Duration
	// Weight is the request's share of the mix, relative to the others;
	// 0 means 1.
	Weight float64
	// Expect lists the statuses that count as success; empty means any
	// 2xx or 3xx.
	Expect []int
	// Checks are assertions on the response; a failed one fails the
	// request with class check_failed. A job with checks reads bodies
	// (up to Limits.MaxBodyBytes) with the net/http client.
	Checks []extract.CheckSpec
}

// Limits bound what one job may do.
type Limits struct {
	// MaxInFlight is the most requests outstanding at once. An arrival that
	// falls due at the cap is dropped (cause in_flight_cap), never delayed.
	MaxInFlight int
	// Timeout is the default total per-request timeout, from actual send to
	// the end of the body.
	Timeout time.Duration
	// MaxBodyBytes is how much of each response body is read; the rest is
	// discarded unread and the response counted as truncated.
	MaxBodyBytes int64
	// Drain bounds how long the engine waits for outstanding requests after
	// the last arrival; what is still outstanding then is reported as in
	// flight at the end.
	Drain time.Duration
	// MaxConns bounds the connections open to one target host at once
	// (0 = no bound). At the bound, an arrival that finds every connection
	// busy waits for one, and the wait is part of its response time (not
	// of its service time) — instead of dialling yet another connection.
	// The default (DefaultMaxConns) keeps a generator that falls behind,
	// or a target that stalls, from opening thousands of connections: on
	// two shared cores at 50,000 req/s an unbounded pool grew past 5,000
	// connections and the dialling alone made the agent drop arrivals,
	// while 256 connections kept every arrival on time.
	MaxConns int
}

// DefaultMaxConns is the default bound on connections per target per
// agent.
const DefaultMaxConns = 256

// DefaultLimits are the limits used when a job leaves them zero.
func DefaultLimits() Limits {
	return Limits{MaxInFlight: 10_000, Timeout: 30 * time.Second, MaxBodyBytes: 1 << 20, Drain: 31 * time.Second, MaxConns: DefaultMaxConns}
}

// Validate checks the limits.
func (l Limits) Validate() error {
	var errs []error
	if l.MaxInFlight < 1 || l.MaxInFlight > 1_000_000 {
		errs = append(errs, fmt.Errorf("%w: max in flight %d must be in 1..1000000", ErrInvalidJob, l.MaxInFlight))
	}
	if l.Timeout <= 0 || l.Timeout > time.Hour {
		errs = append(errs, fmt.Errorf("%w: timeout %v must be in (0, 1h]", ErrInvalidJob, l.Timeout))
	}
	if l.MaxBodyBytes < 1 || l.MaxBodyBytes > 1<<30 {
		errs = append(errs, fmt.Errorf("%w: max body bytes %d must be in 1..1GiB", ErrInvalidJob, l.MaxBodyBytes))
	}
	if l.MaxConns < 0 || l.MaxConns > 1_000_000 {
		errs = append(errs, fmt.Errorf("%w: max conns %d must be in 0..1000000", ErrInvalidJob, l.MaxConns))
	}
	if l.Drain < 0 || l.Drain > 2*time.Hour {
		errs = append(errs, fmt.Errorf("%w: drain %v must be in [0, 2h]", ErrInvalidJob, l.Drain))
	}
	return errors.Join(errs...)
}

// Job is one agent's part of one stage.
type Job struct {
	// Target is the base URL (scheme://host:port) requests are sent to.
	Target *url.URL
	// Requests is the weighted mix; the request of arrival i is a pure
	// function of (the schedule's seed, i), so any split plays the same
	// global mix.
	Requests []Request
	// Journeys, when set, replace Requests: each arrival starts one
	// instance of the journey of arrival i (a pure function of the
	// schedule's seed and i, as the request mix). See Journey.
	Journeys []Journey
	// Data holds the data files templates read rows from.
	Data template.Tables
	// Schedule is the stage's global schedule; Share the agent's part of it.
	Schedule *schedule.Schedule
	Share    schedule.Share
	// First and End bound the global indexes played: [First, End).
	First, End uint64
	Limits     Limits
	// Client says how connections are made and used, and how the pacer
	// keeps time.
	Client ClientOptions
	// Interval is the reporting interval; intervals are aligned to T0.
	Interval time.Duration
	Geometry metrics.Geometry
	// Gate, if set, is called before every send; an error stops the job
	// with that cause before the arrival is sent (the agent's lease: an
	// agent that wakes from SIGSTOP must not fire what fell due while it
	// slept). It may be called from several goroutines at once (one per
	// sender loop), so it must be safe for that. It is not carried on the
	// wire.
	Gate func() error
}

// Validate checks that the job can be run.
func (j *Job) Validate() error {
	var errs []error
	if j.Target == nil || (j.Target.Scheme != "http" && j.Target.Scheme != "https") || j.Target.Host == "" {
		errs = append(errs, fmt.Errorf("%w: target must be an http(s) URL with a host", ErrInvalidJob))
	}
	if len(j.Requests) == 0 && len(j.Journeys) == 0 {
		errs = append(errs, fmt.Errorf("%w: no requests", ErrInvalidJob))
	}
	if _, err := j.compile(); err != nil {
		errs = append(errs, err)
	}
	if j.Schedule == nil {
		errs = append(errs, fmt.Errorf("%w: no schedule", ErrInvalidJob))
	} else if j.End > j.Schedule.Len()+1 || j.First > j.End {
		// One past Len is accepted: the coordinator's End is authoritative,
		// and on another CPU architecture the last instant of a smooth
		// curve may round to the other side of its end.
		errs = append(errs, fmt.Errorf("%w: index range [%d, %d) outside the schedule of %d", ErrInvalidJob, j.First, j.End, j.Schedule.Len()))
	}
	if err := j.Share.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := j.Limits.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := j.Client.Validate(); err != nil {
		errs = append(errs, err)
	}
	if j.Interval < 10*time.Millisecond || j.Interval > time.Hour {
		errs = append(errs, fmt.Errorf("%w: interval %v must be in [10ms, 1h]", ErrInvalidJob, j.Interval))
	}
	if err := j.Geometry.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Config configures an Engine.
type Config struct {
	// Allow is the target allowlist, checked at dial time after DNS
	// resolution for every address dialled — by both HTTP clients, on
	// every redirect hop, and by Preflight — before the connection is
	// attempted: nothing is sent to a refused address. nil means loopback
	// only (127.0.0.0/8, ::1). See Allowlist for the rules.
	Allow *Allowlist
	// Resolver resolves target host names for the dialers and Preflight
	// (nil = net.DefaultResolver). Tests point it at a local DNS server.
	Resolver *net.Resolver
	// MaxIdleConnsPerHost is the idle pool size per host of the net/http
	// transport (Limits.MaxConns bounds the connections of both).
	MaxIdleConnsPerHost int
	// Observe, if set, is called with every result that is recorded, while
	// a lock of the recorder is held: keep it fast. It may be called from
	// several goroutines at once. For tests and diagnostics.
	Observe func(metrics.Result)
	// Warn, if set, receives the warnings PreflightJob finds that do not
	// stop a job: an open-file limit below what the job's connection
	// bound allows (FileLimitWarning). It is called on PreflightJob's
	// goroutine. nil drops them (engines never print).
	Warn func(msg string)
}

// DefaultConfig returns loopback-only dialling and an idle pool of 1024
// connections per host for the net/http transport.
func DefaultConfig() Config {
	return Config{MaxIdleConnsPerHost: 1024}
}

// Engine fires jobs.
type Engine struct {
	cfg Config
}

// New returns an engine; a zero Config field means its default.
func New(cfg Config) *Engine {
	if cfg.MaxIdleConnsPerHost <= 0 {
		cfg.MaxIdleConnsPerHost = DefaultConfig().MaxIdleConnsPerHost
	}
	return &Engine{cfg: cfg}
}

// refusal returns "" when a dial of host (the name being dialled; "" if
// unknown) resolved to ip may connect, or why not.
func (e *Engine) refusal(host string, ip netip.Addr) string {
	return e.cfg.Allow.decide(host, ip)
}

// dialHostKey is the context key of the host name being dialled by the
// engine's dialer, read by control.
type dialHostKey struct{}

// dialer makes connections whose every resolved address is checked
// before it is attempted, from the source addresses in turn when there are
// any.
type dialer struct {
	base net.Dialer
	srcs []netip.Addr
	next atomic.Uint64
}

// dialer returns a dialer that checks every resolved address before the
// connection is attempted.
func (e *Engine) dialer(timeout time.Duration, srcs []netip.Addr) *dialer {
	return &dialer{base: net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, ControlContext: e.control, Resolver: e.cfg.Resolver}, srcs: srcs}
}

// control is the dial-time allowlist check of the engine's dialer
// (net.Dialer.ControlContext): address is the resolved IP and port, and
// ctx carries the host name that dialer.DialContext was asked for.
func (e *Engine) control(ctx context.Context, _, address string, _ syscall.RawConn) error {
	host, _ := ctx.Value(dialHostKey{}).(string)
	return e.check(host, address)
}

// h1Control is control for the native client, which carries the Target
// being dialled in ctx.
func (e *Engine) h1Control(ctx context.Context, _, address string, _ syscall.RawConn) error {
	t, _ := h1.DialTarget(ctx)
	host, _, err := net.SplitHostPort(t.Addr)
	if err != nil {
		host = ""
	}
	return e.check(host, address)
}

// testDialGuard, set by this package's tests only, vets every address the
// allowlist allowed, so that a regression in the allowlist cannot make a
// test send anything off loopback (to 169.254.169.254, say).
var testDialGuard func(netip.Addr) error

// check is the allowlist check of a dial of host, resolved to address
// (IP:port). It errs on the side of refusing: an address it cannot parse
// is refused.
func (e *Engine) check(host, address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s: not an IP address and port", ErrTargetNotAllowed, address)
	}
	ip := ap.Addr().Unmap().WithZone("")
	why := e.refusal(host, ip)
	if why == "" {
		if testDialGuard != nil {
			return testDialGuard(ip)
		}
		return nil
	}
	if host == "" || host == ip.String() {
		return fmt.Errorf("%w: %s is %s", ErrTargetNotAllowed, ip, why)
	}
	return fmt.Errorf("%w: %s resolved to %s, which is %s", ErrTargetNotAllowed, host, ip, why)
}

// DialContext dials address (host:port) from the next source address;
// the host goes into ctx for the allowlist check of every address it
// resolves to.
func (d *dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if host, _, err := net.SplitHostPort(address); err == nil {
		ctx = context.WithValue(ctx, dialHostKey{}, host)
	}
	nd := d.base
	if len(d.srcs) > 0 {
		a := d.srcs[(d.next.Add(1)-1)%uint64(len(d.srcs))]
		nd.LocalAddr = &net.TCPAddr{IP: a.AsSlice()}
	}
	return nd.DialContext(ctx, network, address)
}

// Preflight checks that the target accepts a TCP connection from here and
// that its address is allowed, so a run fails before T0 rather than
// recording nothing but connection errors.
func (e *Engine) Preflight(ctx context.Context, target *url.URL) error {
	if target == nil || target.Host == "" {
		return fmt.Errorf("%w: no target", ErrInvalidJob)
	}
	addr := target.Host
	if target.Port() == "" {
		if target.Scheme == "https" {
			addr = net.JoinHostPort(target.Hostname(), "443")
		} else {
			addr = net.JoinHostPort(target.Hostname(), "80")
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	c, err := e.dialer(3*time.Second, nil).DialContext(ctx, "tcp", addr)
	if err != nil {
		if errors.Is(err, ErrTargetNotAllowed) { // the check's error says why
			return fmt.Errorf("%s: %w", target.Redacted(), unwrapOp(err))
		}
		return fmt.Errorf("%w: %s: %w", ErrTargetUnreachable, target.Redacted(), unwrapOp(err))
	}
	return c.Close()
}

// PreflightJob checks the job's target and every distinct host of its
// requests' absolute URLs that has no template in it. A problem that does
// not stop the job (FileLimitWarning) goes to Config.Warn.
func (e *Engine) PreflightJob(ctx context.Context, j *Job) error {
	hosts, err := jobHosts(j)
	if err != nil {
		return err
	}
	for _, u := range hosts {
		if err := e.Preflight(ctx, u); err != nil {
			return err
		}
	}
	if w := FileLimitWarning(j); w != "" && e.cfg.Warn != nil {
		e.cfg.Warn(w)
	}
	return nil
}

// jobHosts returns the job's target and the URL of every other distinct
// host among its requests' absolute URLs without a template.
func jobHosts(j *Job) ([]*url.URL, error) {
	seen := map[string]bool{}
	var hosts []*url.URL
	add := func(u *url.URL) {
		if !seen[u.Host] {
			seen[u.Host] = true
			hosts = append(hosts, u)
		}
	}
	if j.Target != nil {
		add(j.Target)
	}
	reqs := j.Requests
	for _, jr := range j.Journeys {
		for _, st := range jr.Steps {
			if st.Think == nil {
				reqs = append(reqs[:len(reqs):len(reqs)], st.Request)
			}
		}
	}
	for _, r := range reqs {
		if r.URL == "" || strings.Contains(r.URL, "{{") {
			continue
		}
		u, err := url.Parse(r.URL)
		if err != nil {
			return nil, fmt.Errorf("%w: request %s: %w", ErrInvalidJob, r.Name, err)
		}
		add(u)
	}
	return hosts, nil
}

// fileHeadroom is the descriptors a generator process needs besides its
// connections to targets: listeners, the coordinator's stream, gossip,
// logs, DNS.
const fileHeadroom = 64

// FileLimitWarning returns a warning when the job may open more
// connections than the process's open-file limit (RLIMIT_NOFILE) allows,
// or "" when it fits or the limit is unknown. The job may hold up to
// Limits.MaxConns connections to each target host (MaxInFlight in all when
// MaxConns is 0, no bound); past the limit, dials fail with EMFILE and the
// requests count as local_resource. Hosts behind templated URLs are not
// known before the run and are not counted.
func FileLimitWarning(j *Job) string {
	limit, ok := fileLimit()
	if !ok {
		return ""
	}
	hosts, err := jobHosts(j)
	if err != nil || len(hosts) == 0 {
		return ""
	}
	need := uint64(j.Limits.MaxConns) * uint64(len(hosts))
	bound := fmt.Sprintf("max_conns %d × %d target host(s) = %d connections", j.Limits.MaxConns, len(hosts), need)
	if j.Limits.MaxConns == 0 {
		need = uint64(j.Limits.MaxInFlight)
		bound = fmt.Sprintf("no max_conns, so up to max_in_flight = %d connections", need)
	}
	if need+fileHeadroom <= limit {
		return ""
	}
	return fmt.Sprintf("%s, but this process may open only %d files (RLIMIT_NOFILE, %d of them kept for itself): "+
		"past that, requests fail as local_resource and the stage is generator-limited; raise the limit (ulimit -n, or LimitNOFILE= under systemd) "+
		"or lower client.max_conns (or --max-conns)", bound, limit, fileHeadroom)
}

// unwrapOp strips net.OpError's "dial tcp ..." prefix for a shorter message.
func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}
