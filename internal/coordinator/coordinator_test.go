package coordinator

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/surgeload/surge/internal/agent"
	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/internal/stages"
	"github.com/surgeload/surge/internal/testnet"
	"github.com/surgeload/surge/internal/wire"
	"github.com/surgeload/surge/reporters"
	"github.com/surgeload/surge/scenario"
)

// testConfig is an embedded run on ephemeral loopback ports.
func testConfig(agents int) Config {
	cfg := DefaultConfig()
	cfg.GossipListen = "127.0.0.1:0"
	cfg.Agents = agents
	cfg.Wait = 10 * time.Second
	cfg.Interval = 250 * time.Millisecond
	cfg.FastFailureDetection = true
	cfg.Limits.Timeout = 5 * time.Second
	cfg.Limits.Drain = 6 * time.Second
	// Margins a starved test machine cannot cross: tests lose agents on
	// purpose (closed, so their streams end), never by silence.
	cfg.AgentTimeout = 10 * time.Second
	cfg.TakeoverLead = time.Second
	return cfg
}

func mustScenario(t *testing.T, target string, rate string, duration string) *scenario.Scenario {
	t.Helper()
	return mustScenarioWith(t, target, rate, duration, "")
}

// mustScenarioWith is mustScenario with extra top-level YAML (a client:
// section, say).
func mustScenarioWith(t *testing.T, target, rate, duration, extra string) *scenario.Scenario {
	t.Helper()
	src := fmt.Sprintf(`name: test
stages:
  - name: target
    url: %s
requests:
  - {name: a, method: GET, path: /a}
  - {name: b, method: POST, path: /b, body: "xyz"}
load:
  constant: {rate: %s, duration: %s}
%s`, target, rate, duration, extra)
	sc, err := scenario.Parse("test.yaml", []byte(src), scenario.Options{})
	if err != nil {
		t.Fatalf("scenario: %v", err)
	}
	return sc
}

// testLog sends the coordinator's progress lines to the test log until
// the test ends; memberlist goroutines may still log while shutting down.
type testLog struct {
	mu   *sync.Mutex
	t    *testing.T
	done *bool
}

func newTestLog(t *testing.T) testLog {
	l := testLog{mu: &sync.Mutex{}, t: t, done: new(bool)}
	t.Cleanup(func() { l.mu.Lock(); *l.done = true; l.mu.Unlock() })
	return l
}

