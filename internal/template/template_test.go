package template

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// TestSplitMix64Reference pins the generator to the published SplitMix64
// output for state 0 (splitmix64.c by Vigna): agents built with any Go release
// must draw the same numbers.
func TestSplitMix64Reference(t *testing.T) {
	want := []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f}
	r := stream{}
	for j, w := range want {
		if got := r.next(); got != w {
			t.Fatalf("splitmix64 output %d = %#x; want %#x", j, got, w)
		}
	}
}

func TestParseGood(t *testing.T) {
	data := testTables(t)
	tests := []struct {
		src    string
		i      uint64
		want   string
		static bool
	}{
		{"", 0, "", true},
		{"/items", 3, "/items", true},
		{"/items/{{seq}}", 42, "/items/42", false},
		{"{{ seq }}", 7, "7", false},
		{"{{\n\tseq\r\n}}", 8, "8", false},
		{`{{"{{"}}seq}}`, 1, "{{seq}}", true},
		{`a}}b{c}`, 1, "a}}b{c}", true},
		{`{"n": {{seq}}}`, 7, `{"n": 7}`, false},
		{`{{"a"}}{{"b"}}{{""}}c`, 0, "abc", true},
		{`{{"\u00e9\t\"q\""}}`, 0, "é\t\"q\"", true},
		{"{{`raw \\n`}}", 0, `raw \n`, true},
		{"{{int 5 5}}", 9, "5", false},
		{"{{int -3 -3}}", 9, "-3", false},
		{"{{int 1e3 1e3}}", 9, "1000", false},
		{"{{int 2.5e1 25}}", 9, "25", false},
		{"{{choice only}}", 2, "only", false},
		{`{{choice "a b"}}`, 2, "a b", false},
		{"{{choice `x y`}}", 2, "x y", false},
		{`{{choice "}}"}}`, 2, "}}", false},
		{`{{choice it's}}`, 2, "it's", false},
		{`{{choice a}b}}`, 2, "a}b", false},
		{`{{choice a}}}`, 2, "a}", false},
		{"{{zipf 1.1 1}}", 5, "1", false},
		{"{{zipf 0.99 1e9}}x", 5, "", false}, // value checked by range below
		{"{{csv users.csv name}}/{{csv users.csv id}}", 0, "ann/1", false},
		{"{{csv users.csv name}}/{{csv users.csv id}}", 4, "bob/2", false}, // row 4 mod 3 = 1
		{"{{jsonl events.jsonl kind}}:{{jsonl events.jsonl n}}", 1, "view:2.50", false},
		{"{{csv \"users.csv\" `name`}}", 2, "cy", false},
	}
	for _, tt := range tests {
		tpl, err := Parse(tt.src)
		if err != nil {
			t.Errorf("Parse(%q) = %v; want no error", tt.src, err)
			continue
		}
		if tpl.String() != tt.src {
			t.Errorf("Parse(%q).String() = %q", tt.src, tpl.String())
		}
		if got := tpl.Static(); got != tt.static {
			t.Errorf("Parse(%q).Static() = %v; want %v", tt.src, got, tt.static)
		}
		if err := tpl.CheckData(data); err != nil {
			t.Errorf("Parse(%q).CheckData = %v", tt.src, err)
		}
		got := string(tpl.Append(nil, 1, tt.i, data))
		if tt.want == "" && strings.Contains(tt.src, "zipf 0.99 1e9") {
			if !regexp.MustCompile(`^[1-9][0-9]{0,9}x$`).MatchString(got) {
				t.Errorf("Parse(%q) rendered %q; want a rank in [1, 1e9] then x", tt.src, got)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("Parse(%q).Append(seed 1, i %d) = %q; want %q", tt.src, tt.i, got, tt.want)
		}
		if r := tpl.Render(1, tt.i, data); r != got {
			t.Errorf("Parse(%q).Render = %q; Append gave %q", tt.src, r, got)
		}
	}
}

func TestParseBad(t *testing.T) {
	tests := []struct {
		src     string
		offset  int
		msgPart string
	}{
		{"{{", 0, `unterminated action: no closing "}}"`},
		{"ab{{seq", 2, "unterminated action"},
		{"ab{{seq }", 2, "unterminated action"},
		{"{{}}", 0, "empty action"},
		{"x{{  \n }}", 1, "empty action"},
		{"x{{zipg 1 2}}", 3, `unknown function "zipg" (known: seq, int, zipf, choice, uuid, csv, jsonl, var)`},
		{"{{Seq}}", 2, `unknown function "Seq"`},
		{"{{seq 1}}", 6, "seq takes no arguments, got 1 (usage: {{seq}})"},
		{"{{uuid v4}}", 7, "uuid takes no arguments, got 1"},
		{"{{int 1}}", 2, "int needs 2 arguments, got 1 (usage: {{int A B}})"},
		{"{{int 1 2 3}}", 10, "int takes 2 arguments, got 3"},
		{"{{int 5 1}}", 6, "int: A (5) is greater than B (1)"},
		{"{{int a 1}}", 6, `int: A is not an integer: "a"`},
		{"{{int 1 b}}", 8, `int: B is not an integer: "b"`},
		{"{{int 1.5 2}}", 6, "int: A is not an integer: 1.5"},
		{"{{int 1 inf}}", 8, `int: B is not an integer: "inf"`},
		{`{{int "1" 2}}`, 6, "int: A must be a number, not a quoted string"},
		{"{{int 99999999999999999999 1}}", 6, "int: A is out of range: 99999999999999999999"},
		{"{{int 1 1e19}}", 8, "int: B is out of range: 1e19"},
		{"{{zipf 1.1}}", 2, "zipf needs 2 arguments, got 1 (usage: {{zipf S N}})"},
		{"{{zipf 0 10}}", 7, "zipf: exponent S must be greater than 0, got 0"},
		{"{{zipf -1 10}}", 7, "zipf: exponent S must be greater than 0, got -1"},
		{"{{zipf nan 10}}", 7, `zipf: exponent S is not a number: "nan"`},
		{"{{zipf +Inf 10}}", 7, `zipf: exponent S is not a number: "+Inf"`},
		{"{{zipf x 10}}", 7, `zipf: exponent S is not a number: "x"`},
		{`{{zipf "1" 10}}`, 7, "zipf: exponent S must be a number, not a quoted string"},
		{"{{zipf 65 10}}", 7, "zipf: exponent S must be at most 64, got 65"},
		{"{{zipf 1.1 0}}", 11, "zipf: key space N must be at least 1, got 0"},
		{"{{zipf 1.1 -5}}", 11, "zipf: key space N must be at least 1, got -5"},
		{"{{zipf 1.1 9007199254740993}}", 11, "zipf: key space N must be at most 9007199254740992"},
		{"{{zipf 1.1 1.5}}", 11, "zipf: N is not an integer: 1.5"},
		{"{{choice}}", 2, "choice needs at least 1 argument, got 0 (usage: {{choice A B …}})"},
		{`{{choice "abc}}`, 9, "unterminated or invalid quoted string"},
		{`{{choice "a\qb"}}`, 9, "unterminated or invalid quoted string"},
		{"{{choice \"a\nb\"}}", 9, "unterminated or invalid quoted string"},
		{"{{choice `abc}}", 9, "unterminated raw string"},
		{`{{choice a"b"}}`, 10, `unexpected " inside a word: quote the whole argument`},
		{"{{choice a`b`}}", 10, "unexpected ` inside a word"},
		{`{{choice "a"b}}`, 12, "missing space after a quoted string"},
		{"{{seq {{seq}}", 6, `unexpected "{{" inside an action: actions do not nest`},
		{"{{choice a{{seq}}", 10, `unexpected "{{" inside an action`},
		{`{{"x" y}}`, 6, "unexpected argument after a quoted string"},
		{`{{csv "" id}}`, 6, "csv: FILE is empty"},
		{`{{csv f.csv ""}}`, 12, "csv: COLUMN is empty"},
		{`{{jsonl f.jsonl ""}}`, 16, "jsonl: FIELD is empty"},
		{`{{csv f.csv}}`, 2, "csv needs 2 arguments, got 1 (usage: {{csv FILE COLUMN}})"},
		{`{{csv f id}}{{jsonl f id}}`, 20, `jsonl: file "f" is already used with csv`},
		{"ok {{seq}} then {{int 2 1}}", 22, "int: A (2) is greater than B (1)"},
	}
	for _, tt := range tests {
		tpl, err := Parse(tt.src)
		if err == nil {
			t.Errorf("Parse(%q) = %v, nil; want an error at offset %d", tt.src, tpl, tt.offset)
			continue
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Parse(%q) error %T %v; want *Error", tt.src, err, err)
			continue
		}
		if !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) error %v does not wrap ErrSyntax", tt.src, err)
		}
		if e.Offset != tt.offset || !strings.Contains(e.Msg, tt.msgPart) {
			t.Errorf("Parse(%q) = error at %d %q; want at %d containing %q", tt.src, e.Offset, e.Msg, tt.offset, tt.msgPart)
		}
		if want := fmt.Sprintf("template: offset %d: %s", e.Offset, e.Msg); err.Error() != want {
			t.Errorf("Parse(%q).Error() = %q; want %q", tt.src, err.Error(), want)
		}
	}
}

