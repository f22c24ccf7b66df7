package template

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestNewMixErrors(t *testing.T) {
	tests := []struct {
		name    string
		weights []float64
		want    string
	}{
		{"none", nil, "no weights"},
		{"too many", make([]float64, MaxMixWeights+1), "1025 weights, at most 1024"},
		{"negative", []float64{1, -1}, "weight 1 is -1, want a finite number ≥ 0"},
		{"nan", []float64{math.NaN()}, "weight 0 is NaN"},
		{"inf", []float64{1, math.Inf(1)}, "weight 1 is +Inf"},
		{"all zero", []float64{0, 0}, "the weights add up to 0"},
	}
	for _, tt := range tests {
		m, err := NewMix(tt.weights)
		if err == nil {
			t.Errorf("NewMix(%s) = %v, nil; want error", tt.name, m)
			continue
		}
		if !strings.HasPrefix(err.Error(), tt.want) || !errors.Is(err, ErrMix) {
			t.Errorf("NewMix(%s) error = %q; want %q wrapping ErrMix", tt.name, err, tt.want)
		}
	}
}

// TestMixTable checks that the alias table reproduces the normalised weights
// for many weight vectors, including zeros, huge and tiny values and the
// largest size.
func TestMixTable(t *testing.T) {
	cases := [][]float64{
		{1},
		{90, 10},
		{1, 2, 3, 0, 4},
		{0, 0, 5},
		{1e308, 1e308, 1e308},
		{1e-300, 1},
		{1, 1, 1},
	}
	r := newStream(99, 0, 0)
	for _, n := range []int{2, 7, 100, MaxMixWeights} {
		w := make([]float64, n)
		for j := range w {
			w[j] = r.float64() * 100
			if j%5 == 0 {
				w[j] = 0
			}
		}
		w[n-1] = 1
		cases = append(cases, w)
	}
	for _, w := range cases {
		m, err := NewMix(w)
		if err != nil {
			t.Fatalf("NewMix(%d weights) = %v", len(w), err)
		}
		if m.Len() != len(w) {
			t.Errorf("Len() = %d; want %d", m.Len(), len(w))
		}
		var sum float64
		for _, x := range w {
			sum += x / 1e300 // scaled: the huge case must not overflow
		}
		for j, x := range w {
			want := x / 1e300 / sum
			if got := m.Probability(j); math.Abs(got-want) > 1e-12 {
				t.Errorf("NewMix(%d weights).Probability(%d) = %v; want %v", len(w), j, got, want)
			}
		}
	}
}

// TestMixPick draws 10⁶ picks with a fixed seed: frequencies within 5
// standard deviations of the weights, a zero weight never picked, and the
// same pick for the same (seed, i) in any order.
func TestMixPick(t *testing.T) {
	weights := []float64{1, 2, 3, 0, 4}
	m, err := NewMix(weights)
	if err != nil {
		t.Fatal(err)
	}
	const draws = 1_000_000
	counts := make([]float64, len(weights))
	for i := range uint64(draws) {
		counts[m.Pick(11, i)]++
	}
	for j, w := range weights {
		p := w / 10
		sd := math.Sqrt(p * (1 - p) / draws)
		if math.Abs(counts[j]/draws-p) > 5*sd {
			t.Errorf("Pick frequency of %d = %.5f; want %.5f", j, counts[j]/draws, p)
		}
	}
	if counts[3] != 0 {
		t.Errorf("zero weight picked %v times", counts[3])
	}
	for i := uint64(draws); i > draws-1000; i-- {
		first := m.Pick(11, i)
		if again := m.Pick(11, i); again != first {
			t.Fatalf("Pick(11, %d) = %d then %d", i, first, again)
		}
	}
	one, err := NewMix([]float64{3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range uint64(100) {
		if one.Pick(1, i) != 0 {
			t.Fatal("a single-weight mix picked something else")
		}
	}
}

// TestMixIndependentOfTemplates checks that the request choice and a
// template's first action are not the same draw: with two equal weights and
// {{int 0 1}}, they agree about half of the time.
func TestMixIndependentOfTemplates(t *testing.T) {
	m, err := NewMix([]float64{1, 1})
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := Parse("{{int 0 1}}")
	if err != nil {
		t.Fatal(err)
	}
	const draws = 100_000
	agree := 0
	for i := range uint64(draws) {
		if tpl.Render(5, i, nil) == string(rune('0'+m.Pick(5, i))) {
			agree++
		}
	}
	// Binomial(10⁵, 1/2): sd ≈ 158.
	if d := agree - draws/2; d > 5*158 || d < -5*158 {
		t.Errorf("Mix.Pick and {{int 0 1}} agree %d times of %d; want about half", agree, draws)
	}
}
