// Package lb is the load balancer of Surge's reference topologies: a
// real HTTP reverse proxy that spreads requests over N backends with
// round robin, weighted round robin, least connections, IP hash (keyed
// on the client's address or on a header, since a load generator sends
// everything from one address) or seeded random, and takes backends out
// of rotation and back with active health checks.
//
// A [Balancer] is a plain http.Handler; serve it like any other:
//
//	cfg := lb.DefaultBalancerConfig()
//	cfg.Algorithm = lb.LeastConnections
//	cfg.Backends = []lb.Backend{{URL: app1.URL}, {URL: app2.URL}}
//	bal, err := lb.NewBalancer("lb", cfg, prometheus.DefaultRegisterer)
//	if err != nil {
//		return err
//	}
//	defer bal.Close()
//	srv := httptest.NewServer(bal)
//
// # Capacity
//
// The balancer forwards at most MaxInFlight requests at once; more wait
// in a FIFO queue of QueueLimit for up to QueueTimeout, and beyond that
// get 503. The defaults (1024, 1024, 5s) are meant never to be the
// bottleneck: set them lower to model a load balancer that is.
//
// # Metrics
//
// Every series carries component=<name>:
//
//	surge_target_utilisation                  gauge    in flight ÷ MaxInFlight
//	surge_target_queue_depth                  gauge    requests waiting for a slot
//	surge_target_pool_waits_total             counter  requests that had to wait
//	surge_target_rejected_total{reason}       counter  503s: unhealthy, queue_full, queue_timeout
//	surge_target_requests_total               counter  requests forwarded and finished
//	surge_target_backend_requests_total{backend}      counter
//	surge_target_backend_errors_total{backend}        counter  transport failures (502)
//	surge_target_backend_up{backend}                  gauge    1 in rotation, 0 out
//	surge_target_backend_in_flight{backend}           gauge
//	surge_target_health_check_failures_total{backend} counter
//
// # Concurrency
//
// A Balancer serves any number of requests concurrently. With health
// checks on it runs one goroutine per backend; they end when Close
// returns. The package never imports Surge's load-generation side.
package lb
