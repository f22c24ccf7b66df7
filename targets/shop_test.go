package targets_test

import (
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/surgeload/surge/targets"
)

// shopper is one journey's credentials: a token and a session cookie.
type shopper struct {
	user, token, cookie string
}

// auth returns the headers of an authenticated request.
func (s shopper) auth() []string {
	return []string{"Authorization", "Bearer " + s.token, "Cookie", targets.SessionCookie + "=" + s.cookie}
}

// login logs user in and checks the answer: a token, the user, and a
// session cookie with its attributes.
func login(t *testing.T, c *client, url, user string) shopper {
	t.Helper()
	resp, body := c.want("POST", url+"/login", `{"user":`+strconv.Quote(user)+`,"password":"x"}`, http.StatusOK)
	var lr targets.LoginResponse
	if err := json.Unmarshal([]byte(body), &lr); err != nil || lr.Token == "" || lr.User != user {
		t.Fatalf("POST /login answered %q (%v); want a token and user %q", body, err, user)
	}
	set := resp.Header.Values("Set-Cookie")
	if len(set) != 1 {
		t.Fatalf("POST /login set %d cookies %q; want one", len(set), set)
	}
	name, rest, _ := strings.Cut(set[0], "=")
	id, attrs, _ := strings.Cut(rest, ";")
	if name != "session" || id == "" || strings.TrimSpace(attrs) != "Path=/; HttpOnly; SameSite=Lax" {
		t.Fatalf("POST /login Set-Cookie %q; want session=<id>; Path=/; HttpOnly; SameSite=Lax", set[0])
	}
	return shopper{user: user, token: lr.Token, cookie: id}
}

func getStats(t *testing.T, c *client, url string) targets.ShopStats {
	t.Helper()
	_, body := c.want("GET", url+"/shop/stats", "", http.StatusOK)
	var st targets.ShopStats
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("GET /shop/stats answered %q: %v", body, err)
	}
	return st
}

