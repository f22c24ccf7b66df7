package h1

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// The benchmarks compare this client with net/http on the same minimal
// loopback server, one request at a time and in parallel. Both numbers
// include the server's CPU (same process), which is identical for both.

func BenchmarkDoKeepAlive(b *testing.B) {
	srv := newRawServer(b, serveCanned([]byte(okResponse)))
	c := New(Config{})
	defer c.Close()
	tgt := srv.target()
	req := &Request{Method: "GET", URI: "/items/1", Host: "bench.test"}
	b.ReportAllocs()
	defer startCPU().report(b)
	for b.Loop() {
		res, err := c.Do(tgt, req, Options{Deadline: time.Now().Add(5 * time.Second), MaxBody: 1 << 20})
		if err != nil || res.Status != 200 {
			b.Fatalf("Do = %+v, %v", res, err)
		}
	}
	if s := c.Stats(); s.Dials != 1 {
		b.Fatalf("Stats = %+v; want 1 dial", s)
	}
}

func BenchmarkNetHTTPKeepAlive(b *testing.B) {
	srv := newRawServer(b, serveCanned([]byte(okResponse)))
	tr := &http.Transport{MaxIdleConnsPerHost: 1024}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	url := "http://" + srv.addr + "/items/1"
	b.ReportAllocs()
	defer startCPU().report(b)
	for b.Loop() {
		if err := netHTTPGet(client, url); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDoKeepAliveParallel(b *testing.B) {
	srv := newRawServer(b, serveCanned([]byte(okResponse)))
	c := New(Config{})
	defer c.Close()
	tgt := srv.target()
	b.ReportAllocs()
	defer startCPU().report(b)
	b.RunParallel(func(pb *testing.PB) {
		req := &Request{Method: "GET", URI: "/items/1", Host: "bench.test"}
		for pb.Next() {
			res, err := c.Do(tgt, req, Options{Deadline: time.Now().Add(5 * time.Second), MaxBody: 1 << 20})
			if err != nil || res.Status != 200 {
				b.Errorf("Do = %+v, %v", res, err)
				return
			}
		}
	})
}

func BenchmarkNetHTTPKeepAliveParallel(b *testing.B) {
	srv := newRawServer(b, serveCanned([]byte(okResponse)))
	tr := &http.Transport{MaxIdleConnsPerHost: 1024}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	url := "http://" + srv.addr + "/items/1"
	b.ReportAllocs()
	defer startCPU().report(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := netHTTPGet(client, url); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// netHTTPGet is a request as Surge's net/http transport makes it: a new
// http.Request per arrival, the body read and discarded.
func netHTTPGet(client *http.Client, url string) error {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return err
}

// BenchmarkIdleCheck is the cost of the liveness check made on every reuse
// of a pooled connection: clearing a passed read deadline and one
// non-blocking MSG_PEEK.
func BenchmarkIdleCheck(b *testing.B) {
	srv := newRawServer(b, serveCanned([]byte(okResponse)))
	c := New(Config{})
	defer c.Close()
	tgt := srv.target()
	if _, err := c.Do(tgt, &Request{}, Options{Deadline: time.Now().Add(5 * time.Second)}); err != nil {
		b.Fatal(err)
	}
	cn := idleConn(c, tgt)
	if cn == nil {
		b.Fatal("no idle connection")
	}
	b.ReportAllocs()
	for b.Loop() {
		// As on reuse: the last request's deadline is set on the socket.
		cn.rdl = time.Time{}.Add(1)
		if !cn.alive() {
			b.Fatal("a quiet connection was found dead")
		}
	}
}

// BenchmarkDoKeepAliveNoCheck is BenchmarkDoKeepAlive without the check,
// for the difference it makes to a whole request.
func BenchmarkDoKeepAliveNoCheck(b *testing.B) {
	srv := newRawServer(b, serveCanned([]byte(okResponse)))
	c := New(Config{IdleCheck: -1})
	defer c.Close()
	tgt := srv.target()
	req := &Request{Method: "GET", URI: "/items/1", Host: "bench.test"}
	b.ReportAllocs()
	for b.Loop() {
		res, err := c.Do(tgt, req, Options{Deadline: time.Now().Add(5 * time.Second), MaxBody: 1 << 20})
		if err != nil || res.Status != 200 {
			b.Fatalf("Do = %+v, %v", res, err)
		}
	}
}
