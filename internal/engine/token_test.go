package engine

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/h1"
)

// TestTokensAsNetHTTP: the engine accepts a method or header name exactly
// when net/http sends it, and so does Surge's own client (internal/h1):
// all three use the RFC 9110 token check of golang.org/x/net/http/httpguts,
// so a name the scenario validator lets through never fails only at
// request time in one of the two clients.
func TestTokensAsNetHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	native := h1.New(h1.Config{MaxConnsPerHost: 1})
	defer native.Close()
	target := h1.Target{Addr: srv.Listener.Addr().String()}

	// send reports whether each client sends the request, with a header
	// of each name, and whether the engine compiles a job of it.
	send := func(method string, names ...string) (netHTTP, surge, engine bool) {
		header := http.Header{}
		var fields []h1.Header
		for _, n := range names {
			header[n] = []string{"v"} // as written: no canonicalisation
			fields = append(fields, h1.Header{Name: n, Value: "v"})
		}
		req, err := http.NewRequest(method, srv.URL+"/", nil)
		if err == nil {
			req.Header = header
			var res *http.Response
			if res, err = srv.Client().Do(req); err == nil {
				res.Body.Close()
			}
		}
		netHTTP = err == nil

		r := &h1.Request{Method: method, URI: "/", Host: "x.test", Header: fields}
		_, err = native.Do(target, r, h1.Options{Deadline: time.Now().Add(5 * time.Second), MaxBody: 1 << 10})
		surge = err == nil

		j := newJob(t, srv.URL, job{rate: 1, d: time.Second,
			requests: []Request{{Name: "r", Method: method, Path: "/", Header: header}}})
		_, err = j.compile()
		engine = err == nil
		return netHTTP, surge, engine
	}

	for _, tt := range []struct {
		method string
		want   bool
	}{
		{"GET", true}, {"get", true}, {"PURGE", true}, {"M-SEARCH", true}, {"!#$%&'*+-.^_`|~", true},
		{"GE T", false}, {"GÉT", false}, {"G(ET)", false}, {"GET/", false}, {"G\tT", false},
		{"G:T", false}, {"G\"T", false}, {"G,T", false}, {"GET\r\n", false}, {"G\x00T", false},
	} {
		netHTTP, surge, engine := send(tt.method)
		if netHTTP != tt.want || surge != tt.want || engine != tt.want {
			t.Errorf("method %q: net/http sends %v, h1 sends %v, engine compiles %v; want all %v", tt.method, netHTTP, surge, engine, tt.want)
		}
	}
	for _, tt := range []struct {
		name string
		want bool
	}{
		{"X-Test", true}, {"x_under", true}, {"X.Dot", true}, {"123", true}, {"!#$%&'*+-.^_`|~", true},
		{"", false}, {"X Test", false}, {" X", false}, {"X ", false}, {"X:Test", false}, {"X(A)", false},
		{"X\"A", false}, {"X/A", false}, {"X@A", false}, {"X{A}", false}, {"X;A", false}, {"X,A", false},
		{"X=A", false}, {"X?A", false}, {"X[A]", false}, {"X\\A", false}, {"X\tA", false},
		{"X\x7f", false}, {"X\x00", false}, {"X\r\nY", false}, {"Ünicode", false}, {"X-\xff", false},
	} {
		netHTTP, surge, engine := send("GET", tt.name)
		if netHTTP != tt.want || surge != tt.want || engine != tt.want {
			t.Errorf("header name %q: net/http sends %v, h1 sends %v, engine compiles %v; want all %v", tt.name, netHTTP, surge, engine, tt.want)
		}
	}
}
