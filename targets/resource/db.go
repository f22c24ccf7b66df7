package resource

import (
	"github.com/surgeload/surge/targets/internal/metricdef"

	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DBConfig configures a DB.
type DBConfig struct {
	// Pool is the connection-pool limit: how many queries run at once,
	// from 1 to MaxSlots. A query holds a connection for its cost. With
	// reads only the DB completes at most Pool ÷ mean read cost queries
	// per second. Default 10.
	Pool int

	// QueueLimit is how many queries may wait for a connection, first in
	// first out, from 0 to MaxQueueLimit; beyond it a query gets
	// ErrQueueFull. Default 256.
	QueueLimit int

	// Read and Write are the cost distributions of a read and of a write:
	// how long each holds its connection (or, with Budget, the budget's
	// slot). Defaults LogNormalP99(2ms, 8ms) and LogNormalP99(5ms, 20ms).
	Read, Write Dist

	// Seed fixes the sequences of costs drawn; reads and writes have
	// sequences of their own. Default 1.
	Seed uint64

	// Budget, when set, is a resource the queries' costs are charged to:
	// each query, holding its connection, also takes a slot of Budget for
	// its cost. Sharing one Budget between an AppServer and a DB puts both
	// on one machine (see NewSharedBox). Nil: the DB has a machine of its
	// own and a query's cost is spent holding its connection.
	Budget *Resource

	// Clock is the time the costs run on (see Simulated time on
	// Resource). Nil: the system clock.
	Clock Clock
}

// DefaultDBConfig returns a pool of 10 connections, a queue of 256,
// log-normal reads with mean 2 ms and p99 8 ms and log-normal writes with
// mean 5 ms and p99 20 ms, and no budget: 5,000 reads or 2,000 writes per
// second at saturation.
func DefaultDBConfig() DBConfig {
	return DBConfig{
		Pool:       10,
		QueueLimit: 256,
		Read:       LogNormalP99(2*time.Millisecond, 8*time.Millisecond),
		Write:      LogNormalP99(5*time.Millisecond, 20*time.Millisecond),
		Seed:       1,
	}
}

// Validate reports every problem with c at once.
func (c DBConfig) Validate() error {
	var errs []error
	if c.Pool < 1 || c.Pool > MaxSlots {
		errs = append(errs, fmt.Errorf("pool must be from 1 to %d (got %d)", MaxSlots, c.Pool))
	}
	if c.QueueLimit < 0 || c.QueueLimit > MaxQueueLimit {
		errs = append(errs, fmt.Errorf("queue limit must be from 0 to %d (got %d)", MaxQueueLimit, c.QueueLimit))
	}
	if err := c.Read.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("read: %w", err))
	}
	if err := c.Write.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("write: %w", err))
	}
	return errors.Join(errs...)
}

// DB is a primary database: a connection pool with a bounded queue in
// front, and separate costs for reads and writes. It satisfies the
// Backend interfaces of the other targets packages (Read and Write with a
// context).
//
// Its metrics are those of its pool (see the package documentation):
// utilisation is connections in use ÷ Pool, pool waits count queries
// that waited for a connection, requests count queries served.
type DB struct {
	pool   *Resource
	budget *Resource
}

// NewDB returns the DB configured by cfg, named name in its metrics,
// which are registered on reg unless it is nil.
func NewDB(name string, cfg DBConfig, reg prometheus.Registerer) (*DB, error) {
	if err := errors.Join(metricdef.CheckName(name), cfg.Validate()); err != nil {
		return nil, fmt.Errorf("db %s: %w", name, err)
	}
	pool := newResource(ResourceConfig{
		Slots:      cfg.Pool,
		QueueLimit: cfg.QueueLimit,
		Costs:      map[Op]Dist{OpRead: cfg.Read, OpWrite: cfg.Write},
		Seed:       cfg.Seed,
		Clock:      cfg.Clock,
	}, name)
	if err := register(reg, pool); err != nil {
		return nil, err
	}
	return &DB{pool: pool, budget: cfg.Budget}, nil
}

// Pool returns the DB's connection pool, for its Stats.
func (db *DB) Pool() *Resource { return db.pool }

// Read runs one read: it takes a connection (waiting in the queue if all
// are in use), spends a read cost, and gives the connection back. It
// returns ErrQueueFull (wrapped) when the queue is full and ctx.Err() if
// ctx ends first.
func (db *DB) Read(ctx context.Context) error { return db.query(ctx, OpRead) }

// Write runs one write, as Read does with the write cost.
func (db *DB) Write(ctx context.Context) error { return db.query(ctx, OpWrite) }

func (db *DB) query(ctx context.Context, op Op) error {
	if db.budget == nil {
		return db.pool.Serve(ctx, op)
	}
	g, err := db.pool.acquire(ctx)
	if err != nil {
		return err
	}
	// The connection is busy until the budget's deadline for the query
	// (now, if it failed).
	end, err := db.budget.do(ctx, db.pool.sample(op))
	if err != nil {
		end = db.pool.clock.Now()
	}
	db.pool.release(g.slot, end, err == nil)
	return err
}

// Handler returns an http.Handler in front of db: GET and HEAD run a Read,
// other methods a Write, answering 200 "ok", or as WriteError says when
// the query fails (503 with Retry-After when the queue is full). It
// serves no /health of its own: put it behind an AppServer (as its Next)
// or another handler that does.
func (db *DB) Handler() http.Handler { return dbHandler{db} }

type dbHandler struct{ db *DB }

