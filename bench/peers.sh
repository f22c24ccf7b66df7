#!/usr/bin/env bash
# bench/peers.sh — `make bench-peers`: Surge's agent against established load
# generators, in one run, on one machine, against one loopback nginx.
#
# It installs what it needs (nginx, wrk, GNU time and jq from the distribution;
# vegeta and k6 with `go install` into bench/.bin), starts nginx on
# 127.0.0.1:18080 with a config of its own, builds Surge, then fires at fixed
# rates (2,000 and 10,000 req/s for 10 s, and 50,000 req/s for 5 s) with Surge
# (one external agent process), vegeta and k6, plus wrk's closed-loop maximum.
# For every run it records the generator process's CPU time and peak RSS, the
# share of intended requests that completed, and send lag where the tool
# measures it. The table is printed and written to bench/RESULTS.md.
#
# Loopback only; every step is bounded in time; running it again reuses what
# is installed and overwrites RESULTS.md. The first run also compiles k6
# (a few minutes); later runs take about 2.5 minutes.
#
# Environment: BENCH_PORT (18080), BENCH_GOSSIP (127.0.0.1:17946),
# BENCH_OUT (bench/RESULTS.md), BENCH_TOOLS (which to run; default
# "surge vegeta k6 wrk"; a partial run writes no RESULTS.md unless BENCH_OUT
# is set), BENCH_KEEP=1 keeps the work directory (every tool's
# raw output and Surge's report.json) and prints where it is.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
BIN=$BENCH/.bin
PORT=${BENCH_PORT:-18080}
GOSSIP=${BENCH_GOSSIP:-127.0.0.1:17946}
OUT=${BENCH_OUT:-$BENCH/RESULTS.md}
TARGET=http://127.0.0.1:$PORT/
FIXED_RATES=(2000 10000)
FIXED_DUR=10
MAX_RATE=50000
MAX_DUR=5
WRK_ARGS=(-t2 -c64 -d10s)
TOOLS=" ${BENCH_TOOLS:-surge vegeta k6 wrk} "
CLK_TCK=$(getconf CLK_TCK)

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
selected() { [[ $TOOLS == *" $1 "* ]]; }
runs() { selected "$1" && [ -z "${MISSING[$1]:-}" ]; } # selected and installed

WORK=$(mktemp -d /tmp/surge-bench.XXXXXX)
NGINX_PID=""
SAMPLER_PID=""
AGENT_PID=""
COORD_PID=""

cleanup() {
	local rc=$?
	if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then kill -KILL "$AGENT_PID" 2>/dev/null || true; fi
	if [ -n "$COORD_PID" ] && kill -0 "$COORD_PID" 2>/dev/null; then kill -KILL "$COORD_PID" 2>/dev/null || true; fi
	if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
		kill -QUIT "$NGINX_PID" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$NGINX_PID" 2>/dev/null || true
	fi
	if [ -n "${SAMPLER_PID:-}" ]; then kill "$SAMPLER_PID" 2>/dev/null || true; fi
	if [ "${BENCH_KEEP:-0}" = 1 ]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n 65536 2>/dev/null || true
export PATH=$PATH:/usr/sbin:/sbin

# ---------------------------------------------------------------- installs --

declare -A MISSING=() # tool -> why it is not measured

APT_UPDATED=0
apt_install() { # apt_install PKG... ; returns non-zero when it cannot
	local sudo=""
	if [ "$(id -u)" != 0 ]; then
		have sudo || { log "not root and no sudo: cannot apt-get install $*"; return 1; }
		sudo="sudo -n"
	fi
	if [ "$APT_UPDATED" = 0 ]; then
		log "apt-get update"
		timeout 300 $sudo apt-get update -qq >"$WORK/apt-update.log" 2>&1 || { log "apt-get update failed: $(tail -n 2 "$WORK/apt-update.log")"; return 1; }
		APT_UPDATED=1
	fi
	log "apt-get install $*"
	# Keep the package's own nginx service from starting on port 80: a
	# policy-rc.d that says "no" for the duration of the install (only if the
	# machine has none).
	local policy=/usr/sbin/policy-rc.d made=0 rc=0
	if [ -z "$sudo" ] && [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made=1
	fi
	DEBIAN_FRONTEND=noninteractive timeout 600 $sudo apt-get install -y -qq --no-install-recommends "$@" \
		>"$WORK/apt-install.log" 2>&1 || rc=$?
	[ "$made" = 1 ] && rm -f "$policy"
	[ "$rc" = 0 ] || log "apt-get install $* failed: $(tail -n 2 "$WORK/apt-install.log")"
	return "$rc"
}

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
	if ! GOBIN=$BIN GOFLAGS= timeout 900 go install "$mod" >"$WORK/install-$name.log" 2>&1; then
		MISSING[$name]="not installed: go install $mod failed ($(tail -n 1 "$WORK/install-$name.log" | cut -c1-120))"
		log "${MISSING[$name]}"
	fi
}
if selected vegeta; then go_install vegeta github.com/tsenart/vegeta/v12@latest; fi
if selected k6; then go_install k6 go.k6.io/k6@latest; fi

log "building Surge (go build -o bench/.bin/ ./cmd/...)"
if ! (cd "$ROOT" && go build -o "$BIN/" ./cmd/...) >"$WORK/build.log" 2>&1; then
	cat "$WORK/build.log" >&2
	die "Surge does not build"
fi

# ------------------------------------------------------------------- nginx --

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_open "$PORT" && die "127.0.0.1:$PORT is already in use (set BENCH_PORT)"

mkdir -p "$WORK/nginx/tmp"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes auto;
worker_rlimit_nofile 65536;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 16384; }
http {
    access_log off;
    default_type text/plain;
    keepalive_requests 10000000;
    keepalive_timeout 75s;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    server {
        listen 127.0.0.1:$PORT;
        location / { return 200 "ok"; }
    }
}
EOF
log "starting nginx on 127.0.0.1:$PORT"
nginx -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" \
	|| die "nginx did not start: $(tail -n 3 "$WORK/nginx/error.log" 2>/dev/null)"
