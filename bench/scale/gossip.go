package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/surgeload/surge/internal/cluster"
)

// Profiles: how each node's memberlist is configured.
const (
	// profileLAN is memberlist.DefaultLANConfig as it comes, with no
	// delegate but an event counter: the library's own baseline.
	profileLAN = "memberlist-lan"
	// profileFleet is cluster.Start on a non-loopback address, as on a
	// fleet of machines: Surge's memberlist profile (cluster's
	// fleetConfig), metadata, delegates and catch-up pulls.
	profileFleet = "surge-fleet"
	// profileLoopback is cluster.Start on 127.0.0.0/8, what agents on one
	// machine (bench/scale.sh's 200 processes) get: the same profile
	// since cluster picks one for both.
	profileLoopback = "surge-loopback"
	// profileFast is profileLoopback with FastFailureDetection (tests).
	profileFast = "surge-fast"
)

var profiles = []string{profileLAN, profileFleet, profileLoopback, profileFast}

// gossipConfig is one convergence run.
type gossipConfig struct {
	// Nodes is the cluster's size, the seed included.
	Nodes int
	// Profile is one of profiles.
	Profile string
	// Transport is "mem" (memNet, in memory) or "udp" (memberlist's own
	// UDP and TCP on 127.0.0.1, one socket pair per node).
	Transport string
	// JoinParallel is how many nodes join the seed at once. memberlist
	// refuses a push/pull beyond 128 at once on one node; a refused join
	// is tried again after JoinRetry, as an agent does (every 2 s).
	JoinParallel int
	JoinRetry    time.Duration
	// Timeout bounds the wait for convergence (from the first join), in
	// real time.
	Timeout time.Duration
	// Poll is how often every node's view is read: the resolution of
	// the times reported.
	Poll time.Duration
	// Settle is how long to keep watching after convergence for a member
	// declared dead that is not (a sign the cluster is overloaded).
	Settle time.Duration
	// Slow stretches every interval and timeout by this factor (1: as
	// configured; cluster.Config.TimeScale for Surge's profiles). 1,000 nodes in one
	// process need more CPU than 2 shared cores have (every node
	// compresses and decodes its own gossip); slowed down K times the
	// protocol runs the same rounds with a K-th of the CPU per second,
	// and the times it reports are divided by K back into protocol time,
	// what a fleet whose nodes each have their own CPU would see. Joins
	// are not stretched: they are CPU work, measured as they come.
	Slow int
	// SurgeMeta makes memberlist-lan nodes advertise an agent's metadata
	// as cluster.Start encodes it, so their gossip carries the bytes
	// Surge's does (cluster.Start on a fleet is DefaultLANConfig plus this
	// metadata and delegates that add no traffic).
	SurgeMeta bool
}

func defaultGossipConfig() gossipConfig {
	return gossipConfig{Nodes: 1000, Profile: profileFleet, Transport: "mem", JoinParallel: 64,
		JoinRetry: 200 * time.Millisecond, Timeout: 60 * time.Second, Poll: 20 * time.Millisecond, Settle: 3 * time.Second, Slow: 1}
}

func (c gossipConfig) validate() error {
	var errs []error
	if c.Nodes < 2 || c.Nodes > 60000 {
		errs = append(errs, fmt.Errorf("-nodes %d: want 2 to 60000", c.Nodes))
	}
	if !slices.Contains(profiles, c.Profile) {
		errs = append(errs, fmt.Errorf("-profile %q: want one of %v", c.Profile, profiles))
	}
	switch c.Transport {
	case "mem":
	case "udp":
		if c.Profile == profileFleet {
			errs = append(errs, fmt.Errorf("-profile %s needs a non-loopback address: use -transport mem", profileFleet))
		}
	default:
		errs = append(errs, fmt.Errorf("-transport %q: want mem or udp", c.Transport))
	}
	if c.JoinParallel < 1 {
		errs = append(errs, fmt.Errorf("-join-parallel %d: want at least 1", c.JoinParallel))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"-join-retry", c.JoinRetry}, {"-timeout", c.Timeout}, {"-poll", c.Poll}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s %v: want > 0", d.name, d.v))
		}
	}
	if c.Slow < 1 || c.Slow > 100 {
		errs = append(errs, fmt.Errorf("-slow %d: want 1 to 100", c.Slow))
	}
	if c.SurgeMeta && c.Profile != profileLAN {
		errs = append(errs, fmt.Errorf("-surge-meta applies to -profile %s only (Surge's profiles carry Surge's metadata)", profileLAN))
	}
	if c.Settle < 0 {
		errs = append(errs, fmt.Errorf("-settle %v: want >= 0", c.Settle))
	}
	return errors.Join(errs...)
}

