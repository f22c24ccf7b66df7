package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/extract"
	"github.com/surgeload/surge/internal/metrics"
)

// shop is a loopback target for journeys: POST /login issues a fresh
// token and session cookie per login; every other route needs both, of
// the same session, and counts those that are not (a token that was not
// issued in the same journey instance, or no cookie).
type shop struct {
	mu       sync.Mutex
	sessions map[string]*session // by session id
	tokens   map[string]string   // token → session id
	bad      map[string]int      // reason → requests refused
	ok       int
	// stall, when set, holds requests for stall.hold: once every route has
	// been seen stall.after times, the next stall.each requests of every
	// route are held. Counted, not timed, so a busy machine cannot make a
	// route miss the stall.
	stall *stall
}

type stall struct {
	after, each int
	hold        time.Duration
	seen, held  map[string]int // by route
}

// route is the first segment of a request's path.
func route(p string) string {
	p = strings.TrimPrefix(p, "/")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return p
}

// holdFor reports how long the request to route r is held.
func (st *stall) holdFor(r string, routes int) time.Duration {
	st.seen[r]++
	if len(st.seen) < routes {
		return 0
	}
	for _, n := range st.seen {
		if n <= st.after {
			return 0
		}
	}
	if st.held[r] >= st.each {
		return 0
	}
	st.held[r]++
	return st.hold
}

type session struct {
	user  string
	seen  []time.Time // arrivals of the session's requests
	paths []string
}

