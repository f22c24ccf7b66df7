package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/surgeload/surge/internal/engine"
	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/internal/tokenproof"
	"github.com/surgeload/surge/internal/wire"
	surgev1 "github.com/surgeload/surge/proto/gen/surge/v1"
)

// service implements the generated AgentServiceServer.
type service struct {
	surgev1.UnimplementedAgentServiceServer
	a *Agent
}

// stream is one Session stream of a run: the coordinator's current path
// to the run's session. A session outlives its streams: when one breaks,
// the coordinator resumes on a new one.
type stream struct {
	srv    surgev1.AgentService_SessionServer
	sendMu sync.Mutex
	// wake tells the stream's pump that the outbox grew.
	wake chan struct{}
	// gone is closed when the stream is no longer the session's: it ended,
	// a newer one replaced it, or the session ended.
	gone     chan struct{}
	goneOnce sync.Once
}

func newStream(srv surgev1.AgentService_SessionServer) *stream {
	return &stream{srv: srv, wake: make(chan struct{}, 1), gone: make(chan struct{})}
}

func (st *stream) send(m *surgev1.SessionResponse) error {
	st.sendMu.Lock()
	defer st.sendMu.Unlock()
	return st.srv.Send(m)
}

func (st *stream) end() { st.goneOnce.Do(func() { close(st.gone) }) }

func (st *stream) sendError(code surgev1.ErrorCode, fatal bool, format string, args ...any) error {
	return st.send(errorMsg(code, fatal, format, args...))
}

func errorMsg(code surgev1.ErrorCode, fatal bool, format string, args ...any) *surgev1.SessionResponse {
	return &surgev1.SessionResponse{Msg: &surgev1.SessionResponse_Error{Error: &surgev1.Error{
		Code: code, Message: fmt.Sprintf(format, args...), Fatal: fatal}}}
}

// session is one run's session on the agent: its jobs, its lease and its
// results not yet acknowledged, which outlive any one stream.
type session struct {
	a     *Agent
	runID string

	// cmdMu orders commands and the session's end: only the current
	// stream's loop acts, one message at a time.
	cmdMu   sync.Mutex
	pending *wire.Assignment // accepted, waiting for Start
	epoch   uint64           // highest epoch seen
	// jobs are the assignments started and not yet stopped, by epoch: a
	// stage's first assignment, and those taking over a lost agent's
	// share beside it.
	jobs map[uint64]*job
	// over is set once the session ended: its lease ran out (every job
	// stopped, its epochs fenced), the coordinator closed it, or the agent
	// shuts down. It then only serves its results to a resuming
	// coordinator.
	over string

	// base and leaseUntil (nanoseconds since base, monotonic) are the
	// lease: renewed by every coordinator message, read by every job
	// before every send.
	base       time.Time
	leaseUntil atomic.Int64

	// mu guards the current stream and the outbox.
	mu  sync.Mutex
	cur *stream // nil while no stream is attached
	// out holds every result (snapshot, Done, a job's error) not yet
	// acknowledged, in sequence order; seq is the last number given.
	out      []outMsg
	seq      uint64
	acked    uint64
	outBytes int
	full     bool // the outbox passed maxOutboxBytes: jobs were stopped
}

// outMsg is one result in the outbox.
type outMsg struct {
	m    *surgev1.SessionResponse
	size int
}

// maxOutboxBytes bounds the results an agent keeps for a coordinator
// that does not acknowledge them. Within the lease a healthy session
// holds a few intervals' worth; past this the agent stops firing (its
// jobs end with the reason, which the coordinator then reads) rather than
// grow without bound or drop a result.
const maxOutboxBytes = 256 << 20

// job is one started assignment.
type job struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
	// peak is the job's share of its schedule's peak rate (req/s).
	peak float64
	// reached counts the arrivals that passed the gate (sent or dropped).
	reached atomic.Uint64
}

// maxJobs bounds the assignments one session plays at once.
const maxJobs = 16

// errLeaseExpired stops a job whose coordinator went silent.
var errLeaseExpired = errors.New("lease expired: no message from the coordinator")

