#!/usr/bin/env bash
# bench/soak-coordinator.sh — `make soak-coordinator`: the coordinator's
# memory over a long run.
#
# Two runs against one loopback nginx, each `coordinator run --expect 1`
# with one external agent, sampling the COORDINATOR's VmRSS every 5 s:
#   names16: 16 request names sharing 200 req/s (the case whose per-name
#            histograms grew fastest) for SOAKC_DURATION seconds;
#   rate10k: 1 request name at SOAKC_RATE (10000) req/s for SOAKC_DURATION;
#   rate1k:  1 request name at 1000 req/s for SOAKC_DURATION, whose slope
#            extrapolates a 24 h diurnal day at 1k/s (what stays per
#            interval after packing is its encoded histograms, which grow
#            with the spread of the latencies, not with the count).
# For each: RSS at 60 s, at the end, the least-squares slope after the
# first minute and the growth it gives over the run; the verdict is PASS
# when the first two grew less than 10 MB after their first minute and
# the 24 h extrapolation is under 500 MB.
#
# Loopback only; bounded in time; the cleanup trap stops everything.
# Environment: SOAKC_DURATION (600), SOAKC_RATE (10000), SOAKC_OUT
# (bench/SOAK-COORDINATOR.md), SOAKC_PORT (18082), SOAKC_GOSSIP
# (127.0.0.1:17948), SOAKC_KEEP=1 keeps the work directory.
set -euo pipefail

LOG_TAG=soak-coordinator
KEEP=${SOAKC_KEEP:-0}
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DUR=${SOAKC_DURATION:-600}
RATE=${SOAKC_RATE:-10000}
PORT=${SOAKC_PORT:-18082}
GOSSIP=${SOAKC_GOSSIP:-127.0.0.1:17948}
OUT=${SOAKC_OUT:-$BENCH/SOAK-COORDINATOR.md}
EVERY=5
WARMUP=60
MAX_GROWTH_MB=10

for v in DUR RATE PORT; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "SOAKC_${v/DUR/DURATION} must be a positive integer, not '${!v}'"
done
[ "$DUR" -gt $((WARMUP + 3 * EVERY)) ] || die "SOAKC_DURATION must be over $((WARMUP + 3 * EVERY)) s to measure a slope after the first minute"

lib_init surge-soakc
have jq || apt_install jq || true
have jq || die "jq is needed to read report.json"
have nginx || apt_install nginx-light || apt_install nginx || true
have nginx || die "nginx (the target) could not be installed"
surge_build
nginx_start "$PORT" SOAKC_PORT

# scenario FILE NAME NAMES RATE: NAMES request names sharing RATE req/s.
scenario() {
	local file=$1 name=$2 names=$3 rate=$4 i
	{
		echo "name: $name"
		echo "stages: [{url: \"http://127.0.0.1:$PORT\"}]"
		echo "requests:"
		for i in $(seq "$names"); do echo "  - {name: r$i, path: /r$i}"; done
		echo "load: {constant: {rate: $rate, duration: ${DUR}s}}"
	} >"$file"
}

# play CASE NAMES RATE: one run, the coordinator's RSS sampled into
# $WORK/CASE/samples.csv ("t_s,rss_kb").
play() {
	local c=$1 dir=$WORK/$1 k=1 now next d
	mkdir -p "$dir"
	scenario "$dir/scenario.yaml" "soak-coordinator-$c" "$2" "$3"
	echo "t_s,rss_kb" >"$dir/samples.csv"
	log "$c: $2 request name(s) at $3 req/s for ${DUR}s, sampling the coordinator every ${EVERY}s"
	surge_start "$dir" "$dir/scenario.yaml" $((DUR + 120)) "$GOSSIP"
	# surge_start runs the coordinator under timeout(1): sample its child.
	local pid=""
	for _ in $(seq 50); do
		pid=$(pgrep -P "$COORD_PID" -x coordinator || true)
		[ -z "$pid" ] || break
		sleep 0.1
	done
	[ -n "$pid" ] || die "$c: the coordinator process did not start"
	while kill -0 "$pid" 2>/dev/null; do
		next=$((SURGE_T0_US + k * EVERY * 1000000))
		now=${EPOCHREALTIME/[.,]/}
		d=$((next - now))
		[ "$d" -le 0 ] || sleep "$(printf '%d.%06d' $((d / 1000000)) $((d % 1000000)))"
		now=${EPOCHREALTIME/[.,]/}
		rss=$(proc_kb "$pid" VmRSS 2>/dev/null) || break
		[ -z "$rss" ] || printf '%d,%s\n' $(((now - SURGE_T0_US) / 1000000)) "$rss" >>"$dir/samples.csv"
		k=$((k + 1))
	done
	surge_wait
	eval "CRC_$c=$SURGE_CRC"
	surge_stop
}

