package h1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

type readCase struct {
	name      string
	in        string
	head      bool  // the request was HEAD
	maxHeader int   // 0 = DefaultMaxHeaderBytes
	maxBody   int64 // 0 = no limit
	wantLoc   bool

	status    int
	body      int64
	truncated bool
	keepAlive bool
	location  string
	rest      string // what must be left unread (for keep-alive: exactly the next response)
	err       error  // matched with errors.Is; nil = success
}

func readCases() []readCase {
	const ok = "HTTP/1.1 200 OK\r\n"
	manyFields := func(n int) string {
		var b strings.Builder
		b.WriteString(ok)
		for i := range n {
			fmt.Fprintf(&b, "X-F%d: v\r\n", i)
		}
		b.WriteString("Content-Length: 0\r\n\r\n")
		return b.String()
	}
	interims := func(n int) string {
		return strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", n) + ok + "Content-Length: 0\r\n\r\n"
	}
	long := strings.Repeat("a", 5000) // longer than the 4 KiB bufio buffer
	return []readCase{
		// Content-Length
		{name: "content-length", in: ok + "Content-Length: 5\r\n\r\nhelloNEXT", status: 200, body: 5, keepAlive: true, rest: "NEXT"},
		{name: "zero length", in: ok + "Content-Length: 0\r\n\r\nNEXT", status: 200, keepAlive: true, rest: "NEXT"},
		{name: "bare LF lines", in: "HTTP/1.1 200 OK\nContent-Length: 2\n\nokNEXT", status: 200, body: 2, keepAlive: true, rest: "NEXT"},
		{name: "no reason phrase", in: "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok", status: 200, body: 2, keepAlive: true},
		{name: "empty reason phrase", in: "HTTP/1.1 404 \r\nContent-Length: 2\r\n\r\nok", status: 404, body: 2, keepAlive: true},
		{name: "name case and OWS", in: ok + "cOnTeNt-LeNgTh: \t 3 \t\r\n\r\nabc", status: 200, body: 3, keepAlive: true},
		{name: "large body", in: ok + "Content-Length: 100000\r\n\r\n" + strings.Repeat("x", 100000) + "NEXT", status: 200, body: 100000, keepAlive: true, rest: "NEXT"},
		{name: "duplicate equal CL", in: ok + "Content-Length: 3\r\ncontent-length: 3\r\n\r\nabcNEXT", status: 200, body: 3, keepAlive: true, rest: "NEXT"},
		{name: "CL list of equal values", in: ok + "Content-Length: 3, 3\r\n\r\nabc", status: 200, body: 3, keepAlive: true},
		{name: "CL leading zeros", in: ok + "Content-Length: 003\r\n\r\nabc", status: 200, body: 3, keepAlive: true},
		{name: "conflicting CL", in: ok + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", status: 200, err: ErrMalformed},
		{name: "conflicting CL list", in: ok + "Content-Length: 3, 4\r\n\r\nabcd", status: 200, err: ErrMalformed},
		{name: "CL sign", in: ok + "Content-Length: +3\r\n\r\nabc", status: 200, err: ErrMalformed},
		{name: "CL negative", in: ok + "Content-Length: -1\r\n\r\n", status: 200, err: ErrMalformed},
		{name: "CL hex", in: ok + "Content-Length: 0x3\r\n\r\nabc", status: 200, err: ErrMalformed},
		{name: "CL empty", in: ok + "Content-Length:\r\n\r\n", status: 200, err: ErrMalformed},
		{name: "CL too large", in: ok + "Content-Length: 9999999999999999999\r\n\r\n", status: 200, err: ErrMalformed},
		{name: "CL body cut short", in: ok + "Content-Length: 10\r\n\r\nabc", status: 200, body: 3, err: io.ErrUnexpectedEOF},
		{name: "CL line longer than buffer", in: ok + "Content-Length: " + strings.Repeat("0", 5000) + "1\r\n\r\na", status: 200, err: ErrMalformed},

		// Chunked
		{name: "chunked", in: ok + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT", status: 200, body: 11, keepAlive: true, rest: "NEXT"},
		{name: "chunked extensions", in: ok + "Transfer-Encoding: chunked\r\n\r\n5;a=b;c\r\nhello\r\nA ; name=\"v\"\r\n0123456789\r\n0;last\r\n\r\nNEXT", status: 200, body: 15, keepAlive: true, rest: "NEXT"},
		{name: "chunked trailers", in: ok + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 1\r\nX-Other: 2\r\n\r\nNEXT", status: 200, body: 3, keepAlive: true, rest: "NEXT"},
		{name: "chunked bare LF", in: ok + "Transfer-Encoding: chunked\n\n3\nabc\n0\n\nNEXT", status: 200, body: 3, keepAlive: true, rest: "NEXT"},
		{name: "chunked upper hex and leading zeros", in: ok + "Transfer-Encoding: CHUNKED\r\n\r\n000000000000000000000B\r\nhello world\r\n0\r\n\r\n", status: 200, body: 11, keepAlive: true},
		{name: "chunked large chunk", in: ok + "Transfer-Encoding: chunked\r\n\r\n186a0\r\n" + strings.Repeat("x", 100000) + "\r\n0\r\n\r\nNEXT", status: 200, body: 100000, keepAlive: true, rest: "NEXT"},
		{name: "chunked final of several codings", in: ok + "Transfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", status: 200, body: 3, keepAlive: true},
		{name: "chunked over two TE fields", in: ok + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", status: 200, body: 3, keepAlive: true},
		{name: "TE not chunked last reads to EOF", in: ok + "Transfer-Encoding: chunked, gzip\r\n\r\nabcdef", status: 200, body: 6},
		{name: "TE without chunked reads to EOF", in: ok + "Transfer-Encoding: gzip\r\n\r\nabcdef", status: 200, body: 6},
		{name: "TE empty", in: ok + "Transfer-Encoding: \r\n\r\n", status: 200, err: ErrMalformed},
		{name: "TE and CL: TE wins, not reused", in: ok + "Transfer-Encoding: chunked\r\nContent-Length: 100\r\n\r\n3\r\nabc\r\n0\r\n\r\n", status: 200, body: 3},
		{name: "bad chunk size", in: ok + "Transfer-Encoding: chunked\r\n\r\nzz\r\n", status: 200, err: ErrMalformed},
		{name: "empty chunk size", in: ok + "Transfer-Encoding: chunked\r\n\r\n\r\nabc\r\n0\r\n\r\n", status: 200, err: ErrMalformed},
		{name: "chunk size junk", in: ok + "Transfer-Encoding: chunked\r\n\r\n5 x\r\nhello\r\n0\r\n\r\n", status: 200, err: ErrMalformed},
		{name: "chunk size negative", in: ok + "Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", status: 200, err: ErrMalformed},
		{name: "chunk size overflow", in: ok + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n", status: 200, err: ErrMalformed},
		{name: "chunk size 2^63", in: ok + "Transfer-Encoding: chunked\r\n\r\n8000000000000000\r\nhello\r\n", status: 200, err: ErrMalformed},
		{name: "chunk size line too long", in: ok + "Transfer-Encoding: chunked\r\n\r\n5;" + long + "\r\nhello\r\n0\r\n\r\n", status: 200, err: ErrMalformed},
		{name: "chunk data without CRLF", in: ok + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloX0\r\n\r\n", status: 200, body: 5, err: ErrMalformed},
		{name: "chunked cut short", in: ok + "Transfer-Encoding: chunked\r\n\r\n5\r\nhel", status: 200, body: 3, err: io.ErrUnexpectedEOF},
		{name: "chunked without last chunk", in: ok + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", status: 200, body: 5, err: io.ErrUnexpectedEOF},
		{name: "chunked too much framing", in: ok + "Transfer-Encoding: chunked\r\n\r\n" + strings.Repeat("1;"+strings.Repeat("e", 100)+"\r\nx\r\n", 1000) + "0\r\n\r\n", status: 200, err: ErrMalformed},
		{name: "chunked trailer too large", in: ok + "Transfer-Encoding: chunked\r\n\r\n0\r\nX: " + strings.Repeat("t", 200) + "\r\n\r\n", maxHeader: 100, status: 200, err: ErrMalformed},
		{name: "chunked trailer folded", in: ok + "Transfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n b\r\n\r\n", status: 200, err: ErrMalformed},

		// Read to EOF
		{name: "no framing reads to EOF", in: ok + "\r\nabcdef", status: 200, body: 6},
		{name: "no framing empty body", in: ok + "\r\n", status: 200},

		// Interim responses
		{name: "1xx skipped", in: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" + ok + "Content-Length: 2\r\n\r\nokNEXT", status: 200, body: 2, keepAlive: true, rest: "NEXT"},
		{name: "8 interim responses", in: interims(8), status: 200, keepAlive: true},
		{name: "9 interim responses", in: interims(9), status: 100, err: ErrMalformed},
		{name: "101 without upgrade", in: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", status: 101, err: ErrMalformed},

		// No body
		{name: "HEAD ignores CL", in: ok + "Content-Length: 100\r\n\r\nNEXT", head: true, status: 200, keepAlive: true, rest: "NEXT"},
		{name: "HEAD ignores chunked", in: ok + "Transfer-Encoding: chunked\r\n\r\nNEXT", head: true, status: 200, keepAlive: true, rest: "NEXT"},
		{name: "204", in: "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\nNEXT", status: 204, keepAlive: true, rest: "NEXT"},
		{name: "304", in: "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\nNEXT", status: 304, keepAlive: true, rest: "NEXT"},

		// Truncation at MaxBody
		{name: "CL truncated", in: ok + "Content-Length: 100\r\n\r\n" + strings.Repeat("x", 100), maxBody: 10, status: 200, body: 10, truncated: true, rest: strings.Repeat("x", 90)},
		{name: "CL exactly MaxBody", in: ok + "Content-Length: 10\r\n\r\n0123456789NEXT", maxBody: 10, status: 200, body: 10, keepAlive: true, rest: "NEXT"},
		{name: "CL large truncated", in: ok + "Content-Length: 100000\r\n\r\n" + strings.Repeat("x", 100000), maxBody: 50000, status: 200, body: 50000, truncated: true, rest: strings.Repeat("x", 50000)},
		{name: "chunked truncated mid-chunk", in: ok + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", maxBody: 7, status: 200, body: 7, truncated: true, rest: "rld\r\n0\r\n\r\n"},
		{name: "chunked truncated at chunk end", in: ok + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", maxBody: 5, status: 200, body: 5, truncated: true, rest: "world\r\n0\r\n\r\n"},
		{name: "chunked exactly MaxBody", in: ok + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\nNEXT", maxBody: 10, status: 200, body: 10, keepAlive: true, rest: "NEXT"},
		{name: "EOF body truncated", in: ok + "\r\nabcdef", maxBody: 3, status: 200, body: 3, truncated: true, rest: "def"},
		{name: "EOF body exactly MaxBody", in: ok + "\r\nabc", maxBody: 3, status: 200, body: 3},

		// Connection handling
		{name: "Connection close", in: ok + "Connection: close\r\nContent-Length: 2\r\n\r\nok", status: 200, body: 2},
		{name: "Connection list with close", in: ok + "Connection: keep-alive, Close\r\nContent-Length: 2\r\n\r\nok", status: 200, body: 2},
		{name: "HTTP/1.0", in: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", status: 200, body: 2},
		{name: "HTTP/1.0 keep-alive", in: "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nokNEXT", status: 200, body: 2, keepAlive: true, rest: "NEXT"},
		{name: "HTTP/1.0 keep-alive to EOF", in: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nabc", status: 200, body: 3},
		{name: "HTTP/1.0 chunked", in: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", status: 200, body: 3},

		// Location
		{name: "Location of 3xx", in: "HTTP/1.1 302 Found\r\nLocation:  /next?a=b \r\nContent-Length: 0\r\n\r\n", wantLoc: true, status: 302, keepAlive: true, location: "/next?a=b"},
		{name: "first Location wins", in: "HTTP/1.1 301 Moved\r\nLocation: /a\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n", wantLoc: true, status: 301, keepAlive: true, location: "/a"},
		{name: "Location not wanted", in: "HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 0\r\n\r\n", status: 302, keepAlive: true},
		{name: "Location of 200 ignored", in: ok + "Location: /next\r\nContent-Length: 0\r\n\r\n", wantLoc: true, status: 200, keepAlive: true},
		{name: "long Location", in: "HTTP/1.1 307 Temporary Redirect\r\nLocation: /" + long + "\r\nContent-Length: 0\r\n\r\nNEXT", wantLoc: true, status: 307, keepAlive: true, location: "/" + long, rest: "NEXT"},

		// Header syntax and bounds
		{name: "long ignored field", in: ok + "X-Long: " + long + "\r\nContent-Length: 2\r\n\r\nokNEXT", status: 200, body: 2, keepAlive: true, rest: "NEXT"},
		{name: "head too large", in: ok + "X-Long: " + long + "\r\nContent-Length: 2\r\n\r\nok", maxHeader: 1024, status: 200, err: ErrMalformed},
		{name: "head just fits", in: ok + "Content-Length: 0\r\n\r\n", maxHeader: len(ok + "Content-Length: 0\r\n\r\n"), status: 200, keepAlive: true},
		{name: "head one byte over", in: ok + "Content-Length: 0\r\n\r\n", maxHeader: len(ok+"Content-Length: 0\r\n\r\n") - 1, status: 200, err: ErrMalformed},
		{name: "interim heads count toward the bound", in: interims(8), maxHeader: 100, status: 100, err: ErrMalformed},
		{name: "255 fields", in: manyFields(255), status: 200, keepAlive: true},
		{name: "too many fields", in: manyFields(256), status: 200, err: ErrMalformed},
		{name: "obsolete line folding", in: ok + "X-A: a\r\n  b\r\nContent-Length: 0\r\n\r\n", status: 200, err: ErrMalformed},
		{name: "space before colon", in: ok + "Content-Length : 2\r\n\r\nok", status: 200, err: ErrMalformed},
		{name: "no colon", in: ok + "Content-Length 2\r\n\r\nok", status: 200, err: ErrMalformed},
		{name: "empty name", in: ok + ": x\r\n\r\n", status: 200, err: ErrMalformed},
		{name: "long name without colon", in: ok + long + "\r\n\r\n", status: 200, err: ErrMalformed},
		{name: "head cut short", in: ok + "Content-Len", status: 200, err: io.ErrUnexpectedEOF},
		{name: "head without end", in: ok + "Content-Length: 2\r\n", status: 200, err: io.ErrUnexpectedEOF},

		// Status line
		{name: "empty input", in: "", err: io.EOF},
		{name: "HTTP/1.2", in: "HTTP/1.2 200 OK\r\n\r\n", err: ErrMalformed},
		{name: "HTTP/2", in: "HTTP/2 200 OK\r\n\r\n", err: ErrMalformed},
		{name: "HTTP/2.0", in: "HTTP/2.0 200 OK\r\n\r\n", err: ErrMalformed},
		{name: "lower-case name", in: "http/1.1 200 OK\r\n\r\n", err: ErrMalformed},
		{name: "two-digit status", in: "HTTP/1.1 20 OK\r\n\r\n", err: ErrMalformed},
		{name: "four-digit status", in: "HTTP/1.1 2000 OK\r\n\r\n", err: ErrMalformed},
		{name: "status below 100", in: "HTTP/1.1 099 Low\r\n\r\n", err: ErrMalformed},
		{name: "status 999", in: "HTTP/1.1 999 Odd\r\nContent-Length: 0\r\n\r\n", status: 999, keepAlive: true},
		{name: "status letters", in: "HTTP/1.1 2x0 OK\r\n\r\n", err: ErrMalformed},
		{name: "two spaces", in: "HTTP/1.1  200 OK\r\n\r\n", err: ErrMalformed},
		{name: "ICY", in: "ICY 200 OK\r\n\r\n", err: ErrMalformed},
		{name: "leading empty line", in: "\r\nHTTP/1.1 200 OK\r\n\r\n", err: ErrMalformed},
		{name: "status line cut short", in: "HTTP/1.1 200", err: io.ErrUnexpectedEOF},
		{name: "status line too long", in: "HTTP/1.1 200 " + long + "\r\n\r\n", err: ErrMalformed},
	}
}

func TestReadResponse(t *testing.T) {
	for _, tc := range readCases() {
		t.Run(tc.name, func(t *testing.T) {
			maxHeader := tc.maxHeader
			if maxHeader == 0 {
				maxHeader = DefaultMaxHeaderBytes
			}
			br := bufio.NewReaderSize(strings.NewReader(tc.in), bufSize)
			r, err := readResponse(br, tc.head, maxHeader, tc.maxBody, tc.wantLoc)
			call := fmt.Sprintf("readResponse(%.40q…, head=%v, maxBody=%d)", tc.in, tc.head, tc.maxBody)
			if tc.err == nil && err != nil || tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("%s error = %v; want %v", call, err, tc.err)
			}
			if r.status != tc.status {
				t.Errorf("%s status = %d; want %d", call, r.status, tc.status)
			}
			if (tc.err == nil || tc.body > 0) && (r.bodyBytes != tc.body || r.truncated != tc.truncated) {
				t.Errorf("%s body = %d truncated %v; want %d %v", call, r.bodyBytes, r.truncated, tc.body, tc.truncated)
			}
			if tc.err != nil {
				return
			}
			if r.keepAlive != tc.keepAlive {
				t.Errorf("%s keepAlive = %v; want %v", call, r.keepAlive, tc.keepAlive)
			}
			if r.location != tc.location {
				t.Errorf("%s location = %.40q; want %.40q", call, r.location, tc.location)
			}
			rest, _ := io.ReadAll(br)
			if string(rest) != tc.rest {
				t.Errorf("%s left %.40q unread; want %.40q", call, rest, tc.rest)
			}
		})
	}
}

// TestReadResponseSmallReads feeds every case one byte per Read, which
// exercises every buffer boundary.
func TestReadResponseSmallReads(t *testing.T) {
	for _, tc := range readCases() {
		maxHeader := cmpOr(tc.maxHeader, DefaultMaxHeaderBytes)
		whole, wErr := readResponse(bufio.NewReaderSize(strings.NewReader(tc.in), bufSize), tc.head, maxHeader, tc.maxBody, tc.wantLoc)
		slow, sErr := readResponse(bufio.NewReaderSize(oneByteReader{strings.NewReader(tc.in)}, bufSize), tc.head, maxHeader, tc.maxBody, tc.wantLoc)
		if whole != slow || (wErr == nil) != (sErr == nil) {
			t.Errorf("%s: one byte per read gives %+v, %v; want %+v, %v", tc.name, slow, sErr, whole, wErr)
		}
	}
}

type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// countingReader counts the bytes read from r.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func FuzzReadResponse(f *testing.F) {
	for _, tc := range readCases() {
		f.Add([]byte(tc.in), tc.head)
	}
	const (
		maxHeader = 1024
		maxBody   = 256
		// What may be read beyond the head and the body: the trailer, the
		// chunk framing allowed for maxBody bytes of data, and what the
		// bufio.Reader reads ahead (its buffer, and the peek at MaxBody).
		bound = 2*maxHeader + maxChunkExcess + 18*(maxBody+1) + 3*bufSize
	)
	f.Fuzz(func(t *testing.T, in []byte, head bool) {
		cr := &countingReader{r: bytes.NewReader(in)}
		br := bufio.NewReaderSize(cr, bufSize)
		r, err := readResponse(br, head, maxHeader, maxBody, true)
		if cr.n > bound {
			t.Fatalf("read %d bytes of %d; the bound is %d", cr.n, len(in), bound)
		}
		if err != nil {
			return
		}
		if r.status < 200 || r.status > 999 {
			t.Fatalf("final status %d", r.status)
		}
		if r.bodyBytes < 0 || r.bodyBytes > maxBody || r.truncated && r.bodyBytes != maxBody {
			t.Fatalf("body %d truncated %v with MaxBody %d", r.bodyBytes, r.truncated, maxBody)
		}
		if r.location != "" && (r.status < 300 || r.status > 399) {
			t.Fatalf("location %q for status %d", r.location, r.status)
		}
	})
}

func BenchmarkReadResponse(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"content-length", "HTTP/1.1 200 OK\r\nServer: nginx/1.27.0\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Type: application/json\r\nContent-Length: 27\r\nConnection: keep-alive\r\n\r\n{\"id\":1,\"name\":\"something\"}"},
		{"chunked", "HTTP/1.1 200 OK\r\nServer: nginx/1.27.0\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1b\r\n{\"id\":1,\"name\":\"something\"}\r\n0\r\n\r\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			in := []byte(bc.in)
			rd := bytes.NewReader(in)
			br := bufio.NewReaderSize(rd, bufSize)
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				rd.Reset(in)
				br.Reset(rd)
				r, err := readResponse(br, false, DefaultMaxHeaderBytes, 1<<20, false)
				if err != nil || r.status != 200 || !r.keepAlive {
					b.Fatalf("readResponse = %+v, %v", r, err)
				}
			}
		})
	}
}
