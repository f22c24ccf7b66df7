package report

import (
	"strings"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/metrics"
	"github.com/surgeload/surge/reporters"
)

// TestStage: a stage report from merged data balances, takes its
// percentiles from the merged histogram, places lost arrivals in their
// intervals and lists every interval up to the last with data or losses.
func TestStage(t *testing.T) {
	tl := metrics.NewTimeline(metrics.DefaultGeometry(), []string{"get", "post"}, 500*time.Millisecond)
	for idx, lat := range []time.Duration{time.Millisecond, 3 * time.Millisecond} {
		iv := metrics.NewInterval(tl.Geometry, 2)
		iv.Index = uint32(idx)
		s := &iv.Series[idx] // interval 0: get; interval 1: post
		s.Intended, s.Issued, s.Succeeded, s.Failed = 50, 48, 47, 1
		s.Dropped = 2
		s.Errors[metrics.HTTP5xx] = 1
		for range 48 {
			if err := s.Response.RecordValue(int64(lat)); err != nil {
				t.Fatal(err)
			}
			if err := s.Service.RecordValue(int64(lat / 2)); err != nil {
				t.Fatal(err)
			}
		}
		iv.CPU = 400 * time.Millisecond
		if err := tl.Add(iv); err != nil {
			t.Fatal(err)
		}
	}
	st, err := Stage(tl, Played{Name: "s", Target: "http://127.0.0.1:1", Intended: 110, Duration: time.Second,
		Lost: 10, LostAt: map[uint32]uint64{3: 10}, CPUShare: 2})
	if err != nil {
		t.Fatal(err)
	}
	rep := reporters.Report{Schema: reporters.Schema, Stages: []reporters.Stage{st}}
	if err := rep.Check(); err != nil {
		t.Errorf("the stage does not balance: %v", err)
	}
	if st.Issued != 96 || st.Succeeded != 94 || st.Failed != 2 || st.Dropped != 4 || st.Errors["http_5xx"] != 2 {
		t.Errorf("counts %+v", st)
	}
	if p := st.ResponseTimeMS; p.P50 < 0.99 || p.P50 > 1.01 || p.Max < 2.99 || p.Max > 3.01 {
		t.Errorf("response time %+v; want p50 1ms, max 3ms from the merged histogram", p)
	}
	if len(st.Requests) != 2 || st.Requests[1].Name != "post" || st.Requests[1].ResponseTimeMS.P50 < 2.99 {
		t.Errorf("requests %+v", st.Requests)
	}
	if len(st.Intervals) != 4 || st.Intervals[3].Lost != 10 || st.Intervals[2].Intended != 0 || st.Intervals[1].TS != 0.5 {
		t.Errorf("intervals %+v; want 4, the losses in the last", st.Intervals)
	}
	if st.Intervals[0].CPUS != 0.2 || st.Intervals[0].Histogram == "" || st.Intervals[2].Histogram != "" {
		t.Errorf("interval 0 cpu %v (want 0.2: shared by 2 agents), histograms %q/%q", st.Intervals[0].CPUS, st.Intervals[0].Histogram[:min(8, len(st.Intervals[0].Histogram))], st.Intervals[2].Histogram)
	}
	h, err := metrics.DecodeHistogram([]byte(st.Histogram), metrics.DefaultGeometry())
	if err != nil || h.TotalCount() != 96 {
		t.Errorf("stage histogram: %v, %v; want 96 values", h, err)
	}
}

// TestGeneratorHealth: send lag over the bound and drops flag the stage,
// with advice; waiting for connections is warned about but is the user's
// setting, not generator-limited.
func TestGeneratorHealth(t *testing.T) {
	total := metrics.NewInterval(metrics.DefaultGeometry(), 1)
	for range 100 {
		_ = total.SendLag.RecordValue(int64(20 * time.Millisecond))
	}
	total.CPU = time.Second
	st := reporters.Stage{Name: "s", Issued: 100, Succeeded: 100, Dropped: 3, ConnWaits: 5}
	warns := GeneratorHealth(&st, total, Generator{MaxSendLag: 5 * time.Millisecond, MaxInFlight: 7, MaxConns: 4, CPUShare: 2})
	if !st.GeneratorLimited || len(st.GeneratorNotes) != 2 || len(warns) != 3 {
		t.Fatalf("limited %v notes %q warnings %q", st.GeneratorLimited, st.GeneratorNotes, warns)
	}
	if st.AgentCPUS != 0.5 || st.CPUPerRequestUS != 5000 {
		t.Errorf("cpu %v s, %v µs/request; want 0.5, 5000", st.AgentCPUS, st.CPUPerRequestUS)
	}
	fds := reporters.Stage{Name: "fds", Issued: 100, Succeeded: 90, Failed: 10, Errors: map[string]uint64{"local_resource": 10}}
	if w := GeneratorHealth(&fds, metrics.NewInterval(metrics.DefaultGeometry(), 1), Generator{MaxSendLag: time.Second}); !fds.GeneratorLimited || len(w) != 1 ||
		!strings.Contains(w[0], "file descriptors") {
		t.Errorf("local_resource failures: warnings %q limited %v; want generator-limited with advice", w, fds.GeneratorLimited)
	}
	calm := reporters.Stage{Name: "calm", Issued: 1000, Succeeded: 1000, ConnWaits: 9}
	if w := GeneratorHealth(&calm, metrics.NewInterval(metrics.DefaultGeometry(), 1), Generator{MaxSendLag: time.Millisecond}); len(w) != 0 || calm.GeneratorLimited {
		t.Errorf("a calm stage: warnings %q limited %v", w, calm.GeneratorLimited)
	}
}
