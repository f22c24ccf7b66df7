package h1

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"
)

const bufSize = 4 << 10 // bufio.Reader and bufio.Writer of a connection

// conn is one connection and the buffers it keeps for its life.
type conn struct {
	tcp *net.TCPConn    // the socket: deadlines, close, idle peek
	raw syscall.RawConn // of tcp, for the idle peek; nil if unavailable
	rd  connReader      // what br reads from: tcp or the tls.Conn over it
	br  *bufio.Reader
	bw  *bufio.Writer
	hp  *hostPool
	// opened are the times of the connection's opening, Dialed until the
	// first request on it takes them.
	opened ConnTimes

	// The deadlines currently set on the socket, so that an unchanged one
	// is not set again.
	rdl, wdl time.Time

	// Guarded by Client.mu.
	idleAt     time.Time
	closed     bool
	prev, next *conn // Client.all

	// The idle peek; peekFn is built once so a check allocates nothing.
	peekFn  func(fd uintptr) bool
	peekN   int
	peekErr error
	peekBuf [1]byte
}

// connReader is the reader under a connection's bufio.Reader. It remembers
// the last error, because bufio.Reader keeps an error that arrived with
// data (a TLS close_notify read in the same Read as the last record) for
// the next read: such a connection must not be pooled.
type connReader struct {
	r   net.Conn
	err error
}

func (r *connReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil {
		r.err = err
	}
	return n, err
}

func newConn(tcp *net.TCPConn, hp *hostPool) *conn {
	cn := &conn{tcp: tcp, hp: hp}
	if raw, err := tcp.SyscallConn(); err == nil {
		cn.raw = raw
	}
	cn.peekFn = func(fd uintptr) bool {
		cn.peekN, cn.peekErr = peek(fd, cn.peekBuf[:])
		return true // never wait: the socket is non-blocking
	}
	cn.rd.r = tcp
	cn.br = bufio.NewReaderSize(&cn.rd, bufSize)
	cn.bw = bufio.NewWriterSize(tcp, bufSize)
	return cn
}

// useTLS switches reads and writes to tc, a TLS client over cn.tcp.
func (cn *conn) useTLS(tc *tls.Conn) {
	cn.rd.r = tc
	cn.bw.Reset(tc)
}

// closeSocket closes the TCP connection. Under TLS no close_notify is sent:
// it would cost a write (and could block on a full send buffer), and the
// response framing, not the alert, tells where a response ends.
func (cn *conn) closeSocket() { cn.tcp.Close() }

// setDeadlines sets the write and read deadlines, skipping unchanged ones
// and using one call when they are equal.
func (cn *conn) setDeadlines(w, r time.Time) error {
	wOK, rOK := w.Equal(cn.wdl), r.Equal(cn.rdl)
	switch {
	case wOK && rOK:
		return nil
	case w.Equal(r) && !wOK && !rOK:
		if err := cn.tcp.SetDeadline(w); err != nil {
			return err
		}
		cn.wdl, cn.rdl = w, r
		return nil
	}
	if !wOK {
		if err := cn.tcp.SetWriteDeadline(w); err != nil {
			return err
		}
		cn.wdl = w
	}
	return cn.setReadDeadline(r)
}

func (cn *conn) setReadDeadline(r time.Time) error {
	if r.Equal(cn.rdl) {
		return nil
	}
	if err := cn.tcp.SetReadDeadline(r); err != nil {
		return err
	}
	cn.rdl = r
	return nil
}

// alive reports whether an idle connection can still be used: nothing
// unread, no error seen, and a non-blocking MSG_PEEK on the socket finds
// neither EOF, nor an error, nor unsolicited bytes.
func (cn *conn) alive() bool {
	if cn.br.Buffered() > 0 || cn.rd.err != nil {
		return false
	}
	if cn.raw == nil || !canPeek {
		return true
	}
	// RawConn.Read fails at once if the last request's read deadline has
	// passed; the next request sets its own.
	if err := cn.setReadDeadline(time.Time{}); err != nil {
		return false
	}
	cn.peekN, cn.peekErr = 0, nil
	if err := cn.raw.Read(cn.peekFn); err != nil {
		return false
	}
	switch {
	case cn.peekErr == syscall.EAGAIN || cn.peekErr == syscall.EWOULDBLOCK:
		return true // nothing to read: open and quiet
	case cn.peekErr != nil: // reset, or another error
		return false
	default: // n == 0: EOF; n > 0: bytes nobody asked for
		return false
	}
}

