package engine

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/internal/schedule"
)

// recorder is a target that remembers every request line and body.
type recorder struct {
	mu   sync.Mutex
	seen []string
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	buf := make([]byte, 512)
	n, _ := r.Body.Read(buf)
	b.Write(buf[:n])
	rc.mu.Lock()
	rc.seen = append(rc.seen, fmt.Sprintf("%s %s %s %s", r.Method, r.URL.RequestURI(), r.Header.Get("X-Key"), b.String()))
	rc.mu.Unlock()
	if r.Method == http.MethodPost {
		w.WriteHeader(http.StatusCreated)
	}
}

func (rc *recorder) sorted() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := append([]string(nil), rc.seen...)
	sort.Strings(out)
	return out
}

var mixRequests = []Request{
	{Name: "read", Method: "GET", Path: "/items/{{zipf 1.1 1000}}", Weight: 3, Header: http.Header{"X-Key": {"k{{int 1 9}}"}}},
	{Name: "write", Method: "POST", Path: "/items", Body: []byte(`{"n":{{seq}}}`), Weight: 1, Expect: []int{201}},
	{Name: "strict", Method: "GET", Path: "/health", Weight: 1, Expect: []int{204}},
}

// TestMixAndTemplatesIndependentOfSplit: the same seed gives the same
// requests, whatever the number of agents playing the schedule.
func TestMixAndTemplatesIndependentOfSplit(t *testing.T) {
	// play returns what the target saw, sorted, and the counters of each
	// request of the mix summed over the agents.
	play := func(agents int) ([]string, []metrics.Counters) {
		rc := &recorder{}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		shares, err := schedule.Equal(agents)
		if err != nil {
			t.Fatal(err)
		}
		perRequest := make([]metrics.Counters, len(mixRequests))
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, sh := range shares {
			wg.Go(func() {
				j := newJob(t, srv.URL, job{rate: 400, d: 500 * time.Millisecond, share: sh, requests: mixRequests})
				c, err := schedule.NewCurve(schedule.Spec{Constant: &schedule.Constant{Rate: 400, Duration: 500 * time.Millisecond}})
				if err != nil {
					t.Error(err)
					return
				}
				if j.Schedule, err = schedule.New(c, schedule.Uniform, 42); err != nil {
					t.Error(err)
					return
				}
				_, total, _ := collect(t, New(DefaultConfig()), context.Background(), j)
				mu.Lock()
				for k := range perRequest {
					perRequest[k].Add(total.Series[k].Counters)
				}
				mu.Unlock()
			})
		}
		wg.Wait()
		return rc.sorted(), perRequest
	}
	one, r1 := play(1)
	three, r3 := play(3)
	if len(one) != 200 || len(three) != 200 {
		t.Fatalf("targets saw %d and %d requests; want 200 each", len(one), len(three))
	}
	for k := range one {
		if one[k] != three[k] {
			t.Fatalf("request %d differs between 1 and 3 agents:\n%s\n%s", k, one[k], three[k])
		}
	}
	// Every count the schedule and the templates determine is the same
	// whatever the split: intended, issued, dropped (none), outcomes (the
	// target answers each request the same way every time), bytes. Not
	// ConnWaits: whether a request found every connection busy, or the
	// dials at their bound, depends on how its send happened to overlap
	// with others on this agent's pool — timing, not the mix (three agents
	// have three pools, and a busy machine makes sends overlap). Nor
	// NewConns: how many connections a pool opens is timing too.
	deterministic := func(c metrics.Counters) metrics.Counters {
		c.ConnWaits, c.NewConns = 0, 0
		return c
	}
	var c1 metrics.Counters
	for k := range mixRequests {
		if a, b := deterministic(r1[k]), deterministic(r3[k]); a != b {
			t.Errorf("request %s: counters differ between 1 and 3 agents: %+v vs %+v", mixRequests[k].Name, a, b)
		}
		c1.Add(r1[k])
	}
	// Weights 3:1:1 over 200 arrivals: about 120/40/40 (the draw is fixed by the seed).
	var reads, writes, strict int
	for _, l := range one {
		switch {
		case strings.HasPrefix(l, "GET /items/"):
			reads++
		case strings.HasPrefix(l, "POST /items"):
			writes++
		case strings.HasPrefix(l, "GET /health"):
			strict++
		}
	}
	if reads < 95 || reads > 145 || writes < 20 || writes > 60 || reads+writes+strict != 200 {
		t.Errorf("mix read %d write %d strict %d; want about 120/40/40", reads, writes, strict)
	}
	// POST answered 201 (expected) succeeds; /health answers 200 where 204
	// is expected: unexpected_status, a failure.
	if c1.Errors[metrics.UnexpectedStatus] != uint64(strict) || c1.Succeeded != uint64(reads+writes) {
		t.Errorf("counters %+v; want %d unexpected_status and %d succeeded", c1, strict, reads+writes)
	}
	// Templates rendered: bodies carry the arrival index, headers a key.
	if !strings.Contains(strings.Join(one, "\n"), `{"n":`) || strings.Contains(strings.Join(one, "\n"), "{{") {
		t.Errorf("templates not rendered: %v", one[:5])
	}
}

