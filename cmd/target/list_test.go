package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/surgeload/surge/internal/capacity"
	"github.com/surgeload/surge/internal/predict"
	"github.com/surgeload/surge/targets"
)

// TestListPredictions: --list quotes for every topology but echo the
// predicted ceiling predict.Reference computes (the figure of `coordinator
// plan examples/staircase.yaml` and the README), and no description
// carries a hand-written figure that could drift from it.
func TestListPredictions(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"--list"}, &stdout, &stderr); code != 0 {
		t.Fatalf("run(--list) = %d, stderr %q", code, stderr.String())
	}
	lines := map[string]string{}
	for line := range strings.SplitSeq(stdout.String(), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			lines[f[0]] = line
		}
	}
	handWritten := regexp.MustCompile(`~[0-9][0-9,]* req/s`)
	for _, name := range targets.Names() {
		line, ok := lines[name]
		if !ok {
			t.Errorf("--list has no line for %s", name)
			continue
		}
		desc, _ := targets.Describe(name)
		if handWritten.MatchString(desc) {
			t.Errorf("%s's description quotes a figure of its own: %q", name, desc)
		}
		p, ok, err := predict.Reference(name)
		if err != nil {
			t.Fatal(err)
		}
		want := "; predicted " + capacity.FormatNumber(p.CeilingRPS) + " req/s (" + p.Bottleneck + ")"
		switch {
		case ok && !strings.HasSuffix(line, want):
			t.Errorf("--list line %q; want it to end %q", line, want)
		case !ok && strings.Contains(line, "predicted"):
			t.Errorf("--list line %q predicts a topology without a model", line)
		}
	}
}
