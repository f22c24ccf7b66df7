//go:build linux

package h1

import (
	"testing"
	"time"
)

// BenchmarkLoopKeepAlive is BenchmarkDoKeepAliveParallel's work on a
// Loop: 16 requests outstanding at once on one goroutine, against the same
// in-process server (its CPU is in cpu-ns/op too, as in the Do
// benchmarks).
func BenchmarkLoopKeepAlive(b *testing.B) {
	srv := newRawServer(b, serveCanned([]byte(okResponse)))
	c := New(Config{})
	defer c.Close()
	tgt := srv.target()
	req := &Request{Method: "GET", URI: "/items/1", Host: "bench.test"}
	sent, ended := 0, 0
	var l *Loop
	send := func() {
		sent++
		l.Send(tgt, req, Options{Deadline: time.Now().Add(5 * time.Second), MaxBody: 1 << 20}, nil)
	}
	l, err := c.NewLoop(LoopConfig{Done: func(_ any, res *Result, err error) {
		ended++
		if err != nil || res.Status != 200 {
			b.Fatalf("request = %+v, %v", *res, err)
		}
		if sent < b.N {
			send()
		}
	}})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.ReportAllocs()
	defer startCPU().report(b)
	for range min(16, b.N) {
		send()
	}
	for ended < b.N {
		if err := l.Wait(time.Second); err != nil {
			b.Fatal(err)
		}
	}
}
