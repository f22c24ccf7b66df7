package schedule

import (
	"errors"
	"testing"
)

func TestUnionAndDivide(t *testing.T) {
	four, err := Equal(4)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		s    Share
		m    int
	}{
		{"one of four among three", four[1], 3},
		{"one of four among one", four[2], 1},
		{"three of seven among two", Share{Cycle: 7, Offsets: []uint32{0, 3, 5}}, 2},
		{"everything among five", Share{Cycle: 1, Offsets: []uint32{0}}, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parts, err := Divide(tc.s, tc.m)
			if err != nil {
				t.Fatal(err)
			}
			const first, end = 13, 5_000
			var sum uint64
			for i := uint64(first); i < end; i++ {
				owners := 0
				for _, p := range parts {
					if p.Owns(i) {
						owners++
					}
				}
				want := 0
				if tc.s.Owns(i) {
					want = 1
				}
				if owners != want {
					t.Fatalf("index %d: %d owners among the parts, want %d", i, owners, want)
				}
			}
			for j, p := range parts {
				if err := p.Validate(); err != nil {
					t.Fatalf("part %d: %v", j, err)
				}
				sum += p.Count(first, end)
				// Evenly spread: every window of the parent's owned indexes
				// gives each part its 1/m within one.
				got, total := 0, 0
				for i := uint64(first); i < end; i++ {
					if tc.s.Owns(i) {
						total++
						if p.Owns(i) {
							got++
						}
						if d := float64(got) - float64(total)/float64(tc.m); d > 1 || d < -1 {
							t.Fatalf("part %d drifts by %.2f after %d owned indexes", j, d, total)
						}
					}
				}
			}
			if want := tc.s.Count(first, end); sum != want {
				t.Fatalf("parts own %d, the share %d", sum, want)
			}
		})
	}
	u, err := Union(four[0], Share{Cycle: 6, Offsets: []uint32{1, 4}})
	if err != nil {
		t.Fatal(err)
	}
	if u.Cycle != 12 {
		t.Fatalf("union cycle %d, want 12", u.Cycle)
	}
	for i := range uint64(100) {
		if want := four[0].Owns(i) || i%6 == 1 || i%6 == 4; u.Owns(i) != want {
			t.Fatalf("union owns %d = %v, want %v", i, u.Owns(i), want)
		}
	}
	if _, err := Divide(Share{Cycle: MaxCycle, Offsets: []uint32{0}}, 2); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Divide beyond MaxCycle: %v", err)
	}
	if _, err := Union(Share{Cycle: 65521, Offsets: []uint32{0}}, Share{Cycle: 65519, Offsets: []uint32{0}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Union beyond MaxCycle: %v", err)
	}
	if _, err := Divide(four[0], 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Divide among 0: %v", err)
	}
}
