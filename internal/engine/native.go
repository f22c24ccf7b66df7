package engine

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/surgeload/surge/internal/h1"
	"github.com/surgeload/surge/internal/metrics"
)

// native is the transport built on Surge's own HTTP/1.1 client (package
// h1): each arrival's goroutine takes a connection, writes the request,
// reads the response and puts the connection back, with no other
// goroutine involved and no allocation for a static request.
type native struct {
	r         *runner
	c         *h1.Client
	follow    int
	connect   time.Duration
	firstByte time.Duration
	maxBody   int64
	scratch   sync.Pool // of *nativeScratch
	// loops are the run's sender loops over c, ended by close.
	loops []*sender
}

// nativeReq is a request ready for h1: where it goes and what is written.
type nativeReq struct {
	url    *url.URL // for resolving redirects
	target h1.Target
	req    h1.Request
}

// nativeScratch holds what a templated request renders into.
type nativeScratch struct {
	buf []byte
	nr  nativeReq
}

func (e *Engine) newNative(r *runner) *native {
	j := r.job
	o := j.Client
	t := &native{
		r: r,
		c: h1.New(h1.Config{
			ControlContext:  e.h1Control,
			Resolver:        e.cfg.Resolver,
			MaxConnsPerHost: j.Limits.MaxConns,
			PerRequest:      o.Mode == PerRequest,
			SourceAddrs:     o.SourceAddrs,
			TLS:             tlsConfig(o),
		}),
		follow:    o.FollowRedirects,
		connect:   connectTimeout(j),
		firstByte: o.FirstByteTimeout,
		maxBody:   j.Limits.MaxBodyBytes,
	}
	t.scratch.New = func() any { return new(nativeScratch) }
	return t
}

// close ends every request: the client's connections and dials first
// (which cuts short the loops' dials), then the loops.
func (t *native) close() {
	t.c.Close()
	stopLoops(t.loops)
}

// newNativeReq prepares the h1 form of a request to u.
func newNativeReq(u *url.URL, method string, static []h1.Header, host string, body []byte) (nativeReq, error) {
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nativeReq{}, fmt.Errorf("%w: %q is not an absolute http(s) URL", ErrInvalidJob, u.Redacted())
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	if host == "" {
		host = u.Host
	}
	return nativeReq{
		url:    u,
		target: h1.Target{Addr: net.JoinHostPort(u.Hostname(), port), TLS: u.Scheme == "https", ServerName: u.Hostname()},
		req:    h1.Request{Method: method, URI: u.RequestURI(), Host: host, Header: static, Body: body},
	}, nil
}

// options are the h1 options of a request dispatched at start.
func (t *native) options(start time.Time, timeout time.Duration) h1.Options {
	opt := h1.Options{
		Deadline:        start.Add(timeout),
		ConnectDeadline: start.Add(min(t.connect, timeout)),
		MaxBody:         t.maxBody,
		WantLocation:    t.follow > 0,
	}
	if t.firstByte > 0 {
		opt.FirstByteTimeout = t.firstByte
	}
	return opt
}

// hop adds what one hop of a request did (r, err: h1's answer for
// nr) to res. For a hop that ended, it sets res.Outcome and reports done;
// a redirect to follow is not done.
func (t *native) hop(c *compiled, nr *nativeReq, r *h1.Result, err error, res *metrics.Result) (done bool) {
	if r.Phase > h1.PhaseWrite { // counted as nethttp does: body bytes that were sent
		res.BytesOut += int64(len(nr.req.Body))
	}
	res.BytesIn += r.BodyBytes
	res.Truncated = res.Truncated || r.Truncated
	res.ConnWait = res.ConnWait || r.Waited
	switch {
	case err != nil:
		res.Outcome = classifyNative(err, r.Phase)
		return true
	case t.follow > 0 && isRedirect(r.Status) && r.Location != "":
		return false
	}
	res.Outcome = c.classifyResponse(r.Status, r.BreakerOpen)
	return true
}

