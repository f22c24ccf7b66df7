package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/surgeload/surge"
)

var sampleProgress = surge.Progress{
	Stage: "echo", Elapsed: 15 * time.Second, Total: time.Minute, Intended: 1500, Issued: 1498, Planned: 6000,
	Succeeded: 1490, Failed: 3, Dropped: 2, LastIntendedRPS: 100, LastAchievedRPS: 99, LastP50: 1200 * time.Microsecond,
	LastP99: 8 * time.Millisecond, AgentsAlive: 2,
}

func TestProgressBlock(t *testing.T) {
	got := progressBlock(sampleProgress, 8)
	want := []string{
		"stage echo  ██░░░░░░  25%  15s / 1m0s",
		"  req/s  intended 100  achieved 99    last interval p50 1.2ms  p99 8ms",
		"  issued 1498 of 6000  ok 1490  errors 3  dropped 2  agents alive 2",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("block\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestLiveViewRedraws: on a terminal each report moves back over the last
// block, unless a log line came in between; elsewhere it is one line each.
func TestLiveViewRedraws(t *testing.T) {
	var b bytes.Buffer
	v := &liveView{w: &b, tty: true}
	v.show(sampleProgress)
	v.show(sampleProgress)
	if n := strings.Count(b.String(), "\033[3A"); n != 1 {
		t.Errorf("cursor moved up %d times after two reports; want 1:\n%q", n, b.String())
	}
	_, _ = v.Write([]byte("warning: something\n"))
	v.show(sampleProgress)
	if n := strings.Count(b.String(), "\033[3A"); n != 1 {
		t.Errorf("a report after a log line drew over it:\n%q", b.String())
	}
	b.Reset()
	plain := &liveView{w: &b}
	plain.show(sampleProgress)
	plain.show(sampleProgress)
	if lines := strings.Split(strings.TrimSpace(b.String()), "\n"); len(lines) != 2 || strings.Contains(b.String(), "\033") ||
		!strings.Contains(lines[0], "req/s 100 intended 99 achieved") || !strings.Contains(lines[0], "agents 2") {
		t.Errorf("not a TTY: %q; want two plain lines", b.String())
	}
}
