package har

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func load(t *testing.T, name string) *HAR {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := Decode(f)
	if err != nil {
		t.Fatalf("Decode(%s) = %v", name, err)
	}
	return h
}

// convertCases are the fixtures, the options, the golden file and lines the
// output must (and must not) have: the golden files pin every byte, the
// lines say what each case is about.
var convertCases = []struct {
	har, golden string
	opts        Options
	want, not   []string
	vars        []string // the variables, in order
	dropped     map[string]int
}{
	{
		har: "login.har", golden: "login.yaml",
		opts: Options{Source: "login.har"},
		want: []string{
			"    url: 'https://shop.example'\n",
			"  constant: {rate: 1/s, duration: 1m}\n",
			"      - name: 'POST /login'\n        method: POST\n        path: /login\n",
			"          Origin: 'https://shop.example'\n",
			`        body: '{"user":"ann2024x","password":"pw-1234abcd"}'` + "\n",
			"        extract:\n          token: {json: '$.token'}\n",
			"          Authorization: 'Bearer {{var token}}'\n",
			"        path: '/shop/items/7?user=ann2024x'\n", // the user's own input is not a token
			"      - think: 1.922s\n",                       // 10:00:02.000 − the end of the last asset, 10:00:00.078
			"      - think: 1.2s\n",                         // 10:00:03.320 − (10:00:02.000 + 120.4ms)
			`        body: '{"sku":"{{var sku}}","qty":1}'` + "\n",
			"        extract:\n          sku: {json: '$.item.sku'}\n",
			"          Accept: application/json\n",
			"dropped (3 static assets)\n",
			"# header X-Xsrf-Token of step 4 sends the value of cookie XSRF-TOKEN as recorded; if it must be fresh, extract it ({cookie: XSRF-TOKEN}) and use {{var …}}\n",
			"          X-Xsrf-Token: x5rf70k3n9\n",
		},
		not:     []string{"site.css", "app.js", "logo", "Cookie", "User-Agent", "Sec-", "Content-Length", "Authority", "If-None-Match", "expect:", "Accept-Encoding", "sid="},
		vars:    []string{"token", "sku"},
		dropped: map[string]int{dropAsset: 3},
	},
	{
		har: "login.har", golden: "login.keep-assets.yaml",
		opts:    Options{Source: "login.har", KeepAssets: true, Rate: "5/s", Duration: "30s", Name: "shop"},
		want:    []string{"name: shop\n", "{rate: 5/s, duration: 30s}", "path: /static/site.css\n", "path: '/static/app.js?v=3'\n", "path: /img/logo\n"},
		vars:    []string{"token", "sku"},
		dropped: map[string]int{},
	},
	{
		har: "header-token.har", golden: "header-token.yaml",
		opts: Options{Source: "header-token.har"},
		want: []string{
			"    url: 'http://127.0.0.1:8080'\n",
			"        extract:\n          x_session_token: {header: X-Session-Token}\n          cart_id: {json: '$[''cart-id'']'}\n",
			"        path: '/search?q=red+shoes&session={{var x_session_token}}'\n",
			"        expect: [404]\n",
			"      - name: 'POST /carts/{cart_id}/items'\n        method: POST\n        path: '/carts/{{var cart_id}}/items'\n",
			"          X-Session-Token: '{{var x_session_token}}'\n",
			"          Content-Type: application/x-www-form-urlencoded\n",
			"        body: 'cart={{var cart_id}}&note=a+b'\n",
			"      - think: 59.875s\n",
			"          X-Client: web\n",
		},
		not:  []string{"Host", "Connection", "Date", "tok9f8e7d6c5b4a", "cart-9f8e7d6c", "expect: [302]"},
		vars: []string{"x_session_token", "cart_id"},
	},
	{
		har: "cross-origin.har", golden: "cross-origin.yaml",
		opts: Options{Source: "cross-origin.har"},
		want: []string{
			"    url: 'https://shop.example'\n", // the first request by time, not by file order; :443 is the default port
			"        path: '/page/%7Bx%7D?a=%7B%7B&b=c%20d'\n",
			"        url: 'https://api.shop.example:8443/v1/notes'\n",
			`          X-Note: '{{"{{"}}not a template}}'` + "\n",
			`        body: "Hello {{\"{{\"}}name}}, it's {{\"{{\"}}{ \"line\"\nnew line\ttab"` + "\n",
			"        path: '/notes/{{var id}}'\n        expect: [404]\n",
			"          id: {json: '$.id'}\n",
			"steps to origins other than the stage's https://shop.example: https://api.shop.example:8443 (1)",
			"      - think: 190ms\n", // 0.700 − (0.500 + 10ms); the POST's 95ms gap after its preflight is no think
		},
		not:     []string{"OPTIONS", "data:", "ads.example", "think: 95ms", "cached"},
		vars:    []string{"id"},
		dropped: map[string]int{dropPreflight: 1, dropScheme: 1, dropNoResp: 1, dropCached: 1},
	},
}

