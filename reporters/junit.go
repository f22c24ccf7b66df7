package reporters

import (
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// JUnit XML model (the common Jenkins/Surefire dialect most CI systems read).
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes junit.xml: a <testsuites> holding one <testsuite
// name="surge: SCENARIO"> for the run, with, for each stage (classname
// "stage NAME", time = the stage's DurationS):
//
//   - one testcase per threshold, named by its expression: a failed one
//     has <failure message="measured VALUE, want EXPR"/>, one with no data
//     <error message="no samples to judge: EXPR"/>;
//
//   - without a threshold on error_rate or failed, a testcase "errors
//     (default limit)", failing when the stage has no success at all or
//     more than DefaultMaxErrorRate of its requests failed;
//
//   - a testcase "generator", failing when the generator limited the stage
//     (message = its generator notes);
//
//   - a testcase "played fully", failing when arrivals were lost or the
//     stage stopped early (type "aborted" when an abort threshold stopped
//     it);
//
//   - in a stage of journeys, a testcase per journey ("journey NAME") and
//     per step ("step JOURNEY/STEP"), which never fail (thresholds judge
//     them) and carry their counts, error classes and percentiles in
//     <system-out>;
//
// and a testcase of class "run" per threshold judged on the whole run
// (Report.Thresholds).
//
// So a run whose verdict is pass has no failures and no errors; fail has
// failures only; invalid has an error or a failing generator / played
// fully case. The tests, failures and errors counts are set on both
// elements; text is escaped by encoding/xml.
func WriteJUnit(w io.Writer, r *Report) error {
	suite := junitSuite{Name: "surge: " + r.Scenario}
	if !r.Started.IsZero() {
		suite.Timestamp = r.Started.UTC().Format("2006-01-02T15:04:05")
	}
	if r.RunID != "" {
		suite.Properties = append(suite.Properties, junitProperty{Name: "run_id", Value: r.RunID})
	}
	if r.Verdict != "" {
		suite.Properties = append(suite.Properties, junitProperty{Name: "verdict", Value: r.Verdict})
	}
	var total float64
	for _, s := range r.Stages {
		total += s.DurationS
		class, dur := "stage "+s.Name, junitTime(s.DurationS)
		for _, t := range s.Thresholds {
			c := junitCase{Classname: class, Name: t.Expr, Time: dur}
			switch {
			case t.NoData:
				c.Error = &junitProblem{Message: "no samples to judge: " + t.Expr, Type: "no_data",
					Text: fmt.Sprintf("stage %s had nothing to judge %s on; the run is invalid", s.Name, t.Expr)}
			case !t.Pass:
				c.Failure = &junitProblem{Message: fmt.Sprintf("measured %s, want %s", measured(t), t.Expr), Type: "threshold"}
				if t.WindowAtS != nil {
					c.Failure.Text = fmt.Sprintf("worst window started %gs into stage %s", *t.WindowAtS, s.Name)
				}
			}
			suite.Cases = append(suite.Cases, c)
		}
		if !s.judgesErrors() { // the default limit judges its errors
			c := junitCase{Classname: class, Name: "errors (default limit)", Time: dur}
			if reason := s.defaultErrorCheck(); reason != "" {
				c.Failure = &junitProblem{Message: reason, Type: "default_error_rate",
					Text: "no threshold on error_rate or failed applies to this stage, so the default limit judged its errors"}
			}
			suite.Cases = append(suite.Cases, c)
		}
		gen := junitCase{Classname: class, Name: "generator", Time: dur}
		if s.GeneratorLimited {
			msg := strings.Join(s.GeneratorNotes, "; ")
			if msg == "" {
				msg = "the generator, not the target, limited the stage"
			}
			gen.Failure = &junitProblem{Message: msg, Type: "generator_limited",
				Text: "its load was not what the scenario asked for; the run is invalid"}
		}
		played := junitCase{Classname: class, Name: "played fully", Time: dur}
		switch {
		case s.AbortedBy != "":
			played.Failure = &junitProblem{Message: fmt.Sprintf("%d arrivals lost%s", s.Lost, stoppedText(s.Stopped)), Type: "aborted",
				Text: fmt.Sprintf("the abort threshold %q stopped the run", s.AbortedBy)}
		case s.Lost > 0 || s.Stopped != "":
			played.Failure = &junitProblem{Message: fmt.Sprintf("%d arrivals lost%s", s.Lost, stoppedText(s.Stopped)), Type: "not_played_fully",
				Text: "the stage was not played fully; the run is invalid"}
		}
		suite.Cases = append(suite.Cases, gen, played)
		suite.Cases = append(suite.Cases, journeyCases(class, dur, &s)...)
	}
	for _, t := range r.Thresholds { // judged on the whole run
		c := junitCase{Classname: "run", Name: t.Expr, Time: junitTime(total)}
		switch {
		case t.NoData:
			c.Error = &junitProblem{Message: "no samples to judge: " + t.Expr, Type: "no_data",
				Text: fmt.Sprintf("the run had nothing to judge %s on; the run is invalid", t.Expr)}
		case !t.Pass:
			c.Failure = &junitProblem{Message: fmt.Sprintf("measured %s, want %s", measured(t), t.Expr), Type: "threshold",
				Text: "judged on every stage's data merged"}
		}
		suite.Cases = append(suite.Cases, c)
	}
	for _, c := range suite.Cases {
		suite.Tests++
		if c.Failure != nil {
			suite.Failures++
		}
		if c.Error != nil {
			suite.Errors++
		}
	}
	suite.Time = junitTime(total)
	doc := junitSuites{Name: "surge", Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors,
		Time: suite.Time, Suites: []junitSuite{suite}}

	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write junit.xml: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write junit.xml: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write junit.xml: %w", err)
	}
	return nil
}

// measured is the threshold's value as shown, or its raw value when the
// report has no shown form.
func measured(t ThresholdResult) string {
	if t.Measured != "" {
		return t.Measured
	}
	return strconv.FormatFloat(t.Value, 'f', -1, 64)
}

// junitTime formats seconds for a time attribute (plain decimal, 3 places).
func junitTime(s float64) string {
	if math.IsNaN(s) || math.IsInf(s, 0) || s < 0 {
		return "0"
	}
	return strconv.FormatFloat(math.Round(s*1000)/1000, 'f', -1, 64)
}

// journeyCases are a journey stage's per-journey and per-step testcases.
func journeyCases(class, dur string, s *Stage) []junitCase {
	if !s.hasJourneys() {
		return nil
	}
	var out []junitCase
	for _, rq := range s.Requests {
		if rq.Kind != KindJourney && rq.Kind != KindStep {
			continue
		}
		p := rq.ResponseTimeMS
		what := "response time"
		if rq.Kind == KindJourney {
			what = "duration"
		}
		text := fmt.Sprintf("issued %d, succeeded %d, failed %d, dropped %d, in flight at end %d; errors: %s; %s ms p50 %s p90 %s p95 %s p99 %s p99.9 %s max %s",
			rq.Issued, rq.Succeeded, rq.Failed, rq.Dropped, rq.InFlightAtEnd, orNone(counts(rq.Errors)), what,
			ms(p.P50), ms(p.P90), ms(p.P95), ms(p.P99), ms(p.P999), ms(p.Max))
		out = append(out, junitCase{Classname: class, Name: rq.Kind + " " + rq.Name, Time: dur, SystemOut: text})
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
