package engine

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// BenchmarkBuildRequestNetHTTP is the per-arrival cost of picking the
// request and rendering it (URL, templated header and body) into an
// *http.Request before it is sent.
func BenchmarkBuildRequestNetHTTP(b *testing.B) {
	j := newJob(b, "http://127.0.0.1:8080", job{rate: 1000, d: time.Second, requests: []Request{
		{Name: "read", Method: "GET", Path: "/items/{{zipf 1.1 1000000}}", Weight: 9, Header: http.Header{"X-Key": {"k{{int 1 9}}"}}},
		{Name: "write", Method: "POST", Path: "/items", Body: []byte(`{"n":{{seq}},"id":"{{uuid}}"}`), Weight: 1},
	}})
	p, err := j.compile()
	if err != nil {
		b.Fatal(err)
	}
	t := &netHTTP{r: &runner{job: &j, plan: p}}
	ctx := context.Background()
	b.ReportAllocs()
	var i uint64
	for b.Loop() {
		k := p.pick(i)
		if _, err := t.build(ctx, &p.reqs[k], i); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkBuildRequestNative is the same mix rendered for Surge's own
// client (a request without templates costs nothing: it is built once).
func BenchmarkBuildRequestNative(b *testing.B) {
	j := newJob(b, "http://127.0.0.1:8080", job{rate: 1000, d: time.Second, requests: []Request{
		{Name: "read", Method: "GET", Path: "/items/{{zipf 1.1 1000000}}", Weight: 9, Header: http.Header{"X-Key": {"k{{int 1 9}}"}}},
		{Name: "write", Method: "POST", Path: "/items", Body: []byte(`{"n":{{seq}},"id":"{{uuid}}"}`), Weight: 1},
	}})
	p, err := j.compile()
	if err != nil {
		b.Fatal(err)
	}
	t := &native{r: &runner{job: &j, plan: p}}
	t.scratch.New = func() any { return new(nativeScratch) }
	b.ReportAllocs()
	var i uint64
	for b.Loop() {
		k := p.pick(i)
		c := &p.reqs[k]
		if c.native == nil {
			s := t.scratch.Get().(*nativeScratch)
			if _, err := t.render(s, c, i); err != nil {
				b.Fatal(err)
			}
			t.scratch.Put(s)
		}
		i++
	}
}