// metricValue returns the value of the series (name and labels, exactly
// as /metrics prints them) in a /metrics page.
func metricValue(t *testing.T, page, series string) float64 {
	t.Helper()
	for line := range strings.Lines(page) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("series %s: value %q: %v", series, v, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics lacks %s", series)
	return 0
}

func authSeries(outcome string) string {
	return `surge_target_auth_requests_total{component="shop",outcome="` + outcome + `"}`
}

// wantUnauthorized checks a 401: its header, its JSON error and outcome.
func wantUnauthorized(t *testing.T, c *client, method, url, body, outcome string, header ...string) {
	t.Helper()
	resp, b := c.want(method, url, body, http.StatusUnauthorized, header...)
	if got := resp.Header.Get("WWW-Authenticate"); got != "Bearer" {
		t.Errorf("%s %s (%s): WWW-Authenticate %q, want Bearer", method, url, outcome, got)
	}
	var e struct{ Error, Outcome string }
	if err := json.Unmarshal([]byte(b), &e); err != nil || e.Error == "" || e.Outcome != outcome {
		t.Errorf("%s %s: 401 body %q (%v); want a JSON error with outcome %q", method, url, b, err, outcome)
	}
}

// TestShopFlow plays the journey login → 3 item reads → cart → checkout
// against every bundled topology over loopback HTTP.
func TestShopFlow(t *testing.T) {
	for _, name := range targets.Names() {
		if name == "echo" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			srv, err := targets.Start(name, "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			c := newClient(t)
			url := srv.URL
			c.want("POST", url+"/items", `{"id":"7"}`, http.StatusCreated)

			a := login(t, c, url, "ada")
			b := login(t, c, url, "ada") // the same user twice: two sessions
			if a.token == b.token || a.cookie == b.cookie {
				t.Fatalf("two logins got token %q/%q and session %q/%q; want fresh ones", a.token, b.token, a.cookie, b.cookie)
			}
			for _, id := range []string{"7", "8", "9"} {
				resp, body := c.want("GET", url+"/shop/items/"+id, "", http.StatusOK, a.auth()...)
				var it targets.ShopItemResponse
				if err := json.Unmarshal([]byte(body), &it); err != nil {
					t.Fatalf("GET /shop/items/%s answered %q: %v", id, body, err)
				}
				wantVersion := uint64(0)
				if id == "7" {
					wantVersion = 1
				}
				if it.ID != id || it.Source == "" || it.ETag == "" || resp.Header.Get("ETag") != it.ETag {
					t.Errorf("GET /shop/items/%s answered %+v, ETag header %q; want the item, a source and its etag in both", id, it, resp.Header.Get("ETag"))
				}
				if name != "replicas" && it.Version != wantVersion { // replicas: the read may beat the replication lag
					t.Errorf("GET /shop/items/%s version %d, want %d", id, it.Version, wantVersion)
				}
			}
			_, body := c.want("POST", url+"/cart", `{"item":"7","qty":2}`, http.StatusOK, a.auth()...)
			var cart targets.CartResponse
			if err := json.Unmarshal([]byte(body), &cart); err != nil || cart.CartID == "" || cart.Items != 2 || cart.Lines != 1 {
				t.Fatalf("POST /cart answered %q (%v); want a cart id and 2 items", body, err)
			}
			_, body = c.want("POST", url+"/cart", `{"item":"9"}`, http.StatusOK, a.auth()...)
			var cart2 targets.CartResponse
			if err := json.Unmarshal([]byte(body), &cart2); err != nil || cart2.CartID != cart.CartID || cart2.Items != 3 || cart2.Lines != 2 {
				t.Fatalf("second POST /cart answered %q (%v); want cart %s with 3 items in 2 lines", body, err, cart.CartID)
			}
			c.want("POST", url+"/checkout", "", http.StatusConflict, b.auth()...) // b's cart is its own, and empty
			_, body = c.want("POST", url+"/checkout", "", http.StatusCreated, a.auth()...)
			var order targets.OrderResponse
			if err := json.Unmarshal([]byte(body), &order); err != nil || order.OrderID == "" || order.Items != 3 {
				t.Fatalf("POST /checkout answered %q (%v); want an order id and 3 items", body, err)
			}
			c.want("POST", url+"/checkout", "", http.StatusConflict, a.auth()...) // emptied
			_, body = c.want("POST", url+"/cart", `{"item":"8"}`, http.StatusOK, a.auth()...)
			if err := json.Unmarshal([]byte(body), &cart); err != nil || cart.Items != 1 {
				t.Fatalf("POST /cart after checkout answered %q (%v); want 1 item", body, err)
			}
			_, body = c.want("POST", url+"/checkout", "", http.StatusCreated, a.auth()...)
			var order2 targets.OrderResponse
			if err := json.Unmarshal([]byte(body), &order2); err != nil || order2.OrderID == order.OrderID {
				t.Errorf("second order %q; want a fresh order id (first %s)", body, order.OrderID)
			}
			wantUnauthorized(t, c, "POST", url+"/checkout", "", "missing_token")

			// 3 reads, 3 cart adds, 3 checkouts by a and 1 by b: 10 ok.
			want := targets.ShopStats{
				Logins: 2, Auth: targets.ShopAuthStats{OK: 10, MissingToken: 1}, Checkouts: 2,
				Sessions: 2, MaxSessions: targets.DefaultMaxSessions,
			}
			if got := getStats(t, c, url); got != want {
				t.Errorf("GET /shop/stats = %+v\nwant %+v", got, want)
			}
			if got := srv.Shop().Stats(); got != want {
				t.Errorf("Shop().Stats() = %+v\nwant %+v", got, want)
			}
			_, metrics := c.want("GET", url+"/metrics", "", http.StatusOK)
			for series, v := range map[string]float64{
				authSeries("ok"): 10, authSeries("missing_token"): 1, authSeries("mismatch"): 0,
				`surge_target_logins_total{component="shop"}`:    2,
				`surge_target_checkouts_total{component="shop"}`: 2,
				`surge_target_sessions{component="shop"}`:        2,
			} {
				if got := metricValue(t, metrics, series); got != v {
					t.Errorf("%s = %v, want %v", series, got, v)
				}
			}

			c.hc.Transport.(*http.Transport).CloseIdleConnections()
			if err := srv.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			waitGoroutines(t, before)
		})
	}
}

