package surge_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/surgeload/surge"
	"github.com/surgeload/surge/internal/har"
	"github.com/surgeload/surge/reporters"
)

// TestJourneysAcrossAgents is issue 17's acceptance test: thousands of
// shop journeys (login → browse 3 items → add to cart → checkout) split
// across 2 agents against a target on loopback, which issues a
// fresh token and session cookie per login and counts every authenticated
// request whose token was not issued to the same session (the same journey
// instance: each has its own cookie jar). None may be; the counts balance
// exactly at both levels, and every step's count is the journeys' times
// its loop.
func TestJourneysAcrossAgents(t *testing.T) {
	// A target of its own rather than a bundled topology: these counts
	// must not depend on a simulated capacity on a busy machine.
	shop := newTokenShop()
	srv := httptest.NewServer(shop)
	defer srv.Close()
	const rate, secs = 100, 20
	sc, err := surge.Parse("journeys.yaml", []byte(fmt.Sprintf(`
name: journeys-e2e
seed: 7
stages: [{name: shop, url: %q}]
client: {timeout: 60s}
journeys:
  - name: shop
    steps:
      - name: login
        method: POST
        path: /login
        headers: {Content-Type: application/json}
        body: '{"user": "u{{seq}}", "password": "x"}'
        expect: [200]
        extract:
          token: {json: $.token}
        checks:
          - {name: got-token, json: $.token}
      - think: {uniform: [5ms, 30ms]}
      - name: browse
        loop: 3
        path: /items/{{int 1 500}}
        headers: {Authorization: "Bearer {{var token}}"}
      - think: 10ms
      - name: cart
        method: POST
        path: /cart
        headers: {Authorization: "Bearer {{var token}}", Content-Type: application/json}
        body: '{"item": "{{int 1 500}}", "qty": 1}'
      - name: checkout
        method: POST
        path: /checkout
        headers: {Authorization: "Bearer {{var token}}"}
        expect: [201]
load: {constant: {rate: %d, duration: %ds}}
`, srv.URL, rate, secs)), nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := surge.DefaultOptions()
	opts.GossipListen = "127.0.0.1:0"
	opts.Agents = 2
	opts.MaxSendLag = 10 * time.Second // judged here: the counts, not how busy the machine is
	rep, err := surge.Run(context.Background(), sc, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Check(); err != nil {
		t.Fatal(err)
	}
	st := rep.Stages[0]
	const n = rate * secs
	for _, rq := range st.Requests {
		t.Logf("%s %s: issued %d succeeded %d failed %d %v p99 %.1f ms", rq.Kind, rq.Name, rq.Issued, rq.Succeeded, rq.Failed, rq.Errors, rq.ResponseTimeMS.P99)
	}
	if st.Intended != n || st.Issued != n || st.Succeeded != n || st.Failed != 0 || st.Lost != 0 || st.InFlightAtEnd != 0 {
		t.Fatalf("stage: intended %d issued %d succeeded %d failed %d %v lost %d in flight %d; want %d journeys, all completed",
			st.Intended, st.Issued, st.Succeeded, st.Failed, st.Errors, st.Lost, st.InFlightAtEnd, n)
	}
	want := map[string]struct {
		kind string
		n    uint64
	}{
		"shop": {"journey", n}, "shop/login": {"step", n}, "shop/browse": {"step", 3 * n}, "shop/cart": {"step", n},
		"shop/checkout": {"step", n}, "shop/login #got-token": {"check", n},
	}
	seen := map[string]bool{}
	for _, rq := range st.Requests {
		w, ok := want[rq.Name]
		if !ok {
			t.Errorf("unexpected entry %q", rq.Name)
			continue
		}
		seen[rq.Name] = true
		if rq.Kind != w.kind || rq.Issued != w.n || rq.Succeeded != w.n || rq.Failed != 0 || rq.InFlightAtEnd != 0 {
			t.Errorf("%s: kind %q issued %d succeeded %d failed %d %v in flight %d; want %s, %d each", rq.Name, rq.Kind, rq.Issued, rq.Succeeded, rq.Failed, rq.Errors, rq.InFlightAtEnd, w.kind, w.n)
		}
		if w.kind != "check" && rq.ResponseTimeMS.P50 <= 0 {
			t.Errorf("%s: no response times", rq.Name)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("entries %v; want %d", seen, len(want))
	}
	// The journey's duration covers its think times: at least 15 ms.
	var journey reporters.Request
	for _, rq := range st.Requests {
		if rq.Name == "shop" {
			journey = rq
		}
	}
	if journey.ResponseTimeMS.P50 < 15 {
		t.Errorf("journey duration p50 %v ms: shorter than its think times", journey.ResponseTimeMS.P50)
	}
	shop.mu.Lock()
	defer shop.mu.Unlock()
	if len(shop.refused) != 0 {
		t.Errorf("target refused %v (a token not issued to the same journey, or no cookie)", shop.refused)
	}
	if shop.logins != n || shop.ok != 5*n || shop.checkouts != n {
		t.Errorf("target: %d logins, %d authenticated ok, %d checkouts; want %d, %d, %d", shop.logins, shop.ok, shop.checkouts, n, 5*n, n)
	}
}

// tokenShop issues a fresh token and session cookie per login, and counts
// every later request whose bearer token was not issued to the session its
// cookie names.
type tokenShop struct {
	mu                    sync.Mutex
	tokens                map[string]string // token → session
	logins, ok, checkouts uint64
	refused               map[string]uint64
	next                  uint64
}

func newTokenShop() *tokenShop {
	return &tokenShop{tokens: map[string]string{}, refused: map[string]uint64{}}
}

func (s *tokenShop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<16))
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.URL.Path == "/login" {
		s.next++
		s.logins++
		sid, tok := fmt.Sprintf("s%d-%d", s.next, time.Now().UnixNano()), fmt.Sprintf("t%d-%d", s.next, time.Now().UnixNano())
		s.tokens[tok] = sid
		http.SetCookie(w, &http.Cookie{Name: "session", Value: sid, Path: "/", HttpOnly: true})
		fmt.Fprintf(w, `{"token":%q}`, tok)
		return
	}
	c, err := r.Cookie("session")
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch {
	case err != nil:
		s.refused["no_cookie"]++
	case s.tokens[tok] == "":
		s.refused["unknown_token"]++
	case s.tokens[tok] != c.Value:
		s.refused["mismatch"]++
	default:
		s.ok++
		if r.URL.Path == "/checkout" {
			s.checkouts++
			w.WriteHeader(http.StatusCreated)
		}
		fmt.Fprint(w, `{"ok":true}`)
		return
	}
	http.Error(w, "unauthorized", http.StatusUnauthorized)
}

// TestShopJourneyExample plays examples/shop-journey.yaml as written (20
// journeys/s for 10 s) against its bundled topology's shop flow: every
// journey completes, every step is counted, and the thresholds pass.
func TestShopJourneyExample(t *testing.T) {
	sc, err := surge.Load("examples/shop-journey.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := surge.DefaultOptions()
	opts.GossipListen = "127.0.0.1:0"
	opts.MaxSendLag = 10 * time.Second
	rep, err := surge.Run(context.Background(), sc, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Check(); err != nil {
		t.Fatal(err)
	}
	st := rep.Stages[0]
	if st.Intended != 200 || st.Succeeded != 200 {
		for _, rq := range st.Requests {
			t.Logf("%s %s: issued %d succeeded %d failed %d %v", rq.Kind, rq.Name, rq.Issued, rq.Succeeded, rq.Failed, rq.Errors)
		}
		t.Fatalf("journeys: intended %d succeeded %d failed %d %v; want 200 completed", st.Intended, st.Succeeded, st.Failed, st.Errors)
	}
	for _, rq := range st.Requests {
		want := uint64(200)
		if rq.Name == "shop/browse-item" {
			want = 600
		}
		if rq.Issued != want || rq.Succeeded != want {
			t.Errorf("%s: issued %d succeeded %d; want %d", rq.Name, rq.Issued, rq.Succeeded, want)
		}
	}
	if rep.Verdict != "pass" {
		t.Errorf("verdict %s", rep.Verdict)
	}
}

// TestImportedHARRuns: a browser recording (internal/har's login fixture)
// imported as a journey scenario runs against a loopback app shaped like
// the recorded one: the token the login returns and the sku the item
// returns travel to the later steps of the same journey.
func TestImportedHARRuns(t *testing.T) {
	raw, err := os.ReadFile("internal/har/testdata/login.har")
	if err != nil {
		t.Fatal(err)
	}
	h, err := har.DecodeBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := har.Convert(h, har.Options{Rate: "10/s", Duration: "2s"})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	tokens := map[string]string{} // token → the sku its journey was given
	var bad []string
	app := http.NewServeMux()
	app.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "<html></html>") })
	app.HandleFunc("POST /login", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		tok := fmt.Sprintf("tok%08d", len(tokens)+1)
		tokens[tok] = ""
		fmt.Fprintf(w, `{"token":%q}`, tok)
	})
	app.HandleFunc("GET /shop/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if _, ok := tokens[tok]; !ok {
			bad = append(bad, "item with token "+tok)
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		sku := "sku-" + tok
		tokens[tok] = sku
		fmt.Fprintf(w, `{"item":{"sku":%q}}`, sku)
	})
	app.HandleFunc("POST /cart", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if sku, ok := tokens[tok]; !ok || sku == "" || !strings.Contains(string(body), sku) {
			bad = append(bad, fmt.Sprintf("cart with token %q body %s", tok, body))
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"ok":true}`)
	})
	app.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "{}") })
	srv := httptest.NewServer(app)
	defer srv.Close()
	src := strings.Replace(string(out), "url: 'https://shop.example'", fmt.Sprintf("url: %q", srv.URL), 1)
	sc, err := surge.Parse("imported.yaml", []byte(src), nil)
	if err != nil {
		t.Fatalf("the imported scenario does not validate: %v\n%s", err, src)
	}
	opts := surge.DefaultOptions()
	opts.GossipListen = "127.0.0.1:0"
	opts.MaxSendLag = 10 * time.Second
	rep, err := surge.Run(context.Background(), sc, opts)
	if err != nil {
		t.Fatal(err)
	}
	st := rep.Stages[0]
	if st.Intended != 20 || st.Succeeded != 20 {
		for _, rq := range st.Requests {
			t.Logf("%s %s: issued %d succeeded %d failed %d %v", rq.Kind, rq.Name, rq.Issued, rq.Succeeded, rq.Failed, rq.Errors)
		}
		t.Fatalf("journeys: intended %d succeeded %d failed %d %v; want 20 completed", st.Intended, st.Succeeded, st.Failed, st.Errors)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 || len(tokens) != 20 {
		t.Fatalf("%d logins; refused %q", len(tokens), bad)
	}
}
