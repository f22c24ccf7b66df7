#!/usr/bin/env bash
# bench/soak.sh — `make soak`: a bounded soak of Surge's agent.
#
# One loopback nginx (as in bench/peers.sh), then Surge — `coordinator run
# --expect 1` and one external agent process — at SOAK_RATE req/s for
# SOAK_DURATION seconds. Every 5 s it samples the agent's VmRSS and CPU ticks
# from /proc into samples.csv in the work directory; at the end it reads
# report.json and writes bench/SOAK.md (keeping the section between
# <!-- soak-coordinator:begin --> and <!-- soak-coordinator:end --> that
# bench/soak-coordinator.sh writes): the run's accounting, send lag, CPU
# per request, RSS at 60 s, at the end and at its peak, the least-squares RSS
# slope over the samples after the warm-up, and a verdict:
#   PASS  peak RSS < 100 MB and the slope's growth over the post-warm-up
#         window < 5 MB;
#   FAIL  otherwise, or when the run itself failed (exit status 1);
#   INCONCLUSIVE  fewer than 3 samples after the warm-up (exit status 2).
#
# Loopback only; every step is bounded in time; the cleanup trap stops
# everything it started. About SOAK_DURATION + 30 s once Surge is built.
#
# Environment: SOAK_RATE (10000), SOAK_DURATION (600, seconds), SOAK_OUT
# (bench/SOAK.md), SOAK_WARMUP (60, seconds excluded from the slope),
# SOAK_PORT (18081), SOAK_GOSSIP (127.0.0.1:17947), SOAK_KEEP=1 keeps the work
# directory (samples.csv, report.json, logs) and prints where it is,
# SURGE_REV (the revision to print instead of asking git).
set -euo pipefail

LOG_TAG=soak
KEEP=${SOAK_KEEP:-0}
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RATE=${SOAK_RATE:-10000}
DUR=${SOAK_DURATION:-600}
WARMUP=${SOAK_WARMUP:-60}
PORT=${SOAK_PORT:-18081}
GOSSIP=${SOAK_GOSSIP:-127.0.0.1:17947}
OUT=${SOAK_OUT:-$BENCH/SOAK.md}
EVERY=5          # seconds between samples
MAX_RSS_MB=100   # verdict: peak RSS below this
MAX_GROWTH_MB=5  # verdict: slope × post-warm-up window below this

for v in RATE DUR WARMUP PORT; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "SOAK_${v/DUR/DURATION} must be a positive integer, not '${!v}'"
done

lib_init surge-soak

# ---------------------------------------------------------------- installs --

have jq || apt_install jq || true
have jq || die "jq is needed to read report.json and could not be installed"
have nginx || apt_install nginx-light || apt_install nginx || true
have nginx || die "nginx (the target) could not be installed"
surge_build
nginx_start "$PORT" SOAK_PORT

# -------------------------------------------------------------------- run --

DIR=$WORK/surge
CSV=$WORK/samples.csv
mkdir -p "$DIR"
surge_scenario "$DIR/scenario.yaml" "soak-$RATE" "$PORT" "$RATE" "$DUR"
if ! why=$(surge_validate "$DIR" "$DIR/scenario.yaml"); then die "the soak scenario is rejected: $why"; fi

# sample: one CSV row "t_s,rss_kb,cpu_ticks" for the agent, t in seconds
# since the agent process started (the load begins about a second later,
# once it has joined and been assigned).
sample() {
	local now rss ticks
	now=${EPOCHREALTIME/[.,]/}
	rss=$(proc_kb "$AGENT_PID" VmRSS 2>/dev/null) || return 0
	ticks=$(proc_ticks "$AGENT_PID" 2>/dev/null) || return 0
	[ -n "$rss" ] && [ -n "$ticks" ] || return 0
	printf '%d.%03d,%s,%s\n' $(((now - SURGE_T0_US) / 1000000)) $(((now - SURGE_T0_US) % 1000000 / 1000)) "$rss" "$ticks" >>"$CSV"
}
# sampler: every EVERY seconds on a fixed grid (no drift) until killed;
# TERM also stops its sleep.
sampler() {
	local k=1 next now d sp=""
	trap '[ -n "$sp" ] && kill "$sp" 2>/dev/null; exit 0' TERM
	while kill -0 "$AGENT_PID" 2>/dev/null; do
		next=$((SURGE_T0_US + k * EVERY * 1000000))
		now=${EPOCHREALTIME/[.,]/}
		d=$((next - now))
		if [ "$d" -gt 0 ]; then
			sleep "$(printf '%d.%06d' $((d / 1000000)) $((d % 1000000)))" &
			sp=$!
			wait "$sp" || true
			sp=""
		fi
		sample
		k=$((k + 1))
	done
}

