package engine

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/surgeload/surge/internal/h1"
	"github.com/surgeload/surge/internal/metrics"
)

// transport performs the requests of one job.
type transport interface {
	// do performs the request of arrival i (following redirects when the
	// job asks) within timeout, and fills res's Outcome, BytesIn, BytesOut
	// and Truncated (the native client also ConnWait).
	// It returns the request's instants on its way: when it had a
	// connection in hand (on the wire: service time starts there) and
	// when the first response byte came, each zero if it never got there.
	do(c *compiled, i uint64, timeout time.Duration, res *metrics.Result) instants
	// close ends every connection; outstanding do calls return promptly.
	close()
}

// instants are the points a request reached after it was dispatched,
// and how its connection was opened if it was opened for it.
type instants struct {
	onWire, wrote, firstByte time.Time
	// readDone, if set, is when the body was read, before done (a
	// redirect followed after it).
	readDone time.Time
	conn     h1.ConnTimes
}

// netHTTP is the transport built on Go's net/http: HTTP/2, and HTTP/1.1
// when the job asks for it.
type netHTTP struct {
	r      *runner
	client *http.Client
	tr     *http.Transport
	ctx    context.Context
	cancel context.CancelFunc
}

func (e *Engine) newNetHTTP(r *runner) (*netHTTP, error) {
	j := r.job
	o := j.Client
	connect := connectTimeout(j)
	tr := &http.Transport{
		DialContext:           timedDial(e.dialer(connect, o.SourceAddrs).DialContext),
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   e.cfg.MaxIdleConnsPerHost,
		MaxConnsPerHost:       j.Limits.MaxConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   connect,
		ResponseHeaderTimeout: o.FirstByteTimeout,
		DisableCompression:    true,
		// The same bound on a response's headers as Surge's own client
		// (net/http's default is 10 MB: a hostile target then costs
		// hundreds of MB of memory and reads as a timeout). Exceeding it
		// is a protocol_error, as with h1.
		MaxResponseHeaderBytes: h1.DefaultMaxHeaderBytes,
		DisableKeepAlives:      o.Mode == PerRequest,
		TLSClientConfig:        tlsConfig(o),
	}
	var p http.Protocols
	switch o.Protocol {
	case HTTP2:
		p.SetHTTP2(true)
		if j.Target.Scheme == "http" {
			p.SetUnencryptedHTTP2(true)
		}
		// Requests to an absolute https URL may still negotiate HTTP/2
		// by ALPN; HTTP/1.1 stays allowed for servers without it.
		p.SetHTTP1(j.Target.Scheme == "https")
	default:
		p.SetHTTP1(true)
	}
	tr.Protocols = &p
	ctx, cancel := context.WithCancel(context.Background())
	follow := o.FollowRedirects
	return &netHTTP{
		r:  r,
		tr: tr,
		client: &http.Client{
			Transport: tr,
			CheckRedirect: func(_ *http.Request, via []*http.Request) error {
				if len(via) > follow {
					// Not followed: the 3xx is the target's answer.
					return http.ErrUseLastResponse
				}
				return nil
			},
		},
		ctx:    ctx,
		cancel: cancel,
	}, nil
}

// tlsConfig is the TLS client configuration of a job: verification on
// unless asked otherwise, sessions resumed.
func tlsConfig(o ClientOptions) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: o.InsecureSkipVerify, //nolint:gosec // only when the scenario asks, with a warning
		ClientSessionCache: tls.NewLRUClientSessionCache(1024),
	}
}

// connectTimeout bounds getting a connection for one request.
func connectTimeout(j *Job) time.Duration {
	if j.Client.ConnectTimeout > 0 {
		return j.Client.ConnectTimeout
	}
	return min(j.Limits.Timeout, 10*time.Second)
}

func (t *netHTTP) close() {
	t.cancel()
	t.tr.CloseIdleConnections()
}

func (t *netHTTP) do(c *compiled, i uint64, timeout time.Duration, res *metrics.Result) instants {
	ctx, cancel := context.WithTimeout(t.ctx, timeout)
	defer cancel()
	// The trace marks when the request got its connection (the actual
	// send: service time starts there, so waiting for a pooled connection
	// shows in response time only) and when the first response byte came
	// (which phase a timeout hit).
	var ph phases
	hreq, err := t.build(ph.context(ctx), c, i)
	if err != nil {
		res.Outcome = metrics.Other
		return instants{}
	}
	res.BytesOut = hreq.ContentLength
	resp, err := t.client.Do(hreq)
	if err == nil {
		res.BytesIn, res.Truncated, err = readBody(resp.Body, t.r.job.Limits.MaxBodyBytes)
		resp.Body.Close()
		if err == nil {
			res.Outcome = c.classifyResponse(resp.StatusCode, breakerOpen(resp.StatusCode, resp.Header))
			return ph.instants()
		}
	}
	res.Outcome = classifyErr(err)
	if res.Outcome == metrics.Timeout {
		res.Outcome = ph.timeoutClass()
	}
	return ph.instants()
}

// build renders the request of arrival i.
func (t *netHTTP) build(ctx context.Context, c *compiled, i uint64) (*http.Request, error) {
	return t.buildVars(ctx, c, i, c.seed, nil)
}

// readBody reads at most limit bytes of body and discards them.
func readBody(body io.Reader, limit int64) (n int64, truncated bool, err error) {
	n, err = io.Copy(io.Discard, io.LimitReader(body, limit+1))
	if n > limit {
		return limit, true, nil
	}
	return n, false, err
}

// monotonic turns unix ns (0: never) into a time with a monotonic
// reading relative to now, so it subtracts exactly from other instants.
func monotonic(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	now := time.Now()
	return now.Add(-time.Duration(now.UnixNano() - ns))
}

// timeoutClass says which phase a timeout hit.
func (p *phases) timeoutClass() metrics.Outcome {
	switch {
	case p.conn.Load() == 0:
		return metrics.TimeoutConnect
	case p.firstByte.Load() == 0:
		return metrics.TimeoutFirstByte
	default:
		return metrics.Timeout
	}
}

// isTLSError reports a failed TLS handshake.
func isTLSError(err error) bool {
	var (
		rec      tls.RecordHeaderError
		alert    tls.AlertError
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	return errors.As(err, &rec) || errors.As(err, &alert) || errors.As(err, &verify) ||
		errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid)
}

// newTransport picks the job's transport: Surge's own HTTP/1.1 client
// unless the job asks for HTTP/2 or for net/http.
//
// Journeys and checks read response bodies and keep cookies: they always
// use net/http.
func (e *Engine) newTransport(r *runner) (transport, error) {
	if r.job.Client.Protocol == HTTP1 && r.job.Client.Impl == ImplNative && !r.job.needsBodies() {
		return e.newNative(r), nil
	}
	return e.newNetHTTP(r)
}

// needsBodies reports whether the job reads response bodies: journeys, or
// requests with checks.
func (j *Job) needsBodies() bool {
	if len(j.Journeys) > 0 {
		return true
	}
	for _, r := range j.Requests {
		if len(r.Checks) > 0 {
			return true
		}
	}
	return false
}
