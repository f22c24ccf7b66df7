package surge_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/surgeload/surge"
)

// TestAllowTargetsReachEmbeddedAgents: Options.AllowTargets is the
// allowlist of the embedded agents. A stage outside it is refused by the
// agents' own dial-time check before the stage starts — no packet leaves
// loopback — and the refusal says it came from the list given ("not in
// the allowlist"), not from the loopback-only default.
func TestAllowTargetsReachEmbeddedAgents(t *testing.T) {
	sc, err := surge.Parse("off.yaml", []byte(`
name: off-loopback
stages: [{url: "http://10.255.255.1:9"}]
requests: [{name: get, path: /}]
load: {constant: {rate: 10, duration: 1s}}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		allow []string
		want  string
	}{
		{nil, "no allowlist is set (loopback only)"},
		{[]string{"192.0.2.7", "*.example.com"}, "not in the allowlist"},
	} {
		opts := surge.DefaultOptions()
		opts.GossipListen = "127.0.0.1:0"
		opts.Agents = 1
		opts.AllowTargets = tc.allow
		opts.Wait = 10 * time.Second
		rep, err := surge.Run(context.Background(), sc, opts)
		if !errors.Is(err, surge.ErrTargetUnreachable) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("AllowTargets %v: Run = %v; want ErrTargetUnreachable saying %q", tc.allow, err, tc.want)
		}
		if rep != nil {
			for _, st := range rep.Stages {
				if st.Issued != 0 {
					t.Errorf("AllowTargets %v: %d requests issued to a refused target", tc.allow, st.Issued)
				}
			}
		}
	}

	if _, err := surge.Compile(sc, surge.Options{AllowTargets: []string{"http://x/"}}); err == nil || !strings.Contains(err.Error(), "allow targets") {
		t.Errorf("Compile with a bad AllowTargets = %v; want an error", err)
	}
}