func (l testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !*l.done {
		l.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// observer collects every value the agents record into one histogram.
type observer struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
	n  int
}

func (o *observer) observe(res metrics.Result) {
	o.mu.Lock()
	defer o.mu.Unlock()
	v := int64(res.Response)
	if v > metrics.DefaultGeometry().Highest {
		v = metrics.DefaultGeometry().Highest
	}
	_ = o.h.RecordValue(v)
	o.n++
}

// TestEndToEnd: coordinator + 3 agents (memberlist + gRPC over loopback)
// against a target that counts requests.
func TestEndToEnd(t *testing.T) {
	var hits, posts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Method == http.MethodPost {
			posts.Add(1)
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()

	obs := &observer{h: metrics.DefaultGeometry().New()}
	cfg := testConfig(3)
	cfg.Agent.Engine.Observe = obs.observe
	// Exact counts below: timeouts a loaded machine cannot reach (a busy
	// shared machine delayed connects and first bytes past the defaults).
	sc := mustScenarioWith(t, srv.URL, "600", "2s", "client: {connect_timeout: 30s, first_byte_timeout: 60s, timeout: 60s}\n")
	rep, err := Run(context.Background(), cfg, sc)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := rep.Check(); err != nil {
		t.Fatalf("report does not balance: %v", err)
	}
	if len(rep.Stages) != 1 || len(rep.Agents) != 3 {
		t.Fatalf("%d stages, %d agents; want 1 and 3", len(rep.Stages), len(rep.Agents))
	}
	st := rep.Stages[0]
	// The target received exactly the intended arrivals: no gap, no duplicate.
	if st.Intended != 1200 || hits.Load() != 1200 || st.Issued != 1200 || st.Succeeded != 1200 {
		t.Errorf("intended %d issued %d succeeded %d; target saw %d; want 1200 each", st.Intended, st.Issued, st.Succeeded, hits.Load())
	}
	// Equal weights: the mix is drawn from (seed, index), about half each,
	// and the report's per-request counts are what the target saw.
	if len(st.Requests) != 2 || uint64(posts.Load()) != st.Requests[1].Succeeded ||
		st.Requests[0].Succeeded+st.Requests[1].Succeeded != 1200 || posts.Load() < 500 || posts.Load() > 700 {
		t.Errorf("posts %d, per-request %+v; want about 600 of each, matching the target", posts.Load(), st.Requests)
	}
	var issued, intended uint64
	for _, a := range rep.Agents {
		issued += a.Issued
		intended += a.Intended
		if a.Intended != 400 {
			t.Errorf("agent %s intended %d; want 400 (an exact third)", a.Name, a.Intended)
		}
	}
	if issued != st.Issued || intended != st.Intended {
		t.Errorf("agents issued %d intended %d; stage %d %d", issued, intended, st.Issued, st.Intended)
	}
	// Per interval, intended follows the schedule (150 per 250 ms).
	var sum uint64
	for k, iv := range st.Intervals {
		sum += iv.Intended
		if k < 8 && iv.Intended != 150 {
			t.Errorf("interval %d (t=%vs) intended %d; want 150", k, iv.TS, iv.Intended)
		}
	}
	if sum != 1200 {
		t.Errorf("intervals add up to %d intended; want 1200", sum)
	}
	// The merged histogram is exactly one histogram fed every value.
	merged, err := metrics.DecodeHistogram([]byte(st.Histogram), metrics.DefaultGeometry())
	if err != nil {
		t.Fatalf("report histogram: %v", err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.n != 1200 || merged.TotalCount() != 1200 {
		t.Fatalf("observed %d values, merged histogram holds %d; want 1200", obs.n, merged.TotalCount())
	}
	if !merged.Equals(obs.h) {
		t.Error("merged histogram differs from the histogram of every recorded value")
	}
	if got, want := ms(metrics.ValueAtPercentile(merged, 99)), ms(metrics.ValueAtPercentile(obs.h, 99)); got != want || st.ResponseTimeMS.P99 != want {
		t.Errorf("merged p99 %v ms, report p99 %v ms; one histogram of all values gives %v ms", got, st.ResponseTimeMS.P99, want)
	}
}

// TestStallShowsInResponseTime: the target stops answering for 1 s; the
// requests that arrive meanwhile are still sent on time, and the stall
// shows up in the response-time percentiles.
func TestStallShowsInResponseTime(t *testing.T) {
	var (
		once       sync.Once
		stallStart time.Time
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { stallStart = time.Now().Add(500 * time.Millisecond) })
		now := time.Now()
		if end := stallStart.Add(time.Second); !now.Before(stallStart) && now.Before(end) {
			select {
			case <-time.After(time.Until(end)):
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()
	cfg := testConfig(2)
	cfg.Log = newTestLog(t)
	cfg.Limits.Timeout, cfg.Limits.Drain = time.Minute, time.Minute // only the stall may show
	rep, err := Run(context.Background(), cfg, mustScenario(t, srv.URL, "200", "3s"))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	st := rep.Stages[0]
	if st.Issued != st.Intended || st.Dropped != 0 || st.Succeeded != 600 {
		t.Fatalf("issued %d of %d, dropped %d, succeeded %d (errors %v): the generator did not keep its schedule", st.Issued, st.Intended, st.Dropped, st.Succeeded, st.Errors)
	}
	// About a third of the arrivals fall in the stall, waiting up to 1 s.
	if p := st.ResponseTimeMS; p.P99 < 900 || p.Max < 950 || p.P90 < 500 {
		t.Errorf("response time %+v ms; want p90 >= 500, p99 >= 900, max >= 950", p)
	}
	// That the pacer never waits for the target is pinned without timing
	// by engine.TestPacerNeverWaitsForTarget.
}

func TestVersionMismatchRefused(t *testing.T) {
	cfg := testConfig(0)
	cfg.Expect = 1
	cfg.Wait = 3 * time.Second
	agentOnListen(t, &cfg, func(ac *agent.Config) { ac.Name, ac.Protocol = "old-agent", 99 })
	rep, err := Run(context.Background(), cfg, mustScenario(t, "http://127.0.0.1:1", "10", "1s"))
	if !errors.Is(err, ErrNoAgents) || rep != nil {
		t.Fatalf("Run = %v, %v; want ErrNoAgents", rep, err)
	}
	for _, want := range []string{"0 of 1 agents", fmt.Sprintf("agent old-agent speaks protocol v99, this coordinator speaks v%d", wire.ProtocolVersion)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestNoAgents(t *testing.T) {
	cfg := testConfig(0)
	cfg.Expect = 2
	cfg.Wait = 300 * time.Millisecond
	start := time.Now()
	_, err := Run(context.Background(), cfg, mustScenario(t, "http://127.0.0.1:1", "10", "1s"))
	if !errors.Is(err, ErrNoAgents) || !strings.Contains(err.Error(), "0 of 2 agents joined") {
		t.Errorf("Run = %v; want ErrNoAgents: 0 of 2 agents joined", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Run took %v to give up on a 300ms wait", d)
	}
}

func TestUnreachableTarget(t *testing.T) {
	target := "http://" + testnet.RefusedAddr(t)
	rep, err := Run(context.Background(), testConfig(2), mustScenario(t, target, "10", "1s"))
	if !errors.Is(err, ErrTargetUnreachable) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Run = %v; want ErrTargetUnreachable: connection refused", err)
	}
	if rep != nil {
		t.Errorf("a report for a run that never started: %+v", rep)
	}
}

func TestNonLoopbackTargetRefusedByAgents(t *testing.T) {
	_, err := Run(context.Background(), testConfig(1), mustScenario(t, "http://192.0.2.10:80", "10", "1s"))
	if !errors.Is(err, ErrTargetUnreachable) || !strings.Contains(err.Error(), "target not allowed") {
		t.Fatalf("Run = %v; want the agents to refuse a non-loopback target", err)
	}
}

// TestInterruptKeepsWhatWasMeasured: cancelling the run stops the agents,
// and the report still balances, with the unplayed arrivals as lost.
func TestInterruptKeepsWhatWasMeasured(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := testConfig(2)
	cfg.Log = newTestLog(t)
	cfg.Listening = func(string) { time.AfterFunc(1500*time.Millisecond, cancel) }
	rep, err := Run(ctx, cfg, mustScenario(t, srv.URL, "100", "30s"))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	st := rep.Stages[0]
	if st.Stopped == "" || st.Lost == 0 || st.Issued == 0 || st.Intended != 3000 {
		t.Errorf("stage %+v; want stopped early with issued > 0 and the rest lost", st)
	}
	if err := rep.Check(); err != nil {
		t.Error(err)
	}
	if len(rep.Warnings) == 0 {
		t.Error("no warning about the early stop")
	}
	_ = reporters.WriteText(&strings.Builder{}, rep)
}

// TestAgentLostMidRun: one of two agents shuts down mid-stage. The
// survivor takes its share over from a cut index; the run reports the
// gap, the arrivals lost before the cut are counted exactly and placed in
// their intervals, and the report still balances.
func TestAgentLostMidRun(t *testing.T) {
	var hits atomic.Int64
	var f *fleet
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 200 {
			go f.agent(0).Close()
		}
	}))
	defer srv.Close()
	cfg := testConfig(0)
	cfg.Log = newTestLog(t)
	// A lead a starved machine cannot cross between the survivor's
	// Accepted and its Start (it refuses a share whose first arrival fell
	// due more than an interval before the Start reached it).
	cfg.TakeoverLead = 2 * time.Second
	f = startFleet(t, &cfg, fleetAgent("fleet-0"), fleetAgent("fleet-1"))
	// 800 arrivals over 8 s: fleet-0 is closed at the 200th (about 2 s),
	// which leaves its share of the last seconds to take over even when a
	// busy machine runs everything late.
	rep, err := Run(context.Background(), cfg, mustScenario(t, srv.URL, "100", "8s"))
	if !errors.Is(err, ErrRunFailed) || !errors.Is(err, ErrAgentLost) || rep == nil {
		t.Fatalf("Run = %v, %v; want a report, ErrRunFailed and ErrAgentLost", rep, err)
	}
	if !strings.Contains(err.Error(), "fleet-0") {
		t.Errorf("error %q does not name the lost agent", err)
	}
	if cerr := rep.Check(); cerr != nil {
		t.Fatalf("report does not balance: %v", cerr)
	}
	st := rep.Stages[0]
	if st.Lost == 0 || st.Lost >= 400 || st.Intended != 800 {
		t.Errorf("intended %d lost %d; want 800 with some of fleet-0's 400 lost", st.Intended, st.Lost)
	}
	if len(st.Gaps) != 1 {
		t.Fatalf("gaps %+v; want fleet-0's", st.Gaps)
	}
	g := st.Gaps[0]
	// The survivor loses nothing, unless its takeover started so late on
	// a starved machine that it skipped what was overdue: then it says so.
	var survivorLost uint64
	for _, a := range rep.Agents {
		if a.Name == "fleet-1" {
			survivorLost = a.Lost
		}
	}
	if survivorLost > 0 && !slices.ContainsFunc(rep.Warnings, func(w string) bool { return strings.Contains(w, "fleet-1 reached") }) {
		t.Errorf("survivor lost %d arrivals and no warning says why: %q", survivorLost, rep.Warnings)
	}
	if g.Agent != "fleet-0" || !slices.Equal(g.TakenBy, []string{"fleet-1"}) || g.Lost+survivorLost != st.Lost || g.Cause != causeStopped {
		t.Errorf("gap %+v (survivor lost %d); want fleet-0 stopped early, taken over by fleet-1, the two losing the stage's %d", g, survivorLost, st.Lost)
	}
	// The cut is ahead of the detection by the takeover lead, and the
	// survivor played from it on: fleet-1 owns its half plus fleet-0's
	// share from the cut.
	if g.CutS < g.DetectedS || g.CutS > g.DetectedS+cfg.TakeoverLead.Seconds()+0.3 {
		t.Errorf("cut at %.3fs, detected at %.3fs; want the cut within the takeover lead", g.CutS, g.DetectedS)
	}
	var placed uint64
	for _, iv := range st.Intervals {
		placed += iv.Lost
	}
	if placed != st.Lost {
		t.Errorf("intervals hold %d lost arrivals; the stage lost %d", placed, st.Lost)
	}
	for _, a := range rep.Agents {
		if a.Intended != a.Issued+a.Dropped+a.Lost {
			t.Errorf("agent %+v does not balance", a)
		}
		if a.Name == "fleet-1" && a.Intended <= 400 {
			t.Errorf("survivor %+v; want more than its own 400 arrivals", a)
		}
	}
	// The target saw exactly what the report says was issued.
	if uint64(hits.Load()) != st.Issued {
		t.Errorf("target saw %d requests; report says %d issued", hits.Load(), st.Issued)
	}
	if len(rep.Warnings) == 0 {
		t.Error("no warning about the lost agent")
	}
}

// TestLaunchDaySameUnderAnySplit: a diurnal day compressed to seconds, a
// 5x spike, Poisson arrivals and templated requests. One agent and three
// agents send exactly the same requests at the target, and every interval
// holds the arrivals the schedule puts there.
func TestLaunchDaySameUnderAnySplit(t *testing.T) {
	src := `name: launch
seed: 7
stages: [{name: t, url: %s}]
requests:
  - {name: read, path: "/items/{{zipf 1.1 1000}}", weight: 9}
  - {name: write, method: POST, path: /items, body: '{"n": {{seq}}, "id": "{{uuid}}"}', weight: 1}
load:
  arrival: poisson
  diurnal: {daily_requests: 10M, peak_multiplier: 5x, peak_hour: 12}
  spikes: [{at: 50%%, multiplier: 3x, ramp: 200ms, hold: 500ms}]
  compress: 24h in 3s
`
	play := func(agents int) ([]string, reporters.Stage) {
		var mu sync.Mutex
		var seen []string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b := make([]byte, 256)
			n, _ := r.Body.Read(b)
			mu.Lock()
			seen = append(seen, r.Method+" "+r.URL.Path+" "+string(b[:n]))
			mu.Unlock()
		}))
		defer srv.Close()
		sc, err := scenario.Parse("launch.yaml", []byte(fmt.Sprintf(src, srv.URL)), scenario.Options{})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Run(context.Background(), testConfig(agents), sc)
		if err != nil {
			t.Fatalf("Run with %d agents: %v", agents, err)
		}
		if err := rep.Check(); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		slices.Sort(seen)
		return seen, rep.Stages[0]
	}
	one, st1 := play(1)
	three, st3 := play(3)
	if st1.Intended != st3.Intended || uint64(len(one)) != st1.Intended || uint64(len(three)) != st3.Intended {
		t.Fatalf("intended %d / %d, target saw %d / %d", st1.Intended, st3.Intended, len(one), len(three))
	}
	if !slices.Equal(one, three) {
		t.Error("one agent and three agents sent different requests for the same seed")
	}
	// The schedule's own count per interval is what was intended there.
	scheds, err := stages.Schedules(mustParse(t, fmt.Sprintf(src, "http://127.0.0.1:1")))
	if err != nil {
		t.Fatal(err)
	}
	s := scheds[0]
	iv := testConfig(1).Interval
	for k, got := range st3.Intervals {
		from, to := time.Duration(k)*iv, time.Duration(k+1)*iv
		if want := s.CountBefore(to) - s.CountBefore(from); got.Intended != want {
			t.Errorf("interval %d intended %d; the schedule has %d", k, got.Intended, want)
		}
	}
	// Poisson: the count is within 4σ of the curve's integral.
	if total := s.Curve().Total(); math.Abs(float64(st3.Intended)-total) > 4*math.Sqrt(total) {
		t.Errorf("%d arrivals; the curve integrates to %.1f", st3.Intended, total)
	}
}

func mustParse(t *testing.T, src string) *scenario.Scenario {
	t.Helper()
	sc, err := scenario.Parse("s.yaml", []byte(src), scenario.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// TestGeneratorLimitedFlagged: arrivals dropped at the in-flight cap make
// the stage generator-limited, with the reason and advice in the report.
func TestGeneratorLimitedFlagged(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(300 * time.Millisecond):
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	cfg := testConfig(1)
	cfg.Limits.MaxInFlight = 3
	cfg.MaxSendLag = time.Minute // only the cap limits this stage, however busy the machine
	rep, err := Run(context.Background(), cfg, mustScenario(t, srv.URL, "100", "1s"))
	if err != nil {
		t.Fatal(err)
	}
	st := rep.Stages[0]
	if st.Dropped == 0 || !st.GeneratorLimited || len(st.GeneratorNotes) == 0 || !strings.Contains(st.GeneratorNotes[0], "dropped at the in-flight cap (3 per agent)") {
		t.Errorf("dropped %d, limited %v, notes %q; want flagged with the cap named", st.Dropped, st.GeneratorLimited, st.GeneratorNotes)
	}
	if st.AgentCPUS <= 0 || st.CPUPerRequestUS <= 0 {
		t.Errorf("generator cpu %v s (%v µs/request); want both measured", st.AgentCPUS, st.CPUPerRequestUS)
	}
	if err := rep.Check(); err != nil {
		t.Error(err)
	}
}

func ms(ns int64) float64 { return float64(ns) / float64(time.Millisecond) }

// TestTwoCoordinatorsOneFleet: two coordinators each expect the same two
// agents (which joined both gossip clusters, merging them). An agent
// serves one coordinator at a time, so at most one run gets both; the
// other fails before T0 naming the refusal. Never do both play with half
// the fleet (which doubled the target's load and passed twice).
func TestTwoCoordinatorsOneFleet(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	addrs := make(chan string, 2)
	var (
		mu     sync.Mutex
		agents []*agent.Agent
	)
	joined := make(chan struct{})
	defer func() {
		<-joined
		for _, a := range agents {
			a.Close()
		}
	}()
	go func() { // the agents join both coordinators once both listen
		defer close(joined)
		join := []string{<-addrs, <-addrs}
		for i := range 2 {
			ac := agent.DefaultConfig()
			ac.Name = fmt.Sprintf("shared-%d", i)
			ac.Join = join
			a, err := agent.Start(ac)
			if err != nil {
				t.Errorf("start agent: %v", err)
				return
			}
			mu.Lock()
			agents = append(agents, a)
			mu.Unlock()
		}
	}()
	type result struct {
		rep *reporters.Report
		err error
	}
	results := make(chan result, 2)
	for range 2 {
		cfg := testConfig(0)
		cfg.Expect, cfg.Wait = 2, 10*time.Second
		cfg.Listening = func(addr string) { addrs <- addr }
		cfg.Log = newTestLog(t)
		go func() {
			rep, err := Run(context.Background(), cfg, mustScenario(t, srv.URL, "50", "1s"))
			results <- result{rep, err}
		}()
	}
	var played, refused int
	for range 2 {
		r := <-results
		switch {
		case r.err == nil:
			played++
			if st := r.rep.Stages[0]; st.Succeeded != 50 || len(r.rep.Agents) != 2 {
				t.Errorf("the run that played: succeeded %d with %d agents; want 50 with both", st.Succeeded, len(r.rep.Agents))
			}
		case errors.Is(r.err, ErrNoAgents):
			refused++
			if !strings.Contains(r.err.Error(), "of 2 agents completed the handshake") {
				t.Errorf("refused run: %v; want it to say how many of 2 were ready and why not the others", r.err)
			}
		default:
			t.Errorf("Run: %v", r.err)
		}
	}
	t.Logf("%d run(s) played, %d refused", played, refused)
	if played > 1 || played+refused != 2 {
		t.Errorf("%d runs played and %d were refused; want at most one playing", played, refused)
	}
	if n := hits.Load(); n > 50 {
		t.Errorf("the target got %d requests; at most one run's 50", n)
	}
}

// TestTokenProofs: in token mode an agent that cannot prove it holds the
// coordinator's token (another one, or none: a rogue gossip member) is
// refused before T0 and nothing is sent to the target; an agent with the
// same token plays.
func TestTokenProofs(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	tok := []byte("0123456789abcdef0123456789abcdef")
	for _, tc := range []struct {
		name     string
		agentTok []byte
		ok       bool
	}{
		{"same token", tok, true},
		{"another token", []byte("fedcba9876543210fedcba9876543210"), false},
		{"no token", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hits.Store(0)
			cfg := testConfig(0)
			cfg.Expect, cfg.Wait, cfg.Token = 1, 5*time.Second, tok
			cfg.Log = newTestLog(t)
			agentOnListen(t, &cfg, func(ac *agent.Config) { ac.Token = tc.agentTok })
			rep, err := Run(context.Background(), cfg, mustScenario(t, srv.URL, "20", "500ms"))
			switch {
			case tc.ok && (err != nil || rep.Stages[0].Succeeded != 10):
				t.Fatalf("Run = %v; want 10 requests played", err)
			case !tc.ok && (!errors.Is(err, ErrNoAgents) || !strings.Contains(err.Error(), "did not prove it holds the shared token")):
				t.Fatalf("Run = %v; want ErrNoAgents naming the failed proof", err)
			case !tc.ok && hits.Load() != 0:
				t.Fatalf("the target got %d requests from a refused agent", hits.Load())
			}
		})
	}
}

// agentOnListen makes cfg start one external agent, set up by setUp, that
// joins the coordinator as soon as it listens; the agent is closed when
// the test ends.
func agentOnListen(t *testing.T, cfg *Config, setUp func(*agent.Config)) {
	t.Helper()
	var mu sync.Mutex
	var started []*agent.Agent
	cfg.Listening = func(addr string) {
		ac := agent.DefaultConfig()
		ac.Join = []string{addr}
		setUp(&ac)
		a, err := agent.Start(ac)
		if err != nil {
			t.Errorf("start agent: %v", err)
			return
		}
		mu.Lock()
		started = append(started, a)
		mu.Unlock()
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range started {
			a.Close()
		}
	})
}

// TestScenarioMaxSendLag: without a bound from the caller, the scenario's
// safety.max_send_lag judges the generator (here 1ns: any lateness is
// too much, so the stage is generator-limited, naming the bound); a
// caller's bound overrides it.
func TestScenarioMaxSendLag(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	sc := mustParse(t, "name: lag\nstages: [{url: \""+srv.URL+"\"}]\nrequests: [{name: get, path: /}]\n"+
		"load: {constant: {rate: 50, duration: 500ms}}\nsafety: {max_send_lag: 1ns}\n")
	for _, tc := range []struct {
		bound   time.Duration
		limited bool
	}{{0, true}, {time.Minute, false}} {
		cfg := testConfig(1)
		cfg.MaxSendLag = tc.bound
		rep, err := Run(context.Background(), cfg, sc)
		if err != nil {
			t.Fatal(err)
		}
		st := rep.Stages[0]
		if st.GeneratorLimited != tc.limited || tc.limited && !strings.Contains(strings.Join(st.GeneratorNotes, " "), "is over 1ns") {
			t.Errorf("caller's bound %v: limited %v, notes %q; want limited %v by the scenario's 1ns", tc.bound, st.GeneratorLimited, st.GeneratorNotes, tc.limited)
		}
	}
}
