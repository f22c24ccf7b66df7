#!/usr/bin/env bash
# bench/peers.sh — `make bench-peers`: Surge's agent against established load
# generators, in one run, on one machine, against one loopback nginx.
#
# It installs what it needs (nginx, wrk, GNU time and jq from the distribution;
# vegeta and k6 with `go install` into bench/.bin; wrk2 built from the vendored
# source ../shared/vendor/wrk2.tar.gz, beside the repository, into
# bench/.bin — see bench/wrk2.sh), starts nginx on 127.0.0.1:18080 with a
# config of its own, builds Surge, then fires at fixed rates (2,000 and
# 10,000 req/s for 10 s, and 50,000 req/s for 5 s) with Surge (one external
# agent process), vegeta, k6 and wrk2 (giltene/wrk2, the open-model C
# reference: `-t2 -c100 -R<rate>`), plus wrk's closed-loop maximum, and at
# the top rate, 100,000 req/s for 5 s, with Surge (default client) and wrk2.
# Surge runs in four variants that differ only in the scenario's `client:`
# block or the agent's flags: surge (the defaults: Surge's own HTTP/1.1
# client, default timing, all cores), surge-1p (the same, `agent --procs 1`),
# surge-nethttp (`implementation: net/http`) and surge-precise (`timing:
# precise`); all four at the fixed rates, all but surge-precise also at
# 50,000 req/s. For every run it records the generator process's CPU time and
# peak RSS, the share of intended requests that completed, send lag where
# the tool measures it, and nginx's CPU over the same window (at the top rate
# also the whole machine's, to show when the target is the limit). The
# tables, with Surge ÷ vegeta, ÷ k6 and ÷ wrk2 (CPU per completed request),
# are printed and written to bench/RESULTS.md.
#
# Loopback only; every step is bounded in time; running it again reuses what
# is installed (wrk2 is rebuilt only when its tarball changed) and overwrites
# RESULTS.md. The first run also compiles k6 (a few minutes) and wrk2 (under a
# minute); later runs take 5 to 6 minutes. When wrk2 cannot be built, its
# rows say why and the rest of the bench runs.
#
# Environment: BENCH_PORT (18080), BENCH_GOSSIP (127.0.0.1:17946),
# BENCH_OUT (bench/RESULTS.md), BENCH_TOOLS (which to run; default
# "surge surge-1p surge-nethttp surge-precise vegeta k6 wrk wrk2"; a partial
# run writes no RESULTS.md unless BENCH_OUT is set), BENCH_KEEP=1 keeps the
# work directory (every tool's raw output and Surge's report.json) and
# prints where it is, SURGE_REV (the revision to print instead of asking
# git), BENCH_NOTE (a sentence to print at the top of RESULTS.md, e.g. what
# else ran on the machine), BENCH_WRK2_TARBALL (the wrk2 source,
# ../shared/vendor/wrk2.tar.gz relative to the repository).
# The shared parts (installs, the Surge build, nginx, running Surge's agent)
# are in bench/lib.sh; building wrk2 is in bench/wrk2.sh.
set -euo pipefail

LOG_TAG=bench
KEEP=${BENCH_KEEP:-0}
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=bench/wrk2.sh
. "$BENCH/wrk2.sh"

PORT=${BENCH_PORT:-18080}
GOSSIP=${BENCH_GOSSIP:-127.0.0.1:17946}
OUT=${BENCH_OUT:-$BENCH/RESULTS.md}
TARGET=http://127.0.0.1:$PORT/
FIXED_RATES=(2000 10000)
FIXED_DUR=10
MAX_RATE=50000
MAX_DUR=5
# The issue's target: one agent keeps the schedule at 100,000 req/s.
TOP_RATE=100000
TOP_DUR=5
WRK_ARGS=(-t2 -c64 -d10s)
# wrk2: one event-loop thread per core (2 here; more threads would only
# compete with nginx for the same cores). Its connections are fixed and
# each carries one request at a time, so it needs at least rate x round
# trip of them (Little's law): 100,000 req/s at a 0.5 ms loopback round
# trip is 50 in flight. 100 leaves twice that, i.e. 1,000 req/s per
# connection at the top rate (a 1 ms budget per request), without the
# hundreds of idle connections that would cost it CPU at 2,000 req/s.
WRK2_THREADS=2
WRK2_CONNS=100
WRK2_ARGS=("-t$WRK2_THREADS" "-c$WRK2_CONNS")
TOOLS=" ${BENCH_TOOLS:-surge surge-1p surge-nethttp surge-precise vegeta k6 wrk wrk2} "
# Surge's variants: the scenario's `client:` block (a YAML flow map) and
# the label of their rows.
# surge-1p is the default client with the agent on one Go processor
# (`agent --procs 1`), the setting the README recommends when the agent
# shares the machine with its target.
SURGE_VARIANTS=(surge surge-1p surge-nethttp surge-precise)
declare -A CLIENT=([surge]="" [surge-1p]="" [surge-nethttp]="{implementation: net/http}" [surge-precise]="{timing: precise}")
declare -A AGENT_ARGS=([surge-1p]="--procs 1")
declare -A LABEL=([surge]="Surge" [surge-1p]="Surge, agent --procs 1" [surge-nethttp]="Surge, net/http client" [surge-precise]="Surge, precise timing")

selected() { [[ $TOOLS == *" $1 "* ]]; }
runs() { selected "$1" && [ -z "${MISSING[$1]:-}" ]; } # selected and installed

lib_init surge-bench

# ---------------------------------------------------------------- installs --

declare -A MISSING=() # tool -> why it is not measured

have go || die "go is not on PATH (the project needs Go to build Surge)"

[ -x /usr/bin/time ] || apt_install time || true
[ -x /usr/bin/time ] || die "GNU time (/usr/bin/time) is needed to measure the peers and could not be installed"
have jq || apt_install jq || true
have jq || die "jq is needed to read the tools' JSON reports and could not be installed"
have nginx || apt_install nginx-light || apt_install nginx || true
have nginx || die "nginx (the target) could not be installed"
if selected wrk; then
	have wrk || apt_install wrk || true
	have wrk || MISSING[wrk]="not installed: apt-get install wrk failed"
fi

