package predict

import (
	"errors"
	"testing"

	"github.com/surgeload/surge/scenario"
	"github.com/surgeload/surge/targets"
)

// TestReferenceIsStaircasePlan: the reference prediction of each topology
// is exactly what `coordinator plan examples/staircase.yaml` prints for its
// stage (predict.Stage with the scenario's own hit rate), so `target
// --list`, the README and plan quote one figure. A change of the example's
// mix or hit rate fails here until the reference follows it.
func TestReferenceIsStaircasePlan(t *testing.T) {
	sc, err := scenario.Load("../../examples/staircase.yaml", scenario.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for k, st := range sc.Stages {
		plan, ok, err := Stage(sc, k, -1)
		if !ok || err != nil {
			t.Fatalf("staircase stage %s: %v, %v", st.Name, ok, err)
		}
		ref, ok, err := Reference(st.Bundled)
		if !ok || err != nil {
			t.Fatalf("Reference(%s) = %v, %v", st.Bundled, ok, err)
		}
		if ref.CeilingRPS != plan.CeilingRPS || ref.Bottleneck != plan.Bottleneck || ref.HitRate != plan.HitRate {
			t.Errorf("Reference(%s) = %v req/s (%s, hit %v); plan of staircase.yaml says %v req/s (%s, hit %v)",
				st.Bundled, ref.CeilingRPS, ref.Bottleneck, ref.HitRate, plan.CeilingRPS, plan.Bottleneck, plan.HitRate)
		}
		seen[st.Bundled] = true
	}
	if len(seen) != 8 {
		t.Errorf("staircase.yaml plays %d topologies; want the eight stages", len(seen))
	}
}

// TestReference: every bundled topology but echo has a finite positive
// reference ceiling and a bottleneck; echo has none; an unknown name is an
// error.
func TestReference(t *testing.T) {
	for _, name := range targets.Names() {
		p, ok, err := Reference(name)
		switch {
		case err != nil:
			t.Errorf("Reference(%s): %v", name, err)
		case name == "echo" && ok:
			t.Errorf("Reference(echo) = %+v; want no prediction", p)
		case name != "echo" && (!ok || !(p.CeilingRPS > 0) || p.CeilingRPS > 1e9 || p.Bottleneck == ""):
			t.Errorf("Reference(%s) = %+v, %v", name, p, ok)
		}
	}
	if _, _, err := Reference("no-such-topology"); err == nil || !errors.Is(err, targets.ErrUnknownTopology) {
		t.Errorf("Reference(no-such-topology) error %v", err)
	}
}
