package engine

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/surgeload/surge/internal/metrics"
)

// TestRateLimitedAndBreakerOpen runs every client path (the native sender
// loops, the native client following redirects, net/http) against a
// target answering 429 and 503 with and without X-Surge-Breaker: open,
// and checks each response's class: a 429 is rate_limited, a 503 with the
// header breaker_open, and anything else keeps its old class.
func TestRateLimitedAndBreakerOpen(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/429", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		w.Header().Set("RateLimit-Remaining", "0")
		http.Error(w, "rate limit exceeded", http.StatusTooManyRequests)
	})
	breaker := func(status int, name, value string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header()[name] = []string{value} // as written, not canonicalised
			w.Header().Set("Retry-After", "2")
			http.Error(w, "circuit breaker open", status)
		}
	}
	mux.Handle("/503-open", breaker(503, "X-Surge-Breaker", "open"))
	mux.Handle("/503-open-upper", breaker(503, "X-SURGE-BREAKER", " OPEN "))
	mux.Handle("/503-closed", breaker(503, "X-Surge-Breaker", "closed"))
	mux.Handle("/503-other-header", breaker(503, "X-Surge-Breakers", "open"))
	mux.Handle("/500-open", breaker(500, "X-Surge-Breaker", "open"))
	mux.HandleFunc("/503", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	mux.HandleFunc("/404", http.NotFound)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	tests := []struct {
		path   string
		expect []int
		want   metrics.Outcome
	}{
		{"/429", nil, metrics.RateLimited},
		{"/429", []int{200, 429}, metrics.OK}, // expected: a success
		{"/404", nil, metrics.HTTP4xx},
		{"/503-open", nil, metrics.BreakerOpen},
		{"/503-open-upper", nil, metrics.BreakerOpen},
		{"/503-open", []int{503}, metrics.OK},
		{"/503-closed", nil, metrics.HTTP5xx},
		{"/503-other-header", nil, metrics.HTTP5xx},
		{"/500-open", nil, metrics.HTTP5xx}, // only a 503 is a breaker's refusal
		{"/503", nil, metrics.HTTP5xx},
	}
	clients := []struct {
		name string
		o    ClientOptions
	}{
		{"native loops", ClientOptions{Impl: ImplNative}},
		{"native redirects", ClientOptions{Impl: ImplNative, FollowRedirects: 1}},
		{"net/http", ClientOptions{Impl: ImplNetHTTP}},
	}
	const n = 4
	for _, cl := range clients {
		for _, tt := range tests {
			c := runClient(t, srv.URL, cl.o, n, Request{Method: "GET", Path: tt.path, Expect: tt.expect})
			got := c.Errors[tt.want]
			if tt.want == metrics.OK {
				got = c.Succeeded
			}
			if got != n {
				t.Errorf("%s: GET %s (expect %v): %d of %d classified %v; counters %+v", cl.name, tt.path, tt.expect, got, n, tt.want, c)
			}
		}
	}
}
