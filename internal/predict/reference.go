package predict

import (
	"fmt"

	"github.com/surgeload/surge/scenario"
)

// ReferenceHitRate is the cache hit rate of the reference prediction:
// capacity.cache_hit_rate of examples/staircase.yaml, about what keys
// drawn by {{zipf 1.1 100000}} give the default 1,000-entry cache.
const ReferenceHitRate = 0.67

// referenceScenario is the reference mix as a scenario of one stage: the
// requests of examples/staircase.yaml (90% GET /items/{{zipf 1.1 100000}},
// 10% POST /jobs, both spread over the regions by X-Region) and its
// capacity.cache_hit_rate.
func referenceScenario(topology string) *scenario.Scenario {
	region := map[string]string{"X-Region": "{{choice us-east eu-west ap-south}}"}
	return &scenario.Scenario{
		Name:   "reference",
		Stages: []scenario.Stage{{Name: topology, Bundled: topology}},
		Requests: []scenario.Request{
			{Name: "read-item", Method: "GET", Path: "/items/{{zipf 1.1 100000}}", Headers: region, Weight: 90},
			{Name: "write-item", Method: "POST", Path: "/jobs", Headers: region, Body: `{"n": {{seq}}}`, Weight: 10},
		},
		Capacity: &scenario.Capacity{CacheHitRate: ReferenceHitRate},
	}
}

// Reference is the one predicted ceiling of a bundled topology that Surge
// quotes outside a run — `target --list`, the README's table of reference
// topologies — and that `coordinator plan examples/staircase.yaml` prints
// for each stage: the topology's default config under the reference mix
// (referenceScenario) and ReferenceHitRate (the cdn's edge uses Che's
// approximation for the zipf keys, as Stage does). ok is false for echo,
// which has no ceiling to predict.
func Reference(topology string) (p Prediction, ok bool, err error) {
	p, ok, err = Stage(referenceScenario(topology), 0, -1)
	if err != nil {
		return Prediction{}, false, fmt.Errorf("reference prediction: %w", err)
	}
	return p, ok, nil
}
