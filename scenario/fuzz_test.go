package scenario

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// FuzzParse checks the properties every input must have: Parse never
// panics; an error matches ErrInvalid and is one "FILE:LINE:COL: message"
// (or "FILE: message") per line; a scenario that parses is valid, has its
// defaults applied and survives ApplyDefaults unchanged.
func FuzzParse(f *testing.F) {
	// Every file of the examples and of testdata, data files included:
	// they are the shapes real input has.
	for _, root := range []string{"../examples", "testdata"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if strings.Contains(path, string(filepath.Separator)+"fuzz"+string(filepath.Separator)) {
				return nil // the corpus of this fuzz test, added by the engine itself
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			f.Add(src)
			return nil
		})
		if err != nil {
			f.Fatal(err)
		}
	}
	f.Add([]byte(billionLaughs))
	f.Add([]byte("name: a\nstages: [&s {bundled: echo}, *s]\nrequests: [{headers: {A: b}}]\nload: {constant: {rate: 1/m, duration: 1h}}\n"))
	f.Add([]byte("name: c\nstages: [{bundled: echo, client: {protocol: h2, source_addresses: [], max_conns: 0}}]\nrequests: [{}]\n" +
		"load: {constant: {rate: 1, duration: 1s}}\nclient: {connections: per-request, source_addresses: [127.0.0.2, 127.0.1.0/30, '::1'], " +
		"timeout: 2s, connect_timeout: 3s, max_body: 64KiB, insecure_skip_verify: true}\n"))
	f.Add([]byte("a: b: c"))
	f.Add([]byte(""))

	line := regexp.MustCompile(`^f\.yaml(:[1-9][0-9]*:[1-9][0-9]*)?: \S`)
	f.Fuzz(func(t *testing.T, src []byte) {
		s, err := Parse("f.yaml", src, Options{})
		if err != nil {
			if s != nil {
				t.Fatalf("Parse returned a scenario and an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not match ErrInvalid: %v", err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) > maxProblems+1 {
				t.Fatalf("%d error lines; want at most %d", len(lines), maxProblems+1)
			}
			for _, l := range lines {
				if !line.MatchString(l) {
					t.Fatalf("error line %q is not FILE:LINE:COL: message", l)
				}
			}
			return
		}
		if err := s.Validate(Options{}); err != nil {
			t.Fatalf("Parse succeeded but Validate failed: %v", err)
		}
		again := *s
		again.Stages = append([]Stage(nil), s.Stages...)
		again.Requests = append([]Request(nil), s.Requests...)
		again.Journeys = append([]Journey(nil), s.Journeys...)
		for i := range again.Journeys {
			again.Journeys[i].Steps = append([]JourneyStep(nil), s.Journeys[i].Steps...)
		}
		if s.Capacity != nil {
			cp := *s.Capacity
			again.Capacity = &cp
		}
		again.ApplyDefaults()
		if !reflect.DeepEqual(&again, s) {
			t.Fatalf("ApplyDefaults changed a parsed scenario")
		}
		for _, st := range s.Stages {
			if st.Name == "" {
				t.Fatalf("stage without a name: %+v", st)
			}
		}
		for _, r := range s.Requests {
			if r.Name == "" || r.Method == "" || r.Weight <= 0 {
				t.Fatalf("request without defaults: %+v", r)
			}
			if (r.URL == "") == (r.Path == "") || (r.Path != "" && (!strings.HasPrefix(r.Path, "/") || r.Compiled.Path == nil)) ||
				(r.URL != "" && r.Compiled.URL == nil) || (r.Body != "") != (r.Compiled.Body != nil) || len(r.Headers) != len(r.Compiled.Headers) {
				t.Fatalf("request with a path or url and templates that do not match: %+v", r)
			}
		}
		if (len(s.Requests) == 0) == (len(s.Journeys) == 0) {
			t.Fatalf("Parse accepted %d requests and %d journeys; want one kind", len(s.Requests), len(s.Journeys))
		}
		for _, j := range s.Journeys {
			if j.Name == "" || strings.Contains(j.Name, "/") || j.Weight <= 0 || (j.OnError != OnErrorAbort && j.OnError != OnErrorContinue) {
				t.Fatalf("journey without defaults or with a bad name: %+v", j)
			}
			requests := 0
			for _, st := range j.Steps {
				if st.IsThink() {
					if st.Name != "" || st.Loop != 0 || len(st.Extract) > 0 || st.Think.Fixed > MaxThink || st.Think.Max > MaxThink || st.Think.Mean > MaxThink {
						t.Fatalf("think step with request fields or over MaxThink: %+v", st)
					}
					continue
				}
				requests++
				if st.Name == "" || st.Method == "" || st.Weight != 0 || st.Loop < 1 || st.Loop > MaxLoop ||
					len(st.Compiled.Extract) != len(st.Extract) || len(st.Compiled.Checks) != len(st.Checks) {
					t.Fatalf("request step without defaults or compiled parts: %+v", st)
				}
			}
			if requests == 0 {
				t.Fatalf("journey %q without a request step", j.Name)
			}
		}
		// What Parse accepts is within the safety caps, by the same bound.
		for k := range s.Stages {
			if s.StageMode(k) == ModeCapacity {
				// A search plays its own rates, within the same caps.
				sr := s.StageSearch(k)
				if !(sr.Start > 0) || sr.Max > s.Safety.MaxRate || sr.Start >= sr.Max ||
					time.Duration(sr.MaxSteps)*sr.Hold.Std() > s.Safety.MaxDuration.Std() || len(sr.Parsed) != len(sr.SLO) {
					t.Fatalf("stage %d: search %+v accepted with safety %+v", k, sr, s.Safety)
				}
				continue
			}
			c := s.StageLoad(k)
			if d := c.Duration(); d <= 0 || d > s.Safety.MaxDuration.Std() || float64(c.PeakBound()) > float64(s.Safety.MaxRate) {
				t.Fatalf("stage %d: curve of %v at up to %v accepted with safety %+v", k, d, c.PeakBound(), s.Safety)
			}
			if c.Arrival != ArrivalUniform && c.Arrival != ArrivalPoisson {
				t.Fatalf("stage %d: arrival %q", k, c.Arrival)
			}
		}
		for _, th := range s.Thresholds {
			if th.Parsed.Metric == "" || th.Parsed.Op == "" {
				t.Fatalf("threshold %q not parsed: %+v", th.Expr, th.Parsed)
			}
			if back, err := ParseThreshold(th.Parsed.String()); err != nil || back.String() != th.Parsed.String() {
				t.Fatalf("threshold %q: String %q does not parse back: %v", th.Expr, th.Parsed.String(), err)
			}
		}
	})
}

