package lb

import (
	"context"
	"io"
	"net/http"
	"time"
)

// healthState is the hysteresis of one backend's health: consecutive
// failures take it down, consecutive successes bring it back. It is
// owned by the backend's checker goroutine.
type healthState struct {
	up         bool
	fails      int // failed checks in a row
	successes  int // good checks in a row
	fall, rise int // thresholds
}

// observe records one check's outcome and reports whether the backend
// changed state (the new state is s.up).
func (s *healthState) observe(ok bool) (changed bool) {
	if ok {
		s.fails = 0
		s.successes++
		if !s.up && s.successes >= s.rise {
			s.up = true
			return true
		}
		return false
	}
	s.successes = 0
	s.fails++
	if s.up && s.fails >= s.fall {
		s.up = false
		return true
	}
	return false
}

// healthBodyLimit is how much of a health check's response body is read,
// so the connection can be reused; the rest is dropped with it.
const healthBodyLimit = 64 << 10

// check runs health checks of be every cfg.Interval until ctx is done,
// starting at once. It is the body of the backend's checker goroutine.
func (b *Balancer) check(ctx context.Context, be *backend) {
	cfg := b.cfg.HealthCheck
	state := healthState{up: true, fall: cfg.FailThreshold, rise: cfg.RiseThreshold}
	ticker := time.NewTicker(cfg.Interval)
	defer ticker.Stop()
	for {
		ok := b.probe(ctx, be)
		if ctx.Err() != nil {
			return // closing: the failure is ours, not the backend's
		}
		if !ok {
			be.checkFailures.Inc()
		}
		if state.observe(ok) {
			be.up.Store(state.up)
			b.picker.changed.Store(true)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// probe makes one health check of be: GET its health URL, success on 2xx
// or 3xx within the timeout.
func (b *Balancer) probe(ctx context.Context, be *backend) bool {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.HealthCheck.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, be.healthURL, nil)
	if err != nil {
		return false // cannot happen: the URL was checked by Validate
	}
	resp, err := b.checkClient.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, healthBodyLimit))
	_ = resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 400
}
