package scenario

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestTemplatesAndData parses testdata/full.yaml: templates compiled,
// data files loaded next to the scenario, values rendered from them.
func TestTemplatesAndData(t *testing.T) {
	s, err := Load("testdata/full.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(s.Data)); !slices.Equal(got, []string{"data/items.jsonl", "data/users.csv"}) {
		t.Fatalf("Data = %v; want the two data files", got)
	}
	read, write, ext := s.Requests[0].Compiled, s.Requests[1].Compiled, s.Requests[2].Compiled
	if read.Path == nil || read.Path.Static() || read.URL != nil || read.Body != nil || read.Headers != nil {
		t.Errorf("requests[0].Compiled = %+v; want a dynamic path only", read)
	}
	if write.Path == nil || !write.Path.Static() || write.Headers["Content-Type"] == nil || !write.Headers["Content-Type"].Static() {
		t.Errorf("requests[1].Compiled = %+v; want a static path and Content-Type", write)
	}
	if ext.Path != nil || ext.URL == nil {
		t.Errorf("requests[2].Compiled = %+v; want a URL and no path", ext)
	}
	// Row i mod 3 of users.csv, row i mod 2 of items.jsonl.
	for i, want := range []string{"1", "2", "3", "1"} {
		if got := write.Headers["X-User"].Render(s.Seed, uint64(i), s.Data); got != want {
			t.Errorf("X-User for arrival %d = %q; want %q", i, got, want)
		}
	}
	body := write.Body.Render(s.Seed, 1, s.Data)
	if !strings.HasPrefix(body, `{"n": 1, "sku": "blue-2", "id": "`) || !strings.HasSuffix(body, "\"}\n") {
		t.Errorf("body for arrival 1 = %q", body)
	}
	if err := s.Validate(Options{}); err != nil {
		t.Errorf("Validate(parsed, with its data) = %v", err)
	}
	if got := s.Requests[2].Name; got != "external" {
		t.Errorf("requests[2].Name = %q", got)
	}
	if s.Requests[1].Expected(200) || !s.Requests[1].Expected(202) || !s.Requests[0].Expected(304) || s.Requests[0].Expected(404) {
		t.Errorf("Expected: want 201/202 for write-item and any 2xx/3xx for read-item")
	}
}

