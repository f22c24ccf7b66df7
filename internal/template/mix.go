package template

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// MaxMixWeights is the largest number of weights NewMix accepts.
const MaxMixWeights = 1024

// ErrMix is wrapped by the errors of NewMix.
var ErrMix = errors.New("invalid request mix")

// Mix picks one of n weighted choices (the requests of a scenario) for each
// arrival, deterministically from (seed, i), in O(1): Walker's alias method
// in Vose's numerically stable construction ("A linear algorithm for
// generating random numbers with a given distribution", IEEE TSE 17(9),
// 1991).
//
// The table has n columns, each of probability 1/n, and column c is split in
// two: it yields c with probability prob[c] and alias[c] otherwise. With
// p_j = n·w_j/Σw, Vose pairs each "small" item (p < 1) with a "large" one
// (p ≥ 1) that tops its column up to 1, and moves the large item's leftover
// to the work lists, so every item's total over all columns is exactly p_j/n.
//
// A pick uses two 64-bit words of a SplitMix64 stream keyed by (seed, i) in a
// domain of its own (independent of every template action at the same
// arrival): the column is ⌊u₁·n/2⁶⁴⌋ and the top 53 bits of u₂ are compared
// with prob[c]·2⁵³ held as an integer, so the comparison is exact. The column
// draw is uniform to within n/2⁶⁴ (< 10⁻¹⁶), and the probabilities are those
// of the weights rounded to 2⁻⁵³.
//
// A Mix is immutable and safe for concurrent use.
type Mix struct {
	n      uint64
	thresh []uint64 // prob[c]·2⁵³: column c keeps c when the 53-bit draw is below
	alias  []int32
}

// NewMix builds the alias table of weights: between 1 and MaxMixWeights
// finite, non-negative values with a positive sum. A weight of 0 is never
// picked.
func NewMix(weights []float64) (*Mix, error) {
	n := len(weights)
	if n == 0 {
		return nil, fmt.Errorf("no weights: %w", ErrMix)
	}
	if n > MaxMixWeights {
		return nil, fmt.Errorf("%d weights, at most %d: %w", n, MaxMixWeights, ErrMix)
	}
	var top float64
	for j, w := range weights {
		if math.IsNaN(w) || math.IsInf(w, 0) || w < 0 {
			return nil, fmt.Errorf("weight %d is %v, want a finite number ≥ 0: %w", j, w, ErrMix)
		}
		top = math.Max(top, w)
	}
	if top == 0 {
		return nil, fmt.Errorf("the weights add up to 0: %w", ErrMix)
	}
	// Scale by the largest weight first so that the sum cannot overflow
	// (finite weights near MaxFloat64 would add up to +Inf).
	var sum float64
	for _, w := range weights {
		sum += w / top
	}
	p := make([]float64, n)
	for j, w := range weights {
		p[j] = w / top / sum * float64(n)
	}
	m := &Mix{n: uint64(n), thresh: make([]uint64, n), alias: make([]int32, n)}
	var small, large []int
	for j := range p {
		if p[j] < 1 {
			small = append(small, j)
		} else {
			large = append(large, j)
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s := small[len(small)-1]
		small = small[:len(small)-1]
		l := large[len(large)-1]
		m.thresh[s] = toThresh(p[s])
		m.alias[s] = int32(l)
		p[l] = (p[l] + p[s]) - 1 // Vose: this order of operations loses the least
		if p[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	// What is left has p = 1 up to rounding: its column is entirely its own.
	for _, l := range large {
		m.thresh[l] = 1 << 53
		m.alias[l] = int32(l)
	}
	for _, s := range small {
		m.thresh[s] = 1 << 53
		m.alias[s] = int32(s)
		if weights[s] == 0 {
			// Cannot happen mathematically (a zero weight is always paired
			// before the large list runs dry), but rounding must never let a
			// zero weight own a column: give the column to the heaviest item.
			m.thresh[s] = 0
			m.alias[s] = int32(argmax(weights))
		}
	}
	return m, nil
}

// toThresh converts a probability in [0, 1] to the 53-bit threshold.
func toThresh(p float64) uint64 {
	switch {
	case p <= 0:
		return 0
	case p >= 1:
		return 1 << 53
	}
	return uint64(math.Round(p * (1 << 53)))
}

func argmax(ws []float64) int {
	best := 0
	for j, w := range ws {
		if w > ws[best] {
			best = j
		}
	}
	return best
}

// Len returns the number of weights.
func (m *Mix) Len() int { return int(m.n) }

// Pick returns the index of the weight chosen for arrival i under seed. It is
// a pure function of (seed, i), O(1), and does not allocate.
func (m *Mix) Pick(seed, i uint64) int {
	r := newStream(seed, i, mixDomain)
	c, _ := bits.Mul64(r.next(), m.n)
	if r.next()>>11 < m.thresh[c] {
		return int(c)
	}
	return int(m.alias[c])
}

// Probability returns the probability with which Pick returns j, as the
// table holds it (the normalised weight, rounded to 2⁻⁵³).
func (m *Mix) Probability(j int) float64 {
	var p float64
	for c := range m.thresh {
		keep := float64(m.thresh[c]) * 0x1p-53
		if c == j {
			p += keep
		}
		if int(m.alias[c]) == j {
			p += 1 - keep
		}
	}
	return p / float64(m.n)
}
