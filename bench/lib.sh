# bench/lib.sh — shared by bench/peers.sh and bench/soak.sh; sourced, never run.
# shellcheck shell=bash
# shellcheck disable=SC2034 # it sets variables for the scripts that source it
#
# Sourcing it sets ROOT (the repository), BENCH (this directory), BIN
# (bench/.bin: Surge's binaries and the go-installed peers) and CLK_TCK,
# and defines the helpers below. Before sourcing, a script may set LOG_TAG
# (the prefix of its log lines) and KEEP (1 keeps the work directory).
# lib_init PREFIX then makes the work directory $WORK, installs the cleanup
# trap and raises the file limit. Everything here is loopback only, and
# every step is bounded in time.
#
# Helpers:
#   log, die, have, apt_install PKG...
#   surge_build                      go build ./cmd/... into $BIN
#   nginx_start PORT PORT_ENV_NAME   a loopback nginx with a config of its own (sets NGINX_PID)
#   nginx_ticks                      CPU ticks of nginx's master and workers so far
#   surge_scenario FILE NAME PORT RATE DUR_S [CLIENT_FLOW_MAP]
#   surge_validate DIR SCENARIO      `coordinator validate`; on failure prints the first problem
#   surge_start DIR SCENARIO LIMIT_S GOSSIP   coordinator --expect 1 + one external agent
#   surge_wait                       waits for the coordinator (sets SURGE_CRC)
#   surge_stop                       reads the agent's CPU ticks and VmHWM, then stops it
#                                    (sets SURGE_TICKS, SURGE_HWM; empty when it had died)
#   surge_revision, machine_line     for the reports' headers
#   load1, busy_check                the 1-minute load average; a warning when it is high
#
# SURGE_REV, when set, is used as the revision in the reports instead of
# asking git (git rev-parse, and git status for uncommitted changes).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
BIN=$BENCH/.bin
CLK_TCK=$(getconf CLK_TCK)
LOG_TAG=${LOG_TAG:-bench}
KEEP=${KEEP:-0}

