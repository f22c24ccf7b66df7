package template

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"
)

const usersCSV = "id,name\n1,ann\n2,bob\n3,cy\n"

const eventsJSONL = `{"kind": "click", "n": 1, "meta": {"a": 1}}
{"kind": "view", "n": 2.50, "ok": true}
{"n": -3e2, "kind": "buy", "tags": ["x"]}
`

// testTables loads the two small files the tests render from.
func testTables(t testing.TB) Tables {
	t.Helper()
	users, err := LoadCSV("users.csv", strings.NewReader(usersCSV), 0)
	if err != nil {
		t.Fatal(err)
	}
	events, err := LoadJSONL("events.jsonl", strings.NewReader(eventsJSONL), 0)
	if err != nil {
		t.Fatal(err)
	}
	return Tables{"users.csv": users, "events.jsonl": events}
}

// dump renders a table as "col=value" rows, "-" for a missing value.
func dump(t *Table) string {
	var b strings.Builder
	for r := range t.Rows() {
		fmt.Fprintf(&b, "%d:", t.Line(r))
		for _, c := range t.Columns() {
			v, ok := t.Value(r, c)
			if !ok {
				v = "-"
			}
			fmt.Fprintf(&b, " %s=%s", c, v)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestLoadCSV(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", usersCSV, "2: id=1 name=ann\n3: id=2 name=bob\n4: id=3 name=cy\n"},
		{"no trailing newline", "a\nx", "2: a=x\n"},
		{"header only", "a,b\n", ""},
		{"bom, crlf, spaces in header", "\uFEFF a , b\r\n1, 2\r\n", "2: a=1 b= 2\n"},
		{"quoted fields", "k,v\n\"x,y\",\"say \"\"hi\"\"\"\n\"multi\nline\",z\nlast,1\n", "2: k=x,y v=say \"hi\"\n3: k=multi\nline v=z\n5: k=last v=1\n"},
		{"empty lines skipped", "k\n\n1\n\n2\n", "3: k=1\n5: k=2\n"},
		{"empty values kept", "a,b\n,\n", "2: a= b=\n"},
	}
	for _, tt := range tests {
		tb, err := LoadCSV("f.csv", strings.NewReader(tt.in), 0)
		if err != nil {
			t.Errorf("LoadCSV(%s) = %v", tt.name, err)
			continue
		}
		if got := dump(tb); got != tt.want {
			t.Errorf("LoadCSV(%s) rows:\n%s\nwant:\n%s", tt.name, got, tt.want)
		}
		if tb.Name() != "f.csv" || tb.Kind() != "csv" {
			t.Errorf("LoadCSV(%s) Name, Kind = %q, %q", tt.name, tb.Name(), tb.Kind())
		}
	}
}

func TestLoadCSVErrors(t *testing.T) {
	tests := []struct {
		name, in string
		max      int64
		want     string
	}{
		{"empty", "", 0, "f.csv: empty file: a header row naming the columns is required"},
		{"only newlines", "\n\n", 0, "f.csv: empty file"},
		{"empty header name", "a,,c\n", 0, "f.csv:1: header column 2 has an empty name"},
		{"blank header name", "a, \n", 0, "f.csv:1: header column 2 has an empty name"},
		{"duplicate header", "a,b,a\n", 0, `f.csv:1: header names column "a" twice`},
		{"ragged short", "a,b,c\n1,2,3\n4,5\n", 0, "f.csv:3: row has 2 fields, the header has 3"},
		{"ragged long", "a\n1\n\n2,3\n", 0, "f.csv:4: row has 2 fields, the header has 1"},
		{"bare quote", "a,b\n1,x\"y\n", 0, "f.csv:2: column 4: bare \" in non-quoted-field"},
		{"unterminated quote", "a\n\"abc\n", 0, "f.csv:2: column 6: extraneous or missing \" in quoted-field"},
		{"too large", "a\n123456\n", 5, "f.csv: larger than the limit of 5 bytes"},
	}
	for _, tt := range tests {
		tb, err := LoadCSV("f.csv", strings.NewReader(tt.in), tt.max)
		if err == nil {
			t.Errorf("LoadCSV(%s) = %v, nil; want error %q", tt.name, dump(tb), tt.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("LoadCSV(%s) error = %q; want %q", tt.name, err, tt.want)
		}
		var fe *FileError
		if !errors.As(err, &fe) || !errors.Is(err, ErrData) {
			t.Errorf("LoadCSV(%s) error %T does not wrap *FileError and ErrData", tt.name, err)
		}
	}
	// Exactly at the limit is fine; a read error is wrapped.
	if _, err := LoadCSV("f.csv", strings.NewReader("a\n1\n"), 4); err != nil {
		t.Errorf("LoadCSV at exactly the limit = %v", err)
	}
	boom := errors.New("disk on fire")
	_, err := LoadCSV("f.csv", iotest.ErrReader(boom), 0)
	if !errors.Is(err, boom) || !errors.Is(err, ErrData) || err.Error() != "f.csv: read: disk on fire" {
		t.Errorf("LoadCSV(failing reader) = %v; want a wrapped read error", err)
	}
}

func TestLoadJSONL(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"mixed", eventsJSONL, "1: kind=click n=1\n2: kind=view n=2.50\n3: kind=buy n=-3e2\n"},
		{"missing fields, blank lines, crlf", "{\"a\": \"x\"}\r\n\n  \n{\"b\": 2}\r\n{}", "1: a=x b=-\n4: a=- b=2\n5: a=- b=-\n"},
		{"escapes", `{"s": "a\"b\\c\u00e9\n"}`, "1: s=a\"b\\cé\n\n"},
		{"last duplicate wins", `{"a": "1", "a": "2"}` + "\n" + `{"a": "3", "a": null}`, "1: a=2\n2: a=-\n"},
		{"non-scalars are not columns", `{"o": {"x": 1}, "l": [1], "b": false, "z": null}`, "1:\n"},
		{"empty file", "", ""},
	}
	for _, tt := range tests {
		tb, err := LoadJSONL("f.jsonl", strings.NewReader(tt.in), 0)
		if err != nil {
			t.Errorf("LoadJSONL(%s) = %v", tt.name, err)
			continue
		}
		if got := dump(tb); got != tt.want {
			t.Errorf("LoadJSONL(%s) rows:\n%s\nwant:\n%s", tt.name, got, tt.want)
		}
	}
}

func TestLoadJSONLErrors(t *testing.T) {
	tests := []struct {
		name, in string
		max      int64
		want     string
	}{
		{"array", "{\"a\": 1}\n[1, 2]\n", 0, "f.jsonl:2: not a JSON object"},
		{"string", `"x"`, 0, "f.jsonl:1: not a JSON object"},
		{"syntax", "{}\n\n{\"a\": }\n", 0, "f.jsonl:3: invalid JSON: invalid character '}'"},
		{"truncated", `{"a": "b"`, 0, "f.jsonl:1: invalid JSON: "},
		{"two values", `{"a": 1} {"b": 2}`, 0, "f.jsonl:1: more than one JSON value on the line"},
		{"trailing garbage", `{"a": 1} x`, 0, "f.jsonl:1: invalid JSON after the object: invalid character 'x'"},
		{"too large", `{"a": 1}`, 7, "f.jsonl: larger than the limit of 7 bytes"},
	}
	for _, tt := range tests {
		tb, err := LoadJSONL("f.jsonl", strings.NewReader(tt.in), tt.max)
		if err == nil {
			t.Errorf("LoadJSONL(%s) = %v, nil; want error %q", tt.name, dump(tb), tt.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), tt.want) || !errors.Is(err, ErrData) {
			t.Errorf("LoadJSONL(%s) error = %q; want %q wrapping ErrData", tt.name, err, tt.want)
		}
	}
}

// rowsData is a Data that is not Tables, for CheckData's generic path.
type rowsData map[string][]map[string]string

func (d rowsData) Rows(file string) int { return len(d[file]) }
func (d rowsData) Value(file string, row int, column string) (string, bool) {
	v, ok := d[file][row][column]
	return v, ok
}

func TestCheckData(t *testing.T) {
	tables := testTables(t)
	empty, err := LoadCSV("empty.csv", strings.NewReader("a\n"), 0)
	if err != nil {
		t.Fatal(err)
	}
	sparse, err := LoadJSONL("sparse.jsonl", strings.NewReader("{\"a\": 1, \"b\": 2}\n\n{\"a\": 3}\n"), 0)
	if err != nil {
		t.Fatal(err)
	}
	tables["empty.csv"] = empty
	tables["sparse.jsonl"] = sparse
	generic := rowsData{"g.csv": {{"a": "1"}, {"a": "2", "b": "x"}}}
	tests := []struct {
		src  string
		d    Data
		want string // the joined messages, "" for nil
	}{
		{"{{seq}}", nil, ""},
		{"{{csv users.csv id}}{{jsonl events.jsonl n}}", tables, ""},
		{"{{csv users.csv id}}", nil, `offset 6: csv: data file "users.csv" is not loaded`},
		{"{{csv nope.csv id}}", tables, `offset 6: csv: data file "nope.csv" is not loaded`},
		{"{{jsonl users.csv id}}", tables, `offset 8: jsonl: data file "users.csv" was loaded as csv, not jsonl`},
		{"{{csv empty.csv a}}", tables, `offset 6: csv: data file "empty.csv" has no data rows`},
		{"{{csv users.csv email}}", tables, `offset 16: csv: users.csv has no column "email" (it has: "id", "name")`},
		{"{{jsonl events.jsonl meta}}", tables, `offset 21: jsonl: events.jsonl has no string or number field "meta" (it has: "kind", "n")`},
		{"{{jsonl sparse.jsonl a}}{{jsonl sparse.jsonl b}}", tables, `offset 45: jsonl: sparse.jsonl:3 has no string or number field "b"`},
		{"{{csv users.csv x}} {{csv nope.csv y}}", tables,
			"offset 16: csv: users.csv has no column \"x\" (it has: \"id\", \"name\")\ntemplate: offset 26: csv: data file \"nope.csv\" is not loaded"},
		{"{{csv g.csv a}}", generic, ""},
		{"{{csv g.csv b}}", generic, `offset 12: csv: g.csv has no column "b"`},
		{"{{csv g.csv a}}{{csv g.csv c}}", generic, `offset 27: csv: g.csv has no column "c"`},
		{"{{csv h.csv a}}", generic, `offset 6: csv: data file "h.csv" is not loaded or has no data rows`},
	}
	for _, tt := range tests {
		tpl, err := Parse(tt.src)
		if err != nil {
			t.Fatalf("Parse(%q) = %v", tt.src, err)
		}
		err = tpl.CheckData(tt.d)
		if tt.want == "" {
			if err != nil {
				t.Errorf("Parse(%q).CheckData = %v; want nil", tt.src, err)
			}
			continue
		}
		if err == nil || err.Error() != "template: "+tt.want {
			t.Errorf("Parse(%q).CheckData = %v; want %q", tt.src, err, "template: "+tt.want)
			continue
		}
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrData) || errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q).CheckData error does not wrap *Error and ErrData only", tt.src)
		}
	}
	// Data in the middle of a generic file missing: the row is named.
	gen := rowsData{"g.csv": {{"a": "1"}, {"b": "2"}}}
	tpl, _ := Parse("{{csv g.csv a}}")
	if err := tpl.CheckData(gen); err == nil || !strings.Contains(err.Error(), `data row 2 of g.csv has no column "a"`) {
		t.Errorf("CheckData(sparse generic data) = %v", err)
	}
}