busy_check
LOAD_START=$(load1)
echo "t_s,rss_kb,cpu_ticks" >"$CSV"
log "surge: $RATE req/s for ${DUR}s (coordinator + 1 external agent), sampling the agent every ${EVERY}s"
surge_start "$DIR" "$DIR/scenario.yaml" $((DUR + 120)) "$GOSSIP"
sampler &
SAMPLER_PID=$!
surge_wait
CRC=$SURGE_CRC
kill "$SAMPLER_PID" 2>/dev/null || true
wait "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=""
sample # the end of the run
LOAD_END=$(load1)
surge_stop
[ -n "$SURGE_TICKS" ] || die "the agent exited before the coordinator finished (coordinator exit $CRC): $(tail -n 3 "$DIR/agent.log")"
[ -s "$DIR/report.json" ] || die "no report.json (coordinator exit $CRC): $(tail -n 3 "$DIR/coordinator.err")"

# ----------------------------------------------------------------- report --

S=$(jq -c '.stages[0]' "$DIR/report.json")
j() { jq -r "$1" <<<"$S"; }
INTENDED=$(j .intended)
ISSUED=$(j .issued)
SUCCEEDED=$(j .succeeded)
FAILED=$(j .failed)
DROPPED=$(j '"\(.dropped)" + (if (.dropped_by // {}) | length > 0 then " (\(.dropped_by | to_entries | map("\(.key) \(.value)") | join(", ")))" else "" end)')
LOST=$(j .lost)
INFLIGHT=$(j .in_flight_at_end)
LAG=$(j '.send_lag_ms.p99 * 1000 | round / 1000')
RESP=$(j '"p50 \(.response_time_ms.p50 * 1000 | round / 1000) ms, p99 \(.response_time_ms.p99 * 1000 | round / 1000) ms, max \(.response_time_ms.max * 100 | round / 100) ms"')
ERRORS=$(j 'if (.errors // {}) | length > 0 then .errors | tojson else "none" end')
LIMITED=$(j 'if .generator_limited then "yes" + (if (.generator_notes // []) | length > 0 then ": " + (.generator_notes | join("; ")) else "" end) else "no" end')
REPORT_CPU_US=$(j '.cpu_us_per_request * 10 | round / 10')
CPU_S=$(ticks_s "$SURGE_TICKS")
CPU_US=$(awk -v c="$CPU_S" -v n="$SUCCEEDED" 'BEGIN { if (n > 0) printf "%.1f", c * 1e6 / n; else print "—" }')
HWM_MB=$(awk -v k="$SURGE_HWM" 'BEGIN { printf "%.1f", k / 1024 }')

# RSS figures and the least-squares slope over the samples after the
# warm-up. Prints: n_samples at60_t at60_mb end_t end_mb max_sampled_mb
# n_post slope_mb_per_min window_min growth_mb ("-" where not defined).
read -r NS AT60_T AT60_MB END_T END_MB SMAX_MB NPOST SLOPE WIN_MIN GROWTH < <(
	awk -F, -v w="$WARMUP" 'NR > 1 {
		t = $1; mb = $2 / 1024; n++
		if (mb > max) max = mb
		end_t = t; end_mb = mb
		if (t >= w && a_t == "") { a_t = t; a_mb = mb }
		if (t >= w) { m++; sx += t; sy += mb; sxx += t * t; sxy += t * mb; if (first == "") first = t; last = t }
	}
	END {
		if (n == 0) { print "0 - - - - - 0 - - -"; exit }
		printf "%d %s %s %.1f %.1f %.1f %d ", n, (a_t == "" ? "-" : sprintf("%.1f", a_t)), (a_mb == "" ? "-" : sprintf("%.1f", a_mb)), end_t, end_mb, max, m
		den = m * sxx - sx * sx
		if (m >= 3 && den > 0) {
			b = (m * sxy - sx * sy) / den * 60 # MB per minute
			win = (last - first) / 60
			printf "%.3f %.2f %.2f\n", b, win, b * win
		} else print "- - -"
	}' "$CSV"
)

if [ "$SLOPE" = - ]; then
	VERDICT="INCONCLUSIVE: $NPOST sample(s) after the ${WARMUP} s warm-up, at least 3 are needed for a slope (run longer than $((WARMUP + 3 * EVERY)) s); peak RSS $HWM_MB MB"
	STATUS=2
elif awk -v h="$HWM_MB" -v g="$GROWTH" -v mh="$MAX_RSS_MB" -v mg="$MAX_GROWTH_MB" 'BEGIN { exit !(h < mh && g < mg) }'; then
	VERDICT="PASS: peak RSS $HWM_MB MB < $MAX_RSS_MB MB, and RSS grew $GROWTH MB by its slope ($SLOPE MB/min over $WIN_MIN min after the warm-up) < $MAX_GROWTH_MB MB"
	STATUS=0
