package targets

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Limits of the echo target.
const (
	// MaxEchoBodyBytes is the largest response body EchoConfig allows.
	MaxEchoBodyBytes = 16 << 20
	// MaxRequestBodyBytes is how much of a request body a target reads;
	// a larger body gets 413 Request Entity Too Large.
	MaxRequestBodyBytes = 1 << 20
)

// EchoConfig configures the echo target: a server whose every answer is
// fixed, so that the latency and throughput a load test measures against it
// can be predicted exactly.
type EchoConfig struct {
	// Delay is the service time of every request except /health: the
	// handler waits this long (on a timer, using no CPU) before it
	// answers. A request whose client goes away stops waiting. Requests
	// are delayed concurrently, with no limit, so the target has infinite
	// capacity at this latency. Default 0; must not be negative.
	Delay time.Duration

	// Status is the HTTP status of every response except /health, from
	// 200 to 599. Zero means 200. 204 and 304 allow no body, so they need
	// BodyBytes 0.
	Status int

	// BodyBytes is the size of every response body except /health's, in
	// bytes, from 0 to MaxEchoBodyBytes. The body is the ASCII pattern
	// "0123456789abcdefghijklmnopqrstuvwxyz\n" repeated and cut to size,
	// built once, so a large body costs the server no allocation.
	// DefaultEchoConfig sets 64, about the size of a small JSON answer.
	BodyBytes int
}

// DefaultEchoConfig returns the configuration of the bundled echo target:
// no delay, status 200 and a 64-byte body.
func DefaultEchoConfig() EchoConfig {
	return EchoConfig{Delay: 0, Status: http.StatusOK, BodyBytes: 64}
}

// echoPattern is what echo response bodies are made of.
const echoPattern = "0123456789abcdefghijklmnopqrstuvwxyz\n"

// NewEcho returns the echo handler for cfg.
//
// GET or HEAD /health answers 200 "ok" at once. GET /metrics answers at
// once with a Prometheus text exposition that holds no metric (a comment
// only): echo has no components, and whoever reads a bundled target's
// /metrics (the coordinator does, every interval) finds that out rather
// than a parse error. Every other request has its body read and discarded
// (up to MaxRequestBodyBytes; more gets 413), waits cfg.Delay, and gets
// cfg.Status with a body of cfg.BodyBytes bytes.
func NewEcho(cfg EchoConfig) (http.Handler, error) {
	if cfg.Status == 0 {
		cfg.Status = http.StatusOK
	}
	var errs []error
	if cfg.Delay < 0 {
		errs = append(errs, fmt.Errorf("delay must not be negative (got %v)", cfg.Delay))
	}
	if cfg.Status < 200 || cfg.Status > 599 {
		errs = append(errs, fmt.Errorf("status must be from 200 to 599 (got %d)", cfg.Status))
	}
	if cfg.BodyBytes < 0 || cfg.BodyBytes > MaxEchoBodyBytes {
		errs = append(errs, fmt.Errorf("body bytes must be from 0 to %d (got %d)", MaxEchoBodyBytes, cfg.BodyBytes))
	} else if cfg.BodyBytes > 0 && !bodyAllowed(cfg.Status) {
		errs = append(errs, fmt.Errorf("status %d allows no body; set body bytes to 0 (got %d)", cfg.Status, cfg.BodyBytes))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("echo: %w", err)
	}

	e := &echo{delay: cfg.Delay, status: cfg.Status}
	if bodyAllowed(cfg.Status) {
		e.body = make([]byte, cfg.BodyBytes)
		for i := range e.body {
			e.body[i] = echoPattern[i%len(echoPattern)]
		}
		e.length = []string{strconv.Itoa(cfg.BodyBytes)}
	}
	return e, nil
}

// bodyAllowed reports whether a response with this status may carry a
// body and its Content-Length (RFC 9110 §6.4.1, §8.6).
func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified
}

// echo is the handler. It is read-only after NewEcho.
type echo struct {
	delay  time.Duration
	status int
	body   []byte
	length []string // Content-Length value; nil when no body is allowed
}

// Header values shared by every response. Assigning the slices directly
// saves the allocation of Header.Set; net/http only reads them.
var (
	contentTypeText   = []string{"text/plain; charset=utf-8"}
	contentTypeBinary = []string{"application/octet-stream"}
	healthBody        = []byte("ok")
	healthLength      = []string{strconv.Itoa(len(healthBody))}
	// metricsBody is echo's /metrics: the Prometheus text format (0.0.4)
	// with no metric family; a line starting with "#" and no HELP or TYPE
	// is a comment.
	metricsBody        = []byte("# the echo target has no components and exports no metrics\n")
	metricsLength      = []string{strconv.Itoa(len(metricsBody))}
	contentTypeMetrics = []string{"text/plain; version=0.0.4; charset=utf-8"}
)

func (e *echo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/health" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		h := w.Header()
		h["Content-Type"] = contentTypeText
		h["Content-Length"] = healthLength
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(healthBody) // a write error means the client left
		return
	}
	if r.URL.Path == "/metrics" && r.Method == http.MethodGet {
		h := w.Header()
		h["Content-Type"] = contentTypeMetrics
		h["Content-Length"] = metricsLength
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(metricsBody)
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		body := http.MaxBytesReader(w, r.Body, MaxRequestBodyBytes)
		if _, err := io.Copy(io.Discard, body); err != nil {
			if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
				http.Error(w, "request body larger than 1 MiB", http.StatusRequestEntityTooLarge)
			}
			return // otherwise the client went away mid-body
		}
	}
	if e.delay > 0 {
		t := time.NewTimer(e.delay)
		select {
		case <-t.C:
		case <-r.Context().Done(): // the client left or the server is closing
			t.Stop()
			return
		}
	}
	h := w.Header()
	if e.length != nil {
		h["Content-Type"] = contentTypeBinary
		h["Content-Length"] = e.length
	}
	w.WriteHeader(e.status)
	_, _ = w.Write(e.body)
}
