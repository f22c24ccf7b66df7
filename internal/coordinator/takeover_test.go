package coordinator

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// TestTakers: a lost agent's share goes only to agents playing the stage,
// not lost, and heard from within the bound; never to a silent one.
func TestTakers(t *testing.T) {
	now := time.Unix(1000, 0)
	playing := &agentStage{}
	live := []*conn{
		{name: "fresh", heard: now.Add(-100 * time.Millisecond), stage: playing},
		{name: "quiet", heard: now.Add(-4 * time.Second), stage: playing},
		{name: "edge", heard: now.Add(-2 * time.Second), stage: playing},
		{name: "lost", heard: now, stage: playing, lost: errors.New("gone")},
		{name: "idle", heard: now},
	}
	ok, silent := takers(live, 2*time.Second, now)
	var names []string
	for _, c := range ok {
		names = append(names, c.name)
	}
	if !slices.Equal(names, []string{"fresh", "edge"}) || !slices.Equal(silent, []string{"quiet (silent 4s)"}) {
		t.Errorf("takers = %v, silent %v; want [fresh edge], [quiet (silent 4s)]", names, silent)
	}
}
