package main

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/surgeload/surge/internal/capacity"
	"github.com/surgeload/surge/internal/exitcode"
	"github.com/surgeload/surge/internal/predict"
	"github.com/surgeload/surge/internal/schedule"
	"github.com/surgeload/surge/internal/stages"
	"github.com/surgeload/surge/reporters"
	"github.com/surgeload/surge/scenario"
)

// summary is validate's one paragraph: what would run.
func summary(w io.Writer, path string, sc *scenario.Scenario, scheds []*schedule.Schedule) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: ok. Scenario %q, seed %d: %d stage(s), ", path, sc.Name, sc.Seed, len(sc.Stages))
	if len(sc.Journeys) > 0 {
		var total float64
		for _, j := range sc.Journeys {
			total += j.Weight
		}
		fmt.Fprintf(&b, "%d journey(s) (", len(sc.Journeys))
		for k, j := range sc.Journeys {
			if k > 0 {
				b.WriteString(", ")
			}
			steps := 0
			for _, st := range j.Steps {
				if !st.IsThink() {
					steps++
				}
			}
			fmt.Fprintf(&b, "%s %.3g%%: %d request step(s)", j.Name, 100*j.Weight/total, steps)
		}
	} else {
		fmt.Fprintf(&b, "%d request(s) (", len(sc.Requests))
		var total float64
		for _, r := range sc.Requests {
			total += r.Weight
		}
		for k, r := range sc.Requests {
			if k > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s %.3g%%", r.Name, 100*r.Weight/total)
		}
	}
	b.WriteString(").")
	var arrivals uint64
	var dur time.Duration
	for k, s := range scheds {
		st := sc.Stages[k]
		target := st.URL
		if st.Bundled != "" {
			target = "bundled " + st.Bundled
		}
		if s == nil {
			se := sc.StageSearch(k)
			fmt.Fprintf(&b, " Stage %s (%s): capacity search (%s) from %v to %v, at most %d steps of %v.", st.Name, target,
				se.Method, se.Start, se.Max, se.MaxSteps, se.Hold)
			continue
		}
		fmt.Fprintf(&b, " Stage %s (%s): %s arrivals, %d over %v, average %s/s, peak %s/s.", st.Name, target,
			s.Arrival(), s.Len(), s.Duration(), capacity.FormatNumber(s.Curve().Average()), capacity.FormatNumber(s.Curve().Peak()))
		arrivals += s.Len()
		dur += s.Duration()
	}
	if len(scheds) > 1 {
		fmt.Fprintf(&b, " In all: %d arrivals over %v.", arrivals, dur)
	}
	fmt.Fprintf(&b, " %d threshold(s); safety: at most %v, %v per stage, on agent loss %s.",
		len(sc.Thresholds), sc.Safety.MaxRate, sc.Safety.MaxDuration, sc.Safety.OnAgentLoss)
	fmt.Fprintln(w, b.String())
}

// planFlags are the what-if overrides of the scenario's capacity section.
type planFlags struct {
	agents                                          int
	width                                           int
	dailyRequests                                   string
	peakMultiplier                                  string
	perServer, headroom, replicaRead, primaryWrites float64
	readFraction, cacheHitRate                      string
	queueWorkers, callsPerPage                      int
	queueJobTime, regionRTT                         time.Duration
}

