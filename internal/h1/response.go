package h1

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sync"

	"golang.org/x/net/http/httpguts"
)

// Bounds on a response beyond Config.MaxHeaderBytes and Options.MaxBody.
const (
	maxFields  = 256 // header fields of a response head (interim heads included), or of a trailer
	maxInterim = 8   // 1xx responses skipped before the final one
	// maxChunkExcess bounds chunked framing that carries little data, as
	// net/http does: each chunk may spend 16 bytes plus twice its size on
	// its size line and CRLF for free; beyond that, framing bytes
	// accumulate and more than this many is malformed. This bounds what a
	// peer can make us read with one-byte chunks or long extensions.
	maxChunkExcess = 16 << 10
	scratchSize    = 32 << 10
)

// response is what readResponse found.
type response struct {
	status    int
	bodyBytes int64
	truncated bool
	keepAlive bool // the connection may carry another request
	location  string
	breaker   bool // X-Surge-Breaker: open
}

// scratch holds buffers that large bodies are read into and dropped, so
// they cost one read per 32 KiB instead of per bufio buffer; small bodies
// are discarded within the bufio.Reader.
var scratch = sync.Pool{New: func() any {
	b := make([]byte, scratchSize)
	return &b
}}

// readResponse reads one response from br: interim 1xx responses, the
// final status line and header fields, and the body, discarded as it is
// read. head says the request was HEAD. maxHeader bounds the response head
// (all heads together) and, separately, the trailer; maxBody > 0 bounds the
// body bytes read. wantLoc asks for the Location of a 3xx.
//
// On error, r holds what was read so far. Framing and syntax errors wrap
// ErrMalformed; a body cut short is io.ErrUnexpectedEOF; reader errors are
// returned as they are, and io.EOF only if br had no byte at all.
func readResponse(br *bufio.Reader, head bool, maxHeader int, maxBody int64, wantLoc bool) (r response, err error) {
	h := headReader{br: br, budget: maxHeader}
	var f fieldInfo
	var minor byte
	r.status, minor, err = readHead(&h, &f, wantLoc)
	if err != nil {
		return r, err
	}
	r.location, r.breaker = f.location, f.breaker
	var body bodyKind
	body, r.keepAlive, err = framing(r.status, minor, &f, head)
	if err != nil {
		return r, err
	}
	switch body {
	case bodyNone:
		return r, nil
	case bodyChunked:
		r.bodyBytes, r.truncated, err = readChunked(br, maxHeader, maxBody)
	case bodyToEOF:
		r.bodyBytes, r.truncated, err = readToEOF(br, maxBody)
	default:
		r.bodyBytes, r.truncated, err = readLength(br, f.length, maxBody)
	}
	if r.truncated {
		r.keepAlive = false
	}
	return r, err
}

// readHead reads a response head through h: interim 1xx heads (checked
// and skipped), then the final status line and header fields, recording
// the fields that matter in f. wantLoc asks for the Location of a 3xx.
func readHead(h *headReader, f *fieldInfo, wantLoc bool) (status int, minor byte, err error) {
	for interim := 0; ; interim++ {
		line, long, err := h.next()
		if err != nil {
			return status, minor, err
		}
		if long {
			return status, minor, malformed("status line longer than %d bytes", len(line))
		}
		if status, minor, err = parseStatusLine(line); err != nil {
			return status, minor, err
		}
		if status >= 200 {
			break
		}
		if status == 101 {
			return status, minor, malformed("101 Switching Protocols, but no upgrade was asked for")
		}
		if interim == maxInterim {
			return status, minor, malformed("more than %d interim responses", maxInterim)
		}
		if err := h.fields(nil); err != nil {
			return status, minor, err
		}
	}
	*f = fieldInfo{wantLoc: wantLoc && status >= 300 && status < 400}
	return status, minor, h.fields(f)
}

// bodyKind is how a response's body is delimited.
type bodyKind uint8

const (
	bodyLength  bodyKind = iota // Content-Length bytes
	bodyNone                    // no body: HEAD, 204, 304
	bodyChunked                 // chunked transfer coding, then a trailer
	bodyToEOF                   // until the connection closes
)