func newShop() *shop {
	return &shop{sessions: map[string]*session{}, tokens: map[string]string{}, bad: map[string]int{}}
}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *shop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	var hold time.Duration
	s.mu.Lock()
	if s.stall != nil {
		hold = s.stall.holdFor(route(r.URL.Path), 3)
	}
	s.mu.Unlock()
	time.Sleep(hold)
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.URL.Path == "/login" {
		var in struct{ User string }
		if json.Unmarshal(body, &in) != nil || in.User == "" {
			http.Error(w, "bad login", http.StatusBadRequest)
			return
		}
		sid, tok := randomID(), randomID()
		s.sessions[sid] = &session{user: in.User, seen: []time.Time{now}, paths: []string{r.URL.Path}}
		s.tokens[tok] = sid
		http.SetCookie(w, &http.Cookie{Name: "session", Value: sid, Path: "/", HttpOnly: true})
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"token":%q,"user":%q,"n":7}`, tok, in.User)
		return
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	c, err := r.Cookie("session")
	switch {
	case err != nil:
		s.bad["no_cookie"]++
	case s.tokens[tok] == "":
		s.bad["unknown_token"]++
	case s.tokens[tok] != c.Value:
		s.bad["mismatch"]++
	default:
		s.ok++
		ss := s.sessions[c.Value]
		ss.seen = append(ss.seen, now)
		ss.paths = append(ss.paths, r.URL.Path)
		fmt.Fprintf(w, `{"ok":true,"user":%q}`, ss.user)
		return
	}
	http.Error(w, "unauthorized", http.StatusUnauthorized)
}

func shopJourney() Journey {
	auth := http.Header{"Authorization": {"Bearer {{var token}}"}}
	eq := "true"
	return Journey{Name: "shop", Steps: []Step{
		{Request: Request{Name: "login", Method: "POST", Path: "/login", Body: []byte(`{"user":"u{{seq}}"}`), Expect: []int{200},
			Checks: []extract.CheckSpec{{Name: "has-token", JSON: "$.token"}}},
			Extract: []Extraction{{Var: "token", Spec: extract.Spec{JSON: "$.token"}}}},
		{Think: &Think{Dist: ThinkUniform, Min: 20 * time.Millisecond, Max: 40 * time.Millisecond}},
		{Request: Request{Name: "browse", Method: "GET", Path: "/items/{{int 1 1000}}", Header: auth,
			Checks: []extract.CheckSpec{{Name: "ok", JSON: "$.ok", Equals: &eq}}}, Loop: 3},
		{Think: &Think{Dist: ThinkFixed, Fixed: 5 * time.Millisecond}},
		{Request: Request{Name: "checkout", Method: "POST", Path: "/checkout", Header: auth}},
	}}
}

// TestJourneys: every journey instance logs in, carries its own token and
// cookie through its later steps (none sent with another instance's), waits
// at least its drawn think time, and the counts balance at both levels.
func TestJourneys(t *testing.T) {
	sh := newShop()
	srv := httptest.NewServer(sh)
	defer srv.Close()
	j := newJob(t, srv.URL, job{rate: 400, d: 1500 * time.Millisecond})
	// However busy the machine, every journey ends before the drain does.
	j.Limits.Timeout, j.Limits.Drain = time.Minute, 2*time.Minute
	j.Requests = nil
	j.Journeys = []Journey{shopJourney()}
	names, kinds, arrivals := j.Series()
	wantNames := []string{"shop", "shop/login", "shop/browse", "shop/checkout", "shop/login #has-token", "shop/browse #ok"}
	if fmt.Sprint(names) != fmt.Sprint(wantNames) || arrivals != 1 || kinds[0] != metrics.KindJourney || kinds[1] != metrics.KindStep || kinds[4] != metrics.KindCheck {
		t.Fatalf("Series = %q %v %d", names, kinds, arrivals)
	}
	sum, total, _ := collect(t, New(DefaultConfig()), context.Background(), j)
	n := j.Schedule.Len()
	jr := total.Series[0]
	if jr.Intended != n || jr.Issued+jr.Dropped != n || jr.Issued != jr.Succeeded+jr.Failed+sum.InFlightAtEnd {
		t.Fatalf("journeys: %+v in flight %d; want %d intended, balanced", jr.Counters, sum.InFlightAtEnd, n)
	}
	if jr.Failed != 0 || jr.Dropped != 0 || sum.InFlightAtEnd != 0 {
		t.Fatalf("journeys: %d failed %v, %d dropped, %d in flight; want none", jr.Failed, jr.Errors, jr.Dropped, sum.InFlightAtEnd)
	}
	if sum.Totals.Intended != n || sum.Totals.Issued != jr.Issued {
		t.Fatalf("summary totals %+v: want the journeys' only", sum.Totals)
	}
	for k, want := range map[int]uint64{1: n, 2: 3 * n, 3: n, 4: n, 5: 3 * n} {
		s := total.Series[k]
		if s.Issued != want || s.Succeeded != want || s.Intended != s.Issued {
			t.Errorf("%s: intended %d issued %d succeeded %d failed %d %v; want %d each", names[k], s.Intended, s.Issued, s.Succeeded, s.Failed, s.Errors, want)
		}
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(sh.bad) != 0 || sh.ok != int(4*n) || len(sh.sessions) != int(n) {
		t.Fatalf("target: %d ok, refused %v, %d sessions; want %d ok, none refused, %d sessions", sh.ok, sh.bad, len(sh.sessions), 4*n, n)
	}
	// Think times: the first browse of arrival i is sent at least its
	// drawn think time after the login was sent.
	p, err := j.compile()
	if err != nil {
		t.Fatal(err)
	}
	think := j.Journeys[0].Steps[1].Think
	for _, ss := range sh.sessions {
		i, err := strconv.ParseUint(strings.TrimPrefix(ss.user, "u"), 10, 64)
		if err != nil || len(ss.seen) != 5 {
			t.Fatalf("session of %q: %d requests %v", ss.user, len(ss.seen), ss.paths)
		}
		if d := think.draw(p.journeys[0].thinkSeed, i, 1, 0); ss.seen[1].Sub(ss.seen[0]) < d || d < think.Min || d > think.Max {
			t.Errorf("arrival %d: browse %v after login; drawn think %v", i, ss.seen[1].Sub(ss.seen[0]), d)
		}
		if got := ss.seen[4].Sub(ss.seen[3]); got < 5*time.Millisecond {
			t.Errorf("arrival %d: checkout %v after the last browse; think 5ms", i, got)
		}
	}
}

// TestJourneyStallShowsInEverySteps: a target that stalls for 300 ms shows
// it in every step's response times, measured from each step's intended
// instant, and in the journeys' durations.
func TestJourneyStallShowsInEverySteps(t *testing.T) {
	sh := newShop()
	srv := httptest.NewServer(sh)
	defer srv.Close()
	j := newJob(t, srv.URL, job{rate: 200, d: 1200 * time.Millisecond})
	j.Limits.Timeout, j.Limits.Drain = time.Minute, 2*time.Minute
	j.Requests = nil
	j.Journeys = []Journey{shopJourney()}
	start := time.Now().Add(20 * time.Millisecond)
	// Once login, items and checkout have each been seen 20 times, the
	// next 3 requests of each are held 300 ms.
	sh.stall = &stall{after: 20, each: 3, hold: 300 * time.Millisecond, seen: map[string]int{}, held: map[string]int{}}
	total := metrics.NewInterval(j.Geometry, j.seriesCount())
	if _, err := New(DefaultConfig()).Run(context.Background(), j, start, func(iv *metrics.Interval) error { return total.Merge(iv) }); err != nil {
		t.Fatal(err)
	}
	for k := 0; k < 4; k++ {
		s := total.Series[k]
		if s.Failed != 0 {
			t.Errorf("series %d: %d failed %v", k, s.Failed, s.Errors)
		}
		if max := time.Duration(s.Response.Max()); max < 300*time.Millisecond {
			t.Errorf("series %d: max response %v; the 300 ms stall must show", k, max)
		}
	}
}

// TestJourneyFailures: a failed extraction fails its step with its own
// class and aborts the journey (or, with continue, fails every step that
// needs the value, none sent empty); a failed check is check_failed.
func TestJourneyFailures(t *testing.T) {
	sh := newShop()
	srv := httptest.NewServer(sh)
	defer srv.Close()
	for _, cont := range []bool{false, true} {
		j := newJob(t, srv.URL, job{rate: 100, d: 300 * time.Millisecond})
		j.Limits.Timeout, j.Limits.Drain = time.Minute, 2*time.Minute
		j.Requests = nil
		jr := shopJourney()
		jr.ContinueOnError = cont
		jr.Steps[0].Extract[0].Spec.JSON = "$.nothing"
		jr.Steps[0].Request.Checks = []extract.CheckSpec{{Name: "never", BodyContains: "absent"}}
		j.Journeys = []Journey{jr}
		sum, total, _ := collect(t, New(DefaultConfig()), context.Background(), j)
		n := j.Schedule.Len()
		login, browse, checkout, check := total.Series[1], total.Series[2], total.Series[3], total.Series[4]
		if total.Series[0].Failed != n || total.Series[0].Errors[metrics.CheckFailed] != n || sum.InFlightAtEnd != 0 {
			t.Fatalf("continue %v: journeys %+v", cont, total.Series[0].Counters)
		}
		if login.Errors[metrics.CheckFailed] != n || check.Failed != n || check.Errors[metrics.CheckFailed] != n {
			t.Fatalf("continue %v: login %+v check %+v", cont, login.Counters, check.Counters)
		}
		if !cont {
			if browse.Issued != 0 || checkout.Issued != 0 {
				t.Fatalf("abort: later steps issued %d, %d", browse.Issued, checkout.Issued)
			}
			continue
		}
		// A failed check skips the extraction: the later steps have no
		// token, fail as extract_failed, and are never sent.
		if browse.Errors[metrics.ExtractFailed] != 3*n || checkout.Errors[metrics.ExtractFailed] != n {
			t.Fatalf("continue: browse %+v checkout %+v", browse.Counters, checkout.Counters)
		}
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(sh.bad) != 0 || sh.ok != 0 {
		t.Fatalf("target: %d ok, refused %v; want nothing but logins", sh.ok, sh.bad)
	}
}

func TestJourneyValidate(t *testing.T) {
	for name, mut := range map[string]func(*Journey){
		"var before extract": func(j *Journey) { j.Steps[0].Request.Path = "/login/{{var token}}" },
		"loop out of range":  func(j *Journey) { j.Steps[2].Loop = MaxLoop + 1 },
		"bad think":          func(j *Journey) { j.Steps[1].Think.Min = time.Second },
		"no request step":    func(j *Journey) { j.Steps = j.Steps[1:2] },
		"slash in name":      func(j *Journey) { j.Name = "a/b" },
		"bad extraction":     func(j *Journey) { j.Steps[0].Extract[0].Var = "1x" },
	} {
		t.Run(name, func(t *testing.T) {
			j := newJob(t, "http://127.0.0.1:1", job{rate: 10, d: time.Second})
			j.Requests = nil
			jr := shopJourney()
			mut(&jr)
			j.Journeys = []Journey{jr}
			if err := j.Validate(); err == nil {
				t.Fatal("Validate accepted it")
			}
		})
	}
	j := newJob(t, "http://127.0.0.1:1", job{rate: 10, d: time.Second})
	j.Requests[0].Path = "/{{var x}}"
	if err := j.Validate(); err == nil || !strings.Contains(err.Error(), "only in journeys") {
		t.Fatalf("a var in a plain request: %v", err)
	}
}

// TestJourneyStepsHonourTheGate: once the job's gate (the agent's lease)
// refuses, no journey sends another step, and the run stops with its
// cause; the journeys cut short are in flight at the end.
func TestJourneyStepsHonourTheGate(t *testing.T) {
	sh := newShop()
	srv := httptest.NewServer(sh)
	defer srv.Close()
	j := newJob(t, srv.URL, job{rate: 100, d: 2 * time.Second})
	j.Limits.Timeout, j.Limits.Drain = time.Minute, 2*time.Minute
	j.Requests = nil
	j.Journeys = []Journey{shopJourney()}
	var mu sync.Mutex
	calls, refused := 0, false
	j.Gate = func() error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls > 30 {
			refused = true
			return fmt.Errorf("lease expired")
		}
		return nil
	}
	sum, total, _ := collect(t, New(DefaultConfig()), context.Background(), j)
	if sum.Stopped == "" || !strings.Contains(sum.Stopped, "lease expired") {
		t.Fatalf("stopped %q; want the gate's cause", sum.Stopped)
	}
	mu.Lock()
	defer mu.Unlock()
	if !refused {
		t.Fatal("the gate never refused")
	}
	var sent uint64
	for k := 1; k <= 3; k++ {
		sent += total.Series[k].Issued
	}
	// 30 gate passes: each arrival and each request step takes one.
	if arrivals := total.Series[0].Issued; arrivals+sent > 30 {
		t.Fatalf("%d arrivals + %d steps issued after 30 gate passes", arrivals, sent)
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if got := uint64(sh.ok) + uint64(len(sh.sessions)); got != sent {
		t.Fatalf("the target got %d requests; %d steps were issued", got, sent)
	}
}