for _ in $(seq 50); do [ -s "$WORK/nginx/nginx.pid" ] && port_open "$PORT" && break; sleep 0.1; done
NGINX_PID=$(cat "$WORK/nginx/nginx.pid")
port_open "$PORT" || die "nginx is not answering on 127.0.0.1:$PORT"

# ------------------------------------------------------------ measurements --

# Results, keyed "tool:rate".
declare -A CPU_US=() RSS_MB=() PCT=() LAG=() NOTE=()

fmt() { awk -v x="$1" -v p="${2:-1}" 'BEGIN { printf "%.*f", p, x }'; }
# record KEY CPU_SECONDS RSS_KB COMPLETED INTENDED(0 = closed loop) LAG NOTE
record() {
	local key=$1 cpu=$2 rss_kb=$3 done=$4 intended=$5 lag=$6 note=$7
	if [ "$done" -gt 0 ]; then CPU_US[$key]=$(awk -v c="$cpu" -v n="$done" 'BEGIN { printf "%.1f", c * 1e6 / n }'); else CPU_US[$key]="—"; fi
	RSS_MB[$key]=$(awk -v k="$rss_kb" 'BEGIN { printf "%.0f", k / 1024 }')
	if [ "$intended" -gt 0 ]; then PCT[$key]=$(awk -v d="$done" -v i="$intended" 'BEGIN { printf "%.2f", 100 * d / i }'); else PCT[$key]="n/a (closed loop)"; fi
	LAG[$key]=$lag
	NOTE[$key]="cpu $(fmt "$cpu" 2) s; $note"
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

surge_run() { # surge_run RATE DURATION_S
	local rate=$1 dur=$2 key=surge:$1 dir=$WORK/surge-$1
	selected surge || { skip "$key" "not run (BENCH_TOOLS)"; return; }
	mkdir -p "$dir"
	cat >"$dir/scenario.yaml" <<EOF
name: bench-peers-$rate
stages:
  - url: http://127.0.0.1:$PORT
requests:
  - path: /
load:
  constant: {rate: $rate, duration: ${dur}s}
EOF
	log "surge: $rate req/s for ${dur}s (1 external agent)"
	sampler_start
	timeout $((dur + 60)) "$BIN/coordinator" run "$dir/scenario.yaml" --expect 1 --wait 20s \
		--gossip-listen "$GOSSIP" -q --out "$dir" >"$dir/summary.txt" 2>"$dir/coordinator.err" &
	COORD_PID=$!
	sleep 0.2
	"$BIN/agent" --join "$GOSSIP" >"$dir/agent.log" 2>&1 &
	AGENT_PID=$!
	local crc=0
	wait "$COORD_PID" || crc=$?
	COORD_PID=""
	local conns ticks="" hwm=""
	conns=$(sampler_stop)
	if kill -0 "$AGENT_PID" 2>/dev/null; then
		# Whole process: all threads, from exec to the end of the run.
		ticks=$(sed 's/^.*) //' "/proc/$AGENT_PID/stat" | awk '{ print $12 + $13 }')
		hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$AGENT_PID/status")
		kill -INT "$AGENT_PID" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$AGENT_PID" 2>/dev/null; then
			log "surge: agent did not exit within 10 s of SIGINT; killing it"
			kill -KILL "$AGENT_PID" 2>/dev/null || true
		fi
	fi
	wait "$AGENT_PID" 2>/dev/null || true
	AGENT_PID=""
	if [ -z "$ticks" ]; then
		skip "$key" "agent exited before the coordinator finished (coordinator exit $crc): $(tail -n 1 "$dir/agent.log")"
		return
	fi
	if [ ! -s "$dir/report.json" ]; then
		skip "$key" "no report.json (coordinator exit $crc): $(tail -n 1 "$dir/coordinator.err")"
		return
	fi
	local s done intended lag note
	s=$(jq -c '.stages[0]' "$dir/report.json")
	done=$(jq -r '.succeeded' <<<"$s")
	intended=$(jq -r '.intended' <<<"$s")
	lag=$(jq -r '.send_lag_ms.p99 // empty | . * 1000 | round / 1000' <<<"$s")
	note=$(jq -r '"achieved \(.achieved_rps | round)/s; issued \(.issued), dropped \(.dropped)"
		+ (if (.dropped_by // {}) | length > 0 then " (\(.dropped_by | to_entries | map("\(.key) \(.value)") | join(", ")))" else "" end)
		+ ", failed \(.failed), lost \(.lost)"
		+ (if (.errors // {}) | length > 0 then "; errors \(.errors | tojson)" else "" end)
		+ (if .generator_limited then "; generator_limited" else "" end)
		+ "; response p99 \(.response_time_ms.p99 * 100 | round / 100) ms"' <<<"$s")
	note="$note; peak $conns conns"
	[ "$crc" = 0 ] || note="$note; coordinator exit $crc"
	record "$key" "$(awk -v t="$ticks" -v h="$CLK_TCK" 'BEGIN { printf "%.2f", t / h }')" "$hwm" \
		"$done" "$intended" "${lag:-—}" "$note"
}

vegeta_run() { # vegeta_run RATE DURATION_S
	local rate=$1 dur=$2 key=vegeta:$1 dir=$WORK/vegeta-$1
	selected vegeta || { skip "$key" "not run (BENCH_TOOLS)"; return; }
	[ -n "${MISSING[vegeta]:-}" ] && { skip "$key" "${MISSING[vegeta]}"; return; }
	mkdir -p "$dir"
	echo "GET $TARGET" >"$dir/targets.txt"
	log "vegeta: $rate req/s for ${dur}s"
	local rc=0 conns
	sampler_start
	/usr/bin/time -f '%U %S %M' -o "$dir/time" timeout $((dur + 40)) \
		"$BIN/vegeta" attack -targets="$dir/targets.txt" -rate="$rate/s" -duration="${dur}s" \
		>"$dir/results.bin" 2>"$dir/attack.err" || rc=$?
	conns=$(sampler_stop)
	if ! "$BIN/vegeta" report -type=json <"$dir/results.bin" >"$dir/report.json" 2>"$dir/report.err"; then
		skip "$key" "vegeta failed (attack exit $rc): $(tail -n 1 "$dir/attack.err" "$dir/report.err" | tr '\n' ' ')"
		return
	fi
	local done note
	done=$(jq -r '.status_codes["200"] // 0' "$dir/report.json")
	note=$(jq -r '"sent \(.requests) at \(.rate | round)/s; latency p99 \(.latencies["99th"] / 1e6 * 100 | round / 100) ms from actual send"
		+ (if (.errors // []) | length > 0 then "; errors \(.errors[:2] | join(", "))" else "" end)' "$dir/report.json")
	note="$note; peak $conns conns"
	[ "$rc" = 0 ] || note="$note; exit $rc"
	record "$key" "$(time_cpu "$dir/time")" "$(time_rss "$dir/time")" "$done" $((rate * dur)) "n/a" "$note"
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
	sampler_start
	K6_NO_USAGE_REPORT=true /usr/bin/time -f '%U %S %M' -o "$dir/time" timeout $((dur + 60)) \
		"$BIN/k6" run --quiet --no-usage-report --no-color --summary-export="$dir/summary.json" "$dir/script.js" \
		>"$dir/k6.out" 2>&1 || rc=$?
	conns=$(sampler_stop)
	if [ ! -s "$dir/summary.json" ]; then
		skip "$key" "k6 failed (exit $rc): $(grep -m1 -i error "$dir/k6.out" | cut -c1-160)"
		return
	fi
	local reqs failed dropped done note
	reqs=$(jq -r '.metrics.http_reqs.count // 0' "$dir/summary.json")
	failed=$(jq -r '.metrics.http_req_failed.passes // 0' "$dir/summary.json")
	dropped=$(jq -r '.metrics.dropped_iterations.count // 0' "$dir/summary.json")
	done=$((reqs - failed))
	note="http_reqs $reqs, failed $failed, dropped_iterations $dropped; latency p(95) $(jq -r '.metrics.http_req_duration["p(95)"] * 100 | round / 100' "$dir/summary.json") ms from actual send; peak $conns conns"
	[ "$rc" = 0 ] || note="$note; exit $rc"
	record "$key" "$(time_cpu "$dir/time")" "$(time_rss "$dir/time")" "$done" $((rate * dur)) "n/a" "$note"
}

wrk_run() { # closed-loop maximum
	local key=wrk:max dir=$WORK/wrk
	selected wrk || { skip "$key" "not run (BENCH_TOOLS)"; return; }
	[ -n "${MISSING[wrk]:-}" ] && { skip "$key" "${MISSING[wrk]}"; return; }
	mkdir -p "$dir"
	log "wrk: closed loop ${WRK_ARGS[*]}"
	local rc=0
	/usr/bin/time -f '%U %S %M' -o "$dir/time" timeout 40 wrk "${WRK_ARGS[@]}" "$TARGET" >"$dir/out" 2>&1 || rc=$?
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

START=$(date +%s)
for r in "${FIXED_RATES[@]}"; do
	surge_run "$r" "$FIXED_DUR"; sleep 1
	vegeta_run "$r" "$FIXED_DUR"; sleep 1
	k6_run "$r" "$FIXED_DUR"; sleep 1
done
# Maximum. Surge and vegeta each leave ~12-14k sockets in TIME_WAIT here and
# k6 (at most 2 x 2,500 VUs) and wrk (64) far fewer, so the runs that need few
# ports go between the two and the wait before vegeta is short.
if runs surge; then tw_drain 2000 60; fi
surge_run "$MAX_RATE" "$MAX_DUR"; sleep 1
if runs k6; then tw_drain 15000 60; fi
k6_run "$MAX_RATE" "$MAX_DUR"; sleep 1
wrk_run
if runs vegeta; then tw_drain 2000 60; fi
vegeta_run "$MAX_RATE" "$MAX_DUR"
ELAPSED=$(($(date +%s) - START))

# ----------------------------------------------------------------- report --

version_of() {
	case $1 in
	nginx) nginx -v 2>&1 | sed 's/^nginx version: //' ;;
	wrk) { wrk -v 2>&1 || true; } | head -n 1 | awk '{ print $2 }' ;;
	vegeta | k6) [ -x "$BIN/$1" ] && go version -m "$BIN/$1" | awk '$1 == "mod" { print $3; exit }' ;;
	esac
}
surge_rev=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(cd "$ROOT" && git status --porcelain -- cmd internal scenario reporters proto go.mod go.sum 2>/dev/null)" ]; then
	surge_rev="$surge_rev + uncommitted changes"
fi

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
HEADER='| tool | CPU-µs / completed request | peak RSS (MB) | % of intended completed | send lag p99 (ms) | notes |
|---|---|---|---|---|---|'

{
	echo "# Surge against its peers (\`make bench-peers\`)"
	echo
	echo "Written by \`bench/peers.sh\`; do not edit by hand — run \`make bench-peers\` again."
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "- machine: $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), Linux $(uname -r), $(go version | awk '{ print $3 }')"
	echo "- Surge $surge_rev; nginx $(version_of nginx), wrk $(version_of wrk), vegeta $(version_of vegeta), k6 $(version_of k6)"
	echo "- measured in ${ELAPSED} s"
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
	echo "Send lag (actual − intended send time) is measured by Surge only; vegeta and k6 time from the"
	echo "actual send and do not report how late they sent, so theirs is n/a. wrk2 is not packaged by"
	echo "Debian and wrk is closed-loop, so wrk appears only at the maximum. \"peak conns\" is the most"
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
	for r in "${FIXED_RATES[@]}"; do
		echo
		echo "## $r req/s for ${FIXED_DUR} s (fixed rate, open model)"
		echo
		echo "$HEADER"
		row Surge "surge:$r"
		row vegeta "vegeta:$r"
		row k6 "k6:$r"
	done
	echo
	echo "## Maximum: $MAX_RATE req/s for ${MAX_DUR} s, and wrk's closed-loop maximum"
	echo
	echo "$HEADER"
	row Surge "surge:$MAX_RATE"
	row vegeta "vegeta:$MAX_RATE"
	row k6 "k6:$MAX_RATE"
	row wrk "wrk:max"
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
