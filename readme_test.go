package surge_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/surgeload/surge/internal/capacity"
	"github.com/surgeload/surge/internal/predict"
	"github.com/surgeload/surge/scenario"
	"github.com/surgeload/surge/targets"
)

// readmeBlock is one fenced code block of README.md.
type readmeBlock struct {
	lang string
	line int // README line of the opening fence
	// fragment is the kinds of a `<!-- fragment: KIND[,KIND] -->` comment on
	// the last non-blank line before the fence: the top-level scenario keys
	// the block holds (nil: the block is a whole scenario).
	fragment []string
	text     string
}

// readmeBlocks are README.md's fenced code blocks, in order.
func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	src, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var (
		blocks   []readmeBlock
		cur      *readmeBlock
		body     strings.Builder
		lastText string
	)
	sc := bufio.NewScanner(bytes.NewReader(src))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &readmeBlock{lang: strings.TrimSpace(strings.TrimPrefix(line, "```")), line: n}
			if kinds, ok := strings.CutPrefix(lastText, "<!-- fragment:"); ok {
				kinds, ok = strings.CutSuffix(kinds, "-->")
				if !ok {
					t.Fatalf("README.md:%d: fragment comment %q does not end with -->", n-1, lastText)
				}
				for k := range strings.SplitSeq(kinds, ",") {
					cur.fragment = append(cur.fragment, strings.TrimSpace(k))
				}
			}
			body.Reset()
		case cur != nil && strings.TrimSpace(line) == "```":
			cur.text = body.String()
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(line)
			body.WriteByte('\n')
		}
		if s := strings.TrimSpace(line); s != "" {
			lastText = s
		}
	}
	if cur != nil {
		t.Fatalf("README.md:%d: code block never closed", cur.line)
	}
	return blocks
}

// fragmentBase is the rest of a minimal scenario a fragment is wrapped in:
// every top-level key a fragment may lack, written so that it is valid on
// its own. A fragment's keys replace the base's (journeys replace requests:
// a scenario has one or the other).
var fragmentBase = []struct{ key, text string }{
	{"name", "name: readme-fragment\n"},
	{"stages", "stages:\n  - url: http://127.0.0.1:8080\n"},
	{"requests", "requests:\n  - path: /items/1\n"},
	{"load", "load:\n  constant: {rate: 10, duration: 10s}\n"},
}

// wrapFragment is the fragment followed by the base keys it does not set,
// so the fragment's lines keep their numbers in errors.
func wrapFragment(b readmeBlock) string {
	var w strings.Builder
	w.WriteString(b.text)
	for _, base := range fragmentBase {
		if slices.Contains(b.fragment, base.key) || (base.key == "requests" && slices.Contains(b.fragment, "journeys")) {
			continue
		}
		w.WriteString(base.text)
	}
	return w.String()
}

// TestREADMEScenarios validates every ```yaml block of README.md with the
// scenario package: a whole scenario as it is, a block marked
// `<!-- fragment: KEYS -->` wrapped into a minimal scenario (its top-level
// keys must be exactly the marked ones). No block is skipped: the count of
// blocks checked is the count of yaml blocks. Templates' data files are
// read from examples/ (users.csv, items.jsonl live there).
func TestREADMEScenarios(t *testing.T) {
	readFile := func(name string) ([]byte, error) {
		if !fs.ValidPath(name) {
			return nil, fmt.Errorf("data file %q: not a plain relative path", name)
		}
		return fs.ReadFile(os.DirFS("examples"), name)
	}
	var yamlBlocks, checked, fragments int
	for _, b := range readmeBlocks(t) {
		if b.lang != "yaml" {
			if b.fragment != nil {
				t.Errorf("README.md:%d: a fragment comment before a %q block (only yaml blocks are checked)", b.line, b.lang)
			}
			continue
		}
		yamlBlocks++
		src := b.text
		if b.fragment != nil {
			fragments++
			var top yaml.MapSlice
			if err := yaml.Unmarshal([]byte(b.text), &top); err != nil {
				t.Errorf("README.md:%d: fragment is not a YAML mapping: %v", b.line, err)
				continue
			}
			var keys []string
			for _, kv := range top {
				keys = append(keys, fmt.Sprint(kv.Key))
			}
			if !slices.Equal(slices.Sorted(slices.Values(keys)), slices.Sorted(slices.Values(b.fragment))) {
				t.Errorf("README.md:%d: fragment marked %v holds the top-level keys %v", b.line, b.fragment, keys)
				continue
			}
			src = wrapFragment(b)
		}
		_, err := scenario.Parse("README.md", []byte(src), scenario.Options{ReadFile: readFile})
		if err != nil {
			var lines []string
			for _, e := range flatten(err) {
				if se, ok := errors.AsType[*scenario.Error](e); ok && se.Line > 0 {
					lines = append(lines, fmt.Sprintf("README.md:%d:%d: %s", b.line+se.Line, se.Column, se.Message))
					continue
				}
				lines = append(lines, e.Error())
			}
			kind := "scenario"
			if b.fragment != nil {
				kind = "fragment " + strings.Join(b.fragment, ",")
			}
			t.Errorf("README.md:%d: the yaml block (%s) is invalid:\n%s", b.line, kind, strings.Join(lines, "\n"))
			continue
		}
		checked++
	}
	if yamlBlocks == 0 || checked != yamlBlocks {
		t.Errorf("%d of README.md's %d yaml blocks are valid scenarios or fragments", checked, yamlBlocks)
	}
	t.Logf("%d yaml blocks checked, %d of them fragments", checked, fragments)
}