// gossipResult is what one run measured; times in seconds from the first
// join, -1 when it did not happen within the timeout.
type gossipResult struct {
	Nodes     int    `json:"nodes"`
	Profile   string `json:"profile"`
	Transport string `json:"transport"`
	// Slow and SurgeMeta are the run's gossipConfig fields. With Slow > 1
	// the gossip times (full_*, converged_s, complete_each_s) are
	// protocol time: real time divided by Slow; the others are real time.
	Slow      int  `json:"slow"`
	SurgeMeta bool `json:"surge_meta,omitempty"`
	// CreateS is how long starting every node took (before any join).
	CreateS float64 `json:"create_s"`
	// JoinsS is when the last join returned; JoinRetries how many joins
	// were refused and tried again.
	JoinsS      float64 `json:"joins_s"`
	JoinRetries int     `json:"join_retries"`
	// SeedS is when the seed (the coordinator, on a fleet) saw every
	// other node: real time, even with Slow (it learns them by joins).
	SeedS float64 `json:"seed_s"`
	// FullP50S .. ConvergedS: when the nodes' views became complete (each
	// node sees every other one); ConvergedS is the last, the cluster's
	// convergence.
	FullP50S   float64 `json:"full_p50_s"`
	FullP90S   float64 `json:"full_p90_s"`
	FullP99S   float64 `json:"full_p99_s"`
	ConvergedS float64 `json:"converged_s"`
	Converged  bool    `json:"converged"`
	// AfterJoinsS is ConvergedS less the time the joins took (JoinsS,
	// divided by Slow): how long the views took to become complete once
	// the last member had joined, in protocol time; -1 when not converged.
	AfterJoinsS float64 `json:"after_joins_s"`
	// Complete is how many nodes saw every other one at the end; MinView
	// the smallest view then (members besides itself).
	Complete int `json:"complete"`
	// CompleteEach is how many nodes saw every other one at each whole
	// second from the first join (index 0 is 1 s).
	CompleteEach []int `json:"complete_each_s"`
	MinView      int   `json:"min_view"`
	// FalseDeaths counts members declared gone (by anyone) while every
	// node was alive: from the first join to the end of the settle time.
	FalseDeaths int `json:"false_deaths"`
	// Dropped is the packets memNet dropped at a full inbox.
	Dropped uint64 `json:"packets_dropped"`
	// Log counts memberlist's own log lines: every [WARN] and [ERR], and
	// among them the two that say it shed work (a message dropped at a
	// full handler queue, a push/pull refused past 128 at once).
	Log logCounts `json:"memberlist_log"`
	// CPUS is this process's CPU (user+sys) from the first join to
	// convergence (or the timeout); CreateCPUS that of starting the
	// nodes. PeakRSSMB is the process's peak resident memory.
	CPUS       float64 `json:"cpu_s"`
	CreateCPUS float64 `json:"create_cpu_s"`
	PeakRSSMB  float64 `json:"peak_rss_mb"`
	Goroutines int     `json:"goroutines"`
	Procs      int     `json:"gomaxprocs"`
}

// gossipNode is one member, whatever its profile.
type gossipNode interface {
	addr() string
	join(seed string) error
	// view returns how many other members the node sees now and how many
	// left events it saw since the last call. Called from one goroutine.
	view() (others, left int)
	shutdown()
}

func runGossip(args []string, stdout, stderr io.Writer) int {
	cfg := defaultGossipConfig()
	fs := flag.NewFlagSet("gossip", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.Nodes, "nodes", cfg.Nodes, "cluster size, seed included")
	fs.StringVar(&cfg.Profile, "profile", cfg.Profile, fmt.Sprintf("memberlist configuration: one of %v", profiles))
	fs.StringVar(&cfg.Transport, "transport", cfg.Transport, "mem (in-memory network) or udp (real sockets on 127.0.0.1)")
	fs.IntVar(&cfg.JoinParallel, "join-parallel", cfg.JoinParallel, "nodes joining the seed at once")
	fs.DurationVar(&cfg.JoinRetry, "join-retry", cfg.JoinRetry, "wait before a refused join is tried again")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "give up converging after this long")
	fs.DurationVar(&cfg.Poll, "poll", cfg.Poll, "how often every node's view is read")
	fs.DurationVar(&cfg.Settle, "settle", cfg.Settle, "keep watching this long after convergence for false deaths")
	fs.IntVar(&cfg.Slow, "slow", cfg.Slow, "stretch every interval and timeout K times, report times divided by K")
	fs.BoolVar(&cfg.SurgeMeta, "surge-meta", cfg.SurgeMeta, "memberlist-lan only: advertise an agent's metadata as Surge encodes it")
	verbose := fs.Bool("v", false, "print progress on stderr every second")
	gogc := fs.Int("gogc", 100, "the Go collector's GOGC for this run (memory is cheap here, CPU is not: 1,000 nodes in one process on 2 cores)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintf(stderr, "scale gossip: %v\n", err)
		return 2
	}
	debug.SetGCPercent(*gogc)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "scale gossip: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "scale gossip: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	var progress io.Writer
	if *verbose {
		progress = stderr
	}
	res, err := converge(context.Background(), cfg, progress)
	if err != nil {
		fmt.Fprintf(stderr, "scale gossip: %v\n", err)
		return 1
	}
	b, _ := json.Marshal(res)
	fmt.Fprintln(stdout, string(b))
	if !res.Converged {
		return 3
	}
	return 0
}

