package schedule

import (
	"fmt"
)

// MaxCycle bounds Share.Cycle so a share stays small on the wire.
const MaxCycle = 1 << 16

// Share is the part of the global schedule one agent owns: of every Cycle
// consecutive arrival indexes, the agent owns those whose position within
// the cycle is in Offsets. Offsets are sorted and distinct.
//
// The owned fraction is len(Offsets)/Cycle, an exact rational.
type Share struct {
	Cycle   uint32
	Offsets []uint32
}

// Validate checks that the share is well formed.
func (s Share) Validate() error {
	if s.Cycle == 0 || s.Cycle > MaxCycle {
		return fmt.Errorf("%w: share cycle %d must be in 1..%d", ErrInvalid, s.Cycle, MaxCycle)
	}
	if len(s.Offsets) == 0 {
		return fmt.Errorf("%w: share owns no offsets", ErrInvalid)
	}
	if len(s.Offsets) > int(s.Cycle) {
		return fmt.Errorf("%w: share has %d offsets for a cycle of %d", ErrInvalid, len(s.Offsets), s.Cycle)
	}
	for k, o := range s.Offsets {
		if o >= s.Cycle {
			return fmt.Errorf("%w: share offset %d is outside the cycle of %d", ErrInvalid, o, s.Cycle)
		}
		if k > 0 && o <= s.Offsets[k-1] {
			return fmt.Errorf("%w: share offsets must be strictly increasing (%d after %d)", ErrInvalid, o, s.Offsets[k-1])
		}
	}
	return nil
}

// String renders the share as "k/cycle".
func (s Share) String() string { return fmt.Sprintf("%d/%d", len(s.Offsets), s.Cycle) }

// Owns reports whether global arrival index i belongs to the share.
func (s Share) Owns(i uint64) bool {
	pos := uint32(i % uint64(s.Cycle))
	// Offsets are few and sorted; a linear scan beats a map for small cycles.
	for _, o := range s.Offsets {
		if o == pos {
			return true
		}
		if o > pos {
			return false
		}
	}
	return false
}

// Count is the number of owned indexes in [first, end).
func (s Share) Count(first, end uint64) uint64 {
	if end <= first {
		return 0
	}
	return s.countBelow(end) - s.countBelow(first)
}

// countBelow is the number of owned indexes in [0, n).
func (s Share) countBelow(n uint64) uint64 {
	c := uint64(s.Cycle)
	full := n / c * uint64(len(s.Offsets))
	rem := uint32(n % c)
	for _, o := range s.Offsets {
		if o >= rem {
			break
		}
		full++
	}
	return full
}

// Iter returns an iterator over the owned indexes in [first, end), in
// increasing order. It costs O(1) per index and O(len(Offsets)) to start.
func (s Share) Iter(first, end uint64) Iter {
	c := uint64(s.Cycle)
	it := Iter{share: s, base: first / c * c, end: end}
	pos := uint32(first % c)
	it.k = len(s.Offsets)
	for k, o := range s.Offsets {
		if o >= pos {
			it.k = k
			break
		}
	}
	return it
}

// Iter walks the owned indexes of a share. The zero value is exhausted.
type Iter struct {
	share Share
	base  uint64
	k     int
	end   uint64
}

// Next returns the next owned index, or false when none is left.
func (it *Iter) Next() (uint64, bool) {
	if len(it.share.Offsets) == 0 {
		return 0, false
	}
	if it.k == len(it.share.Offsets) {
		it.k = 0
		it.base += uint64(it.share.Cycle)
	}
	i := it.base + uint64(it.share.Offsets[it.k])
	if i >= it.end {
		return 0, false
	}
	it.k++
	return i, true
}

