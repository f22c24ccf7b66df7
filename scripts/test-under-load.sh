#!/usr/bin/env bash
# Run the unit tests while every core is busy (make test-under-load).
#
# Starts one CPU hog per core (nproc busy shell loops, or HOGS of them),
# runs the suite exactly as `make test`'s unit step does, stops the hogs
# whatever happens (trap on EXIT), and exits with the tests' status.
# Tests that assert on the wall clock, or skip when the machine is slow,
# fail or go quiet here; tests that measure in fake time or in the
# component's own accounting do not care.
#
# Packages may be given as arguments (default ./...), e.g.
#   scripts/test-under-load.sh ./targets/...
set -euo pipefail
cd "$(dirname "$0")/.."

GO="${GO:-go}"
HOGS="${HOGS:-$(nproc)}"
if [ "$#" -eq 0 ]; then
	set -- ./...
fi

hogs=()
tests=""
cleanup() {
	# Interrupted: stop go test and its test binaries (their own process
	# group, see set -m below) before the hogs.
	if [ -n "$tests" ] && kill -0 "$tests" 2>/dev/null; then
		kill -TERM -- "-$tests" 2>/dev/null || true
		wait "$tests" 2>/dev/null || true
	fi
	if [ "${#hogs[@]}" -gt 0 ]; then
		kill "${hogs[@]}" 2>/dev/null || true
		wait "${hogs[@]}" 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for _ in $(seq "$HOGS"); do
	sh -c 'while :; do :; done' &
	hogs+=("$!")
done
echo "test-under-load: $HOGS CPU hogs running (pids ${hogs[*]})"

# In the background, so that a signal to this script runs its traps at
# once instead of after go test ends (bash defers traps while a
# foreground child runs), and in a process group of its own (set -m), so
# that cleanup can stop go test together with the test binaries it runs.
set -m
"$GO" test -race -count=1 -timeout 8m "$@" &
tests=$!
set +m
status=0
wait "$tests" || status=$?
echo "test-under-load: go test exited $status"
exit "$status"