// Session serves one coordinator stream: the handshake, then the
// commands of the run's session until the stream ends. A new run's Hello
// opens a session; a Hello with resume attaches the stream to the run's
// existing session, whose jobs kept firing within their lease since the
// last stream broke, and sends again every result the coordinator has not
// acknowledged.
func (svc *service) Session(srv surgev1.AgentService_SessionServer) error {
	a := svc.a
	st := newStream(srv)
	defer st.end()
	first, err := srv.Recv()
	if err != nil {
		return err
	}
	t2 := a.wallNow().UnixNano()
	h := first.GetHello()
	if h == nil {
		_ = st.sendError(surgev1.ErrorCode_ERROR_CODE_INVALID_ASSIGNMENT, true, "the first message must be hello")
		return status.Error(codes.InvalidArgument, "first message must be hello")
	}
	if h.GetProtocolVersion() != a.cfg.Protocol {
		msg := fmt.Sprintf("protocol mismatch: coordinator %s speaks protocol v%d, agent %s speaks v%d",
			h.GetCoordinatorName(), h.GetProtocolVersion(), a.cfg.Name, a.cfg.Protocol)
		_ = st.sendError(surgev1.ErrorCode_ERROR_CODE_PROTOCOL_MISMATCH, true, "%s", msg)
		a.logf("refused: %s", msg)
		return status.Error(codes.FailedPrecondition, msg)
	}
	var s *session
	if h.GetResume() {
		s = a.session(h.GetRunId())
	} else if busy := a.busyWith(); busy != "" {
		_ = st.sendError(surgev1.ErrorCode_ERROR_CODE_BUSY, true, "agent %s is already serving another coordinator (%s)", a.cfg.Name, busy)
		return status.Error(codes.FailedPrecondition, "agent busy")
	}
	if err := a.handshake(st, h, t2, s != nil); err != nil {
		return err
	}
	if h.GetResume() && s == nil {
		return nil // nothing of that run here: Ready said so
	}
	if s == nil {
		if s, err = a.open(h.GetRunId()); err != nil {
			_ = st.sendError(surgev1.ErrorCode_ERROR_CODE_BUSY, true, "agent %s: %v", a.cfg.Name, err)
			return status.Error(codes.FailedPrecondition, "agent busy")
		}
	}
	if !s.attach(st, h.GetAckedSeq(), h.GetResume()) {
		_ = st.sendError(surgev1.ErrorCode_ERROR_CODE_BUSY, true, "agent %s: the session of run %s has closed", a.cfg.Name, h.GetRunId())
		return status.Error(codes.FailedPrecondition, "session closed")
	}
	return s.serve(st)
}

// serve runs the commands of stream st until it ends, is replaced, or the
// agent shuts down.
func (s *session) serve(st *stream) error {
	ctx := st.srv.Context()
	type received struct {
		m  *surgev1.SessionRequest
		at time.Time
	}
	msgs := make(chan received)
	recvErr := make(chan error, 1)
	go func() { // exits when Recv fails: stream closed by either side, or the handler returned
		for {
			m, err := st.srv.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case msgs <- received{m, time.Now()}:
			case <-ctx.Done():
				recvErr <- ctx.Err()
				return
			}
		}
	}()
	for {
		select {
		case m := <-msgs:
			reply, err := s.command(st, m.m, m.at)
			if err != nil {
				return err
			}
			if reply != nil {
				if err := st.send(reply); err != nil {
					return err
				}
			}
		case err := <-recvErr:
			if errors.Is(err, io.EOF) {
				// The coordinator closed its side: the run is over here.
				s.close(st, "coordinator closed the session")
				return nil
			}
			s.detach(st, err)
			return nil
		case <-st.gone:
			return status.Error(codes.Aborted, "stream replaced or session over")
		case <-s.a.closing:
			n := s.shutdown()
			if n > 0 {
				awaitHangUp(ctx, msgs, recvErr)
			}
			return status.Error(codes.Unavailable, "agent shutting down")
		}
	}
}

