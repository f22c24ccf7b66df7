package targets_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/surgeload/surge/targets"
)

func decode(t *testing.T, name, doc string) any {
	t.Helper()
	cfg, err := targets.DecodeConfig(name, strings.NewReader(doc))
	if err != nil {
		t.Fatalf("DecodeConfig(%s, %s): %v", name, doc, err)
	}
	return cfg
}

func TestEdgeOptionsDecode(t *testing.T) {
	// Every topology with an app and a db takes both options.
	for _, name := range targets.Names() {
		if name == "echo" {
			continue
		}
		cfg := decode(t, name, `{"gateway": {"limiter": "token_bucket", "rate": 200, "burst": 50, "key": "header:X-Client-Id"},
			"breaker": {"failures": 5, "open_for": "2s", "half_open_probes": 1}}`)
		srv, err := targets.StartTopology(name, "127.0.0.1:0", cfg)
		if err != nil {
			t.Fatalf("StartTopology(%s) with a gateway and a breaker: %v", name, err)
		}
		c := newClient(t)
		_, page := c.want("GET", srv.URL+"/metrics", "", http.StatusOK)
		if v := metricValue(t, page, `surge_target_utilisation{component="gateway"}`); v != 0 {
			t.Errorf("%s: gateway utilisation %g before any request; want 0", name, v)
		}
		if !strings.Contains(page, `surge_target_breaker_state{component="breaker-`) {
			t.Errorf("%s: /metrics has no breaker state; want one per db node", name)
		}
		resp, _ := c.want("GET", srv.URL+"/items/1", "", http.StatusOK)
		if got := resp.Header.Get("RateLimit-Limit"); got != "50" {
			t.Errorf("%s: RateLimit-Limit %q; want 50", name, got)
		}
		if err := srv.Close(); err != nil {
			t.Errorf("%s: Close: %v", name, err)
		}
	}

	tests := []struct {
		doc  string
		want []string // substrings of the error
	}{
		{`{"gateway": {"limiter": "leaky_bucket", "rate": 10}}`, []string{`gateway: limiter: must be token_bucket or sliding_window (got "leaky_bucket")`}},
		{`{"gateway": {"rate": 0}}`, []string{"gateway: rate must be above 0"}},
		{`{"gateway": {"rate": 10, "window": "1s"}}`, []string{"gateway: window: applies to the sliding_window limiter only"}},
		{`{"gateway": {"limiter": "sliding_window", "rate": 10, "burst": 5}}`, []string{"gateway: burst: applies to the token_bucket limiter only"}},
		{`{"gateway": {"limiter": "sliding_window", "rate": 2.5, "window": "1s"}}`, []string{"gateway: rate × window must be a whole number of requests from 1 to 1048576 (got 2.5/s × 1s = 2.5)"}},
		{`{"gateway": {"limiter": "sliding_window", "rate": 10, "window": "2h"}}`, []string{"gateway: window must be from 1ms to 1h0m0s"}},
		{`{"gateway": {"rate": 10, "key": "cookie:id"}}`, []string{"gateway.key: ", "want global, ip or header:NAME"}},
		{`{"breaker": {"failures": 0}}`, []string{"breaker: consecutive failures and failure ratio are both 0 (off)"}},
		{`{"breaker": {"failure_ratio": 1.5, "open_for": "-1s", "timeout": "-1s"}}`, []string{"breaker: failure ratio must be from 0 (off) to 1 (got 1.5)",
			"breaker: cool-down must be above 0", "breaker: timeout must be from 0s (off) to 1h0m0s (got -1s)"}},
		{`{"breaker": {"open_for": "soon"}}`, []string{"breaker.open_for: ", `duration "soon"`}},
	}
	for _, tt := range tests {
		_, err := targets.DecodeConfig("split", strings.NewReader(tt.doc))
		if err == nil || !errors.Is(err, targets.ErrInvalidConfig) {
			t.Errorf("DecodeConfig(split, %s) = %v; want an ErrInvalidConfig", tt.doc, err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("DecodeConfig(split, %s) = %q; want it to contain %q", tt.doc, err, w)
			}
		}
	}
	// A config built in Go is checked by StartTopology as well.
	cfg := targets.DefaultSplitConfig()
	cfg.Gateway = &targets.GatewayConfig{Limiter: "fixed_window", Rate: 1}
	if _, err := targets.StartTopology("split", "127.0.0.1:0", cfg); !errors.Is(err, targets.ErrInvalidConfig) || !strings.Contains(err.Error(), "gateway: limiter") {
		t.Errorf("StartTopology(split) with limiter fixed_window: err = %v; want an ErrInvalidConfig naming gateway: limiter", err)
	}
}

