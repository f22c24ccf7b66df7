package scenario

import (
	"math"
	"slices"
	"time"
)

// Curve is a load section: the arrival-rate curve λ(t) and the arrival
// process that samples it. (It is not called Load because that is the name
// of the function that reads a file.)
//
// A curve has exactly one base — Constant, Ramp, Steps or Diurnal — with
// optional Spikes on top, and an optional Compress that plays it faster:
//
//	load:
//	  arrival: poisson
//	  diurnal: {daily_requests: 100M, peak_multiplier: 5x, peak_hour: 20}
//	  spikes: [{at: 40%, multiplier: 5x, ramp: 30s, hold: 2m}]
//	  compress: 24h in 10m
//
// Times in Spikes are in played time (after Compress); times in the base
// are in curve time (before it). The scenario package checks the curve and
// bounds its peak (PeakBound) without building it; internal/schedule builds
// it and computes λ, Λ and the arrival times exactly.
type Curve struct {
	// Arrival is the arrival process: "uniform" (the default; arrival i at
	// the time Λ(t) reaches i) or "poisson" (a non-homogeneous Poisson
	// process with intensity λ, seeded by Scenario.Seed).
	Arrival string `yaml:"arrival" json:"arrival,omitempty"`
	// Constant is a fixed rate for a fixed time.
	Constant *Constant `yaml:"constant" json:"constant,omitempty"`
	// Ramp changes the rate linearly.
	Ramp *Ramp `yaml:"ramp" json:"ramp,omitempty"`
	// Steps are fixed rates played one after the other.
	Steps []Step `yaml:"steps" json:"steps,omitempty"`
	// Diurnal is a daily shape.
	Diurnal *Diurnal `yaml:"diurnal" json:"diurnal,omitempty"`
	// Spikes multiply the base curve for a while. At most MaxSpikes.
	Spikes []Spike `yaml:"spikes" json:"spikes,omitempty"`
	// Compress plays the curve faster: "24h in 10m". Rates are unchanged;
	// the played duration (and so the number of requests) shrinks by
	// Compress.Factor().
	Compress *Compress `yaml:"compress" json:"compress,omitempty"`
}

// Constant is a fixed rate for a fixed time.
type Constant struct {
	// Rate is the arrival rate; > 0.
	Rate Rate `yaml:"rate" json:"rate"`
	// Duration is how long the curve lasts; > 0.
	Duration Duration `yaml:"duration" json:"duration"`
}

// Ramp changes the rate linearly from From to To over Duration:
// λ(t) = From + (To − From)·t/Duration.
type Ramp struct {
	// From is the rate at the start; >= 0, default 0.
	From Rate `yaml:"from" json:"from"`
	// To is the rate at the end; >= 0. From and To are not both 0.
	To Rate `yaml:"to" json:"to"`
	// Duration is how long the ramp lasts; > 0.
	Duration Duration `yaml:"duration" json:"duration"`
}

// Step is one step of a staircase: a fixed rate for a fixed time.
type Step struct {
	// Rate is the rate of the step; >= 0 (0 is a pause). Required, and at
	// least one step of a curve has a rate > 0.
	Rate Rate `yaml:"rate" json:"rate"`
	// Duration is how long the step lasts; > 0.
	Duration Duration `yaml:"duration" json:"duration"`
}

