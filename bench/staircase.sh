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
# day against those two only. STAIRCASE_PLAY=0 skips the played day,
# STAIRCASE_SEARCH=0 the search. STAIRCASE_OUT writes elsewhere than
# bench/STAIRCASE.md. Under HOG=1 the runs go with scripts/cpu-hog.sh
# keeping every core busy beside them (the "with a CPU hog" figures).
# STAIRCASE_ARGS adds coordinator flags to every run, like
# STAIRCASE_ARGS="--max-send-lag 50ms" on a machine others keep busy (the
# generator's send lag then passes the default 5 ms bound and every step
# would be judged generator-limited); the file says what was added.
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
# The search: the same stages, each with mode: capacity and a search block of
# its own. An autoscaled tier's ceiling is the one it sustains at its
# maximum instance count (what internal/predict predicts), so its steps are
# held 45 s and judged after a 30 s warm-up: long enough for the scale-out
# (two evaluations and a 3 s provisioning, about 7 s) and for the backlog
# queued meanwhile to drain. A 10 s step would measure the hockey-stick
# instead: the load the serving instances absorb while new ones provision.
SEARCH_HOLD=${STAIRCASE_SEARCH_HOLD:-10s}
SEARCH_PLAIN="{start: 100/s, max: 4k/s, hold: $SEARCH_HOLD, max_steps: 10}"
SEARCH_AUTOSCALE="{start: 800/s, max: 4k/s, hold: 45s, warmup: 30s, max_steps: 8}"
SCEN_SEARCH=$WORK/staircase-search.yaml
awk -v plain="$SEARCH_PLAIN" -v auto="$SEARCH_AUTOSCALE" '
	/^  - bundled: / { print; print "    mode: capacity"; print "    search: " ($3 == "autoscale" ? auto : plain); next }
	{ print }
' "$SCEN" >"$SCEN_SEARCH"
LOAD_START=$(load1)

run() { # run NAME TIMEOUT_S SCENARIO ARGS...: one coordinator run; its summary in $WORK/NAME.txt
	local name=$1 limit=$2 scen=$3
	shift 3
	log "$name: coordinator run $scen $* (at most ${limit}s)"
	local rc=0
	local hog=()
	if [ "${HOG:-0}" = 1 ]; then
		hog=(bash "$ROOT/scripts/cpu-hog.sh")
	fi
	# shellcheck disable=SC2086 # STAIRCASE_ARGS is split into flags on purpose
	(cd "$WORK" && "${hog[@]}" timeout "$limit" "$BIN/coordinator" run "$scen" --out "$WORK/$name" -q ${STAIRCASE_ARGS:-} "$@") >"$WORK/$name.txt" 2>"$WORK/$name.err" || rc=$?
	if [ "$rc" -ne 0 ]; then
		log "$name: exit $rc"
		tail -5 "$WORK/$name.err" >&2
	fi
	return 0
}

PLAY=${STAIRCASE_PLAY:-1}
if [ "$PLAY" = 1 ]; then
	run played 1500 "$SCEN"
fi
if [ "$SEARCH" = 1 ]; then
	run search 2700 "$SCEN_SEARCH"
fi

{
	echo "# The staircase: measured against predicted"
	echo
	echo "\`bash bench/staircase.sh\` (\`make staircase\`) at $(surge_revision), $(date -u +%Y-%m-%d), on $(machine_line)."
	echo "Everything ran on this one machine: the coordinator, two embedded agents and each bundled target."
	echo "Stages: $STAGES (examples/staircase.yaml's day and mix). 1-minute load average $LOAD_START at the start, $(load1) at the end."
	if [ "${HOG:-0}" = 1 ]; then
		echo "HOG=1: every run went with scripts/cpu-hog.sh keeping all $(nproc) cores busy beside it."
	fi
	if [ -n "${STAIRCASE_ARGS:-}" ]; then
		echo "Extra coordinator flags (STAIRCASE_ARGS): \`${STAIRCASE_ARGS}\`."
	fi
	echo
	if [ "$PLAY" = 1 ]; then
		echo "## examples/staircase.yaml as written: one compressed launch day per stage"
		echo
		echo '```'
		sed -n '/^stages compared/,/^$/p' "$WORK/played.txt"
		echo '```'
		echo
	fi
	if [ "$SEARCH" = 1 ]; then
		echo "## The same stages, each searched: \`search: $SEARCH_PLAIN\` (autoscale: \`$SEARCH_AUTOSCALE\`)"
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
