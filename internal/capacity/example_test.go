package capacity_test

import (
	"fmt"

	"github.com/surgeload/surge/internal/capacity"
)

// The planners' worked example: 100M requests a day, a 5× peak, app
// servers that carry 300 req/s each and 30% headroom.
func ExampleCompute() {
	in := capacity.DefaultInputs() // headroom 1.3, 90% reads
	in.DailyRequests, in.PeakMultiplier, in.PerServerRPS = 100e6, 5, 300
	p, err := capacity.Compute(in)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range p.Steps[:4] {
		fmt.Printf("%-14s %-26s %6s %s\n", s.Label, s.Working, capacity.FormatNumber(s.Value), s.Unit)
	}
	// Output:
	// average        100,000,000 ÷ 86,400 s      1,157 req/s
	// peak           1,157.4 × 5                 5,787 req/s
	// app servers    ⌈5,787 ÷ 300⌉ = ⌈19.29⌉        20 servers
	// with headroom  ⌈20 × 1.3⌉ = ⌈26⌉              26 servers
}

// 90% cache hits on the reads of 100M requests a day, all reads, planned
// at the average rate: 1,157 reads/s leave 116 for the database.
func ExampleCompute_cache() {
	p, _ := capacity.Compute(capacity.Inputs{DailyRequests: 100e6, PeakMultiplier: 1, ReadFraction: 1, CacheHitRate: 0.9})
	s, _ := p.Step(capacity.LabelDBReads)
	fmt.Printf("%s: %s = %s %s\n", s.Label, s.Working, capacity.FormatNumber(s.Value), s.Unit)
	// Output:
	// db reads after cache: 1,157.4 × (1 − 90%) = 116 req/s
}

func ExampleCeiling() {
	in := capacity.Inputs{PerServerRPS: 300, ReadFraction: 0.9, CacheHitRate: 0.9, ReplicaReadRPS: 2000, PrimaryWriteCeiling: 5000}
	for _, stage := range []string{"single-box", "split", "cache"} {
		v, reason, ok := capacity.Ceiling(stage, in)
		fmt.Println(stage, capacity.FormatNumber(v), ok)
		fmt.Println("  ", reason)
	}
	_, reason, ok := capacity.Ceiling("lb", in)
	fmt.Println("lb", ok, reason)
	// Output:
	// single-box 263 true
	//    shared box 1 ÷ (1 ÷ 300 + 90% ÷ 2,000 + 10% ÷ 5,000) = 263
	// split 300 true
	//    min(app 1 × 300 = 300, db 1 ÷ (90% ÷ 2,000 + 10% ÷ 5,000) = 2,128): limited by app
	// cache 300 true
	//    min(app 1 × 300 = 300, db 1 ÷ (90% × (1 − 90%) ÷ 2,000 + 10% ÷ 5,000) = 15,385): limited by app
	// lb false needs daily_requests (to size the app servers)
}

func ExampleFormatNumber() {
	for _, v := range []float64{100e6 / 86400, 115.74, 24.58, 1.3, 0.2604} {
		fmt.Println(capacity.FormatNumber(v))
	}
	// Output:
	// 1,157
	// 116
	// 24.6
	// 1.3
	// 0.26
}
