package agent

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

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

// session is one coordinator's stream.
type session struct {
	a      *Agent
	stream surgev1.AgentService_SessionServer
	runID  string

	sendMu sync.Mutex

	pending *wire.Assignment // accepted, waiting for Start
	epoch   uint64           // highest epoch seen

	// jobs are the assignments started and not yet stopped, by epoch: a
	// stage's first assignment, and those taking over a lost agent's
	// share beside it. Only the session loop touches the map.
	jobs map[uint64]*job

	// base and leaseUntil (nanoseconds since base, monotonic) are the
	// lease: renewed by every coordinator message, read by every job
	// before every send.
	base       time.Time
	leaseUntil atomic.Int64
}

// job is one started assignment.
type job struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
	// peak is the job's share of its schedule's peak rate (req/s).
	peak float64
}

// maxJobs bounds the assignments one session plays at once.
const maxJobs = 16

func (s *session) send(m *surgev1.SessionResponse) error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	return s.stream.Send(m)
}

func (s *session) sendError(code surgev1.ErrorCode, fatal bool, format string, args ...any) error {
	return s.send(&surgev1.SessionResponse{Msg: &surgev1.SessionResponse_Error{Error: &surgev1.Error{
		Code: code, Message: fmt.Sprintf(format, args...), Fatal: fatal}}})
}

// errLeaseExpired stops a job whose coordinator went silent.
var errLeaseExpired = errors.New("lease expired: no message from the coordinator")

