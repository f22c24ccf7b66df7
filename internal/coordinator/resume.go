package coordinator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"

	"github.com/surgeload/surge/internal/tokenproof"
	"github.com/surgeload/surge/internal/wire"
	surgev1 "github.com/surgeload/surge/proto/gen/surge/v1"
)

// Session resume: when an agent's stream breaks (or falls silent, or
// gossip says the agent is gone) while it plays a stage, the agent is not
// lost yet. It fires on within its lease and keeps every result the
// coordinator has not acknowledged; the coordinator redials it, and on a
// new stream the agent sends those results again. Only an agent not back
// within its lease is lost, and its share taken over from a cut after the
// lease ran out, so no arrival is fired twice.

// redialEvery is the pause between two resume attempts. resumeTimeout
// bounds the first attempt (connect, Hello, Ready, and the token proofs);
// each one that times out gives the next half as long again, up to
// maxResumeTimeout, so that a starved agent (or coordinator) that answers
// slowly is still reached, while the first attempts stay short enough to
// catch a link as soon as it is back.
const (
	redialEvery      = 250 * time.Millisecond
	resumeTimeout    = 2 * time.Second
	maxResumeTimeout = 6 * time.Second
)

// resumedStream is a new stream to an agent whose session it resumed (or
// found gone: ready.resumed false).
type resumedStream struct {
	cc     *grpc.ClientConn
	stream grpc.BidiStreamingClient[surgev1.SessionRequest, surgev1.SessionResponse]
	sctx   context.Context
	cancel context.CancelFunc
	ready  *surgev1.Ready
	nonce  []byte
	t1, t4 int64
}

func (rs *resumedStream) close() {
	rs.cancel()
	rs.cc.Close()
}

// detach takes note that agent cn's stream is broken, or that it is
// silent: the stream is dropped and the session redialled, for as long as
// the stage plays. beat declares the agent lost once its lease has run
// out without a resume.
func (r *run) detach(sr *stageRun, cn *conn, cause string, err error) {
	if cn.lost != nil || !cn.detached.IsZero() {
		return
	}
	cn.detached, cn.detachCause, cn.detachErr = time.Now(), cause, err
	cn.dropStream(false)
	r.logf("stage %s: %v; resuming its session (it fires on until its lease of %v runs out)", sr.name, err, cn.lease)
	ctx, cancel := context.WithCancel(context.Background())
	cn.redialStop = cancel
	go r.redial(ctx, cn) // exits when ctx ends: resumed, or the stage is over
}

// redial tries to resume cn's session every redialEvery until one attempt
// succeeds (handed to the run's loop through the inbox) or ctx ends.
func (r *run) redial(ctx context.Context, cn *conn) {
	bound := resumeTimeout
	for {
		rs, err := r.tryResume(ctx, cn, bound)
		if err == nil {
			select {
			case r.inbox <- inMsg{c: cn, resumed: rs}:
			case <-ctx.Done():
				rs.close()
			}
			return
		}
		if errors.Is(err, errResumeTimeout) {
			bound = min(bound*3/2, maxResumeTimeout)
		}
		select {
		case <-time.After(redialEvery):
		case <-ctx.Done():
			return
		}
	}
}

// errResumeTimeout is a resume attempt that ran out of its time bound.
var errResumeTimeout = errors.New("resume attempt timed out")

// tryResume opens a new stream to cn and asks for its run's session back,
// with the results taken so far acknowledged. It returns the stream once
// the agent answered Ready (and, in token mode, both proved they hold the
// token).
func (r *run) tryResume(ctx context.Context, cn *conn, bound time.Duration) (*resumedStream, error) {
	// One bound on the whole exchange (connect, Hello, Ready, proofs):
	// cancelling the stream's context ends whatever the network holds.
	sctx, cancel := context.WithCancel(context.Background())
	timer := time.AfterFunc(bound, cancel)
	defer timer.Stop()
	stopWatch := context.AfterFunc(ctx, cancel)
	defer stopWatch()
	cc, stream, err := openStream(sctx, cn.name, cn.addr, r.cfg.DialOptions)
	if err != nil {
		cancel()
		return nil, timedOut(sctx, err)
	}
	rs := &resumedStream{cc: cc, stream: stream, sctx: sctx, cancel: cancel, nonce: tokenproof.Nonce()}
	ok := false
	defer func() {
		if !ok {
			rs.close()
		}
	}()
	rs.t1 = time.Now().UnixNano()
	if err := stream.Send(&surgev1.SessionRequest{Msg: &surgev1.SessionRequest_Hello{Hello: &surgev1.Hello{
		ProtocolVersion: wire.ProtocolVersion, CoordinatorName: r.cfg.Name, RunId: r.id,
		CoordinatorTimeUnixNano: rs.t1, AuthNonce: rs.nonce, Resume: true, AckedSeq: cn.acked.Load(),
	}}}); err != nil {
		return nil, timedOut(sctx, err)
	}
	m, err := stream.Recv()
	if err != nil {
		return nil, timedOut(sctx, err)
	}
	rs.t4 = time.Now().UnixNano()
	rd := m.GetReady()
	switch {
	case m.GetError() != nil:
		return nil, fmt.Errorf("agent %s refused the resume: %s", cn.name, m.GetError().GetMessage())
	case rd == nil:
		return nil, fmt.Errorf("agent %s: unexpected answer to hello", cn.name)
	case rd.GetProtocolVersion() != wire.ProtocolVersion:
		return nil, fmt.Errorf("agent %s speaks protocol v%d", cn.name, rd.GetProtocolVersion())
	}
	if tok := r.cfg.Token; tok != nil {
		if !tokenproof.VerifyProof(tok, tokenproof.ProofAgent, r.id, rs.nonce, rd.GetAuthNonce(), rd.GetAuthProof()) {
			return nil, fmt.Errorf("agent %s did not prove it holds the shared token", cn.name)
		}
		if err := stream.Send(&surgev1.SessionRequest{Msg: &surgev1.SessionRequest_AuthProof{AuthProof: &surgev1.AuthProof{
			Proof: tokenproof.Proof(tok, tokenproof.ProofCoordinator, r.id, rs.nonce, rd.GetAuthNonce())}}}); err != nil {
			return nil, err
		}
	}
	if !timer.Stop() {
		return nil, errResumeTimeout
	}
	rs.ready, ok = rd, true
	return rs, nil
}

