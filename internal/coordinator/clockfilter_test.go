package coordinator

import (
	"testing"
	"time"
)

func TestClockFilterKeepsLowestRoundTrip(t *testing.T) {
	var f clockFilter
	base := time.Now().UnixNano()
	ms := int64(time.Millisecond)
	// Agent 100 ms ahead. Exchanges with 40 ms, 2 ms (asymmetric 0.5/1.5)
	// and 10 ms round trips: the 2 ms one is kept, wrong by 0.5 ms at most.
	f.add(base, base+100*ms+20*ms, base+100*ms+20*ms, base+40*ms)
	f.add(base, base+100*ms+ms/2, base+100*ms+ms/2, base+2*ms)
	f.add(base, base+100*ms+5*ms, base+100*ms+5*ms, base+10*ms)
	s, ok := f.best()
	if !ok || s.rtt != 2*time.Millisecond {
		t.Fatalf("best %+v %v; want the 2ms exchange", s, ok)
	}
	if d := s.offset - 100*time.Millisecond; d.Abs() > s.rtt/2 {
		t.Errorf("offset %v; want 100ms within ±%v", s.offset, s.rtt/2)
	}
	// Nonsense (negative round trip, the agent's send before its receive,
	// zero times) is ignored.
	f.add(base, base, base, base-ms)
	f.add(base, base+5*ms, base+ms, base+10*ms)
	f.add(0, 0, 0, base)
	if f.n != 3 {
		t.Errorf("%d exchanges counted; want the 3 sensible ones", f.n)
	}
	// Only the last clockSamples count: an old good sample ages out.
	for range clockSamples {
		f.add(base, base+100*ms+4*ms, base+100*ms+4*ms, base+8*ms)
	}
	if s, _ := f.best(); s.rtt != 8*time.Millisecond {
		t.Errorf("best rtt %v after the window moved; want 8ms", s.rtt)
	}
}

// FuzzClockFilter: whatever times an agent claims, the filter never
// panics and never keeps a negative round trip.
func FuzzClockFilter(f *testing.F) {
	f.Add(int64(1), int64(2), int64(3), int64(4))
	f.Add(int64(-1<<63), int64(1<<63-1), int64(0), int64(1<<62))
	f.Fuzz(func(t *testing.T, t1, t2, t3, t4 int64) {
		var c clockFilter
		c.add(t1, t2, t3, t4)
		c.add(t4, t3, t2, t1)
		if s, ok := c.best(); ok && s.rtt < 0 {
			t.Fatalf("kept a negative round trip %v", s.rtt)
		}
	})
}
