package wire

import (
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/surgeload/surge/internal/engine"
	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/internal/schedule"
	"github.com/surgeload/surge/internal/template"
	surgev1 "github.com/surgeload/surge/proto/gen/surge/v1"
)

func mustTable(t testing.TB, name, src string) *template.Table {
	t.Helper()
	tb, err := template.LoadCSV(name, strings.NewReader(src), 0)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func sampleAssignment(t testing.TB) Assignment {
	t.Helper()
	c, err := schedule.NewCurve(schedule.Spec{
		Diurnal:  &schedule.Diurnal{DailyRequests: 1e7, PeakMultiplier: 5, PeakHour: 20},
		Spikes:   []schedule.Spike{{AtFraction: 0.4, Multiplier: 5, Ramp: time.Second, Hold: 2 * time.Second}},
		Compress: 24 * 60, // a day in a minute
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := schedule.New(c, schedule.Poisson, 42)
	if err != nil {
		t.Fatal(err)
	}
	shares, _ := schedule.Split([]uint32{2, 1})
	u, _ := url.Parse("http://127.0.0.1:8080")
	return Assignment{
		RunID: "run-1", Epoch: 3, StageIndex: 1, StageName: "echo",
		Job: engine.Job{
			Target: u,
			Requests: []engine.Request{
				{Name: "read", Method: "GET", Path: "/items/1", Header: http.Header{"X-A": {"1", "2"}}, Timeout: time.Second},
				{Name: "write", Method: "POST", Path: "/items", Body: []byte(`{"n":{{seq}}}`), Weight: 3, Expect: []int{201, 202}},
				{Name: "user", Method: "GET", URL: "http://127.0.0.1:9/u/{{csv users.csv id}}", Weight: 0.5},
			},
			Data:     template.Tables{"users.csv": mustTable(t, "users.csv", "id,name\n1,ada\n")},
			Schedule: s, Share: shares[0], First: 10, End: 400,
			Limits: engine.Limits{MaxInFlight: 500, Timeout: time.Second, MaxBodyBytes: 4096, Drain: 2 * time.Second, MaxConns: 64},
			Client: engine.ClientOptions{
				Mode: engine.PerRequest, Timing: engine.TimingPrecise, Impl: engine.ImplNetHTTP, InsecureSkipVerify: true,
				SourceAddrs:     []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("::1"), netip.MustParseAddr("fd00::1")},
				FollowRedirects: 3, ConnectTimeout: 250 * time.Millisecond, FirstByteTimeout: 750 * time.Millisecond,
			},
			Interval: time.Second, Geometry: metrics.DefaultGeometry(),
		},
	}
}

func TestAssignRoundTrip(t *testing.T) {
	a := sampleAssignment(t)
	b, err := proto.Marshal(AssignToProto(a))
	if err != nil {
		t.Fatal(err)
	}
	var m surgev1.Assign
	if err := proto.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	got, err := AssignFromProto(&m)
	if err != nil {
		t.Fatalf("AssignFromProto: %v", err)
	}
	gs, ws := got.Job.Schedule, a.Job.Schedule
	if gs.Len() != ws.Len() || gs.Seed() != 42 || gs.Arrival() != schedule.Poisson || !reflect.DeepEqual(gs.Spec(), ws.Spec()) {
		t.Errorf("schedule %+v (len %d seed %d); want %+v (len %d)", gs.Spec(), gs.Len(), gs.Seed(), ws.Spec(), ws.Len())
	}
	for _, i := range []uint64{0, 1, ws.Len() / 2, ws.Len() - 1} {
		if gs.At(i) != ws.At(i) {
			t.Errorf("At(%d) = %v after the round trip; want %v", i, gs.At(i), ws.At(i))
		}
	}
	got.Job.Schedule, a.Job.Schedule = nil, nil
	if !reflect.DeepEqual(got, a) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, a)
	}
}