// TestGatewayLimits runs both limiters in front of the split topology over
// loopback HTTP, each so slow to refill (a token or a place per 20
// minutes) that a loaded machine cannot earn one during the test: each
// client gets exactly 3 requests through, the fourth is answered 429 with
// the limit headers, other clients keep their own quota, /health and
// /metrics are never limited, and /metrics counts the refusals.
func TestGatewayLimits(t *testing.T) {
	for _, tt := range []struct {
		name, gateway   string
		reset, retryLow int // RateLimit-Reset of the 3rd answer; least Retry-After of the 4th
		retryHigh       int
	}{
		// 3 tokens at 1/1200 s: full again 3600 s after the third; a
		// token 1200 s after (less the few ms the requests took).
		{"token bucket", `{"limiter": "token_bucket", "rate": 0.0008333333333333334, "burst": 3, "key": "header:X-Client-Id"}`, 3600, 1190, 1200},
		// 3 per hour: a place frees when the first request is an hour old.
		{"sliding window", `{"limiter": "sliding_window", "rate": 0.0008333333333333334, "window": "1h", "key": "header:X-Client-Id"}`, 3600, 3500, 3600},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := decode(t, "split", `{"gateway": `+tt.gateway+`}`)
			srv, err := targets.StartTopology("split", "127.0.0.1:0", cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			c := newClient(t)
			for i := 1; i <= 3; i++ {
				resp, _ := c.want("GET", srv.URL+"/items/"+strconv.Itoa(i), "", http.StatusOK, "X-Client-Id", "alice")
				if got, want := resp.Header.Get("RateLimit-Remaining"), strconv.Itoa(3-i); got != want {
					t.Errorf("request %d: RateLimit-Remaining %q; want %s", i, got, want)
				}
				if got := resp.Header.Get("RateLimit-Limit"); got != "3" {
					t.Errorf("request %d: RateLimit-Limit %q; want 3", i, got)
				}
				if i == 3 {
					if got, err := strconv.Atoi(resp.Header.Get("RateLimit-Reset")); err != nil || got < tt.reset-10 || got > tt.reset {
						t.Errorf("request 3: RateLimit-Reset %q; want about %d", resp.Header.Get("RateLimit-Reset"), tt.reset)
					}
				}
			}
			for i := range 4 {
				resp, body := c.want("GET", srv.URL+"/items/9", "", http.StatusTooManyRequests, "X-Client-Id", "alice")
				ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
				if err != nil || ra < tt.retryLow || ra > tt.retryHigh {
					t.Errorf("429 #%d: Retry-After %q; want from %d to %d s", i, resp.Header.Get("Retry-After"), tt.retryLow, tt.retryHigh)
				}
				if resp.Header.Get("RateLimit-Remaining") != "0" || !strings.Contains(body, "rate limit exceeded") {
					t.Errorf("429 #%d: RateLimit-Remaining %q, body %q; want 0, rate limit exceeded", i, resp.Header.Get("RateLimit-Remaining"), body)
				}
			}
			c.want("POST", srv.URL+"/items", "", http.StatusCreated, "X-Client-Id", "bob") // a quota of its own
			for range 5 {
				c.want("GET", srv.URL+"/health", "", http.StatusOK, "X-Client-Id", "alice")
			}
			_, page := c.want("GET", srv.URL+"/metrics", "", http.StatusOK, "X-Client-Id", "alice")
			if got := metricValue(t, page, `surge_target_rejected_total{component="gateway",reason="rate_limited"}`); got != 4 {
				t.Errorf("gateway rejected_total %g; want the 4 answered 429", got)
			}
			if got := metricValue(t, page, `surge_target_requests_total{component="gateway"}`); got != 4 {
				t.Errorf("gateway requests_total %g; want 4 (3 of alice, 1 of bob)", got)
			}
			if got := metricValue(t, page, `surge_target_utilisation{component="gateway"}`); got < 0.99 {
				t.Errorf("gateway utilisation %g; want 1 (alice's quota is used up)", got)
			}
		})
	}
}

