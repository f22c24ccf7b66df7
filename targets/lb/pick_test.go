package lb

import (
	"fmt"
	"math"
	"testing"
)

// pickers builds a picker over backends of the given weights, named
// b0, b1, …, all up.
func newTestPicker(algo Algorithm, weights ...int) *picker {
	bs := make([]*backend, len(weights))
	for i, w := range weights {
		name := fmt.Sprintf("b%d", i)
		bs[i] = &backend{name: name, weight: w, seed: mix64(hashString(name))}
		bs[i].up.Store(true)
	}
	return newPicker(algo, bs, 1)
}

// counts picks n times with keys "k0", "k1", … and returns how many each
// backend got, releasing every pick at once.
func (p *picker) counts(n int) map[string]int {
	got := map[string]int{}
	for i := range n {
		b := p.pick(fmt.Sprintf("k%d", i))
		b.inFlight.Add(-1)
		got[b.name]++
	}
	return got
}

func TestHealthStateThresholds(t *testing.T) {
	tests := []struct {
		outcomes string // '+' good check, '-' failed check
		fall     int
		rise     int
		want     string // state after each check: 'U' up, 'D' down
	}{
		{"--+--", 2, 1, "UDUUD"},
		{"-+-+-+", 2, 1, "UUUUUU"}, // failures not in a row never take it down
		{"---+-++++", 3, 3, "UUDDDDDUU"},
		{"-+-++", 1, 2, "DDDDU"}, // a failure resets the rise count
		{"------", 1, 1, "DDDDDD"},
	}
	for _, tt := range tests {
		s := healthState{up: true, fall: tt.fall, rise: tt.rise}
		got := make([]byte, 0, len(tt.outcomes))
		for _, o := range tt.outcomes {
			s.observe(o == '+')
			if s.up {
				got = append(got, 'U')
			} else {
				got = append(got, 'D')
			}
		}
		if string(got) != tt.want {
			t.Errorf("checks %s with fall %d rise %d: states %s; want %s", tt.outcomes, tt.fall, tt.rise, got, tt.want)
		}
	}
}

// TestIPHashWeightsAndStability checks weighted rendezvous hashing: keys
// split in proportion to weight, and taking a backend out moves only its
// own keys.
func TestIPHashWeightsAndStability(t *testing.T) {
	p := newTestPicker(IPHash, 3, 1, 1, 1)
	const keys = 12000
	owner := make([]*backend, keys)
	share := map[string]int{}
	for i := range keys {
		owner[i] = p.pick(fmt.Sprint("client-", i))
		owner[i].inFlight.Add(-1)
		share[owner[i].name]++
	}
	for i, w := range []float64{3, 1, 1, 1} {
		want := keys * w / 6
		got := float64(share[fmt.Sprintf("b%d", i)])
		t.Logf("ip hash weight %v: %v keys (expected %v)", w, got, want)
		if math.Abs(got-want) > 0.06*want+4*math.Sqrt(want) {
			t.Errorf("b%d (weight %v) owns %v of %d keys; want about %v", i, w, got, keys, want)
		}
	}

	p.backends[2].up.Store(false)
	p.changed.Store(true)
	for i := range keys {
		b := p.pick(fmt.Sprint("client-", i))
		b.inFlight.Add(-1)
		if owner[i].name != "b2" && b != owner[i] {
			t.Fatalf("key %d moved from %s to %s when b2 went down", i, owner[i].name, b.name)
		}
		if b.name == "b2" {
			t.Fatalf("key %d went to b2, which is down", i)
		}
	}
	p.backends[2].up.Store(true)
	p.changed.Store(true)
	for i := range keys {
		b := p.pick(fmt.Sprint("client-", i))
		b.inFlight.Add(-1)
		if b != owner[i] {
			t.Fatalf("key %d is on %s after b2 came back; was on %s", i, b.name, owner[i].name)
		}
	}
}

func TestRandomWeighted(t *testing.T) {
	got := newTestPicker(Random, 1, 2, 5).counts(16000)
	for i, w := range []float64{1, 2, 5} {
		want := 16000 * w / 8
		if n := float64(got[fmt.Sprintf("b%d", i)]); math.Abs(n-want) > 5*math.Sqrt(want) {
			t.Errorf("b%d (weight %v) picked %v times of 16000; want %v ± %.0f", i, w, n, want, 5*math.Sqrt(want))
		}
	}
}

func TestRoundRobinSkipsDown(t *testing.T) {
	p := newTestPicker(RoundRobin, 1, 1, 1)
	p.backends[1].up.Store(false)
	p.changed.Store(true)
	var seq string
	for range 6 {
		b := p.pick("")
		b.inFlight.Add(-1)
		seq += b.name + " "
	}
	if want := "b0 b2 b0 b2 b0 b2 "; seq != want {
		t.Errorf("round robin with b1 down: %s; want %s", seq, want)
	}
	p.backends[0].up.Store(false)
	p.backends[2].up.Store(false)
	if b := p.pick(""); b != nil {
		t.Errorf("pick with every backend down = %s; want nil", b.name)
	}
}

func TestLeastConnectionsWeighted(t *testing.T) {
	p := newTestPicker(LeastConnections, 1, 3)
	// Never release: the in-flight counts grow as a weighted race, so
	// after 400 picks they stand near 1:3.
	got := map[string]int{}
	for range 400 {
		got[p.pick("").name]++
	}
	if got["b0"] != 100 || got["b1"] != 300 {
		t.Errorf("least connections with weights 1:3 and nothing released: %v; want b0 100, b1 300", got)
	}
	// All idle: ties rotate, so sequential requests alternate.
	q := newTestPicker(LeastConnections, 1, 1)
	if c := q.counts(100); c["b0"] != 50 || c["b1"] != 50 {
		t.Errorf("least connections with idle backends: %v; want 50 each", c)
	}
}

func BenchmarkPick(b *testing.B) {
	for _, algo := range Algorithms() {
		b.Run(string(algo), func(b *testing.B) {
			p := newTestPicker(algo, 1, 2, 3, 4)
			b.ReportAllocs()
			for b.Loop() {
				p.pick("203.0.113.7").inFlight.Add(-1)
			}
		})
	}
}
