package lb_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/surgeload/surge/targets/lb"
)

// ExampleNewBalancer balances two loopback backends round robin.
func ExampleNewBalancer() {
	var backends []lb.Backend
	for _, name := range []string{"app1", "app2"} {
		app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, name)
		}))
		defer app.Close()
		backends = append(backends, lb.Backend{URL: app.URL, Name: name})
	}

	cfg := lb.DefaultBalancerConfig()
	cfg.Algorithm = lb.RoundRobin
	cfg.Backends = backends
	bal, err := lb.NewBalancer("lb", cfg, prometheus.NewRegistry())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer bal.Close()
	front := httptest.NewServer(bal)
	defer front.Close()

	for range 3 {
		resp, err := http.Get(front.URL + "/items/1")
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, string(body))
	}
	// Output:
	// 200 app1
	// 200 app2
	// 200 app1
}
