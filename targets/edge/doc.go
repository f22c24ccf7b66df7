// Package edge holds the components that sit in front of a service and
// shed load before it reaches the service: a token-bucket [RateLimiter]
// and a circuit [Breaker]. Both are plain http.Handler middleware, for
// Surge's reference target topologies, and the Breaker also wraps any
// func(ctx) error, so it can guard a call to a database or another
// service.
//
//	reg := prometheus.NewRegistry()
//	limiter, err := edge.NewRateLimiter("edge", edge.DefaultRateLimiterConfig(), reg)
//	if err != nil {
//		return err
//	}
//	breaker, err := edge.NewBreaker("app-breaker", edge.DefaultBreakerConfig(), reg)
//	if err != nil {
//		return err
//	}
//	h := limiter.Middleware(breaker.Middleware(app))
//
// Shed requests are answered at once (429 Too Many Requests from the
// limiter, 503 Service Unavailable from an open breaker), each with a
// Retry-After header, so a load test sees exactly where and why load was
// refused.
//
// Metrics: each component registers its series on the
// prometheus.Registerer it is given (nil registers nothing), each carrying
// the label component="<name>":
//
//	surge_target_requests_total                 counter  requests let through
//	surge_target_rejected_total{reason}         counter  requests shed: "rate_limited" or "breaker_open"
//	surge_target_utilisation                    gauge    limiter only: drained fraction of its bucket
//	                                                     (of the most drained client bucket when keyed), 0..1
//	surge_target_breaker_state                  gauge    breaker only: 0 closed, 1 half-open, 2 open
//	surge_target_breaker_transitions_total{to}  counter  breaker only: state changes, by the state entered
//
// Concurrency: a RateLimiter and a Breaker are safe for concurrent use
// and start no goroutines; they have nothing to close.
package edge