func TestAssignFromProtoRejects(t *testing.T) {
	tests := map[string]struct {
		mutate func(m *surgev1.Assign)
		want   string
	}{
		"nil schedule":   {func(m *surgev1.Assign) { m.Schedule = nil }, "no schedule"},
		"no curve":       {func(m *surgev1.Assign) { m.Schedule.Curve = nil }, "no supported rate curve"},
		"zero rate":      {func(m *surgev1.Assign) { m.Schedule.GetDiurnal().DailyRequests = 0 }, "diurnal"},
		"many spikes":    {func(m *surgev1.Assign) { m.Schedule.Spikes = make([]*surgev1.Spike, MaxSpikes+1) }, "spikes, more than"},
		"no requests":    {func(m *surgev1.Assign) { m.Requests = nil }, "0 requests"},
		"bad url":        {func(m *surgev1.Assign) { m.TargetUrl = "::" }, "target url"},
		"ftp url":        {func(m *surgev1.Assign) { m.TargetUrl = "ftp://x" }, "http(s) URL"},
		"share offsets":  {func(m *surgev1.Assign) { m.Share.Offsets = []uint32{5} }, "outside the cycle"},
		"no share":       {func(m *surgev1.Assign) { m.Share = nil }, "share cycle 0"},
		"index range":    {func(m *surgev1.Assign) { m.Schedule.EndIndex = 1 << 40 }, "outside the schedule"},
		"geometry":       {func(m *surgev1.Assign) { m.Histogram = nil }, "lowest value 0"},
		"huge body":      {func(m *surgev1.Assign) { m.Requests[0].Body = make([]byte, MaxBodyBytes+1) }, "body of"},
		"bad data":       {func(m *surgev1.Assign) { m.Data[0].Content = []byte("id,name\n1\n") }, "data file"},
		"missing data":   {func(m *surgev1.Assign) { m.Data = nil }, "templates read data files"},
		"dup data":       {func(m *surgev1.Assign) { m.Data = append(m.Data, m.Data[0]) }, "sent twice"},
		"data kind":      {func(m *surgev1.Assign) { m.Data[0].Kind = "xml" }, "unknown data file kind"},
		"bad template":   {func(m *surgev1.Assign) { m.Requests[0].Path = "/{{zipf}}" }, "zipf needs"},
		"arrival":        {func(m *surgev1.Assign) { m.Schedule.Arrival = 7 }, "arrival process"},
		"interval":       {func(m *surgev1.Assign) { m.IntervalNanos = -1 }, "interval"},
		"limits missing": {func(m *surgev1.Assign) { m.Limits = nil }, "max in flight 0"},
		"conn mode":      {func(m *surgev1.Assign) { m.Client.ConnectionMode = 9 }, "unknown connection mode 9"},
		"protocol":       {func(m *surgev1.Assign) { m.Client.Protocol = -1 }, "unknown protocol -1"},
		"timing":         {func(m *surgev1.Assign) { m.Client.Timing = 3 }, "unknown timing 3"},
		"implementation": {func(m *surgev1.Assign) { m.Client.Implementation = 3 }, "unknown implementation 3"},
		"h2 per request": {func(m *surgev1.Assign) { m.Client.Protocol = surgev1.Protocol_PROTOCOL_HTTP2 }, "HTTP/1.1 only"},
		"bad source":     {func(m *surgev1.Assign) { m.Client.SourceAddresses[1] = "127.0.0.300" }, "source address 1"},
		"cidr source":    {func(m *surgev1.Assign) { m.Client.SourceAddresses[0] = "127.0.0.0/30" }, "source address 0"},
		"long source":    {func(m *surgev1.Assign) { m.Client.SourceAddresses[0] = strings.Repeat("1", 65) }, "longer than 64 bytes"},
		"many sources": {func(m *surgev1.Assign) {
			m.Client.SourceAddresses = make([]string, MaxSourceAddrs+1) // bounded before any is parsed
		}, "4097 source addresses, more than 4096"},
		"redirects":  {func(m *surgev1.Assign) { m.Client.FollowRedirects = 1 << 31 }, "follow redirects 21 must be in 0..20"},
		"connect":    {func(m *surgev1.Assign) { m.Client.ConnectTimeoutNanos = -1 }, "connect timeout"},
		"first byte": {func(m *surgev1.Assign) { m.Client.FirstByteTimeoutNanos = int64(2 * time.Hour) }, "first-byte timeout"},
		"max conns":  {func(m *surgev1.Assign) { m.Limits.MaxConns = 1 << 31 }, "max conns"},
	}
	for name, tt := range tests {
		m := AssignToProto(sampleAssignment(t))
		tt.mutate(m)
		_, err := AssignFromProto(m)
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: AssignFromProto error = %v; want ErrMalformed containing %q", name, err, tt.want)
		}
	}
}

