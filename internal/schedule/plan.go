package schedule

import (
	"fmt"
	"math"
	"slices"
)

// Ratio is an exact fraction Num/Den of a schedule.
type Ratio struct{ Num, Den uint64 }

// String renders the ratio as "num/den".
func (r Ratio) String() string { return fmt.Sprintf("%d/%d", r.Num, r.Den) }

// SplitRational divides the schedule among agents in exact rational
// proportions, for example {1/2, 1/3, 1/6} for agents of different
// capacity. The fractions must add up to exactly 1. The cycle is the least
// common multiple of the reduced denominators (at most MaxCycle) and the
// offsets are dealt as by Split, spread evenly over the cycle.
func SplitRational(ratios []Ratio) ([]Share, error) {
	if len(ratios) == 0 {
		return nil, invalid("no agents to split the schedule across")
	}
	reduced := make([]Ratio, len(ratios))
	cycle := uint64(1)
	for k, r := range ratios {
		if r.Den == 0 || r.Num == 0 || r.Num > r.Den {
			return nil, invalid("agent %d: share %v must be in (0, 1]", k, r)
		}
		g := gcd(r.Num, r.Den)
		reduced[k] = Ratio{r.Num / g, r.Den / g}
		cycle = cycle / gcd(cycle, reduced[k].Den) * reduced[k].Den
		if cycle > MaxCycle {
			return nil, invalid("shares %v need a cycle of more than %d", ratios, MaxCycle)
		}
	}
	weights := make([]uint32, len(ratios))
	var sum uint64
	for k, r := range reduced {
		w := r.Num * (cycle / r.Den)
		weights[k] = uint32(w)
		sum += w
	}
	if sum != cycle {
		g := gcd(sum, cycle)
		return nil, invalid("shares %v add up to %d/%d, not 1", ratios, sum/g, cycle/g)
	}
	return Split(weights)
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// ValidateSplit checks that shares form an exact split: each is valid, all
// have the same cycle, and every position of the cycle is owned by exactly
// one of them.
func ValidateSplit(shares []Share) error {
	if len(shares) == 0 {
		return invalid("a split needs at least one share")
	}
	cycle := shares[0].Cycle
	owner := make([]int32, min(cycle, MaxCycle))
	for k, s := range shares {
		if err := s.Validate(); err != nil {
			return fmt.Errorf("share %d: %w", k, err)
		}
		if s.Cycle != cycle {
			return invalid("share %d has cycle %d; share 0 has %d", k, s.Cycle, cycle)
		}
		for _, o := range s.Offsets {
			if owner[o] != 0 {
				return invalid("offset %d of the cycle is owned by shares %d and %d", o, owner[o]-1, k)
			}
			owner[o] = int32(k + 1)
		}
	}
	for o, k := range owner {
		if k == 0 {
			return invalid("offset %d of the cycle of %d is owned by no share", o, cycle)
		}
	}
	return nil
}

// Cut is a re-split of a stage's schedule: from global arrival index At on,
// Shares apply (Shares[k] is the k-th agent's share of that part). The
// first cut of a run is at index 0; each later one is what the coordinator
// decides when an agent is lost or joins, at an index not yet reached.
type Cut struct {
	At     uint64
	Shares []Share
}

// Segment is a run of consecutive arrival indexes [First, End) played under
// one split: agent k owns the indexes of [First, End) that Shares[k] owns.
type Segment struct {
	First, End uint64
	Shares     []Share
}

// Plan turns the cuts of a schedule of n arrivals into the segments that
// cover [0, n) exactly once. The cuts must start at 0, be strictly
// increasing and at most n, and each must be an exact split
// (ValidateSplit). A cut at n has no segment.
//
// Because every split is exact on its own and the segments are disjoint
// and contiguous, every index of the schedule is owned by exactly one agent
// of exactly one segment.
func Plan(n uint64, cuts []Cut) ([]Segment, error) {
	if len(cuts) == 0 || cuts[0].At != 0 {
		return nil, invalid("a plan starts with a cut at index 0")
	}
	segs := make([]Segment, 0, len(cuts))
	for k, c := range cuts {
		if k > 0 && c.At <= cuts[k-1].At {
			return nil, invalid("cut %d at index %d is not after cut %d at index %d", k, c.At, k-1, cuts[k-1].At)
		}
		if c.At > n {
			return nil, invalid("cut %d at index %d is beyond the schedule's %d arrivals", k, c.At, n)
		}
		if err := ValidateSplit(c.Shares); err != nil {
			return nil, fmt.Errorf("cut %d: %w", k, err)
		}
		end := n
		if k+1 < len(cuts) {
			end = min(cuts[k+1].At, n)
		}
		if c.At < end {
			segs = append(segs, Segment{First: c.At, End: end, Shares: c.Shares})
		}
	}
	return segs, nil
}

// Count is the number of arrivals agent k owns in the segment.
func (s Segment) Count(k int) uint64 { return s.Shares[k].Count(s.First, s.End) }

// Iter iterates over the arrivals agent k owns in the segment.
func (s Segment) Iter(k int) Iter { return s.Shares[k].Iter(s.First, s.End) }

// Owner is the agent that owns index i, or −1 when i is outside the
// segment.
func (s Segment) Owner(i uint64) int {
	if i < s.First || i >= s.End {
		return -1
	}
	for k, sh := range s.Shares {
		if sh.Owns(i) {
			return k
		}
	}
	return -1
}

// Remaining returns the fractions that the agents keep[0], keep[1], … of a
// split should own after the others leave: their old fractions, scaled up
// in proportion so they add up to 1 again.
func Remaining(prev []Share, keep []int) ([]Ratio, error) {
	if err := ValidateSplit(prev); err != nil {
		return nil, err
	}
	if len(keep) == 0 {
		return nil, invalid("no agent remains")
	}
	var total uint64
	seen := make(map[int]bool, len(keep))
	for _, k := range keep {
		if k < 0 || k >= len(prev) || seen[k] {
			return nil, invalid("agent %d is not a distinct agent of the split of %d", k, len(prev))
		}
		seen[k] = true
		total += uint64(len(prev[k].Offsets))
	}
	out := make([]Ratio, len(keep))
	for i, k := range keep {
		out[i] = Ratio{uint64(len(prev[k].Offsets)), total}
	}
	return out, nil
}

// Reshare builds the split that applies from global index at on, when
// agents leave or join: next gives the new agents' fractions, and from[k]
// is the index in prev of the agent that takes next share k, or −1 for an
// agent that joins.
//
// The split is SplitRational(next) rotated: every rotation of a split is
// also exact and evenly spread, so Reshare picks the one under which the
// agents that continue see the smallest jolt at the cut. For an agent,
// let P(n) = (its count of [0, n)) − n·fraction, the running deviation of a
// share from its fraction (periodic in n). Over a window [a, b) that
// straddles the cut its count deviates from its expected count
// (at − a)·f_old + (b − at)·f_new by P_old(at) − P_old(a) + P_new(b) − P_new(at),
// whose range over all windows follows from the extremes of P_old and P_new
// and the two phases at the cut; the rotation sets the new phase. Reshare
// chooses the rotation that minimizes the largest such deviation over all
// continuing agents (the smallest rotation among equals). With phases that
// line up this keeps every window within ±1 of its expected count.
func Reshare(prev []Share, at uint64, next []Ratio, from []int) ([]Share, error) {
	if err := ValidateSplit(prev); err != nil {
		return nil, err
	}
	if len(from) != len(next) {
		return nil, invalid("%d new shares but %d agent mappings", len(next), len(from))
	}
	seen := make(map[int]bool, len(from))
	for k, f := range from {
		if f < -1 || f >= len(prev) || (f >= 0 && seen[f]) {
			return nil, invalid("new share %d maps to agent %d, not a distinct agent of the split of %d (or -1)", k, f, len(prev))
		}
		seen[f] = true
	}
	shares, err := SplitRational(next)
	if err != nil {
		return nil, err
	}
	cb := int(shares[0].Cycle)
	// Bounds of the straddling deviation that do not depend on the
	// rotation: for agent k, lo_k(φ) = oldLo_k + minP_k − P_k(φ) and
	// hi_k(φ) = oldHi_k + maxP_k − P_k(φ), with φ the phase of the cut in
	// the unrotated new share.
	type agent struct {
		p            []float64 // P of the unrotated new share over its cycle
		oldLo, oldHi float64
		minP, maxP   float64
	}
	// Candidates: every rotation of the split and of its mirror image
	// (position o ↦ cycle−1−o), which is exact and evenly spread too.
	mirrored := make([]Share, len(shares))
	for k := range shares {
		mirrored[k] = shares[k].mirror()
	}
	best, bestR, bestM := math.Inf(1), 0, false
	for _, mirror := range []bool{false, true} {
		cand := shares
		if mirror {
			cand = mirrored
		}
		var agents []agent
		for k, f := range from {
			if f < 0 {
				continue
			}
			old := deviation(prev[f])
			pa := old[at%uint64(len(old))]
			lo, hi := slices.Min(old), slices.Max(old)
			p := deviation(cand[k])
			agents = append(agents, agent{p: p, oldLo: pa - hi, oldHi: pa - lo, minP: slices.Min(p), maxP: slices.Max(p)})
		}
		stride := max(1, cb*len(agents)>>24) // bound the search to ~16M steps
		for r := 0; r < cb && len(agents) > 0; r += stride {
			phi := (int(at%uint64(cb)) - r%cb + cb) % cb
			worst := 0.0
			for _, a := range agents {
				worst = math.Max(worst, math.Max(math.Abs(a.oldLo+a.minP-a.p[phi]), math.Abs(a.oldHi+a.maxP-a.p[phi])))
				if worst >= best {
					break
				}
			}
			if worst < best-1e-12 {
				best, bestR, bestM = worst, r, mirror
			}
		}
	}
	if bestM {
		shares = mirrored
	}
	for k := range shares {
		shares[k] = shares[k].rotate(uint32(bestR))
	}
	return shares, nil
}

// mirror reflects the owned positions: o ↦ Cycle−1−o.
func (s Share) mirror() Share {
	out := Share{Cycle: s.Cycle, Offsets: make([]uint32, len(s.Offsets))}
	for k, o := range s.Offsets {
		out.Offsets[len(s.Offsets)-1-k] = s.Cycle - 1 - o
	}
	return out
}

// deviation returns P(n) = count of [0, n) − n·fraction for n in [0, Cycle).
func deviation(s Share) []float64 {
	c := int(s.Cycle)
	f := float64(len(s.Offsets)) / float64(c)
	p := make([]float64, c)
	k, count := 0, 0
	for n := range c {
		p[n] = float64(count) - float64(n)*f
		if k < len(s.Offsets) && int(s.Offsets[k]) == n {
			count++
			k++
		}
	}
	return p
}

// rotate shifts every owned position by r within the cycle.
func (s Share) rotate(r uint32) Share {
	out := Share{Cycle: s.Cycle, Offsets: make([]uint32, len(s.Offsets))}
	for k, o := range s.Offsets {
		out.Offsets[k] = (o + r) % s.Cycle
	}
	slices.Sort(out.Offsets)
	return out
}
