package scenario

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// loads checks the scenario's load section and the stages' own: each must
// be a well-formed curve within the safety caps.
func (c *checker) loads(s *Scenario, safety Safety, safetyOK bool) {
	allOwn := len(s.Stages) > 0
	for _, st := range s.Stages {
		allOwn = allOwn && (st.Load != nil || st.Mode == ModeCapacity)
	}
	topSet := s.Load.isSet() || c.set("load")
	switch {
	case topSet:
		c.checkLoad(&s.Load, "load", safety, safetyOK)
		if allOwn {
			c.warn("load", "load is not used: every stage sets its own load or searches its capacity")
		}
	case !allOwn:
		c.missing("", "load")
	}
	for i, st := range s.Stages {
		if st.Load != nil {
			c.checkLoad(st.Load, joinPath(indexPath("stages", i), "load"), safety, safetyOK)
		}
	}
}

// checkLoad checks one curve and, as far as it is valid, its played
// duration and peak rate against the safety caps. The duration depends on
// the durations and the compression alone, so it is checked even when a
// rate is wrong.
func (c *checker) checkLoad(cv *Curve, path string, safety Safety, safetyOK bool) {
	if c.curve(cv, path) {
		if safetyOK {
			c.curveSafety(cv, path, safety)
		}
		return
	}
	if safetyOK && c.durationsValid(cv, path) {
		c.durationSafety(cv, path, safety)
	}
}

// durationsValid reports whether a curve's played duration can be
// computed: one base whose durations are valid, and a valid compression.
func (c *checker) durationsValid(cv *Curve, path string) bool {
	if c.src != nil {
		for _, f := range c.src.failed {
			if isUnder(f, path) && affectsDuration(f, path) {
				return false
			}
		}
	}
	ok := func(d Duration) bool { return d > 0 && d <= MaxBaseDuration }
	n := 0
	valid := true
	if cv.Constant != nil {
		n++
		valid = valid && ok(cv.Constant.Duration)
	}
	if cv.Ramp != nil {
		n++
		valid = valid && ok(cv.Ramp.Duration)
	}
	if cv.Steps != nil {
		n++
		valid = valid && len(cv.Steps) > 0 && len(cv.Steps) <= MaxSteps && cv.baseDuration() <= MaxBaseDuration.Std()
		for _, s := range cv.Steps {
			valid = valid && ok(s.Duration)
		}
	}
	if cv.Diurnal != nil {
		n++
		valid = valid && (cv.Diurnal.Duration == 0 || ok(cv.Diurnal.Duration))
	}
	if k := cv.Compress; k != nil {
		valid = valid && k.To > 0 && k.From >= k.To
	}
	return n == 1 && valid && cv.Duration() > 0
}

