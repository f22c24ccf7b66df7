package surge_test

import (
	"context"
	"fmt"
	"time"

	"github.com/surgeload/surge"
	"github.com/surgeload/surge/scenario"
	"github.com/surgeload/surge/targets"
)

// A run on two agents embedded in this program, against the bundled echo
// target that Run starts on loopback: 200 arrivals over 2 s, every one
// sent and answered, and the thresholds judged on the merged histograms.
func ExampleRun() {
	sc, err := surge.Parse("example.yaml", []byte(`
name: example
stages: [{bundled: echo}]
requests: [{name: get, path: /items/1}]
load: {constant: {rate: 100, duration: 2s}}
thresholds: ["error_rate < 1%", "p99 < 1s"]
`), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	opts := surge.DefaultOptions()
	opts.GossipListen = "127.0.0.1:0"
	opts.MaxSendLag = time.Second // this example judges the target, not how busy the machine is
	var beats int
	opts.Progress = func(surge.Progress) { beats++ } // once per heartbeat while a stage plays
	rep, err := surge.Run(context.Background(), sc, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	st := rep.Stages[0]
	fmt.Printf("stage %s: intended %d, issued %d, succeeded %d, lost %d\n", st.Name, st.Intended, st.Issued, st.Succeeded, st.Lost)
	for _, th := range st.Thresholds {
		fmt.Printf("%s: pass %v\n", th.Expr, th.Pass)
	}
	fmt.Println("verdict:", rep.Verdict, "exit code:", surge.ExitCode(rep, err), "progress seen:", beats > 0)
	// Output:
	// stage echo: intended 200, issued 200, succeeded 200, lost 0
	// error_rate < 1%: pass true
	// p99 < 1s: pass true
	// verdict: pass exit code: 0 progress seen: true
}

// A fleet: Run waits for two agents to join its gossip address; here they
// are started in this program with StartAgent, as a Go service embedding
// an agent would. The target is the user's own URL (an echo server on
// loopback).
func ExampleRun_fleet() {
	target, err := targets.Start("echo", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer target.Close()
	sc, err := surge.Parse("fleet.yaml", []byte(`
name: fleet
stages: [{name: mine, url: "`+target.URL+`"}]
requests: [{name: get, path: /}]
load: {constant: {rate: 50, duration: 1s}}
`), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	opts := surge.DefaultOptions()
	opts.GossipListen, opts.Expect, opts.Wait = "127.0.0.1:0", 2, 20*time.Second
	opts.MaxSendLag = time.Second
	var agents []*surge.Agent
	opts.Listening = func(gossip string) { // the coordinator is up: start the agents
		for i := range 2 {
			a, err := surge.StartAgent(surge.AgentOptions{Name: fmt.Sprintf("example-agent-%d", i+1), Join: []string{gossip}})
			if err != nil {
				fmt.Println(err)
				return
			}
			agents = append(agents, a)
		}
	}
	rep, err := surge.Run(context.Background(), sc, opts)
	for _, a := range agents {
		a.Close()
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range rep.Agents {
		fmt.Printf("%s: intended %d\n", a.Name, a.Intended)
	}
	fmt.Println("stage", rep.Stages[0].Name, "succeeded", rep.Stages[0].Succeeded, "verdict", rep.Verdict)
	// Unordered output:
	// example-agent-1: intended 25
	// example-agent-2: intended 25
	// stage mine succeeded 50 verdict pass
}

// Every problem of a scenario is reported at once, with its line and
// column.
func ExampleParse() {
	_, err := surge.Parse("bad.yaml", []byte(`name: bad
stages: [{bundled: no-such-topology}]
requests: [{path: /, method: "GE T"}]
load: {constant: {rate: -5, duration: 1s}}
`), nil)
	fmt.Println(err)
	// Output:
	// bad.yaml:2:20: unknown bundled topology "no-such-topology" (known: single-box, split, cache, lb, replicas, sharding, queue, multi-region, echo)
	// bad.yaml:3:30: invalid method "GE T" (want an HTTP method like GET or POST)
	// bad.yaml:4:25: invalid rate "-5": must not be negative
}

// A scenario built in code is checked like a file and its defaults are
// filled in; Compile builds every stage's exact schedule before any load
// is sent.
func ExampleBuild() {
	sc, err := surge.Build(&scenario.Scenario{
		Name:     "built",
		Stages:   []scenario.Stage{{Bundled: "echo"}},
		Requests: []scenario.Request{{Path: "/items/{{seq}}"}},
		Load:     scenario.Curve{Constant: &scenario.Constant{Rate: 10, Duration: scenario.Duration(3 * time.Second)}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := surge.Compile(sc, surge.DefaultOptions()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("stage %q, request %q\n", sc.Stages[0].Name, sc.Requests[0].Name)
	// Output:
	// stage "echo", request "GET /items/{{seq}}"
}
