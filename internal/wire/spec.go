package wire

import (
	"fmt"
	"time"

	"github.com/surgeload/surge/internal/schedule"
	surgev1 "github.com/surgeload/surge/proto/gen/surge/v1"
)

// Bounds on a schedule message.
const (
	MaxSteps  = 1000
	MaxSpikes = 100
)

// ScheduleToProto encodes the schedule of an assignment (its curve,
// arrival process and seed) and the index range it covers.
func ScheduleToProto(s *schedule.Schedule, first, end uint64) *surgev1.Schedule {
	spec := s.Spec()
	m := &surgev1.Schedule{FirstIndex: first, EndIndex: end, Seed: s.Seed(), Compress: spec.Compress}
	switch s.Arrival() {
	case schedule.Poisson:
		m.Arrival = surgev1.Arrival_ARRIVAL_POISSON
	default:
		m.Arrival = surgev1.Arrival_ARRIVAL_UNIFORM
	}
	switch {
	case spec.Constant != nil:
		m.Curve = &surgev1.Schedule_Constant{Constant: &surgev1.ConstantRate{
			RatePerSecond: spec.Constant.Rate, DurationNanos: int64(spec.Constant.Duration)}}
	case spec.Ramp != nil:
		m.Curve = &surgev1.Schedule_Ramp{Ramp: &surgev1.RampRate{
			FromPerSecond: spec.Ramp.From, ToPerSecond: spec.Ramp.To, DurationNanos: int64(spec.Ramp.Duration)}}
	case len(spec.Steps) > 0:
		st := &surgev1.StepRates{}
		for _, s := range spec.Steps {
			st.Steps = append(st.Steps, &surgev1.StepRate{RatePerSecond: s.Rate, DurationNanos: int64(s.Duration)})
		}
		m.Curve = &surgev1.Schedule_Steps{Steps: st}
	case spec.Diurnal != nil:
		d := spec.Diurnal
		m.Curve = &surgev1.Schedule_Diurnal{Diurnal: &surgev1.DiurnalRate{
			DailyRequests: d.DailyRequests, PeakMultiplier: d.PeakMultiplier, PeakToTrough: d.PeakToTrough,
			PeakHour: d.PeakHour, HourlyWeights: d.HourlyWeights, DurationNanos: int64(d.Duration)}}
	}
	for _, sp := range spec.Spikes {
		m.Spikes = append(m.Spikes, &surgev1.Spike{AtNanos: int64(sp.At), AtFraction: sp.AtFraction, Multiplier: sp.Multiplier,
			RampNanos: int64(sp.Ramp), HoldNanos: int64(sp.Hold), RampDownNanos: int64(sp.RampDown)})
	}
	return m
}

// ScheduleFromProto decodes and builds a schedule. Every agent builds the
// same schedule from the same message.
func ScheduleFromProto(m *surgev1.Schedule) (*schedule.Schedule, error) {
	if m == nil {
		return nil, fmt.Errorf("%w: no schedule", ErrMalformed)
	}
	var spec schedule.Spec
	switch c := m.GetCurve().(type) {
	case *surgev1.Schedule_Constant:
		spec.Constant = &schedule.Constant{Rate: c.Constant.GetRatePerSecond(), Duration: time.Duration(c.Constant.GetDurationNanos())}
	case *surgev1.Schedule_Ramp:
		spec.Ramp = &schedule.Ramp{From: c.Ramp.GetFromPerSecond(), To: c.Ramp.GetToPerSecond(), Duration: time.Duration(c.Ramp.GetDurationNanos())}
	case *surgev1.Schedule_Steps:
		if n := len(c.Steps.GetSteps()); n == 0 || n > MaxSteps {
			return nil, fmt.Errorf("%w: %d steps (want 1..%d)", ErrMalformed, n, MaxSteps)
		}
		for _, s := range c.Steps.GetSteps() {
			spec.Steps = append(spec.Steps, schedule.Step{Rate: s.GetRatePerSecond(), Duration: time.Duration(s.GetDurationNanos())})
		}
	case *surgev1.Schedule_Diurnal:
		d := c.Diurnal
		if len(d.GetHourlyWeights()) > 24 {
			return nil, fmt.Errorf("%w: %d hourly weights", ErrMalformed, len(d.GetHourlyWeights()))
		}
		spec.Diurnal = &schedule.Diurnal{DailyRequests: d.GetDailyRequests(), PeakMultiplier: d.GetPeakMultiplier(),
			PeakToTrough: d.GetPeakToTrough(), PeakHour: d.GetPeakHour(), HourlyWeights: d.GetHourlyWeights(),
			Duration: time.Duration(d.GetDurationNanos())}
	default:
		return nil, fmt.Errorf("%w: schedule has no supported rate curve", ErrMalformed)
	}
	if len(m.GetSpikes()) > MaxSpikes {
		return nil, fmt.Errorf("%w: %d spikes, more than %d", ErrMalformed, len(m.GetSpikes()), MaxSpikes)
	}
	for _, sp := range m.GetSpikes() {
		spec.Spikes = append(spec.Spikes, schedule.Spike{At: time.Duration(sp.GetAtNanos()), AtFraction: sp.GetAtFraction(),
			Multiplier: sp.GetMultiplier(), Ramp: time.Duration(sp.GetRampNanos()), Hold: time.Duration(sp.GetHoldNanos()),
			RampDown: time.Duration(sp.GetRampDownNanos())})
	}
	spec.Compress = m.GetCompress()
	var arrival schedule.Arrival
	switch m.GetArrival() {
	case surgev1.Arrival_ARRIVAL_UNIFORM:
		arrival = schedule.Uniform
	case surgev1.Arrival_ARRIVAL_POISSON:
		arrival = schedule.Poisson
	default:
		return nil, fmt.Errorf("%w: arrival process %v is not supported", ErrMalformed, m.GetArrival())
	}
	curve, err := schedule.NewCurve(spec)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	s, err := schedule.New(curve, arrival, m.GetSeed())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return s, nil
}
