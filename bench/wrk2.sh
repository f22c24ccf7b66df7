# bench/wrk2.sh — wrk2 for bench/peers.sh, built from vendored source; sourced
# after bench/lib.sh, never run.
# shellcheck shell=bash
# shellcheck disable=SC2034 # it sets variables for the script that sources it
#
# wrk2 (giltene/wrk2) is the open-model C load generator the field measures
# against; no distribution packages it and the network reaches only package
# registries, so the source (a `git archive` of 44a94c1 with its bundled
# LuaJIT) is vendored beside the repository, in ../shared/vendor/wrk2.tar.gz.
#
#   wrk2_build   builds it into $BIN/wrk2 (bench/.bin) unless a binary built
#                from the same tarball is already there (bench/.bin/wrk2.sha256
#                holds the tarball's SHA-256). Needs make, a C compiler,
#                libssl-dev and zlib1g-dev (installed with apt_install when
#                missing). Bounded in time (WRK2_BUILD_TIMEOUT s, 600). Sets
#                WRK2_WHY (empty when wrk2 is ready, else why it is not),
#                WRK2_REV (the vendored commit, short) and WRK2_BUILD_S (the
#                build's wall time in s, "cached" when it was skipped).
#
# BENCH_WRK2_TARBALL overrides the tarball's path.

WRK2_TARBALL=${BENCH_WRK2_TARBALL:-$ROOT/../shared/vendor/wrk2.tar.gz}
WRK2_BUILD_TIMEOUT=${WRK2_BUILD_TIMEOUT:-600}
WRK2_WHY=""
WRK2_REV=""
WRK2_BUILD_S=""

# wrk2_deps: make, cc and the OpenSSL and zlib headers, installed when missing.
wrk2_deps() {
	local pkgs=()
	have make || pkgs+=(make)
	have cc || pkgs+=(gcc libc6-dev)
	[ -e /usr/include/openssl/ssl.h ] || pkgs+=(libssl-dev)
	[ -e /usr/include/zlib.h ] || pkgs+=(zlib1g-dev)
	[ "${#pkgs[@]}" = 0 ] && return 0
	apt_install "${pkgs[@]}"
}

wrk2_build() {
	local tarball=$WRK2_TARBALL rel sum
	rel=$(realpath -m --relative-to="$ROOT" "$tarball" 2>/dev/null || echo "$tarball")
	if [ ! -r "$tarball" ]; then
		WRK2_WHY="not built: its source $rel is missing (the vendored giltene/wrk2 tarball, beside the repository)"
		log "wrk2: $WRK2_WHY"
		return 0
	fi
	WRK2_REV=$(zcat "$tarball" 2>/dev/null | git get-tar-commit-id 2>/dev/null | cut -c1-7 || true)
	sum=$(sha256sum "$tarball" | awk '{ print $1 }')
	if [ -x "$BIN/wrk2" ] && [ "$(cat "$BIN/wrk2.sha256" 2>/dev/null)" = "$sum" ]; then
		WRK2_BUILD_S=cached
		return 0
	fi
	if ! wrk2_deps; then
		WRK2_WHY="not built: its build needs make, a C compiler, libssl-dev and zlib1g-dev, and apt-get could not install them"
		log "wrk2: $WRK2_WHY"
		return 0
	fi
	local dir=$WORK/wrk2-build t0 rc=0
	rm -rf "$dir"
	mkdir -p "$dir" "$BIN"
	log "wrk2: building from $rel (${WRK2_REV:-unknown commit}, bundled LuaJIT; about 30 s on 2 cores)"
	t0=$(date +%s)
	{
		tar -xzf "$tarball" -C "$dir" --strip-components=1 &&
			timeout "$WRK2_BUILD_TIMEOUT" make -C "$dir" -j"$(nproc)"
	} >"$WORK/wrk2-build.log" 2>&1 || rc=$?
	WRK2_BUILD_S=$(($(date +%s) - t0))
	if [ "$rc" != 0 ] || [ ! -x "$dir/wrk" ]; then
		local why
		why=$(grep -m1 -iE 'error|timed out' "$WORK/wrk2-build.log" | cut -c1-160 || true)
		[ -n "$why" ] || why=$(tail -n 1 "$WORK/wrk2-build.log" | cut -c1-160)
		[ "$rc" = 124 ] && why="timed out after $WRK2_BUILD_TIMEOUT s"
		why=$(printf '%s' "$why" | tr '\n|' '  ')
		WRK2_WHY="not built: make failed (exit $rc after $WRK2_BUILD_S s: $why)"
		log "wrk2: $WRK2_WHY"
		rm -f "$BIN/wrk2" "$BIN/wrk2.sha256"
		return 0
	fi
	cp "$dir/wrk" "$BIN/wrk2.tmp" && mv "$BIN/wrk2.tmp" "$BIN/wrk2"
	echo "$sum" >"$BIN/wrk2.sha256"
	log "wrk2: built in $WRK2_BUILD_S s into bench/.bin/wrk2"
}