// framing decides, from the final head, how the body is delimited (RFC
// 9112 §6.3) and whether the connection may carry another request.
// head says the request was HEAD.
func framing(status int, minor byte, f *fieldInfo, head bool) (body bodyKind, keepAlive bool, err error) {
	if f.te && f.codings == 0 {
		return 0, false, malformed("empty Transfer-Encoding")
	}
	keepAlive = !f.close && (minor == '1' || f.keepAlive)
	if f.te && (f.haveCL || minor == '0') {
		// Transfer-Encoding overrides Content-Length (RFC 9112 §6.3), but
		// a message carrying both, or chunked in HTTP/1.0, may be an
		// attempt at request smuggling: never reuse the connection.
		keepAlive = false
	}
	switch {
	case head || status == 204 || status == 304:
		return bodyNone, keepAlive, nil
	case f.te && f.chunked:
		return bodyChunked, keepAlive, nil
	case f.te: // the final coding is not chunked: the body ends at EOF
		return bodyToEOF, false, nil
	case f.haveCL:
		return bodyLength, keepAlive, nil
	default:
		return bodyToEOF, false, nil
	}
}

// fieldInfo is what the header fields that matter said.
type fieldInfo struct {
	wantLoc   bool
	haveCL    bool
	length    int64
	te        bool // Transfer-Encoding present
	codings   int  // transfer codings listed
	chunked   bool // the final transfer coding is chunked
	close     bool // Connection: close
	keepAlive bool // Connection: keep-alive
	haveLoc   bool
	location  string
	breaker   bool // X-Surge-Breaker: open (Result.BreakerOpen)
}

// headReader reads the lines of a response head within a byte budget.
type headReader struct {
	br       *bufio.Reader
	budget   int // bytes the head may still take
	consumed int // bytes read so far
	nfields  int
}

// next returns the next line without its terminator (LF, or CRLF). A line
// longer than br's buffer comes back as its first part with long set; the
// caller finishes it with skipRest or appendRest.
func (h *headReader) next() (line []byte, long bool, err error) {
	line, err = h.br.ReadSlice('\n')
	if err := h.charge(len(line)); err != nil {
		return nil, false, err
	}
	switch err {
	case nil:
		return trimEOL(line), false, nil
	case bufio.ErrBufferFull:
		return line, true, nil
	case io.EOF:
		if h.consumed == 0 {
			return nil, false, io.EOF
		}
		return nil, false, io.ErrUnexpectedEOF
	}
	return nil, false, err
}

func (h *headReader) charge(n int) error {
	h.consumed += n
	if h.budget -= n; h.budget < 0 {
		return malformed("response head larger than MaxHeaderBytes")
	}
	return nil
}

// skipRest reads past the end of a long line.
func (h *headReader) skipRest() error {
	_, err := h.appendRest(nil, false)
	return err
}

// appendRest reads the rest of a long line, appending it to dst if keep.
func (h *headReader) appendRest(dst []byte, keep bool) ([]byte, error) {
	for {
		chunk, err := h.br.ReadSlice('\n')
		if err := h.charge(len(chunk)); err != nil {
			return dst, err
		}
		switch err {
		case nil:
			if keep {
				dst = trimEOL(append(dst, chunk...))
			}
			return dst, nil
		case bufio.ErrBufferFull:
			if keep {
				dst = append(dst, chunk...)
			}
		case io.EOF:
			return dst, io.ErrUnexpectedEOF
		default:
			return dst, err
		}
	}
}

// fields reads header field lines up to the empty line that ends the head,
// and records the ones that matter in f (nil: check and skip them all).
func (h *headReader) fields(f *fieldInfo) error {
	for {
		line, long, err := h.next()
		if err != nil {
			return err
		}
		if !long && len(line) == 0 {
			return nil
		}
		if h.nfields++; h.nfields > maxFields {
			return malformed("more than %d header fields", maxFields)
		}
		if line[0] == ' ' || line[0] == '\t' {
			return malformed("obsolete line folding")
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			if long {
				return malformed("header field name longer than %d bytes", len(line))
			}
			return malformed("header line without a colon: %q", clip(line))
		}
		name, value := line[:colon], line[colon+1:]
		if !isTokenBytes(name) {
			// Includes whitespace before the colon (RFC 9112 §5.1).
			return malformed("invalid header field name %q", clip(name))
		}
		if f == nil {
			if long {
				if err := h.skipRest(); err != nil {
					return err
				}
			}
			continue
		}
		switch kind := fieldKind(name); {
		case kind == kindLocation && f.wantLoc && !f.haveLoc:
			f.haveLoc = true
			if long {
				v, err := h.appendRest(append([]byte(nil), value...), true)
				if err != nil {
					return err
				}
				value = v
			}
			f.location = string(trimOWS(value))
		case kind == kindBreaker:
			if long { // not the short "open"
				if err := h.skipRest(); err != nil {
					return err
				}
				continue
			}
			f.breaker = equalFold(trimOWS(value), "open")
		case long && kind != kindOther && kind != kindLocation:
			return malformed("header field %s longer than %d bytes", name, len(line))
		case long:
			if err := h.skipRest(); err != nil {
				return err
			}
		case kind == kindContentLength:
			if err := f.contentLength(value); err != nil {
				return err
			}
		case kind == kindTransferEncoding:
			f.te = true
			for rest := value; rest != nil; {
				var el []byte
				el, rest = nextElem(rest)
				if len(el) > 0 {
					f.codings++
					f.chunked = equalFold(el, "chunked")
				}
			}
		case kind == kindConnection:
			for rest := value; rest != nil; {
				var el []byte
				el, rest = nextElem(rest)
				switch {
				case equalFold(el, "close"):
					f.close = true
				case equalFold(el, "keep-alive"):
					f.keepAlive = true
				}
			}
		}
	}
}

