package edge_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/surgeload/surge/targets/edge"
)

func ExampleNewRateLimiter() {
	cfg := edge.DefaultRateLimiterConfig()
	cfg.Rate = 1 // a token a second
	cfg.Burst = 2
	limiter, err := edge.NewRateLimiter("edge", cfg, prometheus.NewRegistry())
	if err != nil {
		fmt.Println(err)
		return
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	h := limiter.Middleware(app)

	for range 3 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/items/1", nil))
		fmt.Printf("%d remaining=%s retry-after=%q\n", rec.Code,
			rec.Header().Get("RateLimit-Remaining"), rec.Header().Get("Retry-After"))
	}
	// Output:
	// 200 remaining=1 retry-after=""
	// 200 remaining=0 retry-after=""
	// 429 remaining=0 retry-after="1"
}

func ExampleNewBreaker() {
	cfg := edge.DefaultBreakerConfig()
	cfg.ConsecutiveFailures = 3
	cfg.CoolDown = time.Minute
	breaker, err := edge.NewBreaker("db-breaker", cfg, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	queryDB := func(context.Context) error { return errors.New("connection refused") }

	for range 4 {
		err := breaker.Do(context.Background(), queryDB)
		fmt.Println(err, "- breaker", breaker.State())
	}
	// Output:
	// connection refused - breaker closed
	// connection refused - breaker closed
	// connection refused - breaker open
	// circuit breaker open - breaker open
}
