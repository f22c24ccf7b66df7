package har

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/http/httpguts"
)

// MaxSize bounds the archive Decode reads: recordings with response bodies
// are large, but one far larger than this is not a user's journey.
const MaxSize = 256 << 20

// maxProblems bounds the problems one error lists.
const maxProblems = 20

// ErrInvalid is wrapped by every error Decode returns for an archive it
// cannot use (as opposed to a failure to read it).
var ErrInvalid = errors.New("invalid HAR")

// Error is one problem of an archive: where (a line and column when known,
// and the JSON path of the field) and what.
type Error struct {
	Line, Column int    // 1-based; 0 when unknown
	Path         string // e.g. log.entries[3].request.url; "" when unknown
	Msg          string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:%d: ", e.Line, e.Column)
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *Error) Unwrap() error { return ErrInvalid }

// HAR is a decoded archive. Only the fields Convert uses are kept.
type HAR struct {
	Log *Log `json:"log"`
}

// Log is the archive's root object.
type Log struct {
	Version string   `json:"version"`
	Creator NameVers `json:"creator"`
	Entries []Entry  `json:"entries"`
}

// NameVers names the tool that wrote the archive.
type NameVers struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Entry is one request and its response.
type Entry struct {
	StartedDateTime string `json:"startedDateTime"`
	// Time is the request's total elapsed time in milliseconds.
	Time     float64   `json:"time"`
	Request  *Request  `json:"request"`
	Response *Response `json:"response"`
	// ResourceType is Chrome's _resourceType (document, script, …), when
	// present.
	ResourceType string `json:"_resourceType"`
	// FromCache is Chrome's _fromCache ("memory" or "disk"): the browser
	// answered from its cache and nothing was sent.
	FromCache string `json:"_fromCache"`

	// Started is StartedDateTime parsed, set by Decode.
	Started time.Time `json:"-"`
}

// End is when the entry finished: Started plus Time.
func (e *Entry) End() time.Time {
	// A negative time means unknown; a time past a week is not a
	// request's (and would overflow a Duration).
	t := min(max(e.Time, 0), float64(7*24*time.Hour/time.Millisecond))
	return e.Started.Add(time.Duration(t * float64(time.Millisecond)))
}

// Request is a recorded request.
type Request struct {
	Method      string      `json:"method"`
	URL         string      `json:"url"`
	HTTPVersion string      `json:"httpVersion"`
	Headers     []NameValue `json:"headers"`
	QueryString []NameValue `json:"queryString"`
	PostData    *PostData   `json:"postData"`
}

// NameValue is a header or query parameter.
type NameValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// PostData is a request body: Text, or (for forms) Params.
type PostData struct {
	MimeType string      `json:"mimeType"`
	Text     string      `json:"text"`
	Params   []NameValue `json:"params"`
}

// Response is a recorded response.
type Response struct {
	Status  int         `json:"status"`
	Headers []NameValue `json:"headers"`
	Content Content     `json:"content"`
}

// Content is a response body. Text is encoded per Encoding ("" or
// "base64").
type Content struct {
	MimeType string `json:"mimeType"`
	Text     string `json:"text"`
	Encoding string `json:"encoding"`
}

// Body returns the decoded response body and whether it could be decoded.
func (c *Content) Body() ([]byte, bool) {
	switch strings.ToLower(c.Encoding) {
	case "":
		return []byte(c.Text), true
	case "base64":
		b, err := base64Decode(c.Text)
		return b, err == nil
	}
	return nil, false
}

// Decode reads an archive from r (at most MaxSize bytes) and checks it:
// a JSON syntax or type error is reported with its line and column; a
// version other than 1.2, a missing log or entries, an entry without a
// request, a method or URL that is missing or invalid, or a
// startedDateTime that is not ISO 8601 are reported with their entry's
// line and column and their path, every one at once (up to 20). Errors
// about the archive wrap ErrInvalid; a failure to read r is returned as
// it is.
func Decode(r io.Reader) (*HAR, error) { return decode(r, MaxSize) }

// decode is Decode with a size limit of limit bytes.
func decode(r io.Reader, limit int) (*HAR, error) {
	data, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(data) > limit {
		return nil, &Error{Msg: fmt.Sprintf("file is larger than the %d MiB limit", MaxSize>>20)}
	}
	return DecodeBytes(data)
}

// DecodeBytes is Decode of an archive in memory.
func DecodeBytes(data []byte) (*HAR, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &Error{Msg: "file is empty"}
	}
	if i := invalidUTF8(data); i >= 0 {
		line, col := lineCol(data, i)
		return nil, &Error{Line: line, Column: col, Msg: "file is not valid UTF-8 (a HAR file is JSON text)"}
	}
	var h HAR
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, jsonError(data, err)
	}
	if err := h.check(data); err != nil {
		return nil, err
	}
	return &h, nil
}

// jsonError turns a decoding error into an *Error with its position. The
// decoder counts the bytes it read before it stopped: the offending byte is
// the last of them.
func jsonError(data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		line, col := lineCol(data, int(se.Offset)-1)
		return &Error{Line: line, Column: col, Msg: "invalid JSON: " + strings.TrimPrefix(se.Error(), "json: ")}
	case errors.As(err, &te):
		// Offset is the end of the value of the wrong type; show where it
		// starts.
		line, col := lineCol(data, valueStart(data, int(te.Offset)))
		path := te.Field
		if path == "" {
			path = "(top level)"
		}
		return &Error{Line: line, Column: col, Path: path,
			Msg: fmt.Sprintf("want %s, got a JSON %s", goTypeName(te.Type.String()), te.Value)}
	}
	return &Error{Msg: "invalid JSON: " + err.Error()}
}

