#!/usr/bin/env bash
# bench/staircase.sh — the staircase run: examples/staircase.yaml against the
# eight bundled topologies and the two reference topologies beside them (cdn,
# autoscale), with embedded coordinator, agents and targets, all on
# loopback, then, unless STAIRCASE_SEARCH=0, a capacity search of each
# stage. Writes bench/STAIRCASE.md: the summaries with the measured ceiling
# of each stage beside the predicted one. About 40 minutes; every run is
# bounded by `timeout`. Run it under `flock /tmp/surge-bench.lock` on a
# shared machine.
#
# STAIRCASE_STAGES (space-separated topology names) replaces the stages
# played, for a shorter run: STAIRCASE_STAGES="cdn autoscale" plays the same
# day against those two only. STAIRCASE_OUT writes elsewhere than
# bench/STAIRCASE.md.
set -euo pipefail
LOG_TAG=staircase
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init surge-staircase
surge_build
busy_check

OUT=${STAIRCASE_OUT:-$BENCH/STAIRCASE.md}
SEARCH=${STAIRCASE_SEARCH:-1}
STAGES=${STAIRCASE_STAGES:-single-box split cache lb replicas sharding queue multi-region cdn autoscale}

# The scenario: examples/staircase.yaml with its stages replaced by $STAGES.
SCEN=$WORK/staircase.yaml
awk -v stages="$STAGES" '
	/^stages:/ { print; n = split(stages, s, " "); for (i = 1; i <= n; i++) print "  - bundled: " s[i]; skip = 1; next }
	skip && /^[^ ]/ { skip = 0 }
	!skip { print }
' "$ROOT/examples/staircase.yaml" >"$SCEN"
LOAD_START=$(load1)

run() { # run NAME TIMEOUT_S ARGS...: one coordinator run; its summary in $WORK/NAME.txt
	local name=$1 limit=$2
	shift 2
	log "$name: coordinator run $* (at most ${limit}s)"
	local rc=0
	(cd "$WORK" && timeout "$limit" "$BIN/coordinator" run "$SCEN" --out "$WORK/$name" -q "$@") >"$WORK/$name.txt" 2>"$WORK/$name.err" || rc=$?
	if [ "$rc" -ne 0 ]; then
		log "$name: exit $rc"
		tail -5 "$WORK/$name.err" >&2
	fi
	return 0
}

run played 1500
if [ "$SEARCH" = 1 ]; then
	run search 2400 --capacity --search-start 100/s --search-max 4k/s --search-hold 10s --search-max-steps 10
fi

{
	echo "# The staircase: measured against predicted"
	echo
	echo "\`bash bench/staircase.sh\` (\`make staircase\`) at $(surge_revision), $(date -u +%Y-%m-%d), on $(machine_line)."
	echo "Everything ran on this one machine: the coordinator, two embedded agents and each bundled target."
	echo "Stages: $STAGES (examples/staircase.yaml's day and mix). 1-minute load average $LOAD_START at the start, $(load1) at the end."
	echo
	echo "## examples/staircase.yaml as written: one compressed launch day per stage"
	echo
	echo '```'
	sed -n '/^stages compared/,/^$/p' "$WORK/played.txt"
	echo '```'
	if [ "$SEARCH" = 1 ]; then
		echo
		echo "## The same stages, each searched: \`--capacity --search-start 100/s --search-max 4k/s --search-hold 10s\`"
		echo
		echo '```'
		sed -n '/^stages compared/,/^$/p' "$WORK/search.txt"
		echo '```'
	fi
	echo
	echo "## Full summaries"
	for f in played search; do
		[ -f "$WORK/$f.txt" ] || continue
		echo
		echo "### $f"
		echo
		echo '```'
		cat "$WORK/$f.txt"
		echo '```'
	done
} >"$OUT"
log "wrote $OUT"
