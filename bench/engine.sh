#!/usr/bin/env bash
# bench/engine.sh — the cost and the timing of one Surge agent against a
# loopback nginx, before and after a change, in one run.
#
# It builds Surge twice — the work tree (“after”) and, when ENGINE_BEFORE
# names a git revision, that revision (“before”, from `git archive`, so no
# other work tree is touched) — starts nginx on 127.0.0.1:18080, then plays
# a constant rate with one external agent for each (build, variant, rate),
# builds interleaved so that the machine's mood hits both alike. For every
# run it prints the agent process's CPU per completed request (user + system
# of the whole process, start-up included, ÷ 2xx responses; and the
# engine's own figure for the stage, report.json's cpu_us_per_request), the
# share of intended requests that completed, issued = intended, the send-lag
# p99 and the on-wire-lag p99, and nginx's CPU during the run (its master
# and workers, µs per 2xx response): the target's share of the machine.
#
# Variants: surge (the defaults), surge-precise (`timing: precise`),
# surge-1p (`agent --procs 1`). wrk2 (built from the vendored tarball by
# bench/wrk2.sh into bench/.bin, or ENGINE_WRK2) plays each rate too, in
# the same run: `wrk2 -t2 -c$ENGINE_WRK2_CONNS -R rate`, its CPU from
# /usr/bin/time (the whole process), completed = its requests less
# non-2xx, intended = rate × duration; it does not report send lag.
#
# Environment:
#   ENGINE_BEFORE    git revision to build as "before" ("" = only the work tree)
#   ENGINE_RATES     rates in req/s (default "10000 50000 100000")
#   ENGINE_DUR       seconds per run (default 5)
#   ENGINE_VARIANTS  default "surge surge-precise"
#   ENGINE_REPEAT    runs per cell (default 1)
#   ENGINE_PPROF     a directory: capture a CPU profile (all but the first and
#                    last second of the stage) and an
#                    allocs profile of every agent into it
#   ENGINE_PORT (18080), ENGINE_GOSSIP (127.0.0.1:17946), ENGINE_PPROF_PORT (16060)
#   ENGINE_OUT       also write the table (markdown) to this file
#   ENGINE_WRK2      path of a wrk2 binary ("" = bench/.bin/wrk2, built by
#                    bench/wrk2.sh; "none" = no wrk2 rows)
#   ENGINE_WRK2_CONNS  wrk2's connections (default 100)
#
# Loopback only; every run is bounded (duration + 60 s). Run on a quiet
# machine if you can; on a shared one compare only within one run.
set -euo pipefail

LOG_TAG=engine
KEEP=${ENGINE_KEEP:-0}
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT=${ENGINE_PORT:-18080}
GOSSIP=${ENGINE_GOSSIP:-127.0.0.1:17946}
PPROF_PORT=${ENGINE_PPROF_PORT:-16060}
read -r -a RATES <<<"${ENGINE_RATES:-10000 50000 100000}"
read -r -a VARIANTS <<<"${ENGINE_VARIANTS:-surge surge-precise}"
DUR=${ENGINE_DUR:-5}
REPEAT=${ENGINE_REPEAT:-1}
BEFORE=${ENGINE_BEFORE:-}
PPROF=${ENGINE_PPROF:-}
declare -A CLIENT=([surge]="" [surge-precise]="{timing: precise}" [surge-1p]="")
declare -A AGENT_ARGS=([surge-1p]="--procs 1")

lib_init surge-engine

have jq || die "jq is needed"
have nginx || die "nginx is needed (bench/peers.sh installs it)"

# Builds: "after" is the work tree; "before" the revision, from git archive.
declare -A BINDIR=()
BUILDS=()
if [ -n "$BEFORE" ]; then
	src=$WORK/src-before
	mkdir -p "$src" "$WORK/bin-before"
	(cd "$ROOT" && git archive "$BEFORE") | tar -x -C "$src"
	log "building $BEFORE (before)"
	(cd "$src" && timeout 900 go build -o "$WORK/bin-before/" ./cmd/agent ./cmd/coordinator) >"$WORK/build-before.log" 2>&1 \
		|| { cat "$WORK/build-before.log" >&2; die "$BEFORE does not build"; }
	BINDIR[before]=$WORK/bin-before
	BUILDS+=(before)