// resumed puts a resumed stream in place of cn's broken one: the agent
// sends again every result after the last one taken, then goes on. An
// agent that no longer holds the run's session (it restarted) is lost at
// once: nothing of the run fires there.
func (r *run) resumed(sr *stageRun, cn *conn, rs *resumedStream) {
	if cn.detached.IsZero() {
		rs.close() // not waiting for one (a late attempt)
		return
	}
	cn.stopRedial()
	if !rs.ready.GetResumed() {
		rs.close()
		err := fmt.Errorf("agent %s came back without the run's session (it restarted): what it sent since its last report cannot be recovered", cn.name)
		if cn.lost == nil {
			r.agentLost(sr, cn, causeStopped, err)
		}
		cn.detached = time.Time{}
		return
	}
	cn.sendMu.Lock()
	cn.cc, cn.stream, cn.cancel = rs.cc, rs.stream, rs.cancel
	cn.gen++
	gen := cn.gen
	cn.sendMu.Unlock()
	go cn.receive(rs.sctx, gen, rs.stream, r.inbox) // exits when the stream ends
	now := time.Now()
	cn.clock.add(rs.t1, rs.ready.GetReceiveTimeUnixNano(), rs.ready.GetSendTimeUnixNano(), rs.t4)
	away := now.Sub(cn.detached)
	cn.detached, cn.heard = time.Time{}, now
	cn.total.Resumes++
	if cn.lost != nil {
		r.logf("stage %s: agent %s came back %v after it was lost; taking the results it kept", sr.name, cn.name, away.Round(time.Millisecond))
		return
	}
	r.warn("stage %s: %v; its session was resumed %v later, within its lease: nothing lost", sr.name, cn.detachErr, away.Round(time.Millisecond))
	if err := cn.ping(0); err != nil {
		r.detach(sr, cn, causeStream, err)
		return
	}
	// What may not have reached it before the break: an assignment it
	// has not accepted, a start of one it accepted. It answers both again,
	// or ignores a start it already has.
	for _, j := range cn.stage.jobs {
		var err error
		switch {
		case j.done:
		case !j.accepted:
			err = r.assign(cn, sr, j)
		case j.counters.Intended == 0:
			err = r.start(cn, sr, j)
		}
		if err != nil {
			r.detach(sr, cn, causeStream, err)
			return
		}
	}
}

// release ends the session of an agent that was lost, came back and has
// sent every result it kept: nothing more is expected of it this run.
func (r *run) release(cn *conn) {
	cn.close()
}

// stale reports whether in is of no use outside a stage's collection: a
// message of a stream since replaced, or a resumed stream nobody waits
// for any more (which it closes).
func stale(in inMsg) bool {
	if in.resumed != nil {
		in.resumed.close()
		return true
	}
	return in.gen != in.c.gen
}

// keepAlive pings every live agent once per heartbeat while no stage
// plays (between connecting and the first stage, while a stage's report
// is built, between stages), so that no agent's lease runs out then; the
// acks wait in the inbox for the next stage. halt stops it and waits:
// collect pings from then on.
func (r *run) keepAlive() (halt func()) {
	live := r.live()
	stop, done := make(chan struct{}), make(chan struct{})
	go func() { // exits on halt
		defer close(done)
		t := time.NewTicker(r.cfg.Heartbeat)
		defer t.Stop()
		for seq := uint64(1); ; seq++ {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			for _, c := range live {
				_ = c.ping(seq) // a broken stream shows at the next assignment
			}
		}
	}()
	return func() {
		close(stop)
		<-done
	}
}

// timedOut is err, or errResumeTimeout when the attempt's context ended
// (its time bound, or the redialling stopped) and err is that ending.
func timedOut(sctx context.Context, err error) error {
	if sctx.Err() != nil {
		return fmt.Errorf("%w: %w", errResumeTimeout, err)
	}
	return err
}
