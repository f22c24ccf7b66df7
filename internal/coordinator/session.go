package coordinator

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/surgeload/surge/internal/cluster"
	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/internal/schedule"
	surgev1 "github.com/surgeload/surge/proto/gen/surge/v1"
	"github.com/surgeload/surge/reporters"
)

// conn is the coordinator's side of one agent's session: its current
// Session stream, and the next one when that breaks and the session is
// resumed.
type conn struct {
	name string
	addr string
	// cc, stream and cancel are the current stream (guarded by sendMu);
	// gen numbers it: messages of an older stream are ignored.
	cc     *grpc.ClientConn
	stream grpc.BidiStreamingClient[surgev1.SessionRequest, surgev1.SessionResponse]
	cancel context.CancelFunc
	sendMu sync.Mutex
	gen    uint64
	// acked is the last result (SessionResponse.seq) taken: results come
	// in order, once each; the agent forgets those acknowledged.
	acked atomic.Uint64
	// detached is when its stream was found broken (zero while attached);
	// detachCause and detachErr say how. redialStop ends the redialling.
	detached    time.Time
	detachCause string
	detachErr   error
	redialStop  context.CancelFunc
	// quietFrom is when the coordinator itself last woke from a stall
	// (SIGSTOP, a starved process): an agent's silence is counted from
	// no earlier.
	quietFrom time.Time
	// dups counts results received twice (sent again on a resume).
	dups int

	ready bool
	// nonce is the coordinator's challenge of this session (Hello).
	nonce []byte
	// clock is the estimate of the agent's clock offset (agent clock −
	// coordinator clock) from the exchanges with the lowest round trip.
	clock clockFilter
	// lease is the agent's own lease (from Ready): it stops firing that
	// long after the last message it received.
	lease time.Duration
	// heard is when the agent's last message arrived; sent when the last
	// message to it was written.
	heard, sent time.Time
	// gossipGone is when gossip said the agent left or died (zero: it did
	// not); it is lost once it is also silent.
	gossipGone time.Time
	// lost is set once the agent can no longer be used; it is never cleared.
	lost error
	// lostLeaseEnd is, for an agent lost while it played, the latest
	// instant it may have fired until (its lease's end, or when it was
	// found lost if earlier).
	lostLeaseEnd time.Time
	total        reporters.Agent

	stage *agentStage // per-stage state, reset for every stage
}

// agentStage is what one agent did in the current stage: its first
// assignment, and any share of a lost agent it took over later.
type agentStage struct {
	jobs []*agentJob
}

// agentJob is one assignment of a stage to one agent: the arrivals of
// [first, end) its share owns. end is lowered to the cut index when the
// agent is lost. A job owns its arrivals from the moment it is assigned:
// what its agent never reports reaching is lost.
type agentJob struct {
	epoch      uint64
	share      schedule.Share
	first, end uint64
	// accepted follows Accepted; done follows Done.
	accepted, done bool
	counters       metrics.Counters // sum of its snapshots
	// reached is the arrivals reached (issued or dropped) per interval,
	// from its snapshots: what is not reached is lost, placed in time.
	reached  map[uint32]uint64
	inFlight uint64 // from Done
	stopped  string
	// dispatched is the agent's dispatch counter for the job, from its
	// last heartbeat ack: arrivals it certainly reached.
	dispatched uint64
	// taken has bit k set once the job's snapshot of interval k is merged
	// (a bitset: a day of 1 s intervals is 11 KB).
	taken []uint64
	// from is the lost agent whose share this job took over (nil for a
	// stage's first assignment).
	from *conn
}

func (j *agentJob) own() uint64 { return j.share.Count(j.first, j.end) }

// take marks the job's snapshot of interval k merged; false if it was
// already.
func (j *agentJob) take(k uint32) bool {
	w, bit := int(k/64), uint64(1)<<(k%64)
	if w >= len(j.taken) {
		j.taken = append(j.taken, make([]uint64, w+1-len(j.taken))...)
	}
	if j.taken[w]&bit != 0 {
		return false
	}
	j.taken[w] |= bit
	return true
}

// job returns the agent's job of epoch e, or nil.
func (as *agentStage) job(e uint64) *agentJob {
	for _, j := range as.jobs {
		if j.epoch == e {
			return j
		}
	}
	return nil
}

// own is the arrivals the agent's jobs own.
func (as *agentStage) own() uint64 {
	var n uint64
	for _, j := range as.jobs {
		n += j.own()
	}
	return n
}

// done reports whether every job of the agent has reported Done (a job
// waiting to be accepted or started has not).
func (as *agentStage) done() bool {
	for _, j := range as.jobs {
		if !j.done {
			return false
		}
	}
	return true
}

// counters is the sum of the agent's snapshots in the stage.
func (as *agentStage) counters() metrics.Counters {
	var c metrics.Counters
	for _, j := range as.jobs {
		c.Add(j.counters)
	}
	return c
}

// inMsg is one message (or the stream's end) from an agent's stream gen,
// or a resumed stream ready to take over (resumed).
type inMsg struct {
	c       *conn
	gen     uint64
	msg     *surgev1.SessionResponse
	err     error
	resumed *resumedStream
}

// dialOptions are the options of every connection to an agent.
func dialOptions(secure []grpc.DialOption) []grpc.DialOption {
	opts := []grpc.DialOption{
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 3 * time.Second, PermitWithoutStream: true}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16 << 20)),
	}
	if len(secure) == 0 {
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	return append(opts, secure...)
}

