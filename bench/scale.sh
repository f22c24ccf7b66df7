#!/usr/bin/env bash
# bench/scale.sh — `make bench-scale`: Surge at fleet scale, on one machine.
#
# Part 1, a fleet of real processes: SCALE_AGENTS (200) `agent` processes
# on loopback, each small (--procs 1, its own --max-rate and
# --max-in-flight), and one `coordinator run --expect N` playing
# SCALE_RATE req/s (4000) for SCALE_DURATION s (15) against a loopback
# nginx (bin/target's echo when nginx cannot be had). The coordinator runs
# under `scale exec` (bench/scale), which stamps each line of its stderr
# with the instant it was read and records its CPU and peak RSS. From the
# stamps: the time from the last agent started to the coordinator's last
# "agent … joined" line (discovery), to "N agents ready" (every agent
# dialled and its 8 clock exchanges done), and to the stage's T0
# (report.json stages[0].started). While the coordinator connects, its
# open file descriptors are sampled every 50 ms (one socket per agent
# dialled) to show how the dials progress. Then report.json's counts
# (intended = issued + dropped + lost, lost 0, every agent's share), and
# the agents' CPU and RSS from /proc before they are stopped.
#
# Part 2, gossip at 1,000 nodes: `scale gossip` (bench/scale) starts
# SCALE_NODES (1000) memberlist nodes in one process on an in-memory
# network and joins them to one seed, in Surge's own configuration
# (cluster.Start with a fleet address: cluster's fleet profile, Surge's
# metadata and catch-up pulls) in real time; then slowed down SCALE_SLOW
# (8) times (cluster.Config.TimeScale), so that the CPU of 2 cores is not
# what limits the protocol, beside memberlist's LAN profile with Surge's
# metadata slowed the same; and each profile at SCALE_SMALL (200) nodes.
# See bench/SCALE.md.
#
# Writes bench/SCALE.md (SCALE_OUT). Loopback only; every step is bounded
# in time; the exit trap stops every process it started (agents by PID).
#
# Environment: SCALE_AGENTS (200; a list, "50 100 200", runs part 1 once
# per count), SCALE_RATE (4000), SCALE_DURATION (15,
# seconds), SCALE_PORT (18091), SCALE_GOSSIP (127.0.0.1:17951),
# SCALE_NODES (1000), SCALE_SMALL (200), SCALE_SLOW (8), SCALE_PARTS
# (fleet,gossip: which parts to run), SCALE_OUT (bench/SCALE.md),
# SCALE_AGENT_NICE (0: agents at nice N, so that the coordinator, which
# has a machine of its own on a fleet, is not starved by N co-located
# agents), SCALE_KEEP=1 keeps the work directory, SURGE_REV.
set -euo pipefail

LOG_TAG=scale
KEEP=${SCALE_KEEP:-0}
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

AGENT_COUNTS=${SCALE_AGENTS:-200} # a list runs part 1 once per count: "50 100 200"
RATE=${SCALE_RATE:-4000}
AGENT_NICE=${SCALE_AGENT_NICE:-0} # nice -n for the agents: >0 models a coordinator with its own CPU
DUR=${SCALE_DURATION:-15}
PORT=${SCALE_PORT:-18091}
GOSSIP=${SCALE_GOSSIP:-127.0.0.1:17951}
NODES=${SCALE_NODES:-1000}
SMALL=${SCALE_SMALL:-200}
SLOW=${SCALE_SLOW:-8}
PARTS=${SCALE_PARTS:-fleet,gossip}
OUT=${SCALE_OUT:-$BENCH/SCALE.md}
WAIT_S=60 # --wait: how long the coordinator waits for the N agents

[[ $AGENT_NICE =~ ^[0-9]+$ ]] && [ "$AGENT_NICE" -le 19 ] || die "SCALE_AGENT_NICE='$AGENT_NICE': want 0 to 19"
for v in RATE DUR PORT NODES SMALL SLOW; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "the setting for $v must be a positive integer, not '${!v}'"
done
for N in $AGENT_COUNTS; do
	if ! [[ $N =~ ^[1-9][0-9]*$ ]] || [ "$N" -gt 2000 ]; then die "SCALE_AGENTS='$AGENT_COUNTS': want agent counts from 1 to 2000"; fi