// converge starts cfg.Nodes nodes, joins every one to the first, and
// measures until every node sees all the others. The nodes are shut down,
// all at once, before it returns.
func converge(ctx context.Context, cfg gossipConfig, progress io.Writer) (*gossipResult, error) {
	res := &gossipResult{Nodes: cfg.Nodes, Profile: cfg.Profile, Transport: cfg.Transport, Slow: cfg.Slow, SurgeMeta: cfg.SurgeMeta,
		Procs: runtime.GOMAXPROCS(0)}
	network := newMemNet()
	nodes := make([]gossipNode, 0, cfg.Nodes)
	defer func() {
		var wg sync.WaitGroup
		for _, n := range nodes {
			wg.Go(n.shutdown)
		}
		wg.Wait()
	}()

	counts := &logCounter{}
	cpu0 := cpuTime()
	start := time.Now()
	for i := range cfg.Nodes {
		n, err := newGossipNode(cfg, network, i, counts)
		if err != nil {
			return nil, fmt.Errorf("node %d: %w", i, err)
		}
		nodes = append(nodes, n)
	}
	res.CreateS = time.Since(start).Seconds()
	cpu1 := cpuTime()
	res.CreateCPUS = (cpu1 - cpu0).Seconds()
	if progress != nil {
		fmt.Fprintf(progress, "%d nodes started in %.2f s (%.2f s of CPU); joining them to %s\n", len(nodes), res.CreateS, res.CreateCPUS, nodes[0].addr())
	}

	// Joins: a pool of JoinParallel workers, each joining one node at a
	// time and retrying a refused join until the deadline. The workers
	// exit when the queue is empty or the deadline passed.
	t0 := time.Now()
	ctx, cancel := context.WithDeadline(ctx, t0.Add(cfg.Timeout))
	defer cancel()
	seed := nodes[0].addr()
	queue := make(chan gossipNode, len(nodes)-1)
	for _, n := range nodes[1:] {
		queue <- n
	}
	close(queue)
	var retries atomic.Int64
	var joinsDone atomic.Int64 // ns since t0 when the last worker finished
	var workers sync.WaitGroup
	for range min(cfg.JoinParallel, len(nodes)-1) {
		workers.Go(func() {
			for n := range queue {
				if ctx.Err() != nil {
					return
				}
				for n.join(seed) != nil {
					retries.Add(1)
					select {
					case <-time.After(cfg.JoinRetry):
					case <-ctx.Done():
						return
					}
				}
			}
		})
	}
	go func() { // exits once every worker has
		workers.Wait()
		joinsDone.Store(int64(time.Since(t0)))
	}()

	full := make([]time.Duration, len(nodes)) // 0: not yet
	views := make([]int, len(nodes))
	res.SeedS, res.ConvergedS = -1, -1
	want := len(nodes) - 1
	tick := time.NewTicker(cfg.Poll)
	defer tick.Stop()
	var settleEnd time.Time
	slow := time.Duration(cfg.Slow)
	for {
		now := time.Since(t0) / slow // protocol time
		complete := 0
		for i, n := range nodes {
			others, left := n.view()
			views[i] = others
			res.FalseDeaths += left
			if others == want {
				complete++
				if full[i] == 0 {
					full[i] = now
				}
			}
		}
		if res.SeedS < 0 && full[0] > 0 {
			res.SeedS = (full[0] * slow).Seconds() // real time: the seed learns by joins
		}
		if !res.Converged && complete == len(nodes) {
			res.Converged, res.ConvergedS = true, now.Seconds()
			res.CPUS = (cpuTime() - cpu1).Seconds()
			settleEnd = time.Now().Add(cfg.Settle * slow)
		}
		res.Complete, res.MinView = complete, slices.Min(views)
		for len(res.CompleteEach) < int(now/time.Second) {
			res.CompleteEach = append(res.CompleteEach, complete)
			if progress != nil {
				fmt.Fprintf(progress, "%3d s (real %3.0f s): %d of %d nodes see every other one (smallest view %d), joins left %d, seed sees %d\n",
					len(res.CompleteEach), time.Since(t0).Seconds(), complete, len(nodes), res.MinView, len(queue), views[0])
			}
		}
		if res.Converged && !time.Now().Before(settleEnd) {
			break
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
		if ctx.Err() != nil && !res.Converged {
			res.CPUS = (cpuTime() - cpu1).Seconds()
			break
		}
	}
	cancel()
	workers.Wait()
	if d := joinsDone.Load(); d > 0 {
		res.JoinsS = time.Duration(d).Seconds()
	} else {
		res.JoinsS = -1
	}
	res.JoinRetries = int(retries.Load())
	res.AfterJoinsS = -1
	if res.Converged && res.JoinsS >= 0 {
		res.AfterJoinsS = max(0, res.ConvergedS-res.JoinsS/float64(cfg.Slow))
	}
	var got []time.Duration
	for _, d := range full {
		if d > 0 {
			got = append(got, d)
		}
	}
	slices.Sort(got)
	q := func(p float64) float64 {
		if len(got) < len(nodes) {
			// A node that never got there is beyond every quantile it
			// would make.
			if k := int(p*float64(len(nodes)) + 0.999999); k > len(got) {
				return -1
			}
		}
		k := int(p*float64(len(nodes))+0.999999) - 1 // nearest rank
		return got[max(k, 0)].Seconds()
	}
	res.FullP50S, res.FullP90S, res.FullP99S = q(0.50), q(0.90), q(0.99)
	res.Dropped = network.dropped.Load()
	res.Log = counts.snapshot()
	res.Goroutines = runtime.NumGoroutine()
	res.PeakRSSMB = peakRSSMB()
	return res, nil
}

// nodeName is the i-th node's name; node 0 is the seed.
func nodeName(i int) string { return fmt.Sprintf("node-%05d", i) }

// nodeIP is the i-th node's address on memNet: 10.x.y.z for the LAN
// profiles (cluster.Start picks the LAN profile for it), 127.x.y.z for
// the loopback ones.
func nodeIP(profile string, i int) net.IP {
	first := byte(10)
	if profile == profileLoopback || profile == profileFast {
		first = 127
	}
	j := i + 1 // x.0.0.0 is no host's address
	return net.IPv4(first, byte(j>>16), byte(j>>8), byte(j)).To4()
}

const gossipPort = 7946

func newGossipNode(cfg gossipConfig, network *memNet, i int, counts *logCounter) (gossipNode, error) {
	var tr memberlist.Transport
	listen := "127.0.0.1:0"
	if cfg.Transport == "mem" {
		mt, err := network.NewTransport(nodeIP(cfg.Profile, i), gossipPort)
		if err != nil {
			return nil, err
		}
		tr, listen = mt, mt.Addr()
	}
	if cfg.Profile == profileLAN {
		return newLANNode(nodeName(i), tr, counts, cfg.Slow, cfg.SurgeMeta)
	}
	meta := cluster.Meta{Role: cluster.RoleAgent, GRPC: "10.255.255.254:7947", Protocol: 1, Cores: 1, Version: "v0.0.0-scale"}
	if i == 0 {
		meta = cluster.Meta{Role: cluster.RoleCoordinator, Protocol: 1}
	}
	n, err := cluster.Start(cluster.Config{Name: nodeName(i), Listen: listen, Meta: meta,
		FastFailureDetection: cfg.Profile == profileFast, Transport: tr, Log: counts, Verbose: true, TimeScale: cfg.Slow})
	if err != nil {
		return nil, err
	}
	return &surgeNode{n: n}, nil
}

// surgeNode is a cluster.Node: Surge's own configuration code path.
type surgeNode struct {
	n      *cluster.Node
	others int
}

func (s *surgeNode) addr() string { return s.n.Addr() }

func (s *surgeNode) join(seed string) error {
	_, err := s.n.Join([]string{seed})
	return err
}

func (s *surgeNode) view() (int, int) {
	left := 0
	for _, ev := range s.n.Events() {
		switch ev.Kind {
		case cluster.Joined:
			s.others++
		case cluster.Left:
			s.others--
			left++
		}
	}
	return s.others, left
}

// shutdown leaves (bounded by a second) and stops the node.
func (s *surgeNode) shutdown() { _ = s.n.Close() }

// lanNode is a bare memberlist with DefaultLANConfig.
type lanNode struct {
	ml     *memberlist.Memberlist
	others atomic.Int64
	left   atomic.Int64
}

func newLANNode(name string, tr memberlist.Transport, counts *logCounter, slow int, surgeMeta bool) (*lanNode, error) {
	mc := memberlist.DefaultLANConfig()
	mc.Name = name
	k := time.Duration(slow)
	mc.ProbeInterval *= k
	mc.ProbeTimeout *= k
	mc.GossipInterval *= k
	mc.GossipToTheDeadTime *= k
	mc.PushPullInterval *= k
	mc.QueueCheckInterval *= k
	if surgeMeta {
		meta, err := cluster.Meta{Role: cluster.RoleAgent, GRPC: "10.255.255.254:7947", Protocol: 1, Cores: 1, Version: "v0.0.0-scale"}.Encode()
		if err != nil {
			return nil, err
		}
		mc.Delegate = metaDelegate(meta)
	}
	mc.LogOutput = nil
	mc.Logger = log.New(counts, "", 0)
	if tr != nil {
		mc.Transport = tr
	} else {
		mc.BindAddr, mc.BindPort, mc.AdvertisePort = "127.0.0.1", 0, 0
	}
	n := &lanNode{}
	mc.Events = &lanEvents{n: n, self: name}
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, err
	}
	n.ml = ml
	return n, nil
}

