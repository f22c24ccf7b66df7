package memnet

import (
	"context"
	"errors"
	"io"
	"net/http"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// TestHTTPInBubble serves HTTP over memnet inside a bubble: a handler that
// sleeps 3 s answers after exactly 3 s of fake time, and a closed server
// refuses connections.
func TestHTTPInBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New()
		srv, err := n.NewServer("backend", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(3 * time.Second)
			_, _ = io.WriteString(w, r.RemoteAddr)
		}))
		if err != nil {
			t.Fatal(err)
		}
		if srv.URL != "http://backend:80" {
			t.Errorf("URL = %q; want http://backend:80", srv.URL)
		}
		if _, err := n.Listen("backend"); !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("second Listen(backend) = %v; want EADDRINUSE", err)
		}
		tr := n.Transport()
		client := &http.Client{Transport: tr}
		start := time.Now()
		resp, err := client.Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if took := time.Since(start); took != 3*time.Second || string(body) != "client-1:80" {
			t.Errorf("GET took %v and answered %q; want exactly 3s and client-1:80", took, body)
		}
		tr.CloseIdleConnections()
		srv.Close()
		if _, err := n.DialContext(context.Background(), "tcp", "backend:80"); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("dial after Close = %v; want ECONNREFUSED", err)
		}
		if _, err := n.DialContext(context.Background(), "tcp", "nowhere:80"); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("dial of a host that never listened = %v; want ECONNREFUSED", err)
		}
		if _, err := n.Listen(""); err == nil {
			t.Error("Listen(\"\") succeeded; want an error")
		}
	})
}
