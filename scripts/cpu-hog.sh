#!/usr/bin/env bash
# Run a command while every core is busy, and exit with its status.
#
#   scripts/cpu-hog.sh go test -count=1 ./targets/...
#
# Starts HOGS busy shell loops (default: one per core, nproc), runs the
# command in a process group of its own, and stops the hogs whatever
# happens (trap on EXIT; an interrupt also stops the command and its
# children). `make test-targets-under-load` uses it to check that the
# reference targets' tests judge capacity in simulated time and the
# components' own accounting, never in the wall clock of a loaded host.
set -euo pipefail

if [ "$#" -eq 0 ]; then
	echo "usage: $0 command [args...]" >&2
	exit 2
fi
HOGS="${HOGS:-$(nproc)}"

hogs=()
cmd=""
cleanup() {
	if [ -n "$cmd" ] && kill -0 "$cmd" 2>/dev/null; then
		kill -TERM -- "-$cmd" 2>/dev/null || true
		wait "$cmd" 2>/dev/null || true
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
echo "cpu-hog: $HOGS busy loops (pids ${hogs[*]}); load average $(cut -d' ' -f1-3 /proc/loadavg)"

# In the background, so that a signal runs the traps at once (bash defers
# them while a foreground child runs), and in its own process group
# (set -m), so that cleanup stops the command with its children.
set -m
"$@" &
cmd=$!
set +m
status=0
wait "$cmd" || status=$?
echo "cpu-hog: '$*' exited $status; load average $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$status"
