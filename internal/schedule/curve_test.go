package schedule

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func mustCurve(t testing.TB, spec Spec) *Curve {
	t.Helper()
	c, err := NewCurve(spec)
	if err != nil {
		t.Fatalf("NewCurve(%+v) error: %v", spec, err)
	}
	return c
}

// near reports whether got is within tol of want, relative to max(1, |want|).
func near(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

const (
	sec = time.Second
	mn  = time.Minute
	hr  = time.Hour
)

// hundredM is the planners' worked example: 100M requests a day, peaking at
// 5× the average at 20:00.
var hundredM = &Diurnal{DailyRequests: 100e6, PeakMultiplier: 5, PeakHour: 20}

// TestCurveIntegrals pins Λ, the total, the peak and the rate of each
// building block at chosen instants against values worked out by hand.
func TestCurveIntegrals(t *testing.T) {
	weights := make([]float64, 24)
	for h := range weights {
		weights[h] = float64(h + 1) // Σ = 300
	}
	// A point checks Λ (unless rateAtOnly) and λ (unless NaN) at an instant.
	type point struct {
		at         time.Duration
		cum, rate  float64
		rateAtOnly bool
	}
	tests := []struct {
		name     string
		spec     Spec
		dur      time.Duration
		total    float64
		peak     float64
		avg      float64
		points   []point
		tolerant float64 // relative tolerance (0: 1e-12)
	}{
		{
			name: "constant", spec: Spec{Constant: &Constant{Rate: 1000, Duration: 5 * sec}},
			dur: 5 * sec, total: 5000, peak: 1000, avg: 1000,
			points: []point{{0, 0, 1000, false}, {1500 * time.Millisecond, 1500, 1000, false}, {5 * sec, 5000, 0, false}},
		},
		{
			// 100 → 2000 over 2 min: Λ(t) = 100t + (1900/120)t²/2.
			name: "ramp", spec: Spec{Ramp: &Ramp{From: 100, To: 2000, Duration: 2 * mn}},
			dur: 2 * mn, total: 126_000, peak: 2000, avg: 1050,
			points: []point{{mn, 6000 + 28_500, 1050, false}, {30 * sec, 3000 + 1900.0/240*900, 575, false}},
		},
		{
			name: "ramp down to zero", spec: Spec{Ramp: &Ramp{From: 50, To: 0, Duration: 10 * sec}},
			dur: 10 * sec, total: 250, peak: 50, avg: 25,
			points: []point{{5 * sec, 250 - 62.5, 25, false}, {10*sec - 1, 250, 5e-9, true}},
		},
		{
			name: "steps", spec: Spec{Steps: []Step{{Rate: 100, Duration: 30 * sec}, {Rate: 0, Duration: 10 * sec}, {Rate: 500, Duration: 30 * sec}}},
			dur: 70 * sec, total: 18_000, peak: 500, avg: 18_000.0 / 70,
			points: []point{{29 * sec, 2900, 100, false}, {35 * sec, 3000, 0, false}, {40 * sec, 3000, 500, false}, {55 * sec, 10_500, 500, false}},
		},
		{
			// Hour h holds 1e6·(h+1)/300 requests.
			name: "hourly weights", spec: Spec{Diurnal: &Diurnal{DailyRequests: 1e6, HourlyWeights: weights}},
			dur: 24 * hr, total: 1e6, peak: 1e6 * 24 / 300 / 3600, avg: 1e6 / 86400,
			points: []point{{hr, 1e6 / 300, 1e6 * 2 / 300 / 3600, false}, {2*hr + 30*mn, 1e6 * (1 + 2 + 1.5) / 300, 1e6 * 3 / 300 / 3600, false}},
		},
		{
			// 100M/day: average 1157.407…/s, 5× peak 5787.037…/s at 20:00,
			// default trough average/5 = 231.48…/s at 08:00.
			name: "diurnal 100M/day", spec: Spec{Diurnal: hundredM},
			dur: 24 * hr, total: 100e6, peak: 100e6 / 86400 * 5, avg: 100e6 / 86400,
			points:   []point{{20 * hr, 0, 100e6 / 86400 * 5, true}, {8 * hr, 0, 100e6 / 86400 / 5, true}},
			tolerant: 1e-14,
		},
		{
			// Two days repeat the shape.
			name: "diurnal two days", spec: Spec{Diurnal: &Diurnal{DailyRequests: 100e6, PeakMultiplier: 5, PeakHour: 20, Duration: 48 * hr}},
			dur: 48 * hr, total: 200e6, peak: 100e6 / 86400 * 5, avg: 100e6 / 86400,
			points:   []point{{24 * hr, 100e6, math.NaN(), false}, {44 * hr, 0, 100e6 / 86400 * 5, true}},
			tolerant: 1e-14,
		},
		{
			// Peak to trough 20×: trough = 5787.04/20 = 289.35/s.
			name: "diurnal peak to trough", spec: Spec{Diurnal: &Diurnal{DailyRequests: 100e6, PeakMultiplier: 5, PeakToTrough: 20, PeakHour: 20}},
			dur: 24 * hr, total: 100e6, peak: 100e6 / 86400 * 5, avg: 100e6 / 86400,
			points:   []point{{8 * hr, 0, 100e6 / 86400 * 5 / 20, true}},
			tolerant: 1e-14,
		},
		{
			// 24h in 10m: same rates, 1/144 of the count, the 20:00 peak
			// at 20/24 of 10 minutes.
			name: "diurnal compressed", spec: Spec{Diurnal: hundredM, Compress: 144},
			dur: 10 * mn, total: 100e6 / 144, peak: 100e6 / 86400 * 5, avg: 100e6 / 86400,
			points:   []point{{500 * sec, 0, 100e6 / 86400 * 5, true}, {200 * sec, 0, 100e6 / 86400 / 5, true}},
			tolerant: 1e-14,
		},
		{
			name: "constant compressed", spec: Spec{Constant: &Constant{Rate: 10, Duration: hr}, Compress: 6},
			dur: 10 * mn, total: 6000, peak: 10, avg: 10,
			points: []point{{mn, 600, 10, false}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tol := tt.tolerant
			if tol == 0 {
				tol = 1e-12
			}
			c := mustCurve(t, tt.spec)
			if c.Duration() != tt.dur {
				t.Errorf("Duration() = %v; want %v", c.Duration(), tt.dur)
			}
			if !near(c.Total(), tt.total, tol) {
				t.Errorf("Total() = %.9f; want %.9f", c.Total(), tt.total)
			}
			if c.Cumulative(c.Duration()) != c.Total() || c.Cumulative(0) != 0 {
				t.Errorf("Cumulative(0), Cumulative(D) = %v, %v; want 0, %v", c.Cumulative(0), c.Cumulative(c.Duration()), c.Total())
			}
			if !near(c.Peak(), tt.peak, tol) {
				t.Errorf("Peak() = %.9f; want %.9f", c.Peak(), tt.peak)
			}
			if !near(c.Average(), tt.avg, tol) {
				t.Errorf("Average() = %.9f; want %.9f", c.Average(), tt.avg)
			}
			for _, p := range tt.points {
				if !p.rateAtOnly && !near(c.Cumulative(p.at), p.cum, tol) {
					t.Errorf("Cumulative(%v) = %.9f; want %.9f", p.at, c.Cumulative(p.at), p.cum)
				}
				if !math.IsNaN(p.rate) && !near(c.Rate(p.at), p.rate, tol) {
					t.Errorf("Rate(%v) = %.9f; want %.9f", p.at, c.Rate(p.at), p.rate)
				}
			}
		})
	}
}

// TestHundredMillionPerDay pins the planners' worked example to its usual
// printed precision.
func TestHundredMillionPerDay(t *testing.T) {
	c := mustCurve(t, Spec{Diurnal: hundredM})
	if got := math.Round(c.Average()*1000) / 1000; got != 1157.407 {
		t.Errorf("average = %.6f; want 1157.407", c.Average())
	}
	if got := math.Round(c.Peak()*1000) / 1000; got != 5787.037 {
		t.Errorf("peak = %.6f; want 5787.037", c.Peak())
	}
	if d := math.Abs(c.Total() - 100e6); d >= 1e-6 {
		t.Errorf("daily total = %.9f; want 100000000 within 1e-6", c.Total())
	}
	// The rate never leaves [trough, peak] and has its only maximum at 20:00.
	for m := time.Duration(0); m < 24*hr; m += 7 * mn {
		r := c.Rate(m)
		if r < 100e6/86400/5*(1-1e-12) || r > c.Peak() {
			t.Fatalf("Rate(%v) = %v outside [trough, peak]", m, r)
		}
	}
}

// TestDiurnalSharpness checks that every accepted peak multiplier, from a
// nearly flat day to a very sharp peak, integrates a day to its daily
// volume within 1e-6 arrivals.
func TestDiurnalSharpness(t *testing.T) {
	for _, m := range []float64{1, 1.0001, 1.5, 2, 5, 12, 24, 100, 1000} {
		for _, h := range []float64{0, 3.5, 13.37, 24} {
			c := mustCurve(t, Spec{Diurnal: &Diurnal{DailyRequests: 100e6, PeakMultiplier: m, PeakHour: h}})
			if d := math.Abs(c.Total() - 100e6); d >= 1e-6 {
				t.Errorf("peak %v× at %vh: daily total %.9f; want 1e8 within 1e-6", m, h, c.Total())
			}
			if !near(c.Peak(), 100e6/86400*m, 1e-13) {
				t.Errorf("peak %v× at %vh: Peak() = %v; want %v", m, h, c.Peak(), 100e6/86400*m)
			}
			at := time.Duration(h * float64(hr))
			if at == 24*hr {
				at = 0
			}
			if !near(c.Rate(at), 100e6/86400*m, 1e-13) {
				t.Errorf("peak %v× at %vh: Rate(%v) = %v; want the peak %v", m, h, at, c.Rate(at), 100e6/86400*m)
			}
		}
	}
}

// besselI returns I_0..I_n(x) by their power series (all terms positive,
// so the sums are accurate to rounding for moderate x).
func besselI(n int, x float64) []float64 {
	out := make([]float64, n+1)
	for k := range out {
		// term_m = (x/2)^{2m+k} / (m! (m+k)!)
		term := math.Pow(x/2, float64(k))
		for j := 2; j <= k; j++ {
			term /= float64(j)
		}
		sum := 0.0
		for m := 0; m < 500; m++ {
			sum += term
			term *= x * x / 4 / float64(m+1) / float64(m+1+k)
			if term < 1e-18*sum {
				break
			}
		}
		out[k] = sum
	}
	return out
}

// TestDiurnalAgainstBessel compares Λ of the smooth diurnal shape with an
// independent closed form: e^{κ cos θ} = I₀(κ) + 2Σ I_n(κ) cos nθ, so
// ∫ e^{κ cos θ} dθ = I₀(κ)θ + 2Σ I_n(κ) sin(nθ)/n. This checks the
// Chebyshev pieces and their inversion-ready integrals to 1e-6 arrivals
// over a 100M/day curve, at instants all over the day.
func TestDiurnalAgainstBessel(t *testing.T) {
	c := mustCurve(t, Spec{Diurnal: hundredM})
	kappa, trough, amp := c.diurnal.kappa, c.diurnal.trough, c.diurnal.amp
	in := besselI(80, kappa)
	F := func(theta float64) float64 {
		v := in[0] * theta
		for n := 1; n < len(in); n++ {
			v += 2 * in[n] * math.Sin(float64(n)*theta) / float64(n)
		}
		return v
	}
	theta := func(tau float64) float64 { return 2 * math.Pi * (tau - 20*3600) / 86400 }
	denom := math.Exp(kappa) - math.Exp(-kappa)
	ref := func(tau float64) float64 {
		bell := 86400 / (2 * math.Pi) * (F(theta(tau)) - F(theta(0)))
		return trough*tau + amp*(bell-math.Exp(-kappa)*tau)/denom
	}
	if d := ref(86400) - 100e6; math.Abs(d) > 1e-6 {
		t.Fatalf("reference daily total off by %v: κ = %v does not give the daily mean", d, kappa)
	}
	worst := 0.0
	for s := 0.0; s <= 86400; s += 86400.0 / 997 {
		at := time.Duration(s * 1e9)
		got, want := c.Cumulative(at), ref(float64(at)/1e9)
		worst = math.Max(worst, math.Abs(got-want))
	}
	if worst >= 1e-6 {
		t.Errorf("Cumulative differs from the Bessel closed form by up to %.3g arrivals; want < 1e-6", worst)
	}
}

// gaussLegendre returns the n-point Gauss–Legendre nodes and weights on
// [−1, 1], by Newton's method on P_n.
func gaussLegendre(n int) ([]float64, []float64) {
	x, w := make([]float64, n), make([]float64, n)
	// legendre returns P_n(z) and P_n'(z).
	legendre := func(z float64) (float64, float64) {
		p0, p1 := 1.0, z
		for k := 2; k <= n; k++ {
			p0, p1 = p1, ((2*float64(k)-1)*z*p1-(float64(k)-1)*p0)/float64(k)
		}
		return p1, float64(n) * (z*p1 - p0) / (z*z - 1)
	}
	for i := range n {
		z := math.Cos(math.Pi * (float64(i) + 0.75) / (float64(n) + 0.5))
		for range 100 {
			p, dp := legendre(z)
			dz := p / dp
			z -= dz
			if math.Abs(dz) < 1e-16 {
				break
			}
		}
		_, dp := legendre(z)
		x[i], w[i] = z, 2/((1-z*z)*dp*dp)
	}
	return x, w
}

// integrate is ∫ Rate over [a, b] by composite 12-point Gauss–Legendre on
// panels that never straddle a corner, an independent reference for Λ.
func integrate(c *Curve, corners []time.Duration, a, b time.Duration, panel time.Duration) float64 {
	x, w := gaussLegendre(12)
	edges := []time.Duration{a}
	for _, k := range corners {
		if k > a && k < b {
			edges = append(edges, k)
		}
	}
	edges = append(edges, b)
	sum := 0.0
	for e := 0; e+1 < len(edges); e++ {
		lo, hi := edges[e], edges[e+1]
		n := max(1, int((hi-lo)/panel))
		for p := range n {
			pa := float64(lo) + float64(hi-lo)*float64(p)/float64(n)
			pb := float64(lo) + float64(hi-lo)*float64(p+1)/float64(n)
			for i := range x {
				// Rate takes integer ns; evaluate the formula between them
				// through the curve's own pieces for smoothness.
				tt := pa + (pb-pa)*(1+x[i])/2
				sum += w[i] * (pb - pa) / 2 / 1e9 * rateF(c, tt)
			}
		}
	}
	return sum
}

// rateF is the exact rate at a real-valued played ns.
func rateF(c *Curve, t float64) float64 {
	p := &c.pieces[c.find(t)]
	s := (t - p.t0) / p.w
	switch p.kind {
	case pieceConst:
		return p.rate
	case piecePoly:
		return polyEval(p.lam, s)
	default:
		return c.smoothAt(p, s)
	}
}

// launchDay is a launch day: 100M/day with a 5× peak at 20:00 (peak to
// trough 20×), compressed to 10 minutes, with two 5× spikes.
func launchDay() Spec {
	return Spec{
		Diurnal:  &Diurnal{DailyRequests: 100e6, PeakMultiplier: 5, PeakToTrough: 20, PeakHour: 20},
		Compress: 144,
		Spikes: []Spike{
			{AtFraction: 0.4, Multiplier: 5, Ramp: 30 * sec, Hold: 2 * mn},
			{At: 490 * sec, Multiplier: 5, Ramp: 10 * sec, Hold: 30 * sec, RampDown: 20 * sec},
		},
	}
}

// TestComposedAgainstQuadrature checks Λ of composed curves (spikes over a
// ramp, over steps and over the compressed diurnal) against an
// independent Gauss–Legendre quadrature, to 1e-6 arrivals.
func TestComposedAgainstQuadrature(t *testing.T) {
	spike := func(at, ramp, hold, down time.Duration, m float64) Spike {
		return Spike{At: at, Multiplier: m, Ramp: ramp, Hold: hold, RampDown: down}
	}
	tests := []struct {
		name string
		spec Spec
	}{
		{"spike over ramp", Spec{Ramp: &Ramp{From: 100, To: 2000, Duration: 10 * mn}, Spikes: []Spike{spike(2*mn, 30*sec, 2*mn, 45*sec, 5)}}},
		{"overlapping spikes over ramp", Spec{Ramp: &Ramp{From: 2000, To: 100, Duration: 10 * mn}, Spikes: []Spike{
			spike(2*mn, 90*sec, 0, 0, 5), spike(150*sec, 2*mn, 10*sec, time.Minute, 3), spike(3*mn, 0, 20*sec, 0, 0.25)}}},
		{"spike over steps", Spec{Steps: []Step{{100, mn}, {1000, mn}, {10, mn}}, Spikes: []Spike{spike(50*sec, 20*sec, 30*sec, 40*sec, 4)}}},
		{"launch day", launchDay()},
		{"spike across the end", Spec{Diurnal: hundredM, Compress: 144, Spikes: []Spike{spike(9*mn, mn, 2*mn, 0, 5)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCurve(t, tt.spec)
			var corners []time.Duration
			for _, s := range c.starts {
				corners = append(corners, time.Duration(s))
			}
			worst := 0.0
			prev, acc := time.Duration(0), 0.0
			for k := 1; k <= 240; k++ {
				at := c.Duration() * time.Duration(k) / 240
				acc += integrate(c, corners, prev, at, 250*time.Millisecond)
				prev = at
				worst = math.Max(worst, math.Abs(c.Cumulative(at)-acc))
			}
			if worst >= 1e-6 {
				t.Errorf("Cumulative differs from quadrature by up to %.3g arrivals; want < 1e-6", worst)
			}
			// The peak is the largest rate: no sample exceeds it, and a
			// dense scan comes close.
			top := 0.0
			for k := range 200_000 {
				at := c.Duration() * time.Duration(k) / 200_000
				r := c.Rate(at)
				if r > c.Peak()*(1+1e-12) {
					t.Fatalf("Rate(%v) = %v exceeds Peak() = %v", at, r, c.Peak())
				}
				top = math.Max(top, r)
			}
			if top < c.Peak()*(1-1e-3) {
				t.Errorf("Peak() = %v but a dense scan finds at most %v", c.Peak(), top)
			}
		})
	}
}

// TestSpikeShape pins a spike's ramp, hold and ramp down and its integral:
// ×5 over a constant 100/s, starting at 2m, ramp 30s, hold 2m, ramp down
// 60s, adds 100·4·(15 + 120 + 30) = 66,000 arrivals.
func TestSpikeShape(t *testing.T) {
	base := func(sp ...Spike) Spec { return Spec{Constant: &Constant{Rate: 100, Duration: 10 * mn}, Spikes: sp} }
	tests := []struct {
		name  string
		spec  Spec
		rates map[time.Duration]float64
		total float64
		peak  float64
	}{
		{
			name: "ramp hold ramp down",
			spec: base(Spike{At: 2 * mn, Multiplier: 5, Ramp: 30 * sec, Hold: 2 * mn, RampDown: mn}),
			rates: map[time.Duration]float64{
				2*mn - sec: 100, 2 * mn: 100, 2*mn + 15*sec: 300, 2*mn + 30*sec: 500,
				4*mn + 29*sec: 500, 4*mn + 30*sec: 500, 5 * mn: 300, 5*mn + 30*sec: 100, 9 * mn: 100,
			},
			total: 60_000 + 66_000, peak: 500,
		},
		{
			name:  "ramp down defaults to ramp",
			spec:  base(Spike{At: 2 * mn, Multiplier: 3, Ramp: 20 * sec, Hold: 10 * sec}),
			rates: map[time.Duration]float64{2*mn + 10*sec: 200, 2*mn + 30*sec: 300, 2*mn + 40*sec: 200, 2*mn + 50*sec: 100},
			total: 60_000 + 100*2*(10+10+10), peak: 300,
		},
		{
			name:  "at a fraction, no ramps",
			spec:  base(Spike{AtFraction: 0.4, Multiplier: 5, Hold: mn}),
			rates: map[time.Duration]float64{4*mn - 1: 100, 4 * mn: 500, 5*mn - 1: 500, 5 * mn: 100},
			total: 60_000 + 100*4*60, peak: 500,
		},
		{
			name:  "a dip",
			spec:  base(Spike{At: mn, Multiplier: 0.5, Hold: mn}),
			rates: map[time.Duration]float64{90 * sec: 50},
			total: 60_000 - 50*60, peak: 100,
		},
		{
			name: "overlapping spikes multiply",
			spec: base(Spike{At: mn, Multiplier: 2, Hold: 2 * mn}, Spike{At: 2 * mn, Multiplier: 3, Hold: 2 * mn}),
			rates: map[time.Duration]float64{
				90 * sec: 200, 150 * sec: 600, 210 * sec: 300,
			},
			total: 60_000 + 100*(1*60+5*60+2*60), peak: 600,
		},
		{
			name:  "cut at the end",
			spec:  base(Spike{At: 9 * mn, Multiplier: 5, Ramp: mn, Hold: mn}),
			rates: map[time.Duration]float64{9*mn + 30*sec: 300, 10 * mn: 0},
			total: 60_000 + 100*4*30, peak: 500, // the supremum, at the end
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCurve(t, tt.spec)
			for at, want := range tt.rates {
				if got := c.Rate(at); !near(got, want, 1e-12) {
					t.Errorf("Rate(%v) = %v; want %v", at, got, want)
				}
			}
			if !near(c.Total(), tt.total, 1e-12) {
				t.Errorf("Total() = %.9f; want %v", c.Total(), tt.total)
			}
			if !near(c.Peak(), tt.peak, 1e-12) {
				t.Errorf("Peak() = %.12f; want %.12f", c.Peak(), tt.peak)
			}
		})
	}
}

// TestCompression: playing 24h in 10m keeps the rates and divides the
// count by 144; played instant t is base instant 144·t.
func TestCompression(t *testing.T) {
	full := mustCurve(t, Spec{Diurnal: hundredM})
	fast := mustCurve(t, Spec{Diurnal: hundredM, Compress: 144})
	if fast.Duration() != 10*mn {
		t.Errorf("compressed Duration() = %v; want 10m", fast.Duration())
	}
	for s := time.Duration(0); s <= 10*mn; s += 37 * sec {
		if got, want := fast.Cumulative(s), full.Cumulative(144*s)/144; !near(got, want, 1e-13) {
			t.Errorf("compressed Cumulative(%v) = %.9f; want full Cumulative(%v)/144 = %.9f", s, got, 144*s, want)
		}
		if got, want := fast.Rate(s), full.Rate(144*s); !near(got, want, 1e-12) {
			t.Errorf("compressed Rate(%v) = %v; want full Rate(%v) = %v", s, got, 144*s, want)
		}
	}
	if fast.Peak() != full.Peak() {
		t.Errorf("compressed Peak() = %v; want %v", fast.Peak(), full.Peak())
	}
	// A non-integer factor: 24h in 7m.
	odd := mustCurve(t, Spec{Diurnal: hundredM, Compress: float64(24*hr) / float64(7*mn)})
	if odd.Duration() != 7*mn || !near(odd.Total(), 100e6*7/1440, 1e-14) {
		t.Errorf("24h in 7m: Duration() = %v, Total() = %v; want 7m, %v", odd.Duration(), odd.Total(), 100e6*7/1440)
	}
}

// TestInverse: Inverse undoes Cumulative to the nanosecond, skips pauses,
// and saturates at the end.
func TestInverse(t *testing.T) {
	specs := map[string]Spec{
		"constant":   {Constant: &Constant{Rate: 3, Duration: hr}},
		"ramp":       {Ramp: &Ramp{From: 0, To: 1000, Duration: mn}},
		"steps":      {Steps: []Step{{Rate: 0, Duration: sec}, {Rate: 10, Duration: sec}, {Rate: 0, Duration: sec}, {Rate: 10, Duration: sec}}},
		"launch day": launchDay(),
	}
	for name, spec := range specs {
		c := mustCurve(t, spec)
		for k := 0; k <= 1000; k++ {
			at := c.Duration() * time.Duration(k) / 1000
			y := c.Cumulative(at)
			got := c.Inverse(y)
			if c.Rate(at) > 0 && (got < at-1 || got > at) {
				t.Errorf("%s: Inverse(Cumulative(%v) = %v) = %v; want %v", name, at, y, got, at)
			}
		}
		if got := c.Inverse(c.Total()); got != c.Duration() {
			t.Errorf("%s: Inverse(Total) = %v; want %v", name, got, c.Duration())
		}
	}
	steps := mustCurve(t, specs["steps"])
	// Arrival 0 waits for the first second of load; arrival 10 for the end
	// of the pause.
	if got := steps.Inverse(0); got != sec {
		t.Errorf("steps: Inverse(0) = %v; want 1s", got)
	}
	if got := steps.Inverse(10); got != 3*sec {
		t.Errorf("steps: Inverse(10) = %v; want 3s", got)
	}
	if got := steps.Inverse(5); got != 1500*time.Millisecond {
		t.Errorf("steps: Inverse(5) = %v; want 1.5s", got)
	}
}

// TestMeanRates: bucket means keep a short spike visible and integrate back
// to the total.
func TestMeanRates(t *testing.T) {
	c := mustCurve(t, Spec{Constant: &Constant{Rate: 100, Duration: 100 * sec}, Spikes: []Spike{{At: 50 * sec, Multiplier: 11, Hold: sec}}})
	m := c.MeanRates(10)
	sum := 0.0
	for k, r := range m {
		want := 100.0
		if k == 5 {
			want = 200 // 1 s at 1100/s in a 10 s bucket
		}
		if !near(r, want, 1e-12) {
			t.Errorf("MeanRates(10)[%d] = %v; want %v", k, r, want)
		}
		sum += r * 10
	}
	if !near(sum, c.Total(), 1e-12) {
		t.Errorf("MeanRates integrate to %v; want %v", sum, c.Total())
	}
	if MeanRatesNil := c.MeanRates(0); MeanRatesNil != nil {
		t.Errorf("MeanRates(0) = %v; want nil", MeanRatesNil)
	}
}

// TestCurveSpecIsCopied: changing the caller's spec or the returned spec
// does not change the curve.
func TestCurveSpecIsCopied(t *testing.T) {
	w := make([]float64, 24)
	w[3] = 1
	spec := Spec{Diurnal: &Diurnal{DailyRequests: 1e6, HourlyWeights: w}, Spikes: []Spike{{At: hr, Multiplier: 2, Hold: hr}}}
	c := mustCurve(t, spec)
	total := c.Total()
	spec.Diurnal.HourlyWeights[3] = 0
	spec.Spikes[0].Multiplier = 9
	got := c.Spec()
	got.Diurnal.DailyRequests = 7
	if c.Spec().Diurnal.HourlyWeights[3] != 1 || c.Spec().Spikes[0].Multiplier != 2 || c.Spec().Diurnal.DailyRequests != 1e6 || c.Total() != total {
		t.Errorf("the curve's spec changed with the caller's: %+v", c.Spec())
	}
}

func TestCurveInvalid(t *testing.T) {
	ok := Constant{Rate: 10, Duration: sec}
	nan := math.NaN()
	tests := []struct {
		name string
		spec Spec
		want []string
	}{
		{"no base", Spec{}, []string{"no base curve"}},
		{"two bases", Spec{Constant: &ok, Ramp: &Ramp{From: 1, To: 2, Duration: sec}}, []string{"2 base curves ([constant ramp])"}},
		{"constant", Spec{Constant: &Constant{Rate: -1, Duration: 0}}, []string{"constant: rate -1/s must be > 0", "constant: duration 0s must be > 0"}},
		{"constant NaN", Spec{Constant: &Constant{Rate: nan, Duration: sec}}, []string{"rate NaN/s"}},
		{"too fast", Spec{Constant: &Constant{Rate: 2e7, Duration: sec}}, []string{"rate 2e+07/s must be > 0 and <= 10000000/s"}},
		{"too long", Spec{Constant: &Constant{Rate: 1, Duration: 8 * 24 * hr}}, []string{"duration 192h0m0s must be > 0 and <= 168h0m0s"}},
		{"ramp", Spec{Ramp: &Ramp{From: 0, To: 0, Duration: -sec}}, []string{"ramp: from and to are both 0/s", "ramp: duration -1s"}},
		{"ramp rates", Spec{Ramp: &Ramp{From: -1, To: math.Inf(1), Duration: sec}}, []string{"ramp: from -1/s", "ramp: to +Inf/s"}},
		{"steps", Spec{Steps: []Step{{Rate: 0, Duration: sec}, {Rate: -2, Duration: 0}}}, []string{"steps[1]: rate -2/s", "steps[1]: duration 0s", "steps: every rate is 0/s"}},
		{"diurnal daily", Spec{Diurnal: &Diurnal{DailyRequests: 0, PeakMultiplier: 2}}, []string{"diurnal: daily requests 0 must be > 0"}},
		{"diurnal no shape", Spec{Diurnal: &Diurnal{DailyRequests: 1e6}}, []string{"diurnal: give peak multiplier or hourly weights"}},
		{"diurnal multiplier", Spec{Diurnal: &Diurnal{DailyRequests: 1e6, PeakMultiplier: 0.5}}, []string{"peak multiplier 0.5 must be >= 1"}},
		{"diurnal trough above average", Spec{Diurnal: &Diurnal{DailyRequests: 1e6, PeakMultiplier: 5, PeakToTrough: 4}}, []string{"peak to trough 4 must exceed peak multiplier 5"}},
		{"diurnal peak to trough < 1", Spec{Diurnal: &Diurnal{DailyRequests: 1e6, PeakMultiplier: 5, PeakToTrough: 0.5}}, []string{"peak to trough 0.5 must be >= 1"}},
		{"diurnal flat with trough", Spec{Diurnal: &Diurnal{DailyRequests: 1e6, PeakMultiplier: 1, PeakToTrough: 3}}, []string{"needs a peak multiplier above 1"}},
		{"diurnal peak hour", Spec{Diurnal: &Diurnal{DailyRequests: 1e6, PeakMultiplier: 2, PeakHour: 25}}, []string{"peak hour 25 must be in [0, 24]"}},
		{"diurnal too sharp", Spec{Diurnal: &Diurnal{DailyRequests: 1e6, PeakMultiplier: 1e5}}, []string{"cannot be drawn smoothly"}},
		{"hourly weights", Spec{Diurnal: &Diurnal{DailyRequests: 1e6, HourlyWeights: []float64{1, -1}, PeakHour: 3}}, []string{"hourly weights replace", "2 hourly weights; want 24", "hourly weight 1 is -1"}},
		{"hourly zero", Spec{Diurnal: &Diurnal{DailyRequests: 1e6, HourlyWeights: make([]float64, 24)}}, []string{"hourly weights are all 0"}},
		{"compress", Spec{Constant: &ok, Compress: 0.5}, []string{"compress factor 0.5 must be >= 1"}},
		{"compress NaN", Spec{Constant: &ok, Compress: nan}, []string{"compress factor NaN"}},
		{"spike fields", Spec{Constant: &ok, Spikes: []Spike{{At: -sec, AtFraction: 1.5, Multiplier: 0, Ramp: -sec}}}, []string{
			"spikes[0]: multiplier 0 must be finite and > 0", "spikes[0]: ramp -1s, hold 0s and ramp down 0s must be >= 0",
			"spikes[0]: at -1s must be >= 0", "spikes[0]: at fraction 1.5 must be in [0, 1)", "spikes[0]: give at as an offset"}},
		{"spike empty", Spec{Constant: &ok, Spikes: []Spike{{Multiplier: 2}}}, []string{"spikes[0]: ramp + hold + ramp down = 0s must be > 0"}},
		{"spike after the end", Spec{Constant: &ok, Spikes: []Spike{{At: 2 * sec, Multiplier: 2, Hold: sec}}}, []string{"spikes[0]: starts at 2s, not before the end of the curve at 1s"}},
		{"spike too high", Spec{Constant: &Constant{Rate: 5e6, Duration: sec}, Spikes: []Spike{{Multiplier: 3, Hold: sec}}}, []string{"peak rate 1.5e+07/s (spikes included) is above 10000000/s"}},
		{"too many spikes", Spec{Constant: &ok, Spikes: make([]Spike, MaxSpikes+1)}, []string{"65 spikes, more than 64"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewCurve(tt.spec)
			if err == nil {
				t.Fatalf("NewCurve(%+v) = nil error; want %q", tt.spec, tt.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("NewCurve error %v does not wrap ErrInvalid", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("NewCurve error:\n%v\nwant it to contain %q", err, w)
				}
			}
			// Every line is one problem, and each is lower case.
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "invalid schedule: ") {
					t.Errorf("problem %q does not start with the sentinel", line)
				}
			}
		})
	}
}

