package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/surgeload/surge/internal/cluster"
	"github.com/surgeload/surge/internal/wire"
)

func TestFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "--join is required"},
		{[]string{"--join", "127.0.0.1:7946", "--grpc-listen", "0.0.0.0:7000"}, "--insecure-allow-remote"},
		{[]string{"--join", "127.0.0.1:7946", "--gossip-listen", "nope"}, `--gossip-listen "nope" must be ip:port`},
		{[]string{"--join", "127.0.0.1:7946", "--lease", "10ms"}, "--lease 10ms must be in [1s, 5m]"},
		{[]string{"--join", "127.0.0.1:7946", "--procs", "-1"}, "--procs -1 must be in 0..1024"},
		{[]string{"--join", "127.0.0.1:7946", "--pprof-listen", "0.0.0.0:6060"}, "must be a loopback ip:port"},
		{[]string{"--join", "127.0.0.1:7946", "--max-rate", "lots"}, `--max-rate "lots" must be a rate > 0`},
		{[]string{"--join", "127.0.0.1:7946", "--max-duration", "0s"}, "--max-duration 0s must be > 0"},
		{[]string{"--join", "127.0.0.1:7946", "--max-in-flight", "-5"}, "--max-in-flight -5 must be >= 0"},
		{[]string{"--bogus"}, "unknown flag: --bogus"},
		{[]string{"extra"}, "unknown command"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := run(context.Background(), tt.args, &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("agent %v: exit %d, stderr %q; want exit 2 containing %q", tt.args, code, errb.String(), tt.want)
		}
	}
}

// TestJoinsAndLeaves runs the real command in-process: it joins a gossip
// member standing in for the coordinator, advertises its gRPC address, and
// leaves when its context ends. memberlist's own log reaches stderr only
// with --verbose (-v).
func TestJoinsAndLeaves(t *testing.T) {
	for _, verbose := range []bool{false, true} {
		t.Run(fmt.Sprintf("verbose=%v", verbose), func(t *testing.T) {
			args := []string{"--name", "cli-agent"}
			if verbose {
				args = append(args, "-v")
			}
			errb := joinAndLeave(t, args...)
			gossip := strings.Contains(errb, "gossip: ") && strings.Contains(errb, "[DEBUG] memberlist: ")
			if verbose != gossip || (!verbose && strings.Contains(errb, "memberlist")) {
				t.Errorf("stderr with verbose %v:\n%s\nwant memberlist's lines, prefixed gossip:, only with -v", verbose, errb)
			}
		})
	}
}

// joinAndLeave runs the agent with args until it joined a coordinator
// node, then ends it, and returns its stderr.
func joinAndLeave(t *testing.T, args ...string) string {
	t.Helper()
	coord, err := cluster.Start(cluster.Config{Name: "coord", Listen: "127.0.0.1:0", Meta: cluster.Meta{Role: cluster.RoleCoordinator, Protocol: wire.ProtocolVersion}, FastFailureDetection: true})
	if err != nil {
		t.Fatal(err)
	}
	defer coord.Close()
	ctx, cancel := context.WithCancel(context.Background())
	codeCh := make(chan int, 1)
	var out, errb lockedBuffer
	go func() { // ends when ctx is cancelled
		codeCh <- run(ctx, append([]string{"--join", coord.Addr()}, args...), &out, &errb)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for len(coord.Members()) == 0 {
		if time.Now().After(deadline) {
			cancel()
			<-codeCh
			t.Fatalf("the agent never joined; stderr %s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	m := coord.Members()[0]
	if m.Name != "cli-agent" || m.Meta.Role != cluster.RoleAgent || m.Meta.GRPC == "" || m.Meta.Protocol != wire.ProtocolVersion || m.Meta.Cores < 1 {
		t.Errorf("member %+v", m)
	}
	cancel()
	select {
	case code := <-codeCh:
		if code != 0 {
			t.Errorf("exit %d; stderr %s", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not exit after its context ended")
	}
	return errb.String()
}