// TestShopSessionIsolation presents credentials mixed across two
// journeys and checks every outcome is refused and counted exactly.
func TestShopSessionIsolation(t *testing.T) {
	srv, err := targets.Start("cache", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := newClient(t)
	url := srv.URL + "/shop/items/1"
	a := login(t, c, srv.URL, "a")
	b := login(t, c, srv.URL, "b")

	cases := []struct {
		outcome string
		header  []string
	}{
		{"mismatch", []string{"Authorization", "Bearer " + a.token, "Cookie", "session=" + b.cookie}},
		{"mismatch", []string{"Authorization", "Bearer " + b.token, "Cookie", "session=" + a.cookie}},
		{"missing_token", []string{"Cookie", "session=" + a.cookie}},
		{"missing_token", []string{"Authorization", "Basic " + a.token, "Cookie", "session=" + a.cookie}},
		{"missing_token", []string{"Authorization", "Bearer ", "Cookie", "session=" + a.cookie}},
		{"missing_cookie", []string{"Authorization", "Bearer " + a.token}},
		{"missing_cookie", []string{"Authorization", "Bearer " + a.token, "Cookie", "other=" + a.cookie}},
		{"unknown_session", []string{"Authorization", "Bearer " + a.token, "Cookie", "session=never-issued"}},
		{"unknown_token", []string{"Authorization", "Bearer never-issued", "Cookie", "session=" + a.cookie}},
	}
	for _, tc := range cases {
		wantUnauthorized(t, c, "GET", url, "", tc.outcome, tc.header...)
	}
	wantUnauthorized(t, c, "POST", srv.URL+"/cart", `{"item":"1"}`, "mismatch", "Authorization", "Bearer "+a.token, "Cookie", "session="+b.cookie)
	wantUnauthorized(t, c, "POST", srv.URL+"/checkout", "", "mismatch", "Authorization", "Bearer "+b.token, "Cookie", "session="+a.cookie)
	c.want("GET", url, "", http.StatusOK, a.auth()...)
	c.want("GET", url, "", http.StatusOK, b.auth()...)
	// Carts are per session: a's cart is not b's.
	c.want("POST", srv.URL+"/cart", `{"item":"1"}`, http.StatusOK, a.auth()...)
	c.want("POST", srv.URL+"/checkout", "", http.StatusConflict, b.auth()...)

	want := targets.ShopAuthStats{OK: 4, Mismatch: 4, MissingToken: 3, MissingCookie: 2, UnknownSession: 1, UnknownToken: 1}
	if got := srv.Shop().Stats().Auth; got != want {
		t.Errorf("auth counts %+v\nwant %+v", got, want)
	}
	if got := getStats(t, c, srv.URL).Auth; got != want {
		t.Errorf("GET /shop/stats auth %+v\nwant %+v", got, want)
	}
	_, metrics := c.want("GET", srv.URL+"/metrics", "", http.StatusOK)
	for outcome, v := range map[string]uint64{"ok": 4, "mismatch": 4, "missing_token": 3, "missing_cookie": 2, "unknown_session": 1, "unknown_token": 1} {
		if got := metricValue(t, metrics, authSeries(outcome)); got != float64(v) {
			t.Errorf("%s = %v, want %d", authSeries(outcome), got, v)
		}
	}
}

func TestShopBadInput(t *testing.T) {
	srv, err := targets.Start("split", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := newClient(t)
	u := srv.URL
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"no body", "", http.StatusBadRequest},
		{"blank body", "  \n", http.StatusBadRequest},
		{"bad JSON", `{"user":`, http.StatusBadRequest},
		{"not an object", `["ada"]`, http.StatusBadRequest},
		{"null", `null`, http.StatusBadRequest},
		{"trailing data", `{"user":"ada"} {}`, http.StatusBadRequest},
		{"missing user", `{"password":"x"}`, http.StatusBadRequest},
		{"user not a string", `{"user":42}`, http.StatusBadRequest},
		{"empty user", `{"user":""}`, http.StatusBadRequest},
		{"user of 65 characters", `{"user":"` + strings.Repeat("é", 65) + `"}`, http.StatusBadRequest},
		{"oversized body", `{"user":"ada","password":"` + strings.Repeat("x", 1<<20) + `"}`, http.StatusRequestEntityTooLarge},
		{"user of 64 characters", `{"user":"` + strings.Repeat("é", 64) + `"}`, http.StatusOK},
		{"no password", `{"user":"ada"}`, http.StatusOK},
	} {
		resp, body := c.do("POST", u+"/login", tc.body)
		if resp.StatusCode != tc.status {
			t.Errorf("POST /login with %s: status %d, want %d; body %q", tc.name, resp.StatusCode, tc.status, body)
		}
		if tc.status != http.StatusOK && (!strings.Contains(body, `"error"`) || resp.Header.Get("Set-Cookie") != "") {
			t.Errorf("POST /login with %s: body %q, Set-Cookie %q; want a JSON error and no cookie", tc.name, body, resp.Header.Get("Set-Cookie"))
		}
	}
	if got := srv.Shop().Stats().Logins; got != 2 {
		t.Errorf("%d logins counted, want 2 (the two good ones)", got)
	}

	a := login(t, c, u, "ada")
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"no body", "", http.StatusBadRequest},
		{"bad JSON", `{"item":}`, http.StatusBadRequest},
		{"missing item", `{"qty":1}`, http.StatusBadRequest},
		{"empty item", `{"item":""}`, http.StatusBadRequest},
		{"item not a string", `{"item":7}`, http.StatusBadRequest},
		{"long item id", `{"item":"` + strings.Repeat("x", targets.MaxItemIDBytes+1) + `"}`, http.StatusBadRequest},
		{"qty 0", `{"item":"1","qty":0}`, http.StatusBadRequest},
		{"negative qty", `{"item":"1","qty":-3}`, http.StatusBadRequest},
		{"fractional qty", `{"item":"1","qty":1.5}`, http.StatusBadRequest},
		{"qty too large", `{"item":"1","qty":` + strconv.Itoa(targets.MaxLineQty+1) + `}`, http.StatusBadRequest},
		{"oversized body", `{"item":"1","pad":"` + strings.Repeat("x", 1<<20) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		resp, body := c.do("POST", u+"/cart", tc.body, a.auth()...)
		if resp.StatusCode != tc.status || !strings.Contains(body, `"error"`) {
			t.Errorf("POST /cart with %s: %d %q, want %d and a JSON error", tc.name, resp.StatusCode, body, tc.status)
		}
	}
	c.want("POST", u+"/checkout", "", http.StatusConflict, a.auth()...) // nothing got in
	c.want("POST", u+"/cart", `{"item":"1","qty":`+strconv.Itoa(targets.MaxLineQty)+`}`, http.StatusOK, a.auth()...)
	c.want("POST", u+"/cart", `{"item":"1"}`, http.StatusConflict, a.auth()...) // a line holds MaxLineQty at most
	for i := 2; i <= targets.MaxCartLines; i++ {
		c.want("POST", u+"/cart", `{"item":"`+strconv.Itoa(i)+`"}`, http.StatusOK, a.auth()...)
	}
	c.want("POST", u+"/cart", `{"item":"one-too-many"}`, http.StatusConflict, a.auth()...)
	_, body := c.want("POST", u+"/checkout", "", http.StatusCreated, a.auth()...)
	var order targets.OrderResponse
	if err := json.Unmarshal([]byte(body), &order); err != nil || order.Items != targets.MaxLineQty+targets.MaxCartLines-1 {
		t.Errorf("checkout of a full cart answered %q (%v); want %d items", body, err, targets.MaxLineQty+targets.MaxCartLines-1)
	}
	c.want("GET", u+"/shop/items/"+strings.Repeat("x", targets.MaxItemIDBytes+1), "", http.StatusBadRequest, a.auth()...)

	for _, route := range []string{"GET /login", "PUT /login", "GET /cart", "DELETE /cart", "GET /checkout", "POST /shop/items/1", "DELETE /shop/items/1", "POST /shop/stats"} {
		method, path, _ := strings.Cut(route, " ")
		c.want(method, u+path, "", http.StatusMethodNotAllowed, a.auth()...)
	}
	c.want("GET", u+"/shop/items", "", http.StatusNotFound, a.auth()...)
	c.want("GET", u+"/shop", "", http.StatusNotFound)
	// The bad routes and methods never reached the shop's auth check:
	// the 11 bad carts, the empty checkout, the full line and its refusal,
	// the other lines, the one too many, the checkout and the long id.
	wantOK := uint64(11 + 1 + 2 + (targets.MaxCartLines - 1) + 1 + 1 + 1)
	if got := srv.Shop().Stats().Auth; got != (targets.ShopAuthStats{OK: wantOK}) {
		t.Errorf("auth counts %+v; want only %d ok", got, wantOK)
	}
}