// contentLength records one Content-Length field: digits only, a list of
// equal values allowed (RFC 9110 §8.6), all equal to any seen before.
func (f *fieldInfo) contentLength(v []byte) error {
	for rest := v; rest != nil; {
		var el []byte
		el, rest = nextElem(rest)
		if len(el) == 0 || len(el) > 18 { // 18 digits cannot overflow int64
			return malformed("invalid Content-Length %q", clip(v))
		}
		var n int64
		for _, b := range el {
			if b < '0' || b > '9' {
				return malformed("invalid Content-Length %q", clip(v))
			}
			n = n*10 + int64(b-'0')
		}
		if f.haveCL && n != f.length {
			return malformed("conflicting Content-Length values %d and %d", f.length, n)
		}
		f.haveCL, f.length = true, n
	}
	return nil
}

type fieldKindT uint8

const (
	kindOther fieldKindT = iota
	kindContentLength
	kindTransferEncoding
	kindConnection
	kindLocation
	kindBreaker // X-Surge-Breaker, set by Surge's reference targets' circuit breakers
)

// fieldKind matches the names that matter case-insensitively, without
// allocating.
func fieldKind(name []byte) fieldKindT {
	switch len(name) {
	case len("content-length"):
		if equalFold(name, "content-length") {
			return kindContentLength
		}
	case len("transfer-encoding"):
		if equalFold(name, "transfer-encoding") {
			return kindTransferEncoding
		}
	case len("connection"):
		if equalFold(name, "connection") {
			return kindConnection
		}
	case len("location"):
		if equalFold(name, "location") {
			return kindLocation
		}
	case len("x-surge-breaker"):
		if equalFold(name, "x-surge-breaker") {
			return kindBreaker
		}
	}
	return kindOther
}

// parseStatusLine parses "HTTP/1.x SSS reason" and returns the status and
// the minor version ('0' or '1').
func parseStatusLine(line []byte) (status int, minor byte, err error) {
	if len(line) < len("HTTP/1.1 200") || string(line[:len("HTTP/1.")]) != "HTTP/1." ||
		line[7] != '0' && line[7] != '1' || line[8] != ' ' ||
		len(line) > 12 && line[12] != ' ' {
		return 0, 0, malformed("status line %q", clip(line))
	}
	for _, b := range line[9:12] {
		if b < '0' || b > '9' {
			return 0, 0, malformed("status line %q", clip(line))
		}
		status = status*10 + int(b-'0')
	}
	if status < 100 {
		return 0, 0, malformed("status code %03d", status)
	}
	return status, line[7], nil
}

// readLength discards a body of n bytes, at most maxBody (> 0) of them.
func readLength(br *bufio.Reader, n, maxBody int64) (int64, bool, error) {
	want, truncated := n, false
	if maxBody > 0 && n > maxBody {
		want, truncated = maxBody, true
	}
	got, err := discard(br, want)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return got, truncated && err == nil, err
}

// readChunked discards a chunked body (RFC 9112 §7.1) and its trailer,
// reading at most maxBody (> 0) data bytes.
func readChunked(br *bufio.Reader, maxHeader int, maxBody int64) (n int64, truncated bool, err error) {
	var excess int64
	for {
		line, err := br.ReadSlice('\n')
		switch err {
		case nil:
		case bufio.ErrBufferFull:
			return n, false, malformed("chunk size line longer than %d bytes", len(line))
		case io.EOF:
			return n, false, io.ErrUnexpectedEOF
		default:
			return n, false, err
		}
		size, err := parseChunkSize(line)
		if err != nil {
			return n, false, err
		}
		if size == 0 {
			h := headReader{br: br, budget: maxHeader, consumed: 1}
			return n, false, h.fields(nil)
		}
		excess += int64(len(line)) + 2 - 16 - 2*size
		if excess < 0 {
			excess = 0
		} else if excess > maxChunkExcess {
			return n, false, malformed("chunked encoding with too much framing for its data")
		}
		want := size
		if maxBody > 0 && size > maxBody-n {
			want = maxBody - n
		}
		got, err := discard(br, want)
		n += got
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return n, false, err
		}
		if want < size {
			return n, true, nil
		}
		b, err := br.ReadByte()
		if err == nil && b == '\r' {
			b, err = br.ReadByte()
		}
		if err == io.EOF {
			return n, false, io.ErrUnexpectedEOF
		}
		if err != nil {
			return n, false, err
		}
		if b != '\n' {
			return n, false, malformed("chunk data not followed by CRLF")
		}
	}
}

