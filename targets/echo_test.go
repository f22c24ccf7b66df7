package targets

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestEchoHandler(t *testing.T) {
	tests := []struct {
		name       string
		cfg        EchoConfig
		method     string
		path       string
		body       string
		wantStatus int
		wantBytes  int
		wantType   string
	}{
		{"default", DefaultEchoConfig(), "GET", "/", "", 200, 64, "application/octet-stream"},
		{"any path", DefaultEchoConfig(), "GET", "/items/1?x=2", "", 200, 64, "application/octet-stream"},
		{"post with a body", DefaultEchoConfig(), "POST", "/items", `{"n":1}`, 200, 64, "application/octet-stream"},
		{"health", EchoConfig{Status: 503, BodyBytes: 10}, "GET", "/health", "", 200, 2, "text/plain; charset=utf-8"},
		{"post to health is not health", EchoConfig{Status: 503, BodyBytes: 10}, "POST", "/health", "", 503, 10, "application/octet-stream"},
		{"metrics", EchoConfig{Status: 503, BodyBytes: 10}, "GET", "/metrics", "", 200, len(metricsBody), "text/plain; version=0.0.4; charset=utf-8"},
		{"post to metrics is not metrics", EchoConfig{Status: 503, BodyBytes: 10}, "POST", "/metrics", "", 503, 10, "application/octet-stream"},
		{"zero status means 200", EchoConfig{BodyBytes: 3}, "GET", "/", "", 200, 3, "application/octet-stream"},
		{"status and size", EchoConfig{Status: 500, BodyBytes: 1000}, "PUT", "/x", "", 500, 1000, "application/octet-stream"},
		{"empty body", EchoConfig{Status: 201}, "GET", "/", "", 201, 0, "application/octet-stream"},
		{"no content", EchoConfig{Status: 204}, "DELETE", "/x", "", 204, 0, ""},
		{"largest body", EchoConfig{BodyBytes: MaxEchoBodyBytes}, "GET", "/", "", 200, MaxEchoBodyBytes, "application/octet-stream"},
		{"request body at the limit", DefaultEchoConfig(), "POST", "/", strings.Repeat("x", MaxRequestBodyBytes), 200, 64, "application/octet-stream"},
		{"request body over the limit", DefaultEchoConfig(), "POST", "/", strings.Repeat("x", MaxRequestBodyBytes+1), 413, -1, "text/plain; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := NewEcho(tt.cfg)
			if err != nil {
				t.Fatalf("NewEcho(%+v): %v", tt.cfg, err)
			}
			var body io.Reader = http.NoBody
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req := httptest.NewRequest(tt.method, tt.path, body)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Errorf("%s %s: status %d; want %d", tt.method, tt.path, rec.Code, tt.wantStatus)
			}
			if tt.wantBytes >= 0 && rec.Body.Len() != tt.wantBytes {
				t.Errorf("%s %s: %d body bytes; want %d", tt.method, tt.path, rec.Body.Len(), tt.wantBytes)
			}
			if got := rec.Header().Get("Content-Type"); got != tt.wantType {
				t.Errorf("%s %s: Content-Type %q; want %q", tt.method, tt.path, got, tt.wantType)
			}
			if tt.wantBytes >= 0 && tt.wantType != "" {
				if got, want := rec.Header().Get("Content-Length"), strconv.Itoa(tt.wantBytes); got != want {
					t.Errorf("%s %s: Content-Length %q; want %q", tt.method, tt.path, got, want)
				}
			}
		})
	}
}

func TestEchoBodyPattern(t *testing.T) {
	h, err := NewEcho(EchoConfig{BodyBytes: 100})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte(strings.Repeat(echoPattern, 3)[:100])
	for range 2 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if !bytes.Equal(rec.Body.Bytes(), want) {
			t.Errorf("body = %q; want %q", rec.Body.Bytes(), want)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil))
	if rec.Body.String() != "ok" {
		t.Errorf("GET /health body = %q; want %q", rec.Body.String(), "ok")
	}
}

func TestNewEchoErrors(t *testing.T) {
	tests := []struct {
		cfg  EchoConfig
		want string
	}{
		{EchoConfig{Delay: -time.Second}, "echo: delay must not be negative (got -1s)"},
		{EchoConfig{Status: 100}, "echo: status must be from 200 to 599 (got 100)"},
		{EchoConfig{Status: 600}, "echo: status must be from 200 to 599 (got 600)"},
		{EchoConfig{BodyBytes: -1}, "echo: body bytes must be from 0 to 16777216 (got -1)"},
		{EchoConfig{BodyBytes: MaxEchoBodyBytes + 1}, "echo: body bytes must be from 0 to 16777216 (got 16777217)"},
		{EchoConfig{Status: 204, BodyBytes: 1}, "echo: status 204 allows no body; set body bytes to 0 (got 1)"},
		{EchoConfig{Status: 304, BodyBytes: 64}, "echo: status 304 allows no body; set body bytes to 0 (got 64)"},
		{EchoConfig{Delay: -1, Status: 1}, "echo: delay must not be negative (got -1ns)\nstatus must be from 200 to 599 (got 1)"},
	}
	for _, tt := range tests {
		h, err := NewEcho(tt.cfg)
		if err == nil || err.Error() != tt.want {
			t.Errorf("NewEcho(%+v) = %v, %v; want error %q", tt.cfg, h, err, tt.want)
		}
	}
}

func TestEchoDelay(t *testing.T) {
	const delay = 50 * time.Millisecond
	h, err := NewEcho(EchoConfig{Delay: delay, BodyBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/", "/items/1"} {
		start := time.Now()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		// Only a lower bound: a loaded machine may take any time longer.
		if elapsed := time.Since(start); elapsed < delay {
			t.Errorf("GET %s took %v; want at least the delay %v", path, elapsed, delay)
		}
		if rec.Code != 200 || rec.Body.Len() != 1 {
			t.Errorf("GET %s = %d with %d bytes; want 200 with 1", path, rec.Code, rec.Body.Len())
		}
	}
}

// TestEchoHealthIsNotDelayed checks that /health answers even when every
// other request waits an hour: probes must not queue behind the load.
func TestEchoHealthIsNotDelayed(t *testing.T) {
	h, err := NewEcho(EchoConfig{Delay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan int)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil))
		done <- rec.Code
	}()
	select {
	case code := <-done:
		if code != 200 {
			t.Errorf("GET /health = %d; want 200", code)
		}
	case <-time.After(time.Minute): // a hang, not a timing assertion
		t.Fatal("GET /health waited for the delay")
	}
}

func TestEchoCancel(t *testing.T) {
	h, err := NewEcho(EchoConfig{Delay: time.Hour, BodyBytes: 64})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, "GET", "/", nil))
	}()
	cancel()
	select {
	case <-done:
	case <-time.After(time.Minute): // a hang, not a timing assertion
		t.Fatal("handler still waiting an hour after its request was cancelled")
	}
	if rec.Body.Len() != 0 || rec.Header().Get("Content-Length") != "" {
		t.Errorf("cancelled request got a response: %d bytes, headers %v", rec.Body.Len(), rec.Header())
	}
}