// Session serves one coordinator stream: handshake, then assignments until
// the stream ends or the lease expires. Any running job is stopped and
// waited for before Session returns.
func (svc *service) Session(stream surgev1.AgentService_SessionServer) error {
	a := svc.a
	s := &session{a: a, stream: stream, jobs: map[uint64]*job{}, base: time.Now()}
	if !a.busy.CompareAndSwap(false, true) {
		_ = s.sendError(surgev1.ErrorCode_ERROR_CODE_BUSY, true, "agent %s is already serving another coordinator", a.cfg.Name)
		return status.Error(codes.FailedPrecondition, "agent busy")
	}
	defer a.busy.Store(false)
	if err := s.handshake(); err != nil {
		return err
	}
	s.renew()

	ctx := stream.Context()
	type received struct {
		m  *surgev1.SessionRequest
		at time.Time
	}
	msgs := make(chan received)
	recvErr := make(chan error, 1)
	go func() { // exits when Recv fails: stream closed by either side
		for {
			m, err := stream.Recv()
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
	defer s.stopJobs(math.MaxUint64, nil)

	// The timer only wakes the loop; leaseUntil is the lease. Renewals
	// move leaseUntil, and a wake-up before it just sleeps again.
	lease := time.NewTimer(a.cfg.Lease)
	defer lease.Stop()
	for {
		select {
		case m := <-msgs:
			// A message that arrives after the lease ran out (the agent
			// was stopped, or the network held it) does not revive it.
			if !s.renew() {
				return s.expire()
			}
			if err := s.handle(m.m, m.at); err != nil {
				return err
			}
		case err := <-recvErr:
			s.a.fence(s.runID, s.epoch)
			s.stopJobs(math.MaxUint64, fmt.Errorf("coordinator stream ended: %w", err))
			return nil
		case <-s.a.closing:
			n, _ := s.running()
			s.stopJobs(math.MaxUint64, errors.New("agent shutting down"))
			if n > 0 {
				awaitHangUp(ctx, msgs, recvErr)
			}
			return status.Error(codes.Unavailable, "agent shutting down")
		case <-lease.C:
			if s.leaseLeft() > 0 {
				lease.Reset(s.leaseLeft())
				continue
			}
			return s.expire()
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

// expire ends the session on an expired lease: every job stops, and no
// assignment of this run's epochs so far is ever played again here.
func (s *session) expire() error {
	s.a.logf("%v; stopping", errLeaseExpired)
	s.a.fence(s.runID, s.epoch)
	s.stopJobs(math.MaxUint64, errLeaseExpired)
	return status.Error(codes.DeadlineExceeded, errLeaseExpired.Error())
}

// handshake reads Hello, checks the protocol version and answers Ready.
func (s *session) handshake() error {
	first, err := s.stream.Recv()
	if err != nil {
		return err
	}
	t2 := s.a.wallNow().UnixNano()
	h := first.GetHello()
	if h == nil {
		_ = s.sendError(surgev1.ErrorCode_ERROR_CODE_INVALID_ASSIGNMENT, true, "the first message must be hello")
		return status.Error(codes.InvalidArgument, "first message must be hello")
	}
	if h.GetProtocolVersion() != s.a.cfg.Protocol {
		msg := fmt.Sprintf("protocol mismatch: coordinator %s speaks protocol v%d, agent %s speaks v%d",
			h.GetCoordinatorName(), h.GetProtocolVersion(), s.a.cfg.Name, s.a.cfg.Protocol)
		_ = s.sendError(surgev1.ErrorCode_ERROR_CODE_PROTOCOL_MISMATCH, true, "%s", msg)
		s.a.logf("refused: %s", msg)
		return status.Error(codes.FailedPrecondition, msg)
	}
	s.runID = h.GetRunId()
	nonce := tokenproof.Nonce()
	var proof []byte
	if tok := s.a.cfg.Token; tok != nil {
		proof = tokenproof.Proof(tok, tokenproof.ProofAgent, s.runID, h.GetAuthNonce(), nonce)
	}
	if err := s.send(&surgev1.SessionResponse{Msg: &surgev1.SessionResponse_Ready{Ready: &surgev1.Ready{
		ProtocolVersion:             s.a.cfg.Protocol,
		AgentName:                   s.a.cfg.Name,
		EchoCoordinatorTimeUnixNano: h.GetCoordinatorTimeUnixNano(),
		ReceiveTimeUnixNano:         t2,
		SendTimeUnixNano:            s.a.wallNow().UnixNano(),
		Cores:                       uint32(s.a.cfg.Cores),
		Version:                     Version,
		LeaseNanos:                  int64(s.a.cfg.Lease),
		AuthNonce:                   nonce,
		AuthProof:                   proof,
	}}}); err != nil {
		return err
	}
	if s.a.cfg.Token == nil {
		return nil
	}
	return s.checkCoordinatorProof(h, nonce)
}

// checkCoordinatorProof takes the coordinator's AuthProof, the message
// that must follow Ready in token mode, and refuses the session unless it
// proves the coordinator holds the token.
func (s *session) checkCoordinatorProof(h *surgev1.Hello, nonce []byte) error {
	m, err := s.stream.Recv()
	if err != nil {
		return err
	}
	if p := m.GetAuthProof(); p != nil && tokenproof.VerifyProof(s.a.cfg.Token, tokenproof.ProofCoordinator, s.runID, h.GetAuthNonce(), nonce, p.GetProof()) {
		return nil
	}
	msg := fmt.Sprintf("coordinator %s did not prove it holds the shared token: session refused", h.GetCoordinatorName())
	_ = s.sendError(surgev1.ErrorCode_ERROR_CODE_UNAUTHENTICATED, true, "%s", msg)
	s.a.logf("refused: %s", msg)
	if s.a.cfg.Refused != nil {
		remote := "unknown"
		if p, ok := peer.FromContext(s.stream.Context()); ok && p.Addr != nil {
			remote = p.Addr.String()
		}
		s.a.cfg.Refused(remote, errors.New(msg))
	}
	return status.Error(codes.Unauthenticated, msg)
}

// handle acts on one coordinator message, received at the given instant.
// An error ends the session.
func (s *session) handle(m *surgev1.SessionRequest, at time.Time) error {
	switch msg := m.GetMsg().(type) {
	case *surgev1.SessionRequest_Heartbeat:
		return s.send(&surgev1.SessionResponse{Msg: &surgev1.SessionResponse_HeartbeatAck{HeartbeatAck: &surgev1.HeartbeatAck{
			Seq: msg.Heartbeat.GetSeq(), EchoCoordinatorTimeUnixNano: msg.Heartbeat.GetCoordinatorTimeUnixNano(),
			ReceiveTimeUnixNano: s.a.wall(at).UnixNano(), SendTimeUnixNano: s.a.wallNow().UnixNano(),
		}}})
	case *surgev1.SessionRequest_Assign:
		return s.assign(msg.Assign)
	case *surgev1.SessionRequest_Start:
		return s.start(msg.Start)
	case *surgev1.SessionRequest_Stop:
		s.stopJobs(msg.Stop.GetEpoch(), fmt.Errorf("stopped by coordinator: %s", msg.Stop.GetReason()))
		return nil
	case *surgev1.SessionRequest_Hello:
		return s.sendError(surgev1.ErrorCode_ERROR_CODE_INVALID_ASSIGNMENT, false, "unexpected second hello")
	default:
		return s.sendError(surgev1.ErrorCode_ERROR_CODE_INVALID_ASSIGNMENT, false, "unknown message")
	}
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

func (s *session) assign(m *surgev1.Assign) error {
	if m.GetEpoch() < s.epoch {
		return nil // a stale command from an older epoch is ignored
	}
	if fenced := s.a.fenced(s.runID); m.GetEpoch() <= fenced {
		return s.sendError(surgev1.ErrorCode_ERROR_CODE_INVALID_ASSIGNMENT, false,
			"epoch %d of run %s is not newer than epoch %d, which this agent stopped when it lost its coordinator", m.GetEpoch(), s.runID, fenced)
	}
	n, peak := s.running()
	if n >= maxJobs {
		return s.sendError(surgev1.ErrorCode_ERROR_CODE_BUSY, false, "assignment for epoch %d while %d jobs are running", m.GetEpoch(), n)
	}
	if _, dup := s.jobs[m.GetEpoch()]; dup {
		return s.sendError(surgev1.ErrorCode_ERROR_CODE_BUSY, false, "epoch %d is already running", m.GetEpoch())
	}
	a, err := wire.AssignFromProto(m)
	if err == nil {
		err = s.a.cfg.checkLimits(&a.Job, peak)
	}
	if err == nil {
		err = s.a.engine.PreflightJob(s.stream.Context(), &a.Job)
	}
	if err != nil {
		s.pending = nil
		return s.sendError(errorCode(err), false, "%v", err)
	}
	s.epoch = a.Epoch
	s.pending = &a
	var warnings []string
	if w := engine.FileLimitWarning(&a.Job); w != "" {
		warnings = append(warnings, w)
	}
	return s.send(&surgev1.SessionResponse{Msg: &surgev1.SessionResponse_Accepted{Accepted: &surgev1.Accepted{
		Epoch: a.Epoch, StageIndex: a.StageIndex, OwnArrivals: a.Job.Share.Count(a.Job.First, a.Job.End),
		Warnings: warnings}}})
}

func (s *session) start(m *surgev1.Start) error {
	a := s.pending
	if a == nil || m.GetEpoch() != a.Epoch || m.GetStageIndex() != a.StageIndex {
		return s.sendError(surgev1.ErrorCode_ERROR_CODE_INVALID_ASSIGNMENT, false, "start for epoch %d stage %d without a matching accepted assignment", m.GetEpoch(), m.GetStageIndex())
	}
	s.pending = nil
	// Map T0 from wall time onto the monotonic clock once; every deadline
	// after this is monotonic.
	now := time.Now()
	t0 := now.Add(time.Unix(0, m.GetT0UnixNano()).Sub(s.a.wall(now)))
	if d := t0.Sub(now); d > time.Minute {
		return s.sendError(surgev1.ErrorCode_ERROR_CODE_INVALID_ASSIGNMENT, false, "T0 is %v away from now; refusing", d)
	}
	// An assignment taking over from a cut index starts after T0; its
	// first arrival must still be ahead (within an interval).
	if first := t0.Add(a.Job.Schedule.At(a.Job.First)); now.Sub(first) > a.Job.Interval {
		return s.sendError(surgev1.ErrorCode_ERROR_CODE_INVALID_ASSIGNMENT, false, "the first arrival of epoch %d fell due %v ago; refusing", a.Epoch, now.Sub(first))
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	j := &job{cancel: cancel, done: make(chan struct{}), peak: a.Job.Schedule.Curve().Peak() * a.Job.Share.Fraction()}
	s.jobs[a.Epoch] = j
	a.Job.Gate = s.gate
	go func() { // exits when the engine returns (share played, stopped, or emit failed)
		defer close(j.done)
		s.runJob(ctx, *a, t0)
	}()
	return nil
}

// runJob fires one assignment and reports its snapshots and Done.
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
		return s.send(&surgev1.SessionResponse{Msg: &surgev1.SessionResponse_Snapshot{Snapshot: m}})
	})
	if err != nil {
		s.a.logf("job epoch %d stage %d: %v", a.Epoch, a.StageIndex, err)
		_ = s.sendError(surgev1.ErrorCode_ERROR_CODE_INTERNAL, false, "agent %s: job failed: %v", s.a.cfg.Name, err)
		return
	}
	if cause := context.Cause(ctx); cause != nil {
		sum.Stopped = cause.Error()
	}
	_ = s.send(&surgev1.SessionResponse{Msg: &surgev1.SessionResponse_Done{Done: wire.DoneToProto(wire.Done{
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