// awaitHangUp returns once the coordinator has ended the stream, or the
// stream's context ended (Close stops the server after its grace period).
//
// An agent shutting down has just sent the Done of the jobs it stopped.
// Close leaves the gossip cluster next, and that news travels another path:
// it could reach the coordinator before the Done, and make a clean stop
// look like a death, whose share is then taken over only once the lease
// has run out. The coordinator hangs up once it has read the Done of a job
// stopped early, so waiting for that orders the two.
func awaitHangUp[M any](ctx context.Context, msgs <-chan M, recvErr <-chan error) {
	for {
		select {
		case <-msgs: // a heartbeat or a Stop: nothing left to act on
		case <-recvErr:
			return
		case <-ctx.Done():
			return
		}
	}
}

// session returns the agent's session of run id, or nil.
func (a *Agent) session(id string) *session {
	a.runMu.Lock()
	defer a.runMu.Unlock()
	if s := a.run; s != nil && s.runID == id {
		return s
	}
	return nil
}

// busyWith says why a new run cannot open a session now ("" if it can).
func (a *Agent) busyWith() string {
	a.runMu.Lock()
	defer a.runMu.Unlock()
	if a.run == nil {
		return ""
	}
	return a.run.busy()
}

// open starts the session of run id, replacing one that is over.
func (a *Agent) open(id string) (*session, error) {
	a.runMu.Lock()
	defer a.runMu.Unlock()
	if a.run != nil {
		if why := a.run.busy(); why != "" {
			return nil, errors.New(why)
		}
	}
	s := &session{a: a, runID: id, jobs: map[uint64]*job{}, base: time.Now()}
	s.renew()
	a.run = s
	go s.watch() // exits when the session is over
	return s, nil
}

// busy says what the session is doing that keeps a new run out ("" once
// it is over).
func (s *session) busy() string {
	s.cmdMu.Lock()
	defer s.cmdMu.Unlock()
	if s.over != "" {
		return ""
	}
	s.mu.Lock()
	attached := s.cur != nil
	s.mu.Unlock()
	if attached {
		return "playing run " + s.runID
	}
	return fmt.Sprintf("playing run %s, whose coordinator may resume for another %v", s.runID, max(s.leaseLeft(), 0).Round(time.Millisecond))
}

// handshake answers Hello with Ready (whether the run's session was found,
// for a resume) and, in token mode, checks the coordinator's proof.
func (a *Agent) handshake(st *stream, h *surgev1.Hello, t2 int64, resumed bool) error {
	runID := h.GetRunId()
	nonce := tokenproof.Nonce()
	var proof []byte
	if tok := a.cfg.Token; tok != nil {
		proof = tokenproof.Proof(tok, tokenproof.ProofAgent, runID, h.GetAuthNonce(), nonce)
	}
	if err := st.send(&surgev1.SessionResponse{Msg: &surgev1.SessionResponse_Ready{Ready: &surgev1.Ready{
		ProtocolVersion:             a.cfg.Protocol,
		AgentName:                   a.cfg.Name,
		EchoCoordinatorTimeUnixNano: h.GetCoordinatorTimeUnixNano(),
		ReceiveTimeUnixNano:         t2,
		SendTimeUnixNano:            a.wallNow().UnixNano(),
		Cores:                       uint32(a.cfg.Cores),
		Version:                     Version,
		LeaseNanos:                  int64(a.cfg.Lease),
		AuthNonce:                   nonce,
		AuthProof:                   proof,
		Resumed:                     resumed,
	}}}); err != nil {
		return err
	}
	if a.cfg.Token == nil {
		return nil
	}
	return a.checkCoordinatorProof(st, h, nonce)
}

// checkCoordinatorProof takes the coordinator's AuthProof, the message
// that must follow Ready in token mode, and refuses the session unless it
// proves the coordinator holds the token.
func (a *Agent) checkCoordinatorProof(st *stream, h *surgev1.Hello, nonce []byte) error {
	m, err := st.srv.Recv()
	if err != nil {
		return err
	}
	if p := m.GetAuthProof(); p != nil && tokenproof.VerifyProof(a.cfg.Token, tokenproof.ProofCoordinator, h.GetRunId(), h.GetAuthNonce(), nonce, p.GetProof()) {
		return nil
	}
	msg := fmt.Sprintf("coordinator %s did not prove it holds the shared token: session refused", h.GetCoordinatorName())
	_ = st.sendError(surgev1.ErrorCode_ERROR_CODE_UNAUTHENTICATED, true, "%s", msg)
	a.logf("refused: %s", msg)
	if a.cfg.Refused != nil {
		remote := "unknown"
		if p, ok := peer.FromContext(st.srv.Context()); ok && p.Addr != nil {
			remote = p.Addr.String()
		}
		a.cfg.Refused(remote, errors.New(msg))
	}
	return status.Error(codes.Unauthenticated, msg)
}