func TestConvert(t *testing.T) {
	for _, tc := range convertCases {
		t.Run(tc.golden, func(t *testing.T) {
			out, sum, err := Convert(load(t, tc.har), tc.opts)
			if err != nil {
				t.Fatalf("Convert(%s) = %v", tc.har, err)
			}
			golden := filepath.Join("testdata", tc.golden)
			if *update {
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("Convert(%s) differs from %s (go test -update rewrites it):\n%s", tc.har, golden, out)
			}
			s := string(out)
			for _, w := range tc.want {
				if !strings.Contains(s, w) {
					t.Errorf("Convert(%s): output lacks %q", tc.har, w)
				}
			}
			body := s[strings.Index(s, "\nname:"):] // past the header comment
			for _, n := range tc.not {
				if strings.Contains(body, n) {
					t.Errorf("Convert(%s): output has %q", tc.har, n)
				}
			}
			var names []string
			for _, v := range sum.Vars {
				names = append(names, v.Name)
			}
			if strings.Join(names, ",") != strings.Join(tc.vars, ",") {
				t.Errorf("Convert(%s) vars = %v; want %v", tc.har, names, tc.vars)
			}
			for k, n := range tc.dropped {
				if sum.Dropped[k] != n {
					t.Errorf("Convert(%s) dropped[%s] = %d; want %d", tc.har, k, sum.Dropped[k], n)
				}
			}
			// Deterministic: the same input gives the same bytes.
			again, _, _ := Convert(load(t, tc.har), tc.opts)
			if !bytes.Equal(out, again) {
				t.Errorf("Convert(%s) is not deterministic", tc.har)
			}
		})
	}
}

func TestConvertErrors(t *testing.T) {
	h := load(t, "login.har")
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{Rate: "fast"}, `rate "fast" must be a rate > 0`},
		{Options{Rate: "0/s"}, `rate "0/s" must be a rate > 0`},
		{Options{Duration: "10"}, `duration "10" must be a duration > 0`},
		{Options{Name: "a\nb"}, "must not contain control characters"},
	} {
		if _, _, err := Convert(h, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Convert(%+v) = %v; want an error with %q", tc.opts, err, tc.want)
		}
	}
	if _, _, err := Convert(load(t, "only-assets.har"), Options{}); err == nil || !strings.Contains(err.Error(), "no request to play: 1 entries, every one dropped (1 static assets)") {
		t.Errorf("Convert(only-assets.har) = %v; want no request to play", err)
	}
	if _, _, err := Convert(load(t, "only-assets.har"), Options{KeepAssets: true}); err != nil {
		t.Errorf("Convert(only-assets.har, --keep-assets) = %v", err)
	}
}

