package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/surgeload/surge/internal/metrics"
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

	sendMu sync.Mutex

	pending *wire.Assignment // accepted, waiting for Start
	epoch   uint64           // highest epoch seen

	jobCancel context.CancelCauseFunc
	jobDone   chan struct{}
}

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
	s := &session{a: a, stream: stream}
	if !a.busy.CompareAndSwap(false, true) {
		_ = s.sendError(surgev1.ErrorCode_ERROR_CODE_BUSY, true, "agent %s is already serving another coordinator", a.cfg.Name)
		return status.Error(codes.FailedPrecondition, "agent busy")
	}
	defer a.busy.Store(false)
	if err := s.handshake(); err != nil {
		return err
	}

	ctx := stream.Context()
	msgs := make(chan *surgev1.SessionRequest)
	recvErr := make(chan error, 1)
	go func() { // exits when Recv fails: stream closed by either side
		for {
			m, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
				recvErr <- ctx.Err()
				return
			}
		}
	}()
	defer s.stopJob(nil)

	lease := time.NewTimer(a.cfg.Lease)
	defer lease.Stop()
	for {
		select {
		case m := <-msgs:
			lease.Reset(a.cfg.Lease)
			if err := s.handle(m); err != nil {
				return err
			}
		case err := <-recvErr:
			s.stopJob(fmt.Errorf("coordinator stream ended: %w", err))
			return nil
		case <-s.a.closing:
			s.stopJob(errors.New("agent shutting down"))
			return status.Error(codes.Unavailable, "agent shutting down")
		case <-lease.C:
			a.logf("%v; stopping", errLeaseExpired)
			s.stopJob(errLeaseExpired)
			return status.Error(codes.DeadlineExceeded, errLeaseExpired.Error())
		}
	}
}

// handshake reads Hello, checks the protocol version and answers Ready.
func (s *session) handshake() error {
	first, err := s.stream.Recv()
	if err != nil {
		return err
	}
	t2 := time.Now().UnixNano()
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
	return s.send(&surgev1.SessionResponse{Msg: &surgev1.SessionResponse_Ready{Ready: &surgev1.Ready{
		ProtocolVersion:             s.a.cfg.Protocol,
		AgentName:                   s.a.cfg.Name,
		EchoCoordinatorTimeUnixNano: h.GetCoordinatorTimeUnixNano(),
		ReceiveTimeUnixNano:         t2,
		SendTimeUnixNano:            time.Now().UnixNano(),
		Cores:                       uint32(s.a.cfg.Cores),
		Version:                     Version,
	}}})
}

// handle acts on one coordinator message. An error ends the session.
func (s *session) handle(m *surgev1.SessionRequest) error {
	switch msg := m.GetMsg().(type) {
	case *surgev1.SessionRequest_Heartbeat:
		return nil
	case *surgev1.SessionRequest_Assign:
		return s.assign(msg.Assign)
	case *surgev1.SessionRequest_Start:
		return s.start(msg.Start)
	case *surgev1.SessionRequest_Stop:
		if msg.Stop.GetEpoch() >= s.epoch {
			s.stopJob(fmt.Errorf("stopped by coordinator: %s", msg.Stop.GetReason()))
		}
		return nil
	case *surgev1.SessionRequest_Hello:
		return s.sendError(surgev1.ErrorCode_ERROR_CODE_INVALID_ASSIGNMENT, false, "unexpected second hello")
	default:
		return s.sendError(surgev1.ErrorCode_ERROR_CODE_INVALID_ASSIGNMENT, false, "unknown message")
	}
}

func (s *session) assign(m *surgev1.Assign) error {
	if m.GetEpoch() < s.epoch {
		return nil // a stale command from an older epoch is ignored
	}
	if s.jobDone != nil {
		select {
		case <-s.jobDone:
		default:
			return s.sendError(surgev1.ErrorCode_ERROR_CODE_BUSY, false, "assignment for epoch %d while a job is running", m.GetEpoch())
		}
	}
	a, err := wire.AssignFromProto(m)
	if err == nil {
		err = s.a.cfg.checkLimits(&a.Job)
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
	return s.send(&surgev1.SessionResponse{Msg: &surgev1.SessionResponse_Accepted{Accepted: &surgev1.Accepted{
		Epoch: a.Epoch, StageIndex: a.StageIndex, OwnArrivals: a.Job.Share.Count(a.Job.First, a.Job.End)}}})
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
	t0 := now.Add(time.Unix(0, m.GetT0UnixNano()).Sub(now))
	if d := t0.Sub(now); d > time.Minute || d < -a.Job.Interval {
		return s.sendError(surgev1.ErrorCode_ERROR_CODE_INVALID_ASSIGNMENT, false, "T0 is %v away from now; refusing", d)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan struct{})
	s.jobCancel, s.jobDone = cancel, done
	go func() { // exits when the engine returns (share played, stopped, or emit failed)
		defer close(done)
		s.runJob(ctx, *a, t0)
	}()
	return nil
}

// runJob fires one assignment and reports its snapshots and Done.
func (s *session) runJob(ctx context.Context, a wire.Assignment, t0 time.Time) {
	sum, err := s.a.engine.Run(ctx, a.Job, t0, func(iv *metrics.Interval) error {
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

// stopJob stops the running job, if any, and waits for it to finish.
func (s *session) stopJob(cause error) {
	if s.jobCancel == nil {
		return
	}
	if cause == nil {
		cause = context.Canceled
	}
	s.jobCancel(cause)
	<-s.jobDone
}