// curve checks that a curve is well-formed and reports whether it is, so
// that its duration and peak can be computed.
func (c *checker) curve(cv *Curve, path string) bool {
	n := len(c.probs)
	arrivalPath := joinPath(path, "arrival")
	if cv.Arrival != "" || c.set(arrivalPath) {
		if cv.Arrival != ArrivalUniform && cv.Arrival != ArrivalPoisson {
			c.add(arrivalPath, "unknown arrival process %q (want uniform or poisson)", cv.Arrival)
		}
	}

	// The table of bases: one entry per base field of Curve.
	bases := []struct {
		name string
		set  bool
	}{
		{"constant", cv.Constant != nil},
		{"ramp", cv.Ramp != nil},
		{"steps", cv.Steps != nil},
		{"diurnal", cv.Diurnal != nil},
	}
	var set, all []string
	for _, b := range bases {
		all = append(all, b.name)
		if b.set {
			set = append(set, b.name)
		}
	}
	switch {
	case len(set) == 0:
		c.add(path, "%s must set a base curve (one of: %s)", label(path), strings.Join(all, ", "))
	case len(set) > 1:
		c.add(path, "%s must set exactly one base curve (got %s)", label(path), strings.Join(set, " and "))
	}
	if cv.Constant != nil {
		p := joinPath(path, "constant")
		c.rate(cv.Constant.Rate, p, "rate", false)
		c.duration(cv.Constant.Duration, p, "duration")
	}
	if cv.Ramp != nil {
		c.ramp(cv.Ramp, joinPath(path, "ramp"))
	}
	if cv.Steps != nil {
		c.steps(cv.Steps, joinPath(path, "steps"))
	}
	if cv.Diurnal != nil {
		c.diurnal(cv.Diurnal, joinPath(path, "diurnal"))
	}
	if cv.Compress != nil {
		p := joinPath(path, "compress")
		switch k := cv.Compress; {
		case k.To <= 0:
			c.add(p, "compress must play the curve in a time > 0 (got %s)", k)
		case k.From < k.To:
			c.add(p, "compress must not slow the curve down (got %s)", k)
		}
	}
	c.spikes(cv.Spikes, joinPath(path, "spikes"))
	if len(c.probs) > n || c.failed(path) {
		return false
	}

	// The base is valid: check what depends on its played duration.
	played := cv.Duration()
	if played <= 0 {
		c.add(joinPath(path, "compress"), "compress leaves no time to play the curve (got %s)", cv.Compress)
		return false
	}
	for j, sp := range cv.Spikes {
		p := joinPath(indexPath(joinPath(path, "spikes"), j), "at")
		if sp.At.Offset.Std() >= played {
			c.add(p, "at must be before the end of the curve, which plays for %s (got %s)", Duration(played), sp.At)
		}
	}
	return len(c.probs) == n
}

func (c *checker) ramp(r *Ramp, path string) {
	fromPath, toPath := joinPath(path, "from"), joinPath(path, "to")
	if r.From == 0 && r.To == 0 && c.src != nil && !c.set(fromPath) && !c.set(toPath) {
		c.missing(path, "to")
	} else {
		n := len(c.probs)
		c.rate(r.From, path, "from", true)
		c.rate(r.To, path, "to", true)
		if len(c.probs) == n && !(r.From > 0 || r.To > 0) {
			c.add(path, "ramp must reach a rate > 0 (from and to are both 0)")
		}
	}
	c.duration(r.Duration, path, "duration")
}

func (c *checker) steps(steps []Step, path string) {
	switch {
	case len(steps) == 0:
		c.add(path, "steps must list at least one step")
		return
	case len(steps) > MaxSteps:
		c.add(path, "at most %d steps are allowed (got %d)", MaxSteps, len(steps))
		return
	}
	n, positive := len(c.probs), false
	for i, st := range steps {
		p := indexPath(path, i)
		if st.Rate == 0 && c.src != nil && !c.set(joinPath(p, "rate")) {
			c.missing(p, "rate")
		} else {
			c.rate(st.Rate, p, "rate", true)
		}
		c.duration(st.Duration, p, "duration")
		positive = positive || st.Rate > 0
	}
	if len(c.probs) == n && !positive {
		c.add(path, "at least one step must have a rate > 0")
	}
	var total time.Duration
	for _, st := range steps {
		if st.Duration <= 0 || st.Duration > MaxBaseDuration {
			return // reported above
		}
		total += st.Duration.Std()
	}
	if total > MaxBaseDuration.Std() {
		c.add(path, "steps last %s in all, more than %s", Duration(total), MaxBaseDuration)
	}
}

