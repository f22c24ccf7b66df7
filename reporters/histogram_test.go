package reporters

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// TestReadReportDamagedHistogram: a stage or interval histogram that does
// not decode makes ReadReport fail, naming where it is; a report with many
// names only the first few.
func TestReadReportDamagedHistogram(t *testing.T) {
	valid := testHist(t, 1e6, 2e6)
	wide, err := hdrhistogram.New(1, int64(48*time.Hour), 3).Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		damage func(r *Report)
		want   string
	}{
		{"stage", func(r *Report) { r.Stages[0].Histogram = "garbage!" },
			"read report: stage echo: histogram: bad histogram: decode: illegal base64 data"},
		{"interval", func(r *Report) { r.Stages[0].Intervals[0].Histogram = valid[:len(valid)/2] },
			"read report: stage echo interval 0 (t_s 0): histogram: bad histogram"},
		{"geometry", func(r *Report) { r.Stages[0].Histogram = string(wide) },
			"read report: stage echo: histogram: bad histogram: highest value 48h0m0s must be <= 24h"},
		{"many", func(r *Report) {
			r.Stages[0].Intervals = nil
			for range 8 {
				r.Stages[0].Intervals = append(r.Stages[0].Intervals, Interval{Histogram: "HISTFAAA"})
			}
		}, "stage echo interval 4 (t_s 0): histogram: bad histogram: decode: 6 bytes is too short\nand 3 more bad histograms"},
	}
	for _, tt := range tests {
		r := sampleReport()
		tt.damage(r)
		var b bytes.Buffer
		if err := WriteJSON(&b, r); err != nil {
			t.Fatal(err)
		}
		got, err := ReadReport(&b)
		if got != nil || !errors.Is(err, ErrHistogram) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: ReadReport = %v, %v; want an error wrapping ErrHistogram containing %q", tt.name, got, err, tt.want)
		}
	}
	// Empty histograms are a stage or interval without responses.
	r := sampleReport()
	r.Stages[0].Histogram, r.Stages[0].Intervals[0].Histogram = "", ""
	var b bytes.Buffer
	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadReport(&b); err != nil {
		t.Errorf("empty histograms: %v", err)
	}
}
