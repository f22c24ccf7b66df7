package metrics

// Kind says what a series of a stage counts.
type Kind uint8

// Series kinds.
const (
	// KindRequest is a request of the mix: an arrival.
	KindRequest Kind = iota
	// KindJourney is a journey: an arrival that plays steps; its
	// response time is the journey's duration from the arrival's intended
	// instant, its failures the class of the step that failed it.
	KindJourney
	// KindStep is a request step of a journey: not an arrival; its
	// response time is from the step's intended instant.
	KindStep
	// KindCheck is one check of a request or step: evaluations that
	// passed (succeeded) or failed (class check_failed); no latency.
	KindCheck
)

var kindNames = [...]string{"request", "journey", "step", "check"}

// String is the kind's name in reports.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind?"
}
