package schedule

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// ErrInvalid is wrapped by every error about invalid schedule settings.
var ErrInvalid = errors.New("invalid schedule")

// Limits on what a schedule may describe. They keep every arrival index and
// instant representable and every run bounded.
const (
	// MaxRate is the highest rate a curve may ask for, in requests per
	// second, spikes included.
	MaxRate = 10_000_000
	// MaxDuration is the longest a single stage may last (played time,
	// after compression).
	MaxDuration = 7 * 24 * time.Hour
	// MaxBaseDuration is the longest base curve a Spec may describe before
	// compression ("a year in an hour" is still allowed).
	MaxBaseDuration = 366 * 24 * time.Hour
	// MaxSteps bounds Spec.Steps.
	MaxSteps = 10_000
	// MaxSpikes bounds Spec.Spikes.
	MaxSpikes = 64
)

// day is the period of a diurnal curve.
const day = 24 * time.Hour

// Constant is a fixed rate for a duration.
type Constant struct {
	// Rate is in requests per second, > 0 and <= MaxRate.
	Rate float64
	// Duration is how long the rate is held, > 0.
	Duration time.Duration
}

// Ramp changes the rate linearly from From to To (requests per second, both
// >= 0 and not both 0) over Duration (> 0).
type Ramp struct {
	From, To float64
	Duration time.Duration
}

// Step holds Rate (requests per second, >= 0) for Duration (> 0). Steps
// are played one after the other; a zero rate is a pause.
type Step struct {
	Rate     float64
	Duration time.Duration
}

// Diurnal is a 24-hour shape, repeated for Duration (0 means 24h). Base time
// 0 is midnight, hour h of the day is base time h·3600 s. The average rate
// over every whole day is DailyRequests/86400 (100M/day → 1157.407…/s).
//
// Either HourlyWeights (24 weights >= 0, not all 0) gives a piecewise
// constant rate: in hour h it is DailyRequests·w_h/Σw/3600 per second.
//
// Or the smooth shape: peak = PeakMultiplier × average at PeakHour (0..24,
// fractional allowed), trough = peak/PeakToTrough twelve hours away (0 means
// the default trough = average/PeakMultiplier), and the mean over the day is
// exactly the average. With θ = 2π(h − PeakHour)/24 the rate is
//
//	λ(h) = trough + (peak − trough)·g(θ),
//	g(θ) = (e^{κ·cos θ} − e^{−κ}) / (e^{κ} − e^{−κ})      (g = (1+cos θ)/2 at κ = 0)
//
// g is an exponential of a cosine (a von Mises bell) rescaled to run from 0
// at the trough to 1 at the peak. It is analytic everywhere (unlike a
// non-integer power of a raised cosine, which has a kink at the trough), is
// monotone between trough and peak, and its daily mean decreases strictly
// from 1 (κ → −∞, a broad plateau) through 1/2 (κ = 0, a raised cosine) to 0
// (κ → +∞, a narrow peak of width ≈ 24h/(2π√κ)). κ is solved so that the
// mean of g is exactly (average − trough)/(peak − trough); this is why the
// trough must lie below the average and the peak above it. The default 5×
// peak gives κ ≈ 5.7: a peak about ±1.9 h wide at half height.
type Diurnal struct {
	DailyRequests  float64
	PeakMultiplier float64
	PeakToTrough   float64
	PeakHour       float64
	HourlyWeights  []float64
	// Duration of the base curve; 0 means 24h. (Compress then shortens the
	// played duration.)
	Duration time.Duration
}

// Spike multiplies the curve: ×1 → ×Multiplier linearly over Ramp, holds
// Hold, back to ×1 over RampDown (0 means = Ramp). At is the offset from T0
// in played time where the ramp starts, or AtFraction (0..1) of the played
// duration when At is 0 and AtFraction > 0. A Multiplier below 1 is a dip.
// Overlapping spikes multiply. A spike may run past the end of the curve; it
// is cut there.
type Spike struct {
	At                   time.Duration
	AtFraction           float64
	Multiplier           float64
	Ramp, Hold, RampDown time.Duration
}

// rampDown is the effective ramp-down duration.
func (s Spike) rampDown() time.Duration {
	if s.RampDown == 0 {
		return s.Ramp
	}
	return s.RampDown
}

// Spec is a rate curve λ(t) as a scenario describes it, after unit parsing.
// Exactly one base (Constant, Ramp, Steps or Diurnal).
type Spec struct {
	Constant *Constant
	Ramp     *Ramp  // linear from From to To req/s over Duration
	Steps    []Step // consecutive {Rate, Duration}
	Diurnal  *Diurnal
	Spikes   []Spike // multiplicative overlays on the base, in played time
	// Compress plays the base curve faster: a factor k >= 1 (e.g. "24h in
	// 10m" = 144). Rates are unchanged (the target sees the real peak rate);
	// played time t corresponds to base time k·t, so the total count shrinks
	// by k. 0 means 1.
	Compress float64
}