// TestShopSessionBound fills a shop bounded to 2 sessions: the least
// recently used session is evicted and counted, and the store's rows stay
// within the bound.
func TestShopSessionBound(t *testing.T) {
	cfg := targets.DefaultSplitConfig()
	cfg.Shop.MaxSessions = 2
	srv, err := targets.StartTopology("split", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := newClient(t)
	u := srv.URL + "/shop/items/1"
	a := login(t, c, srv.URL, "a")
	b := login(t, c, srv.URL, "b")
	c.want("GET", u, "", http.StatusOK, a.auth()...) // a is now more recent than b
	d := login(t, c, srv.URL, "d")                   // evicts b
	wantUnauthorized(t, c, "GET", u, "", "unknown_session", b.auth()...)
	c.want("GET", u, "", http.StatusOK, a.auth()...)
	c.want("GET", u, "", http.StatusOK, d.auth()...)
	for i := range 20 {
		login(t, c, srv.URL, "u"+strconv.Itoa(i))
	}
	wantUnauthorized(t, c, "GET", u, "", "unknown_session", a.auth()...)
	st := srv.Shop().Stats()
	if st.Sessions != 2 || st.SessionsEvicted != 21 || st.Logins != 23 || st.MaxSessions != 2 {
		t.Errorf("stats %+v; want 2 sessions, 21 evicted of 23 logins", st)
	}
	_, metrics := c.want("GET", srv.URL+"/metrics", "", http.StatusOK)
	if got := metricValue(t, metrics, `surge_target_session_evictions_total{component="shop"}`); got != 21 {
		t.Errorf("evictions metric %v, want 21", got)
	}
	// Sessions take store rows by slot, not by login: the table holds the
	// 2 session rows and item 1, read but never written, holds none.
	if got := metricValue(t, metrics, `surge_target_keys{component="db-table"}`); got != 2 {
		t.Errorf("db table holds %v keys after 23 logins bounded to 2 sessions; want 2", got)
	}

	for _, bad := range []int{-1, targets.MaxMaxSessions + 1} {
		cfg.Shop.MaxSessions = bad
		if _, err := targets.StartTopology("split", "127.0.0.1:0", cfg); err == nil || !strings.Contains(err.Error(), "shop.max_sessions") {
			t.Errorf("max_sessions %d: %v; want an error naming shop.max_sessions", bad, err)
		}
	}
	if _, err := targets.DecodeConfig("cache", strings.NewReader(`{"shop":{"max_sessions":"many"}}`)); err == nil || !strings.Contains(err.Error(), "shop.max_sessions") {
		t.Errorf("decoding a bad max_sessions: %v; want an error naming shop.max_sessions", err)
	}
}

// sessionComponent names, per topology, the component that holds the
// sessions: the cache where there is one (without X-Region, the primary
// region's), else the db.
var sessionComponent = map[string]string{
	"single-box": "box-db", "split": "db", "cache": "cache", "lb": "cache", "replicas": "cache",
	"sharding": "cache", "queue": "cache", "multi-region": "cache-us-east", "cdn": "db", "autoscale": "cache",
}

// TestShopUsesTheStore checks that a login is an operation of the
// session component, and an authenticated item read two (the session and
// the item), through the component's own request counter.
func TestShopUsesTheStore(t *testing.T) {
	for _, name := range targets.Names() {
		if name == "echo" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			comp, ok := sessionComponent[name]
			if !ok {
				t.Fatalf("no session component listed for %s", name)
			}
			srv, err := targets.Start(name, "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			c := newClient(t)
			series := `surge_target_requests_total{component="` + comp + `"}`
			ops := func() float64 {
				_, m := c.want("GET", srv.URL+"/metrics", "", http.StatusOK)
				return metricValue(t, m, series)
			}
			n0 := ops()
			a := login(t, c, srv.URL, "a")
			n1 := ops()
			c.want("GET", srv.URL+"/shop/items/5", "", http.StatusOK, a.auth()...)
			n2 := ops()
			wantUnauthorized(t, c, "GET", srv.URL+"/shop/items/5", "", "missing_token", "Cookie", "session="+a.cookie)
			n3 := ops()
			wantUnauthorized(t, c, "GET", srv.URL+"/shop/items/5", "", "unknown_session", "Authorization", "Bearer "+a.token, "Cookie", "session=nope")
			n4 := ops()
			if n1-n0 != 1 || n2-n1 != 2 || n3 != n2 || n4-n3 != 1 {
				t.Errorf("%s went %v → %v (login) → %v (item read) → %v (no token) → %v (unknown session); want +1, +2, +0, +1",
					series, n0, n1, n2, n3, n4)
			}
			if comp == "db" || comp == "box-db" {
				_, m := c.want("GET", srv.URL+"/metrics", "", http.StatusOK)
				if busy := metricValue(t, m, `surge_target_busy_seconds_total{component="`+comp+`"}`); busy <= 0 {
					t.Errorf("%s busy seconds %v after the shop's queries; want > 0", comp, busy)
				}
			}
		})
	}
}