fi
mkdir -p "$WORK/bin-after"
log "building the work tree (after)"
(cd "$ROOT" && timeout 900 go build -o "$WORK/bin-after/" ./cmd/agent ./cmd/coordinator) >"$WORK/build-after.log" 2>&1 \
	|| { cat "$WORK/build-after.log" >&2; die "the work tree does not build"; }
BINDIR[after]=$WORK/bin-after
BUILDS+=(after)

nginx_start "$PORT" ENGINE_PORT
[ -z "$PPROF" ] || mkdir -p "$PPROF"

PORT_HEX=$(printf '%04X' "$PORT")
tw_count() { awk -v p=":$PORT_HEX" '$3 ~ p"$" && $4 == "06"' /proc/net/tcp | wc -l; }

WRK2=${ENGINE_WRK2:-}
if [ -z "$WRK2" ]; then
	# shellcheck source=bench/wrk2.sh
	. "$BENCH/wrk2.sh"
	wrk2_build
	[ -n "$WRK2_WHY" ] || WRK2=$BIN/wrk2
elif [ "$WRK2" = none ]; then
	WRK2=""
fi
WRK2_CONNS=${ENGINE_WRK2_CONNS:-100}
[ -z "$WRK2" ] || [ -x "$WRK2" ] || die "ENGINE_WRK2=$WRK2 is not an executable"
[ -z "$WRK2" ] || [ -x /usr/bin/time ] || die "wrk2 is measured with /usr/bin/time, which is missing"

ROWS=()
wrk2_one() { # wrk2_one RATE REP
	local rate=$1 rep=$2 dir=$WORK/wrk2-$1-$2
	mkdir -p "$dir"
	log "wrk2: $rate req/s for ${DUR}s (-t2 -c$WRK2_CONNS; load $(load1))"
	local rc=0 nt0 nt1
	nt0=$(nginx_ticks)
	/usr/bin/time -f '%U %S' -o "$dir/time" timeout $((DUR + 30)) "$WRK2" -t2 -c"$WRK2_CONNS" -d"${DUR}s" -R"$rate" \
		"http://127.0.0.1:$PORT/" >"$dir/out" 2>&1 || rc=$?
	nt1=$(nginx_ticks)
	local total bad cpu rps row
	total=$(awk '/requests in/ { print $1 }' "$dir/out")
	if [ -z "$total" ]; then
		ROWS+=("| — | wrk2 | $rate | — | — | — | — | — | — | — | failed (exit $rc): $(tail -n 1 "$dir/out" | tr '|' '/') |")
		return
	fi
	bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$dir/out")
	cpu=$(tail -n 1 "$dir/time" | awk '{ printf "%.2f", $1 + $2 }')
	rps=$(awk '/Requests\/sec:/ { printf "%.0f", $2 }' "$dir/out")
	row=$(awk -v c="$cpu" -v t="$total" -v b="${bad:-0}" -v r="$rate" -v d="$DUR" -v rps="$rps" -v nt=$((nt1 - nt0)) -v hz="$CLK_TCK" 'BEGIN {
		n = t - b
		printf "| — | wrk2 | %d | %.2f | — | %.3f | n/a | n/a | n/a | %.2f | %d requests at %d/s, non-2xx %d; cpu %.2f s |", r, c * 1e6 / n, 100 * n / (r * d), nt / hz * 1e6 / n, t, rps, b, c }')
	ROWS+=("$row")
	echo "$row" >&2
}