// attach makes st the session's stream: the one before it (if any) is
// done, what the coordinator acknowledged (acked) is forgotten, and st's
// pump sends every result after it. False if the session was closed
// meanwhile and may not be resumed.
func (s *session) attach(st *stream, acked uint64, resume bool) bool {
	s.cmdMu.Lock()
	defer s.cmdMu.Unlock()
	if s.over != "" && !resume {
		return false
	}
	if s.over == "" {
		s.renew()
	}
	s.mu.Lock()
	old := s.cur
	s.cur = st
	s.mu.Unlock()
	if old != nil {
		old.end()
	}
	s.ack(acked)
	if resume {
		s.mu.Lock()
		n := len(s.out)
		s.mu.Unlock()
		s.a.logf("coordinator resumed the session of run %s (%d unacknowledged results to send again)", s.runID, n)
	}
	go s.pump(st, acked) // exits when st is gone or a send fails
	return true
}

// detach takes note that stream st broke: the jobs go on within their
// lease, their results wait in the outbox for the coordinator to resume.
func (s *session) detach(st *stream, err error) {
	s.mu.Lock()
	mine := s.cur == st
	if mine {
		s.cur = nil
	}
	s.mu.Unlock()
	if mine {
		s.a.logf("coordinator stream broke (%v); playing on within the lease (%v left) and keeping results for it to resume",
			err, max(s.leaseLeft(), 0).Round(time.Millisecond))
	}
}

// pump sends the results after seq `after` on stream st, in order, then
// each new one as it comes, until st is gone or a send fails (the
// coordinator then resumes from what it acknowledged).
func (s *session) pump(st *stream, after uint64) {
	next := after + 1
	for {
		s.mu.Lock()
		var batch []*surgev1.SessionResponse
		for _, o := range s.out {
			if o.m.GetSeq() >= next {
				batch = append(batch, o.m)
			}
		}
		s.mu.Unlock()
		for _, m := range batch {
			if err := st.send(m); err != nil {
				return
			}
			next = m.GetSeq() + 1
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-st.wake:
		case <-st.gone:
			return
		}
	}
}

// emit queues one result: numbered, kept until acknowledged, and sent on
// the current stream if there is one.
func (s *session) emit(m *surgev1.SessionResponse) {
	size := proto.Size(m)
	s.mu.Lock()
	s.seq++
	m.Seq = s.seq
	s.out = append(s.out, outMsg{m: m, size: size})
	s.outBytes += size
	overflow := s.outBytes > maxOutboxBytes && !s.full
	if overflow {
		s.full = true
	}
	cur := s.cur
	s.mu.Unlock()
	if cur != nil {
		select {
		case cur.wake <- struct{}{}:
		default:
		}
	}
	if overflow {
		go s.cancelJobs(fmt.Errorf("over %d MiB of results not acknowledged by the coordinator: stopping rather than dropping any", maxOutboxBytes>>20))
	}
}

// ack forgets the results up to seq.
func (s *session) ack(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq <= s.acked {
		return
	}
	s.acked = min(seq, s.seq)
	k := 0
	for k < len(s.out) && s.out[k].m.GetSeq() <= s.acked {
		s.outBytes -= s.out[k].size
		k++
	}
	s.out = append(s.out[:0], s.out[k:]...)
}

