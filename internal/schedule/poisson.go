package schedule

import "math"

// The Poisson schedule.
//
// A non-homogeneous Poisson process with intensity λ(t) is a unit-rate
// Poisson process on the Λ axis mapped back through Λ⁻¹ (the time-rescaling
// theorem): with S_i = E_0 + … + E_i for independent Exp(1) gaps E, arrival
// i is at t_i = Λ⁻¹(S_i), and Len = #{i : S_i < Λ(D)}.
//
// Summing gaps would make arrival i cost O(i) and tie each agent to every
// arrival before its own. Instead the global indexes are cut into blocks of
// B = 2^m (B depends only on the curve's total, so every agent agrees):
//
//   - A block's length on the Λ axis, S_{(b+1)B−1} − S_{bB−1}, is a sum of B
//     gaps: a Gamma(B, 1) draw keyed by (seed, b). Their prefix sums, one
//     float per block, are the block table; building it is O(N/B), with B
//     chosen so the table has at most 2^18 entries.
//   - Inside a block, the partial sums are placed by recursive bisection on
//     the index: if V(lo) and V(hi) are known for positions lo < hi, the
//     point at mid = (lo+hi)/2 splits the hi−lo gaps between them into two
//     halves of h = (hi−lo)/2 gaps each, so
//     (V(mid) − V(lo)) / (V(hi) − V(lo)) ~ Beta(h, h)
//     independently of everything outside [lo, hi]. Node n of this implicit
//     binary tree (root 1, children 2n and 2n+1) draws its Beta from a
//     stream keyed by (seed, b, n); node 0 is the block's Gamma.
//
// So S_i costs log₂B Beta draws, needs nothing but the block table, and is
// the same number whichever agent computes it, in whatever order. The
// construction is exact in distribution: each Beta is the conditional law
// of a sum of exponentials given its bracket. Values are clamped into their
// bracket, so S is non-decreasing in i even with rounding.

const (
	minBlockShift = 6  // B >= 64
	maxBlocks     = 18 // at most 2^18 blocks in the table (2 MiB)
)

// poissonTable holds the block table of one Poisson schedule.
type poissonTable struct {
	seed  uint64
	shift uint      // B = 1 << shift
	base  []float64 // base[b] = S_{bB−1}; base[0] = 0; the last entry >= total
}

// newPoissonTable draws the block table far enough to cover total.
func newPoissonTable(seed uint64, total float64) *poissonTable {
	shift := uint(minBlockShift)
	for total/float64(uint64(1)<<shift) > float64(uint64(1)<<maxBlocks) {
		shift++
	}
	p := &poissonTable{seed: seed, shift: shift}
	bsize := float64(uint64(1) << shift)
	p.base = make([]float64, 1, int(total/bsize)+3)
	for b := uint64(0); p.base[b] < total; b++ {
		r := nodeStream(blockKey(seed, b), 0)
		p.base = append(p.base, p.base[b]+r.gamma(bsize))
	}
	return p
}

// node computes the value at the middle of [lo, hi] from the values at
// its ends, drawing from tree node n of the block with the given key.
func node(key, n uint64, lo, hi uint64, vlo, vhi float64) float64 {
	r := nodeStream(key, n)
	beta := r.betaHalf(float64((hi - lo) / 2))
	v := vlo + float64((vhi-vlo)*beta)
	return min(max(v, vlo), vhi)
}

// value is S_i, or +Inf for an index beyond the table.
func (p *poissonTable) value(i uint64) float64 {
	b := i >> p.shift
	if b+1 >= uint64(len(p.base)) {
		return math.Inf(1)
	}
	base, key := p.base[b], blockKey(p.seed, b)
	bsize := uint64(1) << p.shift
	// Position q ∈ [1, B] of i in the block; V(0) = 0, V(B) = block length.
	q := i&(bsize-1) + 1
	lo, hi := uint64(0), bsize
	vlo, vhi := 0.0, p.base[b+1]-base // exact (Sterbenz), so base + vhi = base[b+1]
	n := uint64(1)
	for q != hi {
		mid := lo + (hi-lo)/2
		vmid := node(key, n, lo, hi, vlo, vhi)
		if q == mid {
			return base + vmid
		}
		if q < mid {
			hi, vhi, n = mid, vmid, 2*n
		} else {
			lo, vlo, n = mid, vmid, 2*n+1
		}
	}
	return base + vhi
}

// count is #{i : S_i < y}, for y <= the last table entry, by descending the
// same tree (so it agrees with value exactly).
func (p *poissonTable) count(y float64) uint64 {
	if y <= 0 {
		return 0
	}
	// Last block b with base[b] < y.
	lo, hi := 0, len(p.base)-1
	for lo < hi {
		m := int(uint(lo+hi+1) >> 1)
		if p.base[m] < y {
			lo = m
		} else {
			hi = m - 1
		}
	}
	b := uint64(lo)
	if b+1 >= uint64(len(p.base)) {
		return b << p.shift
	}
	base, key := p.base[b], blockKey(p.seed, b)
	bsize := uint64(1) << p.shift
	qlo, qhi := uint64(0), bsize
	vlo, vhi := 0.0, p.base[b+1]-base
	n := uint64(1)
	for qhi-qlo > 1 {
		mid := qlo + (qhi-qlo)/2
		vmid := node(key, n, qlo, qhi, vlo, vhi)
		if base+vmid < y {
			qlo, vlo, n = mid, vmid, 2*n+1
		} else {
			qhi, vhi, n = mid, vmid, 2*n
		}
	}
	return b<<p.shift + qlo
}
