package reporters

import (
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// JUnit XML model: the form both the Jenkins (Surefire) schema and the
// strict Apache Ant schema accept (testdata/junit/*.xsd). Ant allows no
// attribute on <testsuites>, requires package, id, hostname and timestamp
// on each <testsuite>, a <properties> first, then the testcases, then a
// <system-out> and a <system-err> (in that order, both present), and no
// <system-out> inside a testcase; a testcase holds at most one of failure
// or error.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Package    string          `xml:"package,attr"`
	ID         int             `xml:"id,attr"`
	Hostname   string          `xml:"hostname,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Properties junitProperties `xml:"properties"`
	Cases      []junitCase     `xml:"testcase"`
	SystemOut  string          `xml:"system-out"`
	SystemErr  string          `xml:"system-err"`
}

// junitProperties is always written (Ant requires the element, even empty).
type junitProperties struct {
	List []junitProperty `xml:"property"`
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
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// junitHostname is the testsuite's hostname: the report does not record
// where the coordinator ran, and Ant's schema asks for "localhost" when
// the host cannot be determined.
const junitHostname = "localhost"

// junitNoTimestamp stands for a report without a start time: Ant's schema
// requires a timestamp (YYYY-MM-DDTHH:MM:SS, no zone).
const junitNoTimestamp = "1970-01-01T00:00:00"

// WriteJUnit writes junit.xml: a <testsuites> (no attributes) holding one
// <testsuite name="surge: SCENARIO" package="surge" id="0"
// hostname="localhost" timestamp=START> for the run, its <properties>
// (run_id, verdict), and, for each stage (classname "stage NAME", time =
// the stage's DurationS):
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
//     them);
//
// and a testcase of class "run" per threshold judged on the whole run
// (Report.Thresholds). The suite's <system-out> holds the figures: a line
// per stage (counts, rates, response time percentiles, capacity search
// outcome) and one per journey and step testcase, starting with its
// classname and name; <system-err> holds the report's warnings and the
// verdict's reasons, one a line.
//
// So a run whose verdict is pass has no failures and no errors; fail has
// failures only; invalid has an error or a failing generator / played
// fully case. Text is escaped by encoding/xml, which writes U+FFFD for
// characters XML cannot hold (control characters, invalid UTF-8).
func WriteJUnit(w io.Writer, r *Report) error {
	suite := junitSuite{Name: "surge: " + r.Scenario, Package: "surge", ID: 0, Hostname: junitHostname,
		Timestamp: junitTimestamp(r.Started)}
	if r.RunID != "" {
		suite.Properties.List = append(suite.Properties.List, junitProperty{Name: "run_id", Value: r.RunID})
	}
	if r.Verdict != "" {
		suite.Properties.List = append(suite.Properties.List, junitProperty{Name: "verdict", Value: r.Verdict})
	}
	var total float64
	var out, errs strings.Builder
	for _, s := range r.Stages {
		total += s.DurationS
		class, dur := "stage "+s.Name, junitTime(s.DurationS)
		fmt.Fprintf(&out, "%s: %s\n", class, stageFigures(&s))
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
		for _, jc := range journeyCases(class, dur, &s) {
			suite.Cases = append(suite.Cases, jc.junitCase)
			fmt.Fprintf(&out, "%s: %s: %s\n", class, jc.Name, jc.figures)
		}
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
	for _, warn := range r.Warnings {
		fmt.Fprintf(&errs, "warning: %s\n", warn)
	}
	for _, reason := range r.Reasons {
		fmt.Fprintf(&errs, "verdict %s: %s\n", r.Verdict, reason)
	}
	suite.Time = junitTime(total)
	suite.SystemOut, suite.SystemErr = out.String(), errs.String()
	doc := junitSuites{Suites: []junitSuite{suite}}

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

// junitTimestamp is t in UTC as Ant's schema wants it (no zone, no
// fraction), or junitNoTimestamp when t is unset or outside years
// 1..9999 (xs:dateTime has no year 0; the pattern allows four digits).
func junitTimestamp(t time.Time) string {
	if t.IsZero() {
		return junitNoTimestamp
	}
	t = t.UTC()
	if t.Year() < 1 || t.Year() > 9999 {
		return junitNoTimestamp
	}
	return t.Format("2006-01-02T15:04:05")
}

// stageFigures is a stage's line in <system-out>.
func stageFigures(s *Stage) string {
	p := s.ResponseTimeMS
	text := fmt.Sprintf("intended %d, issued %d, succeeded %d, failed %d, dropped %d, lost %d, in flight at end %d; %s req/s intended, %s achieved; errors: %s; response time ms p50 %s p90 %s p95 %s p99 %s p99.9 %s max %s",
		s.Intended, s.Issued, s.Succeeded, s.Failed, s.Dropped, s.Lost, s.InFlightAtEnd,
		junitNumber(s.IntendedRPS), junitNumber(s.AchievedRPS), orNone(counts(s.Errors)),
		ms(p.P50), ms(p.P90), ms(p.P95), ms(p.P99), ms(p.P999), ms(p.Max))
	if s.Search != nil {
		text += fmt.Sprintf("; capacity search %s: sustained %s req/s, broke at %s req/s, %d steps",
			s.Search.Outcome, junitNumber(s.Search.SustainedRPS), junitNumber(s.Search.BrokeRPS), len(s.Search.Steps))
	}
	return text
}

// junitNumber is a rate shown with at most one decimal.
func junitNumber(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}

// measured is the threshold's value as shown, or its raw value when the
// report has no shown form.
func measured(t ThresholdResult) string {
	if t.Measured != "" {
		return t.Measured
	}
	return strconv.FormatFloat(t.Value, 'f', -1, 64)
}

// junitTime formats seconds for a time attribute: a plain decimal of at
// most 3 places, 0 for NaN and negatives, at most junitMaxTime.
func junitTime(s float64) string {
	if math.IsNaN(s) || math.IsInf(s, 0) || s < 0 {
		return "0"
	}
	if s >= junitMaxTime {
		return junitMaxTimeText
	}
	// Below 1e12 s, a value in ms has at most 15 digits: the double
	// nearest it prints with at most 3 decimals, as Jenkins' pattern wants.
	return strconv.FormatFloat(math.Round(s*1000)/1000, 'f', -1, 64)
}

// junitMaxTime bounds a time attribute (31,700 years: only a damaged
// report.json has more): libxml2, and so CI tools built on it, refuse an
// xs:decimal of more digits than it can hold.
const (
	junitMaxTime     = 1e12
	junitMaxTimeText = "1000000000000"
)

// journeyCase is a journey or step testcase and its figures (written to
// the suite's <system-out>: Ant allows none inside a testcase).
type journeyCase struct {
	junitCase
	figures string
}

// journeyCases are a journey stage's per-journey and per-step testcases.
func journeyCases(class, dur string, s *Stage) []journeyCase {
	if !s.hasJourneys() {
		return nil
	}
	var out []journeyCase
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
		out = append(out, journeyCase{junitCase{Classname: class, Name: rq.Kind + " " + rq.Name, Time: dur}, text})
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