// try sends one request from a goroutine other than the test's: a
// failure is reported with t.Errorf (never FailNow) and yields "", false.
func try(t *testing.T, hc *http.Client, method, url, body string, status int, header ...string) (string, bool) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Errorf("%s %s: %v", method, url, err)
		return "", false
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, url, err)
		return "", false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != status {
		t.Errorf("%s %s: status %d (%v), want %d; body %q", method, url, resp.StatusCode, err, status, b)
		return "", false
	}
	return string(b), true
}

// TestShopConcurrentJourneys runs journeys at once through the lb
// topology (two app servers sharing one shop) and checks the counts add
// up exactly: each journey logs in, reads and fills its cart, presents
// its token with its neighbour's cookie once and checks out.
func TestShopConcurrentJourneys(t *testing.T) {
	srv, err := targets.Start("lb", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	const journeys = 12
	c := newClient(t)
	shoppers := make([]shopper, journeys)
	for i := range shoppers {
		shoppers[i] = login(t, c, srv.URL, "j"+strconv.Itoa(i))
	}
	orders := make([]string, journeys)
	var wg sync.WaitGroup
	for i := range journeys {
		wg.Go(func() {
			me, other := shoppers[i], shoppers[(i+1)%journeys]
			for k := range 3 {
				item := strconv.Itoa(k)
				if _, ok := try(t, c.hc, "GET", srv.URL+"/shop/items/"+item, "", http.StatusOK, me.auth()...); !ok {
					return
				}
				if _, ok := try(t, c.hc, "POST", srv.URL+"/cart", `{"item":"`+item+`"}`, http.StatusOK, me.auth()...); !ok {
					return
				}
			}
			if _, ok := try(t, c.hc, "GET", srv.URL+"/shop/items/0", "", http.StatusUnauthorized,
				"Authorization", "Bearer "+me.token, "Cookie", "session="+other.cookie); !ok {
				return
			}
			body, ok := try(t, c.hc, "POST", srv.URL+"/checkout", "", http.StatusCreated, me.auth()...)
			if !ok {
				return
			}
			var o targets.OrderResponse
			if err := json.Unmarshal([]byte(body), &o); err != nil || o.Items != 3 {
				t.Errorf("journey %d: checkout answered %q (%v); want 3 items", i, body, err)
			}
			orders[i] = o.OrderID
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	want := targets.ShopStats{
		Logins: journeys, Auth: targets.ShopAuthStats{OK: journeys * 7, Mismatch: journeys},
		Checkouts: journeys, Sessions: journeys, MaxSessions: targets.DefaultMaxSessions,
	}
	if got := srv.Shop().Stats(); got != want {
		t.Errorf("stats %+v\nwant %+v", got, want)
	}
	seen := map[string]bool{}
	for _, s := range shoppers {
		seen[s.token], seen[s.cookie] = true, true
	}
	for _, o := range orders {
		seen[o] = true
	}
	if len(seen) != 3*journeys {
		t.Errorf("%d distinct tokens, session ids and order ids among %d; want all distinct", len(seen), 3*journeys)
	}
}

func TestShopOfOtherHandlers(t *testing.T) {
	srv, err := targets.StartEcho("127.0.0.1:0", targets.DefaultEchoConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if sh := srv.Shop(); sh != nil {
		t.Errorf("echo's Shop() = %p, want nil", sh)
	}
	h, stop, err := targets.BuildTopology("split", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if targets.ShopOf(h) == nil || targets.ShopOf(http.NotFoundHandler()) != nil {
		t.Errorf("ShopOf: want the shop of a built topology and nil for any other handler")
	}
}
