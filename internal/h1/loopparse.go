package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// The event loop's response parser. A Loop cannot block in the middle of a
// response the way readResponse does, so it parses what has arrived and
// resumes when more comes. To keep one set of rules, the head (and a
// chunked body's trailer) is parsed by the Client's own code — readHead,
// headReader.fields — once it has fully arrived; only the scanning for its
// end and the body framing are incremental here. The result equals
// readResponse's for any split of the bytes into reads (TestLoopParseSplits,
// FuzzLoopParse).

// lstage is where a response's parse is.
type lstage uint8

const (
	stageHead      lstage = iota // the heads (interim ones too)
	stageLength                  // a Content-Length body
	stageChunkSize               // a chunk's size line
	stageChunkData               // a chunk's data
	stageChunkEnd                // the CRLF after a chunk's data
	stageTrailer                 // the trailer of a chunked body
	stageToEOF                   // a body delimited by the end of the connection
)

// lparse is the state of one response's parse.
type lparse struct {
	stage lstage
	// Scanning a head or a trailer, relative to its first byte: bytes
	// scanned for line ends, the start of the current line.
	scan, line int
	inStatus   bool // the current line is a status line
	interim    bool // the head being scanned is an interim (1xx) one
	interims   int
	started    bool // scanning has begun (the first line is a status line)

	status    int
	keepAlive bool
	location  string
	breaker   bool

	n          int64 // body bytes read (chunked, to EOF)
	got, want  int64 // Content-Length: read, to read (at most maxBody)
	length     int64 // Content-Length
	chunk      int64 // data bytes of this chunk still to read
	chunkTrunc bool  // this chunk is cut at maxBody
	excess     int64
	truncated  bool
	eof        bool // the body ended with the connection
}

// scanEnd scans b (a head's bytes from its first byte, as they arrive)
// for the end of the final head (head) or of a trailer (!head). It returns
// the end's offset; -1 when more bytes are needed; -2 when the bytes can
// no longer make a valid head, so that parsing them now gives the error
// readResponse would give.
func (p *lparse) scanEnd(b []byte, head bool, maxHeader int) int {
	if !p.started {
		p.started, p.inStatus = true, head
	}
	for p.scan < len(b) {
		i := bytes.IndexByte(b[p.scan:], '\n')
		if i < 0 {
			p.scan = len(b)
			break
		}
		nl := p.scan + i
		line := b[p.line : nl+1]
		p.scan, p.line = nl+1, nl+1
		if p.inStatus {
			if len(line) > bufSize {
				return -2
			}
			st, _, err := parseStatusLine(trimEOL(line))
			if err != nil || st == 101 {
				return -2
			}
			p.inStatus = false
			p.interim = st < 200
			if p.interim {
				if p.interims++; p.interims > maxInterim {
					return -2
				}
			}
			continue
		}
		if len(trimEOL(line)) == 0 {
			if !head || !p.interim {
				return nl + 1
			}
			p.inStatus = true
		}
	}
	if p.inStatus && len(b)-p.line >= bufSize || len(b) > maxHeader {
		return -2
	}
	return -1
}

// respParser parses responses out of a receive buffer; one serves every
// connection of a loop.
type respParser struct {
	maxHeader int
	br        *bufio.Reader // the Client's head reader runs over src
	src       bytes.Reader
}

func newRespParser(maxHeader int) *respParser {
	return &respParser{maxHeader: maxHeader, br: bufio.NewReaderSize(nil, bufSize)}
}

// recvBuf holds a connection's received bytes: b[pos:end] are not parsed
// yet.
type recvBuf struct {
	b        []byte
	pos, end int
}

// room returns where a connection's next read goes: into scratch for a
// large Content-Length body (big; never past the body's end), else the
// free end of rb, compacting or growing it when full (only a head or a
// trailer fills it, and the parser bounds those).
func (rb *recvBuf) room(p *lparse, scratch []byte) (into []byte, big bool) {
	if rb.pos == rb.end {
		rb.pos, rb.end = 0, 0
		if p.stage == stageLength && p.want-p.got > int64(len(rb.b)) {
			return scratch[:min(int64(len(scratch)), p.want-p.got)], true
		}
	}
	if rb.end == len(rb.b) {
		if rb.pos > 0 {
			rb.end = copy(rb.b, rb.b[rb.pos:rb.end])
			rb.pos = 0
		} else {
			rb.b = append(rb.b, make([]byte, len(rb.b))...)
		}
	}
	return rb.b[rb.end:], false
}

// bigRead counts n bytes of a Content-Length body read into the scratch
// buffer (room's big case) and reports whether the body is complete.
func (p *lparse) bigRead(n int64) bool {
	p.got += n
	if p.got < p.want {
		return false
	}
	p.truncated = p.length > p.want
	return true
}

// result is what the parse found, once done: the response as
// readResponse reports it.
func (p *lparse) result() response {
	r := response{status: p.status, bodyBytes: p.n, truncated: p.truncated, location: p.location, breaker: p.breaker,
		keepAlive: p.keepAlive && !p.truncated && !p.eof}
	if p.stage == stageLength {
		r.bodyBytes = p.got
	}
	return r
}

// respReq is what the parse of a response needs to know of its request.
type respReq struct {
	head    bool  // the request was HEAD
	wantLoc bool  // Options.WantLocation
	maxBody int64 // Options.MaxBody
}