// TestAssignClient pins the client options on the wire: an absent Client
// message is the defaults, UNSPECIFIED enumerations are the defaults, and
// every value survives the round trip.
func TestAssignClient(t *testing.T) {
	m := AssignToProto(sampleAssignment(t))
	c := m.GetClient()
	if c.GetConnectionMode() != surgev1.ConnectionMode_CONNECTION_MODE_PER_REQUEST || c.GetProtocol() != surgev1.Protocol_PROTOCOL_HTTP1 ||
		c.GetTiming() != surgev1.Timing_TIMING_PRECISE || c.GetImplementation() != surgev1.Implementation_IMPLEMENTATION_NET_HTTP ||
		!c.GetInsecureSkipVerify() || strings.Join(c.GetSourceAddresses(), " ") != "127.0.0.2 ::1 fd00::1" || c.GetFollowRedirects() != 3 ||
		c.GetConnectTimeoutNanos() != int64(250*time.Millisecond) || c.GetFirstByteTimeoutNanos() != int64(750*time.Millisecond) {
		t.Errorf("ClientToProto = %v", c)
	}
	// The defaults are sent explicitly, never as UNSPECIFIED.
	d := ClientToProto(engine.ClientOptions{})
	if d.GetConnectionMode() != surgev1.ConnectionMode_CONNECTION_MODE_KEEP_ALIVE || d.GetProtocol() != surgev1.Protocol_PROTOCOL_HTTP1 ||
		d.GetTiming() != surgev1.Timing_TIMING_DEFAULT || d.GetImplementation() != surgev1.Implementation_IMPLEMENTATION_NATIVE || d.SourceAddresses != nil {
		t.Errorf("ClientToProto(defaults) = %v", d)
	}
	h2 := ClientToProto(engine.ClientOptions{Protocol: engine.HTTP2})
	if h2.GetProtocol() != surgev1.Protocol_PROTOCOL_HTTP2 {
		t.Errorf("ClientToProto(h2) protocol = %v", h2.GetProtocol())
	}
	for name, mc := range map[string]*surgev1.Client{"absent": nil, "empty": {}} {
		m.Client = mc
		a, err := AssignFromProto(m)
		if err != nil || !reflect.DeepEqual(a.Job.Client, engine.ClientOptions{}) {
			t.Errorf("%s client: AssignFromProto = %+v, %v; want the defaults", name, a.Job.Client, err)
		}
	}
	m.Client = &surgev1.Client{Protocol: surgev1.Protocol_PROTOCOL_HTTP2, SourceAddresses: []string{}}
	if a, err := AssignFromProto(m); err != nil || a.Job.Client.Protocol != engine.HTTP2 || a.Job.Client.SourceAddrs != nil {
		t.Errorf("h2 client: AssignFromProto = %+v, %v", a.Job.Client, err)
	}
}

func sampleInterval() *metrics.Interval {
	g := metrics.DefaultGeometry()
	r := metrics.NewRecorder(g, 2)
	for k := range 10 {
		r.Issued(0, k%2, time.Duration(k)*time.Microsecond)
	}
	r.Dropped(0, 1, metrics.InFlightCap)
	for k := range 7 {
		o := metrics.OK
		if k == 3 {
			o = metrics.Timeout
		}
		res := metrics.Result{Request: k % 2, Outcome: o, Response: time.Duration(k+1) * time.Millisecond, Service: time.Millisecond, BytesIn: 10,
			OnWire: time.Duration(k) * time.Millisecond, HasOnWire: true, TTFB: 700 * time.Microsecond, HasTTFB: k%3 != 0}
		// Phases: every request written and read, the first two on
		// fresh connections (request 0 with a DNS lookup); no TLS.
		res.Timed = metrics.Timed(0).With(metrics.PhaseWrite).With(metrics.PhaseRead)
		res.Phase[metrics.PhaseWrite], res.Phase[metrics.PhaseRead] = 20*time.Microsecond, time.Duration(k+1)*100*time.Microsecond
		if k < 2 {
			res.NewConn = true
			res.Timed = res.Timed.With(metrics.PhaseConnect)
			res.Phase[metrics.PhaseConnect] = 150 * time.Microsecond
			if k == 0 {
				res.Timed = res.Timed.With(metrics.PhaseDNS)
				res.Phase[metrics.PhaseDNS] = 3 * time.Millisecond
			}
		}
		r.Finished(0, res)
	}
	iv := r.Rotate()
	iv.Index = 4
	return iv
}