func TestFilesAndRefs(t *testing.T) {
	tpl, err := Parse(`{{csv a.csv x}}-{{jsonl b.jsonl y}}-{{csv a.csv z}}-{{seq}}`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(tpl.Files()), "[a.csv b.jsonl]"; got != want {
		t.Errorf("Files() = %s; want %s", got, want)
	}
	want := []Ref{
		{Func: "csv", File: "a.csv", Column: "x", Offset: 0, FileOffset: 6, ColumnOffset: 12},
		{Func: "jsonl", File: "b.jsonl", Column: "y", Offset: 16, FileOffset: 24, ColumnOffset: 32},
		{Func: "csv", File: "a.csv", Column: "z", Offset: 36, FileOffset: 42, ColumnOffset: 48},
	}
	got := tpl.Refs()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Refs() = %+v; want %+v", got, want)
	}
	got[0].File = "changed"
	if tpl.Refs()[0].File != "a.csv" {
		t.Error("Refs() returned the template's own slice")
	}
	static, _ := Parse("plain")
	if static.Files() != nil || static.Refs() != nil {
		t.Errorf("Files/Refs of a template without data = %v, %v; want nil", static.Files(), static.Refs())
	}
}

// allFuncs uses every random function, twice for int, to check positions.
const allFuncs = `/u/{{seq}}/{{int 1 1000000}}/{{int 1 1000000}}/{{zipf 0.99 1000000}}/{{choice a b c d e}}/{{uuid}}/{{csv users.csv name}}`

