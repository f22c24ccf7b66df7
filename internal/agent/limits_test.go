package agent

import (
	"errors"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/engine"
	"github.com/surgeload/surge/internal/schedule"
)

func TestCheckLimits(t *testing.T) {
	sched, err := schedule.NewConstant(schedule.Constant{Rate: 1000, Duration: 10 * time.Second}, schedule.Uniform)
	if err != nil {
		t.Fatal(err)
	}
	half := schedule.Share{Cycle: 2, Offsets: []uint32{0}}
	tests := []struct {
		name     string
		cfg      Config
		share    schedule.Share
		inFlight int
		running  float64 // req/s the agent already plays
		refused  bool
		want     int // the in-flight cap after the check
	}{
		{"within limits", Config{MaxRate: 1000, MaxDuration: time.Minute}, schedule.Share{Cycle: 1, Offsets: []uint32{0}}, 100, 0, false, 100},
		{"over the rate", Config{MaxRate: 999}, schedule.Share{Cycle: 1, Offsets: []uint32{0}}, 100, 0, true, 100},
		{"half a share fits", Config{MaxRate: 500}, half, 100, 0, false, 100},
		{"half a share beside a running one fits", Config{MaxRate: 750}, half, 100, 250, false, 100},
		{"half a share beside a running one is over", Config{MaxRate: 700}, half, 100, 250, true, 100},
		{"over the duration", Config{MaxDuration: 9 * time.Second}, half, 100, 0, true, 100},
		{"in-flight lowered", Config{MaxInFlight: 10}, half, 100, 0, false, 10},
		{"in-flight unbounded is bounded", Config{MaxInFlight: 10}, half, 0, 0, false, 10},
		{"a lower cap stays", Config{MaxInFlight: 10}, half, 5, 0, false, 5},
	}
	for _, tt := range tests {
		j := engine.Job{Schedule: sched, Share: tt.share, Limits: engine.Limits{MaxInFlight: tt.inFlight}}
		err := tt.cfg.checkLimits(&j, tt.running)
		if (err != nil) != tt.refused || (err != nil && !errors.Is(err, errOverLimit)) || j.Limits.MaxInFlight != tt.want {
			t.Errorf("%s: err %v, in-flight %d; want refused %v, in-flight %d", tt.name, err, j.Limits.MaxInFlight, tt.refused, tt.want)
		}
	}
}
