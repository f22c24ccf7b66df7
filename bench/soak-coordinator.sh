#!/usr/bin/env bash
# bench/soak-coordinator.sh — `make soak-coordinator`: the coordinator's
# memory over a long run, and over a 24 h day.
#
# Three runs against one loopback nginx, each `coordinator run --expect 1`
# with one external agent, sampling the COORDINATOR's VmRSS every 5 s:
#   names16: 16 request names sharing 200 req/s (the case whose per-name
#            histograms grew fastest) for SOAKC_DURATION seconds;
#   rate10k: 1 request name at SOAKC_RATE (10000) req/s for SOAKC_DURATION;
#   rate1k:  1 request name at 1000 req/s for SOAKC_DURATION.
# For each: RSS at 60 s, at the end, the least-squares slope over every
# sample after the first minute and the growth that slope gives over the
# rest of the run.
#
# Then the 24 h figure, measured rather than extrapolated: bench/daymem
# holds what the coordinator holds for a stage of SOAKC_DAY_INTERVALS
# (86,400) intervals of 1 s at 1,000 req/s — the same metrics.Timeline,
# packed 3 intervals behind the newest — builds the stage report with
# report.Stage and writes report.json, and reports its peak RSS (VmHWM)
# over the whole of it. The rate1k run's slope × 1,440 min is printed
# beside it as a secondary figure: a slope over a few minutes is mostly
# the GC's heap target and the allocator, not growth.
#
# The verdict is PASS when names16 and rate10k grew less than 10 MB by
# their slope after the first minute, and daymem's peak RSS plus the
# rate1k coordinator's RSS at 60 s (its baseline: gRPC, gossip, buffers,
# which daymem does not have) is under 500 MB.
#
# It writes its section of bench/SOAK.md, between the markers
# <!-- soak-coordinator:begin --> and <!-- soak-coordinator:end -->
# (replaced in place, or appended); bench/soak.sh keeps that section when
# it rewrites the rest of the file.
#
# Loopback only; bounded in time; the cleanup trap stops everything.
# Environment: SOAKC_DURATION (600), SOAKC_RATE (10000),
# SOAKC_DAY_INTERVALS (86400), SOAKC_OUT (bench/SOAK.md), SOAKC_PORT
# (18082), SOAKC_GOSSIP (127.0.0.1:17948), SOAKC_KEEP=1 keeps the work
# directory.
set -euo pipefail

LOG_TAG=soak-coordinator
KEEP=${SOAKC_KEEP:-0}
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DUR=${SOAKC_DURATION:-600}
RATE=${SOAKC_RATE:-10000}
PORT=${SOAKC_PORT:-18082}
GOSSIP=${SOAKC_GOSSIP:-127.0.0.1:17948}
DAY=${SOAKC_DAY_INTERVALS:-86400}
OUT=${SOAKC_OUT:-$BENCH/SOAK.md}
BEGIN_MARK='<!-- soak-coordinator:begin -->'
END_MARK='<!-- soak-coordinator:end -->'
EVERY=5
WARMUP=60
MAX_GROWTH_MB=10

for v in DUR RATE PORT; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "SOAKC_${v/DUR/DURATION} must be a positive integer, not '${!v}'"
done
[[ $DAY =~ ^[1-9][0-9]*$ ]] || die "SOAKC_DAY_INTERVALS must be a positive integer, not '$DAY'"
[ "$DUR" -gt $((WARMUP + 3 * EVERY)) ] || die "SOAKC_DURATION must be over $((WARMUP + 3 * EVERY)) s to measure a slope after the first minute"

lib_init surge-soakc
have jq || apt_install jq || true
have jq || die "jq is needed to read report.json"
have nginx || apt_install nginx-light || apt_install nginx || true
have nginx || die "nginx (the target) could not be installed"
surge_build
log "building bench/daymem"
(cd "$ROOT" && timeout 600 go build -o "$BIN/daymem" ./bench/daymem) >"$WORK/build-daymem.log" 2>&1 ||
	die "bench/daymem does not build: $(tail -n 3 "$WORK/build-daymem.log")"
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

# stats CASE: "at60_mb end_mb slope_mb_per_min growth_mb n" from the
# samples: the least-squares slope of RSS against time over every sample
# at or after WARMUP s, and the growth it gives from the first of those
# samples to the last.
stats() {
	awk -F, -v w="$WARMUP" 'NR > 1 {
		t = $1; mb = $2 / 1024; end_mb = mb
		if (t >= w && a == "") a = mb
		if (t >= w) { m++; sx += t; sy += mb; sxx += t * t; sxy += t * mb; if (first == "") first = t; last = t }
	}
	END {
		den = m * sxx - sx * sx
		if (m < 3 || den <= 0) { printf "- - - - %d\n", m; exit }
		b = (m * sxy - sx * sy) / den * 60
		printf "%.1f %.1f %.3f %.2f %d\n", a, end_mb, b, b * (last - first) / 60, m
	}' "$WORK/$1/samples.csv"
}

