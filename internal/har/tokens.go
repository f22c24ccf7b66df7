package har

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"mime"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/net/http/httpguts"
)

// Token bounds: shorter values are too likely to repeat by chance, longer
// ones are documents, not tokens.
const (
	minToken = 8
	maxToken = 8 << 10
	// maxJSONDepth and maxJSONStrings bound the walk of one JSON body.
	maxJSONDepth   = 64
	maxJSONStrings = 100_000
)

func validHeaderName(n string) bool  { return httpguts.ValidHeaderFieldName(n) }
func validHeaderValue(v string) bool { return httpguts.ValidHeaderFieldValue(v) }

// base64Decode decodes standard base64, padded or not, ignoring line
// breaks (some writers wrap it).
func base64Decode(s string) ([]byte, error) {
	s = strings.NewReplacer("\n", "", "\r", "", " ", "").Replace(s)
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}

var mimeType = regexp.MustCompile(`^[a-zA-Z]+/[a-zA-Z0-9.+-]+$`)

// tokenLike reports whether s looks like a token or an id a server hands
// out: long enough, a letter and a digit, no white space, and not a date,
// a URL or a MIME type (values that repeat without being handed on).
func tokenLike(s string) bool {
	if len(s) < minToken || len(s) > maxToken {
		return false
	}
	var letter, digit bool
	for _, r := range s {
		switch {
		case unicode.IsSpace(r) || unicode.IsControl(r):
			return false
		case r >= '0' && r <= '9':
			digit = true
		case unicode.IsLetter(r):
			letter = true
		}
	}
	if !letter || !digit || strings.Contains(s, "://") || mimeType.MatchString(s) {
		return false
	}
	if _, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return false
	}
	if _, err := time.Parse(time.DateOnly, s); err == nil {
		return false
	}
	return true
}

// jsonString is a string value of a JSON document and its path ("" when
// the path cannot be written for an extraction).
type jsonString struct {
	path, key, value string
}

// jsonStrings returns the string values of a JSON document in document
// order, with their paths ($.a.b[0], $['a-b']), or nil when data is not
// JSON. The walk is bounded in depth and count.
func jsonStrings(data []byte) []jsonString {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || (data[0] != '{' && data[0] != '[') || !json.Valid(data) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out []jsonString
	var walk func(path, key string, depth int) bool
	walk = func(path, key string, depth int) bool {
		if depth > maxJSONDepth || len(out) >= maxJSONStrings {
			return false
		}
		t, err := dec.Token()
		if err != nil {
			return false
		}
		switch v := t.(type) {
		case string:
			out = append(out, jsonString{path: path, key: key, value: v})
		case json.Delim:
			if v == '{' {
				for dec.More() {
					kt, err := dec.Token()
					if err != nil {
						return false
					}
					k, _ := kt.(string)
					if !walk(jsonPathKey(path, k), k, depth+1) {
						return false
					}
				}
			} else if v == '[' {
				for i := 0; dec.More(); i++ {
					p := ""
					if path != "" {
						p = path + "[" + strconv.Itoa(i) + "]"
					}
					if !walk(p, key, depth+1) {
						return false
					}
				}
			}
			if _, err := dec.Token(); err != nil { // the closing delimiter
				return false
			}
		}
		return true
	}
	walk("$", "", 0)
	return out
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// jsonPathKey appends a member step to a path: .name for identifiers,
// ['name'] for other names without quotes or backslashes, and "" (no path)
// for the rest.
func jsonPathKey(path, k string) string {
	switch {
	case path == "":
		return ""
	case identifier.MatchString(k):
		return path + "." + k
	case k != "" && !strings.ContainsAny(k, `'\`) && !strings.ContainsFunc(k, unicode.IsControl):
		return path + "['" + k + "']"
	}
	return ""
}

// isJSON reports whether a MIME type (or, failing that, the body) says
// JSON.
func isJSON(mt string, body []byte) bool {
	if base, _, err := mime.ParseMediaType(mt); err == nil {
		if base == "application/json" || strings.HasSuffix(base, "+json") {
			return true
		}
	}
	b := bytes.TrimSpace(body)
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

// isForm reports whether a MIME type is a URL-encoded form.
func isForm(mt string) bool {
	base, _, err := mime.ParseMediaType(mt)
	return err == nil && base == "application/x-www-form-urlencoded"
}

// source is a value a response returned, and where: the step that first
// returned it and the extraction that reads it back.
type source struct {
	value string
	step  int    // index of the step in the journey's request steps
	json  string // a JSON path, or
	hdr   string // a response header's name
	hint  string // the variable name to derive from
	name  string // the variable, once a request uses the value
}

// span is a part of a recorded text replaced by a variable.
type span struct {
	start, end int
	src        *source
}

// field is a recorded text (a path, URL, header value or body) with the
// parts of it that are variables.
type field struct {
	raw   string
	spans []span
}

// add records a span unless it overlaps one already there.
func (f *field) add(start, end int, s *source) {
	for _, o := range f.spans {
		if start < o.end && o.start < end {
			return
		}
	}
	f.spans = append(f.spans, span{start, end, s})
	slices.SortFunc(f.spans, func(a, b span) int { return a.start - b.start })
}

// template writes the field as a template: literal text escaped, spans as
// {{var NAME}}.
func (f *field) template() string {
	var b strings.Builder
	pos := 0
	for _, s := range f.spans {
		lit := escapeLiteral(f.raw[pos:s.start])
		// A literal "{" right before an action would open one itself.
		if strings.HasSuffix(lit, "{") {
			lit = lit[:len(lit)-1] + `{{"{"}}`
		}
		b.WriteString(lit)
		b.WriteString("{{var " + s.src.name + "}}")
		pos = s.end
	}
	b.WriteString(escapeLiteral(f.raw[pos:]))
	return b.String()
}

// label writes the field with its variables as {NAME}, for a step's name.
func (f *field) label() string {
	var b strings.Builder
	pos := 0
	for _, s := range f.spans {
		b.WriteString(f.raw[pos:s.start])
		b.WriteString("{" + s.src.name + "}")
		pos = s.end
	}
	b.WriteString(f.raw[pos:])
	return b.String()
}

// escapeLiteral writes text as a template that renders it: "{{" is the only
// sequence that opens an action.
func escapeLiteral(s string) string {
	return strings.ReplaceAll(s, "{{", `{{"{{"}}`)
}
