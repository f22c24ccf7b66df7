package wire

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"slices"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/surgeload/surge/internal/engine"
	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/internal/schedule"
	"github.com/surgeload/surge/internal/template"
	surgev1 "github.com/surgeload/surge/proto/gen/surge/v1"
)

// ProtocolVersion is the version of the coordinator–agent contract. It is
// carried in gossip metadata and in the first message of every session; a
// peer speaking another version is refused.
//
// Version 2 added the Client message (connection mode, protocol, timing,
// TLS, source addresses, redirects, phase timeouts): an agent of version 1
// would ignore it and fire with the wrong client, so it must be refused.
//
// Version 3 added HeartbeatAck (liveness and clock exchanges over the
// stream), Ready.lease_nanos, and assignments beside a running one (a
// lost agent's share taken over from a cut index).
//
// Version 4 sends a snapshot's histograms in the sparse encoding
// (metrics.AppendSparse) instead of HdrHistogram's V2 compressed base64,
// so that the coordinator adds them into its merged histograms without
// decoding each into a new one: a coordinator of version 3 could not read
// them, nor one of version 4 those of a version 3 agent.
//
// Version 5 adds journeys (Assign.journeys) and checks on requests: an
// agent of version 4 would ignore them and play no load, or skip checks.
//
// Version 6 adds the phases of requests (Series.dns … read, and
// Counters.new_conns): a coordinator of version 5 would drop them, and
// one of version 6 would report a version 5 agent's requests as having
// no phases.
const ProtocolVersion uint32 = 6

// ErrMalformed is wrapped by every error about a message that cannot be
// accepted.
var ErrMalformed = errors.New("malformed message")

// Bounds on what a message may carry.
const (
	MaxRequests    = 64 // as scenario.MaxRequests: each has histograms per interval
	MaxHeaderBytes = 64 << 10
	MaxBodyBytes   = 4 << 20
	MaxNameLen     = 256
	MaxDataFiles   = 16
	MaxDataBytes   = 16 << 20
	// MaxSourceAddrs bounds the source addresses of an assignment (as
	// engine.MaxSourceAddrs), and MaxAddrLen the text of each.
	MaxSourceAddrs = engine.MaxSourceAddrs
	MaxAddrLen     = 64
)

// Assignment is the domain view of an Assign message.
type Assignment struct {
	RunID      string
	Epoch      uint64
	StageIndex uint32
	StageName  string
	Job        engine.Job
}

// AssignToProto encodes an assignment.
func AssignToProto(a Assignment) *surgev1.Assign {
	j := a.Job
	reqs := make([]*surgev1.RequestDef, len(j.Requests))
	for k, r := range j.Requests {
		reqs[k] = requestToProto(r)
	}
	var data []*surgev1.DataTable
	for _, name := range slices.Sorted(maps.Keys(j.Data)) {
		t := j.Data[name]
		data = append(data, &surgev1.DataTable{Name: name, Kind: t.Kind(), Content: t.Content()})
	}
	return &surgev1.Assign{
		Data:       data,
		RunId:      a.RunID,
		Epoch:      a.Epoch,
		StageIndex: a.StageIndex,
		StageName:  a.StageName,
		TargetUrl:  j.Target.String(),
		Requests:   reqs,
		Journeys:   journeysToProto(j.Journeys),
		Schedule:   ScheduleToProto(j.Schedule, j.First, j.End),
		Share:      &surgev1.Share{Cycle: j.Share.Cycle, Offsets: j.Share.Offsets},
		Limits: &surgev1.Limits{
			MaxInFlight:  uint32(j.Limits.MaxInFlight),
			TimeoutNanos: int64(j.Limits.Timeout),
			MaxBodyBytes: j.Limits.MaxBodyBytes,
			DrainNanos:   int64(j.Limits.Drain),
			MaxConns:     uint32(j.Limits.MaxConns),
		},
		Client:        ClientToProto(j.Client),
		IntervalNanos: int64(j.Interval),
		Histogram: &surgev1.HistogramSpec{
			LowestNanos:        j.Geometry.Lowest,
			HighestNanos:       j.Geometry.Highest,
			SignificantFigures: uint32(j.Geometry.SigFigs),
		},
	}
}