mkdir -p "$BIN"
go_install() { # go_install NAME MODULE@VERSION
	local name=$1 mod=$2
	[ -x "$BIN/$name" ] && return 0
	log "go install $mod (into bench/.bin; k6 takes a few minutes the first time)"
	if ! GOBIN=$BIN GOFLAGS='' timeout 900 go install "$mod" >"$WORK/install-$name.log" 2>&1; then
		MISSING[$name]="not installed: go install $mod failed ($(tail -n 1 "$WORK/install-$name.log" | cut -c1-120))"
		log "${MISSING[$name]}"
	fi
}
if selected vegeta; then go_install vegeta github.com/tsenart/vegeta/v12@latest; fi
if selected k6; then go_install k6 go.k6.io/k6@latest; fi
if selected wrk2; then
	wrk2_build
	[ -z "$WRK2_WHY" ] || MISSING[wrk2]=$WRK2_WHY
fi

surge_build

# ------------------------------------------------------------------- nginx --

nginx_start "$PORT" BENCH_PORT

# ------------------------------------------------------------ measurements --

# Results, keyed "tool:rate". CPU_S is the generator's CPU seconds;
# NGINX_S, BUSY_S and WALL_S are nginx's CPU seconds, the whole machine's
# busy CPU seconds (all processes, from /proc/stat) and the wall seconds
# over the same window: from just before the tool starts to just after it
# is done (for Surge, when the coordinator has exited).
declare -A CPU_US=() CPU_S=() COMPLETED=() RSS_MB=() PCT=() LAG=() NOTE=() NGINX_S=() BUSY_S=() WALL_S=()

# machine_busy_ticks: non-idle CPU ticks of all cores so far (user, nice,
# system, irq, softirq, steal), from /proc/stat.
machine_busy_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
window_begin() {
	WIN_NGINX=$(nginx_ticks)
	WIN_BUSY=$(machine_busy_ticks)
	WIN_T0=${EPOCHREALTIME/[.,]/}
}
window_end() { # window_end KEY
	local t1=${EPOCHREALTIME/[.,]/}
	NGINX_S[$1]=$(ticks_s $(($(nginx_ticks) - WIN_NGINX)))
	BUSY_S[$1]=$(ticks_s $(($(machine_busy_ticks) - WIN_BUSY)))
	WALL_S[$1]=$(awk -v d=$((t1 - WIN_T0)) 'BEGIN { printf "%.2f", d / 1e6 }')
}

fmt() { awk -v x="$1" -v p="${2:-1}" 'BEGIN { printf "%.*f", p, x }'; }
# record KEY CPU_SECONDS RSS_KB COMPLETED INTENDED(0 = closed loop) LAG NOTE
record() {
	local key=$1 cpu=$2 rss_kb=$3 done=$4 intended=$5 lag=$6 note=$7
	if [ "$done" -gt 0 ]; then CPU_US[$key]=$(awk -v c="$cpu" -v n="$done" 'BEGIN { printf "%.1f", c * 1e6 / n }'); else CPU_US[$key]="—"; fi
	RSS_MB[$key]=$(awk -v k="$rss_kb" 'BEGIN { printf "%.0f", k / 1024 }')
	if [ "$intended" -gt 0 ]; then PCT[$key]=$(awk -v d="$done" -v i="$intended" 'BEGIN { printf "%.2f", 100 * d / i }'); else PCT[$key]="n/a (closed loop)"; fi
	LAG[$key]=$lag
	CPU_S[$key]=$cpu
	COMPLETED[$key]=$done
	local around=""
	if [ -n "${NGINX_S[$key]:-}" ]; then
		around=$(awk -v a="$cpu" -v n="${NGINX_S[$key]}" -v b="${BUSY_S[$key]}" 'BEGIN {
			o = b - a - n; if (o < 0) o = 0
			printf " (nginx %.2f s, everything else %.2f s)", n, o }')
	fi
	NOTE[$key]="cpu $(fmt "$cpu" 2) s$around; $note"
}
skip() { # skip KEY WHY
	CPU_US[$1]="—"; RSS_MB[$1]="—"; PCT[$1]="—"; LAG[$1]="—"; NOTE[$1]=$2
}
# time_cpu FILE -> "user+sys seconds" and "maxrss KB" from /usr/bin/time -f '%U %S %M'
time_cpu() { tail -n 1 "$1" | awk '{ printf "%.2f", $1 + $2 }'; }
time_rss() { tail -n 1 "$1" | awk '{ print $3 }'; }

# Peak number of established TCP connections to nginx while a tool runs
# (sampled every 0.5 s from /proc/net/tcp): open-model tools open a
# connection per outstanding request when the target or the generator falls
# behind, so this shows how a tool copes.
PORT_HEX=$(printf '%04X' "$PORT")
sampler_start() {
	(
		peak=0
		while :; do
			n=$(awk -v p=":$PORT_HEX" '$3 ~ p"$" && $4 == "01"' /proc/net/tcp | wc -l)
			[ "$n" -gt "$peak" ] && peak=$n && echo "$peak" >"$WORK/conns"
			sleep 0.5
		done
	) &
	SAMPLER_PID=$!
}
sampler_stop() { # prints the peak
	kill "$SAMPLER_PID" 2>/dev/null || true
	wait "$SAMPLER_PID" 2>/dev/null || true
	SAMPLER_PID=""
	cat "$WORK/conns" 2>/dev/null || echo 0
	rm -f "$WORK/conns"
}

# Sockets to nginx in TIME_WAIT. At 50,000 req/s the open-model tools open
# thousands of connections; when they exit, those linger 60 s in TIME_WAIT on
# the client side and use up ephemeral ports (32768-60999), which makes the
# next tool fail to connect ("bind: address already in use"). tw_drain waits
# (at most CAP seconds) until fewer than MAX remain, so no tool pays for the
# one before it.
tw_count() { awk -v p=":$PORT_HEX" '$3 ~ p"$" && $4 == "06"' /proc/net/tcp | wc -l; }
tw_drain() { # tw_drain MAX CAP_S
	local n i
	n=$(tw_count)
	[ "$n" -lt "$1" ] && return 0
	log "waiting for $n sockets in TIME_WAIT to expire (at most $2 s)"
	for ((i = 0; i < $2; i++)); do
		n=$(tw_count)
		[ "$n" -lt "$1" ] && return 0
		sleep 1
	done
	log "still $n sockets in TIME_WAIT; going on"
}