# write_section FILE SECTION: SECTION (a file, markers included) replaces
# the text between the markers in FILE, or is appended to it.
write_section() {
	local file=$1 section=$2 tmp
	tmp=$(mktemp "$WORK/section.XXXXXX")
	if [ -f "$file" ] && grep -qxF "$BEGIN_MARK" "$file"; then
		awk -v b="$BEGIN_MARK" -v e="$END_MARK" -v s="$section" '
			$0 == b { while ((getline line < s) > 0) print line; skip = 1; next }
			skip && $0 == e { skip = 0; next }
			!skip { print }' "$file" >"$tmp"
	else
		{ [ ! -s "$file" ] || { cat "$file"; echo; }; cat "$section"; } >"$tmp"
	fi
	mkdir -p "$(dirname "$file")"
	cp "$tmp" "$file"
}

busy_check
LOAD_START=$(load1)
play names16 16 200
play rate10k 1 "$RATE"
play rate1k 1 1000
LOAD_END=$(load1)
read -r A16 E16 S16 G16 N16 < <(stats names16)
read -r A10 E10 S10 G10 N10 < <(stats rate10k)
read -r A1 E1 S1 G1 N1 < <(stats rate1k)
acct() { jq -r '.stages[0] | "\(.intended) intended, \(.issued) issued, \(.succeeded) succeeded, \(.failed) failed, \(.dropped) dropped, \(.lost) lost; send lag p99 \(.send_lag_ms.p99) ms"' "$WORK/$1/report.json" 2>/dev/null || echo "no report.json"; }

# The 24 h day, measured: bench/daymem (about 5 minutes on 2 cores).
DAYARGS=(-intervals "$DAY" -rate 1000 -names 1)
DAYCMD="daymem ${DAYARGS[*]}"
log "24 h day: $DAYCMD (the coordinator's stage data and report, $DAY intervals of 1 s)"
DAY_T0=$SECONDS
timeout 1800 "$BIN/daymem" "${DAYARGS[@]}" -out "$WORK/day" >"$WORK/day.jsonl" 2>"$WORK/day.err" ||
	die "bench/daymem failed: $(tail -n 3 "$WORK/day.err")"
DAY_S=$((SECONDS - DAY_T0))
dj() { jq -r "select(.kind == \"summary\") | $1" "$WORK/day.jsonl"; }
D_BPI=$(dj '.bytes_per_interval | round')
D_FILLHEAP=$(dj '.fill_heap_mb * 10 | round / 10')
D_FILLRSS=$(dj '.fill_rss_mb * 10 | round / 10')
D_FILLPEAK=$(dj '.fill_peak_rss_mb * 10 | round / 10')
D_REPPEAK=$(dj '.report_peak_rss_mb * 10 | round / 10')
D_REPHEAP=$(dj '.report_heap_mb * 10 | round / 10')
D_BUILDPEAK=$(dj '.build_peak_rss_mb * 10 | round / 10')
D_WRITEPEAK=$(dj '.write_peak_rss_mb * 10 | round / 10')
D_REPBUILD=$(dj '.report_build_s')
D_REPWRITE=$(dj '.report_write_s')
D_JSON=$(dj '.report_json_bytes / 1048576 * 10 | round / 10')
D_PEAK=$(dj '.peak_rss_mb * 10 | round / 10')
D_FILLS=$(dj '.fill_s')
D_ELAPSED=$(dj '.elapsed_s')
D_REQ=$(dj '.requests')
[ -n "$D_PEAK" ] || die "bench/daymem printed no summary: $(tail -n 3 "$WORK/day.err")"
# The verdict's figure: daymem's peak plus the coordinator's own baseline
# (the rate1k run's RSS at 60 s), which daymem does not have.
DAY_TOTAL=$(awk -v p="$D_PEAK" -v a="$A1" 'BEGIN { printf "%.0f", p + (a == "-" ? 0 : a) }')

VERDICT=PASS
STATUS=0
for g in "$G16" "$G10"; do
	if [ "$g" = - ] || ! awk -v g="$g" -v m="$MAX_GROWTH_MB" 'BEGIN { exit !(g < m) }'; then VERDICT=FAIL; STATUS=1; fi
