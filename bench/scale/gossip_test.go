package main

import (
	"context"
	"testing"
	"time"
)

// TestConverge: a small cluster of every profile converges on the
// in-memory network, and the result says so consistently. A correctness
// test: the bound is generous, and no time is asserted.
func TestConverge(t *testing.T) {
	for _, profile := range profiles {
		t.Run(profile, func(t *testing.T) {
			t.Parallel()
			cfg := defaultGossipConfig()
			cfg.Nodes, cfg.Profile, cfg.Timeout, cfg.Settle = 6, profile, 60*time.Second, 0
			if err := cfg.validate(); err != nil {
				t.Fatal(err)
			}
			res, err := converge(context.Background(), cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Converged || res.Complete != cfg.Nodes || res.MinView != cfg.Nodes-1 {
				t.Fatalf("converge(%s, 6 nodes) = converged %v, %d complete, smallest view %d; want true, 6, 5",
					profile, res.Converged, res.Complete, res.MinView)
			}
			if res.ConvergedS < res.FullP50S || res.FullP99S > res.ConvergedS || res.SeedS < 0 || res.JoinsS < 0 {
				t.Errorf("times out of order: %+v", res)
			}
		})
	}
}

// TestConvergeSlowed: with Slow, gossip times are protocol time and the
// Surge metadata rides along.
func TestConvergeSlowed(t *testing.T) {
	cfg := defaultGossipConfig()
	cfg.Nodes, cfg.Profile, cfg.Slow, cfg.SurgeMeta, cfg.Timeout, cfg.Settle = 4, profileLAN, 2, true, 60*time.Second, 0
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	res, err := converge(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Converged || res.Slow != 2 || !res.SurgeMeta {
		t.Fatalf("converge = %+v; want converged, slow 2, surge_meta", res)
	}
}

func TestNodeIP(t *testing.T) {
	tests := []struct {
		profile string
		i       int
		want    string
	}{
		{profileFleet, 0, "10.0.0.1"},
		{profileLAN, 255, "10.0.1.0"},
		{profileLoopback, 999, "127.0.3.232"},
		{profileFast, 1, "127.0.0.2"},
	}
	for _, tt := range tests {
		if got := nodeIP(tt.profile, tt.i).String(); got != tt.want {
			t.Errorf("nodeIP(%s, %d) = %s; want %s", tt.profile, tt.i, got, tt.want)
		}
	}
}