func (c *checker) diurnal(d *Diurnal, path string) {
	dailyPath := joinPath(path, "daily_requests")
	switch {
	case d.DailyRequests == 0 && c.src != nil && !c.set(dailyPath):
		c.missing(path, "daily_requests")
	case !(d.DailyRequests > 0) || math.IsInf(float64(d.DailyRequests), 0):
		c.add(dailyPath, "daily_requests must be > 0 (got %s)", d.DailyRequests)
	}
	durPath := joinPath(path, "duration")
	if d.Duration < 0 || (d.Duration == 0 && c.set(durPath)) {
		c.add(durPath, "duration must be > 0 (got %s)", d.Duration)
	}
	c.baseBound(durPath, d.Duration)

	mPath, rPath, hPath := joinPath(path, "peak_multiplier"), joinPath(path, "peak_to_trough"), joinPath(path, "peak_hour")
	hasM := d.PeakMultiplier != 0 || c.set(mPath)
	hasR := d.PeakToTrough != 0 || c.set(rPath)
	hasH := d.PeakHour != 0 || c.set(hPath)
	weightsPath := joinPath(path, "hourly_weights")
	if d.HourlyWeights != nil {
		if hasM || hasR || hasH {
			c.add(weightsPath, "hourly_weights cannot be combined with peak_multiplier, peak_to_trough or peak_hour")
		}
		if len(d.HourlyWeights) != 24 {
			c.add(weightsPath, "hourly_weights must have 24 numbers, one per hour from 00:00 (got %d)", len(d.HourlyWeights))
			return
		}
		var sum float64
		for h, w := range d.HourlyWeights {
			if !(w >= 0) || math.IsInf(w, 0) {
				p := indexPath(weightsPath, h)
				c.add(p, "%s must be a number >= 0 (got %s)", label(p), formatNumber(w))
				return
			}
			sum += w
		}
		if !(sum > 0) || math.IsInf(sum, 0) {
			c.add(weightsPath, "hourly_weights must not all be 0")
		}
		return
	}

	// The smooth shape.
	m, r := float64(d.PeakMultiplier), float64(d.PeakToTrough)
	mOK := true
	switch {
	case !hasM && c.src != nil:
		c.missing(path, "peak_multiplier")
		mOK = false
	case !(m >= 1):
		c.add(mPath, "peak_multiplier must be at least 1x: the peak is the highest rate of the day (got %s)", d.PeakMultiplier)
		mOK = false
	}
	if hasR {
		switch {
		case !(r >= 1):
			c.add(rPath, "peak_to_trough must be at least 1x: the trough is the lowest rate of the day (got %s)", d.PeakToTrough)
		case !mOK:
		case m == 1 && r > 1:
			c.add(rPath, "peak_to_trough must be 1x or left out when peak_multiplier is 1x (a flat day); got %s", d.PeakToTrough)
		case m > 1 && r <= m:
			// trough = peak/r = average·m/r >= average: no day with a
			// peak above the average can then average the average.
			c.add(rPath, "peak_to_trough (%s) must be greater than peak_multiplier (%s): a trough of peak/%s is not below the average, so the day cannot average daily_requests/24h", d.PeakToTrough, d.PeakMultiplier, formatNumber(r))
		}
	}
	if !(d.PeakHour >= 0 && d.PeakHour <= 24) {
		c.add(hPath, "peak_hour must be from 0 to 24 (got %s)", formatNumber(d.PeakHour))
	}
}

func (c *checker) spikes(spikes []Spike, path string) {
	if len(spikes) > MaxSpikes {
		c.add(path, "at most %d spikes are allowed (got %d)", MaxSpikes, len(spikes))
		return
	}
	for j, sp := range spikes {
		p := indexPath(path, j)
		atPath, mPath := joinPath(p, "at"), joinPath(p, "multiplier")
		if c.src != nil && !c.set(atPath) {
			c.missing(p, "at")
		} else if !(sp.At.Fraction >= 0 && sp.At.Fraction < 1) {
			c.add(atPath, "at must be a share of the played duration from 0%% to below 100%% (got %s)", sp.At)
		}
		switch {
		case sp.Multiplier == 0 && c.src != nil && !c.set(mPath):
			c.missing(p, "multiplier")
		case !(sp.Multiplier > 0) || math.IsInf(float64(sp.Multiplier), 0):
			c.add(mPath, "multiplier must be > 0 (got %s)", sp.Multiplier)
		}
		for _, f := range []struct {
			name string
			d    Duration
		}{{"ramp", sp.Ramp}, {"hold", sp.Hold}, {"ramp_down", sp.RampDown}} {
			fp := joinPath(p, f.name)
			if f.d < 0 {
				c.add(fp, "%s must be >= 0 (got %s)", f.name, f.d)
			}
			c.baseBound(fp, f.d)
		}
		down := sp.RampDown
		if down == 0 {
			down = sp.Ramp
		}
		switch total := sp.Ramp + sp.Hold + down; {
		case sp.Ramp == 0 && sp.Hold == 0 && sp.RampDown == 0:
			c.add(p, "spike must last: ramp, hold and ramp_down are all 0")
		case total > MaxBaseDuration && sp.Ramp <= MaxBaseDuration && sp.Hold <= MaxBaseDuration && sp.RampDown <= MaxBaseDuration:
			c.add(p, "spike lasts %s in all, more than %s", total, MaxBaseDuration)
		}
	}
}