// AssignFromProto decodes and validates an assignment.
func AssignFromProto(m *surgev1.Assign) (Assignment, error) {
	if m == nil {
		return Assignment{}, fmt.Errorf("%w: empty assignment", ErrMalformed)
	}
	a := Assignment{RunID: m.GetRunId(), Epoch: m.GetEpoch(), StageIndex: m.GetStageIndex(), StageName: m.GetStageName()}
	if len(a.RunID) > MaxNameLen || len(a.StageName) > MaxNameLen {
		return a, fmt.Errorf("%w: run id or stage name longer than %d", ErrMalformed, MaxNameLen)
	}
	if n := len(m.GetData()); n > MaxDataFiles {
		return a, fmt.Errorf("%w: %d data files, more than %d", ErrMalformed, n, MaxDataFiles)
	}
	var dataBytes int
	for _, dt := range m.GetData() {
		dataBytes += len(dt.GetContent())
		if dataBytes > MaxDataBytes {
			return a, fmt.Errorf("%w: data files larger than %d bytes in all", ErrMalformed, MaxDataBytes)
		}
		if a.Job.Data == nil {
			a.Job.Data = template.Tables{}
		}
		if _, dup := a.Job.Data[dt.GetName()]; dup {
			return a, fmt.Errorf("%w: data file %q sent twice", ErrMalformed, dt.GetName())
		}
		t, err := template.Load(dt.GetName(), dt.GetKind(), dt.GetContent(), MaxDataBytes)
		if err != nil {
			return a, fmt.Errorf("%w: data file: %w", ErrMalformed, err)
		}
		a.Job.Data[dt.GetName()] = t
	}
	u, err := url.Parse(m.GetTargetUrl())
	if err != nil {
		return a, fmt.Errorf("%w: target url: %w", ErrMalformed, err)
	}
	a.Job.Target = u
	if n := len(m.GetRequests()); (n == 0 && len(m.GetJourneys()) == 0) || n > MaxRequests {
		return a, fmt.Errorf("%w: %d requests (want 1..%d)", ErrMalformed, n, MaxRequests)
	}
	for k, d := range m.GetRequests() {
		r, err := requestFromProto(d)
		if err != nil {
			return a, fmt.Errorf("%w: request %d: %w", ErrMalformed, k, err)
		}
		a.Job.Requests = append(a.Job.Requests, r)
	}
	if a.Job.Journeys, err = journeysFromProto(m.GetJourneys()); err != nil {
		return a, err
	}
	sm := m.GetSchedule()
	s, err := ScheduleFromProto(sm)
	if err != nil {
		return a, err
	}
	a.Job.Schedule = s
	a.Job.First, a.Job.End = sm.GetFirstIndex(), sm.GetEndIndex()
	if a.Job.End == 0 {
		a.Job.End = s.Len()
	}
	if sh := m.GetShare(); sh != nil {
		a.Job.Share = schedule.Share{Cycle: sh.GetCycle(), Offsets: sh.GetOffsets()}
	}
	if l := m.GetLimits(); l != nil {
		a.Job.Limits = engine.Limits{
			MaxInFlight:  int(l.GetMaxInFlight()),
			Timeout:      time.Duration(l.GetTimeoutNanos()),
			MaxBodyBytes: l.GetMaxBodyBytes(),
			Drain:        time.Duration(l.GetDrainNanos()),
			MaxConns:     int(min(l.GetMaxConns(), 1<<30)),
		}
	}
	if a.Job.Client, err = ClientFromProto(m.GetClient()); err != nil {
		return a, err
	}
	a.Job.Interval = time.Duration(m.GetIntervalNanos())
	if h := m.GetHistogram(); h != nil {
		a.Job.Geometry = metrics.Geometry{Lowest: h.GetLowestNanos(), Highest: h.GetHighestNanos(), SigFigs: int(h.GetSignificantFigures())}
	}
	if err := a.Job.Validate(); err != nil {
		return a, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return a, nil
}

// The enumerations of the Client message and their engine values. An
// UNSPECIFIED value decodes to the engine's default (its zero value).
var (
	connModes = map[surgev1.ConnectionMode]engine.ConnMode{
		surgev1.ConnectionMode_CONNECTION_MODE_UNSPECIFIED: engine.KeepAlive,
		surgev1.ConnectionMode_CONNECTION_MODE_KEEP_ALIVE:  engine.KeepAlive,
		surgev1.ConnectionMode_CONNECTION_MODE_PER_REQUEST: engine.PerRequest,
	}
	protocols = map[surgev1.Protocol]engine.Protocol{
		surgev1.Protocol_PROTOCOL_UNSPECIFIED: engine.HTTP1,
		surgev1.Protocol_PROTOCOL_HTTP1:       engine.HTTP1,
		surgev1.Protocol_PROTOCOL_HTTP2:       engine.HTTP2,
	}
	timings = map[surgev1.Timing]engine.Timing{
		surgev1.Timing_TIMING_UNSPECIFIED: engine.TimingDefault,
		surgev1.Timing_TIMING_DEFAULT:     engine.TimingDefault,
		surgev1.Timing_TIMING_PRECISE:     engine.TimingPrecise,
	}
	impls = map[surgev1.Implementation]engine.Implementation{
		surgev1.Implementation_IMPLEMENTATION_UNSPECIFIED: engine.ImplNative,
		surgev1.Implementation_IMPLEMENTATION_NATIVE:      engine.ImplNative,
		surgev1.Implementation_IMPLEMENTATION_NET_HTTP:    engine.ImplNetHTTP,
	}
)

// protoValue returns the (non-UNSPECIFIED) enum value that stands for v.
func protoValue[P ~int32, E comparable](m map[P]E, v E) P {
	var best P
	for p, e := range m {
		if e == v && p > best {
			best = p
		}
	}
	return best // UNSPECIFIED for a value the table lacks: decoding then refuses nothing, and Validate sees the default
}

// ClientToProto encodes a job's client options. Every enumeration is sent
// explicitly (never UNSPECIFIED) so an agent logs what it was told.
func ClientToProto(o engine.ClientOptions) *surgev1.Client {
	m := &surgev1.Client{
		ConnectionMode:        protoValue(connModes, o.Mode),
		Protocol:              protoValue(protocols, o.Protocol),
		Timing:                protoValue(timings, o.Timing),
		Implementation:        protoValue(impls, o.Impl),
		InsecureSkipVerify:    o.InsecureSkipVerify,
		FollowRedirects:       uint32(max(o.FollowRedirects, 0)),
		ConnectTimeoutNanos:   int64(o.ConnectTimeout),
		FirstByteTimeoutNanos: int64(o.FirstByteTimeout),
	}
	for _, a := range o.SourceAddrs {
		m.SourceAddresses = append(m.SourceAddresses, a.String())
	}
	return m
}

// ClientFromProto decodes and validates client options; nil means the
// defaults. Lists are bounded before anything is parsed.
func ClientFromProto(m *surgev1.Client) (engine.ClientOptions, error) {
	var o engine.ClientOptions
	if m == nil {
		return o, nil
	}
	var ok bool
	if o.Mode, ok = connModes[m.GetConnectionMode()]; !ok {
		return o, fmt.Errorf("%w: unknown connection mode %d", ErrMalformed, m.GetConnectionMode())
	}
	if o.Protocol, ok = protocols[m.GetProtocol()]; !ok {
		return o, fmt.Errorf("%w: unknown protocol %d", ErrMalformed, m.GetProtocol())
	}
	if o.Timing, ok = timings[m.GetTiming()]; !ok {
		return o, fmt.Errorf("%w: unknown timing %d", ErrMalformed, m.GetTiming())
	}
	if o.Impl, ok = impls[m.GetImplementation()]; !ok {
		return o, fmt.Errorf("%w: unknown implementation %d", ErrMalformed, m.GetImplementation())
	}
	o.InsecureSkipVerify = m.GetInsecureSkipVerify()
	if n := len(m.GetSourceAddresses()); n > MaxSourceAddrs {
		return o, fmt.Errorf("%w: %d source addresses, more than %d", ErrMalformed, n, MaxSourceAddrs)
	}
	for k, s := range m.GetSourceAddresses() {
		if len(s) > MaxAddrLen {
			return o, fmt.Errorf("%w: source address %d longer than %d bytes", ErrMalformed, k, MaxAddrLen)
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return o, fmt.Errorf("%w: source address %d: %w", ErrMalformed, k, err)
		}
		o.SourceAddrs = append(o.SourceAddrs, a)
	}
	// Clamped so the conversion cannot wrap; Validate refuses it anyway.
	o.FollowRedirects = int(min(m.GetFollowRedirects(), engine.MaxFollowRedirects+1))
	o.ConnectTimeout = time.Duration(m.GetConnectTimeoutNanos())
	o.FirstByteTimeout = time.Duration(m.GetFirstByteTimeoutNanos())
	if err := o.Validate(); err != nil {
		return o, fmt.Errorf("%w: client: %w", ErrMalformed, err)
	}
	return o, nil
}

// CountersToProto encodes counters.
func CountersToProto(c metrics.Counters) *surgev1.Counters {
	m := &surgev1.Counters{
		Intended: c.Intended, Issued: c.Issued, Dropped: c.Dropped, Succeeded: c.Succeeded, Failed: c.Failed,
		BytesIn: c.BytesIn, BytesOut: c.BytesOut, OverRange: c.OverRange, BodyTruncated: c.BodyTruncated, ConnWaits: c.ConnWaits,
		NewConns: c.NewConns,
	}
	for o, n := range c.Errors {
		if n > 0 {
			if m.Errors == nil {
				m.Errors = map[string]uint64{}
			}
			m.Errors[metrics.Outcome(o).String()] = n
		}
	}
	for d, n := range c.DroppedBy {
		if n > 0 {
			if m.DroppedBy == nil {
				m.DroppedBy = map[string]uint64{}
			}
			m.DroppedBy[metrics.DropCause(d).String()] = n
		}
	}
	return m
}

// CountersFromProto decodes counters and checks that they balance.
func CountersFromProto(m *surgev1.Counters) (metrics.Counters, error) {
	var c metrics.Counters
	if m == nil {
		return c, fmt.Errorf("%w: no counters", ErrMalformed)
	}
	c.Intended, c.Issued, c.Dropped = m.GetIntended(), m.GetIssued(), m.GetDropped()
	c.Succeeded, c.Failed = m.GetSucceeded(), m.GetFailed()
	c.BytesIn, c.BytesOut = m.GetBytesIn(), m.GetBytesOut()
	c.OverRange, c.BodyTruncated, c.ConnWaits = m.GetOverRange(), m.GetBodyTruncated(), m.GetConnWaits()
	c.NewConns = m.GetNewConns()
	for name, n := range m.GetErrors() {
		o, ok := metrics.ParseOutcome(name)
		if !ok || o == metrics.OK {
			return c, fmt.Errorf("%w: unknown error class %q", ErrMalformed, name)
		}
		c.Errors[o] = n
	}
	for name, n := range m.GetDroppedBy() {
		d, ok := metrics.ParseDropCause(name)
		if !ok {
			return c, fmt.Errorf("%w: unknown drop cause %q", ErrMalformed, name)
		}
		c.DroppedBy[d] = n
	}
	if err := c.Check(); err != nil {
		return c, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return c, nil
}

// SnapshotToProto encodes one interval of one assignment, its histograms
// in the sparse encoding (metrics.AppendSparse), all in one buffer.
func SnapshotToProto(epoch uint64, stage uint32, iv *metrics.Interval) (*surgev1.Snapshot, error) {
	m := &surgev1.Snapshot{Epoch: epoch, StageIndex: stage, Interval: iv.Index, InFlight: iv.InFlight, CpuNanos: int64(iv.CPU)}
	// Per series: response, service, ttfb, then each phase (a nil phase
	// histogram is sent empty).
	const per = 3 + int(metrics.NumPhases)
	hs := make([]*hdrhistogram.Histogram, 0, 2+per*len(iv.Series))
	hs = append(hs, iv.SendLag, iv.OnWireLag)
	for _, s := range iv.Series {
		hs = append(hs, s.Response, s.Service, s.TTFB)
		hs = append(hs, s.Phases[:]...)
	}
	// One buffer for every histogram, cut after: offsets, not slices, while
	// appending may still move it.
	var buf []byte
	ends := make([]int, len(hs))
	for k, h := range hs {
		if h != nil {
			var err error
			if buf, err = metrics.AppendSparse(buf, h); err != nil {
				return nil, err
			}
		}
		ends[k] = len(buf)
	}
	enc := func(k int) []byte {
		from := 0
		if k > 0 {
			from = ends[k-1]
		}
		return buf[from:ends[k]:ends[k]]
	}
	m.SendLag, m.OnWireLag = enc(0), enc(1)
	m.Series = make([]*surgev1.Series, len(iv.Series))
	for k, s := range iv.Series {
		b := 2 + per*k
		m.Series[k] = &surgev1.Series{RequestIndex: uint32(k), Counters: CountersToProto(s.Counters),
			ResponseTime: enc(b), ServiceTime: enc(b + 1), Ttfb: enc(b + 2),
			Dns: enc(b + 3 + int(metrics.PhaseDNS)), Connect: enc(b + 3 + int(metrics.PhaseConnect)),
			Tls: enc(b + 3 + int(metrics.PhaseTLS)), Write: enc(b + 3 + int(metrics.PhaseWrite)),
			Read: enc(b + 3 + int(metrics.PhaseRead))}
	}
	return m, nil
}

// SnapshotFromProto decodes a snapshot for an assignment of nRequests
// requests recorded with geometry g (SparseFromProto), histograms built.
func SnapshotFromProto(m *surgev1.Snapshot, g metrics.Geometry, nRequests int) (*metrics.Interval, error) {
	var d metrics.SparseInterval
	if err := SparseFromProto(m, g, nRequests, &d); err != nil {
		return nil, err
	}
	iv, err := d.Interval(g)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return iv, nil
}

// SparseFromProto decodes a snapshot for an assignment of nRequests
// requests recorded with geometry g into d, reusing its memory, its
// histograms left sparse (metrics.DecodeSparse): what the coordinator
// merges. Every series must be present once, and every histogram in the
// sparse encoding of geometry g; a request's response times must number
// its completions.
func SparseFromProto(m *surgev1.Snapshot, g metrics.Geometry, nRequests int, d *metrics.SparseInterval) error {
	if m == nil {
		return fmt.Errorf("%w: empty snapshot", ErrMalformed)
	}
	if len(m.GetSeries()) != nRequests {
		return fmt.Errorf("%w: snapshot has %d series, want %d", ErrMalformed, len(m.GetSeries()), nRequests)
	}
	if nRequests > MaxRequests {
		return fmt.Errorf("%w: %d requests, more than %d", ErrMalformed, nRequests, MaxRequests)
	}
	if m.GetCpuNanos() < 0 {
		return fmt.Errorf("%w: negative cpu time", ErrMalformed)
	}
	d.Reset(nRequests)
	d.Index, d.InFlight, d.CPU = m.GetInterval(), m.GetInFlight(), time.Duration(m.GetCpuNanos())
	if err := metrics.DecodeSparse(m.GetSendLag(), g, &d.SendLag); err != nil {
		return fmt.Errorf("%w: send lag: %w", ErrMalformed, err)
	}
	if err := metrics.DecodeSparse(m.GetOnWireLag(), g, &d.OnWireLag); err != nil {
		return fmt.Errorf("%w: on-wire lag: %w", ErrMalformed, err)
	}
	var seen [MaxRequests]bool
	for _, ps := range m.GetSeries() {
		k := int(ps.GetRequestIndex())
		if k >= nRequests || seen[k] {
			return fmt.Errorf("%w: series for request %d is out of range or repeated", ErrMalformed, k)
		}
		seen[k] = true
		s := &d.Series[k]
		var err error
		if s.Counters, err = CountersFromProto(ps.GetCounters()); err != nil {
			return fmt.Errorf("request %d: %w", k, err)
		}
		if err := metrics.DecodeSparse(ps.GetResponseTime(), g, &s.Response); err != nil {
			return fmt.Errorf("%w: request %d response time: %w", ErrMalformed, k, err)
		}
		if err := metrics.DecodeSparse(ps.GetServiceTime(), g, &s.Service); err != nil {
			return fmt.Errorf("%w: request %d service time: %w", ErrMalformed, k, err)
		}
		if err := metrics.DecodeSparse(ps.GetTtfb(), g, &s.TTFB); err != nil {
			return fmt.Errorf("%w: request %d time to first byte: %w", ErrMalformed, k, err)
		}
		for p, b := range [metrics.NumPhases][]byte{
			metrics.PhaseDNS: ps.GetDns(), metrics.PhaseConnect: ps.GetConnect(), metrics.PhaseTLS: ps.GetTls(),
			metrics.PhaseWrite: ps.GetWrite(), metrics.PhaseRead: ps.GetRead(),
		} {
			if len(b) == 0 {
				continue // no request had the phase
			}
			if err := metrics.DecodeSparse(b, g, &s.Phases[p]); err != nil {
				return fmt.Errorf("%w: request %d %s phase: %w", ErrMalformed, k, metrics.Phase(p), err)
			}
		}
		if n := uint64(s.Phases[metrics.PhaseConnect].Total); n > s.NewConns {
			return fmt.Errorf("%w: request %d: %d connect times for %d new connections", ErrMalformed, k, n, s.NewConns)
		}
		if n := uint64(s.Response.Total); n != s.Completed() {
			return fmt.Errorf("%w: request %d: %d response times for %d completions", ErrMalformed, k, n, s.Completed())
		}
	}
	return nil
}

// Done is the domain view of a Done message.
type Done struct {
	Epoch         uint64
	StageIndex    uint32
	Totals        metrics.Counters
	InFlightAtEnd uint64
	Stopped       string
}

// DoneToProto encodes the end of an assignment.
func DoneToProto(d Done) *surgev1.Done {
	return &surgev1.Done{Epoch: d.Epoch, StageIndex: d.StageIndex, Totals: CountersToProto(d.Totals), InFlightAtEnd: d.InFlightAtEnd, Stopped: d.Stopped}
}

// DoneFromProto decodes the end of an assignment.
func DoneFromProto(m *surgev1.Done) (Done, error) {
	if m == nil {
		return Done{}, fmt.Errorf("%w: empty done", ErrMalformed)
	}
	t, err := CountersFromProto(m.GetTotals())
	if err != nil {
		return Done{}, fmt.Errorf("done totals: %w", err)
	}
	// issued = succeeded + failed + in flight at end, exactly.
	if t.Completed() > t.Issued || t.Issued-t.Completed() != m.GetInFlightAtEnd() {
		return Done{}, fmt.Errorf("%w: issued %d != completed %d + in flight at end %d", ErrMalformed, t.Issued, t.Completed(), m.GetInFlightAtEnd())
	}
	if len(m.GetStopped()) > 1024 {
		return Done{}, fmt.Errorf("%w: stop reason longer than 1024 bytes", ErrMalformed)
	}
	return Done{Epoch: m.GetEpoch(), StageIndex: m.GetStageIndex(), Totals: t, InFlightAtEnd: m.GetInFlightAtEnd(), Stopped: m.GetStopped()}, nil
}
