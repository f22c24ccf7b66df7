package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"strings"
	"testing"
)

// readmeCommandLines are the coordinator command lines in README.md's code
// blocks ("bin/coordinator …", "coordinator …", "$ coordinator …", "go run
// ./cmd/coordinator …"; a trailing backslash continues a line, a " #"
// starts a comment), each with its README line, as argument lists.
func readmeCommandLines(t *testing.T) (lines []int, args [][]string) {
	t.Helper()
	f, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	inBlock, pending, start := false, "", 0
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			inBlock, pending = !inBlock, ""
			continue
		}
		if !inBlock {
			continue
		}
		if pending == "" {
			start = n
		}
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			pending += cont + " "
			continue
		}
		line, pending = pending+line, ""
		fields := shellFields(strings.TrimPrefix(line, "$ "))
		switch {
		case len(fields) > 0 && (fields[0] == "bin/coordinator" || fields[0] == "coordinator"):
			fields = fields[1:]
		case len(fields) > 2 && fields[0] == "go" && fields[1] == "run" && fields[2] == "./cmd/coordinator":
			fields = fields[3:]
		default:
			continue
		}
		lines, args = append(lines, start), append(args, fields)
	}
	return lines, args
}

// shellFields splits a command line into words as a POSIX shell would
// without expansions: blanks separate words, single quotes keep
// everything, double quotes keep everything but a backslash before " \ $
// or `, and a backslash outside quotes keeps the next character.
func shellFields(line string) []string {
	var (
		words []string
		word  strings.Builder
		in    bool // a word is open (an empty quoted word counts)
		quote byte
	)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				word.WriteByte(c)
			}
		case quote == '"':
			if c == '"' {
				quote = 0
			} else if c == '\\' && i+1 < len(line) && strings.IndexByte("\"\\$`", line[i+1]) >= 0 {
				i++
				word.WriteByte(line[i])
			} else {
				word.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == '\\' && i+1 < len(line):
			i++
			word.WriteByte(line[i])
			in = true
		case c == ' ' || c == '\t':
			if in {
				words, in = append(words, word.String()), false
				word.Reset()
			}
		default:
			word.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, word.String())
	}
	return words
}

func TestShellFields(t *testing.T) {
	for in, want := range map[string][]string{
		`run a.yaml --push-header "Authorization: Bearer $TOKEN"`: {"run", "a.yaml", "--push-header", "Authorization: Bearer $TOKEN"},
		`run --threshold 'p99 < 250ms' x`:                         {"run", "--threshold", "p99 < 250ms", "x"},
		`a "" b\ c "d\"e"`:                                        {"a", "", "b c", `d"e`},
		"  a\tb  ":                                                {"a", "b"},
	} {
		if got := shellFields(in); strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Errorf("shellFields(%q) = %q; want %q", in, got, want)
		}
	}
}

// TestREADMECommandLines: every coordinator command line in README.md's
// code blocks names a real subcommand, and its flags and arguments parse
// against that subcommand's flag set (nothing is run).
func TestREADMECommandLines(t *testing.T) {
	lines, args := readmeCommandLines(t)
	if len(args) < 5 {
		t.Fatalf("found %d coordinator command lines in README.md; the extraction is broken", len(args))
	}
	for i, a := range args {
		root := newRoot(context.Background(), io.Discard, io.Discard)
		cmd, rest, err := root.Find(a)
		if err != nil || cmd == root {
			t.Errorf("README.md:%d: coordinator %s: no such subcommand (%v)", lines[i], strings.Join(a, " "), err)
			continue
		}
		if err := cmd.ParseFlags(rest); err != nil {
			t.Errorf("README.md:%d: coordinator %s: %v", lines[i], strings.Join(a, " "), err)
			continue
		}
		if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
			t.Errorf("README.md:%d: coordinator %s: %v", lines[i], strings.Join(a, " "), err)
		}
	}
	t.Logf("%d coordinator command lines checked", len(args))

	// The check is not a yes-machine: a made-up flag and subcommand fail.
	for _, bad := range [][]string{{"run", "x.yaml", "--no-such-flag"}, {"runn", "x.yaml"}, {"compare", "a"}} {
		root := newRoot(context.Background(), io.Discard, io.Discard)
		cmd, rest, err := root.Find(bad)
		if err == nil && cmd != root {
			if err = cmd.ParseFlags(rest); err == nil {
				err = cmd.ValidateArgs(cmd.Flags().Args())
			}
		} else if err == nil {
			err = io.EOF // found only the root: not a subcommand
		}
		if err == nil {
			t.Errorf("coordinator %v passed the check", bad)
		}
	}
}
