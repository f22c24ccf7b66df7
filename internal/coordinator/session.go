package coordinator

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/surgeload/surge/internal/cluster"
	"github.com/surgeload/surge/internal/metrics"
	surgev1 "github.com/surgeload/surge/proto/gen/surge/v1"
	"github.com/surgeload/surge/reporters"
)

// conn is the coordinator's side of one agent's Session stream.
type conn struct {
	name   string
	addr   string
	cc     *grpc.ClientConn
	stream grpc.BidiStreamingClient[surgev1.SessionRequest, surgev1.SessionResponse]
	cancel context.CancelFunc
	sendMu sync.Mutex

	ready  bool
	offset time.Duration // agent clock − coordinator clock
	rtt    time.Duration
	// lost is set once the agent can no longer be used; it is never cleared.
	lost  error
	total reporters.Agent

	stage *agentStage // per-stage state, reset for every stage
}

// agentStage is what one agent did in the current stage.
type agentStage struct {
	own      uint64 // arrivals the agent owns
	accepted bool
	done     bool
	counters metrics.Counters // sum of its snapshots
	inFlight uint64           // in flight at end (from Done) or issued − completed
	stopped  string
}

// inMsg is one message (or the stream's end) from an agent.
type inMsg struct {
	c   *conn
	msg *surgev1.SessionResponse
	err error
}

// dial opens the Session stream of an agent found by gossip and starts its
// receiving goroutine, which forwards to inbox until the stream ends.
func dial(ctx context.Context, m cluster.Member, inbox chan<- inMsg, secure []grpc.DialOption) (*conn, error) {
	opts := []grpc.DialOption{
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 3 * time.Second, PermitWithoutStream: true}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16 << 20)),
	}
	if len(secure) == 0 {
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	cc, err := grpc.NewClient(m.Meta.GRPC, append(opts, secure...)...)
	if err != nil {
		return nil, fmt.Errorf("agent %s at %s: %w", m.Name, m.Meta.GRPC, err)
	}
	// No deadline on the stream context: it would cover the whole run. Nor
	// the run's cancellation: on an interrupt the coordinator still sends
	// Stop and collects the last snapshots; close() ends the stream.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stream, err := surgev1.NewAgentServiceClient(cc).Session(sctx)
	if err != nil {
		cancel()
		cc.Close()
		return nil, fmt.Errorf("agent %s at %s: open session: %w", m.Name, m.Meta.GRPC, err)
	}
	c := &conn{name: m.Name, addr: m.Meta.GRPC, cc: cc, stream: stream, cancel: cancel}
	c.total.Name = m.Name
	go func() { // exits when Recv fails (stream ended or cancelled)
		for {
			msg, err := stream.Recv()
			select {
			case inbox <- inMsg{c: c, msg: msg, err: err}:
			case <-sctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return c, nil
}

func (c *conn) send(m *surgev1.SessionRequest) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if err := c.stream.Send(m); err != nil {
		return fmt.Errorf("agent %s: send: %w", c.name, err)
	}
	return nil
}

// close ends the stream and the connection.
func (c *conn) close() {
	c.sendMu.Lock()
	_ = c.stream.CloseSend()
	c.sendMu.Unlock()
	c.cancel()
	c.cc.Close()
}

func (c *conn) live() bool { return c.ready && c.lost == nil }

// markLost records why the agent can no longer be used.
func (c *conn) markLost(err error) {
	if c.lost == nil {
		c.lost = err
	}
}