// TestBreakerOpensOnSlowDB makes the split topology's db slower (1 s a
// read) than its breaker's timeout (20 ms): every call fails, so after 3
// failures the breaker opens and the app answers 503 with
// X-Surge-Breaker: open without calling the db; after open_for it lets a
// probe through, which fails and opens it again. Its state gauge and
// transitions on /metrics follow.
func TestBreakerOpensOnSlowDB(t *testing.T) {
	const openFor = 3 * time.Second // long beside a loopback request on a loaded machine
	cfg := decode(t, "split", `{"db": {"pool": 4, "queue_limit": 16, "read": "1s", "write": "1s"},
		"breaker": {"failures": 3, "open_for": "3s", "half_open_probes": 1, "timeout": "20ms"}}`)
	srv, err := targets.StartTopology("split", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := newClient(t)
	metrics := func() string { _, page := c.want("GET", srv.URL+"/metrics", "", http.StatusOK); return page }
	const (
		state    = `surge_target_breaker_state{component="breaker-db"}`
		admitted = `surge_target_requests_total{component="breaker-db"}`
		refused  = `surge_target_rejected_total{component="breaker-db",reason="breaker_open"}`
	)
	transitions := func(page, to string) float64 {
		return metricValue(t, page, `surge_target_breaker_transitions_total{component="breaker-db",to="`+to+`"}`)
	}
	if got := metricValue(t, metrics(), state); got != 0 {
		t.Fatalf("breaker state %g before any request; want 0 (closed)", got)
	}
	for i := range 3 {
		resp, body := c.want("GET", srv.URL+"/items/"+strconv.Itoa(i), "", http.StatusServiceUnavailable)
		if h := resp.Header.Get("X-Surge-Breaker"); h != "" {
			t.Fatalf("failure %d: X-Surge-Breaker %q; want none (the db was called: %s)", i, h, body)
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	opened := 0
	for range 10 {
		wg.Go(func() {
			resp, body := c.do("GET", srv.URL+"/items/7", "")
			mu.Lock()
			defer mu.Unlock()
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("X-Surge-Breaker") != "open" || resp.Header.Get("Retry-After") == "" {
				t.Errorf("open: status %d, X-Surge-Breaker %q, Retry-After %q, body %q; want 503, open, a delay",
					resp.StatusCode, resp.Header.Get("X-Surge-Breaker"), resp.Header.Get("Retry-After"), body)
				return
			}
			if !strings.Contains(body, "circuit breaker open") {
				t.Errorf("open: body %q; want it to say circuit breaker open", body)
			}
			opened++
		})
	}
	wg.Wait()
	page := metrics()
	if got := metricValue(t, page, state); got != 1 {
		t.Errorf("breaker state %g after 3 failures; want 1 (open)", got)
	}
	if got := metricValue(t, page, admitted); got != 3 {
		t.Errorf("calls the breaker let through to the db: %g; want only the 3 before it opened", got)
	}
	if got := metricValue(t, page, refused); got != float64(opened) {
		t.Errorf("breaker rejected_total %g; want the %d answered with X-Surge-Breaker: open", got, opened)
	}
	if got := transitions(page, "open"); got != 1 {
		t.Errorf("transitions to open %g; want 1", got)
	}

	time.Sleep(openFor + 100*time.Millisecond)
	if got := metricValue(t, metrics(), state); got != 2 {
		t.Fatalf("breaker state %g after open_for; want 2 (half-open)", got)
	}
	resp, _ := c.want("GET", srv.URL+"/items/8", "", http.StatusServiceUnavailable)
	if h := resp.Header.Get("X-Surge-Breaker"); h != "" {
		t.Errorf("probe: X-Surge-Breaker %q; want none (the probe reached the db and timed out)", h)
	}
	page = metrics()
	if got := metricValue(t, page, state); got != 1 {
		t.Errorf("breaker state %g after a failed probe; want 1 (open again)", got)
	}
	if got, h := transitions(page, "open"), transitions(page, "half-open"); got != 2 || h != 1 {
		t.Errorf("transitions to open %g, to half-open %g; want 2 and 1", got, h)
	}
	if got := metricValue(t, page, admitted); got != 4 {
		t.Errorf("calls let through %g; want 4 (the probe too)", got)
	}
}
