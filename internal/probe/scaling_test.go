package probe

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/surgeload/surge/reporters"
)

// TestScaling: an autoscaled tier's counts are read from the target's
// gauges at the first scrape and at every change, and a target without
// them has no scaling.
func TestScaling(t *testing.T) {
	text := func(inst, prov, want int) string {
		return strings.NewReplacer("I", strconv.Itoa(inst), "P", strconv.Itoa(prov), "W", strconv.Itoa(want)).Replace(`# TYPE surge_target_instances gauge
surge_target_instances{component="autoscaler"} I
# TYPE surge_target_instances_provisioning gauge
surge_target_instances_provisioning{component="autoscaler"} P
# TYPE surge_target_instances_wanted gauge
surge_target_instances_wanted{component="autoscaler"} W
`)
	}
	from := time.Unix(1000, 0)
	var samples []targetSample
	for k, c := range [][3]int{{10, 0, 10}, {10, 0, 10}, {10, 16, 26}, {26, 0, 26}, {26, 0, 26}, {10, 0, 10}} {
		s, err := parseTargetMetrics(strings.NewReader(text(c[0], c[1], c[2])))
		if err != nil {
			t.Fatal(err)
		}
		s.at = from.Add(time.Duration(k) * time.Second)
		samples = append(samples, s)
	}
	got := scaling(samples, from)
	want := []reporters.ScalingPoint{{AtS: 0, Instances: 10, Wanted: 10}, {AtS: 2, Instances: 10, Provisioning: 16, Wanted: 26},
		{AtS: 3, Instances: 26, Wanted: 26}, {AtS: 5, Instances: 10, Wanted: 10}}
	if len(got) != len(want) {
		t.Fatalf("scaling = %+v; want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("scaling = %+v; want %+v", got, want)
		}
	}
	plain, err := parseTargetMetrics(strings.NewReader("# TYPE surge_target_utilisation gauge\nsurge_target_utilisation{component=\"app\"} 0.5\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s := scaling([]targetSample{plain}, from); s != nil {
		t.Fatalf("scaling of a target without an autoscaler: %+v", s)
	}
}
