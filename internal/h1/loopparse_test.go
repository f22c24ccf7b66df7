package h1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// loopParse runs the event loop's parser over in as Loop.readable does:
// reads of the sizes in sizes (cycled; each at most the room the buffer
// has), then the peer's close. rest is what is left for the connection
// (buffered and not yet read).
func loopParse(in []byte, rq respReq, maxHeader int, sizes []int) (r response, rest string, err error) {
	rp := newRespParser(maxHeader)
	var p lparse
	rb := recvBuf{b: make([]byte, bufSize)}
	scratch := make([]byte, scratchSize)
	off := 0
	for k := 0; ; k++ {
		if k > len(in)+10 {
			return r, "", errors.New("no progress")
		}
		into, big := rb.room(&p, scratch)
		n := min(len(into), max(sizes[k%len(sizes)], 1), len(in)-off)
		copy(into, in[off:off+n])
		off += n
		if k == 0 && n == 0 {
			return r, "", io.EOF // readable: EOF before the first byte
		}
		var done bool
		if big {
			if n == 0 {
				return r, "", io.ErrUnexpectedEOF
			}
			done = p.bigRead(int64(n))
		} else {
			rb.end += n
			if done, err = rp.parse(&p, &rb, rq, n == 0); err != nil {
				return r, "", err
			}
		}
		if done {
			return p.result(), string(rb.b[rb.pos:rb.end]) + string(in[off:]), nil
		}
		if n == 0 {
			return r, "", errors.New("parse neither ended nor failed at EOF")
		}
	}
}

// errClass names the kinds of error Do tells apart.
func errClass(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrMalformed):
		return "malformed"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected EOF"
	case errors.Is(err, io.EOF):
		return "EOF"
	}
	return "other: " + err.Error()
}

// checkLoopParse compares the loop's parse of in (split by sizes) with
// readResponse's.
func checkLoopParse(t *testing.T, name string, in []byte, rq respReq, maxHeader int, sizes []int) {
	t.Helper()
	br := newTestReader(in)
	want, wErr := readResponse(br, rq.head, maxHeader, rq.maxBody, rq.wantLoc)
	got, rest, gErr := loopParse(in, rq, maxHeader, sizes)
	call := fmt.Sprintf("%s: loop parse of %.60q… (reads %v, %+v)", name, in, sizes, rq)
	if errClass(gErr) != errClass(wErr) {
		t.Fatalf("%s: error %v; readResponse's %v", call, gErr, wErr)
	}
	if wErr != nil {
		return
	}
	if got != want {
		t.Fatalf("%s = %+v; readResponse's %+v", call, got, want)
	}
	wantRest, _ := io.ReadAll(br)
	if rest != string(wantRest) {
		t.Fatalf("%s left %.40q; readResponse %.40q", call, rest, wantRest)
	}
}

func newTestReader(in []byte) *bufioReader { return newBufioReader(bytes.NewReader(in)) }

var splitSizes = [][]int{{1 << 20}, {1}, {2}, {3, 1}, {7}, {bufSize - 1}, {bufSize}, {bufSize + 1}, {100, 1, 4000}, {13, 4096, 1}}

// TestLoopParseSplits: every readResponse case, and each with every
// request kind and body limit, parses the same with the loop's parser
// whatever the reads' sizes.
func TestLoopParseSplits(t *testing.T) {
	for _, tc := range append(readCases(), loopCases()...) {
		maxHeader := cmpOr(tc.maxHeader, DefaultMaxHeaderBytes)
		for _, sizes := range splitSizes {
			for _, rq := range []respReq{
				{head: tc.head, wantLoc: tc.wantLoc, maxBody: tc.maxBody},
				{head: !tc.head, wantLoc: !tc.wantLoc, maxBody: 3},
				{maxBody: 1 << 30},
			} {
				checkLoopParse(t, tc.name, []byte(tc.in), rq, maxHeader, sizes)
			}
		}
	}
}

