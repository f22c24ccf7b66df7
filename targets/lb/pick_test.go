package lb

import (
	"fmt"
	"math"
	"testing"
	"time"
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

func TestLeastResponseTime(t *testing.T) {
	p := newTestPicker(LeastResponseTime, 1, 1, 1)
	// No averages yet: every backend scores 0, so ties rotate and each
	// is tried once before any other is tried twice.
	if c := p.counts(3); c["b0"] != 1 || c["b1"] != 1 || c["b2"] != 1 {
		t.Fatalf("least response time with no averages, 3 picks: %v; want one each", c)
	}
	// b0 answers in 10 ms, b1 in 20 ms, b2 in 40 ms.
	for i, ms := range []time.Duration{10, 20, 40} {
		p.backends[i].observe(ms * time.Millisecond)
	}
	// Idle: the fastest average wins every time.
	if c := p.counts(10); c["b0"] != 10 {
		t.Errorf("idle backends averaging 10, 20, 40 ms: %v; want all 10 to b0", c)
	}
	// Never released: b0 scores 10·(n0+1), b1 20·(n1+1), b2 40·(n2+1), so
	// the in-flight counts race to 4:2:1 (score 10·5 = 20·(2+1)… ties at
	// 40 when b0 has 3, b1 1, b2 0 in flight). After 70 picks: 40, 20, 10.
	got := map[string]int{}
	for range 70 {
		got[p.pick("").name]++
	}
	if d := got["b0"] - 40; d < -1 || d > 1 || got["b1"] < 19 || got["b1"] > 21 || got["b2"] < 9 || got["b2"] > 11 {
		t.Errorf("70 picks never released with averages 10, 20, 40 ms: %v; want about 40, 20, 10", got)
	}
}

func TestResponseTimeEWMA(t *testing.T) {
	b := &backend{name: "b"}
	if got := b.responseTime(); got != 0 {
		t.Fatalf("responseTime before any response = %v; want 0", got)
	}
	b.observe(100 * time.Millisecond)
	if got := b.responseTime(); got != float64(100*time.Millisecond) {
		t.Fatalf("after one response of 100ms: %v; want the response itself", time.Duration(got))
	}
	b.observe(200 * time.Millisecond)
	want := ResponseTimeAlpha*float64(200*time.Millisecond) + (1-ResponseTimeAlpha)*float64(100*time.Millisecond)
	if got := b.responseTime(); math.Abs(got-want) > 1 {
		t.Errorf("after 100ms then 200ms: %v; want α·200 + (1−α)·100 = %v", time.Duration(got), time.Duration(want))
	}
	// A backend that slows down loses its lead within a few responses.
	p := newTestPicker(LeastResponseTime, 1, 1)
	p.backends[0].observe(5 * time.Millisecond)
	p.backends[1].observe(10 * time.Millisecond)
	n := 0
	for p.pick("") == p.backends[0] {
		p.backends[0].inFlight.Add(-1)
		p.backends[0].observe(50 * time.Millisecond)
		n++
		if n > 20 {
			t.Fatal("b0 kept every pick after 20 responses of 50ms; b1 averages 10ms")
		}
	}
	// One slow response takes b0 from 5 to 0.3·50 + 0.7·5 = 18.5 ms, past b1's 10.
	if n != 1 {
		t.Errorf("b0 (5ms, then 50ms responses) kept %d picks before b1 (10ms); want 1", n)
	}
}
