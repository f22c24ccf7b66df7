package engine

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// ConnMode is how connections to the target are used.
type ConnMode uint8

const (
	// KeepAlive reuses connections from a pool per target (the default).
	KeepAlive ConnMode = iota
	// PerRequest opens a new connection for every request and closes it
	// after the response ("Connection: close"), so the target sees as many
	// distinct clients as requests, as a load balancer does on the edge.
	PerRequest
)

// Protocol is the HTTP version spoken to the target.
type Protocol uint8

const (
	// HTTP1 is HTTP/1.1 (the default), with Surge's own client.
	HTTP1 Protocol = iota
	// HTTP2 is HTTP/2: negotiated by ALPN over TLS for https targets,
	// prior-knowledge cleartext (h2c) for http targets. It uses Go's
	// net/http client.
	HTTP2
)

// Timing is how the pacer meets each arrival's intended instant.
type Timing uint8

const (
	// TimingDefault sleeps until an arrival is due and then sends
	// everything that has fallen due. A sender loop (the default client on
	// plain HTTP/1.1) sleeps until at most 500 µs after the instant — it
	// wakes sooner whenever a response comes in — so send lag p99 is about
	// half a millisecond on an idle machine; the pacer of the other clients
	// sleeps on a Go timer, which wakes about 1 ms late. It costs nothing
	// while idle.
	TimingDefault Timing = iota
	// TimingPrecise aims at each arrival's instant itself. A sender loop
	// sleeps in the kernel, on a thread of its own whose timer slack is
	// 1 ns, until 200 µs before the instant, then polls its sockets
	// without blocking (reading responses as they come) until the
	// instant: send lag is the time of one poll, a few microseconds,
	// unless the kernel takes the thread away; the loop's thread is busy
	// whenever arrivals are less than 200 µs apart (5,000 req/s and up
	// per loop: up to one core per loop). The pacer of the other clients sleeps until shortly before
	// the instant, then spins on the clock to it (as Nighthawk's spin
	// sequencer does): up to one core spinning whenever arrivals are less
	// than about 2 ms apart.
	TimingPrecise
)

// Implementation selects the HTTP client code for HTTP/1.1.
type Implementation uint8

const (
	// ImplNative is Surge's own HTTP/1.1 client on raw connections (the
	// default): no per-request goroutine hand-offs, no header maps.
	ImplNative Implementation = iota
	// ImplNetHTTP is Go's net/http Transport, kept for comparison and as
	// a fallback.
	ImplNetHTTP
)

// ClientOptions say how an agent talks to a job's target.
type ClientOptions struct {
	Mode     ConnMode
	Protocol Protocol
	Timing   Timing
	Impl     Implementation
	// InsecureSkipVerify accepts any TLS certificate. Only when asked.
	InsecureSkipVerify bool
	// SourceAddrs, when not empty, are the local addresses new
	// connections are made from, in turn (source-address spread).
	SourceAddrs []netip.Addr
	// FollowRedirects is how many redirects (301, 302, 303, 307, 308) a
	// request follows; 0 means none: a 3xx is the target's answer.
	FollowRedirects int
	// ConnectTimeout bounds getting a connection: waiting for a pooled
	// one, dialling and the TLS handshake (0 = min(total timeout, 10s)).
	ConnectTimeout time.Duration
	// FirstByteTimeout bounds the time from the actual send to the first
	// byte of the response (0 = only the total timeout applies).
	FirstByteTimeout time.Duration
	// RootCAs, when set, is a PEM bundle of CA certificates: https targets
	// are verified against these only, not the system's roots.
	RootCAs []byte
	// ClientCert and ClientKey, when set (both), are the PEM certificate
	// and private key presented to https targets that ask for one.
	ClientCert []byte
	ClientKey  Secret
	// ServerName, when set, is the TLS server name (SNI, and the name
	// verified in the target's certificate) instead of the URL's host.
	ServerName string
}

// MaxPEMBytes bounds each of RootCAs, ClientCert and ClientKey.
const MaxPEMBytes = 1 << 20

// Secret holds bytes that must not be printed (a private key): its
// String, GoString and Format say only whether it is set.
type Secret []byte

func (s Secret) String() string {
	if len(s) == 0 {
		return "Secret(none)"
	}
	return "Secret(redacted)"
}

// GoString is String, for %#v.
func (s Secret) GoString() string { return s.String() }

