package template

import (
	"fmt"
	"testing"
)

// BenchmarkAppend renders one template per op into a reused buffer, as the
// engine does per arrival; ns/op is the cost per arrival.
func BenchmarkAppend(b *testing.B) {
	data := testTables(b)
	cases := []struct{ name, src string }{
		{"static", "/items/health"},
		{"seq", "/items/{{seq}}"},
		{"int", "/items/{{int 1 1000000}}"},
		{"zipf/s=1.1,N=1e6", "/items/{{zipf 1.1 1000000}}"},
		{"zipf/s=0.99,N=1e9", "/items/{{zipf 0.99 1000000000}}"},
		{"uuid", "/jobs/{{uuid}}"},
		{"choice", "/items/{{choice red green blue}}"},
		{"csv", "/users/{{csv users.csv id}}"},
		{"body", `{"id": {{seq}}, "key": {{zipf 1.1 1000000}}, "req": "{{uuid}}", "n": {{int 1 100}}}`},
	}
	for _, c := range cases {
		tpl, err := Parse(c.src)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 256)
			i := uint64(0)
			for b.Loop() {
				buf = tpl.Append(buf[:0], 42, i, data)
				i++
			}
		})
	}
}

// BenchmarkZipf is the sampler alone, per draw, across exponents.
func BenchmarkZipf(b *testing.B) {
	for _, s := range []float64{0.5, 0.99, 1, 1.1, 2} {
		z := newZipf(s, 1_000_000)
		b.Run(fmt.Sprintf("s=%v", s), func(b *testing.B) {
			b.ReportAllocs()
			var sink uint64
			i := uint64(0)
			for b.Loop() {
				r := newStream(42, i, 0)
				sink += z.draw(&r)
				i++
			}
			_ = sink
		})
	}
}

// BenchmarkMixPick is the request choice per arrival.
func BenchmarkMixPick(b *testing.B) {
	for _, n := range []int{2, 16, MaxMixWeights} {
		w := make([]float64, n)
		for j := range w {
			w[j] = float64(j%7 + 1)
		}
		m, err := NewMix(w)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			sink := 0
			i := uint64(0)
			for b.Loop() {
				sink += m.Pick(42, i)
				i++
			}
			_ = sink
		})
	}
}

// BenchmarkParse is the one-time compile cost of a typical body template.
func BenchmarkParse(b *testing.B) {
	const src = `{"id": {{seq}}, "key": {{zipf 1.1 1000000}}, "req": "{{uuid}}", "tag": "{{choice a b c}}"}`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(src); err != nil {
			b.Fatal(err)
		}
	}
}