// rate checks a rate, the field of path: required and > 0, or (with
// zeroOK) >= 0; at most MaxRate either way.
func (c *checker) rate(r Rate, path, field string, zeroOK bool) {
	p := joinPath(path, field)
	switch {
	case r == 0 && !zeroOK && c.src != nil && !c.set(p):
		c.missing(path, field)
	case zeroOK && !(r >= 0):
		c.add(p, "%s must be >= 0 (got %s)", field, formatNumber(float64(r)))
	case !zeroOK && !(r > 0): // also NaN
		c.add(p, "%s must be > 0 (got %s)", field, formatNumber(float64(r)))
	case r > MaxRate:
		c.add(p, "%s must be at most %s (got %s)", field, MaxRate, r)
	}
}

// duration checks a required duration, the field of path.
func (c *checker) duration(d Duration, path, field string) {
	p := joinPath(path, field)
	switch {
	case d == 0 && c.src != nil && !c.set(p):
		c.missing(path, field)
	case d <= 0:
		c.add(p, "%s must be > 0 (got %s)", field, d)
	default:
		c.baseBound(p, d)
	}
}

// baseBound reports a duration of a curve over MaxBaseDuration.
func (c *checker) baseBound(path string, d Duration) {
	if d > MaxBaseDuration {
		c.add(path, "%s must be at most %s (got %s)", label(path), MaxBaseDuration, d)
	}
}

// timeBound reports a duration over MaxDuration.
func (c *checker) timeBound(path string, d Duration) {
	if d > MaxDuration {
		c.add(path, "%s must be at most %s (got %s)", label(path), MaxDuration, d)
	}
}

// affectsDuration reports whether the value at f, inside the curve at
// path, is one the played duration depends on: not a rate, a shape
// parameter or a spike.
func affectsDuration(f, path string) bool {
	if isUnder(f, joinPath(path, "spikes")) || isUnder(f, joinPath(path, "diurnal.hourly_weights")) {
		return false
	}
	switch label(f) {
	case "rate", "from", "to", "arrival", "daily_requests", "peak_multiplier", "peak_to_trough", "peak_hour":
		return false
	}
	return true
}

// curveSafety checks a valid curve against the safety caps.
func (c *checker) curveSafety(cv *Curve, path string, safety Safety) {
	c.durationSafety(cv, path, safety)
	c.peakSafety(cv, path, safety)
}

// durationSafety checks the played duration of a curve against the cap.
func (c *checker) durationSafety(cv *Curve, path string, safety Safety) {
	if played := Duration(cv.Duration()); played > safety.MaxDuration {
		at := c.durationPath(cv, path)
		if cv.Compress != nil {
			c.add(at, "the curve plays for %s (%s compressed %sx), over safety.max_duration %s",
				played, Duration(cv.baseDuration()), formatNumber(cv.factor()), safety.MaxDuration)
		} else {
			c.add(at, "the curve plays for %s, over safety.max_duration %s", played, safety.MaxDuration)
		}
	}
}

