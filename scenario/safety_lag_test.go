package scenario

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestSafetyMaxSendLag: safety.max_send_lag is read as a duration and
// must be positive and at most a second, with line:column on a problem.
func TestSafetyMaxSendLag(t *testing.T) {
	base := "name: x\nstages: [{url: \"http://127.0.0.1:1\"}]\nrequests: [{name: a, path: /}]\nload: {constant: {rate: 10, duration: 1s}}\nsafety:\n  max_send_lag: "
	sc, err := Parse("x.yaml", []byte(base+"10ms\n"), Options{})
	if err != nil || sc.Safety.MaxSendLag.Std() != 10*time.Millisecond {
		t.Fatalf("Parse = %v, max_send_lag %v; want 10ms", err, sc.Safety.MaxSendLag)
	}
	for in, want := range map[string]string{"0s": "max_send_lag must be > 0", "-1ms": "must not be negative", "2s": "max_send_lag must be at most 1s"} {
		_, err := Parse("x.yaml", []byte(base+in+"\n"), Options{})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), ":6:") {
			t.Errorf("max_send_lag %s: %v; want ErrInvalid at line 6 saying %q", in, err, want)
		}
	}
}