done
if [ "$A1" = - ] || [ "$DAY_TOTAL" -ge 500 ]; then VERDICT=FAIL; STATUS=1; fi
# Secondary, noise-prone: 24 h at 1 s intervals as 1,440 minutes of the
# 1k/s run's slope.
EXTRA=$(awk -v a="$A1" -v s="$S1" 'BEGIN { if (s == "-") print "n/a"; else printf "%.0f", a + s * 1440 }')

{
	echo "$BEGIN_MARK"
	echo "## The coordinator's memory over long runs (\`make soak-coordinator\`)"
	echo
	echo "Written by \`bench/soak-coordinator.sh\` between these markers; do not edit by hand (\`make soak\` keeps this section)."
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "- machine: $(machine_line)"
	echo "- Surge $(surge_revision); one external agent process, \`coordinator run --expect 1\`, loopback nginx"
	echo "- soak runs: \`SOAKC_DURATION=$DUR make soak-coordinator\` — ${DUR} s per run; 1-minute load average $LOAD_START before, $LOAD_END after"
	echo "- 24 h day: \`bench/$DAYCMD\` (built from this revision), $DAY intervals of 1 s, run after the soak runs"
	echo
	echo "**Verdict — $VERDICT** (the coordinator's RSS must grow less than $MAX_GROWTH_MB MB by its slope after the first minute in the first two runs, and a 24 h day at 1k req/s, measured by bench/daymem, fit in under 500 MB)"
	echo
	echo "### Soak runs (${DUR} s each)"
	echo
	echo "| run | RSS at ${WARMUP} s | RSS at the end | slope after ${WARMUP} s | growth by the slope | accounting |"
	echo "|---|---|---|---|---|---|"
	echo "| 16 names, 200 req/s | $A16 MB | $E16 MB | $S16 MB/min ($N16 samples) | $G16 MB | $(acct names16) |"
	echo "| 1 name, $RATE req/s | $A10 MB | $E10 MB | $S10 MB/min ($N10 samples) | $G10 MB | $(acct rate10k) |"
	echo "| 1 name, 1000 req/s | $A1 MB | $E1 MB | $S1 MB/min ($N1 samples) | $G1 MB | $(acct rate1k) |"
	echo
	echo "The slope is the least-squares fit of the coordinator's VmRSS (sampled every $EVERY s) against time over every sample at or after ${WARMUP} s; the growth is that slope over the time from the first of those samples to the last. MB = 2^20 bytes."
	echo
	echo "### A 24 h day at 1k req/s (bench/daymem, $DAY intervals)"
	echo
	echo "| what | measured |"
	echo "|---|---|"
	echo "| requests recorded | $D_REQ (constant 1,000 req/s, latencies log-normal around 12 ms with a 1% slow tail) |"
	echo "| live heap per packed interval | **$D_BPI B** (heap growth over the day ÷ intervals) |"
	echo "| after the day, before the report: live heap / RSS / peak RSS | $D_FILLHEAP MB / $D_FILLRSS MB / $D_FILLPEAK MB (filled in $D_FILLS s) |"
	echo "| building the report (report.Stage, Judge, Check) and writing report.json: peak RSS | **$D_REPPEAK MB**: $D_BUILDPEAK MB while building (in $D_REPBUILD s), $D_WRITEPEAK MB while writing (in $D_REPWRITE s); live heap with the report held: $D_REPHEAP MB |"
	echo "| report.json | $D_JSON MB |"
	echo "| peak RSS of the whole process | **$D_PEAK MB**; with the coordinator's baseline (the 1000 req/s run's RSS at ${WARMUP} s, $A1 MB): **$DAY_TOTAL MB** (must be under 500 MB) |"
	echo "| time | $D_ELAPSED s for daymem's work ($DAY_S s wall, the build excluded) |"
	echo
	echo "bench/daymem holds what the coordinator holds for one stage: the same \`metrics.Timeline\`, every interval packed 3 behind the newest and written to latency.hlog as it packs, as \`internal/coordinator\` does, then \`report.Stage\` and \`reporters.WriteJSON\`. Its peak is the kernel's VmHWM, reset (\`/proc/self/clear_refs\`) between the two phases and also sampled every 20 ms. The other outputs the coordinator writes at the end by default (timeseries.csv, junit.xml, report.html) are not in this figure."
	echo
	echo "Secondary, noise-prone: the old extrapolation, the 1000 req/s run's RSS at ${WARMUP} s + its slope × 1,440 min, gives **$EXTRA MB**. Over a run of a few minutes that slope is mostly the GC's heap target and the allocator settling, not growth; it is printed for comparison and is not part of the verdict."
	echo "$END_MARK"
} >"$WORK/section.md"
cat "$WORK/section.md"
write_section "$OUT" "$WORK/section.md"
log "wrote the soak-coordinator section of ${OUT#"$ROOT"/}: $VERDICT"
exit "$STATUS"
