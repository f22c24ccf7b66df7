package data

import (
	"github.com/surgeload/surge/targets/resource"

	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestValidate checks every default is valid and that Validate lists
// every problem of a config at once, naming each field.
func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		valid   error
		invalid error
		want    []string
	}{
		{
			name:    "table",
			valid:   DefaultTableConfig().Validate(),
			invalid: TableConfig{MaxKeys: 0}.Validate(),
			want:    []string{"max keys must be from 1"},
		},
		{
			name:    "cache",
			valid:   DefaultCacheConfig().Validate(),
			invalid: CacheConfig{Capacity: 0, TTL: -1, Policy: 7}.Validate(),
			want:    []string{"capacity must be from 1", "ttl must be from 0", "policy must be cache-aside"},
		},
		{
			name:    "replicas",
			valid:   DefaultReplicasConfig().Validate(),
			invalid: ReplicasConfig{Lag: -1, ReadYourWritesWindow: 2 * MaxLag, MaxKeys: MaxKeys + 1}.Validate(),
			want:    []string{"lag must be from 0", "read-your-writes window must be from 0", "max keys must be from 1"},
		},
		{
			name:    "shards",
			valid:   DefaultShardsConfig().Validate(),
			invalid: ShardsConfig{Partitioning: RangePartitioning, Bounds: []string{"b", "a", "10", "9"}}.Validate(),
			want:    []string{`bounds[1] "a" must come after bounds[0] "b"`, `bounds[2] "10" must come after bounds[1] "a"`},
		},
		{
			name:    "shards hash with bounds",
			valid:   ShardsConfig{Partitioning: RangePartitioning, Bounds: []string{"9", "10", "a"}}.Validate(),
			invalid: ShardsConfig{Partitioning: HashPartitioning, Bounds: []string{"1"}}.Validate(),
			want:    []string{"bounds must be empty with hash partitioning"},
		},
		{
			name:  "regions",
			valid: RegionsConfig{Primary: "us", RTT: time.Millisecond, PairRTTs: []PairRTT{{A: "us", B: "eu", RTT: time.Second}}}.Validate(),
			invalid: RegionsConfig{RTT: -1, PairRTTs: []PairRTT{
				{A: "us", B: "us"}, {A: "us", B: "eu", RTT: MaxRTT + 1}, {A: "eu", B: "us"},
			}}.Validate(),
			want: []string{"primary must name", "rtt must be from 0", "pair rtts[0] must name two different regions", "pair rtts[1] (us, eu) rtt must be from 0", "pair rtts[2] repeats the pair"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.valid != nil {
				t.Errorf("valid config: Validate() = %v; want nil", tc.valid)
			}
			if tc.invalid == nil {
				t.Fatalf("invalid config: Validate() = nil; want %d problems", len(tc.want))
			}
			for _, w := range tc.want {
				if !strings.Contains(tc.invalid.Error(), w) {
					t.Errorf("Validate() = %q; want it to contain %q", tc.invalid, w)
				}
			}
		})
	}
}

// TestConstructorsCheckArguments checks the checks that need more than
// the config, all reported at once.
func TestConstructorsCheckArguments(t *testing.T) {
	tb := newTestTable(t, "db", nil, nil)
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"cache", second(NewCache("c", DefaultCacheConfig(), nil, nil, nil)), []string{"origin must not be nil"}},
		{"replicas", second(NewReplicas("r", DefaultReplicasConfig(), nil, nil, nil)), []string{"replicas must number from 1"}},
		{"shards", second(NewShards("s", ShardsConfig{Partitioning: RangePartitioning, Bounds: []string{"5"}}, []Store{tb, nil, tb}, nil)),
			[]string{"shard 1 must not be nil", "range partitioning of 3 shards needs 2 bounds (got 1)"}},
		{"regions", second(NewRegions("g", RegionsConfig{Primary: "mars", Default: "venus", PairRTTs: []PairRTT{{A: "us", B: "pluto"}}},
			map[string]Store{"us": tb, "eu": nil}, nil)),
			[]string{`region "eu" must have a store`, `primary "mars" must be one of the regions (eu, us)`, `default "venus"`, `pair rtts[0] region "pluto"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil {
				t.Fatal("constructor succeeded; want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(tc.err.Error(), w) {
					t.Errorf("error %q; want it to contain %q", tc.err, w)
				}
			}
		})
	}
}

func second[T any](_ T, err error) error { return err }

// TestMetricsShareARegistry registers one of every component in one
// registry, checks every series carries its component label, and that a
// second component with a taken name fails cleanly, leaving the
// registry as it was.
func TestMetricsShareARegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	node, err := resource.NewDB("db-node", resource.DefaultDBConfig(), reg)
	if err != nil {
		t.Fatal(err)
	}
	table, err := NewTable("items", DefaultTableConfig(), node, reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewCache("cache", DefaultCacheConfig(), table, nil, reg); err != nil {
		t.Fatal(err)
	}
	rep, err := NewReplicas("replicas", DefaultReplicasConfig(), nil, []Backend{nil}, reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewShards("shards", DefaultShardsConfig(), []Store{table, rep}, reg); err != nil {
		t.Fatal(err)
	}
	if _, err := NewRegions("regions", RegionsConfig{Primary: "us", RTT: time.Millisecond}, map[string]Store{"us": table}, reg); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	before := 0
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "surge_target_") {
			t.Errorf("metric %s lacks the surge_target_ prefix", f.GetName())
		}
		for _, m := range f.GetMetric() {
			before++
			ok := false
			for _, l := range m.GetLabel() {
				ok = ok || (l.GetName() == "component" && l.GetValue() != "")
			}
			if !ok {
				t.Errorf("a series of %s has no component label", f.GetName())
			}
		}
	}
	_, err = NewCache("cache", DefaultCacheConfig(), table, nil, reg)
	if are := (prometheus.AlreadyRegisteredError{}); !errors.As(err, &are) {
		t.Errorf("second cache named cache: %v; want an AlreadyRegisteredError", err)
	}
	families, _ = reg.Gather()
	after := 0
	for _, f := range families {
		after += len(f.GetMetric())
	}
	if after != before {
		t.Errorf("%d series after the failed constructor; want the %d before", after, before)
	}
}
