package resource

import (
	"github.com/surgeload/surge/targets/internal/metricdef"

	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// MaxRequestBodyBytes is how much of a request body an AppServer with no
// Next handler reads; a larger body gets 413 Request Entity Too Large.
const MaxRequestBodyBytes = 1 << 20

// AppServerConfig configures an AppServer.
type AppServerConfig struct {
	// Slots is the concurrency limit: how many requests the server works
	// on at once (its worker threads), from 1 to MaxSlots. A request
	// holds its slot for its whole life, including the time it spends in
	// Next, so the server completes at most Slots ÷ (service time + time
	// in Next) requests per second. Default 16.
	Slots int

	// QueueLimit is how many requests may wait for a slot, first in first
	// out, from 0 to MaxQueueLimit. A request arriving with the queue
	// full gets 503 Service Unavailable with a Retry-After header at once.
	// Default 128.
	QueueLimit int

	// Service is the distribution of the server's own work per request:
	// parsing, business logic, rendering. It is spent holding the
	// request's slot, on a timer, or on Budget when that is set. Default
	// LogNormalP99(10ms, 40ms): saturation at 16 ÷ 10 ms = 1,600 requests
	// per second with the default slots.
	Service Dist

	// Seed fixes the sequence of service times. Default 1.
	Seed uint64

	// Budget, when set, is a resource the server's work is charged to:
	// each request, holding its own slot, also takes a slot of Budget for
	// its service time (queueing there if Budget is busy). Sharing one
	// Budget between an AppServer and a DB models both on one machine,
	// competing for its CPUs (see NewSharedBox). Nil: the work is spent
	// in the request's own slot.
	Budget *Resource

	// Next, when set, handles each request after the server's own work,
	// still holding the request's slot: the calls a real server makes to
	// its cache or database. The request's context carries its virtual
	// time (see Virtual time across components on Resource), so the slot
	// is busy until the simulated work in Next ends in the model. Nil:
	// the server answers 200 "ok".
	Next http.Handler

	// Clock is the time the service times run on (see Simulated time on
	// Resource). Nil: the system clock.
	Clock Clock
}

// DefaultAppServerConfig returns 16 slots, a queue of 128 and log-normal
// service times with mean 10 ms and p99 40 ms, with no budget and no Next.
func DefaultAppServerConfig() AppServerConfig {
	return AppServerConfig{
		Slots:      16,
		QueueLimit: 128,
		Service:    LogNormalP99(10*time.Millisecond, 40*time.Millisecond),
		Seed:       1,
	}
}

// Validate reports every problem with c at once.
func (c AppServerConfig) Validate() error {
	return c.resourceConfig().Validate()
}

func (c AppServerConfig) resourceConfig() ResourceConfig {
	return ResourceConfig{
		Slots:      c.Slots,
		QueueLimit: c.QueueLimit,
		Costs:      map[Op]Dist{OpDefault: c.Service},
		Seed:       c.Seed,
		Clock:      c.Clock,
	}
}

// AppServer is an HTTP application server with a concurrency limit, a
// bounded queue and a service time: the "app" of a reference topology.
//
// GET or HEAD /health answers 200 "ok" at once, taking no slot, so health
// checks see a saturated server as up. Every other request takes a slot
// (queueing first if all are busy), spends a service time drawn from
// Service, then is handled by Next (or answered 200 "ok"), and gives the
// slot back. When the queue is full it answers 503 with Retry-After.
// A request whose client goes away stops waiting and gives its slot back.
//
// Its metrics are those of its slots (see the package documentation):
// utilisation is busy slots ÷ Slots.
type AppServer struct {
	res     *Resource
	service *Sampler
	budget  *Resource
	next    http.Handler
}

var _ http.Handler = (*AppServer)(nil)

// NewAppServer returns the AppServer configured by cfg, named name in its
// metrics, which are registered on reg unless it is nil.
func NewAppServer(name string, cfg AppServerConfig, reg prometheus.Registerer) (*AppServer, error) {
	if err := errors.Join(metricdef.CheckName(name), cfg.Validate()); err != nil {
		return nil, fmt.Errorf("app server %s: %w", name, err)
	}
	res := newResource(cfg.resourceConfig(), name)
	if err := register(reg, res); err != nil {
		return nil, err
	}
	return &AppServer{res: res, service: res.samplers[OpDefault], budget: cfg.Budget, next: cfg.Next}, nil
}

// Resource returns the server's slots, for its Stats.
func (a *AppServer) Resource() *Resource { return a.res }

// ServeHTTP serves one request as described on AppServer.
func (a *AppServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/health" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		writeOK(w)
		return
	}
	ctx := r.Context()
	if a.next != nil {
		if _, ok := VirtualNow(ctx); !ok {
			ctx = WithVirtualTime(ctx, a.res.clock.Now())
			r = r.WithContext(ctx)
		}
	}
	g, err := a.res.acquire(ctx)
	if err != nil {
		WriteError(w, err, a.res.RetryAfter())
		return
	}
	// end is when the request's work ended in virtual time; zero: now,
	// when it gives the slot back.
	var end time.Time
	served := false
	defer func() {
		if end.IsZero() {
			end = a.res.clock.Now()
		}
		a.res.release(g.slot, end, served)
	}()

	cost := a.service.Next()
	if a.budget != nil {
		done, err := a.budget.do(ctx, cost)
		if err != nil {
			WriteError(w, err, a.budget.RetryAfter())
			return
		}
		end = done
	} else {
		done, err := a.res.hold(ctx, g, cost)
		end = done
		if err != nil {
			WriteError(w, err, 0) // the client left
			return
		}
	}
	served = true
	if a.next != nil {
		// The slot is busy until the work in Next ends in virtual time
		// (see Virtual time across components on Resource), or, for a
		// request whose client left, until now.
		a.res.keep(g.slot)
		a.next.ServeHTTP(w, r)
		end = time.Time{}
		if ctx.Err() == nil {
			end, _ = VirtualNow(ctx)
		}
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		body := http.MaxBytesReader(w, r.Body, MaxRequestBodyBytes)
		if _, err := io.Copy(io.Discard, body); err != nil {
			if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
				http.Error(w, "request body larger than 1 MiB", http.StatusRequestEntityTooLarge)
			}
			return // otherwise the client went away mid-body
		}
	}
	writeOK(w)
}

// Header values shared by every response; net/http only reads them.
var (
	contentTypeText = []string{"text/plain; charset=utf-8"}
	okBody          = []byte("ok")
	okLength        = []string{strconv.Itoa(len(okBody))}
)

func writeOK(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = contentTypeText
	h["Content-Length"] = okLength
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(okBody) // a write error means the client left
}

// WriteError answers a request whose operation failed with err, as the
// components of this package do:
//
//   - ErrQueueFull: 503 Service Unavailable with Retry-After set to
//     retryAfter in whole seconds, rounded up, at least 1;
//   - the operation's context ended: 503 without Retry-After (usually
//     the client left and reads nothing, but a handler must not return
//     without an answer: net/http would send an empty 200);
//   - anything else: 500 Internal Server Error.
func WriteError(w http.ResponseWriter, err error, retryAfter time.Duration) {
	switch {
	case errors.Is(err, ErrQueueFull):
		secs := max(1, int64(math.Ceil(retryAfter.Seconds())))
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	default:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}