func (n *lanNode) addr() string {
	ln := n.ml.LocalNode()
	return net.JoinHostPort(ln.Addr.String(), strconv.Itoa(int(ln.Port)))
}

func (n *lanNode) join(seed string) error {
	_, err := n.ml.Join([]string{seed})
	return err
}

func (n *lanNode) view() (int, int) {
	return int(n.others.Load()), int(n.left.Swap(0))
}

func (n *lanNode) shutdown() { _ = n.ml.Shutdown() }

// metaDelegate advertises fixed metadata and nothing else, as Surge's
// delegate does.
type metaDelegate []byte

func (d metaDelegate) NodeMeta(limit int) []byte {
	if len(d) > limit {
		return nil
	}
	return d
}
func (metaDelegate) NotifyMsg([]byte)                {}
func (metaDelegate) GetBroadcasts(int, int) [][]byte { return nil }
func (metaDelegate) LocalState(bool) []byte          { return nil }
func (metaDelegate) MergeRemoteState([]byte, bool)   {}

// lanEvents counts the members a lanNode sees; memberlist calls it on its
// own goroutines.
type lanEvents struct {
	n    *lanNode
	self string
}

func (e *lanEvents) NotifyJoin(m *memberlist.Node) {
	if m.Name != e.self {
		e.n.others.Add(1)
	}
}