// TestConvertStepLimit: a recording longer than a journey may be keeps
// the first requests and says how many were left out.
func TestConvertStepLimit(t *testing.T) {
	h := &HAR{Log: &Log{Version: "1.2"}}
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	for i := range 100 {
		h.Log.Entries = append(h.Log.Entries, Entry{
			Started: t0.Add(time.Duration(i) * time.Second), Time: 10,
			Request:  &Request{Method: "GET", URL: "https://a.example/p"},
			Response: &Response{Status: 200},
		})
	}
	out, sum, err := Convert(h, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Think steps do not count: 64 requests and the 63 pauses between them.
	if sum.Steps != 64 || sum.Thinks != 63 || sum.Dropped[dropOverLimit] != 36 {
		t.Errorf("steps %d + thinks %d, over limit %d; want 64 + 63 and 36 left out", sum.Steps, sum.Thinks, sum.Dropped[dropOverLimit])
	}
	if !strings.Contains(string(out), "# a journey has at most 64 request steps: the last 36 request(s) were left out\n") {
		t.Errorf("output does not say requests were left out:\n%s", out)
	}
	if !strings.Contains(string(out), "name: 'GET /p #64'\n") || strings.Contains(string(out), "#65") {
		t.Errorf("repeated step names are not numbered:\n%s", out)
	}
}

// TestConvertThink: think steps come from gaps of ThinkMin or more, to the
// millisecond, capped at scenario.MaxThink; overlapping requests have
// none.
func TestConvertThink(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration, ms float64) Entry {
		return Entry{Started: t0.Add(d), Time: ms,
			Request: &Request{Method: "GET", URL: "https://a.example/p"}, Response: &Response{Status: 200}}
	}
	h := &HAR{Log: &Log{Version: "1.2", Entries: []Entry{
		at(0, 10),                       // ends at 10ms
		at(109*time.Millisecond, 1),     // gap 99ms: none
		at(210*time.Millisecond, 1e300), // gap 100ms: think 100ms; its time is clamped to a week
		at(220*time.Millisecond, 1),     // overlaps the one before: none
	}}}
	_, sum, steps, err := convert(h, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var thinks []time.Duration
	for _, s := range steps {
		if s.think > 0 {
			thinks = append(thinks, s.think)
		}
	}
	if len(thinks) != 1 || thinks[0] != 100*time.Millisecond || sum.Steps != 4 {
		t.Errorf("thinks %v, %d steps; want [100ms] and 4", thinks, sum.Steps)
	}

	h.Log.Entries = []Entry{at(0, 10), at(2*time.Hour+10*time.Millisecond+1234567, 1)}
	out, sum, steps, err := convert(h, Options{ThinkMin: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 3 || steps[1].think != time.Hour || !strings.Contains(string(out), "      - think: 1h\n") ||
		len(sum.Warnings) != 1 || sum.Warnings[0] != "a recorded pause of 2h0m0.001s before step 2 is capped at 1h" {
		t.Errorf("a 2h pause: steps %d, warnings %q:\n%s", len(steps), sum.Warnings, out)
	}
}

// TestConvertTokenRules: which values become variables.
func TestConvertTokenRules(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	entry := func(i int, method, u string, hdrs []NameValue, body string, resp *Response) Entry {
		rq := &Request{Method: method, URL: u, Headers: hdrs}
		if body != "" {
			rq.PostData = &PostData{MimeType: "application/json", Text: body}
		}
		return Entry{Started: t0.Add(time.Duration(i) * time.Second), Time: 1, Request: rq, Response: resp}
	}
	ok := &Response{Status: 200}
	h := &HAR{Log: &Log{Version: "1.2", Entries: []Entry{
		entry(0, "POST", "https://a.example/s", nil, `{"email":"me2024@example.com"}`, &Response{Status: 200,
			Headers: []NameValue{{"X-Token", "first111aaa"}, {"X-Token", "second222bbb"}, {"Set-Cookie", "sid=cookie333ccc"},
				{"Date", "Wed, 01 May 2024 10:00:00 GMT"}, {"X-Short", "ab12"}},
			Content: Content{MimeType: "application/json", Text: `{"email":"me2024@example.com","when":"2024-05-01T10:00:00Z","n":"12345678","home":"https://a.example/x1","kind":"application/json","id":"order-777x"}`}}),
		entry(1, "GET", "https://a.example/q?a=first111aaa&b=second222bbb&c=cookie333ccc&d=me2024@example.com&e=2024-05-01T10:00:00Z&f=12345678&g=ab12", nil, "", ok),
		entry(2, "POST", "https://a.example/o/order-777x", []NameValue{{"X-Id", "order-777x"}}, `{"id":"order-777x","n":["order-777x"]}`, ok),
	}}}
	out, sum, err := Convert(h, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range sum.Vars {
		got = append(got, v.Name+"="+v.From)
	}
	// Only the first X-Token (an extraction reads a header's first value)
	// and the id: not a cookie, the user's own input, a date, digits alone,
	// a URL, a MIME type or a short value.
	if want := "x_token=header X-Token,id=$.id"; strings.Join(got, ",") != want {
		t.Errorf("vars %s; want %s\n%s", strings.Join(got, ","), want, out)
	}
	for _, w := range []string{
		"path: '/q?a={{var x_token}}&b=second222bbb&c=cookie333ccc&d=me2024@example.com&e=2024-05-01T10:00:00Z&f=12345678&g=ab12'\n",
		"path: '/o/{{var id}}'\n", "X-Id: '{{var id}}'\n", `body: '{"id":"{{var id}}","n":["{{var id}}"]}'` + "\n",
	} {
		if !strings.Contains(string(out), w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if sum.Vars[1].Uses != 4 {
		t.Errorf("id used %d times; want 4 (path, header, body twice)", sum.Vars[1].Uses)
	}
}
