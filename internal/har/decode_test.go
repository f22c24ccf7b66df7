package har

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string // every line of the error, in order
	}{
		{"bad-json.har", []string{`4:48: invalid JSON: invalid character ',' looking for beginning of object key string`}},
		{"version-1.1.har", []string{`log.version: "1.1" is not supported: only HAR 1.2 is (re-export the recording from a current browser)`}},
		{"no-log.har", []string{`1:1: no "log" object: this is not a HAR file`}},
		{"no-request.har", []string{
			`6:3: log.entries[1].startedDateTime: "yesterday" is not an ISO 8601 date and time like 2024-05-01T10:00:00.000Z`,
			`6:3: log.entries[1]: no "request" object`,
		}},
		{"type-error.har", []string{`4:27: log.entries.response.status: want a number, got a JSON string`}},
	} {
		b, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		_, err = DecodeBytes(b)
		if err == nil {
			t.Errorf("Decode(%s) = nil; want %q", tc.file, tc.want)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Decode(%s) = %v; does not wrap ErrInvalid", tc.file, err)
		}
		if got := strings.Split(err.Error(), "\n"); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("Decode(%s) =\n%s\nwant\n%s", tc.file, err, strings.Join(tc.want, "\n"))
		}
	}
}

func TestDecodeInline(t *testing.T) {
	entry := func(fields string) string {
		return `{"log": {"version": "1.2", "entries": [` + fields + `]}}`
	}
	for _, tc := range []struct {
		name, src, want string
	}{
		{"empty", "  \n", "file is empty"},
		{"not utf-8", "{\"log\": \"\xff\"}", "1:10: file is not valid UTF-8 (a HAR file is JSON text)"},
		{"truncated", `{"log": {"version": "1.2",`, "1:26: invalid JSON: unexpected end of JSON input"},
		{"trailing", `{"log": {"version": "1.2", "entries": []}} x`, "1:44: invalid JSON: invalid character 'x' after top-level value"},
		{"array", `[]`, "1:1: (top level): want an object, got a JSON array"},
		{"log not object", `{"log": 3}`, "1:9: log: want an object, got a JSON number"},
		{"no version", `{"log": {"entries": []}}`, `log.version: missing (want "1.2"): only HAR 1.2 is supported`},
		{"no entries", `{"log": {"version": "1.2"}}`, "log.entries: missing: the archive has no requests"},
		{"entries not array", `{"log": {"version": "1.2", "entries": {}}}`, "1:39: log.entries: want an array, got a JSON object"},
		{"no method", entry(`{"startedDateTime": "2024-05-01T10:00:00Z", "request": {"url": "https://a/"}}`), "1:40: log.entries[0].request.method: missing"},
		{"bad method", entry(`{"startedDateTime": "2024-05-01T10:00:00Z", "request": {"method": "G T", "url": "https://a/"}}`), `1:40: log.entries[0].request.method: "G T" is not an HTTP method`},
		{"relative url", entry(`{"startedDateTime": "2024-05-01T10:00:00Z", "request": {"method": "GET", "url": "/a"}}`), `1:40: log.entries[0].request.url: "/a" is not an absolute URL`},
		{"no url", entry(`{"startedDateTime": "2024-05-01T10:00:00Z", "request": {"method": "GET"}}`), `1:40: log.entries[0].request.url: missing`},
		{"no start", entry(`{"request": {"method": "GET", "url": "https://a/"}}`), `1:40: log.entries[0].startedDateTime: missing`},
	} {
		_, err := DecodeBytes([]byte(tc.src))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: Decode(%q) = %v; want %q", tc.name, tc.src, err, tc.want)
		}
	}
}

// TestDecodeManyProblems: problems are listed up to a bound.
func TestDecodeManyProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"log": {"version": "1.2", "entries": [`)
	for i := range 50 {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString(`{"startedDateTime": "2024-05-01T10:00:00Z"}`)
	}
	b.WriteString("]}}")
	_, err := DecodeBytes([]byte(b.String()))
	if err == nil {
		t.Fatal("Decode of 50 entries without a request = nil")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxProblems+1 || lines[maxProblems] != "too many problems; fix these and try again" || !strings.HasPrefix(lines[19], "20:1: log.entries[19]:") {
		t.Errorf("Decode of 50 bad entries = %d lines, ending %q; want %d problems then the notice", len(lines), lines[len(lines)-1], maxProblems)
	}
}

func TestDecodeTooLarge(t *testing.T) {
	// The limit is MaxSize; a small one keeps the test fast.
	const limit = 1 << 10
	_, err := decode(strings.NewReader(strings.Repeat(" ", limit+1)), limit)
	if err == nil || err.Error() != "file is larger than the 256 MiB limit" {
		t.Errorf("Decode of limit+1 bytes = %v; want the size limit", err)
	}
	if _, err := decode(strings.NewReader(`{"log": {"version": "1.2", "entries": []}}`), limit); err != nil {
		t.Errorf("Decode of a small archive under the limit = %v", err)
	}
}

func TestDecodeFields(t *testing.T) {
	h := load(t, "header-token.har")
	e := h.Log.Entries[0]
	if e.Started.UTC().Format("15:04:05.000") != "08:00:00.000" || e.Time != 100 {
		t.Errorf("entry 0 started %v, time %v; want 08:00:00 UTC, 100", e.Started, e.Time)
	}
	body, ok := e.Response.Content.Body()
	if !ok || string(body) != `{"cart-id":"cart-9f8e7d6c"}` {
		t.Errorf("base64 body = %q, %v", body, ok)
	}
	if _, ok := (&Content{Text: "x", Encoding: "gzip"}).Body(); ok {
		t.Errorf("a body in an unknown encoding decoded")
	}
	if b, ok := (&Content{Text: "eyJhIjox\nfQ", Encoding: "base64"}).Body(); !ok || string(b) != `{"a":1}` {
		t.Errorf("unpadded, wrapped base64 = %q, %v", b, ok)
	}
}