// TestTemplateErrorPositions checks that a template error points at the
// character in the file, whatever the quoting, and at the value when the
// string is folded.
func TestTemplateErrorPositions(t *testing.T) {
	head := "name: a\n" + validStages + validLoad + "requests:\n" // requests on line 4
	unknown := `invalid template: unknown function "nope" (known: seq, int, zipf, choice, uuid, csv, jsonl, var)`
	tests := []struct {
		name string
		reqs string
		want []string
	}{
		{"plain", "  - path: /items/{{nope}}\n", []string{"x.yaml:5:20: " + unknown}},
		{"single quoted", "  - path: '/it''s/{{ nope}}'\n", []string{"x.yaml:5:22: " + unknown}},
		{"double quoted", "  - path: \"/\\u00e9\\t/{{nope}}\"\n", []string{"x.yaml:5:24: " + unknown}},
		{"flow", "  - {path: /a, headers: {X-A: 'x{{int 2 1}}'}}\n", []string{
			"x.yaml:5:39: invalid template: int: A (2) is greater than B (1)"}},
		{"literal block", "  - body: |\n      line one\n        {\"n\": {{zipf 0 10}}}\n", []string{
			"x.yaml:7:22: invalid template: zipf: exponent S must be greater than 0, got 0"}},
		{"folded block", "  - body: >\n      a\n      {{nope}}\n", []string{
			"x.yaml:5:11: " + unknown + " (at byte 4 of the value)"}},
		{"plain over lines", "  - body: a\n      {{nope}}\n", []string{
			"x.yaml:5:11: " + unknown + " (at byte 4 of the value)"}},
		{"alias", "  - headers: {X-A: &h 'v={{nope}}'}\n  - {path: /b, headers: {X-B: *h}}\n", []string{
			"x.yaml:5:28: " + unknown}},
		{"unterminated", "  - path: /a/{{seq\n", []string{
			"x.yaml:5:14: invalid template: unterminated action: no closing \"}}\""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := head + tt.reqs
			_, err := Parse("x.yaml", []byte(src), Options{})
			if got := errLines(err); !slices.Equal(got, tt.want) {
				t.Errorf("Parse(%q) error:\n%s\nwant:\n%s", src, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestParseBadRequests(t *testing.T) {
	head := "name: a\n" + validStages + validLoad + "requests:\n" // requests on line 4
	tests := []struct {
		name string
		reqs string
		want []string
	}{
		{"path and url", "  - {path: /a, url: 'http://h/a'}\n", []string{
			"x.yaml:5:5: request must set one of path or url, not both"}},
		{"urls", "  - url: ftp://h/a\n  - url: 'http:///a'\n  - url: 'http://h/a#b'\n  - url: 'http://h:99999/'\n  - url: 'http://h/a b'\n", []string{
			"x.yaml:5:10: url must start with http:// or https:// (got \"ftp://h/a\")",
			"x.yaml:6:10: url must have a host (got \"http:///a\")",
			"x.yaml:7:10: url must not have a fragment (got \"http://h/a#b\")",
			"x.yaml:8:10: url has an invalid port \"99999\" (want 1 to 65535)",
			"x.yaml:9:10: url must not contain spaces or control characters (got \"http://h/a b\")"}},
		{"templated paths", "  - path: '{{seq}}'\n  - path: '/a/{{choice \"b c\"}}'\n  - url: '{{choice http://a}}'\n  - url: 'https://{{choice \"a b\"}}/'\n", []string{
			"x.yaml:5:11: path must start with \"/\" (got \"{{seq}}\")",
			"x.yaml:6:11: for the first arrival, path must not contain spaces or control characters (got \"/a/b c\")",
			"x.yaml:7:10: url must start with http:// or https:// (got \"{{choice http://a}}\")",
			"x.yaml:8:10: for the first arrival, url must not contain spaces or control characters (got \"https://a b/\")"}},
		{"templated header", "  - headers: {X-A: '{{choice \"a\\nb\"}}'}\n", []string{
			"x.yaml:5:20: for the first arrival, header \"X-A\" has a control character in its value"}},
		{"escaped braces are literal", "  - path: '/a/{{\"{{\"}} b'\n", []string{
			"x.yaml:5:11: path must not contain spaces or control characters (got \"/a/{{ b\")"}},
		{"weights", "  - {path: /a, weight: 0}\n  - {path: /b, weight: -1}\n  - {path: /c, weight: x}\n", []string{
			"x.yaml:5:24: weight must be > 0 (got 0)",
			"x.yaml:6:24: weight must be > 0 (got -1)",
			"x.yaml:7:24: weight must be a number (got string)"}},
		{"expect", "  - {path: /a, expect: []}\n  - {path: /b, expect: [200, 99, 600, 200]}\n  - {path: /c, expect: 200}\n", []string{
			"x.yaml:5:24: expect must list at least one status (leave it out to accept any 2xx or 3xx)",
			"x.yaml:6:30: expect[1] must be an HTTP status from 100 to 599 (got 99)",
			"x.yaml:6:34: expect[2] must be an HTTP status from 100 to 599 (got 600)",
			"x.yaml:6:39: duplicate status 200 in expect",
			"x.yaml:7:24: expect must be a list (got number)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := head + tt.reqs
			_, err := Parse("x.yaml", []byte(src), Options{})
			if got := errLines(err); !slices.Equal(got, tt.want) {
				t.Errorf("Parse(%q) error:\n%s\nwant:\n%s", src, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestDataFileProblems checks every way a data file can be unusable, each
// reported at the FILE argument of the template that names it.
func TestDataFileProblems(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"ok.csv":      "id,name\n1,a\n",
		"ragged.csv":  "id,name\n1,a\n2\n",
		"empty.csv":   "id,name\n",
		"bad.jsonl":   "{\"a\": 1}\nnot json\n",
		"sub/ok.csv":  "x\n1\n",
		"big.csv":     "x\n" + strings.Repeat("1\n", MaxDataFileSize/2),
		"outside.csv": "x\n1\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, "s", name)
		if name == "outside.csv" {
			p = filepath.Join(dir, name)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A symbolic link out of the scenario's directory is not followed.
	if err := os.Symlink(filepath.Join(dir, "outside.csv"), filepath.Join(dir, "s", "link.csv")); err != nil {
		t.Fatal(err)
	}
	src := "name: d\n" + validStages + validLoad + "requests:\n" +
		"  - path: /{{csv ok.csv id}}/{{csv ok.csv nope}}\n" + // 5
		"  - path: /{{csv missing.csv id}}\n" + //               6
		"  - path: /{{csv ragged.csv id}}\n" + //                7
		"  - path: /{{csv empty.csv id}}\n" + //                 8
		"  - path: /{{jsonl bad.jsonl a}}\n" + //                9
		"  - path: /{{csv ../outside.csv x}}\n" + //             10
		"  - path: /{{csv /etc/passwd x}}\n" + //                11
		"  - path: /{{csv sub/ok.csv x}}/{{jsonl ok.csv id}}\n" + // 12
		"  - path: /{{csv link.csv x}}\n" + //                   13
		"  - path: /{{csv big.csv x}}\n" //                      14
	scenarioPath := filepath.Join(dir, "s", "d.yaml")
	if err := os.WriteFile(scenarioPath, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(scenarioPath, Options{})
	want := []string{
		":5:43: csv: ok.csv has no column \"nope\" (it has: \"id\", \"name\")",
		":6:18: cannot read data file \"missing.csv\": no such file or directory",
		":7:18: invalid data file ragged.csv:3: row has 1 fields, the header has 2",
		":8:18: csv: data file \"empty.csv\" has no data rows",
		":9:20: invalid data file bad.jsonl:2: invalid JSON: invalid character 'o' in literal null (expecting 'u')",
		":10:18: data file \"../outside.csv\" must be a relative path inside the scenario's directory",
		":11:18: data file \"/etc/passwd\" must be a relative path inside the scenario's directory",
		":12:41: jsonl: data file \"ok.csv\" was loaded as csv, not jsonl",
		":13:18: cannot read data file \"link.csv\": path escapes from parent",
		":14:18: data file \"big.csv\" is larger than the 8 MiB limit",
	}
	got := errLines(err)
	for i := range got {
		got[i] = strings.TrimPrefix(got[i], scenarioPath)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Load(data problems) error:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Parse has no file system unless it is given one.
	_, err = Parse("x.yaml", []byte("name: d\n"+validStages+validLoad+"requests: [{path: '/{{csv a.csv id}}'}]\n"), Options{})
	if want := "x.yaml:4:27: data file \"a.csv\" cannot be read: data files need Load (or Options.ReadFile)"; err == nil || err.Error() != want {
		t.Errorf("Parse(data file, no ReadFile) = %v; want %q", err, want)
	}

	// The total size is bounded too.
	read := func(name string) ([]byte, error) {
		return []byte("x\n" + strings.Repeat("1", 6<<20) + "\n"), nil // 6 MiB
	}
	_, err = Parse("x.yaml", []byte("name: d\n"+validStages+validLoad+
		"requests: [{path: '/{{csv a.csv x}}/{{csv b.csv x}}/{{csv c.csv x}}'}]\n"), Options{ReadFile: read})
	if want := "x.yaml:4:59: data files are larger than the 16 MiB limit in total (with \"c.csv\")"; err == nil || err.Error() != want {
		t.Errorf("Parse(18 MiB of data) = %v; want %q", err, want)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("Parse(18 MiB of data) = %v; want ErrInvalid", err)
	}
}
