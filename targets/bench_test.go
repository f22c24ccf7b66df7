package targets

import (
	"io"
	"net/http"
	"testing"
)

// discardWriter is the cheapest http.ResponseWriter, so the handler
// benchmark measures the handler alone.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

// BenchmarkEcho measures the echo target: the handler alone, and whole
// requests over loopback with keep-alive from parallel clients.
func BenchmarkEcho(b *testing.B) {
	b.Run("handler", func(b *testing.B) {
		h, err := NewEcho(DefaultEchoConfig())
		if err != nil {
			b.Fatal(err)
		}
		req, err := http.NewRequest("GET", "http://target/items/1", nil)
		if err != nil {
			b.Fatal(err)
		}
		w := &discardWriter{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			h.ServeHTTP(w, req)
		}
		if w.status != 200 {
			b.Fatalf("status %d", w.status)
		}
	})
	b.Run("loopback", func(b *testing.B) {
		s, err := Start("echo", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
		defer client.CloseIdleConnections()
		url := s.URL + "/items/1"
		b.ReportAllocs() // client and server: both run in this process
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				resp, err := client.Get(url)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
}
