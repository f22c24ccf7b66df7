package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStampLines(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"a\n", "7 a\n"},
		{"a\nb\n", "7 a\n8 b\n"},
		{"a\n\nlast", "7 a\n8 \n9 last\n"},
		{strings.Repeat("x", 100000) + "\n", "7 " + strings.Repeat("x", 100000) + "\n"},
	}
	for _, tt := range tests {
		clock := int64(6)
		now := func() int64 { clock++; return clock }
		var out bytes.Buffer
		if err := stampLines(&out, strings.NewReader(tt.in), now); err != nil {
			t.Fatalf("stampLines(%.20q) = %v", tt.in, err)
		}
		if out.String() != tt.want {
			t.Errorf("stampLines(%.20q) wrote %.40q; want %.40q", tt.in, out.String(), tt.want)
		}
	}
}

func TestExec(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "log")
	outPath := filepath.Join(dir, "out")
	rusagePath := filepath.Join(dir, "rusage.json")
	var stderr bytes.Buffer
	code := run([]string{"exec", "-log", logPath, "-stdout", outPath, "-rusage", rusagePath, "--",
		"sh", "-c", "echo out; echo one >&2; echo two >&2; exit 4"}, nil, &stderr)
	if code != 4 {
		t.Fatalf("exit = %d (stderr %q); want the command's 4", code, stderr.String())
	}
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], " one") || !strings.HasSuffix(lines[1], " two") {
		t.Errorf("log = %q; want two stamped lines, one and two", b)
	}
	if out, _ := os.ReadFile(outPath); string(out) != "out\n" {
		t.Errorf("stdout file = %q; want \"out\\n\"", out)
	}
	var res execResult
	rb, err := os.ReadFile(rusagePath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(rb, &res); err != nil {
		t.Fatal(err)
	}
	if res.Exit != 4 || res.StartUS <= 0 || res.EndUS < res.StartUS || res.MaxRSSKB <= 0 {
		t.Errorf("rusage = %+v; want exit 4, start <= end, a peak RSS", res)
	}
}

func TestUsage(t *testing.T) {
	tests := [][]string{
		nil,
		{"nope"},
		{"exec"},
		{"exec", "-log", "x"},
		{"gossip", "-nodes", "1"},
		{"gossip", "-profile", "x"},
		{"gossip", "-transport", "udp", "-profile", "surge-fleet"},
		{"gossip", "-surge-meta", "-profile", "surge-loopback"},
		{"gossip", "-slow", "0"},
		{"gossip", "-poll", "0s"},
	}
	for _, args := range tests {
		var stderr bytes.Buffer
		if code := run(args, nil, &stderr); code != 2 || stderr.Len() == 0 {
			t.Errorf("run(%q) = %d, stderr %q; want 2 and a message", args, code, stderr.String())
		}
	}
}