// Diurnal is a daily shape of the rate, given by the daily volume and
// either hourly weights or a smooth shape.
//
// The average rate is DailyRequests / 86400 s: 100M requests a day is
// 1157.407… req/s, the number capacity planners use.
//
// With HourlyWeights (24 numbers >= 0, not all 0) the rate is constant
// within each hour h of the day: DailyRequests · w_h / Σw / 3600 s.
//
// Otherwise the smooth shape peaks at PeakMultiplier × average at
// PeakHour, has its trough twelve hours away at peak / PeakToTrough (or,
// when PeakToTrough is not given, at average / PeakMultiplier), and its
// mean over the day is exactly the average (internal/schedule documents
// the formula). Such a shape exists only when trough < average < peak,
// that is when PeakToTrough > PeakMultiplier > 1 — or PeakMultiplier = 1
// (a flat day) with PeakToTrough 1 or not given.
//
// Beyond 24 hours the day repeats.
type Diurnal struct {
	// DailyRequests is the number of requests per 24 hours; > 0.
	DailyRequests Count `yaml:"daily_requests" json:"daily_requests"`
	// PeakMultiplier is the peak rate over the average ("5x"); >= 1.
	// Required unless HourlyWeights is given.
	PeakMultiplier Multiplier `yaml:"peak_multiplier" json:"peak_multiplier,omitempty"`
	// PeakToTrough is the peak rate over the lowest rate of the day
	// ("20x"); optional, > PeakMultiplier.
	PeakToTrough Multiplier `yaml:"peak_to_trough" json:"peak_to_trough,omitempty"`
	// PeakHour is the hour of the peak, from 0 to 24 (fractions allowed:
	// 20.5 is 20:30). Default 0, midnight.
	PeakHour float64 `yaml:"peak_hour" json:"peak_hour,omitempty"`
	// HourlyWeights are the relative volumes of the 24 hours of the day,
	// from 00:00; instead of PeakMultiplier, PeakToTrough and PeakHour.
	HourlyWeights []float64 `yaml:"hourly_weights" json:"hourly_weights,omitempty"`
	// Duration is the length of the curve; default 24h.
	Duration Duration `yaml:"duration" json:"duration,omitempty"`
}

// Spike multiplies the curve for a while: the factor goes from ×1 to
// ×Multiplier linearly over Ramp, holds for Hold, and returns to ×1
// linearly over RampDown. Overlapping spikes multiply. A spike that runs
// past the end of the curve is cut there.
type Spike struct {
	// At is where the ramp up starts, in played time: an offset ("3m") or
	// a share of the played duration ("40%"). Required; inside the curve.
	At SpikeAt `yaml:"at" json:"at"`
	// Multiplier is the factor at the top ("5x"); > 0 (below 1 is a dip).
	// Required.
	Multiplier Multiplier `yaml:"multiplier" json:"multiplier"`
	// Ramp is the time from ×1 to the top.
	Ramp Duration `yaml:"ramp" json:"ramp,omitempty"`
	// Hold is the time at the top.
	Hold Duration `yaml:"hold" json:"hold,omitempty"`
	// RampDown is the time from the top back to ×1; 0 means Ramp.
	RampDown Duration `yaml:"ramp_down" json:"ramp_down,omitempty"`
}

// day is the period of a diurnal curve.
const day = 24 * time.Hour

// isSet reports whether any part of the curve is set.
func (c *Curve) isSet() bool {
	return c.Arrival != "" || c.Constant != nil || c.Ramp != nil || c.Steps != nil ||
		c.Diurnal != nil || c.Spikes != nil || c.Compress != nil
}

// factor is the compression factor, 1 without Compress.
func (c *Curve) factor() float64 {
	if c.Compress == nil {
		return 1
	}
	return c.Compress.Factor()
}

// baseDuration is the length of the base curve in curve time; 0 without a
// base.
func (c *Curve) baseDuration() time.Duration {
	switch {
	case c.Constant != nil:
		return c.Constant.Duration.Std()
	case c.Ramp != nil:
		return c.Ramp.Duration.Std()
	case c.Steps != nil:
		var total time.Duration
		for _, s := range c.Steps {
			if total > math.MaxInt64-s.Duration.Std() {
				return math.MaxInt64
			}
			total += s.Duration.Std()
		}
		return total
	case c.Diurnal != nil:
		if c.Diurnal.Duration == 0 {
			return day
		}
		return c.Diurnal.Duration.Std()
	}
	return 0
}

// Duration is the played duration of the curve: the base duration divided
// by the compression factor, rounded to the nanosecond. It is only
// meaningful for a valid curve.
func (c *Curve) Duration() time.Duration {
	return time.Duration(math.Round(float64(c.baseDuration()) / c.factor()))
}