// Format prints String for every verb, so %x or %s cannot leak it.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// tlsMaterial parses the options' TLS material: the pool of RootCAs (nil
// when none: the system's roots) and the client certificate (nil when
// none).
func (o ClientOptions) tlsMaterial() (*x509.CertPool, *tls.Certificate, error) {
	var errs []error
	var pool *x509.CertPool
	var cert *tls.Certificate
	for _, b := range []struct {
		what string
		n    int
	}{{"root CAs", len(o.RootCAs)}, {"client certificate", len(o.ClientCert)}, {"client key", len(o.ClientKey)}} {
		if b.n > MaxPEMBytes {
			errs = append(errs, fmt.Errorf("%w: %s: %d bytes, more than %d", ErrInvalidJob, b.what, b.n, MaxPEMBytes))
		}
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	if len(o.RootCAs) > 0 {
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(o.RootCAs) {
			errs = append(errs, fmt.Errorf("%w: root CAs hold no PEM certificate", ErrInvalidJob))
		}
	}
	switch {
	case len(o.ClientCert) > 0 && len(o.ClientKey) > 0:
		c, err := tls.X509KeyPair(o.ClientCert, o.ClientKey)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: client certificate: %w", ErrInvalidJob, err))
		} else {
			cert = &c
		}
	case len(o.ClientCert) > 0 || len(o.ClientKey) > 0:
		errs = append(errs, fmt.Errorf("%w: a client certificate needs its key, and a key its certificate", ErrInvalidJob))
	}
	if len(o.ServerName) > 253 {
		errs = append(errs, fmt.Errorf("%w: server name longer than 253 bytes", ErrInvalidJob))
	}
	return pool, cert, errors.Join(errs...)
}

// Bounds on client options.
const (
	MaxSourceAddrs     = 4096
	MaxFollowRedirects = 20
)

// Validate checks the options.
func (o ClientOptions) Validate() error {
	var errs []error
	if o.Mode > PerRequest {
		errs = append(errs, fmt.Errorf("%w: unknown connection mode %d", ErrInvalidJob, o.Mode))
	}
	if o.Protocol > HTTP2 {
		errs = append(errs, fmt.Errorf("%w: unknown protocol %d", ErrInvalidJob, o.Protocol))
	}
	if o.Timing > TimingPrecise {
		errs = append(errs, fmt.Errorf("%w: unknown timing %d", ErrInvalidJob, o.Timing))
	}
	if o.Impl > ImplNetHTTP {
		errs = append(errs, fmt.Errorf("%w: unknown implementation %d", ErrInvalidJob, o.Impl))
	}
	if o.Protocol == HTTP2 && o.Mode == PerRequest {
		errs = append(errs, fmt.Errorf("%w: a new connection per request is HTTP/1.1 only", ErrInvalidJob))
	}
	if len(o.SourceAddrs) > MaxSourceAddrs {
		errs = append(errs, fmt.Errorf("%w: %d source addresses, more than %d", ErrInvalidJob, len(o.SourceAddrs), MaxSourceAddrs))
	}
	for _, a := range o.SourceAddrs {
		if !a.IsValid() {
			errs = append(errs, fmt.Errorf("%w: invalid source address", ErrInvalidJob))
			break
		}
	}
	if o.FollowRedirects < 0 || o.FollowRedirects > MaxFollowRedirects {
		errs = append(errs, fmt.Errorf("%w: follow redirects %d must be in 0..%d", ErrInvalidJob, o.FollowRedirects, MaxFollowRedirects))
	}
	if o.ConnectTimeout < 0 || o.ConnectTimeout > time.Hour {
		errs = append(errs, fmt.Errorf("%w: connect timeout %v must be in [0, 1h]", ErrInvalidJob, o.ConnectTimeout))
	}
	if o.FirstByteTimeout < 0 || o.FirstByteTimeout > time.Hour {
		errs = append(errs, fmt.Errorf("%w: first-byte timeout %v must be in [0, 1h]", ErrInvalidJob, o.FirstByteTimeout))
	}
	if _, _, err := o.tlsMaterial(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// String names the options' connection mode for reports and logs.
func (m ConnMode) String() string {
	switch m {
	case KeepAlive:
		return "keep-alive"
	case PerRequest:
		return "per-request"
	}
	return fmt.Sprintf("ConnMode(%d)", m)
}

func (p Protocol) String() string {
	switch p {
	case HTTP1:
		return "http/1.1"
	case HTTP2:
		return "h2"
	}
	return fmt.Sprintf("Protocol(%d)", p)
}

func (t Timing) String() string {
	switch t {
	case TimingDefault:
		return "default"
	case TimingPrecise:
		return "precise"
	}
	return fmt.Sprintf("Timing(%d)", t)
}

func (i Implementation) String() string {
	switch i {
	case ImplNative:
		return "surge"
	case ImplNetHTTP:
		return "net/http"
	}
	return fmt.Sprintf("Implementation(%d)", i)
}
