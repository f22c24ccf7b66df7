package agent

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/surgeload/surge/internal/wire"
	surgev1 "github.com/surgeload/surge/proto/gen/surge/v1"
)

// dialCancel opens a Session stream and returns it with what breaks it
// (the stream's context, as a broken connection does).
func dialCancel(t *testing.T, a *Agent) (client, context.CancelFunc) {
	t.Helper()
	cc, err := grpc.NewClient(a.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); cc.Close() })
	s, err := surgev1.NewAgentServiceClient(cc).Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s, cancel
}

func helloRun(run string, resume bool, acked uint64) *surgev1.SessionRequest {
	return &surgev1.SessionRequest{Msg: &surgev1.SessionRequest_Hello{Hello: &surgev1.Hello{
		ProtocolVersion: wire.ProtocolVersion, CoordinatorName: "test-coordinator", RunId: run,
		CoordinatorTimeUnixNano: time.Now().UnixNano(), Resume: resume, AckedSeq: acked}}}
}

func mustSend(t *testing.T, s client, m *surgev1.SessionRequest) {
	t.Helper()
	if err := s.Send(m); err != nil {
		t.Fatal(err)
	}
}

func mustReady(t *testing.T, s client) *surgev1.Ready {
	t.Helper()
	m, err := s.Recv()
	if err != nil || m.GetReady() == nil {
		t.Fatalf("want ready, got %v %v", m, err)
	}
	return m.GetReady()
}