// clone returns a deep copy, so a Curve's spec cannot be changed from
// outside.
func (s Spec) clone() Spec {
	c := s
	if s.Constant != nil {
		v := *s.Constant
		c.Constant = &v
	}
	if s.Ramp != nil {
		v := *s.Ramp
		c.Ramp = &v
	}
	if s.Diurnal != nil {
		v := *s.Diurnal
		v.HourlyWeights = slices.Clone(s.Diurnal.HourlyWeights)
		c.Diurnal = &v
	}
	c.Steps = slices.Clone(s.Steps)
	c.Spikes = slices.Clone(s.Spikes)
	return c
}

// compress is the effective compression factor.
func (s Spec) compress() float64 {
	if s.Compress == 0 {
		return 1
	}
	return s.Compress
}

// baseDuration is the duration of the base curve before compression.
func (s Spec) baseDuration() time.Duration {
	switch {
	case s.Constant != nil:
		return s.Constant.Duration
	case s.Ramp != nil:
		return s.Ramp.Duration
	case len(s.Steps) > 0:
		var d time.Duration
		for _, st := range s.Steps {
			d += st.Duration
		}
		return d
	case s.Diurnal != nil:
		if s.Diurnal.Duration == 0 {
			return day
		}
		return s.Diurnal.Duration
	}
	return 0
}

// invalid formats one validation problem.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// goodRate reports whether r is a usable rate: finite, >= 0, <= MaxRate.
func goodRate(r float64) bool { return !math.IsNaN(r) && r >= 0 && r <= MaxRate }

// validate checks everything that can be checked without building the
// curve and returns every problem; the played duration is returned when it
// could be computed.
func (s Spec) validate() ([]error, time.Duration) {
	var errs []error
	var bases []string
	if s.Constant != nil {
		bases = append(bases, "constant")
		c := s.Constant
		if !goodRate(c.Rate) || c.Rate == 0 {
			errs = append(errs, invalid("constant: rate %v/s must be > 0 and <= %d/s", c.Rate, MaxRate))
		}
		if c.Duration <= 0 || c.Duration > MaxBaseDuration {
			errs = append(errs, invalid("constant: duration %v must be > 0 and <= %v", c.Duration, MaxBaseDuration))
		}
	}
	if s.Ramp != nil {
		bases = append(bases, "ramp")
		r := s.Ramp
		if !goodRate(r.From) {
			errs = append(errs, invalid("ramp: from %v/s must be >= 0 and <= %d/s", r.From, MaxRate))
		}
		if !goodRate(r.To) {
			errs = append(errs, invalid("ramp: to %v/s must be >= 0 and <= %d/s", r.To, MaxRate))
		}
		if r.From == 0 && r.To == 0 {
			errs = append(errs, invalid("ramp: from and to are both 0/s"))
		}
		if r.Duration <= 0 || r.Duration > MaxBaseDuration {
			errs = append(errs, invalid("ramp: duration %v must be > 0 and <= %v", r.Duration, MaxBaseDuration))
		}
	}
	if len(s.Steps) > 0 {
		bases = append(bases, "steps")
		if len(s.Steps) > MaxSteps {
			errs = append(errs, invalid("steps: %d steps, more than %d", len(s.Steps), MaxSteps))
		}
		var total time.Duration
		anyLoad := false
		for k, st := range s.Steps {
			if !goodRate(st.Rate) {
				errs = append(errs, invalid("steps[%d]: rate %v/s must be >= 0 and <= %d/s", k, st.Rate, MaxRate))
			}
			anyLoad = anyLoad || st.Rate > 0
			if st.Duration <= 0 || st.Duration > MaxBaseDuration {
				errs = append(errs, invalid("steps[%d]: duration %v must be > 0 and <= %v", k, st.Duration, MaxBaseDuration))
			} else {
				total += st.Duration
			}
			if total > MaxBaseDuration {
				errs = append(errs, invalid("steps: durations add up to more than %v", MaxBaseDuration))
				break
			}
		}
		if !anyLoad {
			errs = append(errs, invalid("steps: every rate is 0/s"))
		}
	}
	if s.Diurnal != nil {
		bases = append(bases, "diurnal")
		errs = append(errs, s.Diurnal.validate()...)
	}
	switch len(bases) {
	case 0:
		errs = append(errs, invalid("no base curve: give one of constant, ramp, steps or diurnal"))
	case 1:
	default:
		errs = append(errs, invalid("%d base curves (%v): give exactly one of constant, ramp, steps or diurnal", len(bases), bases))
	}

	if k := s.Compress; math.IsNaN(k) || k < 0 || (k > 0 && k < 1) || math.IsInf(k, 0) {
		errs = append(errs, invalid("compress factor %v must be >= 1 (0 means 1)", k))
	}
	var played time.Duration
	if len(bases) == 1 && len(errs) == 0 {
		played = playedDuration(s.baseDuration(), s.compress())
		if played <= 0 || played > MaxDuration {
			errs = append(errs, invalid("duration %v must be > 0 and <= %v", played, MaxDuration))
			played = 0
		}
	}

	if len(s.Spikes) > MaxSpikes {
		errs = append(errs, invalid("spikes: %d spikes, more than %d", len(s.Spikes), MaxSpikes))
	}
	for k, sp := range s.Spikes {
		if math.IsNaN(sp.Multiplier) || sp.Multiplier <= 0 || math.IsInf(sp.Multiplier, 0) {
			errs = append(errs, invalid("spikes[%d]: multiplier %v must be finite and > 0", k, sp.Multiplier))
		}
		if sp.Ramp < 0 || sp.Hold < 0 || sp.RampDown < 0 {
			errs = append(errs, invalid("spikes[%d]: ramp %v, hold %v and ramp down %v must be >= 0", k, sp.Ramp, sp.Hold, sp.RampDown))
		} else if sp.Ramp+sp.Hold+sp.rampDown() <= 0 || sp.Ramp+sp.Hold+sp.rampDown() > MaxBaseDuration {
			errs = append(errs, invalid("spikes[%d]: ramp + hold + ramp down = %v must be > 0 and <= %v", k, sp.Ramp+sp.Hold+sp.rampDown(), MaxBaseDuration))
		}
		if sp.At < 0 {
			errs = append(errs, invalid("spikes[%d]: at %v must be >= 0", k, sp.At))
		}
		if math.IsNaN(sp.AtFraction) || sp.AtFraction < 0 || sp.AtFraction >= 1 {
			errs = append(errs, invalid("spikes[%d]: at fraction %v must be in [0, 1)", k, sp.AtFraction))
		}
		if sp.At != 0 && sp.AtFraction != 0 {
			errs = append(errs, invalid("spikes[%d]: give at as an offset (%v) or as a fraction (%v), not both", k, sp.At, sp.AtFraction))
		}
		if played > 0 && sp.At >= played {
			errs = append(errs, invalid("spikes[%d]: starts at %v, not before the end of the curve at %v", k, sp.At, played))
		}
	}
	return errs, played
}