func TestParseArrival(t *testing.T) {
	for in, want := range map[string]Arrival{"": Uniform, "uniform": Uniform, "Poisson": Poisson, " poisson ": Poisson} {
		got, err := ParseArrival(in)
		if err != nil || got != want {
			t.Errorf("ParseArrival(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseArrival("bursty"); !errors.Is(err, ErrInvalid) {
		t.Errorf("ParseArrival(bursty) error = %v; want ErrInvalid", err)
	}
	var a Arrival
	if err := a.UnmarshalText([]byte("poisson")); err != nil || a != Poisson {
		t.Errorf("UnmarshalText(poisson) = %v, %v", a, err)
	}
	if b, err := Poisson.MarshalText(); err != nil || string(b) != "poisson" {
		t.Errorf("Poisson.MarshalText() = %s, %v", b, err)
	}
	if _, err := Arrival(9).MarshalText(); err == nil {
		t.Error("Arrival(9).MarshalText() succeeded")
	}
	if Uniform.String() != "uniform" || Arrival(9).String() != "arrival(9)" {
		t.Errorf("String() = %q, %q", Uniform.String(), Arrival(9).String())
	}
}

// TestPolyRoots checks the exact root isolation behind Peak.
func TestPolyRoots(t *testing.T) {
	// (s − 0.2)(s − 0.5)(s − 0.9) = s³ − 1.6s² + 0.73s − 0.09
	got := polyRoots01([]float64{-0.09, 0.73, -1.6, 1})
	want := []float64{0.2, 0.5, 0.9}
	if len(got) != len(want) {
		t.Fatalf("polyRoots01 = %v; want %v", got, want)
	}
	for k := range want {
		if math.Abs(got[k]-want[k]) > 1e-15 {
			t.Errorf("root %d = %.17g; want %v", k, got[k], want[k])
		}
	}
	// max of −(s − 1/3)² + 1 on [0, 1] is 1 at 1/3.
	if m := polyMax01([]float64{1 - 1.0/9, 2.0 / 3, -1}); !near(m, 1, 1e-15) {
		t.Errorf("polyMax01 = %v; want 1", m)
	}
}

// TestSmoothInverse: on every smooth piece, the inverse interpolant that At
// uses agrees with Newton's method on the piece's Λ to 0.01 ns, and is
// non-decreasing, so inverting a smooth piece needs no iteration.
func TestSmoothInverse(t *testing.T) {
	specs := map[string]Spec{
		"launch day": launchDay(),
		"100M/day":   {Diurnal: hundredM, Spikes: []Spike{{AtFraction: 0.4, Multiplier: 5, Ramp: 30 * mn, Hold: 2 * hr}}},
		"sharp":      {Diurnal: &Diurnal{DailyRequests: 1e8, PeakMultiplier: 300, PeakHour: 6.25}},
		"broad":      {Diurnal: &Diurnal{DailyRequests: 1e8, PeakMultiplier: 1.2, PeakToTrough: 50, PeakHour: 6.25}, Compress: 10},
	}
	for name, spec := range specs {
		c := mustCurve(t, spec)
		smooth := 0
		for k := range c.pieces {
			p := &c.pieces[k]
			if p.kind != pieceCheb {
				continue
			}
			smooth++
			prev := -1.0
			for j := 0; j <= 1000; j++ {
				d := p.m * float64(j) / 1000
				got := p.solve(d)
				want := p.newton(d, 0.5)
				if diff := math.Abs(got-want) * p.w; diff > 0.01 {
					t.Fatalf("%s piece %d: inverse at %v of %v is off by %.3g ns", name, k, d, p.m, diff)
				}
				if got < prev {
					t.Fatalf("%s piece %d: inverse decreases at %v: %v < %v", name, k, d, got, prev)
				}
				prev = got
			}
		}
		if smooth == 0 {
			t.Errorf("%s: no smooth pieces", name)
		}
	}
}