// TestRenderDeterministic renders the same arrivals in order on one "agent"
// and striped across three agents, each working backwards on its own
// goroutine: every index must render the same bytes.
func TestRenderDeterministic(t *testing.T) {
	data := testTables(t)
	tpl, err := Parse(allFuncs)
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	const seed = 42
	want := make([]string, n)
	for i := range uint64(n) {
		want[i] = string(tpl.Append(nil, seed, i, data))
	}
	got := make([]string, n)
	var wg sync.WaitGroup
	for agent := range 3 {
		wg.Go(func() {
			var buf []byte
			last := n - 1 - (n-1-agent)%3
			for i := last; i >= agent; i -= 3 {
				buf = tpl.Append(buf[:0], seed, uint64(i), data)
				got[i] = string(buf)
			}
		})
	}
	wg.Wait()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("arrival %d rendered %q by a striped agent; %q in order", i, got[i], want[i])
		}
	}
	// The two {{int}} actions are independent, and another seed changes the draws.
	same, sameSeed := 0, 0
	for i := range uint64(n) {
		parts := strings.Split(want[i], "/")
		if parts[3] == parts[4] {
			same++
		}
		if tpl.Render(seed+1, i, data) == want[i] {
			sameSeed++
		}
	}
	if same > 2 || sameSeed > 0 {
		t.Errorf("equal draws at positions 1 and 2: %d of %d; renders equal under another seed: %d", same, n, sameSeed)
	}
}

// TestRenderPinned pins a few rendered values: a change in the hash, the
// samplers or the action numbering would change what agents of different
// builds send for the same arrival.
func TestRenderPinned(t *testing.T) {
	tpl, err := Parse("{{int 1 100}} {{zipf 1.1 1000000}} {{choice a b c}} {{uuid}}")
	if err != nil {
		t.Fatal(err)
	}
	got := []string{tpl.Render(42, 0, nil), tpl.Render(42, 1, nil), tpl.Render(7, 1000000, nil)}
	want := pinned
	for j := range got {
		if got[j] != want[j] {
			t.Errorf("render %d = %q; want %q", j, got[j], want[j])
		}
	}
}

