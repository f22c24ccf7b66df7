package reporters

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// WriteText writes the human summary: one block per stage, then agents and
// warnings.
func WriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "surge: %s (run %s)\n", r.Scenario, r.RunID)
	for _, s := range r.Stages {
		fmt.Fprintf(&b, "\nstage %s → %s\n", s.Name, s.Target)
		unit := "requests"
		if s.hasJourneys() {
			unit = "journeys"
		}
		fmt.Fprintf(&b, "  %-8s  intended %d  issued %d  succeeded %d  failed %d  dropped %d  lost %d  in flight %d\n",
			unit, s.Intended, s.Issued, s.Succeeded, s.Failed, s.Dropped, s.Lost, s.InFlightAtEnd)
		if s.SentUnreported > 0 {
			fmt.Fprintf(&b, "  of the lost, lost agents may have sent up to %d before their lease ran out (never reported: the target may have them)\n", s.SentUnreported)
		}
		fmt.Fprintf(&b, "  rate      intended %.1f/s  achieved %.1f/s  over %.3gs\n", s.IntendedRPS, s.AchievedRPS, s.DurationS)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "  latency (ms)\tp50\tp75\tp90\tp95\tp99\tp99.9\tmax\tmean\t\n")
		row := func(name string, p Percentiles) {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name, ms(p.P50), ms(p.P75), ms(p.P90), ms(p.P95), ms(p.P99), ms(p.P999), ms(p.Max), ms(p.Mean))
		}
		row("response time", s.ResponseTimeMS)
		row("service time", s.ServiceTimeMS)
		row("send lag", s.SendLagMS)
		if s.OnWireLagMS != (Percentiles{}) { // none recorded (or a report from before it)
			row("on-wire lag", s.OnWireLagMS)
		}
		if s.TTFBMS != (Percentiles{}) {
			row("time to first byte", s.TTFBMS)
		}
		// The other phases, those with values (ttfb is above).
		for _, name := range PhaseNames {
			if p := s.Phases.Of(name); name != "ttfb" && p != (Percentiles{}) {
				row(name, p)
			}
		}
		tw.Flush()
		if s.Phases != (Phases{}) {
			fmt.Fprintf(&b, "  new connections: %d (dns, connect and tls are theirs; the other requests reused one)\n", s.Phases.NewConns)
		}
		if len(s.Errors) > 0 {
			fmt.Fprintf(&b, "  errors: %s\n", counts(s.Errors))
		}
		writeJourneys(&b, &s)
		if len(s.DroppedBy) > 0 {
			fmt.Fprintf(&b, "  dropped: %s\n", counts(s.DroppedBy))
		}
		if s.BodyTruncated > 0 {
			fmt.Fprintf(&b, "  bodies truncated at the read limit: %d\n", s.BodyTruncated)
		}
		if s.ConnWaits > 0 {
			fmt.Fprintf(&b, "  waited for a pooled connection (client.max_conns): %d of %d issued (%.1f%%)\n",
				s.ConnWaits, s.Issued, 100*float64(s.ConnWaits)/float64(max(s.Issued, 1)))
		}
		if s.Stopped != "" {
			fmt.Fprintf(&b, "  stopped early: %s\n", s.Stopped)
		}
		if s.AgentCPUS > 0 {
			per := "request"
			if s.hasJourneys() {
				per = "journey"
			}
			fmt.Fprintf(&b, "  generator cpu: %.2f s (%.1f µs per %s)\n", s.AgentCPUS, s.CPUPerRequestUS, per)
		}
		for _, n := range s.GeneratorNotes {
			fmt.Fprintf(&b, "  GENERATOR-LIMITED: %s\n", n)
		}
		if len(s.Components) > 0 {
			fmt.Fprintf(&b, "  target components (from its /metrics):")
			for _, c := range s.Components {
				fmt.Fprintf(&b, " %s %.0f%%", c.Component, 100*c.Utilisation)
				if c.QueueDepthMax > 0 {
					fmt.Fprintf(&b, " (queue mean %.1f, max %.0f)", c.QueueDepthMean, c.QueueDepthMax)
				}
				b.WriteString(";")
			}
			fmt.Fprintf(&b, " bottleneck: %s\n", s.Bottleneck)
		}
		if len(s.Scaling) > 0 {
			fmt.Fprintf(&b, "  autoscaled instances (from its /metrics):")
			for _, pt := range s.Scaling {
				fmt.Fprintf(&b, " %d@%.0fs", pt.Instances, pt.AtS)
				if pt.Provisioning > 0 {
					fmt.Fprintf(&b, "(+%d provisioning)", pt.Provisioning)
				}
			}
			b.WriteString("\n")
		}
		if s.HitRate != nil {
			fmt.Fprintf(&b, "  cache hit rate (from its /metrics): %.1f%%\n", 100**s.HitRate)
		}
		if s.Search != nil {
			writeSearch(&b, s.Search)
		}
		for _, t := range s.Thresholds {
			verdict := t.Label()
			at := ""
			if t.WindowAtS != nil {
				at = fmt.Sprintf(" (worst window from %gs)", *t.WindowAtS)
			}
			fmt.Fprintf(&b, "  threshold %-7s %s: %s%s\n", verdict, t.Expr, t.Measured, at)
		}
		if c := s.Ceiling; c != nil {
			fmt.Fprintf(&b, "  ceiling   measured %s", ceilingText(c))
			if c.PredictedRPS > 0 {
				fmt.Fprintf(&b, "  predicted %.0f/s (%s)  measured ÷ predicted %.2f", c.PredictedRPS, c.PredictedBottleneck, c.Ratio)
			}
			b.WriteString("\n")
			if c.PredictedWorking != "" {
				fmt.Fprintf(&b, "  predicted by %s\n", c.PredictedWorking)
			}
		}
	}
	if len(r.Stages) > 1 {
		fmt.Fprintf(&b, "\nstages compared\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  stage\tachieved/s\tp50 ms\tp99 ms\terrors\tbottleneck\tceiling/s\tpredicted/s\tratio\n")
		for _, s := range r.Stages {
			bn := s.Bottleneck
			if bn == "" {
				bn = "—"
			}
			ceiling, predicted, ratio := "—", "—", "—"
			if c := s.Ceiling; c != nil {
				ceiling = fmt.Sprintf("%.0f", c.MeasuredRPS)
				if !c.Reached {
					ceiling = "≥" + ceiling
				}
				if c.PredictedRPS > 0 {
					predicted, ratio = fmt.Sprintf("%.0f", c.PredictedRPS), fmt.Sprintf("%.2f", c.Ratio)
				}
			}
			fmt.Fprintf(tw, "  %s\t%.1f\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", s.Name, s.AchievedRPS, ms(s.ResponseTimeMS.P50), ms(s.ResponseTimeMS.P99), s.Failed, bn,
				ceiling, predicted, ratio)
		}
		tw.Flush()
	}
	if len(r.Agents) > 0 {
		fmt.Fprintf(&b, "\nagents\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, a := range r.Agents {
			resumed := ""
			if a.Resumes > 0 {
				resumed = fmt.Sprintf("\tsession resumed %d×", a.Resumes)
			}
			fmt.Fprintf(tw, "  %s\tintended %d\tissued %d\tsucceeded %d\tfailed %d\tdropped %d\tlost %d\tclock offset %+.3fms%s\n",
				a.Name, a.Intended, a.Issued, a.Succeeded, a.Failed, a.Dropped, a.Lost, a.ClockOffsetMS, resumed)
		}
		tw.Flush()
	}
	if len(r.Thresholds) > 0 {
		fmt.Fprintf(&b, "\nthresholds over the whole run (all stages merged)\n")
		for _, t := range r.Thresholds {
			verdict := t.Label()
			fmt.Fprintf(&b, "  threshold %-7s %s: %s\n", verdict, t.Expr, t.Measured)
		}
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", warn)
	}
	switch r.Verdict {
	case VerdictPass:
		fmt.Fprintf(&b, "verdict: pass\n")
	case VerdictFail, VerdictInvalid:
		fmt.Fprintf(&b, "verdict: %s\n", strings.ToUpper(r.Verdict))
		for _, why := range r.Reasons {
			fmt.Fprintf(&b, "  %s\n", why)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ceilingText is a measured ceiling and how it was measured.
func ceilingText(c *Ceiling) string {
	how := "median goodput while the target fell behind"
	if c.Method == CeilingSearch {
		how = "highest rate within the SLO"
	}
	if !c.Reached {
		if c.Method == CeilingGoodput {
			how = "highest goodput over " + fmt.Sprint(CeilingWindow) + " intervals"
		}
		return fmt.Sprintf("≥ %.0f/s (%s; not reached: the target kept up)", c.MeasuredRPS, how)
	}
	return fmt.Sprintf("%.0f/s (%s)", c.MeasuredRPS, how)
}

// writeSearch writes a capacity search's verdict and step table.
func writeSearch(b *strings.Builder, s *Search) {
	verdict := map[string]string{
		SearchFound:            fmt.Sprintf("sustained %.0f/s; %.0f/s broke the SLO", s.SustainedRPS, s.BrokeRPS),
		SearchBelowStart:       fmt.Sprintf("the first rate, %.0f/s, already broke the SLO: start lower", s.BrokeRPS),
		SearchNotReached:       fmt.Sprintf("every rate held, up to %.0f/s: the ceiling is higher (raise max)", s.SustainedRPS),
		SearchMaxSteps:         fmt.Sprintf("sustained %.0f/s; %.0f/s broke the SLO (the step budget ran out before the resolution)", s.SustainedRPS, s.BrokeRPS),
		SearchGeneratorLimited: fmt.Sprintf("stopped: the generator could not keep time; sustained at least %.0f/s (add agents or cores)", s.SustainedRPS),
		SearchStopped:          fmt.Sprintf("stopped early; sustained at least %.0f/s", s.SustainedRPS),
	}[s.Outcome]
	fmt.Fprintf(b, "  capacity search (%s, %gs per step", s.Method, s.HoldS)
	if s.WarmupS > 0 {
		fmt.Fprintf(b, ", first %gs not judged", s.WarmupS)
	}
	fmt.Fprintf(b, ", SLO: %s): %s\n", strings.Join(s.SLO, ", "), verdict)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "    rate/s\tgoodput/s\tp50 ms\tp99 ms\tp99.9 ms\terrors\tdropped\tbottleneck\tverdict\n")
	for _, st := range s.Steps {
		v := "held"
		if !st.Pass {
			v = "BROKE " + strings.Join(st.Broken, "; ")
		}
		bn := "—"
		if st.Bottleneck != "" {
			bn = fmt.Sprintf("%s %.0f%%", st.Bottleneck, 100*st.BottleneckUtilisation)
		}
		fmt.Fprintf(tw, "    %.0f\t%.1f\t%s\t%s\t%s\t%.2f%%\t%d\t%s\t%s\n", st.RateRPS, st.GoodputRPS, ms(st.P50MS), ms(st.P99MS), ms(st.P999MS),
			100*st.ErrorRate, st.Dropped, bn, v)
	}
	tw.Flush()
}

func ms(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// counts renders a map as "a=1 b=2" in key order.
func counts(m map[string]uint64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// writeJourneys writes a journey stage's breakdown: each journey's counts
// and duration, each step's counts, latency and errors, each check's
// passes and failures. Nothing for a stage of plain requests without
// checks.
func writeJourneys(b *strings.Builder, s *Stage) {
	has := false
	for _, rq := range s.Requests {
		if rq.Kind != "" {
			has = true
			break
		}
	}
	if !has {
		return
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "  by journey, step and check\tissued\tsucceeded\tfailed\tdropped\tin flight\tp50\tp90\tp99\tp99.9\tmax\t\n")
	for _, rq := range s.Requests {
		label := rq.Name
		switch rq.Kind {
		case "journey":
			label = "journey " + rq.Name + " (duration)"
		case "step":
			label = "  step " + rq.Name
		case "check":
			label = "  check " + rq.Name
		default:
			label = "request " + rq.Name
		}
		p := rq.ResponseTimeMS
		lat := []string{ms(p.P50), ms(p.P90), ms(p.P99), ms(p.P999), ms(p.Max)}
		if rq.Kind == "check" {
			lat = []string{"", "", "", "", ""}
		}
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%d\t%d\t%s\t\n", label, rq.Issued, rq.Succeeded, rq.Failed, rq.Dropped, rq.InFlightAtEnd, strings.Join(lat, "\t"))
	}
	tw.Flush()
	for _, rq := range s.Requests {
		if len(rq.Errors) > 0 && rq.Kind != "check" {
			fmt.Fprintf(b, "  errors of %s: %s\n", rq.Name, counts(rq.Errors))
		}
	}
}

// hasJourneys reports whether the stage's arrivals are journeys.
func (s *Stage) hasJourneys() bool {
	for _, rq := range s.Requests {
		if rq.Kind == "journey" {
			return true
		}
	}
	return false
}