func TestSnapshotRoundTrip(t *testing.T) {
	iv := sampleInterval()
	m, err := SnapshotToProto(3, 1, iv)
	if err != nil {
		t.Fatal(err)
	}
	got, err := SnapshotFromProto(m, metrics.DefaultGeometry(), 2)
	if err != nil {
		t.Fatalf("SnapshotFromProto: %v", err)
	}
	if got.Index != 4 || got.InFlight != 3 || got.Totals() != iv.Totals() {
		t.Errorf("got index %d in flight %d totals %+v; want 4, 3, %+v", got.Index, got.InFlight, got.Totals(), iv.Totals())
	}
	for k := range iv.Series {
		if !got.Series[k].Response.Equals(iv.Series[k].Response) || !got.Series[k].Service.Equals(iv.Series[k].Service) ||
			!got.Series[k].TTFB.Equals(iv.Series[k].TTFB) || iv.Series[k].TTFB.TotalCount() == 0 {
			t.Errorf("series %d histograms differ after the round trip", k)
		}
	}
	for k := range iv.Series {
		for p := range metrics.NumPhases {
			want, have := iv.Series[k].Phases.Get(p), got.Series[k].Phases.Get(p)
			switch {
			case want == nil && have != nil:
				t.Errorf("series %d %v: %d values after the round trip; want none", k, p, have.TotalCount())
			case want != nil && (have == nil || !have.Equals(want)):
				t.Errorf("series %d %v differs after the round trip", k, p)
			}
		}
		if got.Series[k].NewConns != 1 {
			t.Errorf("series %d NewConns = %d; want 1", k, got.Series[k].NewConns)
		}
	}
	if got.Series[0].Phases.Get(metrics.PhaseDNS) == nil || got.Series[1].Phases.Get(metrics.PhaseDNS) != nil ||
		got.Series[0].Phases.Get(metrics.PhaseTLS) != nil {
		t.Error("DNS should be in series 0 only, TLS nowhere")
	}
	if len(m.Series[1].GetDns()) != 0 || len(m.Series[0].GetTls()) != 0 {
		t.Error("an empty phase should cost no bytes on the wire")
	}
	if !got.SendLag.Equals(iv.SendLag) {
		t.Error("send lag differs after the round trip")
	}
	if !got.OnWireLag.Equals(iv.OnWireLag) || iv.OnWireLag.TotalCount() == 0 {
		t.Error("on-wire lag differs after the round trip")
	}
}

func TestSnapshotFromProtoRejects(t *testing.T) {
	tests := map[string]struct {
		mutate func(m *surgev1.Snapshot)
		want   string
	}{
		"missing series":  {func(m *surgev1.Snapshot) { m.Series = m.Series[:1] }, "has 1 series, want 2"},
		"repeated series": {func(m *surgev1.Snapshot) { m.Series[1].RequestIndex = 0 }, "out of range or repeated"},
		"unbalanced":      {func(m *surgev1.Snapshot) { m.Series[0].Counters.Issued++ }, "intended"},
		"unknown class":   {func(m *surgev1.Snapshot) { m.Series[1].Counters.Errors["teapot"] = 1 }, `unknown error class "teapot"`},
		"ok as error":     {func(m *surgev1.Snapshot) { m.Series[1].Counters.Errors["ok"] = 1 }, `unknown error class "ok"`},
		"garbage hist":    {func(m *surgev1.Snapshot) { m.Series[1].ResponseTime = []byte("zz") }, "response time"},
		"count mismatch":  {func(m *surgev1.Snapshot) { m.Series[0].Counters.Succeeded++ }, "response times for"},
		"no send lag":     {func(m *surgev1.Snapshot) { m.SendLag = nil }, "send lag"},
		"garbage on-wire": {func(m *surgev1.Snapshot) { m.OnWireLag = []byte("zz") }, "on-wire lag"},
		"garbage ttfb":    {func(m *surgev1.Snapshot) { m.Series[0].Ttfb = []byte("zz") }, "time to first byte"},
		"no on-wire lag":  {func(m *surgev1.Snapshot) { m.OnWireLag = nil }, "on-wire lag"},
		"no ttfb":         {func(m *surgev1.Snapshot) { m.Series[1].Ttfb = nil }, "request 1 time to first byte"},
		"garbage dns":     {func(m *surgev1.Snapshot) { m.Series[0].Dns = []byte("zz") }, "request 0 dns phase"},
		"garbage read":    {func(m *surgev1.Snapshot) { m.Series[1].Read = []byte{1} }, "request 1 read phase"},
		"connects beyond new conns": {func(m *surgev1.Snapshot) { m.Series[0].Counters.NewConns = 0 },
			"1 connect times for 0 new connections"},
		"protocol 3 histogram": {func(m *surgev1.Snapshot) {
			m.Series[0].ResponseTime, _ = metrics.EncodeHistogram(metrics.DefaultGeometry().New())
		}, "request 0 response time: bad histogram: not a sparse histogram"},
		"other geometry": {func(m *surgev1.Snapshot) {
			m.SendLag, _ = metrics.AppendSparse(nil, metrics.Geometry{Lowest: 1, Highest: 1e6, SigFigs: 2}.New())
		}, "send lag: bad histogram: geometry"},
	}
	for name, tt := range tests {
		m, err := SnapshotToProto(3, 1, sampleInterval())
		if err != nil {
			t.Fatal(err)
		}
		tt.mutate(m)
		_, err = SnapshotFromProto(m, metrics.DefaultGeometry(), 2)
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: SnapshotFromProto error = %v; want ErrMalformed containing %q", name, err, tt.want)
		}
	}
}