// playedDuration is the base duration divided by the compression factor,
// rounded to the nanosecond.
func playedDuration(base time.Duration, k float64) time.Duration {
	if k == 1 {
		return base
	}
	return time.Duration(math.Round(float64(base) / k))
}

// validate checks a diurnal base.
func (d *Diurnal) validate() []error {
	var errs []error
	if math.IsNaN(d.DailyRequests) || d.DailyRequests <= 0 || d.DailyRequests/86400 > MaxRate {
		errs = append(errs, invalid("diurnal: daily requests %v must be > 0 and average at most %d/s", d.DailyRequests, MaxRate))
	}
	if d.Duration < 0 || d.Duration > MaxBaseDuration {
		errs = append(errs, invalid("diurnal: duration %v must be >= 0 (0 means 24h) and <= %v", d.Duration, MaxBaseDuration))
	}
	if len(d.HourlyWeights) > 0 {
		if d.PeakMultiplier != 0 || d.PeakToTrough != 0 || d.PeakHour != 0 {
			errs = append(errs, invalid("diurnal: hourly weights replace peak multiplier, peak to trough and peak hour; give one or the other"))
		}
		if len(d.HourlyWeights) != 24 {
			errs = append(errs, invalid("diurnal: %d hourly weights; want 24", len(d.HourlyWeights)))
		}
		sum := 0.0
		for h, w := range d.HourlyWeights {
			if math.IsNaN(w) || w < 0 || math.IsInf(w, 0) {
				errs = append(errs, invalid("diurnal: hourly weight %d is %v; want a finite number >= 0", h, w))
				continue
			}
			sum += w
		}
		if sum <= 0 && len(errs) == 0 {
			errs = append(errs, invalid("diurnal: hourly weights are all 0"))
		}
		return errs
	}
	m, pt := d.PeakMultiplier, d.PeakToTrough
	switch {
	case m == 0:
		errs = append(errs, invalid("diurnal: give peak multiplier or hourly weights"))
	case math.IsNaN(m) || m < 1 || math.IsInf(m, 0):
		errs = append(errs, invalid("diurnal: peak multiplier %v must be >= 1 (the peak is at least the average)", m))
	}
	if math.IsNaN(pt) || (pt != 0 && pt < 1) || math.IsInf(pt, 0) {
		errs = append(errs, invalid("diurnal: peak to trough %v must be >= 1 (0 means the default, peak multiplier squared)", pt))
	} else if m == 1 && pt > 1 {
		errs = append(errs, invalid("diurnal: peak to trough %v needs a peak multiplier above 1: a flat day has peak = trough = average", pt))
	} else if m > 1 && pt != 0 && pt <= m {
		errs = append(errs, invalid("diurnal: peak to trough %v must exceed peak multiplier %v: a trough of peak/%v = %v×average is not below the average, so the day cannot average 1×", pt, m, pt, m/pt))
	}
	if math.IsNaN(d.PeakHour) || d.PeakHour < 0 || d.PeakHour > 24 {
		errs = append(errs, invalid("diurnal: peak hour %v must be in [0, 24]", d.PeakHour))
	}
	return errs
}
