package template

import "math/bits"

// Randomness without state.
//
// Every value a template draws is a pure function of (seed, arrival index i,
// action position k): there is no shared generator to lock, advance or
// replay, so an agent that owns arrivals 3, 7, 11, … renders exactly what a
// single process rendering 0, 1, 2, … renders for those indexes, in any order
// and on any number of goroutines.
//
// The construction is SplitMix64 (Steele, Lea & Flood, "Fast splittable
// pseudorandom number generators", OOPSLA 2014) used as a keyed hash:
//
//	key(seed, i, k) = mix(mix(mix(seed+γ) ^ i) ^ k)
//
// where mix is the 64-bit finaliser of SplitMix64 (Stafford's "Mix13"
// variant), a bijection with full avalanche, and γ = ⌊2⁶⁴/φ⌋ is the golden
// gamma. Each stage is a bijection of its input, so for a fixed seed distinct
// arrival indexes give distinct intermediate states. The key then seeds an
// ordinary SplitMix64 stream (state += γ; output mix(state)), which supplies
// the few extra 64-bit words an action may need (rejection sampling, the 128
// bits of a UUID). The algorithm is written out here rather than taken from
// math/rand so that its output can never change between Go releases: agents
// built with different toolchains must agree bit for bit.

// golden is γ = 2⁶⁴/φ rounded to odd, the SplitMix64 increment.
const golden = 0x9e3779b97f4a7c15

// mix is the SplitMix64 output function (Stafford's Mix13): a bijection on
// uint64 in which every input bit affects every output bit.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// key hashes (seed, i, k) into the starting state of a stream.
func key(seed, i, k uint64) uint64 {
	return mix(mix(mix(seed+golden)^i) ^ k)
}

// mixDomain is the action position reserved for the request mix, so that
// Mix.Pick(seed, i) is independent of every template action at the same
// (seed, i): template positions are below 2³², far from this value.
const mixDomain = 0x6d69785f7069636b // "mix_pick"

// stream is a SplitMix64 generator started from a key. It lives on the stack
// of one render call; nothing is shared.
type stream struct{ s uint64 }

func newStream(seed, i, k uint64) stream { return stream{s: key(seed, i, k)} }

// next returns the next 64 uniformly distributed bits.
func (r *stream) next() uint64 {
	r.s += golden
	return mix(r.s)
}

// float64 returns a uniform value in [0, 1) with 53 bits of precision: the
// top 53 bits of a word scaled by 2⁻⁵³, so every result is an exact multiple
// of 2⁻⁵³ and 1 is never returned.
func (r *stream) float64() float64 {
	return float64(r.next()>>11) * 0x1p-53
}

// uintn returns a uniform value in [0, n) for n > 0, exactly uniform.
//
// This is Lemire's multiply-shift method ("Fast random integer generation in
// an interval", ACM TOMACS 2019): the high word of x·n is in [0, n), and it is
// biased only for the (2⁶⁴ mod n) values of x whose low word falls below
// 2⁶⁴ mod n, which are rejected and redrawn. The division that computes the
// threshold runs only when the low word is already below n, i.e. with
// probability n/2⁶⁴.
func (r *stream) uintn(n uint64) uint64 {
	hi, lo := bits.Mul64(r.next(), n)
	if lo < n {
		thresh := -n % n // = 2⁶⁴ mod n
		for lo < thresh {
			hi, lo = bits.Mul64(r.next(), n)
		}
	}
	return hi
}

// DeriveSeed returns a seed for one independent family of draws, derived from
// a scenario seed and a label (for example "read-item/body").
//
// Draws depend only on (seed, i, k), so two templates rendered with the same
// seed at the same arrival index draw the same values at the same action
// positions: "/items/{{int 1 9}}" and `{"id": {{int 1 9}}}` render the same
// number. That is often what a scenario wants (a path and a body that agree);
// when it is not, render each field with DeriveSeed(seed, fieldName). The
// label is hashed with FNV-1a and folded into the seed with SplitMix64, so the
// result is stable across Go releases.
func DeriveSeed(seed uint64, label string) uint64 {
	h := uint64(14695981039346656037) // FNV-1a 64 offset basis
	for j := 0; j < len(label); j++ {
		h ^= uint64(label[j])
		h *= 1099511628211 // FNV-1a 64 prime
	}
	return mix(mix(seed+golden) ^ mix(h))
}

// Float64 returns a uniform number in [0, 1) that is a pure function of
// (seed, i, k): for draws outside templates that must reproduce on any
// split of the arrivals (journeys' think times).
func Float64(seed, i, k uint64) float64 {
	r := newStream(seed, i, k)
	return r.float64()
}
