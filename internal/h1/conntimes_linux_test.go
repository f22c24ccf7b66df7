//go:build linux

package h1

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

func TestConnTimesLoop(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	_, port, _ := net.SplitHostPort(u.Host)
	for _, tt := range []struct {
		name   string
		t      Target
		looked bool
	}{
		{"ip literal", Target{Addr: u.Host}, false},
		{"localhost", Target{Addr: net.JoinHostPort("localhost", port)}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := newLoopDriver(t, Config{}, LoopConfig{})
			for n := range 3 {
				res, err := d.do(tt.t, &Request{URI: "/"}, deadline(10*time.Second))
				if err != nil {
					t.Fatalf("request #%d: %v", n, err)
				}
				checkTimes(t, tt.name, n, res, tt.looked, false)
			}
			if s := d.c.Stats(); s.Dials != 1 {
				t.Errorf("%d dials; want 1", s.Dials)
			}
		})
	}
}