// parseChunkSize parses "HEX[ ;ext...]\r\n": hex digits, overflow-checked;
// extensions are ignored.
func parseChunkSize(line []byte) (int64, error) {
	line = trimEOL(line)
	var size int64
	i := 0
	for ; i < len(line); i++ {
		d := unhex(line[i])
		if d < 0 {
			break
		}
		if size >= 1<<59 { // size<<4 would overflow
			return 0, malformed("chunk size %q overflows", clip(line))
		}
		size = size<<4 | int64(d)
	}
	rest := line[i:]
	for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
		rest = rest[1:]
	}
	if i == 0 || len(rest) > 0 && rest[0] != ';' {
		return 0, malformed("invalid chunk size line %q", clip(line))
	}
	return size, nil
}

func unhex(b byte) int {
	switch {
	case '0' <= b && b <= '9':
		return int(b - '0')
	case 'a' <= b && b <= 'f':
		return int(b-'a') + 10
	case 'A' <= b && b <= 'F':
		return int(b-'A') + 10
	}
	return -1
}

// readToEOF discards a body delimited by the end of the connection,
// reading at most maxBody (> 0) bytes. At the limit, one more byte is
// peeked: EOF means the body was exactly maxBody long, anything else that
// it was truncated.
func readToEOF(br *bufio.Reader, maxBody int64) (n int64, truncated bool, err error) {
	bp := scratch.Get().(*[]byte)
	defer scratch.Put(bp)
	for stalls := 0; ; {
		if maxBody > 0 && n >= maxBody {
			switch _, err := br.Peek(1); err {
			case nil:
				return n, true, nil
			case io.EOF:
				return n, false, nil
			default:
				return n, false, err
			}
		}
		p := *bp
		if maxBody > 0 && maxBody-n < int64(len(p)) {
			p = p[:maxBody-n]
		}
		k, err := br.Read(p)
		n += int64(k)
		switch {
		case err == io.EOF:
			return n, false, nil
		case err != nil:
			return n, false, err
		case k == 0:
			if stalls++; stalls > 100 {
				return n, false, io.ErrNoProgress
			}
		default:
			stalls = 0
		}
	}
}

// discard reads and drops n bytes: within br's buffer when they fit, else
// straight into a scratch buffer (bufio reads directly into a buffer at
// least as large as its own), one read per 32 KiB.
func discard(br *bufio.Reader, n int64) (int64, error) {
	if n <= int64(br.Size()) {
		k, err := br.Discard(int(n))
		return int64(k), err
	}
	done := int64(br.Buffered())
	br.Discard(int(done))
	bp := scratch.Get().(*[]byte)
	defer scratch.Put(bp)
	for stalls := 0; done < n; {
		p := *bp
		if rem := n - done; rem < int64(len(p)) {
			p = p[:rem]
		}
		k, err := br.Read(p)
		done += int64(k)
		if err != nil {
			return done, err
		}
		if k > 0 {
			stalls = 0
		} else if stalls++; stalls > 100 {
			return done, io.ErrNoProgress
		}
	}
	return done, nil
}

// malformed returns an error wrapping ErrMalformed with detail.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// clip shortens hostile bytes quoted in an error.
func clip(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

func trimEOL(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\n' {
		b = b[:len(b)-1]
		if len(b) > 0 && b[len(b)-1] == '\r' {
			b = b[:len(b)-1]
		}
	}
	return b
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// nextElem splits the first element off a comma-separated list; rest is
// nil after the last element.
func nextElem(v []byte) (el, rest []byte) {
	if i := bytes.IndexByte(v, ','); i >= 0 {
		return trimOWS(v[:i]), v[i+1:]
	}
	return trimOWS(v), nil
}

// equalFold reports whether b equals lower, ASCII case-insensitively.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, c := range b {
		if toLower(c) != lower[i] {
			return false
		}
	}
	return true
}

// isTokenBytes is httpguts.ValidHeaderFieldName for a []byte, without
// converting it to a string.
func isTokenBytes(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !httpguts.IsTokenRune(rune(c)) {
			return false
		}
	}
	return true
}
