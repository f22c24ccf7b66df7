package capacity

import (
	"math"
	"testing"
)

func TestHourlyPeakMultiplier(t *testing.T) {
	flat := make([]float64, 24)
	for i := range flat {
		flat[i] = 1
	}
	evening := append([]float64(nil), flat...)
	evening[20] = 24 // 47 over the day: average 47/24, peak 24
	tests := []struct {
		name string
		w    []float64
		want float64
	}{
		{"flat", flat, 1},
		{"evening peak", evening, 24 / (47.0 / 24)},
		{"one hour", []float64{0, 0, 3, 0}, 4},
		{"none", nil, 0},
		{"zeros", []float64{0, 0}, 0},
	}
	for _, tt := range tests {
		if got := HourlyPeakMultiplier(tt.w); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("%s: HourlyPeakMultiplier(%v) = %v; want %v", tt.name, tt.w, got, tt.want)
		}
	}
}
