package lb

import (
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// picker chooses a backend per request. One mutex guards its state; the
// critical section is a loop over the backends, short next to a proxied
// request, so it is not worth sharding.
type picker struct {
	algo     Algorithm
	backends []*backend

	// changed is set by the health checker when a backend goes up or
	// down; the next pick resets the rotation state so that round robin
	// and weighted round robin start a fresh exact cycle over the new
	// set of healthy backends.
	changed atomic.Bool

	mu      sync.Mutex
	healthy []*backend // scratch, reused under mu
	next    uint64     // round robin position; also the tie-break rotation of least connections
	rng     *rand.Rand // Random's generator
}

func newPicker(algo Algorithm, backends []*backend, seed uint64) *picker {
	return &picker{
		algo:     algo,
		backends: backends,
		healthy:  make([]*backend, 0, len(backends)),
		// The second PCG word is a fixed odd constant, so the whole
		// stream is a function of Seed.
		rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
	}
}

// pick returns the backend for a request whose hash key is key (used by
// IPHash only) and counts the request in that backend's in-flight
// count, or returns nil when no backend is healthy. The caller must call
// done on the backend when the request ends.
func (p *picker) pick(key string) *backend {
	var keyHash uint64
	if p.algo == IPHash {
		keyHash = hashString(key) // outside the lock
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.changed.Swap(false) {
		p.next = 0
		for _, b := range p.backends {
			b.current = 0
		}
	}
	healthy := p.healthy[:0]
	for _, b := range p.backends {
		if b.up.Load() {
			healthy = append(healthy, b)
		}
	}
	p.healthy = healthy
	if len(healthy) == 0 {
		return nil
	}

	var chosen *backend
	switch p.algo {
	case RoundRobin:
		chosen = healthy[p.next%uint64(len(healthy))]
		p.next++

	case WeightedRoundRobin:
		// Smooth weighted round robin (nginx, ngx_http_upstream_get_peer):
		// every backend's current weight grows by its weight; the largest
		// is chosen and loses the total. Over W = Σ weights picks each
		// backend is chosen exactly weight times, and the currents return
		// to zero, so the cycle repeats exactly.
		total := 0
		for _, b := range healthy {
			b.current += b.weight
			total += b.weight
			if chosen == nil || b.current > chosen.current {
				chosen = b
			}
		}
		chosen.current -= total

	case LeastConnections:
		// Fewest in flight relative to weight: a/wa < b/wb ⇔ a·wb < b·wa.
		// The scan starts one further along every pick, so ties (all
		// idle, say) rotate instead of always going to the first backend.
		n := uint64(len(healthy))
		start := p.next % n
		p.next++
		for i := range n {
			b := healthy[(start+i)%n]
			if chosen == nil || b.inFlight.Load()*int64(chosen.weight) < chosen.inFlight.Load()*int64(b.weight) {
				chosen = b
			}
		}

	case IPHash:
		// Weighted rendezvous hashing: each backend scores the key
		// w / −ln(u), u ∈ (0,1) a hash of (key, backend); the top score
		// wins. Removing a backend moves only the keys it won, and a key
		// goes to backend i with probability w_i / Σ w.
		best := math.Inf(-1)
		for _, b := range healthy {
			u := (float64(mix64(keyHash^b.seed)>>11) + 0.5) / (1 << 53)
			score := float64(b.weight) / -math.Log(u)
			if score > best {
				best, chosen = score, b
			}
		}

	case LeastResponseTime:
		// Lowest ewma × (in flight + 1) ÷ weight, compared without
		// division: a·wb < b·wa. A backend with no average yet (0)
		// scores 0 and is tried first. The scan rotates its start, so
		// ties go round robin.
		n := uint64(len(healthy))
		start := p.next % n
		p.next++
		best := math.Inf(1)
		for i := range n {
			b := healthy[(start+i)%n]
			score := b.responseTime() * float64(b.inFlight.Load()+1) / float64(b.weight)
			if score < best {
				best, chosen = score, b
			}
		}

	case Random:
		total := 0
		for _, b := range healthy {
			total += b.weight
		}
		r := p.rng.IntN(total)
		for _, b := range healthy {
			if r < b.weight {
				chosen = b
				break
			}
			r -= b.weight
		}
	}
	chosen.inFlight.Add(1)
	return chosen
}

// ResponseTimeAlpha is the weight of each new response time in a
// backend's moving average for LeastResponseTime: avg ← α·rt + (1−α)·avg.
// 0.3 forgets a change of speed within about ten responses (0.7^10 ≈ 3 %)
// while one slow response moves the average by less than a third.
const ResponseTimeAlpha = 0.3

// observe folds a response time d into b's moving average. The first
// response sets it.
func (b *backend) observe(d time.Duration) {
	v := float64(d)
	if v <= 0 {
		v = 1 // a measured backend never scores 0 again
	}
	for {
		old := b.ewmaBits.Load()
		next := v
		if old != 0 {
			next = ResponseTimeAlpha*v + (1-ResponseTimeAlpha)*math.Float64frombits(old)
		}
		if b.ewmaBits.CompareAndSwap(old, math.Float64bits(next)) {
			return
		}
	}
}

// responseTime is b's moving average of response times in nanoseconds,
// 0 before its first response.
func (b *backend) responseTime() float64 { return math.Float64frombits(b.ewmaBits.Load()) }

// hashString is 64-bit FNV-1a, inlined to avoid the allocation of
// hash/fnv's interface.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// mix64 is the SplitMix64 finaliser: it spreads every input bit over
// every output bit, so (key ^ backend seed) gives independent-looking
// scores for different backends.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