// PeakBound is an upper bound of the curve's rate, computed from the
// scenario alone: exact for a curve without spikes (for the smooth diurnal
// shape, PeakMultiplier × the average), and with spikes the highest
// product, over time, of the base's maximum and the spike multipliers in
// force. It is what Parse compares with safety.max_rate. It is only
// meaningful for a valid curve.
func (c *Curve) PeakBound() Rate {
	r, _ := c.peakBound()
	return Rate(r)
}

// peakBound returns PeakBound and the spikes that multiply the base where
// the bound is reached (none when the base's peak alone is the bound).
//
// The spikes' windows cut the played curve into segments in which the same
// spikes are in force. In a segment the rate is at most the base's maximum
// over the segment times the product of the multipliers above 1 of those
// spikes (a spike's factor never exceeds its multiplier, and a factor
// below 1 can only lower the rate). The bound is the largest of these.
func (c *Curve) peakBound() (float64, []int) {
	played := float64(c.Duration())
	k := c.factor()
	type window struct{ start, end float64 }
	windows := make([]window, len(c.Spikes))
	cuts := []float64{0, played}
	for j, s := range c.Spikes {
		start := float64(s.At.Offset)
		if s.At.Offset == 0 {
			start = s.At.Fraction * played
		}
		down := s.RampDown
		if down == 0 {
			down = s.Ramp
		}
		end := start + float64(s.Ramp) + float64(s.Hold) + float64(down)
		windows[j] = window{start, end}
		cuts = append(cuts, min(max(start, 0), played), min(max(end, 0), played))
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)

	best, bestSpikes := c.baseMax(0, float64(c.baseDuration())), []int(nil)
	for i := 0; i+1 < len(cuts); i++ {
		a, b := cuts[i], cuts[i+1]
		mult, in := 1.0, []int(nil)
		for j, w := range windows {
			if w.start < b && w.end > a && c.Spikes[j].Multiplier > 1 {
				mult *= float64(c.Spikes[j].Multiplier)
				in = append(in, j)
			}
		}
		if in == nil {
			continue
		}
		if r := c.baseMax(a*k, b*k) * mult; r > best {
			best, bestSpikes = r, in
		}
	}
	return best, bestSpikes
}

// baseMax is the highest rate of the base curve over [x, y) in curve time
// (nanoseconds as float64): exact for the piecewise-linear bases and the
// hourly weights, the global peak for the smooth diurnal shape.
func (c *Curve) baseMax(x, y float64) float64 {
	switch {
	case c.Constant != nil:
		return float64(c.Constant.Rate)
	case c.Ramp != nil:
		r := c.Ramp
		at := func(t float64) float64 {
			f := min(max(t/float64(r.Duration), 0), 1)
			return float64(r.From) + (float64(r.To)-float64(r.From))*f
		}
		return max(at(x), at(y))
	case c.Steps != nil:
		peak, t := 0.0, 0.0
		for _, s := range c.Steps {
			end := t + float64(s.Duration)
			if t < y && end > x || (x == y && t <= x && x < end) {
				peak = max(peak, float64(s.Rate))
			}
			t = end
		}
		return peak
	case c.Diurnal != nil:
		d := c.Diurnal
		avg := float64(d.DailyRequests) / day.Seconds()
		if len(d.HourlyWeights) == 0 {
			return avg * float64(d.PeakMultiplier)
		}
		var sum float64
		for _, w := range d.HourlyWeights {
			sum += w
		}
		hour := float64(time.Hour)
		first, last := math.Floor(x/hour), math.Ceil(y/hour)
		if last-first >= 24 {
			first, last = 0, 24
		}
		peak := 0.0
		for h := first; h < max(last, first+1); h++ {
			w := d.HourlyWeights[int(math.Mod(h, 24))]
			peak = max(peak, float64(d.DailyRequests)*w/sum/3600)
		}
		return peak
	}
	return 0
}
