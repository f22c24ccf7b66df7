package surge_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/surgeload/surge"
	"github.com/surgeload/surge/reporters"
)

// TestPhasesEndToEnd: two embedded agents play two requests at a target
// named "localhost"; the phases they time travel to the coordinator,
// merge, and come out in report.json, the summary and the thresholds.
// The connections the report counts are exactly those that carried
// requests at the target (each agent has its own pool; their counts add
// up), each with a lookup and a connect time, and no TLS.
func TestPhasesEndToEnd(t *testing.T) {
	var mu sync.Mutex
	used := map[net.Conn]bool{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(2 * time.Millisecond)
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		time.Sleep(2 * time.Millisecond)
		w.Write([]byte("body"))
	}))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateActive {
			mu.Lock()
			used[c] = true
			mu.Unlock()
		}
	}
	srv.Start()
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	_, port, _ := net.SplitHostPort(u.Host)
	sc, err := surge.Parse("phases.yaml", []byte(fmt.Sprintf(`
name: phases
stages: [{name: s, url: "http://localhost:%s"}]
requests: [{name: a, path: /a, weight: 3}, {name: b, path: /b}]
load: {constant: {rate: 100, duration: 2s}}
thresholds:
  - "ttfb p99 < 10s"
  - "connect.p99{request=a} < 10s"
  - "dns.max < 10s"
  - "tls.p99 < 1s"
`, port)), nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := surge.DefaultOptions()
	opts.GossipListen = "127.0.0.1:0"
	opts.Agents = 2
	opts.MaxSendLag = 10 * time.Second // judged here: the phases, not how busy the machine is
	rep, err := surge.Run(context.Background(), sc, opts)
	if err != nil {
		t.Fatal(err)
	}
	st := rep.Stages[0]
	if st.Succeeded != 200 {
		t.Fatalf("succeeded %d of 200 (%v)", st.Succeeded, st.Errors)
	}
	mu.Lock()
	conns := uint64(len(used))
	mu.Unlock()
	ph := st.Phases
	if ph.NewConns != conns || conns < 2 {
		t.Errorf("new_conns = %d; want the %d connections that carried requests (at least one per agent)", ph.NewConns, conns)
	}
	for _, name := range reporters.PhaseNames {
		if got := ph.Of(name); (got == reporters.Percentiles{}) != (name == "tls") {
			t.Errorf("stage phase %s = %+v; want values for every phase but tls", name, got)
		}
	}
	if ph.TTFBMS != st.TTFBMS || ph.TTFBMS.P50 < 2 {
		t.Errorf("phases ttfb %+v, stage ttfb %+v; want the same, at least the target's 2 ms", ph.TTFBMS, st.TTFBMS)
	}
	var sum uint64
	for _, rq := range st.Requests {
		if rq.Phases.ReadMS == (reporters.Percentiles{}) || rq.Phases.WriteMS == (reporters.Percentiles{}) {
			t.Errorf("request %s phases %+v; want write and read", rq.Name, rq.Phases)
		}
		sum += rq.Phases.NewConns
	}
	if sum != ph.NewConns {
		t.Errorf("requests' new_conns add up to %d; want the stage's %d", sum, ph.NewConns)
	}
	want := map[string]struct{ pass, noData bool }{
		"ttfb p99 < 10s": {true, false}, "connect.p99{request=a} < 10s": {true, false},
		"dns.max < 10s": {true, false}, "tls.p99 < 1s": {false, true},
	}
	for _, th := range st.Thresholds {
		w, ok := want[th.Expr]
		if !ok || th.Pass != w.pass || th.NoData != w.noData {
			t.Errorf("threshold %q: pass %v, no data %v (%s); want %v, %v", th.Expr, th.Pass, th.NoData, th.Measured, w.pass, w.noData)
		}
		delete(want, th.Expr)
	}
	if len(want) > 0 {
		t.Errorf("thresholds not judged: %v", want)
	}
	var b bytes.Buffer
	if err := reporters.WriteText(&b, rep); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); !strings.Contains(out, fmt.Sprintf("new connections: %d", conns)) || !strings.Contains(out, "  connect ") {
		t.Errorf("summary has no phases:\n%s", out)
	}
}