// watch ends the session when its lease runs out.
func (s *session) watch() {
	t := time.NewTimer(s.a.cfg.Lease)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.a.closing:
			// An attached stream's loop stops the jobs and waits for
			// the coordinator to read their Done; without one, this does.
			s.mu.Lock()
			attached := s.cur != nil
			s.mu.Unlock()
			if !attached {
				s.shutdown()
			}
			return
		}
		s.cmdMu.Lock()
		if s.over != "" {
			s.cmdMu.Unlock()
			return
		}
		if left := s.leaseLeft(); left > 0 {
			s.cmdMu.Unlock()
			t.Reset(left)
			continue
		}
		s.expireLocked()
		s.cmdMu.Unlock()
		return
	}
}

// renew extends the lease from now, unless it has already run out.
func (s *session) renew() bool {
	now := int64(time.Since(s.base))
	if until := s.leaseUntil.Load(); until != 0 && now > until {
		return false
	}
	s.leaseUntil.Store(now + int64(s.a.cfg.Lease))
	return true
}

// leaseLeft is how long the lease has to run (≤ 0 once it ran out).
func (s *session) leaseLeft() time.Duration {
	return time.Duration(s.leaseUntil.Load() - int64(time.Since(s.base)))
}

// gate is every job's check before every send: no firing on an expired
// lease, even in the instant between waking up and noticing it.
func (s *session) gate() error {
	if s.leaseLeft() < 0 {
		return errLeaseExpired
	}
	return nil
}

// expireLocked ends the session on an expired lease: every job stops,
// and no assignment of this run's epochs so far is ever played again
// here. Their Done go out on the stream if one is still attached (the
// coordinator may hear the agent without being heard), and stay for a
// coordinator that resumes otherwise. s.cmdMu is held.
func (s *session) expireLocked() {
	s.a.logf("%v; stopping", errLeaseExpired)
	s.endLocked(errLeaseExpired.Error())
}

// endLocked stops every job with the reason and fences the run's epochs;
// s.cmdMu is held.
func (s *session) endLocked(why string) {
	if s.over != "" {
		return
	}
	s.over = why
	s.a.fence(s.runID, s.epoch)
	s.stopJobs(math.MaxUint64, errors.New(why))
}

// close ends the session at the coordinator's word (or its hang-up): the
// run is over here.
func (s *session) close(st *stream, why string) {
	s.cmdMu.Lock()
	defer s.cmdMu.Unlock()
	s.mu.Lock()
	mine := s.cur == st
	s.mu.Unlock()
	if mine {
		s.endLocked(why)
	}
}

// shutdown stops every job as the agent shuts down; it returns how many
// were running.
func (s *session) shutdown() int {
	s.cmdMu.Lock()
	defer s.cmdMu.Unlock()
	n, _ := s.running()
	s.endLocked("agent shutting down")
	return n
}

// cancelJobs cancels every running job with cause, without waiting.
func (s *session) cancelJobs(cause error) {
	s.cmdMu.Lock()
	defer s.cmdMu.Unlock()
	for _, j := range s.jobs {
		j.cancel(cause)
	}
}

// command acts on one coordinator message of stream st, received at the
// given instant, and returns the reply to send, if any. An error ends the
// stream. Nothing is sent under cmdMu: a send can block for as long as
// the network holds the stream, and a resume must not wait for it.
func (s *session) command(st *stream, m *surgev1.SessionRequest, at time.Time) (*surgev1.SessionResponse, error) {
	s.cmdMu.Lock()
	defer s.cmdMu.Unlock()
	s.mu.Lock()
	mine := s.cur == st
	s.mu.Unlock()
	if !mine {
		return nil, status.Error(codes.Aborted, "stream replaced")
	}
	if hb := m.GetHeartbeat(); hb != nil {
		s.ack(hb.GetAckedSeq())
	}
	if s.over != "" {
		// Over: only its results are served (the pump sends them); the
		// coordinator hangs up once it has them.
		return nil, nil
	}
	// A message that arrives after the lease ran out (the agent was
	// stopped, or the network held it) does not revive it.
	if !s.renew() {
		s.expireLocked()
		return nil, nil
	}
	switch msg := m.GetMsg().(type) {
	case *surgev1.SessionRequest_Heartbeat:
		return &surgev1.SessionResponse{Msg: &surgev1.SessionResponse_HeartbeatAck{HeartbeatAck: &surgev1.HeartbeatAck{
			Seq: msg.Heartbeat.GetSeq(), EchoCoordinatorTimeUnixNano: msg.Heartbeat.GetCoordinatorTimeUnixNano(),
			ReceiveTimeUnixNano: s.a.wall(at).UnixNano(), SendTimeUnixNano: s.a.wallNow().UnixNano(),
			Reached: s.reached(),
		}}}, nil
	case *surgev1.SessionRequest_Assign:
		return s.assign(st, msg.Assign), nil
	case *surgev1.SessionRequest_Start:
		return s.start(msg.Start), nil
	case *surgev1.SessionRequest_Stop:
		why := fmt.Sprintf("stopped by coordinator: %s", msg.Stop.GetReason())
		if msg.Stop.GetEnd() {
			s.endLocked(why)
			return nil, nil
		}
		s.stopJobs(msg.Stop.GetEpoch(), errors.New(why))
		return nil, nil
	case *surgev1.SessionRequest_Hello:
		return errorMsg(surgev1.ErrorCode_ERROR_CODE_INVALID_ASSIGNMENT, false, "unexpected second hello"), nil
	default:
		return errorMsg(surgev1.ErrorCode_ERROR_CODE_INVALID_ASSIGNMENT, false, "unknown message"), nil
	}
}

