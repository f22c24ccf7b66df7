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
		fmt.Fprintf(&b, "  requests  intended %d  issued %d  succeeded %d  failed %d  dropped %d  lost %d  in flight %d\n",
			s.Intended, s.Issued, s.Succeeded, s.Failed, s.Dropped, s.Lost, s.InFlightAtEnd)
		fmt.Fprintf(&b, "  rate      intended %.1f/s  achieved %.1f/s  over %.3gs\n", s.IntendedRPS, s.AchievedRPS, s.DurationS)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "  latency (ms)\tp50\tp90\tp99\tp99.9\tmax\tmean\t\n")
		row := func(name string, p Percentiles) {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name, ms(p.P50), ms(p.P90), ms(p.P99), ms(p.P999), ms(p.Max), ms(p.Mean))
		}
		row("response time", s.ResponseTimeMS)
		row("service time", s.ServiceTimeMS)
		row("send lag", s.SendLagMS)
		tw.Flush()
		if len(s.Errors) > 0 {
			fmt.Fprintf(&b, "  errors: %s\n", counts(s.Errors))
		}
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
			fmt.Fprintf(&b, "  generator cpu: %.2f s (%.1f µs per request)\n", s.AgentCPUS, s.CPUPerRequestUS)
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
	}
	if len(r.Stages) > 1 {
		fmt.Fprintf(&b, "\nstages compared\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  stage\tachieved/s\tp50 ms\tp99 ms\terrors\tbottleneck\n")
		for _, s := range r.Stages {
			bn := s.Bottleneck
			if bn == "" {
				bn = "—"
			}
			fmt.Fprintf(tw, "  %s\t%.1f\t%s\t%s\t%d\t%s\n", s.Name, s.AchievedRPS, ms(s.ResponseTimeMS.P50), ms(s.ResponseTimeMS.P99), s.Failed, bn)
		}
		tw.Flush()
	}
	if len(r.Agents) > 0 {
		fmt.Fprintf(&b, "\nagents\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, a := range r.Agents {
			fmt.Fprintf(tw, "  %s\tintended %d\tissued %d\tsucceeded %d\tfailed %d\tdropped %d\tlost %d\tclock offset %+.3fms\n",
				a.Name, a.Intended, a.Issued, a.Succeeded, a.Failed, a.Dropped, a.Lost, a.ClockOffsetMS)
		}
		tw.Flush()
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", warn)
	}
	_, err := io.WriteString(w, b.String())
	return err
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