// Split divides the schedule among agents in proportion to their integer
// weights (for example one per agent, or their core counts). The shares
// are exact: together they own every index exactly once, agent k owning
// weights[k]/sum(weights) of them.
//
// Within a cycle of sum(weights) positions, positions are dealt by smooth
// weighted round robin, which interleaves agents as evenly as possible: with
// equal weights agent k owns the positions ≡ k, and in general every prefix
// of the cycle gives each agent its proportional count within one arrival.
func Split(weights []uint32) ([]Share, error) {
	if len(weights) == 0 {
		return nil, fmt.Errorf("%w: no agents to split the schedule across", ErrInvalid)
	}
	var total uint64
	for k, w := range weights {
		if w == 0 {
			return nil, fmt.Errorf("%w: agent %d has weight 0", ErrInvalid, k)
		}
		total += uint64(w)
	}
	if total > MaxCycle {
		return nil, fmt.Errorf("%w: weights add up to %d, more than %d", ErrInvalid, total, MaxCycle)
	}
	cycle := uint32(total)
	shares := make([]Share, len(weights))
	for k := range shares {
		shares[k] = Share{Cycle: cycle, Offsets: make([]uint32, 0, weights[k])}
	}
	current := make([]int64, len(weights))
	for pos := range cycle {
		best := 0
		for k, w := range weights {
			current[k] += int64(w)
			if current[k] > current[best] {
				best = k
			}
		}
		current[best] -= int64(total)
		shares[best].Offsets = append(shares[best].Offsets, pos)
	}
	return shares, nil
}

// Equal splits the schedule into n equal shares.
func Equal(n int) ([]Share, error) {
	w := make([]uint32, n)
	for k := range w {
		w[k] = 1
	}
	return Split(w)
}

// Union is the share that owns every index either a or b owns. Its cycle
// is the least common multiple of theirs, which must be at most MaxCycle.
// a and b need not be disjoint.
func Union(a, b Share) (Share, error) {
	if err := a.Validate(); err != nil {
		return Share{}, err
	}
	if err := b.Validate(); err != nil {
		return Share{}, err
	}
	l := uint64(a.Cycle) / gcd(uint64(a.Cycle), uint64(b.Cycle)) * uint64(b.Cycle)
	if l > MaxCycle {
		return Share{}, invalid("the union of shares of cycles %d and %d needs a cycle of %d, more than %d", a.Cycle, b.Cycle, l, MaxCycle)
	}
	out := Share{Cycle: uint32(l)}
	for pos := range uint64(l) {
		if a.Owns(pos) || b.Owns(pos) {
			out.Offsets = append(out.Offsets, uint32(pos))
		}
	}
	return out, nil
}

// Divide deals the indexes s owns among m agents in turn: of the indexes
// s owns, in increasing order, agent j gets those whose rank is ≡ j
// (mod m). The m shares are disjoint, together own exactly what s owns,
// and each owns 1/m of it, evenly spread: this is how a lost agent's share
// is handed to the survivors from a cut index on. The shares' cycle is
// s.Cycle·m, which must be at most MaxCycle.
func Divide(s Share, m int) ([]Share, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if m < 1 {
		return nil, invalid("cannot divide a share among %d agents", m)
	}
	c := uint64(s.Cycle) * uint64(m)
	if c > MaxCycle {
		return nil, invalid("dividing a share of cycle %d among %d agents needs a cycle of %d, more than %d", s.Cycle, m, c, MaxCycle)
	}
	out := make([]Share, m)
	for j := range out {
		out[j] = Share{Cycle: uint32(c), Offsets: make([]uint32, 0, len(s.Offsets))}
	}
	rank := 0
	for q := range uint32(m) {
		for _, o := range s.Offsets {
			j := rank % m
			out[j].Offsets = append(out[j].Offsets, q*s.Cycle+o)
			rank++
		}
	}
	return out, nil
}

// Fraction is the part of the schedule the share owns.
func (s Share) Fraction() float64 {
	if s.Cycle == 0 {
		return 0
	}
	return float64(len(s.Offsets)) / float64(s.Cycle)
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