func (t *native) do(c *compiled, i uint64, timeout time.Duration, res *metrics.Result) instants {
	opt := t.options(time.Now(), timeout)
	nr := c.native
	if nr == nil { // templated: render this arrival's request
		s := t.scratch.Get().(*nativeScratch)
		defer t.scratch.Put(s)
		var err error
		if nr, err = t.render(s, c, i); err != nil {
			res.Outcome = metrics.Other
			return instants{}
		}
	}
	var at instants // of the first hop
	for hop := 0; ; hop++ {
		r, err := t.c.Do(nr.target, &nr.req, opt)
		if hop == 0 {
			at = instants{onWire: r.ConnAt, wrote: r.WroteAt, firstByte: r.FirstByte, conn: r.Conn}
		}
		if t.hop(c, nr, &r, err, res) {
			return at
		}
		if hop == 0 {
			at.readDone = time.Now() // its phases are the first hop's
		}
		if hop == t.follow {
			res.Outcome = c.classifyResponse(r.Status, r.BreakerOpen)
			return at
		}
		next, err := redirect(nr, r.Status, r.Location)
		if err != nil {
			res.Outcome = metrics.ProtocolError
			return at
		}
		nr = next
	}
}

// render fills s with the request of arrival i.
func (t *native) render(s *nativeScratch, c *compiled, i uint64) (*nativeReq, error) {
	data := t.r.job.Data
	u := c.nativeURL
	if u == nil {
		s.buf = c.url.Append(s.buf[:0], c.seed, i, data)
		var err error
		if u, err = url.Parse(string(s.buf)); err != nil {
			return nil, err
		}
	}
	hdr := c.nativeHeader
	host := c.nativeHost
	if len(c.headerTmpl) > 0 {
		hdr = slices.Clone(hdr)
		for _, h := range c.headerTmpl {
			v := string(h.tmpl.Append(nil, h.seed, i, data))
			if http.CanonicalHeaderKey(h.name) == "Host" {
				host = v
				continue
			}
			hdr = append(hdr, h1.Header{Name: h.name, Value: v})
		}
	}
	body := c.staticBody
	if c.body != nil {
		body = c.body.Append(nil, c.bodySeed, i, data)
	}
	nr, err := newNativeReq(u, c.method, hdr, host, body)
	if err != nil {
		return nil, err
	}
	s.nr = nr
	return &s.nr, nil
}

// isRedirect reports the statuses whose Location is followed when asked.
func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// redirect is the request that follows a redirect, as browsers and
// net/http do: 307 and 308 repeat the method and body; 303, and 301/302
// after anything but GET or HEAD, become a GET without a body.
func redirect(prev *nativeReq, status int, location string) (*nativeReq, error) {
	loc, err := prev.url.Parse(location)
	if err != nil {
		return nil, fmt.Errorf("bad Location %q: %w", location, err)
	}
	method, body := prev.req.Method, prev.req.Body
	if status == http.StatusSeeOther || (status != http.StatusTemporaryRedirect && status != http.StatusPermanentRedirect &&
		method != http.MethodGet && method != http.MethodHead) {
		method, body = http.MethodGet, nil
	}
	host := ""
	if loc.Host == prev.url.Host {
		host = prev.req.Host // keep an explicit Host header on the same host
	}
	nr, err := newNativeReq(loc, method, prev.req.Header, host, body)
	if err != nil {
		return nil, err
	}
	return &nr, nil
}

// classifyNative maps an h1 error to an outcome class; a timeout is
// classified by the phase it hit.
func classifyNative(err error, ph h1.Phase) metrics.Outcome {
	switch {
	case errors.Is(err, h1.ErrMalformed):
		return metrics.ProtocolError
	case errors.Is(err, os.ErrDeadlineExceeded):
		switch ph {
		case h1.PhaseConnect:
			return metrics.TimeoutConnect
		case h1.PhaseWrite, h1.PhaseFirstByte:
			return metrics.TimeoutFirstByte
		default:
			return metrics.Timeout
		}
	}
	return classifyErr(err)
}
