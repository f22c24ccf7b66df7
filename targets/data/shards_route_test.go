package data

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// TestShardsByRegionAndTenant: under region or tenant partitioning every
// key of a region (tenant) lands on its shard, placed by Routes or by a
// hash of its name, and a request naming none goes by its key's hash.
func TestShardsByRegionAndTenant(t *testing.T) {
	for _, tc := range []struct {
		p    Partitioning
		with func(context.Context, string) context.Context
	}{{RegionPartitioning, WithRegion}, {TenantPartitioning, WithTenant}} {
		t.Run(tc.p.String(), func(t *testing.T) {
			tables := make([]Store, 4)
			raw := make([]*Table, 4)
			for i := range tables {
				raw[i] = newTestTable(t, "shard-"+strconv.Itoa(i), nil, nil)
				tables[i] = raw[i]
			}
			s, err := NewShards("shards", ShardsConfig{Partitioning: tc.p, Routes: map[string]int{"eu": 3, "us": 1}}, tables, nil)
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range map[string]int{"eu": 3, "us": 1, "ap": jumpHash(fnv1a("ap"), 4)} {
				ctx := tc.with(context.Background(), name)
				for k := range 20 {
					key := name + "-" + strconv.Itoa(k)
					if _, err := s.Put(ctx, key); err != nil {
						t.Fatal(err)
					}
					if got := s.shardOf(ctx, key); got != want {
						t.Fatalf("%s %q, key %s: shard %d; want %d", tc.p, name, key, got, want)
					}
					if item, _ := raw[want].Get(context.Background(), key); item.Version != 1 {
						t.Fatalf("%s %q: key %s not on shard %d", tc.p, name, key, want)
					}
				}
			}
			// No region or tenant: by key, as hash partitioning.
			for k := range 50 {
				key := strconv.Itoa(k)
				if got, want := s.shardOf(context.Background(), key), jumpHash(fnv1a(key), 4); got != want {
					t.Errorf("key %s with no routing name: shard %d; want the key's hash %d", key, got, want)
				}
			}
		})
	}
}

func TestShardsRoutesValidated(t *testing.T) {
	tables := []Store{newTestTable(t, "a", nil, nil), newTestTable(t, "b", nil, nil)}
	for _, cfg := range []ShardsConfig{
		{Partitioning: TenantPartitioning, Routes: map[string]int{"big": 2}}, // only 2 shards
		{Partitioning: TenantPartitioning, Routes: map[string]int{"": 0}},
		{Partitioning: HashPartitioning, Routes: map[string]int{"x": 0}},
		{Partitioning: RegionPartitioning, Bounds: []string{"5"}},
		{Partitioning: 9},
	} {
		if _, err := NewShards("s", cfg, tables, nil); err == nil {
			t.Errorf("NewShards(%+v) = nil error; want one", cfg)
		}
	}
	for _, p := range []Partitioning{RegionPartitioning, TenantPartitioning} {
		b, err := p.MarshalText()
		var back Partitioning
		if err != nil || back.UnmarshalText(b) != nil || back != p {
			t.Errorf("%v: text %q, %v round trips to %v", p, b, err, back)
		}
	}
}

func TestWithHeadersTenant(t *testing.T) {
	var got string
	h, err := WithHeaders(DefaultHeaderConfig(), http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		got, _ = TenantFrom(r.Context())
	}))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Tenant", "acme")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if got != "acme" {
		t.Errorf("tenant from X-Tenant: acme = %q", got)
	}
	if err := (HeaderConfig{Client: "C", Region: "R", Tenant: "bad header"}).Validate(); err == nil {
		t.Error("Validate with tenant header \"bad header\" = nil; want an error")
	}
}