done
[ "$NODES" -le 5000 ] || die "SCALE_NODES=$NODES: at most 5000 gossip nodes"
case ",$PARTS," in *,fleet,* | *,gossip,*) ;; *) die "SCALE_PARTS='$PARTS': want fleet, gossip or both" ;; esac
has_part() { case ",$PARTS," in *",$1,"*) return 0 ;; esac; return 1; }

lib_init surge-scale

us_now() { echo "${EPOCHREALTIME/[.,]/}"; }
# secs A_US B_US: B - A in seconds, 2 decimals.
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e6 }'; }

# proc_sum_ticks "PID...": the CPU ticks (user + sys) of these processes
# together, in one awk (no fork per process: the machine is saturated).
proc_sum_ticks() {
	awk -v list="$1" 'BEGIN {
		n = split(list, p, " ")
		for (i = 1; i <= n; i++) {
			f = "/proc/" p[i] "/stat"
			if ((getline line < f) > 0) { sub(/^.*\) /, "", line); split(line, a, " "); s += a[12] + a[13] }
			close(f)
		}
		print s + 0
	}'
}

# proc_sum_mem "PID...": "alive ticks rss_kb hwm_max_kb" of these
# processes together, in one awk.
proc_sum_mem() {
	awk -v list="$1" 'BEGIN {
		n = split(list, p, " ")
		for (i = 1; i <= n; i++) {
			f = "/proc/" p[i] "/stat"
			if ((getline line < f) <= 0) { close(f); continue }
			close(f)
			sub(/^.*\) /, "", line); split(line, a, " "); t += a[12] + a[13]; alive++
			f = "/proc/" p[i] "/status"
			while ((getline line < f) > 0) {
				split(line, b, /[ \t]+/)
				if (b[1] == "VmRSS:") r += b[2]
				if (b[1] == "VmHWM:" && b[2] > m) m = b[2]
			}
			close(f)
		}
		print alive + 0, t + 0, r + 0, m + 0
	}'
}

AGENT_PIDS=()
TARGET_PID=""
FD_SAMPLER=""
CPU_SAMPLER=""

stop_samplers() {
	local p
	for p in "$FD_SAMPLER" "$CPU_SAMPLER"; do
		[ -n "$p" ] || continue
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	FD_SAMPLER=""
	CPU_SAMPLER=""
}

# stop_agents: SIGINT to every agent, SIGKILL to those still there 5 s
# later; by PID only.
stop_agents() {
	local pid alive
	[ "${#AGENT_PIDS[@]}" -gt 0 ] || return 0
	for pid in "${AGENT_PIDS[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
	for _ in $(seq 50); do
		alive=0
		for pid in "${AGENT_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && { alive=1; break; }; done
		[ "$alive" = 1 ] || break
		sleep 0.1
	done
	for pid in "${AGENT_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
	wait "${AGENT_PIDS[@]}" 2>/dev/null || true
	AGENT_PIDS=()
}

# scale_cleanup: the samplers, the agents, the echo target, then lib.sh's
# cleanup (coordinator, nginx, work directory), keeping the exit status.
scale_cleanup() {
	local rc=$?
	stop_samplers
	stop_agents
	if [ -n "$TARGET_PID" ]; then kill -TERM "$TARGET_PID" 2>/dev/null || true; fi
	set +e # cleanup reads the status from $?; errexit would end the trap here
	(exit "$rc")
	cleanup
}
trap scale_cleanup EXIT

have jq || apt_install jq || true
have jq || die "jq is needed to read report.json and could not be installed"
surge_build
log "building bench/scale"
(cd "$ROOT" && timeout 600 go build -o "$BIN/scale" ./bench/scale) >"$WORK/build-scale.log" 2>&1 ||
	die "bench/scale does not build: $(tail -n 3 "$WORK/build-scale.log")"
busy_check
LOAD_BEFORE=$(load1)

FLEET_MD=""
GOSSIP_MD=""

# ================================================================= part 1 --