// goTypeName describes a Go type of the archive's model in JSON terms.
func goTypeName(t string) string {
	switch {
	case t == "string":
		return "a string"
	case t == "int" || t == "float64":
		return "a number"
	case strings.HasPrefix(t, "[]"):
		return "an array"
	}
	return "an object"
}

// valueStart finds the start of the JSON value that ends at end: the
// decoder reports the offset after it. It walks back over a string or a
// bare word; for a container it gives end.
func valueStart(data []byte, end int) int {
	end = min(max(end, 1), len(data))
	i := end - 1
	if data[i] == '"' {
		for j := i - 1; j >= 0; j-- {
			if data[j] == '"' && !escaped(data, j) {
				return j
			}
		}
		return i
	}
	for i > 0 && bytes.IndexByte([]byte("{}[],: \t\r\n"), data[i-1]) < 0 {
		i--
	}
	return i
}

// escaped reports whether the quote at data[j] is preceded by an odd
// number of backslashes.
func escaped(data []byte, j int) bool {
	n := 0
	for k := j - 1; k >= 0 && data[k] == '\\'; k-- {
		n++
	}
	return n%2 == 1
}

// lineCol converts a byte offset into a 1-based line and column (the
// column counts characters, not bytes).
func lineCol(data []byte, off int) (int, int) {
	off = min(max(off, 0), len(data))
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	return line, 1 + utf8.RuneCount(data[start:off])
}

// invalidUTF8 returns the offset of the first byte that is not UTF-8, or
// -1.
func invalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// check reports what makes a well-formed JSON document an unusable archive.
func (h *HAR) check(data []byte) error {
	if h.Log == nil {
		return &Error{Line: 1, Column: 1, Msg: `no "log" object: this is not a HAR file`}
	}
	switch v := h.Log.Version; v {
	case "1.2":
	case "":
		return &Error{Path: "log.version", Msg: `missing (want "1.2"): only HAR 1.2 is supported`}
	default:
		return &Error{Path: "log.version", Msg: fmt.Sprintf(`%q is not supported: only HAR 1.2 is (re-export the recording from a current browser)`, v)}
	}
	if h.Log.Entries == nil {
		return &Error{Path: "log.entries", Msg: "missing: the archive has no requests"}
	}
	var probs []error
	var offsets []int // computed on the first problem only
	add := func(i int, field, format string, args ...any) {
		if len(probs) == maxProblems {
			probs = append(probs, errors.New("too many problems; fix these and try again"))
		}
		if len(probs) > maxProblems {
			return
		}
		if offsets == nil {
			offsets = entryOffsets(data)
		}
		e := &Error{Path: fmt.Sprintf("log.entries[%d]", i), Msg: fmt.Sprintf(format, args...)}
		if field != "" {
			e.Path += "." + field
		}
		if i < len(offsets) {
			e.Line, e.Column = lineCol(data, offsets[i])
		}
		probs = append(probs, e)
	}
	for i := range h.Log.Entries {
		e := &h.Log.Entries[i]
		if e.StartedDateTime == "" {
			add(i, "startedDateTime", "missing")
		} else if t, err := parseTime(e.StartedDateTime); err != nil {
			add(i, "startedDateTime", "%q is not an ISO 8601 date and time like 2024-05-01T10:00:00.000Z", e.StartedDateTime)
		} else {
			e.Started = t
		}
		if e.Request == nil {
			add(i, "", `no "request" object`)
			continue
		}
		rq := e.Request
		switch {
		case rq.Method == "":
			add(i, "request.method", "missing")
		case !httpguts.ValidHeaderFieldName(rq.Method):
			add(i, "request.method", "%q is not an HTTP method", rq.Method)
		}
		if rq.URL == "" {
			add(i, "request.url", "missing")
		} else if u, err := url.Parse(rq.URL); err != nil || u.Scheme == "" {
			add(i, "request.url", "%q is not an absolute URL", rq.URL)
		}
	}
	return errors.Join(probs...)
}

// parseTime parses an ISO 8601 date and time as HAR writers write them:
// RFC 3339 with or without fractional seconds.
func parseTime(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, s)
}

// entryOffsets returns the byte offset of each element of log.entries, in
// order. It runs only when there is a problem to place; a document that
// decoded has the shape it walks.
func entryOffsets(data []byte) []int {
	dec := json.NewDecoder(bytes.NewReader(data))
	if !enterKey(dec, "log") || !enterKey(dec, "entries") {
		return nil
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return nil
	}
	var offs []int
	for dec.More() {
		off := int(dec.InputOffset())
		for off < len(data) && bytes.IndexByte([]byte(", \t\r\n"), data[off]) >= 0 {
			off++
		}
		offs = append(offs, off)
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			break
		}
	}
	return offs
}

// enterKey reads an object's opening brace and its members up to key (as
// encoding/json matches keys: ignoring case) and leaves dec before the
// key's value.
func enterKey(dec *json.Decoder, key string) bool {
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		if k, _ := t.(string); strings.EqualFold(k, key) {
			return true
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return false
		}
	}
	return false
}
