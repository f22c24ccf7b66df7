package surge_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/surgeload/surge"
	"github.com/surgeload/surge/scenario"
)

// TestBundledOptions: a bundled stage's options configure its topology
// (here the gateway's rate limiter, whose 429s are their own class), and
// options the topology does not have are refused at the line of the stage.
func TestBundledOptions(t *testing.T) {
	sc, err := surge.Parse("gw.yaml", []byte(`
name: gateway
stages:
  - bundled: split
    options:
      gateway: {limiter: token_bucket, rate: 10, burst: 5}
requests: [{name: get, path: /items/1}]
load: {constant: {rate: 100, duration: 2s}}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := surge.DefaultOptions()
	opts.GossipListen = "127.0.0.1:0"
	opts.MaxSendLag = 10 * time.Second
	rep, err := surge.Run(context.Background(), sc, opts)
	if err != nil && rep == nil {
		t.Fatal(err)
	}
	st := rep.Stages[0]
	// 200 arrivals over 2 s through a bucket of 10/s and 5: at most 5 + 10·t
	// pass over t seconds: fewer than 100 unless the 2 s stretched past 9.5 s.
	if limited := st.Errors["rate_limited"]; st.Issued != 200 || limited < 100 || st.Succeeded > 100 || st.Succeeded+st.Failed != 200 {
		t.Fatalf("issued %d succeeded %d failed %d %v; want most of 200 rate_limited", st.Issued, st.Succeeded, st.Failed, st.Errors)
	}

	_, err = surge.Compile(mustParse(t, `
name: bad
stages:
  - bundled: split
    options:
      gateway: {limiter: leaky, rate: 20}
requests: [{name: get, path: /items/1}]
load: {constant: {rate: 10, duration: 1s}}
`), surge.DefaultOptions())
	if err == nil || !strings.Contains(err.Error(), "gw.yaml:6:") || !strings.Contains(err.Error(), "limiter") {
		t.Fatalf("bad options: %v; want an error at the options' line naming the limiter", err)
	}
	_, err = surge.Compile(mustParse(t, `
name: bad
stages:
  - url: http://127.0.0.1:1
    options: {gateway: {rate: 1}}
requests: [{name: get, path: /items/1}]
load: {constant: {rate: 10, duration: 1s}}
`), surge.DefaultOptions())
	if err == nil || !strings.Contains(err.Error(), "bundled") {
		t.Fatalf("options on a url stage: %v", err)
	}
}

func mustParse(t *testing.T, src string) *scenario.Scenario {
	t.Helper()
	sc, err := surge.Parse("gw.yaml", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}