# stats CASE: "at60_mb end_mb slope_mb_per_min growth_mb" from the samples.
stats() {
	awk -F, -v w="$WARMUP" 'NR > 1 {
		t = $1; mb = $2 / 1024; end_mb = mb
		if (t >= w && a == "") a = mb
		if (t >= w) { m++; sx += t; sy += mb; sxx += t * t; sxy += t * mb; if (first == "") first = t; last = t }
	}
	END {
		den = m * sxx - sx * sx
		if (m < 3 || den <= 0) { print "- - - -"; exit }
		b = (m * sxy - sx * sy) / den * 60
		printf "%.1f %.1f %.3f %.2f\n", a, end_mb, b, b * (last - first) / 60
	}' "$WORK/$1/samples.csv"
}

busy_check
LOAD_START=$(load1)
play names16 16 200
play rate10k 1 "$RATE"
play rate1k 1 1000
LOAD_END=$(load1)
read -r A16 E16 S16 G16 < <(stats names16)
read -r A10 E10 S10 G10 < <(stats rate10k)
read -r A1 E1 S1 G1 < <(stats rate1k)
acct() { jq -r '.stages[0] | "\(.intended) intended, \(.issued) issued, \(.succeeded) succeeded, \(.failed) failed, \(.dropped) dropped, \(.lost) lost; send lag p99 \(.send_lag_ms.p99) ms"' "$WORK/$1/report.json" 2>/dev/null || echo "no report.json"; }

VERDICT=PASS
STATUS=0
for g in "$G16" "$G10"; do
	if [ "$g" = - ] || ! awk -v g="$g" -v m="$MAX_GROWTH_MB" 'BEGIN { exit !(g < m) }'; then VERDICT=FAIL; STATUS=1; fi
done
# 24 h at 1 s intervals: 1440 minutes of the 1k/s run's slope.
EXTRA=$(awk -v a="$A1" -v s="$S1" 'BEGIN { if (s == "-") print "n/a"; else printf "%.0f", a + s * 1440 }')
if [ "$EXTRA" = n/a ] || [ "$EXTRA" -ge 500 ]; then VERDICT=FAIL; STATUS=1; fi

{
	echo "# Soak: the coordinator's memory over a long run (\`make soak-coordinator\`)"
	echo
	echo "Written by \`bench/soak-coordinator.sh\`; do not edit by hand."
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "- machine: $(machine_line)"
	echo "- Surge $(surge_revision); one external agent process, \`coordinator run --expect 1\`, loopback nginx"
	echo "- ${DUR} s per run; 1-minute load average $LOAD_START before, $LOAD_END after"
	echo
	echo "**Verdict — $VERDICT** (the coordinator's RSS must grow less than $MAX_GROWTH_MB MB after its first minute in the first two runs, and the 24 h extrapolation stay under 500 MB)"
	echo
	echo "| run | RSS at ${WARMUP} s | RSS at the end | slope after ${WARMUP} s | growth by the slope | accounting |"
	echo "|---|---|---|---|---|---|"
	echo "| 16 names, 200 req/s | $A16 MB | $E16 MB | $S16 MB/min | $G16 MB | $(acct names16) |"
	echo "| 1 name, $RATE req/s | $A10 MB | $E10 MB | $S10 MB/min | $G10 MB | $(acct rate10k) |"
	echo "| 1 name, 1000 req/s | $A1 MB | $E1 MB | $S1 MB/min | $G1 MB | $(acct rate1k) |"
	echo
	echo "A 24 h diurnal at 1k/s (86,400 intervals of 1 s), extrapolated from the 1000 req/s run's slope: about **$EXTRA MB** of coordinator RSS at its end (RSS at ${WARMUP} s + slope × 1,440 min; must be under 500 MB). The report built at the end adds its own per-interval entries on top."
} >"$OUT"
log "wrote $OUT: $VERDICT"
exit "$STATUS"