// loopCases add what matters to the incremental parse: interim heads,
// chunk boundaries, trailers, lines around the buffer's size, bodies
// around the read sizes.
func loopCases() []readCase {
	const ok = "HTTP/1.1 200 OK\r\n"
	line := func(n int) string { return "X-Long: " + strings.Repeat("v", n-len("X-Long: \r\n")) + "\r\n" }
	var out []readCase
	for _, n := range []int{bufSize - 1, bufSize, bufSize + 1} {
		out = append(out,
			readCase{name: fmt.Sprintf("header line of %d", n), in: ok + line(n) + "Content-Length: 2\r\n\r\nok"},
			readCase{name: fmt.Sprintf("status line of %d", n), in: "HTTP/1.1 200 " + strings.Repeat("r", n-len("HTTP/1.1 200 \r\n")) + "\r\nContent-Length: 0\r\n\r\n"},
			readCase{name: fmt.Sprintf("chunk size line of %d", n), in: ok + "Transfer-Encoding: chunked\r\n\r\n1;" + strings.Repeat("e", n-len("1;\r\n")) + "\r\nx\r\n0\r\n\r\n"},
			readCase{name: fmt.Sprintf("trailer line of %d", n), in: ok + "Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n" + line(n) + "\r\n"},
			readCase{name: fmt.Sprintf("CL body of %d", n), in: ok + fmt.Sprintf("Content-Length: %d\r\n\r\n", n) + strings.Repeat("b", n) + "NEXT"},
		)
	}
	out = append(out,
		readCase{name: "interims then 200", in: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early\r\nLink: </a>\r\n\r\n" + ok + "Content-Length: 1\r\n\r\nxNEXT"},
		readCase{name: "nine interims", in: strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 9) + ok + "Content-Length: 0\r\n\r\n"},
		readCase{name: "101", in: "HTTP/1.1 101 Switching\r\n\r\n"},
		readCase{name: "chunks", in: ok + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n\r\nNEXT"},
		readCase{name: "chunk bare LF", in: ok + "Transfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\nNEXT"},
		readCase{name: "chunk without CRLF", in: ok + "Transfer-Encoding: chunked\r\n\r\n3\r\nabcX0\r\n\r\n"},
		readCase{name: "chunk CR then junk", in: ok + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\rX0\r\n\r\n"},
		readCase{name: "chunked cut", in: ok + "Transfer-Encoding: chunked\r\n\r\n3\r\nab"},
		readCase{name: "trailer cut", in: ok + "Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n"},
		readCase{name: "to EOF", in: "HTTP/1.1 200 OK\r\n\r\n" + strings.Repeat("e", 5000)},
		readCase{name: "HTTP/1.0 keep-alive", in: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx"},
		readCase{name: "redirect", in: "HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 0\r\n\r\n"},
		readCase{name: "huge head", in: ok + strings.Repeat("X-A: b\r\n", 20000) + "\r\n"},
		readCase{name: "many fields", in: ok + strings.Repeat("X-A: b\r\n", 300) + "\r\n"},
		readCase{name: "empty", in: ""},
		readCase{name: "junk", in: "garbage without a newline"},
	)
	return out
}

// TestLoopParseRandomSplits: the cases again, cut at random.
func TestLoopParseRandomSplits(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range append(readCases(), loopCases()...) {
		maxHeader := cmpOr(tc.maxHeader, DefaultMaxHeaderBytes)
		for range 20 {
			sizes := make([]int, 1+rng.IntN(5))
			for i := range sizes {
				sizes[i] = 1 + rng.IntN(200)
				if rng.IntN(4) == 0 {
					sizes[i] = 1 + rng.IntN(3*bufSize)
				}
			}
			rq := respReq{head: rng.IntN(5) == 0, wantLoc: rng.IntN(2) == 0, maxBody: []int64{0, 1, 2, 100, 5000}[rng.IntN(5)]}
			checkLoopParse(t, tc.name, []byte(tc.in), rq, maxHeader, sizes)
		}
	}
}

// FuzzLoopParse: for any bytes, any reads and any request, the loop's
// parser agrees with readResponse (and never panics).
func FuzzLoopParse(f *testing.F) {
	for _, tc := range append(readCases(), loopCases()...) {
		if len(tc.in) < 20000 {
			f.Add([]byte(tc.in), tc.head, uint16(7), uint16(1), uint16(0))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte, head bool, s1, s2, maxBody uint16) {
		sizes := []int{int(s1%9000) + 1, int(s2%9000) + 1}
		checkLoopParse(t, "fuzz", in, respReq{head: head, wantLoc: true, maxBody: int64(maxBody % 300)}, 1024, sizes)
	})
}

type bufioReader = bufio.Reader

func newBufioReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, bufSize) }