func (h dbHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var err error
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		err = h.db.Read(r.Context())
	} else {
		err = h.db.Write(r.Context())
	}
	if err != nil {
		retry := h.db.pool.RetryAfter()
		if h.db.budget != nil {
			retry = max(retry, h.db.budget.RetryAfter())
		}
		WriteError(w, err, retry)
		return
	}
	writeOK(w)
}

// SharedBoxConfig configures a SharedBox: stage 1 of the scaling
// staircase, the app and its database on one machine.
type SharedBoxConfig struct {
	// CPUs is the machine's capacity that the app's work and the
	// database's queries both charge: the slots of the shared budget,
	// from 1 to MaxSlots. A GET costs the machine one app service time
	// plus one read, so the box saturates at CPUs ÷ (mean service + mean
	// read) GETs per second, unless App.Slots or DB.Pool is tighter.
	// Default 2.
	CPUs int

	// CPUQueueLimit is how many operations may wait for a CPU, from 0 to
	// MaxQueueLimit. Each app slot and each connection waits for at most
	// one CPU at a time, so a limit of App.Slots + DB.Pool never rejects
	// and leaves shedding to the app's queue. Default 1024.
	CPUQueueLimit int

	// App configures the application server. Its Budget and Next must be
	// nil: the box charges it to the CPUs and sends its requests to DB
	// (GET and HEAD read, other methods write). Default
	// DefaultAppServerConfig().
	App AppServerConfig

	// DB configures the database. Its Budget must be nil: the box charges
	// it to the CPUs. Default DefaultDBConfig().
	DB DBConfig

	// Clock, when set, is the clock of all three components (see
	// Simulated time on Resource), overriding App.Clock and DB.Clock.
	// Nil: theirs, and the system clock for the CPUs.
	Clock Clock
}

// DefaultSharedBoxConfig returns 2 CPUs with a queue of 1024 and the
// default app server and database: with their default costs a GET costs
// 10 ms + 2 ms of CPU, so the box saturates near 2 ÷ 12 ms ≈ 167 GETs per
// second, well before the app's 16 slots or the database's 10
// connections.
func DefaultSharedBoxConfig() SharedBoxConfig {
	return SharedBoxConfig{
		CPUs:          2,
		CPUQueueLimit: 1024,
		App:           DefaultAppServerConfig(),
		DB:            DefaultDBConfig(),
	}
}

// Validate reports every problem with c at once.
func (c SharedBoxConfig) Validate() error {
	var errs []error
	if c.CPUs < 1 || c.CPUs > MaxSlots {
		errs = append(errs, fmt.Errorf("cpus must be from 1 to %d (got %d)", MaxSlots, c.CPUs))
	}
	if c.CPUQueueLimit < 0 || c.CPUQueueLimit > MaxQueueLimit {
		errs = append(errs, fmt.Errorf("cpu queue limit must be from 0 to %d (got %d)", MaxQueueLimit, c.CPUQueueLimit))
	}
	if err := c.App.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("app: %w", err))
	}
	if c.App.Budget != nil {
		errs = append(errs, errors.New("app: budget must be nil (the box sets it to the shared CPUs)"))
	}
	if c.App.Next != nil {
		errs = append(errs, errors.New("app: next must be nil (the box sends requests to its DB)"))
	}
	if err := c.DB.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("db: %w", err))
	}
	if c.DB.Budget != nil {
		errs = append(errs, errors.New("db: budget must be nil (the box sets it to the shared CPUs)"))
	}
	return errors.Join(errs...)
}

// SharedBox is an AppServer and a DB on one machine: both charge their
// work to one shared budget of CPU slots, so the database's queries slow
// the app down and the other way round. It is an http.Handler: the App's,
// whose requests go on to the DB (GET and HEAD read, others write).
//
// Its three components are named name+"-cpu", name+"-app" and
// name+"-db" in the metrics. Utilisation of the CPUs near 1 while the
// app's slots and the pool have room says the machine is the bottleneck:
// splitting the database onto its own machine is the next step.
type SharedBox struct {
	// CPU is the shared budget.
	CPU *Resource
	// App is the application server, charged to CPU.
	App *AppServer
	// DB is the database, charged to CPU.
	DB *DB
}

var _ http.Handler = (*SharedBox)(nil)

// NewSharedBox returns the SharedBox configured by cfg; see SharedBox for
// the names of its metrics, which are registered on reg unless it is nil.
func NewSharedBox(name string, cfg SharedBoxConfig, reg prometheus.Registerer) (*SharedBox, error) {
	if err := errors.Join(metricdef.CheckName(name), cfg.Validate()); err != nil {
		return nil, fmt.Errorf("shared box %s: %w", name, err)
	}
	if cfg.Clock != nil {
		cfg.App.Clock, cfg.DB.Clock = cfg.Clock, cfg.Clock
	}
	cpu, err := NewResource(name+"-cpu", ResourceConfig{Slots: cfg.CPUs, QueueLimit: cfg.CPUQueueLimit, Clock: cfg.Clock}, reg)
	if err != nil {
		return nil, err
	}
	dbCfg := cfg.DB
	dbCfg.Budget = cpu
	db, err := NewDB(name+"-db", dbCfg, reg)
	if err != nil {
		unregister(reg, cpu)
		return nil, err
	}
	appCfg := cfg.App
	appCfg.Budget = cpu
	appCfg.Next = db.Handler()
	app, err := NewAppServer(name+"-app", appCfg, reg)
	if err != nil {
		unregister(reg, cpu, db.pool)
		return nil, err
	}
	return &SharedBox{CPU: cpu, App: app, DB: db}, nil
}

// ServeHTTP serves a request through the box's App.
func (b *SharedBox) ServeHTTP(w http.ResponseWriter, r *http.Request) { b.App.ServeHTTP(w, r) }