// writeRequest writes req into the buffered writer and flushes it with one
// write (for requests up to the buffer size). It returns the bytes the
// socket accepted.
func (cn *conn) writeRequest(req *Request, host string, closeConn bool) (int64, error) {
	bw := cn.bw
	method := req.Method
	if method == "" {
		method = "GET"
	}
	uri := req.URI
	if uri == "" {
		uri = "/"
	}
	// Errors are sticky in bufio.Writer: the Flush below reports them.
	bw.WriteString(method)
	bw.WriteByte(' ')
	bw.WriteString(uri)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
	n := len(method) + 1 + len(uri) + len(" HTTP/1.1\r\nHost: ") + len(host) + 2
	for i := range req.Header {
		h := &req.Header[i]
		bw.WriteString(h.Name)
		bw.WriteString(": ")
		bw.WriteString(h.Value)
		bw.WriteString("\r\n")
		n += len(h.Name) + 2 + len(h.Value) + 2
	}
	if req.Body != nil || method == "POST" || method == "PUT" || method == "PATCH" {
		bw.WriteString("Content-Length: ")
		n += len("Content-Length: ") + writeInt(bw, len(req.Body)) + 2
		bw.WriteString("\r\n")
	}
	if closeConn {
		bw.WriteString("Connection: close\r\n")
		n += len("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
	n += 2
	if len(req.Body) > 0 {
		bw.Write(req.Body)
		n += len(req.Body)
	}
	if err := bw.Flush(); err != nil {
		// What is still buffered never reached the socket. (A body larger
		// than the buffer may have been partly written past it; the
		// connection is closed either way.)
		return int64(max(n-bw.Buffered(), 0)), err
	}
	return int64(n), nil
}

// appendRequest appends req as writeRequest writes it (the event loop's
// form: one buffer, written by the loop when the socket takes it).
func appendRequest(dst []byte, req *Request, host string, closeConn bool) []byte {
	method := req.Method
	if method == "" {
		method = "GET"
	}
	uri := req.URI
	if uri == "" {
		uri = "/"
	}
	dst = append(dst, method...)
	dst = append(dst, ' ')
	dst = append(dst, uri...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, "\r\n"...)
	for i := range req.Header {
		h := &req.Header[i]
		dst = append(dst, h.Name...)
		dst = append(dst, ": "...)
		dst = append(dst, h.Value...)
		dst = append(dst, "\r\n"...)
	}
	if req.Body != nil || method == "POST" || method == "PUT" || method == "PATCH" {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, int64(len(req.Body)), 10)
		dst = append(dst, "\r\n"...)
	}
	if closeConn {
		dst = append(dst, "Connection: close\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	return append(dst, req.Body...)
}

// writeInt writes v in decimal and returns its length, without a
// temporary buffer escaping to the heap.
func writeInt(bw *bufio.Writer, v int) int {
	var d [20]byte
	i := len(d)
	for {
		i--
		d[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	for _, b := range d[i:] {
		bw.WriteByte(b)
	}
	return len(d) - i
}

// validRequest checks that req can be written without breaking the message
// framing: a token method, a request-target and header values without
// control characters, token header names, and none of the headers the
// Client writes itself.
func validRequest(req *Request) error {
	if req == nil {
		return fmt.Errorf("%w: nil", ErrInvalidRequest)
	}
	if req.Method != "" && !httpguts.ValidHeaderFieldName(req.Method) { // a method is a token
		return fmt.Errorf("%w: method %q", ErrInvalidRequest, req.Method)
	}
	for i := 0; i < len(req.URI); i++ {
		if b := req.URI[i]; b <= ' ' || b == 0x7f {
			return fmt.Errorf("%w: request target %q", ErrInvalidRequest, req.URI)
		}
	}
	if !httpguts.ValidHeaderFieldValue(req.Host) {
		return fmt.Errorf("%w: host %q", ErrInvalidRequest, req.Host)
	}
	for i := range req.Header {
		h := &req.Header[i]
		if !httpguts.ValidHeaderFieldName(h.Name) {
			return fmt.Errorf("%w: header name %q", ErrInvalidRequest, h.Name)
		}
		if reservedHeader(h.Name) {
			return fmt.Errorf("%w: header %s is written by the client", ErrInvalidRequest, h.Name)
		}
		if !httpguts.ValidHeaderFieldValue(h.Value) { // CR, LF or NUL would split or end the field
			return fmt.Errorf("%w: header %s value %q", ErrInvalidRequest, h.Name, h.Value)
		}
	}
	return nil
}

func reservedHeader(name string) bool {
	switch len(name) {
	case len("host"):
		return equalFoldString(name, "host")
	case len("connection"):
		return equalFoldString(name, "connection")
	case len("content-length"):
		return equalFoldString(name, "content-length")
	case len("transfer-encoding"):
		return equalFoldString(name, "transfer-encoding")
	}
	return false
}

func equalFoldString(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if toLower(s[i]) != lower[i] {
			return false
		}
	}
	return true
}

func toLower(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}