# md_cell TEXT: TEXT fit for one table cell (one line, no bare "|").
md_cell() { tr '\n' ' ' <<<"$1" | sed 's/|/\\|/g; s/ *$//'; }

# surge_failure DIR: why the coordinator failed, as "; error: ..." ("" if
# it did not say), and a hint when the agent was stopped by a signal while
# the stage was playing (it logs "shutting down" on SIGINT or SIGTERM, and
# this script sends none before the coordinator is done).
surge_failure() {
	local e
	e=$(grep -m1 '^error:' "$1/coordinator.err" 2>/dev/null | cut -c1-200 || true)
	[ -z "$e" ] || printf '; %s' "$(md_cell "$e")"
	if grep -q 'agent shutting down' "$1/coordinator.err" 2>/dev/null; then
		printf '; the agent got SIGINT/SIGTERM from another process mid-run'
	fi
}

# Surge's own facts for the text under the tables, keyed "variant:rate":
# intended, issued and dropped (with causes) from report.json.
declare -A S_INTENDED=() S_ISSUED=() S_DROPPED=()

surge_run() { # surge_run VARIANT RATE DURATION_S
	local variant=$1 rate=$2 dur=$3
	local key=$variant:$rate dir=$WORK/$variant-$rate client=${CLIENT[$variant]}
	selected "$variant" || { skip "$key" "not run (BENCH_TOOLS)"; return; }
	[ -n "${MISSING[$variant]:-}" ] && { skip "$key" "${MISSING[$variant]}"; return; }
	mkdir -p "$dir"
	local name=bench-peers-$rate
	[ "$variant" = surge ] || name=bench-peers-$variant-$rate
	surge_scenario "$dir/scenario.yaml" "$name" "$PORT" "$rate" "$dur" "$client"
	# A scenario the coordinator rejects (say, a client: key this build
	# does not know) makes a skipped row with the reason, for this variant's
	# every rate, not a failed bench.
	local why
	if ! why=$(surge_validate "$dir" "$dir/scenario.yaml"); then
		MISSING[$variant]="scenario${client:+ with client: $client} rejected: $(md_cell "$why")"
		log "$variant: ${MISSING[$variant]}"
		skip "$key" "${MISSING[$variant]}"
		return
	fi
	log "$variant: $rate req/s for ${dur}s (1 external agent${client:+, client: $client})"
	window_begin
	sampler_start
	surge_start "$dir" "$dir/scenario.yaml" $((dur + 60)) "$GOSSIP" "${AGENT_ARGS[$variant]:-}"
	surge_wait
	window_end "$key"
	local crc=$SURGE_CRC conns
	conns=$(sampler_stop)
	# Whole process: all threads, from exec to the end of the run.
	surge_stop
	if [ -z "$SURGE_TICKS" ]; then
		skip "$key" "agent exited before the coordinator finished (coordinator exit $crc): $(md_cell "$(tail -n 1 "$dir/agent.log")")$(surge_failure "$dir")"
		return
	fi
	if [ ! -s "$dir/report.json" ]; then
		skip "$key" "no report.json (coordinator exit $crc): $(md_cell "$(tail -n 1 "$dir/coordinator.err")")"
		return
	fi
	local s completed intended lag note
	s=$(jq -c '.stages[0]' "$dir/report.json")
	completed=$(jq -r '.succeeded' <<<"$s")
	intended=$(jq -r '.intended' <<<"$s")
	lag=$(jq -r 'if .issued > 0 then .send_lag_ms.p99 // empty | . * 1000 | round / 1000 else empty end' <<<"$s")
	note=$(jq -r '"achieved \(.achieved_rps | round)/s; issued \(.issued), dropped \(.dropped)"
		+ (if (.dropped_by // {}) | length > 0 then " (\(.dropped_by | to_entries | map("\(.key) \(.value)") | join(", ")))" else "" end)
		+ ", failed \(.failed), lost \(.lost)"
		+ (if (.errors // {}) | length > 0 then "; errors \(.errors | tojson)" else "" end)
		+ (if .generator_limited then "; generator_limited" else "" end)
		+ "; response p99 \(.response_time_ms.p99 * 100 | round / 100) ms"' <<<"$s")
	note="$note; peak $conns conns"
	[ "$crc" = 0 ] || note="$note; coordinator exit $crc$(surge_failure "$dir")"
	S_INTENDED[$key]=$intended
	S_ISSUED[$key]=$(jq -r '.issued' <<<"$s")
	S_DROPPED[$key]=$(jq -r '"\(.dropped)" + (if (.dropped_by // {}) | length > 0 then " (\(.dropped_by | to_entries | map("\(.key) \(.value)") | join(", ")))" else "" end)' <<<"$s")
	record "$key" "$(ticks_s "$SURGE_TICKS")" "$SURGE_HWM" "$completed" "$intended" "${lag:-—}" "$note"
}

vegeta_run() { # vegeta_run RATE DURATION_S
	local rate=$1 dur=$2 key=vegeta:$1 dir=$WORK/vegeta-$1
	selected vegeta || { skip "$key" "not run (BENCH_TOOLS)"; return; }
	[ -n "${MISSING[vegeta]:-}" ] && { skip "$key" "${MISSING[vegeta]}"; return; }
	mkdir -p "$dir"
	echo "GET $TARGET" >"$dir/targets.txt"
	log "vegeta: $rate req/s for ${dur}s"
	local rc=0 conns
	window_begin
	sampler_start
	/usr/bin/time -f '%U %S %M' -o "$dir/time" timeout $((dur + 40)) \
		"$BIN/vegeta" attack -targets="$dir/targets.txt" -rate="$rate/s" -duration="${dur}s" \
		>"$dir/results.bin" 2>"$dir/attack.err" || rc=$?
	window_end "$key"
	conns=$(sampler_stop)
	if ! "$BIN/vegeta" report -type=json <"$dir/results.bin" >"$dir/report.json" 2>"$dir/report.err"; then
		skip "$key" "vegeta failed (attack exit $rc): $(tail -n 1 "$dir/attack.err" "$dir/report.err" | tr '\n' ' ')"
		return
	fi
	local completed note
	completed=$(jq -r '.status_codes["200"] // 0' "$dir/report.json")
	note=$(jq -r '"sent \(.requests) at \(.rate | round)/s; latency p99 \(.latencies["99th"] / 1e6 * 100 | round / 100) ms from actual send"
		+ (if (.errors // []) | length > 0 then "; errors \(.errors[:2] | join(", "))" else "" end)' "$dir/report.json")
	note="$note; peak $conns conns"
	[ "$rc" = 0 ] || note="$note; exit $rc"
	record "$key" "$(time_cpu "$dir/time")" "$(time_rss "$dir/time")" "$completed" $((rate * dur)) "n/a" "$note"
}

k6_run() { # k6_run RATE DURATION_S
	local rate=$1 dur=$2 key=k6:$1 dir=$WORK/k6-$1
	selected k6 || { skip "$key" "not run (BENCH_TOOLS)"; return; }
	[ -n "${MISSING[k6]:-}" ] && { skip "$key" "${MISSING[k6]}"; return; }
	mkdir -p "$dir"
	# Enough VUs that a VU is free for every arrival at loopback latencies:
	# one per 20 req/s pre-allocated (at least 100), up to twice that.
	local pre=$((rate / 20)); [ "$pre" -lt 100 ] && pre=100
	cat >"$dir/script.js" <<EOF
import http from 'k6/http';
export const options = {
  discardResponseBodies: true,
  scenarios: {
    fixed: {
      executor: 'constant-arrival-rate',
      rate: $rate, timeUnit: '1s', duration: '${dur}s',
      preAllocatedVUs: $pre, maxVUs: $((pre * 2)),
    },
  },
};
export default function () { http.get('$TARGET'); }
EOF
	log "k6: $rate req/s for ${dur}s (constant-arrival-rate, $pre VUs pre-allocated)"
	local rc=0 conns
	window_begin
	sampler_start
	K6_NO_USAGE_REPORT=true /usr/bin/time -f '%U %S %M' -o "$dir/time" timeout $((dur + 60)) \
		"$BIN/k6" run --quiet --no-usage-report --no-color --summary-export="$dir/summary.json" "$dir/script.js" \
		>"$dir/k6.out" 2>&1 || rc=$?
	window_end "$key"
	conns=$(sampler_stop)
	if [ ! -s "$dir/summary.json" ]; then
		skip "$key" "k6 failed (exit $rc): $(grep -m1 -i error "$dir/k6.out" | cut -c1-160)"
		return
	fi
	local reqs failed dropped completed note
	reqs=$(jq -r '.metrics.http_reqs.count // 0' "$dir/summary.json")
	failed=$(jq -r '.metrics.http_req_failed.passes // 0' "$dir/summary.json")
	dropped=$(jq -r '.metrics.dropped_iterations.count // 0' "$dir/summary.json")
	completed=$((reqs - failed))
	note="http_reqs $reqs, failed $failed, dropped_iterations $dropped; latency p(95) $(jq -r '.metrics.http_req_duration["p(95)"] * 100 | round / 100' "$dir/summary.json") ms from actual send; peak $conns conns"
	[ "$rc" = 0 ] || note="$note; exit $rc"
	record "$key" "$(time_cpu "$dir/time")" "$(time_rss "$dir/time")" "$completed" $((rate * dur)) "n/a" "$note"
}

wrk_run() { # closed-loop maximum
	local key=wrk:max dir=$WORK/wrk
	selected wrk || { skip "$key" "not run (BENCH_TOOLS)"; return; }
	[ -n "${MISSING[wrk]:-}" ] && { skip "$key" "${MISSING[wrk]}"; return; }
	mkdir -p "$dir"
	log "wrk: closed loop ${WRK_ARGS[*]}"
	local rc=0
	window_begin
	/usr/bin/time -f '%U %S %M' -o "$dir/time" timeout 40 wrk "${WRK_ARGS[@]}" "$TARGET" >"$dir/out" 2>&1 || rc=$?
	window_end "$key"
	local total bad sockerr rps
	total=$(awk '/requests in/ { print $1 }' "$dir/out")
	if [ -z "$total" ]; then skip "$key" "wrk failed (exit $rc): $(tail -n 1 "$dir/out")"; return; fi
	bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$dir/out"); bad=${bad:-0}
	sockerr=$(grep -m1 'Socket errors' "$dir/out" | sed 's/^ *//' || true)
	rps=$(awk '/Requests\/sec:/ { printf "%.0f", $2 }' "$dir/out")
	local note="closed loop ${WRK_ARGS[*]}: $rps req/s, $total requests"
	[ "$bad" = 0 ] || note="$note, non-2xx $bad"
	[ -z "$sockerr" ] || note="$note; $sockerr"
	record "$key" "$(time_cpu "$dir/time")" "$(time_rss "$dir/time")" $((total - bad)) 0 "n/a" "$note"
}

# wrk2_p99 FILE SECTION: the 99th percentile, in ms, of the --latency
# section whose title contains SECTION ("Recorded Latency": from the
# intended send time, i.e. corrected for coordinated omission;
# "Uncorrected Latency": from the actual send); empty when absent.
wrk2_p99() {
	awk -v want="$2" '
		/Latency Distribution \(HdrHistogram/ { on = index($0, want) > 0; next }
		on && $1 == "99.000%" {
			v = $2; n = v + 0
			if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0
			else if (v ~ /m$/) n *= 60000; else if (v ~ /h$/) n *= 3600000
			else if (v ~ /s$/) n *= 1000
			printf "%.3f", n; exit
		}' "$1"
}

# wrk2_run RATE DURATION_S: wrk2 -R RATE (open model at a constant rate,
# latency from each request's intended send time). Its schedule is its
# own: every connection paces rate / connections from the moment it
# connects (its first request at once), and a thread connects its
# connections 5 ms apart, so in D seconds it intends about
# rate x (D - 5 ms x (connections per thread - 1) / 2) + connections / 2,
# not rate x D; "% of intended" is of that, and the note gives both.
wrk2_run() {
	local rate=$1 dur=$2 key=wrk2:$1 dir=$WORK/wrk2-$1
	selected wrk2 || { skip "$key" "not run (BENCH_TOOLS)"; return; }
	[ -n "${MISSING[wrk2]:-}" ] && { skip "$key" "${MISSING[wrk2]}"; return; }
	mkdir -p "$dir"
	log "wrk2: $rate req/s for ${dur}s (${WRK2_ARGS[*]})"
	local rc=0 conns
	window_begin
	sampler_start
	/usr/bin/time -f '%U %S %M' -o "$dir/time" timeout $((dur + 40)) \
		"$BIN/wrk2" "${WRK2_ARGS[@]}" -d"${dur}s" -R"$rate" --latency -U "$TARGET" >"$dir/out" 2>&1 || rc=$?
	conns=$(sampler_stop)
	window_end "$key"
	local total bad sockerr rps
	total=$(awk '/requests in/ { print $1 }' "$dir/out")
	if [ -z "$total" ]; then skip "$key" "wrk2 failed (exit $rc): $(md_cell "$(tail -n 1 "$dir/out")")"; return; fi
	bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$dir/out"); bad=${bad:-0}
	sockerr=$(grep -m1 'Socket errors' "$dir/out" | sed 's/^ *//' || true)
	rps=$(awk '/Requests\/sec:/ { printf "%.0f", $2 }' "$dir/out")
	local per=$((WRK2_CONNS / WRK2_THREADS)) sched p99c p99u
	sched=$(awk -v r="$rate" -v d="$dur" -v n="$per" -v c="$WRK2_CONNS" 'BEGIN { printf "%.0f", r * (d - 0.005 * (n - 1) / 2) + c / 2 }')
	p99c=$(wrk2_p99 "$dir/out" "Recorded Latency")
	p99u=$(wrk2_p99 "$dir/out" "Uncorrected Latency")
	local note="${WRK2_ARGS[*]} -R$rate: $total requests, $rps req/s; its schedule $sched"
	note="$note ($(awk -v d=$((total - bad)) -v i=$((rate * dur)) 'BEGIN { printf "%.2f", 100 * d / i }')% of rate × duration completed)"
	note="$note; latency p99 ${p99c:-?} ms from intended send, ${p99u:-?} ms from actual send"
	[ "$bad" = 0 ] || note="$note, status ≥ 400: $bad"
	[ -z "$sockerr" ] || note="$note; $sockerr"
	note="$note; peak $conns conns"
	[ "$rc" = 0 ] || note="$note; exit $rc"
	W2_P99C[$key]=${p99c:-—}
	W2_P99U[$key]=${p99u:-—}
	record "$key" "$(time_cpu "$dir/time")" "$(time_rss "$dir/time")" $((total - bad)) "$sched" "n/a" "$note"
}
declare -A W2_P99C=() W2_P99U=()

busy_check
START=$(date +%s)
for r in "${FIXED_RATES[@]}"; do
	for v in "${SURGE_VARIANTS[@]}"; do surge_run "$v" "$r" "$FIXED_DUR"; sleep 1; done
	vegeta_run "$r" "$FIXED_DUR"; sleep 1
	k6_run "$r" "$FIXED_DUR"; sleep 1
	wrk2_run "$r" "$FIXED_DUR"; sleep 1
done
# Maximum and top rate. Surge (either client) and vegeta each leave
# ~12-14k sockets in TIME_WAIT at 50,000 req/s and k6 (at most 2 x 2,500
# VUs), wrk (64) and wrk2 (100) far fewer, so the runs that need few ports
# go between the first two, and each of the others waits for the one
# before it to drain.
if runs surge; then tw_drain 2000 60; fi
surge_run surge "$MAX_RATE" "$MAX_DUR"; sleep 1
if runs surge-1p; then tw_drain 2000 60; fi
surge_run surge-1p "$MAX_RATE" "$MAX_DUR"; sleep 1
if runs k6; then tw_drain 15000 60; fi
k6_run "$MAX_RATE" "$MAX_DUR"; sleep 1
wrk_run
wrk2_run "$MAX_RATE" "$MAX_DUR"; sleep 1
wrk2_run "$TOP_RATE" "$TOP_DUR"; sleep 1
if runs surge; then tw_drain 2000 60; fi
surge_run surge "$TOP_RATE" "$TOP_DUR"; sleep 1
if runs surge-nethttp; then tw_drain 2000 60; fi
surge_run surge-nethttp "$MAX_RATE" "$MAX_DUR"; sleep 1
if runs vegeta; then tw_drain 2000 60; fi
vegeta_run "$MAX_RATE" "$MAX_DUR"
ELAPSED=$(($(date +%s) - START))

# ----------------------------------------------------------------- report --

version_of() {
	case $1 in
	nginx) nginx -v 2>&1 | sed 's/^nginx version: //' ;;
	wrk) if have wrk; then { wrk -v 2>&1 || true; } | head -n 1 | awk '{ print $2 }'; else echo "not installed"; fi ;;
	vegeta | k6) [ -x "$BIN/$1" ] && go version -m "$BIN/$1" | awk '$1 == "mod" { print $3; exit }' ;;
	wrk2)
		if [ -n "${MISSING[wrk2]:-}" ] || ! selected wrk2; then
			echo "not measured"
		elif [ "$WRK2_BUILD_S" = cached ]; then
			echo "${WRK2_REV:-?} (built from the vendored source by an earlier run)"
		else
			echo "${WRK2_REV:-?} (built from the vendored source in $WRK2_BUILD_S s)"
		fi
		;;
	esac
}
surge_rev=$(surge_revision)

row() { # row LABEL KEY
	printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "${CPU_US[$2]}" "${RSS_MB[$2]}" "${PCT[$2]}" "${LAG[$2]}" "${NOTE[$2]}"
}
ratio() { # ratio RATE PEER -> Surge CPU-µs/req ÷ peer CPU-µs/req
	local s=${CPU_US[surge:$1]:-—} p=${CPU_US[$2:$1]:-—}
	if [[ $s =~ ^[0-9.]+$ && $p =~ ^[0-9.]+$ ]] && awk -v p="$p" 'BEGIN { exit !(p > 0) }'; then
		awk -v s="$s" -v p="$p" 'BEGIN { printf "%.2f", s / p }'
	else
		echo "—"
	fi
}
isnum() { [[ ${1:-} =~ ^[0-9]+(\.[0-9]+)?$ ]]; }
cmp_ratio() { # cmp_ratio KEY_A KEY_B -> CPU-µs/req of A ÷ that of B
	local a=${CPU_US[$1]:-—} b=${CPU_US[$2]:-—}
	if isnum "$a" && isnum "$b" && awk -v b="$b" 'BEGIN { exit !(b > 0) }'; then
		awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }'
	else
		echo "—"
	fi
}
extra_cpu() { # extra_cpu KEY_A KEY_B -> "+x µs (+y%)": A's CPU-µs/req over B's
	local a=${CPU_US[$1]:-—} b=${CPU_US[$2]:-—}
	if isnum "$a" && isnum "$b" && awk -v b="$b" 'BEGIN { exit !(b > 0) }'; then
		awk -v a="$a" -v b="$b" 'BEGIN { printf "%+.1f µs (%+.0f%%)", a - b, 100 * (a - b) / b }'
	else
		echo "—"
	fi
}
max_facts() { # max_facts VARIANT: issued vs intended and send lag at the maximum
	local key=$1:$MAX_RATE
	if [ -z "${S_INTENDED[$key]:-}" ]; then
		echo "- ${LABEL[$1]} at $MAX_RATE req/s: not measured (${NOTE[$key]:-not run})."
		return
	fi
	local same=no
	[ "${S_ISSUED[$key]}" = "${S_INTENDED[$key]}" ] && same=yes
	echo "- ${LABEL[$1]} at $MAX_RATE req/s: issued = intended: **$same** — issued ${S_ISSUED[$key]} of" \
		"${S_INTENDED[$key]} intended, dropped ${S_DROPPED[$key]}; send lag p99 ${LAG[$key]} ms."
}
ALL_RATES=("${FIXED_RATES[@]}" "$MAX_RATE" "$TOP_RATE")
# cpu_window KEY: the generator's, nginx's and the whole machine's CPU over
# KEY's run, as one sentence.
cpu_window() {
	local k=$1 rate=${1#*:} dur=$TOP_DUR
	if ! isnum "${CPU_S[$k]:-}" || ! isnum "${NGINX_S[$k]:-}"; then
		echo "not measured."
		return
	fi
	awk -v a="${CPU_S[$k]}" -v n="${NGINX_S[$k]}" -v b="${BUSY_S[$k]}" -v w="${WALL_S[$k]}" \
		-v c="$(nproc)" -v d="$dur" -v done="${COMPLETED[$k]:-0}" -v rate="$rate" 'BEGIN {
		printf "over the run'"'"'s %.1f s window (the %d s of load plus start-up and drain), the generator used %.2f CPU-s", w, d, a
		printf " (≈ %.2f cores over the %d s), nginx %.2f CPU-s (≈ %.2f cores; %.1f µs per completed request)", a / d, d, n, n / d, (done > 0 ? n * 1e6 / done : 0)
		if (b > c * w) b = c * w # ticks and the wall clock are read a moment apart
		o = b - a - n; if (o < 0) o = 0
		printf ", and the whole machine %.2f of the %.1f CPU-s its %d cores had (%.0f%% busy; %.2f CPU-s by everything else:", b, c * w, c, 100 * b / (c * w), o
		printf " the coordinator, this script, other users)."
	}'
}
# top_limit KEY NAME: at the CPU per completed request measured in KEY's run,
# how many cores the generator and nginx each need for the top rate, and
# which of the two the machine's cores cannot afford.
top_limit() {
	awk -v a="${CPU_S[$1]}" -v n="${NGINX_S[$1]}" -v done="${COMPLETED[$1]:-0}" -v r="$TOP_RATE" -v c="$(nproc)" -v g="$2" 'BEGIN {
		if (done <= 0) { print "No request completed."; exit }
		ga = a / done * r; gn = n / done * r
		printf "At the CPU per request measured here, %d req/s needs %.2f cores for %s and %.2f for nginx, %.2f together, on %d cores: ", r, ga, g, gn, ga + gn, c
		if (gn >= c) printf "nginx alone cannot serve it here, so the target is the limit."
		else if (ga + gn <= c) printf "both fit, so the CPU of other processes took what was missing."
		else printf "%s is the larger share; with nginx given its %.2f cores, %s has %.2f left, %.0f%% of what it needs.", (ga >= gn ? g : "nginx"), gn, g, c - gn, 100 * (c - gn) / ga
	}'
}
top_facts() {
	local k=surge:$TOP_RATE
	if [ -n "${S_INTENDED[$k]:-}" ]; then
		local lag=${LAG[$k]} pct=${PCT[$k]} lag_ok=no issued_ok=no done_ok=no kept=no
		isnum "$lag" && awk -v l="$lag" 'BEGIN { exit !(l <= 2) }' && lag_ok=yes
		[ "${S_ISSUED[$k]}" = "${S_INTENDED[$k]}" ] && issued_ok=yes
		isnum "$pct" && awk -v p="$pct" 'BEGIN { exit !(p >= 99.9) }' && done_ok=yes
		[ "$lag_ok$issued_ok$done_ok" = yesyesyes ] && kept=yes
		echo "- Surge kept the schedule at $TOP_RATE req/s: **$kept** — send-lag p99 $lag ms (≤ 2 ms: $lag_ok);" \
			"issued ${S_ISSUED[$k]} of ${S_INTENDED[$k]} intended, dropped ${S_DROPPED[$k]} (issued = intended: $issued_ok);" \
			"$pct% completed (≥ 99.9%: $done_ok)."
		echo "- Surge's CPU: $(cpu_window "$k")"
		# Saturated: the window's busy CPU-s reach 90% of what the cores
		# give in the load's own seconds (the window's other seconds, start-up
		# and drain, are nearly idle for the generator and nginx).
		if [ "$kept" = no ] && isnum "${BUSY_S[$k]:-}" && awk -v b="${BUSY_S[$k]}" -v d="$TOP_DUR" -v c="$(nproc)" 'BEGIN { exit !(b >= 0.9 * c * d) }'; then
			echo "- Who is the limit: the machine's cores were saturated during Surge's run. $(top_limit "$k" "the agent")"
		fi
	else
		echo "- Surge at $TOP_RATE req/s: not measured (${NOTE[$k]:-not run})."
	fi
	k=wrk2:$TOP_RATE
	if isnum "${CPU_S[$k]:-}"; then
		echo "- wrk2 at $TOP_RATE req/s: ${PCT[$k]}% of its schedule completed; latency p99 ${W2_P99C[$k]} ms from the intended send" \
			"(${W2_P99U[$k]} ms from the actual send). wrk2's CPU: $(cpu_window "$k") $(top_limit "$k" wrk2)"
	else
		echo "- wrk2 at $TOP_RATE req/s: not measured (${NOTE[$k]:-not run})."
	fi
}
HEADER='| tool | CPU-µs / completed request | peak RSS (MB) | % of intended completed | send lag p99 (ms) | notes |
|---|---|---|---|---|---|'

{
	echo "# Surge against its peers (\`make bench-peers\`)"
	echo
	echo "Written by \`bench/peers.sh\`; do not edit by hand — run \`make bench-peers\` again."
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "- machine: $(machine_line)"
	echo "- Surge $surge_rev; nginx $(version_of nginx), wrk $(version_of wrk), wrk2 $(version_of wrk2), vegeta $(version_of vegeta), k6 $(version_of k6)"
	echo "- measured in ${ELAPSED} s"
	if [ -n "${BENCH_NOTE:-}" ]; then
		echo
		echo "**Note:** $BENCH_NOTE"
	fi
	echo
	echo "**The generator under test, nginx (\`worker_processes auto\`) and this script share the same $(nproc) cores**,"
	echo "so every tool competes with the target for CPU. Absolute numbers move with the machine;"
	echo "the ratios are the result."
	echo
	echo "Method: one loopback nginx (\`return 200 \"ok\"\`, access log off, keep-alive) on 127.0.0.1:$PORT."
	echo "CPU is the generator process's user + system time for the whole run (start-up included), from"
	echo "\`/proc/PID/stat\` for Surge's agent and \`/usr/bin/time\` for the peers; peak RSS is VmHWM / maxrss."
	echo "Surge runs as one external agent process (\`agent --join\`) driven by \`coordinator run --expect 1\`;"
	echo "the coordinator's own CPU is not counted. \"Completed\" is a 2xx response; \"intended\" is rate × duration."
	echo "Surge is measured in four variants, each its own run of the same binaries that differs only in the"
	echo "scenario's \`client:\` block or the agent's flags: **Surge** (no block: Surge's own HTTP/1.1 client and default timing, which"
	echo "sleeps until each arrival is due; the agent uses all cores), **Surge, agent --procs 1** (the same on one Go"
	echo "processor, as the README recommends when the agent shares the machine with its target), **Surge, net/http client** (\`client: {implementation: net/http}\`:"
	echo "Go's net/http client instead of Surge's) and **Surge, precise timing** (\`client: {timing: precise}\`:"
	echo "sleep until shortly before each arrival, then spin to it, which buys a smaller send lag with CPU)."
	echo "All four run at the fixed rates; all but precise timing also at the maximum. The headline"
	echo "ratios and the comparison with wrk use the default variant."
	echo "Send lag (actual − intended send time) is measured by Surge only; vegeta and k6 time from the"
	echo "actual send and do not report how late they sent, so theirs is n/a. wrk is closed-loop, so it"
	echo "appears only at the maximum. **wrk2** (giltene/wrk2, the open-model C reference; no distribution"
	echo "packages it, so the script builds it from the vendored source in \`../shared/vendor/wrk2.tar.gz\`)"
	echo "runs \`wrk2 ${WRK2_ARGS[*]} -R<rate> --latency -U\` at every rate Surge does, for the same duration:"
	echo "one event-loop thread per core, and ${WRK2_CONNS} keep-alive connections, twice the $((TOP_RATE / 2000)) a"
	echo "0.5 ms round trip needs in flight at $TOP_RATE req/s (a wrk2 connection carries one request at"
	echo "a time). It does not report send lag either; its notes give its latency p99 from the intended"
	echo "send time (corrected for coordinated omission) and from the actual send. Its \"intended\" is its"
	echo "own schedule: each connection paces from the moment it connects, 5 ms apart within a thread,"
	echo "so in D s it intends about rate × (D − $(awk -v n=$((WRK2_CONNS / WRK2_THREADS)) 'BEGIN { printf "%.4g", 0.005 * (n - 1) / 2 }') s) + $((WRK2_CONNS / 2)) requests; the note also gives the share of rate × D."
	echo "Each row's note gives the CPU seconds nginx (master and workers) used over the same window, and"
	echo "those of everything else on the machine (the coordinator, this script, other users' processes:"
	echo "all busy CPU in \`/proc/stat\` minus the generator's and nginx's), the sign of a noisy row. \"peak conns\" is the most"
	echo "connections to nginx seen open at once (sampled every 0.5 s). At the maximum, an open-model tool"
	echo "that falls behind opens thousands of connections, which then sit 60 s in TIME_WAIT; the script"
	echo "waits for them to expire before the next such tool, so none pays for the one before it."
	echo "Each cell is a single run on a shared machine: repeated runs differ by up to about 30% (vegeta most),"
	echo "so a ratio between about 0.75 and 1.3 is a tie; at the maximum every open-model tool is overloaded and its numbers swing far more."
	echo
	echo "## Headline: Surge's CPU per completed request ÷ the peer's (below 1 = Surge is cheaper)"
	echo
	echo "| rate | ÷ vegeta | ÷ k6 |"
	echo "|---|---|---|"
	for r in "${FIXED_RATES[@]}" "$MAX_RATE"; do
		echo "| $r req/s | $(ratio "$r" vegeta) | $(ratio "$r" k6) |"
	done
	if [[ ${CPU_US[surge:$MAX_RATE]:-—} =~ ^[0-9.]+$ && ${CPU_US[wrk:max]:-—} =~ ^[0-9.]+$ ]]; then
		echo
		echo "Against wrk (C, closed loop, at its maximum): Surge at $MAX_RATE req/s uses" \
			"$(awk -v s="${CPU_US[surge:$MAX_RATE]}" -v w="${CPU_US[wrk:max]}" 'BEGIN { printf "%.2f", s / w }')× wrk's CPU per request."
	fi
	echo
	echo "## Surge ÷ wrk2: the agent's CPU per completed request ÷ wrk2's (target ≤ 1.2)"
	echo
	echo "Each cell is the ratio, then that Surge variant's CPU-µs per completed request; — where one of"
	echo "the two did not run at that rate. Below 1 = Surge is cheaper than wrk2."
	echo
	echo "| rate | wrk2 (CPU-µs / req) | $(for v in "${SURGE_VARIANTS[@]}"; do printf '%s | ' "${LABEL[$v]}"; done | sed 's/ | $//') |"
	echo "|---|---|$(for _ in "${SURGE_VARIANTS[@]}"; do printf -- '---|'; done)"
	for r in "${ALL_RATES[@]}"; do
		printf '| %s req/s | %s |' "$r" "${CPU_US[wrk2:$r]:-—}"
		for v in "${SURGE_VARIANTS[@]}"; do
			if isnum "${CPU_US[$v:$r]:-}" && isnum "${CPU_US[wrk2:$r]:-}"; then
				printf ' %s (%s) |' "$(cmp_ratio "$v:$r" "wrk2:$r")" "${CPU_US[$v:$r]}"
			else
				printf ' — |'
			fi
		done
		echo
	done
	met="" unmet=""
	for r in "${ALL_RATES[@]}"; do
		x=$(cmp_ratio "surge:$r" "wrk2:$r")
		isnum "$x" || continue
		if awk -v x="$x" 'BEGIN { exit !(x <= 1.2) }'; then met="$met, $r"; else unmet="$unmet, $r"; fi
	done
	met=${met#, } unmet=${unmet#, }
	if [ -n "$met$unmet" ]; then
		echo
		echo "Default Surge within 1.2× of wrk2 at: ${met:-no rate}${met:+ req/s}; above it at: ${unmet:-no rate}${unmet:+ req/s}."
	fi
	echo
	echo "## Surge's own HTTP/1.1 client vs net/http"
	echo
	echo "CPU per completed request of the two clients, same agent, same pacing (below 1 = Surge's client is cheaper)."
	echo
	echo "| rate | Surge's client (CPU-µs / req) | net/http (CPU-µs / req) | Surge ÷ net/http | % completed (Surge / net/http) |"
	echo "|---|---|---|---|---|"
	for r in "${FIXED_RATES[@]}" "$MAX_RATE"; do
		echo "| $r req/s | ${CPU_US[surge:$r]:-—} | ${CPU_US[surge-nethttp:$r]:-—} | $(cmp_ratio "surge:$r" "surge-nethttp:$r") | ${PCT[surge:$r]:-—} / ${PCT[surge-nethttp:$r]:-—} |"
	done
	echo
	echo "## Precise timing: send-lag p99 and the extra CPU per request vs default timing"
	echo
	echo "| rate | send lag p99, default (ms) | send lag p99, precise (ms) | CPU-µs / req, default | CPU-µs / req, precise | extra CPU per request |"
	echo "|---|---|---|---|---|---|"
	for r in "${FIXED_RATES[@]}"; do
		echo "| $r req/s | ${LAG[surge:$r]:-—} | ${LAG[surge-precise:$r]:-—} | ${CPU_US[surge:$r]:-—} | ${CPU_US[surge-precise:$r]:-—} | $(extra_cpu "surge-precise:$r" "surge:$r") |"
	done
	echo
	echo "With Surge's own client, a precise sender loop sleeps its locked thread in epoll_wait until 200 µs before"
	echo "each arrival, then polls its sockets without blocking up to the instant: its thread is busy whenever"
	echo "arrivals are under 200 µs apart (≥ 5,000 req/s per loop), so its cost is up to a core, not per request."
	for r in "${FIXED_RATES[@]}"; do
		echo
		echo "## $r req/s for ${FIXED_DUR} s (fixed rate, open model)"
		echo
		echo "$HEADER"
		for v in "${SURGE_VARIANTS[@]}"; do row "${LABEL[$v]}" "$v:$r"; done
		row vegeta "vegeta:$r"
		row k6 "k6:$r"
		row wrk2 "wrk2:$r"
	done
	echo
	echo "## Maximum: $MAX_RATE req/s for ${MAX_DUR} s, and wrk's closed-loop maximum"
	echo
	echo "$HEADER"
	row Surge "surge:$MAX_RATE"
	row "${LABEL[surge-1p]}" "surge-1p:$MAX_RATE"
	row "${LABEL[surge-nethttp]}" "surge-nethttp:$MAX_RATE"
	row vegeta "vegeta:$MAX_RATE"
	row k6 "k6:$MAX_RATE"
	row wrk2 "wrk2:$MAX_RATE"
	row wrk "wrk:max"
	echo
	echo "Did Surge issue every intended request at $MAX_RATE req/s? (An arrival it cannot send on time is"
	echo "dropped and counted, never sent late; send lag is how late the issued ones left.)"
	echo
	max_facts surge
	max_facts surge-1p
	max_facts surge-nethttp
	echo
	echo "## Top rate: $TOP_RATE req/s for ${TOP_DUR} s (one agent, default client; and wrk2)"
	echo
	echo "The goal: one agent keeps the schedule at ≥ $TOP_RATE req/s against loopback nginx (send-lag p99"
	echo "≤ 2 ms, issued = intended, ≥ 99.9% completed) — or, where the target itself is the limit, the"
	echo "target's CPU and the agent's headroom show it."
	echo
	echo "$HEADER"
	row Surge "surge:$TOP_RATE"
	row wrk2 "wrk2:$TOP_RATE"
	echo
	top_facts
	if [ "${#MISSING[@]}" -gt 0 ]; then
		echo
		echo "## Not measured"
		echo
		for t in "${!MISSING[@]}"; do echo "- $t: ${MISSING[$t]}"; done
	fi
} >"$WORK/RESULTS.md"

cat "$WORK/RESULTS.md"
if [ -n "${BENCH_TOOLS:-}" ] && [ -z "${BENCH_OUT:-}" ]; then
	log "BENCH_TOOLS is set: a partial run; ${OUT#"$ROOT"/} left as it was (set BENCH_OUT to write one)"
else
	cp "$WORK/RESULTS.md" "$OUT"
	log "written to ${OUT#"$ROOT"/}"
fi