// peakSafety checks the peak rate of a valid curve against the cap.
func (c *checker) peakSafety(cv *Curve, path string, safety Safety) {
	peak, spikes := cv.peakBound()
	if !(peak > float64(safety.MaxRate)) {
		return
	}
	if len(spikes) == 0 {
		c.add(c.peakPath(cv, path), "peak rate %s is over safety.max_rate %s", formatRate(peak), safety.MaxRate)
		return
	}
	// Point at the largest spike where the bound is reached.
	top := spikes[0]
	var factors, names []string
	for _, j := range spikes {
		if cv.Spikes[j].Multiplier > cv.Spikes[top].Multiplier {
			top = j
		}
		factors = append(factors, cv.Spikes[j].Multiplier.String())
		names = append(names, indexPath("spikes", j))
	}
	base := peak
	for _, j := range spikes {
		base /= float64(cv.Spikes[j].Multiplier)
	}
	c.add(joinPath(indexPath(joinPath(path, "spikes"), top), "multiplier"),
		"peak rate up to %s (%s × %s from %s) is over safety.max_rate %s",
		formatRate(peak), formatRate(base), strings.Join(factors, " × "), strings.Join(names, " and "), safety.MaxRate)
}

// durationPath is where a curve's length is written.
func (c *checker) durationPath(cv *Curve, path string) string {
	switch {
	case cv.Compress != nil:
		return joinPath(path, "compress")
	case cv.Constant != nil:
		return joinPath(path, "constant.duration")
	case cv.Ramp != nil:
		return joinPath(path, "ramp.duration")
	case cv.Steps != nil:
		return joinPath(path, "steps")
	}
	return c.written(joinPath(path, "diurnal.duration"), joinPath(path, "diurnal"))
}

// peakPath is where the base's peak rate is written.
func (c *checker) peakPath(cv *Curve, path string) string {
	switch {
	case cv.Constant != nil:
		return joinPath(path, "constant.rate")
	case cv.Ramp != nil:
		if cv.Ramp.From > cv.Ramp.To {
			return joinPath(path, "ramp.from")
		}
		return joinPath(path, "ramp.to")
	case cv.Steps != nil:
		top := 0
		for i, s := range cv.Steps {
			if s.Rate > cv.Steps[top].Rate {
				top = i
			}
		}
		return joinPath(indexPath(joinPath(path, "steps"), top), "rate")
	case cv.Diurnal.HourlyWeights != nil:
		return joinPath(path, "diurnal.hourly_weights")
	}
	return c.written(joinPath(path, "diurnal.peak_multiplier"), joinPath(path, "diurnal.daily_requests"))
}

