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
		fields := strings.Fields(strings.TrimPrefix(line, "$ "))
		switch {
		case len(fields) > 0 && (fields[0] == "bin/coordinator" || fields[0] == "coordinator"):
			fields = fields[1:]
		case len(fields) > 2 && fields[0] == "go" && fields[1] == "run" && fields[2] == "./cmd/coordinator":
			fields = fields[3:]
		default:
			continue
		}
		for i, a := range fields { // quoted values carry no spaces in the README
			fields[i] = strings.Trim(a, `"'`)
		}
		lines, args = append(lines, start), append(args, fields)
	}
	return lines, args
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
