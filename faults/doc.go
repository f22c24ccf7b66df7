// Package faults holds process-level fault tests: the real agent and
// coordinator binaries, built once per test run, are started as separate
// processes against a counting HTTP target inside the test process, and
// then an agent is SIGKILLed or SIGSTOPped, the coordinator is SIGKILLed
// or SIGSTOPped, the coordinator's network link is cut, or its control
// plane is blacked out for a few seconds (packets dropped): a blip shorter
// than the agents' lease must lose nothing, the sessions resumed. The tests check what a user
// would see: the exit code, the gaps and balanced counts of report.json,
// and — from the target's side — that load stops when the lease says it
// must and resumes on the survivors after a cut.
//
// The package has no non-test code. Two tests (TestKillAgent,
// TestKillCoordinator) run in `make test` with the fleet tests; the long
// ones (TestStopAgent, TestPartition, TestBlackout, TestStopCoordinator)
// need the build tag faults (`make faults`, which first installs iptables
// with scripts/install-faults-deps.sh):
//
//	go test -tags faults -count=1 -timeout 10m -v ./faults
//
// TestPartition and TestBlackout create network namespaces, veth pairs
// and a bridge, so they need root and iproute2's ip (and iptables for the
// blackout); they skip otherwise. Load is only ever
// sent to loopback or to the bridge network a test creates, and every
// process, namespace and link a test creates is removed in its cleanup,
// even when it fails. The tests are Linux-only (/proc, netns) and skip
// under -short.
//
// Timing bounds are deliberately generous (a busy 2-core machine must
// not break them): they check the protocol's promises (the lease, the
// agent timeout, the cut after detection), not how fast this machine is.
package faults
