package reporters

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestWriteJSONAsEncoder: the streamed report.json is byte for byte what
// encoding/json's indented Encoder writes, whatever the stages' intervals
// (many, none, an empty list, a stage name that looks like the field).
func TestWriteJSONAsEncoder(t *testing.T) {
	many := writersReport(t)
	many.Stages = append(many.Stages, many.Stages...)
	for i := range 50 {
		iv := many.Stages[0].Intervals[0]
		iv.TS = float64(i)
		many.Stages[0].Intervals = append(many.Stages[0].Intervals, iv)
	}
	odd := sampleReport()
	odd.Stages = append(odd.Stages, odd.Stages[0], odd.Stages[0])
	odd.Stages[1].Name, odd.Stages[1].Intervals = "\n      \"intervals\": null <&>", nil
	odd.Stages[2].Intervals = []Interval{}
	for name, r := range map[string]*Report{"sample": sampleReport(), "writers": writersReport(t), "many": many, "odd": odd,
		"no stages": {Scenario: "x"}} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := WriteJSON(&got, r); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("%s: WriteJSON differs from json.Encoder:\n%s\nwant:\n%s", name, got.Bytes(), want.Bytes())
		}
	}
}

// BenchmarkWriteJSON writes a report of 10,000 intervals, reporting the
// bytes allocated per interval (about one interval's encoding, not the
// document's).
func BenchmarkWriteJSON(b *testing.B) {
	r := sampleReport()
	iv := r.Stages[0].Intervals[0]
	r.Stages[0].Intervals = nil
	for i := range 10000 {
		iv.TS = float64(i)
		r.Stages[0].Intervals = append(r.Stages[0].Intervals, iv)
	}
	var n bytes.Buffer
	_ = WriteJSON(&n, r)
	b.ReportAllocs()
	b.SetBytes(int64(n.Len()))
	for b.Loop() {
		if err := WriteJSON(discard{}, r); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