// flatten is the leaves of an errors.Join tree.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// TestREADMEFragmentWrapping: the wrapping does not make an invalid
// fragment valid, and an unmarked fragment is not a scenario.
func TestREADMEFragmentWrapping(t *testing.T) {
	for _, tc := range []struct {
		name  string
		block readmeBlock
	}{
		{"bad client field", readmeBlock{fragment: []string{"client"}, text: "client:\n  max_conns: lots\n"}},
		{"unknown client field", readmeBlock{fragment: []string{"client"}, text: "client:\n  pool: 3\n"}},
		{"stage with bad url", readmeBlock{fragment: []string{"stages"}, text: "stages:\n  - url: ftp://x\n"}},
		{"journey without steps", readmeBlock{fragment: []string{"journeys"}, text: "journeys:\n  - name: shop\n"}},
		{"unmarked fragment", readmeBlock{text: "client:\n  max_conns: 4\n"}},
	} {
		src := tc.block.text
		if tc.block.fragment != nil {
			src = wrapFragment(tc.block)
		}
		if _, err := scenario.Parse("x.yaml", []byte(src), scenario.Options{}); err == nil {
			t.Errorf("%s: valid once wrapped:\n%s", tc.name, src)
		}
	}
	ok := readmeBlock{fragment: []string{"client"}, text: "client:\n  max_conns: 4\n"}
	if _, err := scenario.Parse("x.yaml", []byte(wrapFragment(ok)), scenario.Options{}); err != nil {
		t.Errorf("a valid client fragment, wrapped: %v", err)
	}
}

// TestREADMEPredictedCeilings: the predicted column of README's table of
// reference topologies is predict.Reference for each topology — the figure
// `target --list` and `coordinator plan examples/staircase.yaml` print — and
// its bottleneck column names the same component; every bundled topology
// but echo has exactly one row.
func TestREADMEPredictedCeilings(t *testing.T) {
	src, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(src), "\n## Reference topologies\n")
	if !ok {
		t.Fatal("README.md has no section ## Reference topologies")
	}
	if i := strings.Index(section, "\n#"); i >= 0 {
		section = section[:i]
	}
	rows := map[string]int{}
	for line := range strings.SplitSeq(section, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		if len(cells) != 5 {
			t.Errorf("README table row of %d cells, want 5 (topology, what, predicted, measured, bottleneck): %q", len(cells), line)
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[0]), "`")
		rows[name]++
		p, ok, err := predict.Reference(name)
		if err != nil || !ok {
			t.Errorf("README table row %q: no reference prediction (%v, %v)", name, ok, err)
			continue
		}
		predicted, _, _ := strings.Cut(strings.TrimSpace(cells[2]), " ")
		if want := capacity.FormatNumber(p.CeilingRPS); predicted != want {
			t.Errorf("README: %s predicted %q; predict.Reference (target --list, plan examples/staircase.yaml) says %s", name, cells[2], want)
		}
		bottleneck := strings.TrimSpace(cells[4])
		if _, rest, ok := strings.Cut(bottleneck, "`"); ok {
			bottleneck, _, _ = strings.Cut(rest, "`")
		}
		if bottleneck != p.Bottleneck {
			t.Errorf("README: %s bottleneck %q; predict.Reference says %s", name, cells[4], p.Bottleneck)
		}
	}
	for _, name := range targets.Names() {
		if want := map[bool]int{true: 0, false: 1}[name == "echo"]; rows[name] != want {
			t.Errorf("README's table has %d rows of %s; want %d", rows[name], name, want)
		}
	}
}