func TestTableValueBounds(t *testing.T) {
	tables := testTables(t)
	users := tables["users.csv"]
	for _, row := range []int{-1, 3, 100} {
		if v, ok := users.Value(row, "id"); ok {
			t.Errorf("Value(%d, id) = %q, true; want false", row, v)
		}
	}
	if _, ok := users.Value(0, "nope"); ok {
		t.Error("Value(0, nope) = true")
	}
	if tables.Rows("nope") != 0 {
		t.Error("Tables.Rows of an unknown file is not 0")
	}
	if _, ok := tables.Value("nope", 0, "id"); ok {
		t.Error("Tables.Value of an unknown file is ok")
	}
	cols := users.Columns()
	cols[0] = "changed"
	if users.Columns()[0] != "id" {
		t.Error("Columns() returned the table's own slice")
	}
}

// TestRenderData checks the row rule: row = i mod rows, shared by every
// action that names the file, and an unloaded file renders as nothing.
func TestRenderData(t *testing.T) {
	tables := testTables(t)
	tpl, err := Parse("{{csv users.csv id}}={{csv users.csv name}};{{jsonl events.jsonl kind}}")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := range uint64(7) {
		got = append(got, tpl.Render(5, i, tables))
	}
	want := "[1=ann;click 2=bob;view 3=cy;buy 1=ann;click 2=bob;view 3=cy;buy 1=ann;click]"
	if fmt.Sprint(got) != want {
		t.Errorf("renders = %v; want %v", got, want)
	}
	if got := tpl.Render(5, 0, nil); got != "=;" {
		t.Errorf("render without data = %q; want %q", got, "=;")
	}
	// Indexes beyond int range: 2⁶³ ≡ 2 (mod 3), so 2⁶³+1 is row 0.
	if got := tpl.Render(5, 1<<63+1, tables); got != "1=ann;click" {
		t.Errorf("render of arrival 2⁶³+1 = %q; want row 0", got)
	}
}

func TestLoadFromContent(t *testing.T) {
	src := "id,name\n1,ada\n2,grace\n"
	a, err := LoadCSV("u.csv", strings.NewReader(src), 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load("u.csv", a.Kind(), a.Content(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := b.Value(1, "name"); v != "grace" || b.Rows() != 2 || string(b.Content()) != src {
		t.Errorf("reloaded table: rows %d value %q", b.Rows(), v)
	}
	if _, err := Load("x", "xml", nil, 0); !errors.Is(err, ErrData) {
		t.Errorf("Load(kind xml) = %v; want ErrData", err)
	}
}