// TestResumeReplaysUnacknowledged: the stream breaks mid-assignment after
// the coordinator acknowledged some results. The agent fires on, and on a
// new stream with Hello{resume} sends again, numbered in order from the
// first unacknowledged, every result it kept; what the coordinator took
// before and after adds up exactly to Done and to what the target saw.
func TestResumeReplaysUnacknowledged(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	a := startAgent(t, 10*time.Second)

	s1, cut := dialCancel(t, a)
	mustSend(t, s1, helloRun("r", false, 0))
	if mustReady(t, s1).GetResumed() {
		t.Error("a new session's ready says resumed")
	}
	mustSend(t, s1, &surgev1.SessionRequest{Msg: &surgev1.SessionRequest_Assign{Assign: assignment(t, srv.URL, 100, 2*time.Second)}})
	if m, err := s1.Recv(); err != nil || m.GetAccepted().GetOwnArrivals() != 200 {
		t.Fatalf("assign: %v %v", m, err)
	}
	mustSend(t, s1, &surgev1.SessionRequest{Msg: &surgev1.SessionRequest_Start{Start: &surgev1.Start{Epoch: 1, T0UnixNano: time.Now().Add(300 * time.Millisecond).UnixNano()}}})

	taken := map[uint64]*surgev1.SessionResponse{} // by seq
	var intervals = map[uint32]bool{}
	take := func(m *surgev1.SessionResponse) {
		if m.GetSeq() == 0 {
			return // not a result
		}
		if _, dup := taken[m.GetSeq()]; dup {
			t.Errorf("result %d sent twice", m.GetSeq())
		}
		taken[m.GetSeq()] = m
		if sn := m.GetSnapshot(); sn != nil {
			if intervals[sn.GetInterval()] {
				t.Errorf("interval %d reported twice", sn.GetInterval())
			}
			intervals[sn.GetInterval()] = true
		}
	}
	// Take 5 results, acknowledge 3, and read 2 more that will not be
	// acknowledged: they must come again.
	var seen []*surgev1.SessionResponse
	for len(seen) < 5 {
		m, err := s1.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if m.GetSeq() > 0 {
			seen = append(seen, m)
		}
	}
	for k, m := range seen {
		if m.GetSeq() != uint64(k+1) {
			t.Fatalf("result %d numbered %d; want numbering from 1", k, m.GetSeq())
		}
	}
	for _, m := range seen[:3] {
		take(m)
	}
	mustSend(t, s1, &surgev1.SessionRequest{Msg: &surgev1.SessionRequest_Heartbeat{Heartbeat: &surgev1.Heartbeat{Seq: 1, CoordinatorTimeUnixNano: time.Now().UnixNano(), AckedSeq: 3}}})
	if m, err := s1.Recv(); err != nil {
		t.Fatal(err)
	} else if ack := m.GetHeartbeatAck(); ack != nil && (len(ack.GetReached()) != 1 || ack.GetReached()[0].GetEpoch() != 1 || ack.GetReached()[0].GetReached() == 0) {
		t.Errorf("heartbeat ack reached %v; want epoch 1's dispatch counter", ack.GetReached())
	}
	cut()
	time.Sleep(300 * time.Millisecond) // it fires on meanwhile

	// Another run cannot take the agent while the session may resume.
	s3, _ := dialCancel(t, a)
	mustSend(t, s3, helloRun("other", false, 0))
	if m, err := s3.Recv(); err != nil || m.GetError().GetCode() != surgev1.ErrorCode_ERROR_CODE_BUSY {
		t.Errorf("a new run's hello while the session waits for a resume = %v %v; want BUSY", m, err)
	}
	// A resume of a run the agent does not hold says so.
	s4, _ := dialCancel(t, a)
	mustSend(t, s4, helloRun("unknown", true, 0))
	if mustReady(t, s4).GetResumed() {
		t.Error("resume of an unknown run: ready says resumed")
	}

	s2, _ := dialCancel(t, a)
	mustSend(t, s2, helloRun("r", true, 3))
	if !mustReady(t, s2).GetResumed() {
		t.Fatal("resume: ready does not say resumed")
	}
	var done *surgev1.Done
	next := uint64(4)
	for done == nil {
		m, err := s2.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if m.GetSeq() == 0 {
			continue
		}
		if m.GetSeq() != next {
			t.Fatalf("after the resume, result %d; want %d (in order from the first unacknowledged)", m.GetSeq(), next)
		}
		next++
		take(m)
		done = m.GetDone()
	}
	d, err := wire.DoneFromProto(done)
	if err != nil {
		t.Fatal(err)
	}
	var intended, issued uint64
	for _, m := range taken {
		if sn := m.GetSnapshot(); sn != nil {
			for _, se := range sn.GetSeries() {
				c, err := wire.CountersFromProto(se.GetCounters())
				if err != nil {
					t.Fatal(err)
				}
				intended += c.Intended
				issued += c.Issued
			}
		}
	}
	if d.Stopped != "" || d.Totals.Intended != 200 || intended != d.Totals.Intended || issued != d.Totals.Issued || uint64(hits.Load()) != issued {
		t.Errorf("done %+v; results taken: intended %d issued %d; target saw %d; want all 200, once each", d, intended, issued, hits.Load())
	}

	// Stop{end} closes the session: the agent is free for another run at once.
	mustSend(t, s2, &surgev1.SessionRequest{Msg: &surgev1.SessionRequest_Stop{Stop: &surgev1.Stop{Epoch: 1, Reason: "run over", End: true}}})
	deadline := time.Now().Add(10 * time.Second)
	for {
		s5, _ := dialCancel(t, a)
		mustSend(t, s5, helloRun("next", false, 0))
		m, err := s5.Recv()
		if err == nil && m.GetReady() != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after Stop{end}, a new run's hello = %v %v; want ready", m, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLateTakeoverSkipsOverdue: a takeover (first index past 0) whose
// Start arrives after its first arrivals fell due does not fire them in
// a burst and is not refused: it plays from the first arrival due within
// the last interval, and its Done reports only what it reached (the
// coordinator counts the rest lost).
func TestLateTakeoverSkipsOverdue(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	a := startAgent(t, 10*time.Second)
	s := dialSession(t, a)
	mustSend(t, s, helloRun("r", false, 0))
	mustReady(t, s)
	as := assignment(t, srv.URL, 100, 4*time.Second)
	as.Schedule.FirstIndex = 100 // due 1 s after T0
	mustSend(t, s, &surgev1.SessionRequest{Msg: &surgev1.SessionRequest_Assign{Assign: as}})
	if m, err := s.Recv(); err != nil || m.GetAccepted().GetOwnArrivals() != 300 {
		t.Fatalf("assign: %v %v", m, err)
	}
	// T0 3 s ago: arrivals 100 to about 290 are overdue.
	mustSend(t, s, &surgev1.SessionRequest{Msg: &surgev1.SessionRequest_Start{Start: &surgev1.Start{Epoch: 1, T0UnixNano: time.Now().Add(-3 * time.Second).UnixNano()}}})
	for {
		m, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if e := m.GetError(); e != nil {
			t.Fatalf("late takeover refused: %v", e.GetMessage())
		}
		if d := m.GetDone(); d != nil {
			done, err := wire.DoneFromProto(d)
			if err != nil {
				t.Fatal(err)
			}
			// At most the last second's 100 arrivals and one interval's
			// worth, however late the machine ran.
			if done.Totals.Intended == 0 || done.Totals.Intended > 111 || done.Stopped != "" || uint64(hits.Load()) != done.Totals.Issued {
				t.Errorf("done %+v, target saw %d; want at most the ~100 arrivals not yet overdue, all sent", done, hits.Load())
			}
			return
		}
	}
}
