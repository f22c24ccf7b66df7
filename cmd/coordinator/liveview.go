package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/surgeload/surge"
)

// liveView shows a run's progress on stderr. On a terminal it redraws a
// small block in place each heartbeat (progress bar, intended vs achieved
// req/s, last-interval p50/p99, errors, dropped, agents alive); elsewhere,
// as in CI logs, it prints one plain line per heartbeat. It is also the
// run's log writer, so that a log line scrolls the block up instead of
// being drawn over.
type liveView struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	lines int // lines of the block drawn last; 0 when something else was written after it
}

func newLiveView(w io.Writer) *liveView {
	under := w
	if sw, ok := w.(*syncWriter); ok {
		under = sw.w
	}
	f, ok := under.(*os.File)
	return &liveView{w: w, tty: ok && term.IsTerminal(int(f.Fd()))}
}

// Write passes a log line through.
func (v *liveView) Write(p []byte) (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.lines = 0
	return v.w.Write(p)
}

// show draws one progress report.
func (v *liveView) show(p surge.Progress) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.tty {
		fmt.Fprintln(v.w, p.String())
		return
	}
	block := progressBlock(p, 30)
	var b strings.Builder
	if v.lines > 0 {
		fmt.Fprintf(&b, "\033[%dA", v.lines) // back to the top of the last block
	}
	for _, l := range block {
		b.WriteString("\r\033[K" + l + "\n")
	}
	_, _ = io.WriteString(v.w, b.String())
	v.lines = len(block)
}

// progressBlock is the redrawn block: a bar of width cells and two lines
// of figures.
func progressBlock(p surge.Progress, width int) []string {
	frac := 0.0
	if p.Total > 0 {
		frac = min(max(float64(p.Elapsed)/float64(p.Total), 0), 1)
	}
	filled := int(frac * float64(width))
	bar := strings.Repeat("█", filled) + strings.Repeat("░", width-filled)
	return []string{
		fmt.Sprintf("stage %s  %s %3.0f%%  %v / %v", p.Stage, bar, 100*frac, p.Elapsed.Truncate(time.Second), p.Total),
		fmt.Sprintf("  req/s  intended %.0f  achieved %.0f    last interval p50 %v  p99 %v",
			p.LastIntendedRPS, p.LastAchievedRPS, p.LastP50.Round(10*time.Microsecond), p.LastP99.Round(10*time.Microsecond)),
		fmt.Sprintf("  issued %d of %d  ok %d  errors %d  dropped %d  agents alive %d",
			p.Issued, p.Planned, p.Succeeded, p.Failed, p.Dropped, p.AgentsAlive),
	}
}