// billionLaughs is the classic alias bomb: nine levels of ten aliases,
// 10⁹ values once expanded, in a file of a few hundred bytes, used where
// the scenario expects values.
var billionLaughs = func() string {
	var b strings.Builder
	b.WriteString("lol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "lol%d: &l%d [", i, i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]\n")
	}
	b.WriteString("name: *l9\nstages: *l9\nrequests: [{headers: *l9, path: *l9}]\n" +
		"load: {steps: *l9, spikes: *l9}\nthresholds: *l9\n")
	return b.String()
}()

// TestParseBillionLaughs checks that the alias bomb is rejected, with a
// bounded list of problems, rather than expanded.
func TestParseBillionLaughs(t *testing.T) {
	s, err := Parse("x.yaml", []byte(billionLaughs), Options{})
	if s != nil || !errors.Is(err, ErrInvalid) {
		t.Fatalf("Parse(billion laughs) = %v, %v; want it rejected", s, err)
	}
	lines := errLines(err)
	if len(lines) > maxProblems+1 {
		t.Errorf("Parse(billion laughs) gave %d problems; want at most %d", len(lines), maxProblems+1)
	}
	want := "x.yaml:1:1: unknown field \"lol0\" (known fields: name, seed, stages, requests, journeys, load, client, thresholds, safety, capacity, search)"
	if lines[0] != want {
		t.Errorf("Parse(billion laughs) first problem = %q; want %q", lines[0], want)
	}
}