run_one() { # run_one BUILD VARIANT RATE REP
	local build=$1 variant=$2 rate=$3 rep=$4
	local dir=$WORK/$build-$variant-$rate-$rep client=${CLIENT[$variant]:-} args=${AGENT_ARGS[$variant]:-}
	mkdir -p "$dir"
	BIN=${BINDIR[$build]}
	surge_scenario "$dir/scenario.yaml" "engine-$variant-$rate" "$PORT" "$rate" "$DUR" "$client"
	if [ -n "$PPROF" ]; then args="$args --pprof-listen 127.0.0.1:$PPROF_PORT"; fi
	log "$build $variant: $rate req/s for ${DUR}s (load $(load1))"
	local nt0 nt1
	nt0=$(nginx_ticks)
	surge_start "$dir" "$dir/scenario.yaml" $((DUR + 60)) "$GOSSIP" "$args"
	local prof_pid=""
	if [ -n "$PPROF" ]; then
		# The stage starts about 2 s after the agent (gossip, assignment,
		# T0 lead); profile from 1 s into it to 1 s before its end.
		local secs=$((DUR > 4 ? DUR - 2 : 2))
		(
			sleep 3
			curl -s -m $((secs + 10)) -o "$PPROF/$build-$variant-$rate-$rep.cpu.pprof" "http://127.0.0.1:$PPROF_PORT/debug/pprof/profile?seconds=$secs" || true
			curl -s -m 10 -o "$PPROF/$build-$variant-$rate-$rep.allocs.pprof" "http://127.0.0.1:$PPROF_PORT/debug/pprof/allocs" || true
		) &
		prof_pid=$!
	fi
	surge_wait
	[ -z "$prof_pid" ] || wait "$prof_pid" || true
	surge_stop
	nt1=$(nginx_ticks)
	local s
	if [ -z "$SURGE_TICKS" ] || [ ! -s "$dir/report.json" ]; then
		ROWS+=("| $build | $variant | $rate | — | — | — | — | — | — | — | failed (coordinator exit $SURGE_CRC): $(tail -n 1 "$dir/coordinator.err" | tr '|' '/') |")
		return
	fi
	s=$(jq -c '.stages[0]' "$dir/report.json")
	local row
	row=$(jq -r --arg b "$build" --arg v "$variant" --arg r "$rate" --arg t "$SURGE_TICKS" --arg hz "$CLK_TCK" --arg nt $((nt1 - nt0)) '
		def r2: . * 100 | round / 100;
		def r3: . * 1000 | round / 1000;
		"| \($b) | \($v) | \($r) | \(if .succeeded > 0 then (($t | tonumber) / ($hz | tonumber) * 1e6 / .succeeded | r2) else "—" end)"
		+ " | \(.cpu_us_per_request | r2)"
		+ " | \(if .intended > 0 then (100 * .succeeded / .intended | r3) else "—" end)"
		+ " | \(if .issued == .intended then "yes" else "no (\(.issued)/\(.intended))" end)"
		+ " | \(.send_lag_ms.p99 // 0 | r3) | \(.on_wire_lag_ms.p99 // 0 | r3)"
		+ " | \(if .succeeded > 0 then (($nt | tonumber) / ($hz | tonumber) * 1e6 / .succeeded | r2) else "—" end)"
		+ " | dropped \(.dropped)\(if (.dropped_by // {}) | length > 0 then " \(.dropped_by | tojson)" else "" end), failed \(.failed)"
		+ "\(if (.errors // {}) | length > 0 then " \(.errors | tojson)" else "" end); response p99 \(.response_time_ms.p99 | r2) ms |"' <<<"$s")
	ROWS+=("$row")
	echo "$row" >&2
}

busy_check
START=$(date +%s)
for rate in "${RATES[@]}"; do
	for variant in "${VARIANTS[@]}"; do
		for ((rep = 1; rep <= REPEAT; rep++)); do
			for build in "${BUILDS[@]}"; do
				# Sockets left in TIME_WAIT by a run that dialled many
				# connections would cost the next one its ports.
				for _ in $(seq 30); do [ "$(tw_count)" -lt 4000 ] && break; sleep 1; done
				run_one "$build" "$variant" "$rate" "$rep"
				sleep 1
			done
		done
	done
	if [ -n "$WRK2" ]; then
		for ((rep = 1; rep <= REPEAT; rep++)); do
			wrk2_one "$rate" "$rep"
			sleep 1
		done
	fi
done
ELAPSED=$(($(date +%s) - START))

{
	echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); machine: $(machine_line); load before: $(load1); measured in ${ELAPSED} s"
	echo "- before: ${BEFORE:-(none)}; after: $(surge_revision); ${DUR} s per run; one external agent; nginx on 127.0.0.1:$PORT"
	echo
	echo "| build | variant | rate | CPU-µs / completed (process) | CPU-µs / request (stage, report.json) | % completed | issued = intended | send lag p99 (ms) | on-wire lag p99 (ms) | nginx CPU-µs / completed | notes |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|"
	printf '%s\n' "${ROWS[@]}"
} | tee "$WORK/table.md"
[ -z "${ENGINE_OUT:-}" ] || cp "$WORK/table.md" "$ENGINE_OUT"
