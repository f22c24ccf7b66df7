package capacity

// HourlyPeakMultiplier is the peak multiplier of a day given as relative
// hourly volumes (a diurnal curve's hourly_weights, from 00:00): the
// busiest hour's rate over the day's average rate, max(w) ÷ (Σw ÷ n). It
// is 0 when no weight is positive (no day to average over).
//
// The weights hold for a whole hour each, so this is the peak of the curve
// itself; a spike on top is not part of it.
func HourlyPeakMultiplier(weights []float64) float64 {
	var sum, peak float64
	for _, w := range weights {
		sum += w
		peak = max(peak, w)
	}
	if !(sum > 0) {
		return 0
	}
	return peak / (sum / float64(len(weights)))
}
