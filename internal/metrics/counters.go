package metrics

import (
	"errors"
	"fmt"
)

// ErrUnbalanced is wrapped by accounting errors: counts that do not add up.
var ErrUnbalanced = errors.New("counts do not balance")

// Outcome is the class of a finished request.
type Outcome uint8

// Outcome classes. Everything but OK counts as failed.
const (
	OK               Outcome = iota // a response with an expected status
	HTTP4xx                         // a 4xx response
	HTTP5xx                         // a 5xx response
	Timeout                         // timed out while reading the response (the total timeout)
	ConnRefused                     // the target refused the connection
	ConnReset                       // the connection was reset or closed mid-request
	Other                           // anything else
	UnexpectedStatus                // a 2xx/3xx status not in the request's expected list
	TimeoutConnect                  // timed out before a connection was ready (dialling, or waiting for a pooled one)
	TimeoutFirstByte                // timed out after sending, before the first byte of the response
	DialError                       // no connection could be made: an address not allowed, no free local port, unreachable, no such host
	ProtocolError                   // the target's response broke HTTP: malformed status line, headers or chunking, oversized headers, conflicting lengths
	TLSError                        // the TLS handshake failed: certificate not trusted, wrong name, no common protocol
	// LocalResource: the generator ran out of a resource of its own (file
	// descriptors: EMFILE, ENFILE), so no request was sent. The target is
	// not at fault; a stage with these is generator-limited.
	LocalResource
	// CheckFailed: the response came with an expected status, but one of
	// the request's checks (body, JSON path, header) did not hold.
	CheckFailed
	// ExtractFailed: a journey step's response did not have a value the
	// step extracts (the next steps would have sent it empty).
	ExtractFailed
	// RateLimited: a 429 Too Many Requests (unless 429 is expected): a
	// rate limiter refused the request. Counted apart from http_4xx.
	RateLimited
	// BreakerOpen: a 503 carrying "X-Surge-Breaker: open" (unless 503 is
	// expected): an open circuit breaker refused the request without
	// calling the component behind it. Counted apart from http_5xx.
	BreakerOpen
	NumOutcomes
)

var outcomeNames = [NumOutcomes]string{"ok", "http_4xx", "http_5xx", "timeout", "conn_refused", "conn_reset", "other",
	"unexpected_status", "timeout_connect", "timeout_first_byte", "dial_error", "protocol_error", "tls_error",
	"local_resource", "check_failed", "extract_failed", "rate_limited", "breaker_open"}

// String is the class name used in reports and on the wire.
func (o Outcome) String() string {
	if o < NumOutcomes {
		return outcomeNames[o]
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// ParseOutcome maps a class name back to its Outcome.
func ParseOutcome(s string) (Outcome, bool) {
	for o, n := range outcomeNames {
		if n == s {
			return Outcome(o), true
		}
	}
	return 0, false
}

// DropCause says why an arrival was not sent.
type DropCause uint8

// Drop causes.
const (
	// InFlightCap: the arrival fell due while the in-flight cap was reached.
	InFlightCap DropCause = iota
	NumDropCauses
)

var dropNames = [NumDropCauses]string{"in_flight_cap"}

// String is the cause name used in reports and on the wire.
func (c DropCause) String() string {
	if c < NumDropCauses {
		return dropNames[c]
	}
	return fmt.Sprintf("drop(%d)", uint8(c))
}

// ParseDropCause maps a cause name back to its DropCause.
func ParseDropCause(s string) (DropCause, bool) {
	for c, n := range dropNames {
		if n == s {
			return DropCause(c), true
		}
	}
	return 0, false
}

// Counters are the exact counts of one series over some span of time.
//
// Within the span in which they were recorded, every arrival the pacer
// reached is intended and either issued or dropped, so
// Intended == Issued + Dropped holds for every snapshot; completions
// (Succeeded, Failed) may fall in a later span than their issue.
type Counters struct {
	Intended  uint64
	Issued    uint64
	Dropped   uint64
	Succeeded uint64
	Failed    uint64
	// Errors counts finished requests by class; Errors[OK] is always 0
	// (successes are in Succeeded), and the rest add up to Failed.
	Errors [NumOutcomes]uint64
	// DroppedBy counts dropped arrivals by cause; they add up to Dropped.
	DroppedBy [NumDropCauses]uint64
	// BytesIn is response body bytes read; BytesOut is request body bytes.
	BytesIn  uint64
	BytesOut uint64
	// OverRange counts latencies clamped to the histogram ceiling.
	OverRange uint64
	// BodyTruncated counts responses whose body exceeded the read limit.
	BodyTruncated uint64
	// ConnWaits counts requests that found every pooled connection busy
	// at the pool's bound (max_conns), or dialling at its bound, and waited
	// for a connection: their send was held back by the client, and the
	// wait is in their response time.
	ConnWaits uint64
	// NewConns counts requests that were the first on a connection opened
	// for them: the requests with DNS, connect and TLS phases (Phases).
	NewConns uint64
}

// Add adds o into c.
func (c *Counters) Add(o Counters) {
	c.Intended += o.Intended
	c.Issued += o.Issued
	c.Dropped += o.Dropped
	c.Succeeded += o.Succeeded
	c.Failed += o.Failed
	for i := range c.Errors {
		c.Errors[i] += o.Errors[i]
	}
	for i := range c.DroppedBy {
		c.DroppedBy[i] += o.DroppedBy[i]
	}
	c.BytesIn += o.BytesIn
	c.BytesOut += o.BytesOut
	c.OverRange += o.OverRange
	c.BodyTruncated += o.BodyTruncated
	c.ConnWaits += o.ConnWaits
	c.NewConns += o.NewConns
}

// Check verifies the identities that hold for any span recorded by one
// pacer: intended = issued + dropped, dropped = Σ dropped by cause,
// failed = Σ errors, and no more completions than issues.
func (c Counters) Check() error {
	var errs []error
	if c.Intended != c.Issued+c.Dropped {
		errs = append(errs, fmt.Errorf("%w: intended %d != issued %d + dropped %d", ErrUnbalanced, c.Intended, c.Issued, c.Dropped))
	}
	var d uint64
	for _, v := range c.DroppedBy {
		d += v
	}
	if d != c.Dropped {
		errs = append(errs, fmt.Errorf("%w: dropped %d != sum by cause %d", ErrUnbalanced, c.Dropped, d))
	}
	var f uint64
	for _, v := range c.Errors {
		f += v
	}
	if c.Errors[OK] != 0 {
		errs = append(errs, fmt.Errorf("%w: %d errors of class ok", ErrUnbalanced, c.Errors[OK]))
	}
	if f != c.Failed {
		errs = append(errs, fmt.Errorf("%w: failed %d != sum of errors %d", ErrUnbalanced, c.Failed, f))
	}
	return errors.Join(errs...)
}

// Completed is Succeeded + Failed.
func (c Counters) Completed() uint64 { return c.Succeeded + c.Failed }