// reached is every running job's dispatch counter.
func (s *session) reached() []*surgev1.JobReach {
	var out []*surgev1.JobReach
	for e, j := range s.jobs {
		out = append(out, &surgev1.JobReach{Epoch: e, Reached: j.reached.Load()})
	}
	return out
}

// running forgets finished jobs and returns the share of the peak rate of
// those still running.
func (s *session) running() (n int, peak float64) {
	for e, j := range s.jobs {
		select {
		case <-j.done:
			delete(s.jobs, e)
		default:
			n++
			peak += j.peak
		}
	}
	return n, peak
}

func (s *session) assign(st *stream, m *surgev1.Assign) *surgev1.SessionResponse {
	if m.GetEpoch() < s.epoch {
		return nil // a stale command from an older epoch is ignored
	}
	if fenced := s.a.fenced(s.runID); m.GetEpoch() <= fenced {
		return errorMsg(surgev1.ErrorCode_ERROR_CODE_INVALID_ASSIGNMENT, false,
			"epoch %d of run %s is not newer than epoch %d, which this agent stopped when it lost its coordinator", m.GetEpoch(), s.runID, fenced)
	}
	n, peak := s.running()
	if n >= maxJobs {
		return errorMsg(surgev1.ErrorCode_ERROR_CODE_BUSY, false, "assignment for epoch %d while %d jobs are running", m.GetEpoch(), n)
	}
	if _, dup := s.jobs[m.GetEpoch()]; dup {
		return nil // sent again after a resume: it was accepted and started
	}
	a, err := wire.AssignFromProto(m)
	if err == nil {
		err = s.a.cfg.checkLimits(&a.Job, peak)
	}
	if err == nil {
		err = s.a.engine.PreflightJob(st.srv.Context(), &a.Job)
	}
	if err != nil {
		s.pending = nil
		return errorMsg(errorCode(err), false, "%v", err)
	}
	s.epoch = a.Epoch
	s.pending = &a
	var warnings []string
	if w := engine.FileLimitWarning(&a.Job); w != "" {
		warnings = append(warnings, w)
	}
	return &surgev1.SessionResponse{Msg: &surgev1.SessionResponse_Accepted{Accepted: &surgev1.Accepted{
		Epoch: a.Epoch, StageIndex: a.StageIndex, OwnArrivals: a.Job.Share.Count(a.Job.First, a.Job.End),
		Warnings: warnings}}}
}

