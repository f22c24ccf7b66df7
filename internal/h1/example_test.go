package h1_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/surgeload/surge/internal/h1"
)

func ExampleClient_Do() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			w.Header().Set("Location", "/new")
			w.WriteHeader(http.StatusFound)
			return
		}
		io.WriteString(w, "hello, "+r.Host)
	}))
	defer srv.Close()

	c := h1.New(h1.Config{MaxConnsPerHost: 8})
	defer c.Close()
	target := h1.Target{Addr: srv.Listener.Addr().String()}
	for _, uri := range []string{"/", "/old"} {
		res, err := c.Do(target, &h1.Request{Method: "GET", URI: uri, Host: "example.test"}, h1.Options{
			Deadline:     time.Now().Add(5 * time.Second),
			MaxBody:      1 << 20,
			WantLocation: true,
		})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: %d, %d body bytes, new connection %v, location %q\n", uri, res.Status, res.BodyBytes, res.NewConn, res.Location)
	}
	s := c.Stats()
	fmt.Printf("dials %d, reuses %d\n", s.Dials, s.Reuses)
	// Output:
	// /: 200, 19 body bytes, new connection true, location ""
	// /old: 302, 0 body bytes, new connection false, location "/new"
	// dials 1, reuses 1
}
