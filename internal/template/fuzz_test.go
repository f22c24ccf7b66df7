package template

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// fakeData serves every file and column the fuzzer invents: three rows whose
// values name their file, column and row.
type fakeData struct{}

func (fakeData) Rows(string) int { return 3 }
func (fakeData) Value(file string, row int, column string) (string, bool) {
	return file + "/" + column + "/" + string(rune('0'+row)), true
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "/items/{{seq}}", `{{"{{"}}`, "{{zipf 1.1 1000000}}", "{{zipf 0.99 1e9}}",
		"{{int -5 5}}", "{{int -9223372036854775808 9223372036854775807}}",
		`{{choice a "b c" ` + "`d`" + `}}`, "{{uuid}}", "{{csv users.csv id}}", "{{jsonl e.jsonl n}}",
		`{"n": {{seq}}, "k": "{{zipf 1.1 100}}"}`, "{{", "{{}}", "{{seq {{seq}}", `{{choice "a}}`,
		"{{int 5 1}}", "{{zipf 0 1}}", "{{zipf 64 9007199254740992}}", allFuncs,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tpl, err := Parse(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q) error %T %v is not an *Error wrapping ErrSyntax", s, err, err)
			}
			if e.Offset < 0 || e.Offset > len(s) || e.Msg == "" {
				t.Fatalf("Parse(%q) error at offset %d of %d: %q", s, e.Offset, len(s), e.Msg)
			}
			return
		}
		if tpl.String() != s {
			t.Fatalf("Parse(%q).String() = %q", s, tpl.String())
		}
		var d fakeData
		if err := tpl.CheckData(d); err != nil {
			t.Fatalf("Parse(%q).CheckData(every column) = %v", s, err)
		}
		for _, r := range tpl.Refs() {
			if r.FileOffset <= r.Offset || r.ColumnOffset <= r.FileOffset || r.ColumnOffset >= len(s) {
				t.Fatalf("Parse(%q) ref %+v has offsets out of order", s, r)
			}
		}
		first := tpl.Append(nil, 1, 0, d)
		for _, seed := range []uint64{0, 1, 1 << 63} {
			for _, i := range []uint64{0, 1, 12345, 1<<64 - 1} {
				a := tpl.Append(nil, seed, i, d)
				if b := tpl.Append(nil, seed, i, d); !bytes.Equal(a, b) {
					t.Fatalf("Parse(%q) rendered %q then %q for (%d, %d)", s, a, b, seed, i)
				}
				if tpl.Static() && !bytes.Equal(a, first) {
					t.Fatalf("static Parse(%q) rendered %q and %q", s, first, a)
				}
			}
		}
		// Text outside actions survives: a template without "{{" renders itself.
		if !strings.Contains(s, "{{") && string(first) != s {
			t.Fatalf("Parse(%q) without actions rendered %q", s, first)
		}
	})
}

func FuzzLoadCSV(f *testing.F) {
	for _, s := range []string{usersCSV, "a,b\n1,2\n", "\uFEFFa\n\"x\ny\"\n", "a,a\n", "a\n1,2\n", "a\n\"", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tb, err := LoadCSV("f.csv", strings.NewReader(s), 1<<16)
		if err != nil {
			if !errors.Is(err, ErrData) {
				t.Fatalf("LoadCSV(%q) error %v does not wrap ErrData", s, err)
			}
			return
		}
		checkTable(t, tb, true)
	})
}

func FuzzLoadJSONL(f *testing.F) {
	for _, s := range []string{eventsJSONL, `{"a": "x"}`, "{}\n[]\n", `{"a": 1} {}`, `{"a": {"b": [1, "x"]}, "c": 1e9}`, ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tb, err := LoadJSONL("f.jsonl", strings.NewReader(s), 1<<16)
		if err != nil {
			if !errors.Is(err, ErrData) {
				t.Fatalf("LoadJSONL(%q) error %v does not wrap ErrData", s, err)
			}
			return
		}
		checkTable(t, tb, false)
	})
}

// checkTable checks a loaded table's invariants: unique columns, lines in
// increasing order, every CSV cell present, and a CheckData verdict that
// matches the cells.
func checkTable(t *testing.T, tb *Table, complete bool) {
	t.Helper()
	seen := map[string]bool{}
	for _, c := range tb.Columns() {
		if seen[c] {
			t.Fatalf("column %q twice", c)
		}
		seen[c] = true
	}
	for r := range tb.Rows() {
		if r > 0 && tb.Line(r) <= tb.Line(r-1) {
			t.Fatalf("row %d on line %d after line %d", r, tb.Line(r), tb.Line(r-1))
		}
	}
	tables := Tables{tb.Name(): tb}
	for _, c := range tb.Columns() {
		if c == "" {
			continue // a JSON key may be empty, but no template can name it
		}
		all := tb.Rows() > 0
		for r := range tb.Rows() {
			if _, ok := tb.Value(r, c); !ok {
				if complete {
					t.Fatalf("row %d lacks column %q", r, c)
				}
				all = false
			}
		}
		tpl, err := Parse("{{" + tb.Kind() + " " + tb.Name() + " " + quote(c) + "}}")
		if err != nil {
			t.Fatalf("template for column %q: %v", c, err)
		}
		if err := tpl.CheckData(tables); (err == nil) != all {
			t.Fatalf("CheckData(column %q) = %v; every row has it: %v", c, err, all)
		}
	}
}

// quote writes s as a template's back-quoted or double-quoted argument.
func quote(s string) string {
	if !strings.Contains(s, "`") && !strings.Contains(s, "\r") {
		return "`" + s + "`"
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range []byte(s) {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			const hex = "0123456789abcdef"
			b.WriteString(`\x`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