func (s *session) start(m *surgev1.Start) *surgev1.SessionResponse {
	a := s.pending
	if (a == nil || m.GetEpoch() != a.Epoch) && m.GetEpoch() <= s.epoch && s.epoch > 0 {
		// Sent again after a resume, for an assignment already started
		// (or replaced by a newer one): nothing to do.
		return nil
	}
	if a == nil || m.GetEpoch() != a.Epoch || m.GetStageIndex() != a.StageIndex {
		return errorMsg(surgev1.ErrorCode_ERROR_CODE_INVALID_ASSIGNMENT, false, "start for epoch %d stage %d without a matching accepted assignment", m.GetEpoch(), m.GetStageIndex())
	}
	s.pending = nil
	// Map T0 from wall time onto the monotonic clock once; every deadline
	// after this is monotonic.
	now := time.Now()
	t0 := now.Add(time.Unix(0, m.GetT0UnixNano()).Sub(s.a.wall(now)))
	if d := t0.Sub(now); d > time.Minute {
		return errorMsg(surgev1.ErrorCode_ERROR_CODE_INVALID_ASSIGNMENT, false, "T0 is %v away from now; refusing", d)
	}
	// A stage's first assignment starts at T0, ahead. One taking over
	// from a cut index starts after T0, and its first arrival should still
	// be ahead: when the Start comes late (a starved machine, a slow
	// network), the arrivals overdue by more than an interval are not
	// fired in a burst. They are never reached, so the coordinator counts
	// them lost, in their intervals, and warns; the rest play as assigned.
	if first := t0.Add(a.Job.Schedule.At(a.Job.First)); now.Sub(first) > a.Job.Interval {
		if a.Job.First == 0 {
			return errorMsg(surgev1.ErrorCode_ERROR_CODE_INVALID_ASSIGNMENT, false, "the first arrival of epoch %d fell due %v ago; refusing", a.Epoch, now.Sub(first))
		}
		from := min(max(a.Job.Schedule.CountBefore(now.Add(-a.Job.Interval).Sub(t0)), a.Job.First), a.Job.End)
		s.a.logf("epoch %d started %v after its first arrival fell due: arrivals %d to %d are not fired (counted lost)", a.Epoch, now.Sub(first).Round(time.Millisecond), a.Job.First, from)
		a.Job.First = from
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	j := &job{cancel: cancel, done: make(chan struct{}), peak: a.Job.Schedule.Curve().Peak() * a.Job.Share.Fraction()}
	s.jobs[a.Epoch] = j
	a.Job.Gate = func() error {
		if err := s.gate(); err != nil {
			return err
		}
		j.reached.Add(1)
		return nil
	}
	go func() { // exits when the engine returns (share played, stopped, or emit failed)
		defer close(j.done)
		s.runJob(ctx, *a, t0)
	}()
	return nil
}

// runJob fires one assignment and queues its snapshots and Done (or its
// error) as results.
func (s *session) runJob(ctx context.Context, a wire.Assignment, t0 time.Time) {
	sum, err := s.a.engine.Run(ctx, a.Job, t0, func(iv *metrics.Interval) error {
		if a.Job.First > 0 {
			// A share taken over beside the stage's first assignment:
			// the process's CPU is already reported by that one.
			iv.CPU = 0
		}
		m, err := wire.SnapshotToProto(a.Epoch, a.StageIndex, iv)
		if err != nil {
			return err
		}
		s.emit(&surgev1.SessionResponse{Msg: &surgev1.SessionResponse_Snapshot{Snapshot: m}})
		return nil
	})
	if err != nil {
		s.a.logf("job epoch %d stage %d: %v", a.Epoch, a.StageIndex, err)
		s.emit(errorMsg(surgev1.ErrorCode_ERROR_CODE_INTERNAL, false, "agent %s: job failed: %v", s.a.cfg.Name, err))
		return
	}
	if cause := context.Cause(ctx); cause != nil {
		sum.Stopped = cause.Error()
	}
	s.emit(&surgev1.SessionResponse{Msg: &surgev1.SessionResponse_Done{Done: wire.DoneToProto(wire.Done{
		Epoch: a.Epoch, StageIndex: a.StageIndex, Totals: sum.Totals, InFlightAtEnd: sum.InFlightAtEnd, Stopped: sum.Stopped})}})
}

// stopJobs stops the running jobs of epoch upTo and older, and waits for
// them to finish.
func (s *session) stopJobs(upTo uint64, cause error) {
	if cause == nil {
		cause = context.Canceled
	}
	for e, j := range s.jobs {
		if e <= upTo {
			j.cancel(cause)
			<-j.done
			delete(s.jobs, e)
		}
	}
}