else
	VERDICT="FAIL: peak RSS $HWM_MB MB (limit < $MAX_RSS_MB MB); RSS grew $GROWTH MB by its slope ($SLOPE MB/min over $WIN_MIN min after the warm-up; limit < $MAX_GROWTH_MB MB)"
	STATUS=1
fi
if [ "$CRC" != 0 ]; then
	VERDICT="FAIL: the run did not complete (coordinator exit $CRC: $(grep -m1 '^error:' "$DIR/coordinator.err" | cut -c1-200 || true)); memory alone: $VERDICT"
	STATUS=1
fi

{
	echo "# Soak: Surge's agent at a steady rate (\`make soak\`)"
	echo
	echo "Written by \`bench/soak.sh\`; do not edit by hand — run \`make soak\` again."
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "- machine: $(machine_line)"
	echo "- Surge $(surge_revision); nginx $(nginx -v 2>&1 | sed 's/^nginx version: //')"
	echo "- rate $RATE req/s for $DUR s (constant), one external agent process driven by \`coordinator run --expect 1\`, against a loopback nginx (\`return 200 \"ok\"\`, keep-alive)"
	echo "- 1-minute load average: $LOAD_START before the run, $LOAD_END at its end (the run itself adds to the latter; a high figure before it means other processes were competing for the $(nproc) cores)"
	echo
	echo "**Verdict — $VERDICT**"
	echo
	echo "## The run (report.json)"
	echo
	echo "| intended | issued | succeeded | failed | dropped | lost | in flight at end |"
	echo "|---|---|---|---|---|---|---|"
	echo "| $INTENDED | $ISSUED | $SUCCEEDED | $FAILED | $DROPPED | $LOST | $INFLIGHT |"
	echo
	echo "- send lag p99: $LAG ms; response time (from the intended send): $RESP"
	echo "- errors: $ERRORS; generator-limited: $LIMITED"
	echo "- agent CPU: $CPU_S s for the whole process (start-up included) = **$CPU_US CPU-µs per succeeded request** (report.json's own figure, while the stage played: $REPORT_CPU_US)"
	echo
	echo "## Memory (the agent's VmRSS, sampled every $EVERY s from /proc)"
	echo
	echo "| RSS at ${WARMUP} s | RSS at the end | peak RSS (VmHWM) | largest sample | slope after the warm-up | growth by the slope over the window |"
	echo "|---|---|---|---|---|---|"
	if [ "$AT60_T" = - ]; then at60="n/a (run shorter than ${WARMUP} s)"; else at60="$AT60_MB MB (at $AT60_T s)"; fi
	if [ "$SLOPE" = - ]; then slope="n/a"; growth="n/a"; else slope="$SLOPE MB/min ($NPOST samples)"; growth="$GROWTH MB over $WIN_MIN min"; fi
	echo "| $at60 | $END_MB MB (at $END_T s) | $HWM_MB MB | $SMAX_MB MB | $slope | $growth |"
	echo
	echo "Times are seconds since the agent process started (the load begins about a second later, once it"
	echo "has joined and been assigned). MB = 2^20 bytes. The slope is the least-squares fit of RSS against time"
	echo "over the samples at or after ${WARMUP} s (the warm-up, while pools and buffers grow, is left out); the"
	echo "verdict asks for a peak RSS under $MAX_RSS_MB MB and less than $MAX_GROWTH_MB MB of growth by the slope over that window."
	echo
	echo "<details><summary>All $NS samples</summary>"
	echo
	echo "| t (s) | RSS (MB) | agent CPU (s) |"
	echo "|---|---|---|"
	awk -F, -v h="$CLK_TCK" 'NR > 1 { printf "| %s | %.1f | %.2f |\n", $1, $2 / 1024, $3 / h }' "$CSV"
	echo
	echo "</details>"
} >"$WORK/SOAK.md"

cat "$WORK/SOAK.md"
# Keep the section bench/soak-coordinator.sh wrote into the file, markers
# included: this script owns the rest of it.
if [ -f "$OUT" ] && grep -qxF '<!-- soak-coordinator:begin -->' "$OUT"; then
	{
		echo
		awk '$0 == "<!-- soak-coordinator:begin -->" { on = 1 } on { print } $0 == "<!-- soak-coordinator:end -->" { on = 0 }' "$OUT"
	} >>"$WORK/SOAK.md"
	log "kept the soak-coordinator section of ${OUT#"$ROOT"/}"
fi
mkdir -p "$(dirname "$OUT")"
cp "$WORK/SOAK.md" "$OUT"
log "written to ${OUT#"$ROOT"/}; samples in $CSV$([ "$KEEP" = 1 ] || echo " (removed at exit; SOAK_KEEP=1 keeps them)")"
exit "$STATUS"
