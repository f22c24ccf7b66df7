// Package edge holds the components that sit in front of a service and
// shed load before it reaches the service: two rate limiters, a
// token-bucket [RateLimiter] and a [SlidingWindow], and a circuit
// [Breaker]. Both are plain http.Handler middleware, for
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
// Shed requests are answered at once (429 Too Many Requests from a
// limiter, 503 Service Unavailable with X-Surge-Breaker: open from an
// open breaker), each with a Retry-After header, so a load test sees
// exactly where and why load was refused. A limiter's every response
// carries RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset (the
// IETF draft's fields, in delta seconds). A limiter keys its clients by
// a [Key]: one quota for all, one per remote IP, or one per value of a
// header (the remote IP when it is absent).
//
// Metrics: each component registers its series on the
// prometheus.Registerer it is given (nil registers nothing), each carrying
// the label component="<name>":
//
//	surge_target_requests_total                 counter  requests let through
//	surge_target_rejected_total{reason}         counter  requests shed: "rate_limited" or "breaker_open"
//	surge_target_utilisation                    gauge    limiters only: drained fraction of the bucket, or
//	                                                     filled fraction of the window (of the most
//	                                                     loaded client when keyed), 0..1
//	surge_target_breaker_state                  gauge    breaker only: 0 closed, 1 open, 2 half-open
//	surge_target_breaker_transitions_total{to}  counter  breaker only: state changes, by the state entered
//
// Concurrency: a RateLimiter, a SlidingWindow and a Breaker are safe for concurrent use
// and start no goroutines; they have nothing to close.
package edge