func newPlan(stdout, stderr io.Writer) *cobra.Command {
	var f planFlags
	cmd := &cobra.Command{
		Use:   "plan [SCENARIO]",
		Short: "Show the capacity arithmetic, each stage's predicted ceiling, the rate curve and each agent's share",
		Long: `Plan shows the capacity arithmetic of the scaling staircase step by step, with its
working: daily volume → average → peak → app servers (with headroom) → DB reads after the
cache → read replicas → shards → queue drain → cross-region page latency. Its inputs come
from the scenario's capacity section; flags override them for a quick what-if, and work
without a scenario too. With a scenario it also charts each stage's rate curve and lists
each agent's share of its arrivals for --agents agents.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var sc *scenario.Scenario
			var scheds []*schedule.Schedule
			if len(args) == 1 {
				var err error
				if sc, scheds, err = loadScheduled(source{path: args[0], stdin: cmd.InOrStdin()}, stderr); err != nil {
					return err
				}
			}
			in, from, err := planInputs(cmd, sc, f)
			if err != nil {
				return exitcode.New(exitcode.Invalid, err)
			}
			return renderPlan(stdout, sc, scheds, in, f, from)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.agents, "agents", 2, "agents to show the shares for")
	fl.IntVar(&f.width, "width", 72, "chart width in columns")
	fl.StringVar(&f.dailyRequests, "daily-requests", "", "daily request volume, e.g. 100M")
	fl.StringVar(&f.peakMultiplier, "peak-multiplier", "", "peak over average, e.g. 5x")
	fl.Float64Var(&f.perServer, "per-server-rps", 0, "requests per second one app server sustains")
	fl.Float64Var(&f.headroom, "headroom", 0, "spare capacity factor on servers (default 1.3)")
	fl.StringVar(&f.readFraction, "read-fraction", "", "share of requests that are reads, e.g. 90%")
	fl.StringVar(&f.cacheHitRate, "cache-hit-rate", "", "share of reads the cache serves, e.g. 90%")
	fl.Float64Var(&f.replicaRead, "replica-read-rps", 0, "reads per second one read replica sustains")
	fl.Float64Var(&f.primaryWrites, "primary-write-ceiling", 0, "writes per second one primary sustains")
	fl.IntVar(&f.queueWorkers, "queue-workers", 0, "workers draining the job queue")
	fl.DurationVar(&f.queueJobTime, "queue-job-time", 0, "time one worker takes per job")
	fl.DurationVar(&f.regionRTT, "region-rtt", 0, "round trip between regions")
	fl.IntVar(&f.callsPerPage, "calls-per-page", 0, "sequential cross-region calls per page")
	return cmd
}

// planInputs maps the scenario's capacity section, then the flags set on
// the command line, onto the planner's inputs. The daily volume and the
// peak multiplier the capacity section lacks come from the scenario's
// diurnal load (see diurnalVolume); from is then a line saying which.
func planInputs(cmd *cobra.Command, sc *scenario.Scenario, f planFlags) (in capacity.Inputs, from string, err error) {
	in, fl := scenarioInputs(sc)
	var used []string
	if fl.daily && !cmd.Flags().Changed("daily-requests") {
		used = append(used, "daily_requests "+capacity.FormatNumber(in.DailyRequests))
	}
	if fl.peak && !cmd.Flags().Changed("peak-multiplier") {
		used = append(used, "peak_multiplier "+capacity.FormatNumber(in.PeakMultiplier)+"x")
	}
	if len(used) > 0 {
		them := "it"
		if len(used) > 1 {
			them = "them"
		}
		from = fmt.Sprintf("%s from %s (the capacity section does not set %s)", strings.Join(used, " and "), fl.where, them)
	}
	in, err = flagInputs(cmd, in, f)
	return in, from, err
}

// fromLoad says which planner inputs scenarioInputs took from the
// scenario's diurnal load, and where that load is.
type fromLoad struct {
	daily, peak bool
	where       string
}

// scenarioInputs maps the scenario's capacity section onto the planner's
// inputs, then its diurnal load (diurnalVolume) for the daily volume and
// the peak multiplier the section lacks.
func scenarioInputs(sc *scenario.Scenario) (capacity.Inputs, fromLoad) {
	in := capacity.DefaultInputs()
	if sc != nil && sc.Capacity != nil {
		c := sc.Capacity
		in.DailyRequests, in.PeakMultiplier, in.PerServerRPS = float64(c.DailyRequests), float64(c.PeakMultiplier), c.PerServerRPS
		if c.Headroom > 0 {
			in.Headroom = c.Headroom
		}
		if c.ReadFraction > 0 {
			in.ReadFraction = float64(c.ReadFraction)
		}
		in.CacheHitRate, in.ReplicaReadRPS, in.PrimaryWriteCeiling = float64(c.CacheHitRate), c.ReplicaReadRPS, c.PrimaryWriteCeiling
		in.QueueWorkers, in.QueueJobTime = c.QueueWorkers, c.QueueJobTime.Std()
		in.RegionRTT, in.CallsPerPage = c.RegionRTT.Std(), c.CallsPerPage
		for _, sp := range sc.Load.Spikes {
			if float64(sp.Multiplier) > in.SpikeMultiplier {
				in.SpikeMultiplier, in.SpikeHold = float64(sp.Multiplier), sp.Hold.Std()
			}
		}
	}
	var fl fromLoad
	daily, peak, where := diurnalVolume(sc)
	if in.DailyRequests == 0 && daily > 0 {
		in.DailyRequests, fl.daily = daily, true
	}
	if in.PeakMultiplier == 0 && peak > 0 {
		in.PeakMultiplier, fl.peak = peak, true
	}
	fl.where = where
	return in, fl
}

// diurnalVolume is the daily volume and the peak multiplier of the
// scenario's diurnal load, and where it was found: load.diurnal, else the
// first stage with a diurnal load of its own. The peak multiplier is
// peak_multiplier, or the busiest hour over the average for
// hourly_weights. Zeros when there is no diurnal load.
func diurnalVolume(sc *scenario.Scenario) (daily, peak float64, where string) {
	if sc == nil {
		return 0, 0, ""
	}
	d, where := sc.Load.Diurnal, "load.diurnal"
	for _, st := range sc.Stages {
		if d != nil {
			break
		}
		if st.Load != nil && st.Load.Diurnal != nil {
			d, where = st.Load.Diurnal, fmt.Sprintf("stage %s's load.diurnal", st.Name)
		}
	}
	if d == nil {
		return 0, 0, ""
	}
	peak = float64(d.PeakMultiplier)
	if len(d.HourlyWeights) > 0 {
		peak = capacity.HourlyPeakMultiplier(d.HourlyWeights)
	}
	return float64(d.DailyRequests), peak, where
}

// flagInputs applies the flags set on the command line over in, and
// validates the result.
func flagInputs(cmd *cobra.Command, in capacity.Inputs, f planFlags) (capacity.Inputs, error) {
	set := cmd.Flags().Changed
	var errs []string
	parse := func(flag, v string, fn func(string) (float64, error), dst *float64) {
		if set(flag) {
			x, err := fn(v)
			if err != nil {
				errs = append(errs, fmt.Sprintf("--%s: %v", flag, err))
				return
			}
			*dst = x
		}
	}
	parse("daily-requests", f.dailyRequests, func(s string) (float64, error) { c, err := scenario.ParseCount(s); return float64(c), err }, &in.DailyRequests)
	parse("peak-multiplier", f.peakMultiplier, func(s string) (float64, error) { m, err := scenario.ParseMultiplier(s); return float64(m), err }, &in.PeakMultiplier)
	parse("read-fraction", f.readFraction, func(s string) (float64, error) { p, err := scenario.ParsePercent(s); return float64(p), err }, &in.ReadFraction)
	parse("cache-hit-rate", f.cacheHitRate, func(s string) (float64, error) { p, err := scenario.ParsePercent(s); return float64(p), err }, &in.CacheHitRate)
	for flag, pair := range map[string]struct {
		src float64
		dst *float64
	}{"per-server-rps": {f.perServer, &in.PerServerRPS}, "headroom": {f.headroom, &in.Headroom},
		"replica-read-rps": {f.replicaRead, &in.ReplicaReadRPS}, "primary-write-ceiling": {f.primaryWrites, &in.PrimaryWriteCeiling}} {
		if set(flag) {
			*pair.dst = pair.src
		}
	}
	if set("queue-workers") {
		in.QueueWorkers = f.queueWorkers
	}
	if set("queue-job-time") {
		in.QueueJobTime = f.queueJobTime
	}
	if set("region-rtt") {
		in.RegionRTT = f.regionRTT
	}
	if set("calls-per-page") {
		in.CallsPerPage = f.callsPerPage
	}
	if f.agents < 1 || f.agents > 256 {
		errs = append(errs, fmt.Sprintf("--agents %d must be in 1..256", f.agents))
	}
	if f.width < 20 || f.width > 400 {
		errs = append(errs, fmt.Sprintf("--width %d must be in 20..400", f.width))
	}
	if len(errs) > 0 {
		return in, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	if err := in.Validate(); err != nil {
		return in, err
	}
	return in, nil
}

// renderPlan writes the plan; from, when set, says which inputs came from
// the scenario's load rather than its capacity section.
func renderPlan(w io.Writer, sc *scenario.Scenario, scheds []*schedule.Schedule, in capacity.Inputs, f planFlags, from string) error {
	plan, err := capacity.Compute(in)
	if err != nil {
		return exitcode.New(exitcode.Invalid, err)
	}
	fmt.Fprintln(w, "capacity plan")
	if from != "" {
		fmt.Fprintf(w, "  %s\n", from)
	}
	if err := reporters.WritePlan(w, planView(plan)); err != nil {
		return err
	}
	var bundled []string
	if sc != nil {
		for _, st := range sc.Stages {
			if st.Bundled != "" && st.Bundled != "echo" {
				bundled = append(bundled, st.Bundled)
			}
		}
	}
	if len(bundled) == 0 {
		bundled = capacity.Topologies()
	}
	fmt.Fprintln(w, "\nceiling of each stage built to this plan (its servers, replicas and shards; from the capacity inputs, not the bundled configs)")
	if err := reporters.WritePlan(w, planView(capacity.Ceilings(in, bundled...))); err != nil {
		return err
	}
	if err := writeStagePredictions(w, sc, in, f); err != nil {
		return err
	}
	for k, s := range scheds {
		if s == nil {
			se := sc.StageSearch(k)
			fmt.Fprintf(w, "\nstage %s: capacity search (%s) from %v to %v, at most %d steps of %v, SLO %s\n", sc.Stages[k].Name,
				se.Method, se.Start, se.Max, se.MaxSteps, se.Hold, strings.Join(se.SLO, ", "))
			continue
		}
		fmt.Fprintf(w, "\nstage %s: %s arrivals, %d over %v, average %s/s, peak %s/s\n", sc.Stages[k].Name, s.Arrival(), s.Len(),
			s.Duration(), capacity.FormatNumber(s.Curve().Average()), capacity.FormatNumber(s.Curve().Peak()))
		if err := reporters.WriteCurve(w, s.Curve().MeanRates(f.width), s.Duration(), f.width, 12); err != nil {
			return err
		}
		shares, err := schedule.Equal(f.agents)
		if err != nil {
			return err
		}
		rows := make([]reporters.ShareRow, len(shares))
		for a, sh := range shares {
			rows[a] = reporters.ShareRow{Agent: fmt.Sprintf("agent-%d", a+1), Fraction: sh.String(), Arrivals: sh.Count(0, s.Len())}
		}
		if err := reporters.WriteShares(w, rows); err != nil {
			return err
		}
	}
	return nil
}

// writeStagePredictions prints, when sc has bundled stages, the predicted
// ceiling of each from its topology's config (defaults and the stage's options) and the scenario's
// request mix (predict.Stage): a row per stage with its name,
// topology, ceiling and bottleneck, and the working below it. The cache hit
// rate is --cache-hit-rate when given, else the scenario's, else assumed.
func writeStagePredictions(w io.Writer, sc *scenario.Scenario, in capacity.Inputs, f planFlags) error {
	if sc == nil {
		return nil
	}
	hit := -1.0
	if f.cacheHitRate != "" {
		hit = in.CacheHitRate
	}
	type row struct {
		stage, topology, ceiling, bottleneck, working string
	}
	var rows []row
	for k, st := range sc.Stages {
		p, ok, err := predict.Stage(sc, k, hit)
		switch {
		case err != nil:
			rows = append(rows, row{st.Name, st.Bundled, "–", "–", "no prediction: " + err.Error()})
		case ok:
			working := p.Working
			if hit >= 0 {
				working = strings.Replace(working, "(measured)", "(--cache-hit-rate)", 1)
			}
			rows = append(rows, row{st.Name, st.Bundled, capacity.FormatNumber(p.CeilingRPS) + " req/s", p.Bottleneck, working})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	head := row{"stage", "topology", "ceiling", "bottleneck", ""}
	wStage, wTopo, wCeil := len(head.stage), len(head.topology), len(head.ceiling)
	for _, r := range rows {
		wStage = max(wStage, utf8.RuneCountInString(r.stage))
		wTopo = max(wTopo, utf8.RuneCountInString(r.topology))
		wCeil = max(wCeil, utf8.RuneCountInString(r.ceiling))
	}
	var b strings.Builder
	b.WriteString("\nPredicted ceilings of this scenario's stages (each topology's config, its defaults with the stage's options, under this request mix;\n" +
		"utilisation law: a component saturates at servers ÷ demand per request; check by measurement)\n")
	line := func(r row, right bool) {
		ceiling := r.ceiling + strings.Repeat(" ", wCeil-utf8.RuneCountInString(r.ceiling))
		if right {
			ceiling = strings.Repeat(" ", wCeil-utf8.RuneCountInString(r.ceiling)) + r.ceiling
		}
		fmt.Fprintf(&b, "  %s  %s  %s  %s\n", padRunes(r.stage, wStage), padRunes(r.topology, wTopo), ceiling, r.bottleneck)
	}
	line(head, false)
	for _, r := range rows {
		line(r, true)
		for _, l := range wrapWords(r.working, max(40, f.width)) {
			fmt.Fprintf(&b, "    %s\n", l)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// padRunes left-aligns s in width runes.
func padRunes(s string, width int) string {
	return s + strings.Repeat(" ", max(0, width-utf8.RuneCountInString(s)))
}

// wrapWords splits s into lines of at most width runes at spaces,
// preferring to break after "; " so the parts of a working stay whole. A
// word longer than a line stays whole.
func wrapWords(s string, width int) []string {
	var lines []string
	for utf8.RuneCountInString(s) > width {
		cut := len(s)
		n := 0
		for i := range s {
			if n == width {
				cut = i
				break
			}
			n++
		}
		at := strings.LastIndex(s[:cut], "; ")
		if at < cut/3 {
			at = strings.LastIndex(s[:cut], " ")
		} else {
			at++
		}
		if at <= 0 {
			at = strings.Index(s[cut:], " ")
			if at < 0 {
				break
			}
			at += cut
		}
		lines = append(lines, strings.TrimRight(s[:at], " "))
		s = strings.TrimLeft(s[at:], " ")
	}
	return append(lines, s)
}

// loadScheduled loads a scenario and builds every stage's exact schedule;
// problems are printed one per line and mapped to exit code 2.
func loadScheduled(src source, stderr io.Writer) (*scenario.Scenario, []*schedule.Schedule, error) {
	sc, err := src.load(stderr)
	if err != nil {
		return nil, nil, err
	}
	scheds, err := stages.Schedules(sc)
	if err != nil {
		return nil, nil, src.invalid(err, stderr)
	}
	return sc, scheds, nil
}
