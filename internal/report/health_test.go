package report

import (
	"math"
	"testing"
	"time"

	"github.com/surgeload/surge/reporters"
)

func TestCeiling(t *testing.T) {
	iv := func(intended, ok, failed uint64) reporters.Interval {
		return reporters.Interval{Intended: intended, Succeeded: ok, Failed: failed}
	}
	tests := []struct {
		name    string
		ivs     []reporters.Interval
		rate    float64
		reached bool
	}{
		{"kept up: a lower bound", []reporters.Interval{iv(100, 100, 0), iv(200, 200, 0), iv(300, 299, 0), iv(300, 300, 0)}, (200 + 299 + 300) / 3.0, false},
		{"plateau: median of the saturated intervals", []reporters.Interval{iv(100, 100, 0), iv(400, 250, 150), iv(800, 262, 540), iv(800, 255, 545),
			iv(900, 400, 500), iv(0, 10, 0)}, (255 + 262) / 2.0, true},
		{"odd count", []reporters.Interval{iv(400, 250, 150), iv(800, 262, 540), iv(800, 255, 545)}, 255, true},
		{"errors without falling behind", []reporters.Interval{iv(100, 90, 10), iv(100, 92, 8), iv(100, 91, 9)}, 91, true},
		{"too few saturated intervals", []reporters.Interval{iv(100, 100, 0), iv(400, 250, 150), iv(100, 100, 0), iv(100, 100, 0)}, 150, false},
		{"short stage", []reporters.Interval{iv(10, 10, 0)}, 10, false},
		{"none", nil, 0, false},
	}
	for _, tt := range tests {
		c := Ceiling(tt.ivs, time.Second)
		if len(tt.ivs) == 0 {
			if c != nil {
				t.Errorf("%s: %+v; want nil", tt.name, c)
			}
			continue
		}
		if c == nil || math.Abs(c.MeasuredRPS-tt.rate) > 1e-9 || c.Reached != tt.reached || c.Method != reporters.CeilingGoodput {
			t.Errorf("%s: %+v; want %.2f reached %v", tt.name, c, tt.rate, tt.reached)
		}
	}
}