log() { printf '[%s] %s\n' "$LOG_TAG" "$*" >&2; }
die() { log "error: $*"; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

WORK=""
NGINX_PID=""
SAMPLER_PID=""
AGENT_PID=""
COORD_PID=""

# stop_coordinator: COORD_PID is `timeout`, which runs the coordinator in
# a process group of its own (led by timeout): TERM reaches the
# coordinator through timeout, KILL the whole group.
stop_coordinator() {
	[ -n "$COORD_PID" ] || return 0
	if kill -0 "$COORD_PID" 2>/dev/null; then
		kill -TERM "$COORD_PID" 2>/dev/null || true
		for _ in $(seq 30); do kill -0 "$COORD_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL -- "-$COORD_PID" 2>/dev/null || kill -KILL "$COORD_PID" 2>/dev/null || true
	fi
	COORD_PID=""
}

nginx_stop() {
	[ -n "$NGINX_PID" ] || return 0
	if kill -0 "$NGINX_PID" 2>/dev/null; then
		kill -QUIT "$NGINX_PID" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$NGINX_PID" 2>/dev/null || true
	fi
	NGINX_PID=""
}

cleanup() {
	local rc=$?
	if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then kill -KILL "$AGENT_PID" 2>/dev/null || true; fi
	stop_coordinator
	nginx_stop
	if [ -n "${SAMPLER_PID:-}" ]; then kill "$SAMPLER_PID" 2>/dev/null || true; fi
	if [ -n "$WORK" ]; then
		if [ "$KEEP" = 1 ]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
	fi
	exit "$rc"
}

lib_init() { # lib_init PREFIX: the work directory /tmp/PREFIX.XXXXXX, the trap, limits
	WORK=$(mktemp -d "/tmp/$1.XXXXXX")
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	ulimit -n 65536 2>/dev/null || true
	export PATH=$PATH:/usr/sbin:/sbin
}

# ---------------------------------------------------------------- installs --

APT_UPDATED=0
apt_install() { # apt_install PKG... ; returns non-zero when it cannot
	local sudo=()
	if [ "$(id -u)" != 0 ]; then
		have sudo || { log "not root and no sudo: cannot apt-get install $*"; return 1; }
		sudo=(sudo -n)
	fi
	if [ "$APT_UPDATED" = 0 ]; then
		log "apt-get update"
		timeout 300 "${sudo[@]}" apt-get update -qq >"$WORK/apt-update.log" 2>&1 || { log "apt-get update failed: $(tail -n 2 "$WORK/apt-update.log")"; return 1; }
		APT_UPDATED=1
	fi
	log "apt-get install $*"
	# Keep the package's own nginx service from starting on port 80: a
	# policy-rc.d that says "no" for the duration of the install (only if the
	# machine has none).
	local policy=/usr/sbin/policy-rc.d made=0 rc=0
	if [ "${#sudo[@]}" = 0 ] && [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made=1
	fi
	DEBIAN_FRONTEND=noninteractive timeout 600 "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" \
		>"$WORK/apt-install.log" 2>&1 || rc=$?
	[ "$made" = 1 ] && rm -f "$policy"
	[ "$rc" = 0 ] || log "apt-get install $* failed: $(tail -n 2 "$WORK/apt-install.log")"
	return "$rc"
}

surge_build() {
	have go || die "go is not on PATH (the project needs Go to build Surge)"
	mkdir -p "$BIN"
	log "building Surge (go build -o bench/.bin/ ./cmd/...)"
	if ! (cd "$ROOT" && timeout 900 go build -o "$BIN/" ./cmd/...) >"$WORK/build.log" 2>&1; then
		cat "$WORK/build.log" >&2
		die "Surge does not build"
	fi
}

# ------------------------------------------------------------------- nginx --

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

nginx_start() { # nginx_start PORT PORT_ENV_NAME: `return 200 "ok"` on 127.0.0.1:PORT
	local port=$1 var=$2 dir=$WORK/nginx
	port_open "$port" && die "127.0.0.1:$port is already in use (set $var)"
	mkdir -p "$dir/tmp"
	cat >"$dir/nginx.conf" <<EOF
worker_processes auto;
worker_rlimit_nofile 65536;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 16384; }
http {
    access_log off;
    default_type text/plain;
    keepalive_requests 10000000;
    keepalive_timeout 75s;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    server {
        listen 127.0.0.1:$port;
        location / { return 200 "ok"; }
    }
}
EOF
	log "starting nginx on 127.0.0.1:$port"
	timeout 30 nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" \
		|| die "nginx did not start: $(tail -n 3 "$dir/error.log" 2>/dev/null)"
	for _ in $(seq 50); do [ -s "$dir/nginx.pid" ] && port_open "$port" && break; sleep 0.1; done
	NGINX_PID=$(cat "$dir/nginx.pid")
	port_open "$port" || die "nginx is not answering on 127.0.0.1:$port"
}

# ------------------------------------------------------------------- Surge --

# surge_scenario FILE NAME PORT RATE DUR_S [CLIENT]: a constant-rate
# scenario against the loopback nginx; CLIENT, when given, is the
# scenario's `client:` block as a YAML flow map ("{timing: precise}").
surge_scenario() {
	local file=$1 name=$2 port=$3 rate=$4 dur=$5 client=${6:-}
	{
		cat <<EOF
name: $name
stages:
  - url: http://127.0.0.1:$port
requests:
  - path: /
EOF
		[ -z "$client" ] || echo "client: $client"
		cat <<EOF
load:
  constant: {rate: $rate, duration: ${dur}s}
EOF
	} >"$file"
}

# surge_validate DIR SCENARIO: 0 when `coordinator validate` accepts the
# scenario; otherwise prints its first problem (one line) and returns 1.
surge_validate() {
	local dir=$1 scen=$2 rc=0
	timeout 60 "$BIN/coordinator" validate "$scen" >"$dir/validate.out" 2>"$dir/validate.err" || rc=$?
	[ "$rc" = 0 ] && return 0
	local why
	why=$(grep -v '^[[:space:]]*$' "$dir/validate.err" | grep -v '^warning:' | head -n 1 | sed "s|$dir/||g" | cut -c1-200)
	echo "coordinator validate exit $rc: ${why:-no message}"
	return 1
}

# surge_start DIR SCENARIO LIMIT_S GOSSIP [AGENT_ARGS]: `coordinator run --expect 1`
# (bounded by LIMIT_S) and one external agent joining it. Sets COORD_PID
# (the timeout process), AGENT_PID and SURGE_T0_US (the agent's start, µs
# since the epoch).
surge_start() {
	local dir=$1 scen=$2 limit=$3 gossip=$4 agent_args=${5:-}
	timeout "$limit" "$BIN/coordinator" run "$scen" --expect 1 --wait 20s \
		--gossip-listen "$gossip" -q --out "$dir" >"$dir/summary.txt" 2>"$dir/coordinator.err" &
	COORD_PID=$!
	sleep 0.2
	# shellcheck disable=SC2086 # agent_args is a list of flags
	"$BIN/agent" --join "$gossip" $agent_args >"$dir/agent.log" 2>&1 &
	AGENT_PID=$!
	SURGE_T0_US=${EPOCHREALTIME/[.,]/}
}

surge_wait() { # sets SURGE_CRC, the coordinator's exit status
	SURGE_CRC=0
	wait "$COORD_PID" || SURGE_CRC=$?
	COORD_PID=""
}

# proc_ticks PID: user + system CPU ticks of the whole process (all
# threads, since exec); proc_kb PID FIELD: VmRSS, VmHWM, ... in kB.
proc_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
proc_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

# surge_stop: once the coordinator is done, read the agent's CPU ticks and
# peak RSS, then stop it (SIGINT, SIGKILL after 10 s). SURGE_TICKS and
# SURGE_HWM are empty when the agent had already exited.
surge_stop() {
	SURGE_TICKS=""
	SURGE_HWM=""
	if kill -0 "$AGENT_PID" 2>/dev/null; then
		SURGE_TICKS=$(proc_ticks "$AGENT_PID")
		SURGE_HWM=$(proc_kb "$AGENT_PID" VmHWM)
		kill -INT "$AGENT_PID" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$AGENT_PID" 2>/dev/null; then
			log "surge: agent did not exit within 10 s of SIGINT; killing it"
			kill -KILL "$AGENT_PID" 2>/dev/null || true
		fi
	fi
	wait "$AGENT_PID" 2>/dev/null || true
	AGENT_PID=""
}

# nginx_ticks: user + system CPU ticks of nginx so far, its master
# (NGINX_PID) and workers (its children) together. The difference across
# a run is the target's CPU during that run.
nginx_ticks() {
	[ -n "$NGINX_PID" ] || { echo 0; return; }
	# Fields after "(comm) ": state ppid ... utime(12) stime(13); a process
	# that exits between the glob and cat is left out.
	{ cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v m="$NGINX_PID" '
		{ pid = $1; s = $0; sub(/^.*\) /, "", s); split(s, f, " ")
		  if (pid == m || f[2] == m) t += f[12] + f[13] }
		END { print t + 0 }'
}

ticks_s() { awk -v t="$1" -v h="$CLK_TCK" 'BEGIN { printf "%.2f", t / h }'; }

# ------------------------------------------------------------------ header --

load1() { awk '{ print $1 }' /proc/loadavg; }
# busy_check: warn when other processes already keep the cores busy (the
# 1-minute load average above half the cores): every figure would be off.
busy_check() {
	local l n
	l=$(load1)
	n=$(nproc)
	if awk -v l="$l" -v n="$n" 'BEGIN { exit !(l > n / 2) }'; then
		log "warning: load average $l on $n cores before the run: other processes compete for the CPU, so the figures will be off"
	fi
}

surge_revision() {
	if [ -n "${SURGE_REV:-}" ]; then
		echo "$SURGE_REV"
		return
	fi
	local rev
	rev=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [ -n "$(cd "$ROOT" && git --no-optional-locks status --porcelain -- cmd internal scenario reporters proto go.mod go.sum 2>/dev/null)" ]; then
		rev="$rev + uncommitted changes"
	fi
	echo "$rev"
}

machine_line() {
	echo "$(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), Linux $(uname -r), $(go version | awk '{ print $3 }')"
}