// openStream connects to an agent's gRPC address and opens a Session
// stream that lives as long as sctx: cancelling it ends the stream (or
// the attempt to open it).
func openStream(sctx context.Context, name, addr string, secure []grpc.DialOption) (*grpc.ClientConn, grpc.BidiStreamingClient[surgev1.SessionRequest, surgev1.SessionResponse], error) {
	cc, err := grpc.NewClient(addr, dialOptions(secure)...)
	if err != nil {
		return nil, nil, fmt.Errorf("agent %s at %s: %w", name, addr, err)
	}
	stream, err := surgev1.NewAgentServiceClient(cc).Session(sctx)
	if err != nil {
		cc.Close()
		return nil, nil, fmt.Errorf("agent %s at %s: open session: %w", name, addr, err)
	}
	return cc, stream, nil
}

// dial opens the Session stream of an agent found by gossip and starts its
// receiving goroutine, which forwards to inbox until the stream ends.
func dial(ctx context.Context, m cluster.Member, inbox chan<- inMsg, secure []grpc.DialOption) (*conn, error) {
	// No deadline on the stream context: it would cover the whole run.
	// Nor the run's cancellation: on an interrupt the coordinator still
	// sends Stop and collects the last snapshots; close() ends the stream.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	cc, stream, err := openStream(sctx, m.Name, m.Meta.GRPC, secure)
	if err != nil {
		cancel()
		return nil, err
	}
	c := &conn{name: m.Name, addr: m.Meta.GRPC, cc: cc, stream: stream, cancel: cancel}
	c.total.Name = m.Name
	go c.receive(sctx, 0, stream, inbox) // exits when the stream ends
	return c, nil
}

// receive forwards what stream gen of c receives to inbox until Recv
// fails (the stream ended or was cancelled).
func (c *conn) receive(sctx context.Context, gen uint64, stream grpc.BidiStreamingClient[surgev1.SessionRequest, surgev1.SessionResponse], inbox chan<- inMsg) {
	for {
		msg, err := stream.Recv()
		select {
		case inbox <- inMsg{c: c, gen: gen, msg: msg, err: err}:
		case <-sctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

func (c *conn) send(m *surgev1.SessionRequest) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if c.stream == nil {
		return fmt.Errorf("agent %s: no stream (its session is being resumed)", c.name)
	}
	if err := c.stream.Send(m); err != nil {
		return fmt.Errorf("agent %s: send: %w", c.name, err)
	}
	c.sent = time.Now()
	return nil
}

// ping sends one heartbeat: it renews the agent's lease, acknowledges the
// results taken so far, and is one clock exchange.
func (c *conn) ping(seq uint64) error {
	return c.send(&surgev1.SessionRequest{Msg: &surgev1.SessionRequest_Heartbeat{Heartbeat: &surgev1.Heartbeat{
		Seq: seq, CoordinatorTimeUnixNano: time.Now().UnixNano(), AckedSeq: c.acked.Load()}}})
}

// clockSamples is how many exchanges the clock filter keeps; the one with
// the lowest round trip among them is the estimate.
const clockSamples = 16

// clockFilter estimates an agent's clock offset NTP-style: every exchange
// (t1 sent, t2 received by the agent, t3 sent back, t4 received) gives
// offset ((t2−t1)+(t3−t4))/2 within ±rtt/2, rtt = (t4−t1)−(t3−t2); the
// sample with the lowest round trip of the last clockSamples is kept.
type clockFilter struct {
	samples []clockSample
	n       int // exchanges so far
}

type clockSample struct{ offset, rtt time.Duration }

// add records one exchange; a nonsensical one (negative round trip) is
// ignored.
func (f *clockFilter) add(t1, t2, t3, t4 int64) {
	rtt := time.Duration((t4 - t1) - (t3 - t2))
	if t1 == 0 || t2 == 0 || t3 == 0 || rtt < 0 || t3 < t2 {
		return
	}
	s := clockSample{offset: time.Duration(((t2 - t1) + (t3 - t4)) / 2), rtt: rtt}
	if len(f.samples) == clockSamples {
		f.samples = f.samples[1:]
	}
	f.samples = append(f.samples, s)
	f.n++
}

// best is the sample with the lowest round trip; ok is false before any.
func (f *clockFilter) best() (s clockSample, ok bool) {
	for k, c := range f.samples {
		if k == 0 || c.rtt < s.rtt {
			s = c
		}
	}
	return s, len(f.samples) > 0
}

// offset is the estimated agent clock − coordinator clock.
func (f *clockFilter) offset() time.Duration { s, _ := f.best(); return s.offset }

// close ends the session: the agent is told it may forget it, and the
// stream, the connection and any redialling end. It is idempotent.
func (c *conn) close() {
	c.stopRedial()
	_ = c.send(&surgev1.SessionRequest{Msg: &surgev1.SessionRequest_Stop{Stop: &surgev1.Stop{Epoch: math.MaxUint64, Reason: "session closed", End: true}}})
	c.dropStream(true)
}

// dropStream ends the current stream and its connection. With hangUp the
// stream is half-closed first, which the agent reads as the end of the
// session; without, it is only cancelled, as a broken stream is, and the
// agent keeps the session for a resume.
func (c *conn) dropStream(hangUp bool) {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if c.stream == nil {
		return
	}
	if hangUp {
		_ = c.stream.CloseSend()
	}
	c.cancel()
	c.cc.Close()
	c.stream = nil
}

// stopRedial ends the redialling of a broken stream, if any.
func (c *conn) stopRedial() {
	if c.redialStop != nil {
		c.redialStop()
		c.redialStop = nil
	}
}

func (c *conn) live() bool { return c.ready && c.lost == nil }

// markLost records why the agent can no longer be used.
func (c *conn) markLost(err error) {
	if c.lost == nil {
		c.lost = err
	}
}
