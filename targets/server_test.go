package targets

import (
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// get fetches url and returns the status and body.
func get(t *testing.T, client *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

func TestStartClose(t *testing.T) {
	s, err := Start("echo", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") || s.URL != "http://"+s.Addr {
		t.Errorf("URL = %q, Addr = %q; want http://127.0.0.1:PORT and URL = http:// + Addr", s.URL, s.Addr)
	}
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	if code, body := get(t, client, s.URL+"/health"); code != 200 || body != "ok" {
		t.Errorf("GET /health = %d %q; want 200 \"ok\"", code, body)
	}
	if code, body := get(t, client, s.URL+"/items/1"); code != 200 || len(body) != 64 {
		t.Errorf("GET /items/1 = %d with %d bytes; want 200 with 64", code, len(body))
	}

	if err := s.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
	select {
	case <-s.Done():
	default:
		t.Error("Done() not closed after Close")
	}
	if _, err := client.Get(s.URL + "/health"); err == nil {
		t.Error("GET after Close succeeded")
	}
}

// TestCloseWaitsForInFlight checks that Close lets a request that is being
// served finish, and only returns after it has.
func TestCloseWaitsForInFlight(t *testing.T) {
	echo, err := NewEcho(EchoConfig{Delay: 200 * time.Millisecond, BodyBytes: 64})
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	var finished atomic.Bool
	s, err := NewServer("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		echo.ServeHTTP(w, r)
		finished.Store(true)
	}))
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		code int
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get(s.URL + "/slow")
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		res <- result{resp.StatusCode, string(b), err}
	}()
	<-started
	if err := s.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if !finished.Load() {
		t.Error("Close returned before the in-flight request finished")
	}
	r := <-res
	if r.err != nil || r.code != 200 || len(r.body) != 64 {
		t.Errorf("in-flight request = %d with %d bytes, %v; want 200 with 64 bytes", r.code, len(r.body), r.err)
	}
}

// TestCloseCutsStragglers checks that Close does not wait forever for a
// request that will not finish: after the shutdown timeout it closes the
// connection and says so.
func TestCloseCutsStragglers(t *testing.T) {
	echo, err := NewEcho(EchoConfig{Delay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	s, err := NewServer("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		echo.ServeHTTP(w, r)
	}))
	if err != nil {
		t.Fatal(err)
	}
	s.shutdownTimeout = 50 * time.Millisecond // the default would make this test take 5 s
	clientErr := make(chan error, 1)
	go func() {
		resp, err := http.Get(s.URL + "/hang")
		if err == nil {
			resp.Body.Close()
		}
		clientErr <- err
	}()
	<-started
	err = s.Close()
	if err == nil || !strings.Contains(err.Error(), "close target: requests still in flight after 50ms were cut") {
		t.Errorf("Close() = %v; want the cut-requests error", err)
	}
	if again := s.Close(); again != err {
		t.Errorf("second Close() = %v; want the first result %v", again, err)
	}
	if err := <-clientErr; err == nil {
		t.Error("the cut request succeeded")
	}
}

func TestNewServerListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, addr := range []string{ln.Addr().String(), "not an address"} {
		s, err := NewServer(addr, http.NotFoundHandler())
		if err == nil {
			s.Close()
			t.Errorf("NewServer(%q) succeeded; want a listen error", addr)
			continue
		}
		if !strings.HasPrefix(err.Error(), "start target: listen tcp") {
			t.Errorf("NewServer(%q) = %v; want a wrapped listen error", addr, err)
		}
	}
}

func TestRegistry(t *testing.T) {
	want := []string{"autoscale", "cache", "cdn", "echo", "lb", "multi-region", "queue", "replicas", "sharding", "single-box", "split"}
	if got := Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %v; want %v", got, want)
	}
	names := Names()
	names[0] = "changed"
	if Names()[0] != want[0] {
		t.Error("Names() returned the registry's own slice")
	}
	if !slices.IsSortedFunc(topologies, func(a, b topology) int { return strings.Compare(a.name, b.name) }) {
		t.Error("topologies table is not sorted by name")
	}
	for _, name := range Names() {
		d, ok := Describe(name)
		if !ok || d == "" || strings.Contains(d, "\n") {
			t.Errorf("Describe(%q) = %q, %v; want one line", name, d, ok)
		}
	}
	if d, ok := Describe("nope"); ok || d != "" {
		t.Errorf("Describe(nope) = %q, %v; want \"\", false", d, ok)
	}
}

func TestStartUnknown(t *testing.T) {
	s, err := Start("nope", "127.0.0.1:0")
	if !errors.Is(err, ErrUnknownTopology) || err.Error() != `unknown topology "nope" (known: autoscale, cache, cdn, echo, lb, multi-region, queue, replicas, sharding, single-box, split)` {
		t.Errorf("Start(nope) = %v, %v; want %q matching ErrUnknownTopology", s, err, `unknown topology "nope" (known: autoscale, cache, cdn, echo, lb, multi-region, queue, replicas, sharding, single-box, split)`)
	}
}

func TestStartEcho(t *testing.T) {
	s, err := StartEcho("127.0.0.1:0", EchoConfig{Status: 503, BodyBytes: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if code, body := get(t, http.DefaultClient, s.URL+"/"); code != 503 || body != "01234" {
		t.Errorf("GET / = %d %q; want 503 \"01234\"", code, body)
	}
	if _, err := StartEcho("127.0.0.1:0", EchoConfig{Status: 1}); err == nil || !strings.HasPrefix(err.Error(), "echo: status") {
		t.Errorf("StartEcho(bad config) = %v; want the config error", err)
	}
}
