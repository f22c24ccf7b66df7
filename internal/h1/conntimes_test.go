package h1

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// checkTimes checks the instants and connection times of the n-th (from
// 0) request on one connection to a target: only the first has the
// connection's times, with a lookup exactly when looked, a handshake
// exactly when tls; every request was written before its first byte.
func checkTimes(t *testing.T, what string, n int, res Result, looked, tls bool) {
	t.Helper()
	if res.ConnAt.IsZero() || res.WroteAt.IsZero() || res.FirstByte.IsZero() {
		t.Fatalf("%s #%d: instants on wire %v, wrote %v, first byte %v; want all set", what, n, res.ConnAt, res.WroteAt, res.FirstByte)
	}
	if res.WroteAt.Before(res.ConnAt) || res.FirstByte.Before(res.WroteAt) {
		t.Errorf("%s #%d: on wire %v, wrote %v, first byte %v: out of order", what, n, res.ConnAt, res.WroteAt, res.FirstByte)
	}
	ct := res.Conn
	if n > 0 {
		if ct != (ConnTimes{}) {
			t.Errorf("%s #%d (reused connection): Conn = %+v; want none", what, n, ct)
		}
		return
	}
	if !ct.Dialed || ct.Connect <= 0 {
		t.Errorf("%s #0: Conn = %+v; want Dialed with a connect time", what, ct)
	}
	if ct.Looked != looked || (looked && ct.DNS <= 0) || (!looked && ct.DNS != 0) {
		t.Errorf("%s #0: Conn = %+v; want a lookup: %v", what, ct, looked)
	}
	if ct.Handshook != tls || (tls && ct.TLS <= 0) || (!tls && ct.TLS != 0) {
		t.Errorf("%s #0: Conn = %+v; want a handshake: %v", what, ct, tls)
	}
}

func TestConnTimesDo(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) }))
	defer plain.Close()
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) }))
	defer secure.Close()
	pu, _ := url.Parse(plain.URL)
	su, _ := url.Parse(secure.URL)
	_, port, _ := net.SplitHostPort(pu.Host)
	tests := []struct {
		name        string
		srv         *httptest.Server
		t           Target
		looked, tls bool
	}{
		{"ip literal", plain, Target{Addr: pu.Host}, false, false},
		{"localhost", plain, Target{Addr: net.JoinHostPort("localhost", port)}, true, false},
		{"tls", secure, Target{Addr: su.Host, TLS: true, ServerName: "example.com"}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Config{TLS: tt.srv.Client().Transport.(*http.Transport).TLSClientConfig})
			defer c.Close()
			for n := range 3 {
				res, err := c.Do(tt.t, &Request{URI: "/"}, deadline(10*time.Second))
				if err != nil {
					t.Fatalf("Do #%d: %v", n, err)
				}
				checkTimes(t, tt.name, n, res, tt.looked, tt.tls)
			}
			if s := c.Stats(); s.Dials != 1 {
				t.Errorf("%d dials; want 1", s.Dials)
			}
		})
	}
}

func TestDialTimedUnknownHost(t *testing.T) {
	var ct ConnTimes
	d := net.Dialer{Deadline: time.Now().Add(10 * time.Second)}
	_, err := dialTimed(t.Context(), &d, "no-such-host.invalid:80", &ct)
	var dns *net.DNSError
	if err == nil || !errors.As(err, &dns) {
		t.Fatalf("dialTimed(unknown host) error = %v; want a *net.DNSError", err)
	}
	if !ct.Looked || ct.Connect != 0 {
		t.Errorf("ConnTimes = %+v; want a lookup and no connect", ct)
	}
}