func TestDoneFromProto(t *testing.T) {
	c := sampleInterval().Totals() // issued 10, completed 7
	d := Done{Epoch: 1, Totals: c, InFlightAtEnd: 3}
	got, err := DoneFromProto(DoneToProto(d))
	if err != nil || !reflect.DeepEqual(got, d) {
		t.Errorf("DoneFromProto = %+v, %v; want %+v", got, err, d)
	}
	d.InFlightAtEnd = 2
	if _, err := DoneFromProto(DoneToProto(d)); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "issued 10 != completed 7 + in flight at end 2") {
		t.Errorf("unbalanced done: %v", err)
	}
}

func FuzzSessionResponse(f *testing.F) {
	m, _ := SnapshotToProto(1, 0, sampleInterval())
	b, _ := proto.Marshal(&surgev1.SessionResponse{Msg: &surgev1.SessionResponse_Snapshot{Snapshot: m}})
	f.Add(b)
	d, _ := proto.Marshal(&surgev1.SessionResponse{Msg: &surgev1.SessionResponse_Done{Done: DoneToProto(Done{Totals: sampleInterval().Totals(), InFlightAtEnd: 3})}})
	f.Add(d)
	f.Fuzz(func(t *testing.T, in []byte) {
		var msg surgev1.SessionResponse
		if proto.Unmarshal(in, &msg) != nil {
			return
		}
		if s := msg.GetSnapshot(); s != nil {
			if iv, err := SnapshotFromProto(s, metrics.DefaultGeometry(), 2); err == nil {
				if err := iv.Totals().Check(); err != nil {
					t.Fatalf("accepted an unbalanced snapshot: %v", err)
				}
			}
		}
		if dm := msg.GetDone(); dm != nil {
			if d, err := DoneFromProto(dm); err == nil && d.Totals.Issued != d.Totals.Completed()+d.InFlightAtEnd {
				t.Fatalf("accepted an unbalanced done: %+v", d)
			}
		}
	})
}

func FuzzSessionRequest(f *testing.F) {
	b, _ := proto.Marshal(&surgev1.SessionRequest{Msg: &surgev1.SessionRequest_Assign{Assign: AssignToProto(sampleAssignment(f))}})
	f.Add(b)
	// The same assignment with the default client (no Client message), and
	// with HTTP/2 and no source addresses.
	for _, c := range []*surgev1.Client{nil, {Protocol: surgev1.Protocol_PROTOCOL_HTTP2, Timing: surgev1.Timing_TIMING_PRECISE, FollowRedirects: 20}} {
		m := AssignToProto(sampleAssignment(f))
		m.Client = c
		b, _ := proto.Marshal(&surgev1.SessionRequest{Msg: &surgev1.SessionRequest_Assign{Assign: m}})
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var msg surgev1.SessionRequest
		if proto.Unmarshal(in, &msg) != nil {
			return
		}
		if a := msg.GetAssign(); a != nil {
			if got, err := AssignFromProto(a); err == nil {
				if err := got.Job.Validate(); err != nil {
					t.Fatalf("accepted an invalid job: %v", err)
				}
			}
		}
	})
}