// formatRate formats a computed rate for a message: the exact form of
// Rate.String when it is short, else rounded to two decimals.
func formatRate(r float64) string {
	if s := Rate(r).String(); len(s) <= 10 {
		return s
	}
	s := strconv.FormatFloat(r, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "/s"
}

// safety checks the safety section and returns it with the defaults
// filled in, and whether it can be used to check the curves.
func (c *checker) safety(sf *Safety) (Safety, bool) {
	n := len(c.probs)
	ratePath := "safety.max_rate"
	if sf.MaxRate != 0 || c.set(ratePath) {
		switch {
		case !(sf.MaxRate > 0):
			c.add(ratePath, "max_rate must be > 0 (got %s)", formatNumber(float64(sf.MaxRate)))
		case sf.MaxRate > MaxRate:
			c.add(ratePath, "max_rate must be at most %s (got %s)", MaxRate, sf.MaxRate)
		}
	}
	durPath := "safety.max_duration"
	if sf.MaxDuration != 0 || c.set(durPath) {
		switch {
		case sf.MaxDuration <= 0:
			c.add(durPath, "max_duration must be > 0 (got %s)", sf.MaxDuration)
		case sf.MaxDuration > MaxDuration:
			c.add(durPath, "max_duration must be at most %s (got %s)", MaxDuration, sf.MaxDuration)
		}
	}
	lagPath := "safety.max_send_lag"
	if sf.MaxSendLag != 0 || c.set(lagPath) {
		switch {
		case sf.MaxSendLag <= 0:
			c.add(lagPath, "max_send_lag must be > 0 (got %s)", sf.MaxSendLag)
		case sf.MaxSendLag > MaxSendLagBound:
			c.add(lagPath, "max_send_lag must be at most %s (got %s)", MaxSendLagBound, sf.MaxSendLag)
		}
	}
	lossPath := "safety.on_agent_loss"
	if sf.OnAgentLoss != "" || c.set(lossPath) {
		if sf.OnAgentLoss != OnAgentLossDegrade && sf.OnAgentLoss != OnAgentLossAbort {
			c.add(lossPath, "unknown on_agent_loss %q (want degrade or abort)", sf.OnAgentLoss)
		}
	}
	return sf.effective(), len(c.probs) == n && !c.failed("safety")
}

// thresholds parses the thresholds and checks the names they select.
func (c *checker) thresholds(ths []Threshold) {
	if len(ths) > MaxThresholds {
		c.add("thresholds", "at most %d thresholds are allowed (got %d)", MaxThresholds, len(ths))
	}
	c.parsed = make([]ThresholdExpr, len(ths))
	for i, th := range ths {
		path := indexPath("thresholds", i)
		exprPath := joinPath(path, "expr")
		gracePath := joinPath(path, "grace")
		c.timeBound(gracePath, th.Grace)
		if th.Grace > 0 && !th.Abort {
			c.warn(gracePath, "grace has no effect without abort: true")
		}
		if strings.TrimSpace(th.Expr) == "" {
			if c.src != nil && !c.set(exprPath) {
				c.missing(path, "expr")
			} else {
				c.add(exprPath, "threshold must not be empty (want e.g. p99 < 250ms)")
			}
			continue
		}
		e, err := ParseThreshold(th.Expr)
		if err != nil {
			te := err.(*ThresholdError)
			c.addIn(exprPath, th.Expr, te.Offset, "invalid threshold: %s", te.Msg)
			continue
		}
		c.parsed[i] = e
		journeys := len(c.journeyNames) > 0
		if e.JourneyMetric() && !journeys {
			c.addIn(exprPath, th.Expr, strings.Index(th.Expr, e.Metric[:7]),
				"%s is a journey metric, and the scenario has no journeys", e.Metric)
		}
		if _, ok := e.Selectors["step"]; ok && e.JourneyMetric() {
			c.addIn(exprPath, th.Expr, selectorOffset(th.Expr, "step"),
				"%s is measured per journey: select it with {journey=…}, not {step=…}", e.Metric)
		}
		for _, key := range selectorKeys {
			name, ok := e.Selectors[key]
			if !ok {
				continue
			}
			at := selectorOffset(th.Expr, key)
			var names []string
			switch key {
			case "stage":
				names = c.stageNames
			case "request":
				if journeys {
					c.addIn(exprPath, th.Expr, at, "unknown request %q in threshold (a scenario of journeys has no requests: select a step with {step=…})", name)
					continue
				}
				names = c.requestNames
			case "journey":
				names = c.journeyNames
			case "step":
				if j, ok := e.Selectors["journey"]; ok && !slices.Contains(c.journeyNames, j) {
					continue // the unknown journey is reported
				}
				full, msg := c.resolveStep(name, e.Selectors["journey"])
				if msg != "" {
					c.addIn(exprPath, th.Expr, at, "%s", msg)
				} else {
					e.Selectors["step"] = full
				}
				continue
			}
			if !slices.Contains(names, name) {
				what := quoteList(names)
				if key == "journey" && !journeys {
					what = "none: the scenario has requests"
				}
				c.addIn(exprPath, th.Expr, at, "unknown %s %q in threshold (%ss: %s)", key, name, key, what)
			}
		}
	}
}

// resolveStep finds the step a {step=NAME} selector names: NAME is
// JOURNEY/STEP, or STEP alone when only one journey (or the one journey
// selected by {journey=…}) has a step of that name. It returns the step's
// full name, or why there is none.
func (c *checker) resolveStep(name, journey string) (string, string) {
	if len(c.journeyNames) == 0 {
		return "", fmt.Sprintf("unknown step %q in threshold (steps: none: the scenario has requests)", name)
	}
	var all, bare []string
	full := ""
	for i, j := range c.journeyNames {
		if journey != "" && j != journey {
			continue
		}
		for _, st := range c.stepNames[i] {
			if st == "" {
				continue // a think step
			}
			all = append(all, j+"/"+st)
			switch name {
			case j + "/" + st:
				full = name
			case st:
				bare = append(bare, j+"/"+st)
			}
		}
	}
	switch {
	case full != "":
		return full, ""
	case len(bare) == 1:
		return bare[0], ""
	case len(bare) > 1:
		return "", fmt.Sprintf("step %q is in several journeys (%s): write JOURNEY/STEP", name, quoteList(bare))
	case journey != "" && slices.Contains(c.journeyNames, journey):
		return "", fmt.Sprintf("unknown step %q of journey %q in threshold (steps: %s)", name, journey, quoteList(all))
	}
	return "", fmt.Sprintf("unknown step %q in threshold (steps: %s)", name, quoteList(all))
}

// selectorOffset is where the value of selector key starts in expr, or 0:
// the key is the one after "{" or "," and before "=" (so that "step" is
// not found inside "{journey=mystep, …}").
func selectorOffset(expr, key string) int {
	open := strings.IndexByte(expr, '{')
	if open < 0 {
		return 0
	}
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' }
	for from := open; ; {
		i := strings.Index(expr[from:], key)
		if i < 0 {
			return 0
		}
		i += from
		from = i + len(key)
		b := i - 1
		for b > open && isSpace(expr[b]) {
			b--
		}
		j := i + len(key)
		for j < len(expr) && isSpace(expr[j]) {
			j++
		}
		if (expr[b] != '{' && expr[b] != ',') || j == len(expr) || expr[j] != '=' {
			continue
		}
		for j++; j < len(expr) && isSpace(expr[j]); j++ {
		}
		return j
	}
}

// quoteList quotes names for a message, "none" for no names.
func quoteList(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// capacity checks the capacity inputs: every value given is positive (a
// count or rate of 0 is not an input, it is a mistake).
func (c *checker) capacity(cp *Capacity) {
	if cp == nil {
		return
	}
	positive := func(field string, v float64, show string) {
		p := joinPath("capacity", field)
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || (v == 0 && c.set(p)) {
			c.add(p, "%s must be > 0 (got %s)", field, show)
		}
	}
	atLeastOne := func(field string, v float64, show string) {
		p := joinPath("capacity", field)
		if (v != 0 || c.set(p)) && !(v >= 1 && !math.IsInf(v, 0)) {
			c.add(p, "%s must be at least 1 (got %s)", field, show)
		}
	}
	fraction := func(field string, v Percent) {
		if !(v >= 0 && v <= 1) {
			c.add(joinPath("capacity", field), "%s must be from 0%% to 100%% (got %s)", field, v)
		}
	}
	positive("daily_requests", float64(cp.DailyRequests), cp.DailyRequests.String())
	atLeastOne("peak_multiplier", float64(cp.PeakMultiplier), cp.PeakMultiplier.String())
	positive("per_server_rps", cp.PerServerRPS, formatNumber(cp.PerServerRPS))
	atLeastOne("headroom", cp.Headroom, formatNumber(cp.Headroom))
	fraction("read_fraction", cp.ReadFraction)
	fraction("cache_hit_rate", cp.CacheHitRate)
	positive("replica_read_rps", cp.ReplicaReadRPS, formatNumber(cp.ReplicaReadRPS))
	positive("primary_write_ceiling", cp.PrimaryWriteCeiling, formatNumber(cp.PrimaryWriteCeiling))
	positive("queue_workers", float64(cp.QueueWorkers), strconv.Itoa(cp.QueueWorkers))
	positive("queue_job_time", float64(cp.QueueJobTime), cp.QueueJobTime.String())
	positive("region_rtt", float64(cp.RegionRTT), cp.RegionRTT.String())
	positive("calls_per_page", float64(cp.CallsPerPage), strconv.Itoa(cp.CallsPerPage))
	c.timeBound("capacity.queue_job_time", cp.QueueJobTime)
	c.timeBound("capacity.region_rtt", cp.RegionRTT)
}