func TestCompileErrors(t *testing.T) {
	bad := []Request{
		{Name: "a", Method: "GET", Path: "/{{zipf 0 10}}"},
		{Name: "b", Method: "GET", Path: "/", Weight: -1},
		{Name: "c", Method: "GET", Path: "/", Expect: []int{700}},
		{Name: "d", Method: "GET", URL: "ftp://x/"},
		{Name: "e", Method: "GET", Path: "/", Body: []byte("{{nope}}")},
		{Name: "f", Method: "GET", Path: "/{{csv users.csv email}}"},
	}
	j := newJob(t, "http://127.0.0.1:1", job{rate: 10, d: time.Second, requests: bad})
	err := j.Validate()
	if err == nil {
		t.Fatal("Validate accepted bad requests")
	}
	for _, want := range []string{"request 0: url", "request 1: weight -1", "request 2: expected status 700", "request 3: url \"ftp://x/\"", "request 4: body", "request 5: templates read data files"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

// TestFieldsDrawIndependently: the path, each header and the body of one
// request draw their values independently, so a {{choice}} in a header is
// not a function of a {{zipf}} key in the path. Against both clients.
func TestFieldsDrawIndependently(t *testing.T) {
	for _, impl := range []string{"native", "net/http"} {
		t.Run(impl, func(t *testing.T) {
			rc := &recorder{}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			j := newJob(t, srv.URL, job{rate: 400, d: 500 * time.Millisecond, requests: []Request{{
				Name: "r", Method: "POST", Path: "/k/{{int 1 1000000}}", Expect: []int{201},
				Header: http.Header{"X-Key": {"{{int 1 1000000}}"}, "X-Other": {"{{int 1 1000000}}"}}, Body: []byte("{{int 1 1000000}}"),
			}}})
			if impl == "net/http" {
				j.Client.Impl = ImplNetHTTP
			}
			if sum, _, _ := collect(t, New(DefaultConfig()), context.Background(), j); sum.Totals.Succeeded != 200 {
				t.Fatalf("totals %+v; want 200 succeeded", sum.Totals)
			}
			same := 0
			for _, l := range rc.sorted() {
				var path, key, body string
				if _, err := fmt.Sscanf(l, "POST /k/%s %s %s", &path, &key, &body); err != nil {
					t.Fatalf("%q: %v", l, err)
				}
				if path == key || key == body || path == body {
					same++
				}
			}
			// Independent draws from a million values: a coincidence is
			// about 1 in 1,700 over 200 arrivals × 3 pairs.
			if same > 1 {
				t.Errorf("%d of 200 requests drew the same value in two fields; want independent draws", same)
			}
		})
	}
}