# run_fleet: part 1 with N agents; appends its section to FLEET_MD.
run_fleet() {
	local dir=$WORK/fleet-$N
	mkdir -p "$dir/agents" "$dir/out"

	# Limits: each agent holds a few sockets, the coordinator one per
	# agent; each agent is a Go runtime of a few threads and ~25 MB.
	local need_kb avail_kb nofile nproc_lim
	need_kb=$(((N * 40 + 1024) * 1024))
	avail_kb=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
	[ "$avail_kb" -ge "$need_kb" ] || die "$N agents need about $((need_kb / 1024)) MB of memory; $((avail_kb / 1024)) MB available (lower SCALE_AGENTS)"
	nofile=$(ulimit -n)
	nproc_lim=$(ulimit -u)
	[ "$nofile" = unlimited ] || [ "$nofile" -ge $((N * 8 + 256)) ] || die "ulimit -n is $nofile: $N agents need at least $((N * 8 + 256))"
	[ "$nproc_lim" = unlimited ] || [ "$nproc_lim" -ge $((N * 16 + 256)) ] || die "ulimit -u is $nproc_lim: $N agents need about $((N * 16 + 256)) threads"

	# The target.
	local target
	if have nginx || apt_install nginx-light || apt_install nginx; then
		nginx_start "$PORT" SCALE_PORT
		target="nginx (return 200 \"ok\", $(nproc) workers)"
	else
		log "no nginx: using bin/target's echo"
		port_open "$PORT" && die "127.0.0.1:$PORT is already in use (set SCALE_PORT)"
		"$BIN/target" --topology echo --listen "127.0.0.1:$PORT" >"$dir/target.log" 2>&1 &
		TARGET_PID=$!
		for _ in $(seq 50); do port_open "$PORT" && break; sleep 0.1; done
		port_open "$PORT" || die "bin/target is not answering on 127.0.0.1:$PORT"
		target="bin/target --topology echo"
	fi

	local scen=$dir/scenario.yaml
	cat >"$scen" <<EOF
# bench/scale.sh: $RATE req/s for ${DUR}s split across $N agents.
name: scale-$N
stages:
  - name: loopback
    url: http://127.0.0.1:$PORT
requests:
  - name: get
    path: /
load:
  constant: {rate: $RATE, duration: ${DUR}s}
safety:
  # $N agent processes and a target share 2 cores: the scheduler's time
  # slices alone put requests out milliseconds late. The send lag is
  # reported as measured; this keeps the verdict about the fleet.
  max_send_lag: 50ms
EOF
	if ! why=$(surge_validate "$dir" "$scen"); then die "the scale scenario is rejected: $why"; fi

	# The coordinator, under scale exec.
	local per_agent=$(((RATE + N - 1) / N))
	local limit=$((WAIT_S + DUR + 90))
	log "coordinator: --expect $N, $RATE req/s for ${DUR}s (about $per_agent req/s per agent)"
	timeout -k 15 "$limit" "$BIN/scale" exec -log "$dir/coordinator.log" -stdout "$dir/coordinator.out" -rusage "$dir/rusage.json" -- \
		"$BIN/coordinator" run "$scen" --expect "$N" --wait "${WAIT_S}s" --gossip-listen "$GOSSIP" \
		--out "$dir/out" --format json &
	COORD_PID=$!
	for _ in $(seq 100); do grep -q 'waiting up to' "$dir/coordinator.log" 2>/dev/null && break; sleep 0.1; done
	grep -q 'waiting up to' "$dir/coordinator.log" || die "the coordinator did not start listening: $(tail -n 3 "$dir/coordinator.log")"
	local cpid
	cpid=$(cat "/proc/$COORD_PID/task/"*/children 2>/dev/null | tr ' ' '\n' | grep -m1 .) # scale exec
	cpid=$(cat "/proc/$cpid/task/"*/children 2>/dev/null | tr ' ' '\n' | grep -m1 .)       # the coordinator
	[ -n "$cpid" ] || die "cannot find the coordinator's process"

	# fds.txt: "t_us fds" every 50 ms, the coordinator's open descriptors
	# (one socket per agent dialled), counted by a glob: no fork, so it
	# keeps its pace on a saturated machine.
	(
		shopt -s nullglob
		while [ -d "/proc/$cpid" ]; do
			f=("/proc/$cpid/fd/"*)
			echo "$(us_now) ${#f[@]}"
			sleep 0.05
		done
	) >"$dir/fds.txt" &
	FD_SAMPLER=$!

	# The agents.
	log "starting $N agents (--procs 1 --lease 10s --max-rate 1k/s --max-in-flight 100)"
	local first_us last_us i
	first_us=$(us_now)
	for i in $(seq 1 "$N"); do
		nice -n "$AGENT_NICE" "$BIN/agent" --join "$GOSSIP" --name "scale-agent-$i" --procs 1 --lease 10s \
			--max-rate 1k/s --max-in-flight 100 >"$dir/agents/$i.log" 2>&1 &
		AGENT_PIDS+=($!)
	done
	last_us=$(us_now)
	log "$N agents started in $(secs "$first_us" "$last_us") s; waiting for the coordinator (at most ${limit}s)"
	# cpu.txt: "t_us agents_ticks coordinator_ticks" every second.
	(
		while [ -d "/proc/$cpid" ]; do
			echo "$(us_now) $(proc_sum_ticks "${AGENT_PIDS[*]}") $(proc_sum_ticks "$cpid")"
			sleep 1
		done
	) >"$dir/cpu.txt" &
	CPU_SAMPLER=$!

	# The run.
	local crc=0
	wait "$COORD_PID" || crc=$?
	COORD_PID=""
	stop_samplers

	# The agents' CPU and memory, before they are stopped.
	local agents_alive ticks rss hwm_max
	read -r agents_alive ticks rss hwm_max < <(proc_sum_mem "${AGENT_PIDS[*]}")
	stop_agents
	local join_errs join_timeouts
	join_errs=$( (grep -l 'cannot join' "$dir/agents/"*.log 2>/dev/null || true) | wc -l)
	join_timeouts=$( (grep -l 'join.*i/o timeout' "$dir/agents/"*.log 2>/dev/null || true) | wc -l)

	[ -s "$dir/rusage.json" ] || die "the coordinator left no rusage (exit $crc): $(tail -n 5 "$dir/coordinator.log")"
	local c_user c_sys c_rss c_exit end_us
	read -r c_exit c_user c_sys c_rss end_us < <(jq -r '"\(.exit) \(.user_s * 100 | round / 100) \(.sys_s * 100 | round / 100) \(.maxrss_kb) \(.end_us)"' "$dir/rusage.json")

	# Timestamps from the coordinator's log.
	local join_first_us join_last_us joins ready_us stage_us t0_us="" rep=$dir/out/report.json joins_by_s
	joins=$(grep -c ' agent .* joined (' "$dir/coordinator.log" || true)
	join_first_us=$(awk '/ agent .* joined \(/ { print $1; exit }' "$dir/coordinator.log")
	join_last_us=$(awk '/ agent .* joined \(/ { t = $1 } END { print t }' "$dir/coordinator.log")
	ready_us=$(awk '/ agents ready: / { print $1; exit }' "$dir/coordinator.log")
	stage_us=$(awk '/ split across / { print $1; exit }' "$dir/coordinator.log")
	[ ! -s "$rep" ] || t0_us=$(date -d "$(jq -r '.stages[0].started' "$rep")" +%s%6N)
	joins_by_s=$(awk -v t="$last_us" '/ agent .* joined \(/ { s = int(($1 - t) / 1e6); if (s < 0) s = 0; c[s]++; if (s > m) m = s }
		END { for (i = 0; i <= m; i++) printf "%s%d", (i ? ", " : ""), c[i] + 0 }' "$dir/coordinator.log")

	# rate A_US B_US COLUMN: cores in use between two instants (cpu.txt).
	rate() {
		awk -v a="$1" -v b="$2" -v col="$3" -v hz="$CLK_TCK" '
			$1 >= a && !x { x = $1; xv = $col } $1 <= b { y = $1; yv = $col }
			END { if (x && y > x) printf "%.2f", (yv - xv) / hz / ((y - x) / 1e6); else printf "n/a" }' "$dir/cpu.txt"
	}
	per_ms() { awk -v a="$1" -v b="$2" -v n="$N" 'BEGIN { printf "%.1f", (b - a) / 1e3 / n }'; }
	local agent_cpu
	agent_cpu=$(ticks_s "$ticks")

	{
		cat <<EOF
## Part 1: $N agent processes and one coordinator on loopback

\`\`\`sh
make bench-scale        # or: SCALE_PARTS=fleet SCALE_AGENTS="$AGENT_COUNTS" SCALE_RATE=$RATE SCALE_DURATION=$DUR SCALE_AGENT_NICE=$AGENT_NICE bash bench/scale.sh
\`\`\`

$N \`$( [ "$AGENT_NICE" = 0 ] || echo "nice -n $AGENT_NICE " )agent --join $GOSSIP --name scale-agent-I --procs 1 --lease 10s --max-rate 1k/s --max-in-flight 100\`
processes, started one after another by the script (all $N in $(secs "$first_us" "$last_us") s), and \`coordinator run
--expect $N --wait ${WAIT_S}s --gossip-listen $GOSSIP --format json\` (started first, under \`scale exec\`,
which stamps each line of its stderr as it is read) playing $RATE req/s for ${DUR} s (about $per_agent req/s
per agent) against $target on 127.0.0.1:$PORT. Load average before the run: $LOAD_BEFORE.
$(if [ "$AGENT_NICE" = 0 ]; then echo "The agents run at the coordinator's priority: $N busy processes leave it about 1/$N of the CPU."; else echo "The agents run at nice $AGENT_NICE (SCALE_AGENT_NICE): on a fleet the coordinator has a machine of its own; here $N busy agent processes at its priority would leave it about 1/$N of the CPU."; fi)
Coordinator exit status: **$c_exit**.

### From the last agent started to T0

Seconds after the script started the last of the $N agents, from the coordinator's stamped log and
report.json:

| step | s |
|---|---:|
| first "agent … joined" line | $(secs "$last_us" "${join_first_us:-$last_us}") |
| last "agent … joined" line ($joins of $N joined) | **$(secs "$last_us" "${join_last_us:-$last_us}")** |
EOF
		if [ -n "$ready_us" ]; then
			cat <<EOF
| "$N agents ready": every agent dialled, Hello/Ready and 8 clock exchanges each | **$(secs "$last_us" "$ready_us")** |
| stage line (the target checked; assignments go out) | $(secs "$last_us" "${stage_us:-$ready_us}") |
EOF
		fi
		if [ -n "$t0_us" ]; then
			echo "| T0 of the stage (report.json \`stages[0].started\`: every agent accepted, plus the 0.5 s lead) | **$(secs "$last_us" "$t0_us")** |"
		fi
		cat <<EOF

Agents joining in each second after the last one started: $joins_by_s.
$join_errs of the $N agents logged a failed join (each is retried every 2 s), $join_timeouts of them with an
\`i/o timeout\` (a join's push/pull is given 10 s: cluster's fleet profile, on loopback too).
EOF
		if [ -n "$ready_us" ]; then
			local fd_base dial_10 dial_50 dial_100
			fd_base=$(awk -v t="$join_last_us" '$1 <= t { b = $2 } END { print b + 0 }' "$dir/fds.txt")
			read -r dial_10 dial_50 dial_100 < <(awk -v b="$fd_base" -v n="$N" -v t="$join_last_us" -v r="$ready_us" '$1 < t || $1 > r { next }
				!a && $2 >= b + n * 0.1 { a = $1 } !h && $2 >= b + n * 0.5 { h = $1 } !f && $2 >= b + n { f = $1 }
				END { print (a ? a : "-"), (h ? h : "-"), (f ? f : "-") }' "$dir/fds.txt")
			# since T: seconds after the last join line, or "not seen".
			since() { if [ "$1" = - ]; then echo "(not seen before ready)"; else secs "$join_last_us" "$1"; fi; }
			cat <<EOF

The connect phase (last join line to "ready") took **$(secs "$join_last_us" "$ready_us") s**, $(per_ms "$join_last_us" "$ready_us") ms per
agent. The coordinator dials the agents 32 at a time (\`connect\` in internal/coordinator/run.go)
and runs every handshake at once off its inbox. Its open descriptors (sampled every 50 ms, $fd_base before; each dial adds a socket) passed a
tenth of the $N dials $(since "$dial_10") s after the last join line, half at $(since "$dial_50") s and all at
$(since "$dial_100") s (sockets that come and go, such as gossip's TCP pushes, blur this count).
EOF
		fi
		cat <<EOF

CPU in use, in cores (the machine has 2), from /proc every second:

| phase | agents, all together | coordinator |
|---|---:|---:|
| first agent started → last join line (agents starting, joining, gossiping) | $(rate "$first_us" "${join_last_us:-$end_us}" 2) | $(rate "$first_us" "${join_last_us:-$end_us}" 3) |
EOF
		if [ -n "$t0_us" ]; then
			cat <<EOF
| last join line → T0 (connecting, assigning) | $(rate "$join_last_us" "$t0_us" 2) | $(rate "$join_last_us" "$t0_us" 3) |
| T0 → T0 + ${DUR} s (the load) | $(rate "$t0_us" "$((t0_us + DUR * 1000000))" 2) | $(rate "$t0_us" "$((t0_us + DUR * 1000000))" 3) |
EOF
		fi
		cat <<EOF

| | |
|---|---|
| coordinator CPU (user + sys, its whole life) | ${c_user} s + ${c_sys} s |
| coordinator peak RSS | $((c_rss / 1024)) MB |
| agents' CPU, all $agents_alive together (their whole life) | $agent_cpu s ($(awk -v t="$agent_cpu" -v n="$agents_alive" 'BEGIN { printf "%.0f", n ? t * 1000 / n : 0 }') ms each) |
| agents' RSS at the end, all together | $((rss / 1024)) MB ($((agents_alive ? rss / agents_alive / 1024 : 0)) MB each); the largest peak (VmHWM) $((hwm_max / 1024)) MB |
EOF
	} >"$dir/section.md"

	if [ ! -s "$rep" ]; then
		{
			echo
			echo "No report.json: the run did not start. The coordinator's last lines:"
			echo
			echo '```'
			grep -v ' agent .* joined (' "$dir/coordinator.log" | cut -d' ' -f2- | tail -n 5 | cut -c1-300
			echo '```'
		} >>"$dir/section.md"
		FLEET_MD+=$(cat "$dir/section.md")$'\n\n'
		log "fleet: exit $c_exit, $joins of $N joined, no report"
		return 0
	fi

	# Counts.
	local intended issued dropped lost succeeded failed inflight achieved lag99 resp99 verdict nag sum_int min_int max_int min_iss max_iss agent_lost
	read -r intended issued dropped lost succeeded failed inflight achieved lag99 resp99 < <(jq -r '.stages[0] | "\(.intended) \(.issued) \(.dropped) \(.lost) \(.succeeded) \(.failed) \(.in_flight_at_end) \(.achieved_rps * 10 | round / 10) \(.send_lag_ms.p99 * 100 | round / 100) \(.response_time_ms.p99 * 100 | round / 100)"' "$rep")
	verdict=$(jq -r '.verdict // "?"' "$rep")
	read -r nag sum_int min_int max_int min_iss max_iss agent_lost < <(jq -r '.agents | "\(length) \(map(.intended) | add) \(map(.intended) | min) \(map(.intended) | max) \(map(.issued) | min) \(map(.issued) | max) \(map(.lost) | add)"' "$rep")
	local balanced=no exact_share=no
	[ "$intended" = $((issued + dropped + lost)) ] && [ "$issued" = $((succeeded + failed + inflight)) ] && balanced=yes
	# An equal split of I arrivals over n agents gives each floor(I/n) or ceil(I/n).
	if [ "$nag" = "$N" ] && [ "$sum_int" = "$intended" ] && [ "$min_int" -ge $((intended / N)) ] && [ "$max_int" -le $(((intended + N - 1) / N)) ]; then
		exact_share=yes
	fi
	cat >>"$dir/section.md" <<EOF

### The run's counts (report.json)

| | |
|---|---|
| verdict | $verdict $(jq -r '(.verdict_reasons // []) | join("; ")' "$rep" | cut -c1-300) |
| intended = issued + dropped + lost | $intended = $issued + $dropped + $lost (balanced: **$balanced**) |
| issued = succeeded + failed + in flight at end | $issued = $succeeded + $failed + $inflight |
| agents in report.json | $nag; their intended add up to $sum_int; each owns $min_int to $max_int (an exact equal split: **$exact_share**); each issued $min_iss to $max_iss; lost $agent_lost |
| achieved | $achieved req/s; send lag p99 $lag99 ms; response time p99 $resp99 ms |
EOF
	FLEET_MD+=$(cat "$dir/section.md")$'\n\n'
	log "fleet: exit $c_exit; $joins joins; discovered $(secs "$last_us" "$join_last_us") s after the last agent started, ready $(secs "$last_us" "$ready_us") s, T0 $(secs "$last_us" "${t0_us:-$last_us}") s; intended $intended issued $issued dropped $dropped lost $lost"
}

# ================================================================= part 2 --

# gossip_run NAME TIMEOUT_S ARGS...: one `scale gossip` run, its JSON
# line appended to gossip.jsonl (with "run": NAME), bounded in time.
gossip_run() {
	local name=$1 t=$2 rc=0
	shift 2
	log "gossip: $name (scale gossip $*; at most ${t}s to converge)"
	timeout $((t + 90)) "$BIN/scale" gossip -timeout "${t}s" "$@" >"$WORK/gossip-$name.json" 2>"$WORK/gossip-$name.err" || rc=$?
	if [ "$rc" != 0 ] && [ "$rc" != 3 ]; then
		log "gossip: $name failed (exit $rc): $(tail -n 2 "$WORK/gossip-$name.err")"
		return 0
	fi
	jq -c --arg run "$name" --arg args "$*" '{run: $run, args: $args} + .' "$WORK/gossip-$name.json" >>"$WORK/gossip.jsonl"
}

run_gossip() {
	: >"$WORK/gossip.jsonl"
	local t_real=30 t_small=20 t_slow=$((SLOW * 20))
	gossip_run "fleet-$NODES" "$t_real" -nodes "$NODES" -profile surge-fleet -settle 0s
	gossip_run "fleet-$NODES-slow$SLOW" "$t_slow" -nodes "$NODES" -profile surge-fleet -slow "$SLOW" -settle 0s
	gossip_run "lan-surge-meta-$NODES-slow$SLOW" "$t_slow" -nodes "$NODES" -profile memberlist-lan -surge-meta -slow "$SLOW" -settle 0s
	local p
	for p in surge-fleet memberlist-lan surge-loopback surge-fast; do
		gossip_run "$p-$SMALL" "$t_small" -nodes "$SMALL" -profile "$p" -settle 2s
	done
	[ -s "$WORK/gossip.jsonl" ] || die "no gossip run finished"
	[ "$KEEP" != 1 ] || log "gossip results: $WORK/gossip.jsonl"

	GOSSIP_MD=$(
		cat <<EOF
## Part 2: memberlist at $NODES nodes, in one process

\`\`\`sh
make bench-scale        # or: SCALE_PARTS=gossip SCALE_NODES=$NODES SCALE_SLOW=$SLOW bash bench/scale.sh
go run ./bench/scale gossip -nodes $NODES -profile surge-fleet -v    # one run, progress every second
\`\`\`

\`scale gossip\` (bench/scale) starts the nodes in one process on an in-memory network shaped like
UDP and TCP (bench/scale/memnet.go: packets never block, a full inbox of 128 drops them), then
joins every node to node 0 (the seed, as agents join their coordinator), 64 at a time, a refused
join retried after 200 ms; and reads every node's membership every 20 ms. Profiles: **surge-fleet**
is Surge's own code path, \`cluster.Start\` with \`Config.Transport\` on a fleet address (10.x.y.z):
cluster's fleet profile (memberlist's DefaultLANConfig without compression, gossip every 500 ms),
Surge's compact metadata, delegates and catch-up pulls after a join — what agents run;
**memberlist-lan** is DefaultLANConfig as it comes (no metadata unless "+ Surge metadata", which is
Surge's metadata in the JSON form it had before); **surge-loopback** is \`cluster.Start\` on
127.0.0.0/8 (the same profile: what part 1's agents run); **surge-fast** adds FastFailureDetection
(tests). \`slow K\` stretches every memberlist interval and timeout (and Surge's catch-up interval,
\`cluster.Config.TimeScale\`) K times, so that the machine's CPU is not what limits the protocol, and
reports gossip times divided by K (**protocol time**; joins and "seed sees all" stay real time, as
joins are CPU work that is not stretched). "Converged after the last join" is converged less the
joins' time divided by K: how long, in protocol time, the views took to become complete once every
node had joined.

Times in seconds from the first join; -1: not within the run's bound. "full" = a node sees every
other one; converged = every node does.

| run | nodes | profile | slow | joins done | seed sees all | 50% / 90% / 99% full | converged | converged after the last join | complete at end | smallest view | false deaths | msgs dropped at a full handler queue | push/pulls refused | CPU s (2 cores) | peak RSS MB |
|---|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
$(jq -r '"| \(.run) | \(.nodes) | \(.profile)\(if .surge_meta then " + Surge metadata" else "" end) | \(.slow) | \(.joins_s * 100 | round / 100) | \(.seed_s * 100 | round / 100) | \(.full_p50_s * 100 | round / 100) / \(.full_p90_s * 100 | round / 100) / \(.full_p99_s * 100 | round / 100) | **\(.converged_s * 100 | round / 100)** | **\((.after_joins_s // -1) * 100 | round / 100)** | \(.complete) | \(.min_view) | \(.false_deaths) | \(.memberlist_log.handler_queue_full) | \(.memberlist_log.push_pull_refused) | \(.cpu_s * 10 | round / 10) | \(.peak_rss_mb | round) |"' "$WORK/gossip.jsonl")

Nodes with a complete view at each second (protocol time) of the $NODES-node runs:

$(jq -r 'select(.nodes > '"$SMALL"') | "- \(.run): \(.complete_each_s | map(tostring) | join(", "))"' "$WORK/gossip.jsonl")
EOF
	)
}

if has_part fleet; then
	for N in $AGENT_COUNTS; do
		run_fleet
		nginx_stop
		[ -z "$TARGET_PID" ] || { kill -TERM "$TARGET_PID" 2>/dev/null || true; wait "$TARGET_PID" 2>/dev/null || true; TARGET_PID=""; }
		sleep 5 # let the agents' sockets and the load settle
	done
fi
has_part gossip && run_gossip

# ================================================================= report --

{
	cat <<EOF
# Surge at fleet scale

Written by \`make bench-scale\` (bench/scale.sh); the findings at the end are by hand. Revision
$(surge_revision); $(machine_line). **The 2 cores are shared with other engineers' builds and
benchmarks**, so every time below includes waiting for a core; load average before the runs:
$LOAD_BEFORE.

EOF
	# A part not run this time keeps its section from the last report.
	for part in fleet gossip; do
		echo "<!-- $part:begin -->"
		if has_part "$part"; then
			if [ "$part" = fleet ]; then printf '%s' "$FLEET_MD"; else printf '%s\n\n' "$GOSSIP_MD"; fi
		elif [ -f "$OUT" ]; then
			sed -n "/<!-- $part:begin -->/,/<!-- $part:end -->/p" "$OUT" | sed '1d;$d'
		fi
		echo "<!-- $part:end -->"
		echo
	done
	# Hand-written findings live between these markers and are kept.
	if [ -f "$OUT" ] && grep -q '<!-- findings:begin -->' "$OUT"; then
		sed -n '/<!-- findings:begin -->/,/<!-- findings:end -->/p' "$OUT"
	else
		printf '<!-- findings:begin -->\n<!-- findings:end -->\n'
	fi
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
log "wrote $OUT"
