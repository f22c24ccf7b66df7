package scenario

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// kinds has a field of every kind the decoder supports, including those
// the scenario types do not use yet.
type kinds struct {
	S     string            `yaml:"s"`
	B     bool              `yaml:"b"`
	I     int               `yaml:"i"`
	I8    int8              `yaml:"i8"`
	U     uint16            `yaml:"u"`
	F     float64           `yaml:"f"`
	F32   float32           `yaml:"f32"`
	P     *kinds            `yaml:"p"`
	L     []int             `yaml:"l"`
	M     map[string]int    `yaml:"m"`
	Addr  netip.Addr        `yaml:"addr"` // a plain encoding.TextUnmarshaler
	Rate  Rate              `yaml:"rate"`
	Skip  string            `yaml:"-"`
	NoTag string            // decoded as "notag"
	MS    map[string]string `yaml:"ms"`
}

// decodeYAML decodes src into a new T with the strict decoder.
func decodeYAML[T any](t *testing.T, src string) (T, []string) {
	t.Helper()
	var v T
	body, p := document([]byte(src))
	if p != nil {
		t.Fatalf("document(%q): %s", src, p.msg)
	}
	d := newDecoder([]byte(src))
	d.decode(body, reflect.ValueOf(&v).Elem(), "")
	var msgs []string
	for _, p := range d.probs {
		msgs = append(msgs, d.locate(p).String()+": "+p.msg)
	}
	return v, msgs
}

func TestDecodeKinds(t *testing.T) {
	src := `
s: text
b: true
i: -42
i8: 127
u: 65535
f: 1.5
f32: 2
p: {s: inner, l: [1, 2]}
l: [3]
m: {a: 1, b: 2}
addr: 127.0.0.1
rate: 1k
notag: yes
ms: {a: 1, b: true, c: 1.50}
`
	got, probs := decodeYAML[kinds](t, src)
	if len(probs) > 0 {
		t.Fatalf("decode problems: %v", probs)
	}
	want := kinds{
		S: "text", B: true, I: -42, I8: 127, U: 65535, F: 1.5, F32: 2,
		P:     &kinds{S: "inner", L: []int{1, 2}},
		L:     []int{3},
		M:     map[string]int{"a": 1, "b": 2},
		Addr:  netip.MustParseAddr("127.0.0.1"),
		Rate:  1000,
		NoTag: "yes",
		MS:    map[string]string{"a": "1", "b": "true", "c": "1.50"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decode =\n%+v\nwant\n%+v", got, want)
	}
}

func TestDecodeKindErrors(t *testing.T) {
	tests := []struct {
		src  string
		want string
	}{
		{"b: yes\n", "1:4: b must be true or false (got string)"},
		{"i: 1.5\n", "1:4: i must be an integer (got number)"},
		{"i8: 128\n", "1:5: i8 is out of range (got 128)"},
		{"u: -1\n", "1:4: u is out of range (got -1)"},
		{"i: 9223372036854775808\n", "1:4: i is out of range (got 9223372036854775808)"},
		{"f: .inf\n", "1:4: f is out of range (got .inf)"},
		{"f32: 1.0e300\n", "1:6: f32 is out of range (got 1.0e300)"},
		{"f: abc\n", "1:4: f must be a number (got string)"},
		{"l: [a]\n", "1:5: l[0] must be an integer (got string)"},
		{"m: {a: x}\n", `1:8: m["a"] must be an integer (got string)`},
		{"p: {p: {s: [1]}}\n", "1:12: s must be a string (got list)"},
		{"addr: [1]\n", "1:7: addr must be a string (got list)"},
		{"addr: 300.0.0.1\n", `1:7: ParseAddr("300.0.0.1"): IPv4 field has value >255`},
		{"skip: x\n", "1:1: unknown field \"skip\" (known fields: s, b, i, i8, u, f, f32, p, l, m, addr, rate, notag, ms)"},
		{"ms: {a: 1, a: 2}\n", `1:12: duplicate key "a" (first at 1:6)`},
		{"s: *x\n", `1:4: unknown anchor "x"`},
		{"s: &x [1]\nb: *x\n", "1:7: s must be a string (got list)\n2:4: b must be true or false (got list)"},
	}
	for _, tt := range tests {
		_, probs := decodeYAML[kinds](t, tt.src)
		if got := strings.Join(probs, "\n"); got != tt.want {
			t.Errorf("decode(%q) problems:\n%s\nwant:\n%s", tt.src, got, tt.want)
		}
	}
}

func TestDecodeNulls(t *testing.T) {
	got, probs := decodeYAML[kinds](t, "s:\np: ~\nl:\nm: null\nms: {a: }\n")
	if len(probs) > 0 {
		t.Fatalf("decode problems: %v", probs)
	}
	want := kinds{MS: map[string]string{"a": ""}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decode(nulls) = %+v; want %+v", got, want)
	}
}

func TestPaths(t *testing.T) {
	tests := []struct{ path, parent, label string }{
		{"", "", "scenario"},
		{"name", "", "name"},
		{"stages[0]", "stages", "stages[0]"},
		{"stages[0].url", "stages[0]", "url"},
		{"load.constant.rate", "load.constant", "rate"},
		{`requests[1].headers["X-Id"]`, "requests[1].headers", `headers["X-Id"]`},
		{`requests[1].headers["a.b[c]\"d"]`, "requests[1].headers", `headers["a.b[c]\"d"]`},
		{`m["a"]["b"]`, `m["a"]`, `m["a"]["b"]`},
	}
	for _, tt := range tests {
		if got := parentPath(tt.path); got != tt.parent {
			t.Errorf("parentPath(%q) = %q; want %q", tt.path, got, tt.parent)
		}
		if got := label(tt.path); got != tt.label {
			t.Errorf("label(%q) = %q; want %q", tt.path, got, tt.label)
		}
	}
	if got := keyPath(indexPath(joinPath("requests", "x"), 2), "a\"b"); got != `requests.x[2]["a\"b"]` {
		t.Errorf("path builders = %q", got)
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"name", "name", 0}, {"nmae", "name", 1}, {"nam", "name", 1},
		{"rat", "rate", 1}, {"base", "name", 2}, {"", "abc", 3}, {"bundeld", "bundled", 1},
		{"ca", "abc", 3}, // optimal string alignment does not edit a substring twice
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d; want %d", tt.a, tt.b, got, tt.want)
		}
	}
	fields := structFields(reflect.TypeFor[Constant]())
	if len(fields) != 2 || fields[0].name != "rate" || fields[1].name != "duration" {
		t.Errorf("structFields(Constant) = %v; want rate, duration", fields)
	}
}

// TestDecodeUnsupportedKind checks that a field of a kind the decoder
// does not know is a loud programming error, not a silent zero.
func TestDecodeUnsupportedKind(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "cannot decode into chan int (c)") {
			t.Errorf("recover() = %v; want the cannot-decode panic", r)
		}
	}()
	decodeYAML[struct {
		C chan int `yaml:"c"`
	}](t, "c: 1\n")
}