// parseHead parses a head that scanEnd delimited (or, with -2 or at EOF,
// the bytes that cannot make one) with the Client's head reader.
func (rp *respParser) parseHead(b []byte, wantLoc bool) (status int, minor byte, f fieldInfo, err error) {
	rp.src.Reset(b)
	rp.br.Reset(&rp.src)
	h := headReader{br: rp.br, budget: rp.maxHeader}
	status, minor, err = readHead(&h, &f, wantLoc)
	if err == nil && h.consumed != len(b) {
		// Cannot happen: scanEnd ends a head where readHead does.
		err = malformed("head of %d bytes parsed as %d", len(b), h.consumed)
	}
	return status, minor, f, err
}

// parseTrailer parses a trailer that scanEnd delimited (or the bytes that
// cannot make one) as readChunked does.
func (rp *respParser) parseTrailer(b []byte) error {
	rp.src.Reset(b)
	rp.br.Reset(&rp.src)
	h := headReader{br: rp.br, budget: rp.maxHeader, consumed: 1}
	return h.fields(nil)
}

// parse advances the response in rb (eof: the peer closed after those
// bytes) for a request rq. done reports a complete response; err a failed
// one: wrapping ErrMalformed, or io.ErrUnexpectedEOF or io.EOF, as
// readResponse returns them.
func (rp *respParser) parse(p *lparse, rb *recvBuf, rq respReq, eof bool) (done bool, err error) {
	for {
		b := rb.b[rb.pos:rb.end]
		switch p.stage {
		case stageHead:
			end := p.scanEnd(b, true, rp.maxHeader)
			if end == -1 && !eof {
				return false, nil
			}
			if end < 0 {
				_, _, _, err := rp.parseHead(b, rq.wantLoc)
				if err == nil { // cannot happen: these bytes make no head
					err = malformed("incomplete response head")
				}
				return false, err
			}
			status, minor, f, err := rp.parseHead(b[:end], rq.wantLoc)
			if err != nil {
				return false, err
			}
			rb.pos += end
			p.status, p.location, p.breaker = status, f.location, f.breaker
			var body bodyKind
			body, p.keepAlive, err = framing(status, minor, &f, rq.head)
			if err != nil {
				return false, err
			}
			switch body {
			case bodyNone:
				return true, nil
			case bodyLength:
				p.stage, p.length, p.want = stageLength, f.length, f.length
				if rq.maxBody > 0 && f.length > rq.maxBody {
					p.want = rq.maxBody
				}
			case bodyChunked:
				p.stage = stageChunkSize
			default:
				p.stage = stageToEOF
			}
		case stageLength:
			take := min(int64(len(b)), p.want-p.got)
			p.got += take
			rb.pos += int(take)
			if p.got == p.want {
				p.truncated = p.length > p.want
				return true, nil
			}
			if eof {
				return false, io.ErrUnexpectedEOF
			}
			return false, nil
		case stageToEOF:
			take := int64(len(b))
			if rq.maxBody > 0 {
				take = min(take, rq.maxBody-p.n)
			}
			p.n += take
			rb.pos += int(take)
			if rq.maxBody > 0 && p.n >= rq.maxBody && rb.pos < rb.end {
				p.truncated = true // a byte past the limit: cut
				return true, nil
			}
			if eof {
				p.eof = true
				return true, nil
			}
			return false, nil
		case stageChunkSize:
			i := bytes.IndexByte(b, '\n')
			if i < 0 || i+1 > bufSize {
				switch {
				case i >= 0 || len(b) >= bufSize:
					return false, malformed("chunk size line longer than %d bytes", min(len(b), bufSize))
				case eof:
					return false, io.ErrUnexpectedEOF
				}
				return false, nil
			}
			line := b[:i+1]
			size, err := parseChunkSize(line)
			if err != nil {
				return false, err
			}
			rb.pos += i + 1
			if size == 0 {
				p.stage, p.started, p.scan, p.line = stageTrailer, false, 0, 0
				continue
			}
			p.excess += int64(len(line)) + 2 - 16 - 2*size
			if p.excess < 0 {
				p.excess = 0
			} else if p.excess > maxChunkExcess {
				return false, malformed("chunked encoding with too much framing for its data")
			}
			p.chunk, p.chunkTrunc = size, false
			if rq.maxBody > 0 && size > rq.maxBody-p.n {
				p.chunk, p.chunkTrunc = rq.maxBody-p.n, true
			}
			p.stage = stageChunkData
		case stageChunkData:
			take := min(int64(len(b)), p.chunk)
			p.n += take
			p.chunk -= take
			rb.pos += int(take)
			if p.chunk > 0 {
				if eof {
					return false, io.ErrUnexpectedEOF
				}
				return false, nil
			}
			if p.chunkTrunc {
				p.truncated = true
				return true, nil
			}
			p.stage = stageChunkEnd
		case stageChunkEnd:
			if len(b) == 0 || b[0] == '\r' && len(b) == 1 {
				if eof {
					return false, io.ErrUnexpectedEOF
				}
				return false, nil
			}
			k := 0
			if b[0] == '\r' {
				k = 1
			}
			if b[k] != '\n' {
				return false, malformed("chunk data not followed by CRLF")
			}
			rb.pos += k + 1
			p.stage = stageChunkSize
		case stageTrailer:
			end := p.scanEnd(b, false, rp.maxHeader)
			if end == -1 && !eof {
				return false, nil
			}
			if end < 0 {
				err := rp.parseTrailer(b)
				if err == nil {
					err = malformed("incomplete trailer")
				}
				return false, err
			}
			if err := rp.parseTrailer(b[:end]); err != nil {
				return false, err
			}
			rb.pos += end
			return true, nil
		}
	}
}

func isMalformed(err error) bool { return errors.Is(err, ErrMalformed) }