func TestUUIDFormat(t *testing.T) {
	tpl, err := Parse("{{uuid}}")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	var ones [128]int // how often each of the 128 bits is set
	const n = 20000
	for i := range uint64(n) {
		u := tpl.Render(3, i, nil)
		if !re.MatchString(u) {
			t.Fatalf("uuid %q (arrival %d) is not a canonical version-4 UUID", u, i)
		}
		if seen[u] {
			t.Fatalf("uuid %q repeated at arrival %d", u, i)
		}
		seen[u] = true
		hex := strings.ReplaceAll(u, "-", "")
		for b := range 128 {
			var nib byte
			fmt.Sscanf(hex[b/4:b/4+1], "%x", &nib)
			if nib>>(3-b%4)&1 == 1 {
				ones[b]++
			}
		}
	}
	for b, c := range ones {
		fixed := (b >= 48 && b < 52) || b == 64 || b == 65
		if fixed {
			continue
		}
		// Binomial(n, 1/2): mean n/2, sd √n/2 ≈ 71; 6 sd is far from flaky.
		if d := c - n/2; d > 6*71 || d < -6*71 {
			t.Errorf("uuid bit %d set %d times in %d; want about %d", b, c, n, n/2)
		}
	}
}

func TestStaticRenderDoesNotAllocate(t *testing.T) {
	tpl, err := Parse(`{"a": "{{"{{"}}"}`)
	if err != nil {
		t.Fatal(err)
	}
	if !tpl.Static() {
		t.Fatal("Static() = false for a template of literals")
	}
	var s string
	if allocs := testing.AllocsPerRun(100, func() { s = tpl.Render(1, 2, nil) }); allocs != 0 {
		t.Errorf("Render of a static template allocated %v times", allocs)
	}
	if s != `{"a": "{{"}` {
		t.Errorf("Render = %q", s)
	}
}

func TestAppendDoesNotAllocate(t *testing.T) {
	data := testTables(t)
	tpl, err := Parse(allFuncs)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 256)
	i := uint64(0)
	if allocs := testing.AllocsPerRun(1000, func() { buf = tpl.Append(buf[:0], 9, i, data); i++ }); allocs != 0 {
		t.Errorf("Append allocated %v times per render", allocs)
	}
}

func TestDeriveSeed(t *testing.T) {
	a, b := DeriveSeed(42, "read/path"), DeriveSeed(42, "read/body")
	if a == b || a == 42 || DeriveSeed(43, "read/path") == a {
		t.Errorf("DeriveSeed collides: %#x %#x", a, b)
	}
	if DeriveSeed(42, "read/path") != a {
		t.Error("DeriveSeed is not deterministic")
	}
	if got, want := DeriveSeed(0, ""), uint64(pinnedDerive); got != want {
		t.Errorf("DeriveSeed(0, \"\") = %#x; want %#x", got, want)
	}
}

// pinned are the renders of TestRenderPinned, and pinnedDerive DeriveSeed(0, "").
var pinned = []string{
	"47 1330 a 4de2a8e2-2bba-4c7f-ad7d-5ad1d90057f6",
	"49 615 b f6bdd868-6e5d-4f26-bf48-20acee9d5b71",
	"79 931820 c 6a98175d-d7b5-4a63-9ee5-1971adf9bcd1",
}

const pinnedDerive = 0xd84d1f8ea453246e

type mapVars map[string]string

func (m mapVars) Var(name string) (string, bool) { v, ok := m[name]; return v, ok }

func TestVar(t *testing.T) {
	tm, err := Parse(`/cart/{{var cart_id}}?t={{ var token }}&i={{seq}}`)
	if err != nil {
		t.Fatal(err)
	}
	refs := tm.VarRefs()
	if len(refs) != 2 || refs[0].Name != "cart_id" || refs[0].Offset != 6 || refs[1].Name != "token" || refs[1].NameOffset != 31 {
		t.Fatalf("VarRefs = %+v", refs)
	}
	if tm.Static() {
		t.Fatal("a template with var is not static")
	}
	v := mapVars{"cart_id": "c-9", "token": "abc"}
	if got := tm.RenderVars(1, 7, nil, v); got != "/cart/c-9?t=abc&i=7" {
		t.Fatalf("RenderVars = %q", got)
	}
	if name, missing := tm.MissingVar(v); missing {
		t.Fatalf("MissingVar = %q with every var set", name)
	}
	if name, missing := tm.MissingVar(mapVars{"cart_id": "x"}); !missing || name != "token" {
		t.Fatalf("MissingVar = %q, %v; want token", name, missing)
	}
	if name, missing := tm.MissingVar(nil); !missing || name != "cart_id" {
		t.Fatalf("MissingVar(nil) = %q, %v; want cart_id", name, missing)
	}
	for _, bad := range []string{"{{var}}", "{{var 1x}}", "{{var a b}}", "{{var a-b}}"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}