func (e *lanEvents) NotifyLeave(m *memberlist.Node) {
	if m.Name != e.self {
		e.n.others.Add(-1)
		e.n.left.Add(1)
	}
}

func (e *lanEvents) NotifyUpdate(*memberlist.Node) {}

// logCounts is what a logCounter counted.
type logCounts struct {
	Warn            int64 `json:"warn"`
	Err             int64 `json:"err"`
	QueueFull       int64 `json:"handler_queue_full"`
	PushPullRefused int64 `json:"push_pull_refused"`
}

// logCounter counts memberlist's log lines by kind (see logCounts); every
// node writes to one. log.Logger and cluster's verbose log write one line
// per call. Safe for concurrent use.
type logCounter struct {
	warn, err, queueFull, pushPull atomic.Int64
}

func (c *logCounter) Write(p []byte) (int, error) {
	switch {
	case bytes.Contains(p, []byte("[WARN]")):
		c.warn.Add(1)
		if bytes.Contains(p, []byte("handler queue full")) {
			c.queueFull.Add(1)
		}
	case bytes.Contains(p, []byte("[ERR]")):
		c.err.Add(1)
		if bytes.Contains(p, []byte("Too many pending push/pull")) {
			c.pushPull.Add(1)
		}
	}
	return len(p), nil
}

func (c *logCounter) snapshot() logCounts {
	return logCounts{Warn: c.warn.Load(), Err: c.err.Load(), QueueFull: c.queueFull.Load(), PushPullRefused: c.pushPull.Load()}
}

// cpuTime is this process's user+system CPU so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSSMB is this process's peak resident set (Linux reports kB).
func peakRSSMB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024
}
